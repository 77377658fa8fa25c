"""Moved to :mod:`jaxdl.infra.progress`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.progress import *  # noqa: F403

warnings.warn(
    "jaxdl.progress moved to jaxdl.infra.progress; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
