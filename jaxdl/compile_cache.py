"""Moved to :mod:`jaxdl.infra.compile_cache`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.compile_cache import *  # noqa: F403

warnings.warn(
    "jaxdl.compile_cache moved to jaxdl.infra.compile_cache; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
