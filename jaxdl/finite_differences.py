"""Moved to :mod:`jaxdl.gradcheck.finite_differences`; this path keeps working for one release,
with a ``DeprecationWarning``."""

import warnings

from jaxdl.gradcheck.finite_differences import *  # noqa: F403

warnings.warn(
    "jaxdl.finite_differences moved to jaxdl.gradcheck.finite_differences; "
    "the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
