"""Moved to :mod:`jaxdl.infra.untrusted`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.untrusted import *  # noqa: F403

warnings.warn(
    "jaxdl.untrusted moved to jaxdl.infra.untrusted; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
