"""Moved to :mod:`jaxdl.infra.parallel`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.parallel import *  # noqa: F403

warnings.warn(
    "jaxdl.parallel moved to jaxdl.infra.parallel; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
