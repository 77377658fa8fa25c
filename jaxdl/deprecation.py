"""Moved to :mod:`jaxdl.infra.deprecation`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.deprecation import *  # noqa: F403

warnings.warn(
    "jaxdl.deprecation moved to jaxdl.infra.deprecation; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
