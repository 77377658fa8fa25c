"""Optimizers as pure gradient transformations: SGD, momentum (heavy-ball and Nesterov),
RMSprop, Adam, AdamW, Nadam (built by name from :mod:`jaxdl.optim.registry`), gradient clipping,
their building blocks, learning-rate schedules, the divergence guard (:func:`guard`) and one
optimizer out of several chosen by a traced index (:func:`one_of`, :func:`switch`).

Any object with ``init``/``update`` (an optax transformation, say) chains with these, and these
drop into ``optax.chain``."""

from jaxdl.optim.aliases import (
    adam,
    adamw,
    momentum,
    nesterov,
    rmsprop,
    sgd,
)
from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    GradientTransformationLike,
    LearningRate,
    Schedule,
    apply_updates,
    chain,
    check_transformation,
    current_learning_rate,
    safe_increment,
)
from jaxdl.optim.clipping import clip, clip_by_global_norm, global_norm
from jaxdl.optim.guard import GuardedTransformation, all_finite, guard
from jaxdl.optim.one_of import OneOfState, OptimizerSwitch, one_of, switch
from jaxdl.optim.registry import DEFAULTS, OPTIMIZERS, REGISTRY, from_name
from jaxdl.optim.schedules import (
    constant,
    cosine_decay_schedule,
    exponential_decay,
    inverse_sqrt_decay,
    inverse_time_decay,
    piecewise_constant,
    warmup_cosine_decay_schedule,
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
    "REGISTRY",
    "EmptyState",
    "GradientTransformation",
    "GradientTransformationLike",
    "GuardedTransformation",
    "LearningRate",
    "OneOfState",
    "OptimizerSwitch",
    "Schedule",
    "ScaleByAdamState",
    "ScaleByMomentumState",
    "ScaleByRmsState",
    "ScaleByScheduleState",
    "adam",
    "adamw",
    "add_l2",
    "all_finite",
    "apply_updates",
    "chain",
    "check_transformation",
    "clip",
    "clip_by_global_norm",
    "cosine_decay_schedule",
    "constant",
    "current_learning_rate",
    "exponential_decay",
    "from_name",
    "global_norm",
    "guard",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "momentum",
    "nesterov",
    "one_of",
    "piecewise_constant",
    "rmsprop",
    "safe_increment",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_rms",
    "sgd",
    "switch",
    "warmup_cosine_decay_schedule",
]
