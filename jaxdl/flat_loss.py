"""Moved to :mod:`jaxdl.gradcheck.flat_loss`; this path keeps working for one release,
with a ``DeprecationWarning``."""

import warnings

from jaxdl.gradcheck.flat_loss import *  # noqa: F403

warnings.warn(
    "jaxdl.flat_loss moved to jaxdl.gradcheck.flat_loss; "
    "the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
