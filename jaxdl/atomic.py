"""Moved to :mod:`jaxdl.infra.atomic`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.atomic import *  # noqa: F403

warnings.warn(
    "jaxdl.atomic moved to jaxdl.infra.atomic; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
