"""Weight initializers, each ``init(key, shape, dtype) -> array`` for a weight ``W`` of shape
``(n_in, n_out)`` (activations flow as ``x @ W``). Biases start at zero.

    zeros:             W = 0                                  (symmetry is never broken)
    random_normal(s):  W ~ N(0, 1) * s                        (the course's "random * 10" is s=10)
    xavier:            W ~ N(0, 1) * sqrt(1 / n_in)           (tanh)
    glorot:            W ~ N(0, 1) * sqrt(2 / (n_in + n_out))
    he:                W ~ N(0, 1) * sqrt(2 / n_in)           (ReLU)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import check_finite, check_float32, check_range

Initializer = Callable[[jax.Array, Sequence[int], Any], jax.Array]


def zeros(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """All zeros, ``W = 0``: every hidden unit computes the same function forever.

    Args:
      key: unused (kept so every initializer has the same signature).
      shape: the weight's shape ``(n_in, n_out)``.
      dtype: the weight's dtype.

    Returns:
      An array of zeros of ``shape``.

    Examples:
      >>> import jax
      >>> from jaxdl import init
      >>> init.zeros(jax.random.key(0), (2, 3)).tolist()
      [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    del key
    return jnp.zeros(shape, dtype)


def _scaled_normal(
    key: jax.Array, shape: Sequence[int], dtype: Any, std: Callable[[int, int], float]
) -> jax.Array:
    """``N(0, 1) * std(n_in, n_out)`` for a weight of shape ``(n_in, n_out)``."""
    if len(shape) != 2:
        raise ValueError(f"weight shape must be (n_in, n_out), got {tuple(shape)}")
    n_in, n_out = shape
    return jax.random.normal(key, shape, dtype) * jnp.asarray(std(n_in, n_out), dtype)


def random_normal(scale: float = 0.01) -> Initializer:
    """An initializer drawing ``W ~ N(0, 1) * scale`` (the course's "random * 10" is 10).

    Args:
      scale: the standard deviation of every weight.

    Returns:
      An initializer ``init(key, shape, dtype) -> W``.

    Raises:
      ValueError: unless ``scale`` is a finite number >= 0 that stays finite in float32.

    Examples:
      >>> import jax
      >>> from jaxdl import init
      >>> W = init.random_normal(10.0)(jax.random.key(0), (1000, 10))
      >>> round(float(W.std()))
      10
    """

    check_finite("scale", scale)
    check_range("scale", scale, 0.0)
    check_float32("scale", scale)

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return _scaled_normal(key, shape, dtype, lambda n_in, n_out: scale)

    return init


def xavier(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """Xavier initialization ``W ~ N(0, 1) * sqrt(1 / n_in)``, suited to tanh.

    Args:
      key: a PRNG key.
      shape: the weight's shape ``(n_in, n_out)``.
      dtype: the weight's dtype.

    Returns:
      The weight ``W`` of ``shape``.

    Examples:
      >>> import jax
      >>> from jaxdl import init
      >>> W = init.xavier(jax.random.key(0), (400, 300))
      >>> round(float(W.std()), 2)  # sqrt(1 / 400)
      0.05
    """
    return _scaled_normal(key, shape, dtype, lambda n_in, n_out: math.sqrt(1.0 / n_in))


def glorot(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """Glorot initialization ``W ~ N(0, 1) * sqrt(2 / (n_in + n_out))``.

    Args:
      key: a PRNG key.
      shape: the weight's shape ``(n_in, n_out)``.
      dtype: the weight's dtype.

    Returns:
      The weight ``W`` of ``shape``.

    Examples:
      >>> import jax
      >>> from jaxdl import init
      >>> W = init.glorot(jax.random.key(0), (300, 500))
      >>> round(float(W.std()), 2)  # sqrt(2 / 800)
      0.05
    """
    return _scaled_normal(key, shape, dtype, lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)))


def he(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """He initialization ``W ~ N(0, 1) * sqrt(2 / n_in)``, suited to ReLU.

    Args:
      key: a PRNG key.
      shape: the weight's shape ``(n_in, n_out)``.
      dtype: the weight's dtype.

    Returns:
      The weight ``W`` of ``shape``.

    Examples:
      >>> import jax
      >>> from jaxdl import init
      >>> W = init.he(jax.random.key(0), (800, 300))
      >>> round(float(W.std()), 2)  # sqrt(2 / 800)
      0.05
    """
    return _scaled_normal(key, shape, dtype, lambda n_in, n_out: math.sqrt(2.0 / n_in))


INITIALIZERS = ("zeros", "random_normal", "xavier", "glorot", "he")


def get(name: str, scale: float = 0.01) -> Initializer:
    """The initializer called ``name``.

    Args:
      name: one of :data:`INITIALIZERS`.
      scale: the standard deviation of ``random_normal`` (ignored by the others).

    Returns:
      An initializer ``init(key, shape, dtype) -> W``.

    Raises:
      ValueError: for an unknown ``name``.

    Examples:
      >>> from jaxdl import init
      >>> init.get("he") is init.he
      True
    """
    if name == "random_normal":
        return random_normal(scale)
    table = {"zeros": zeros, "xavier": xavier, "glorot": glorot, "he": he}
    if name not in table:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}")
    return table[name]
