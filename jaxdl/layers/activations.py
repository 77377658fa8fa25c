"""Elementwise activations as layers, and :data:`ACTIVATIONS`, the one table of them for the whole
library (the MLP's ``activation``, ``--activation``): relu ``max(0, x)``, leaky_relu
``max(0.01 x, x)``, tanh, sigmoid ``1 / (1 + exp(-x))``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.layers.base import Layer, PyTree, Shape, register

#: Activation name -> elementwise function.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": functools.partial(jax.nn.leaky_relu, negative_slope=0.01),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
}


@register
@dataclasses.dataclass(frozen=True)
class Activation(Layer):
    """``y = g(x)`` elementwise, ``g`` named by ``name`` (a key of :data:`ACTIVATIONS`).

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers import Activation
    >>> Activation("relu").apply({}, {}, jnp.array([[-1.0, 2.0]]), train=False)[0]
    Array([[0., 2.]], dtype=float32)
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.name!r}; choose one of {', '.join(ACTIVATIONS)}"
            )

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """No parameters; the shape is unchanged."""
        return tuple(input_shape), {}, {}

    def apply(
        self,
        params: PyTree,
        state: PyTree,
        x: jax.Array,
        *,
        train: bool,
        key: jax.Array | None = None,
        hp: Mapping[str, Any] | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[jax.Array, PyTree]:
        """``g(x)``; state passes through."""
        g: Callable[[jax.Array], jax.Array] = ACTIVATIONS[self.name]
        return g(x), state


def Relu() -> Activation:  # noqa: N802 (reads as a layer constructor)
    """``Activation("relu")``.

    >>> from jaxdl.layers import Relu
    >>> Relu()
    Activation(name='relu')
    """
    return Activation("relu")


def LeakyRelu() -> Activation:  # noqa: N802
    """``Activation("leaky_relu")`` (slope 0.01).

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers import LeakyRelu
    >>> LeakyRelu().apply({}, {}, jnp.array([-100.0, 1.0]), train=False)[0]
    Array([-1.,  1.], dtype=float32)
    """
    return Activation("leaky_relu")


def Tanh() -> Activation:  # noqa: N802
    """``Activation("tanh")``.

    >>> from jaxdl.layers import Tanh
    >>> Tanh()
    Activation(name='tanh')
    """
    return Activation("tanh")


def Sigmoid() -> Activation:  # noqa: N802
    """``Activation("sigmoid")``.

    >>> from jaxdl.layers import Sigmoid
    >>> Sigmoid()
    Activation(name='sigmoid')
    """
    return Activation("sigmoid")
