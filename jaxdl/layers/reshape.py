"""Reshape every example: ``(batch, *input_shape) -> (batch, *shape)`` in row-major order, the
inverse of :class:`~jaxdl.layers.Flatten` (flat features of an 8x8 image read as ``(8, 8, 1)``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax

from jaxdl.layers.base import Layer, PyTree, Shape, check_int_tuple, register


@register
@dataclasses.dataclass(frozen=True)
class Reshape(Layer):
    """Each example reshaped to ``shape`` (the order of ``numpy.reshape``); ``shape`` must hold
    as many values as one input example.

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers.reshape import Reshape
    >>> Reshape((8, 8, 1)).apply({}, {}, jnp.zeros((2, 64)), train=False)[0].shape
    (2, 8, 8, 1)
    """

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_int_tuple("shape", self.shape))

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """No parameters; the output shape is ``shape`` (same number of values)."""
        if math.prod(input_shape) != math.prod(self.shape):
            raise ValueError(f"Reshape to {self.shape} needs inputs of {math.prod(self.shape)} "
                             f"values per example, got input shape {tuple(input_shape)}")
        return self.shape, {}, {}

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
        """``x.reshape(len(x), *shape)``; state passes through."""
        return x.reshape(x.shape[0], *self.shape), state
