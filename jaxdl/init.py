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

Initializer = Callable[[jax.Array, Sequence[int], Any], jax.Array]


def zeros(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """All zeros: every hidden unit computes the same function forever."""
    del key
    return jnp.zeros(shape, dtype)


def _scaled_normal(std: Callable[[int, int], float]) -> Initializer:
    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        if len(shape) != 2:
            raise ValueError(f"weight shape must be (n_in, n_out), got {tuple(shape)}")
        n_in, n_out = shape
        return jax.random.normal(key, shape, dtype) * jnp.asarray(std(n_in, n_out), dtype)

    return init


def random_normal(scale: float = 0.01) -> Initializer:
    """``W ~ N(0, 1) * scale``."""
    return _scaled_normal(lambda n_in, n_out: scale)


xavier = _scaled_normal(lambda n_in, n_out: math.sqrt(1.0 / n_in))
xavier.__doc__ = "``W ~ N(0, 1) * sqrt(1 / n_in)``, suited to tanh."
glorot = _scaled_normal(lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)))
glorot.__doc__ = "``W ~ N(0, 1) * sqrt(2 / (n_in + n_out))``."
he = _scaled_normal(lambda n_in, n_out: math.sqrt(2.0 / n_in))
he.__doc__ = "``W ~ N(0, 1) * sqrt(2 / n_in)``, suited to ReLU."

INITIALIZERS = ("zeros", "random_normal", "xavier", "glorot", "he")


def get(name: str, scale: float = 0.01) -> Initializer:
    """The initializer called ``name``; ``scale`` is used by ``random_normal`` only."""
    if name == "random_normal":
        return random_normal(scale)
    table = {"zeros": zeros, "xavier": xavier, "glorot": glorot, "he": he}
    if name not in table:
        raise ValueError(f"unknown initializer {name!r}; choose one of {', '.join(INITIALIZERS)}")
    return table[name]
