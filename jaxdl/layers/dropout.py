"""Inverted dropout as a layer (:func:`jaxdl.dropout.dropout`): in training each unit is kept
with probability ``keep_prob`` and scaled by ``1 / keep_prob``,

    d ~ Bernoulli(keep_prob),   y = x * d / keep_prob

and at test time the layer is the identity. ``keep_prob`` is a KEEP probability (the course's and
stax's convention; flax and equinox take the drop rate).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax

from jaxdl.checks import check_keep_prob
from jaxdl.dropout import dropout
from jaxdl.layers.base import Layer, PyTree, Shape, register


@register
@dataclasses.dataclass(frozen=True)
class Dropout(Layer):
    """Inverted dropout. With ``keep_prob=None`` (the default) it reads the traced
    ``hp["keep_prob"]`` (1 when absent), so a sweep can vary it; a number fixes it instead.

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl.layers import Dropout
    >>> Dropout(0.5).apply({}, {}, jnp.ones((1, 6)), train=True, key=jax.random.key(0))[0]
    Array([[0., 0., 2., 2., 0., 2.]], dtype=float32)
    """

    keep_prob: float | None = None

    def __post_init__(self) -> None:
        if self.keep_prob is not None:
            check_keep_prob(self.keep_prob)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """``keep_prob`` unless the layer fixes it."""
        return frozenset({"keep_prob"}) if self.keep_prob is None else frozenset()

    def draws_key(self, train: bool) -> bool:
        """A key is needed in training only."""
        return train

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
        """Drop and rescale in training (needs ``key``); the identity at test time."""
        if not train:
            return x, state
        if key is None:
            raise ValueError("Dropout with train=True needs key=jax.random.key(...)")
        keep_prob = self.keep_prob
        if keep_prob is None:
            keep_prob = ({} if hp is None else hp).get("keep_prob", 1.0)
        return dropout(key, x, keep_prob), state
