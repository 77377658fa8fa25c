"""Moved to :mod:`jaxdl.evaluation` (``evaluate_splits``, ``probability``, ``boundary``,
``inference_trainer``); this path keeps working for one release, with a ``DeprecationWarning``."""

import warnings

from jaxdl.evaluation import (  # noqa: F401
    boundary,
    evaluate_splits,
    inference_trainer,
    probability,
)

warnings.warn(
    "jaxdl.scoring moved to jaxdl.evaluation; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
