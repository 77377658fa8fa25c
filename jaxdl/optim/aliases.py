"""The optimizers of the course as short chains, and building one by name from a dict of
(possibly traced) hyperparameters."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from jaxdl.checks import check_finite, check_range
from jaxdl.hyperparams import DEFAULTS as HYPERPARAMETER_DEFAULTS
from jaxdl.hyperparams import NAMES, reads
from jaxdl.optim.base import GradientTransformation, LearningRate, chain
from jaxdl.optim.transforms import (
    add_l2,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rms,
)


def sgd(learning_rate: LearningRate) -> GradientTransformation:
    """Plain gradient descent: ``W -= lr * g``."""
    return chain(scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate: LearningRate, beta: Any = 0.9, nesterov: bool = False
) -> GradientTransformation:
    """Gradient descent with momentum: ``v = beta * v + (1 - beta) * g``, ``W -= lr * v``
    (with ``nesterov=True``: ``W -= lr * (beta * v + (1 - beta) * g)``, see :func:`nesterov`).

    Equals heavy-ball momentum (``m = beta * m + g``, ``W -= lr' * m``) with
    ``lr' = lr * (1 - beta)``.
    """
    return chain(scale_by_momentum(beta, nesterov), scale_by_learning_rate(learning_rate))


def nesterov(learning_rate: LearningRate, beta: Any = 0.9) -> GradientTransformation:
    """Nesterov momentum in the course's EWA form::

        v = beta * v + (1 - beta) * g
        W -= lr * (beta * v + (1 - beta) * g)       (the look-ahead: one more EWA step)

    With ``v = (1 - beta) * m`` this is optax's trace form ``m = beta * m + g``,
    ``W -= lr' * (g + beta * m)`` for ``lr' = lr * (1 - beta)``: the same steps as
    ``optax.sgd(lr * (1 - beta), momentum=beta, nesterov=True)``.

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.
        beta: EWA decay in ``[0, 1)``.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    >>> import jax.numpy as jnp
    >>> opt = nesterov(0.1, beta=0.5)
    >>> u, _ = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
    >>> [round(v, 6) for v in u.tolist()]
    [-0.15]
    """
    return momentum(learning_rate, beta, nesterov=True)


def rmsprop(
    learning_rate: LearningRate, beta: Any = 0.9, eps: Any = 1e-8
) -> GradientTransformation:
    """RMSprop: ``s = beta * s + (1 - beta) * g**2``, ``W -= lr * g / (sqrt(s) + eps)``."""
    return chain(scale_by_rms(beta, eps), scale_by_learning_rate(learning_rate))


def adam(
    learning_rate: LearningRate, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8
) -> GradientTransformation:
    """Adam: ``v``, ``s`` as in momentum/RMSprop with ``b1``/``b2``, bias corrected with the step
    count ``t`` starting at 1, ``W -= lr * v_hat / (sqrt(s_hat) + eps)``."""
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamw(
    learning_rate: LearningRate,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    weight_decay: Any = 1e-4,
) -> GradientTransformation:
    """Adam with decoupled weight decay: ``W -= lr * (v_hat / (sqrt(s_hat) + eps) + wd * W)``.

    The decay term bypasses the moment estimates (unlike L2 added to the gradient).
    """
    check_finite("weight_decay", weight_decay)
    check_range("weight_decay", weight_decay, 0.0)
    return chain(
        scale_by_adam(b1, b2, eps), add_l2(weight_decay), scale_by_learning_rate(learning_rate)
    )


OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
_READ = {name for optimizer in OPTIMIZERS for name in reads(optimizer)}

# The optimizers' defaults, from the one table of hyperparameters (jaxdl.hyperparams).
DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {name: HYPERPARAMETER_DEFAULTS[name] for name in NAMES if name in _READ}
)


def from_name(name: str, hp: Mapping[str, Any] | None = None) -> GradientTransformation:
    """Build optimizer ``name`` (one of :data:`OPTIMIZERS`) from hyperparameters ``hp``.

    Keys read: ``learning_rate`` (number, array or schedule), ``beta`` (momentum, nesterov,
    rmsprop), ``b1``, ``b2`` (adam, adamw), ``eps`` (rmsprop, adam, adamw), ``weight_decay``
    (adamw);
    missing keys take :data:`DEFAULTS`, other keys are ignored (so a sweep's whole hyperparameter
    dict, with traced values, can be passed inside ``jit``).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {OPTIMIZERS}, got {name!r}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names are {OPTIMIZERS}")
    if hp is not None and not isinstance(hp, Mapping):
        raise TypeError(f"hp must be a mapping of hyperparameter names to values, got {hp!r}")
    h = {**DEFAULTS, **(hp or {})}
    lr = h["learning_rate"]
    if name == "sgd":
        return sgd(lr)
    if name == "momentum":
        return momentum(lr, h["beta"])
    if name == "nesterov":
        return nesterov(lr, h["beta"])
    if name == "rmsprop":
        return rmsprop(lr, h["beta"], h["eps"])
    if name == "adam":
        return adam(lr, h["b1"], h["b2"], h["eps"])
    return adamw(lr, h["b1"], h["b2"], h["eps"], h["weight_decay"])
