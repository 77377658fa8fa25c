"""Moved to :mod:`jaxdl.infra.dirlock`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.dirlock import *  # noqa: F403

warnings.warn(
    "jaxdl.dirlock moved to jaxdl.infra.dirlock; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
