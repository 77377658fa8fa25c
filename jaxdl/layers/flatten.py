"""Flatten every axis but the batch: ``(batch, d1, ..., dk) -> (batch, d1 * ... * dk)``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax

from jaxdl.layers.base import Layer, PyTree, Shape, register


@register
@dataclasses.dataclass(frozen=True)
class Flatten(Layer):
    """Row-major flattening of each example (the order of ``numpy.reshape``).

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers import Flatten
    >>> Flatten().apply({}, {}, jnp.zeros((2, 3, 4, 5)), train=False)[0].shape
    (2, 60)
    """

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """No parameters; the output shape is ``(prod(input_shape),)``."""
        return (math.prod(input_shape),), {}, {}

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
        """``x.reshape(len(x), -1)``; state passes through."""
        return x.reshape(x.shape[0], -1), state
