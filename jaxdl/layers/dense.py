"""The fully connected layer: ``y = x @ W + b`` over the last axis, ``W`` of shape (n_in, units).

``W`` is drawn by a :mod:`jaxdl.init` initializer (He by default), ``b`` starts at zero.
Leading axes other than the last pass through (``(batch, ..., n_in) -> (batch, ..., units)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import init
from jaxdl.layers.base import Layer, PyTree, Shape, register


@register
@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """``y = x @ W + b`` with ``units`` outputs; ``use_bias=False`` drops ``b`` (before batch
    norm, whose ``beta`` takes its place).

    >>> import jax
    >>> from jaxdl.layers import Dense
    >>> shape, params, state = Dense(3).init(jax.random.key(0), (4,))
    >>> shape, params["W"].shape, params["b"].shape
    ((3,), (4, 3), (3,))
    """

    units: int
    use_bias: bool = True
    initializer: str = "he"
    init_scale: float = 0.01

    init_draws_key = True

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or isinstance(self.units, bool) or self.units < 1:
            raise ValueError(f"Dense units must be a positive int, got {self.units!r}")
        init.get(self.initializer, self.init_scale)

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """``W`` from the initializer with shape ``(input_shape[-1], units)``, ``b`` zeros."""
        if key is None:
            raise ValueError("Dense.init draws random weights: pass key=jax.random.key(...)")
        if len(input_shape) < 1:
            raise ValueError(f"Dense needs inputs with a feature axis, got shape {input_shape}")
        n_in = input_shape[-1]
        params = {"W": init.get(self.initializer, self.init_scale)(
            key, (n_in, self.units), jnp.float32)}
        if self.use_bias:
            params["b"] = jnp.zeros((self.units,), jnp.float32)
        return (*input_shape[:-1], self.units), params, {}

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
        """``x @ W (+ b)``; state passes through."""
        z = x @ params["W"]
        return (z + params["b"] if self.use_bias else z), state
