"""Optimizers as pure gradient transformations: SGD, momentum, RMSprop, Adam, AdamW, their
building blocks and learning-rate decay schedules."""

from jaxdl.optim.aliases import DEFAULTS, OPTIMIZERS, adam, adamw, from_name, momentum, rmsprop, sgd
from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    LearningRate,
    Schedule,
    apply_updates,
    chain,
    current_learning_rate,
    safe_increment,
)
from jaxdl.optim.schedules import (
    constant,
    exponential_decay,
    inverse_sqrt_decay,
    inverse_time_decay,
    piecewise_constant,
)
from jaxdl.optim.transforms import (
    ScaleByAdamState,
    ScaleByMomentumState,
    ScaleByRmsState,
    ScaleByScheduleState,
    add_l2,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rms,
)

__all__ = [
    "DEFAULTS",
    "OPTIMIZERS",
    "EmptyState",
    "GradientTransformation",
    "LearningRate",
    "Schedule",
    "ScaleByAdamState",
    "ScaleByMomentumState",
    "ScaleByRmsState",
    "ScaleByScheduleState",
    "adam",
    "adamw",
    "add_l2",
    "apply_updates",
    "chain",
    "constant",
    "current_learning_rate",
    "exponential_decay",
    "from_name",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "momentum",
    "piecewise_constant",
    "rmsprop",
    "safe_increment",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_rms",
    "sgd",
]
