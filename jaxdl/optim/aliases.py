"""The optimizers of the course as short chains (:mod:`jaxdl.optim.registry` builds them by
name from a dict of possibly traced hyperparameters)."""

from __future__ import annotations

from typing import Any

from jaxdl.checks import check_finite, check_range
from jaxdl.optim.base import GradientTransformation, LearningRate, chain
from jaxdl.optim.transforms import (
    add_l2,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rms,
)


def sgd(learning_rate: LearningRate) -> GradientTransformation:
    """Plain gradient descent: ``W -= lr * g``.

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import sgd
        >>> opt = sgd(0.1)
        >>> u, _ = opt.update(jnp.array([1.0, -2.0]), opt.init(jnp.zeros(2)))
        >>> [round(v, 6) for v in u.tolist()]
        [-0.1, 0.2]
    """
    return chain(scale_by_learning_rate(learning_rate))


def momentum(
    learning_rate: LearningRate, beta: Any = 0.9, nesterov: bool = False
) -> GradientTransformation:
    """Gradient descent with momentum: ``v = beta * v + (1 - beta) * g``, ``W -= lr * v``
    (with ``nesterov=True``: ``W -= lr * (beta * v + (1 - beta) * g)``, see :func:`nesterov`).

    Equals heavy-ball momentum (``m = beta * m + g``, ``W -= lr' * m``) with
    ``lr' = lr * (1 - beta)``.

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.
        beta: EWA decay in ``[0, 1)``.
        nesterov: static ``bool``; take the look-ahead step.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import momentum
        >>> opt = momentum(0.1, beta=0.5)
        >>> state = opt.init(jnp.zeros(1))
        >>> u1, state = opt.update(jnp.array([2.0]), state)   # v = 0.5 * 2
        >>> u2, state = opt.update(jnp.array([2.0]), state)   # v = 0.5 * 1 + 0.5 * 2
        >>> [round(u, 6) for u in u1.tolist() + u2.tolist()]
        [-0.1, -0.15]
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
    >>> from jaxdl.optim import nesterov
    >>> opt = nesterov(0.1, beta=0.5)
    >>> u, _ = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
    >>> [round(v, 6) for v in u.tolist()]
    [-0.15]
    """
    return momentum(learning_rate, beta, nesterov=True)


def rmsprop(
    learning_rate: LearningRate, beta: Any = 0.9, eps: Any = 1e-8
) -> GradientTransformation:
    """RMSprop: ``s = beta * s + (1 - beta) * g**2``, ``W -= lr * g / (sqrt(s) + eps)``.

    No bias correction, so the first steps are larger than ``lr``: the first is
    ``lr / sqrt(1 - beta)`` times the gradient's sign.

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.
        beta: EWA decay of the squared gradients in ``[0, 1)``.
        eps: added to ``sqrt(s)`` (> 0).

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import rmsprop
        >>> opt = rmsprop(0.1, beta=0.75)
        >>> u, _ = opt.update(jnp.array([3.0, -0.5]), opt.init(jnp.zeros(2)))
        >>> [round(v, 6) for v in u.tolist()]   # -0.1 * g / (0.5 * |g|)
        [-0.2, 0.2]
    """
    return chain(scale_by_rms(beta, eps), scale_by_learning_rate(learning_rate))


def adam(
    learning_rate: LearningRate, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8
) -> GradientTransformation:
    """Adam: ``v``, ``s`` as in momentum/RMSprop with ``b1``/``b2``, bias corrected with the step
    count ``t`` starting at 1, ``W -= lr * v_hat / (sqrt(s_hat) + eps)``::

        v = b1 * v + (1 - b1) * g            v_hat = v / (1 - b1**t)
        s = b2 * s + (1 - b2) * g**2         s_hat = s / (1 - b2**t)
        W -= lr * v_hat / (sqrt(s_hat) + eps)

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.
        b1: EWA decay of the gradients in ``[0, 1)``.
        b2: EWA decay of the squared gradients in ``[0, 1)``.
        eps: added to ``sqrt(s_hat)`` (> 0).

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import adam
        >>> opt = adam(0.1)
        >>> u, _ = opt.update(jnp.array([3.0, -0.5]), opt.init(jnp.zeros(2)))
        >>> [round(v, 6) for v in u.tolist()]   # the first step is lr * sign(g)
        [-0.1, 0.1]
    """
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

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.
        b1: EWA decay of the gradients in ``[0, 1)``.
        b2: EWA decay of the squared gradients in ``[0, 1)``.
        eps: added to ``sqrt(s_hat)`` (> 0).
        weight_decay: the decay ``wd`` (>= 0).

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`; its ``update`` needs ``params``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import adamw
        >>> opt = adamw(0.1, weight_decay=0.5)
        >>> params = jnp.array([2.0])
        >>> u, _ = opt.update(jnp.array([3.0]), opt.init(params), params)
        >>> [round(v, 6) for v in u.tolist()]   # -0.1 * (1 + 0.5 * 2)
        [-0.2]
    """
    check_finite("weight_decay", weight_decay)
    check_range("weight_decay", weight_decay, 0.0)
    return chain(
        scale_by_adam(b1, b2, eps), add_l2(weight_decay), scale_by_learning_rate(learning_rate)
    )
