"""Moved to :mod:`jaxdl.infra.interrupt`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.interrupt import *  # noqa: F403

warnings.warn(
    "jaxdl.interrupt moved to jaxdl.infra.interrupt; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
