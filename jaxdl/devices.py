"""Moved to :mod:`jaxdl.infra.devices`; this path keeps working for one release, with a
``DeprecationWarning``."""

import warnings

from jaxdl.infra.devices import *  # noqa: F403

warnings.warn(
    "jaxdl.devices moved to jaxdl.infra.devices; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
