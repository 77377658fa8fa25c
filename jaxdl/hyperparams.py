"""Hyperparameters as a flat dict of float32 arrays, so a sweep can stack and ``vmap`` them.

Keys (defaults): ``learning_rate`` (0.01), ``b1`` (0.9), ``b2`` (0.999), ``beta`` (0.9, momentum
and RMSprop), ``eps`` (1e-8), ``weight_decay`` (1e-4, adamw), ``keep_prob`` (1: no dropout);
optional ``l2`` (the course's lambda in ``lambd / (2 m) * sum ||W||_F^2``; absent, the cost has
no L2 term at all, which saves its work), ``decay_rate`` (for a learning-rate schedule) and
``bn_momentum`` (overrides the model's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import (
    check_beta,
    check_finite,
    check_float32,
    check_keep_prob,
    check_positive,
    check_range,
)

DEFAULTS: Mapping[str, float] = {
    "learning_rate": 0.01,
    "b1": 0.9,
    "b2": 0.999,
    "beta": 0.9,
    "eps": 1e-8,
    "weight_decay": 1e-4,
    "keep_prob": 1.0,
}
OPTIONAL = ("l2", "decay_rate", "bn_momentum")

HyperParams = dict[str, jax.Array]


def check(hp: Mapping[str, Any]) -> None:
    """Validate the concrete values of ``hp`` (any shape: scalars or one value per member) as
    they will be used: in float32 (no overflow to inf, no positive value rounding to 0, no
    decay rate rounding to 1)."""
    unknown = sorted(set(hp) - set(DEFAULTS) - set(OPTIONAL))
    if unknown:
        raise ValueError(
            f"unknown hyperparameter(s) {unknown}; valid names are "
            f"{sorted(set(DEFAULTS) | set(OPTIONAL))}"
        )
    for name in ("learning_rate", "eps"):
        check_positive(name, hp.get(name, DEFAULTS[name]))
        check_float32(name, hp.get(name, DEFAULTS[name]), positive=True)
    for name in ("b1", "b2", "beta", "bn_momentum"):
        if name in hp:
            check_beta(name, hp[name])
    for name in ("l2", "weight_decay", "decay_rate"):
        if name in hp:
            check_finite(name, hp[name])
            check_range(name, hp[name], 0.0)
            check_float32(name, hp[name])
    if "keep_prob" in hp:
        check_keep_prob(hp["keep_prob"])


def hyperparams(**values: Any) -> HyperParams:
    """Defaults overridden by ``values``, checked, as float32 arrays (scalars or stacked)."""
    check(values)
    merged = {**DEFAULTS, **values}
    return {name: jnp.asarray(value, jnp.float32) for name, value in merged.items()}
