"""Batch normalization as a layer, over every axis but the last (the features / channels):
``(batch, features)`` normalizes over the batch, a conv feature map ``(batch, ..., channels)``
over the batch and every spatial position. The math is :func:`jaxdl.batchnorm.batch_norm`'s:

    mu = mean(x), var = mean((x - mu)**2) (rows weighted by ``mask``, padded rows weight 0)
    y = gamma * (x - mu) / sqrt(var + eps) + beta

in training, and the bias-corrected running averages of ``mu`` and ``var`` (a :mod:`jaxdl.ewa`
with beta ``momentum``, ``avg / (1 - momentum**count)``) at test time. The state holds the
(biased) averages and the number of training steps ``count``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import batchnorm
from jaxdl.checks import check_range
from jaxdl.layers.base import Layer, PyTree, Shape, register


@register
@dataclasses.dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch norm with ``gamma`` (1) and ``beta`` (0) per feature; ``hp["bn_momentum"]``, when
    present, overrides ``momentum`` (so a sweep can vary it).

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl.layers import BatchNorm
    >>> bn = BatchNorm()
    >>> _, params, state = bn.init(None, (2,))
    >>> y, state = bn.apply(params, state, jnp.array([[1.0, 0.0], [3.0, 4.0]]), train=True)
    >>> y.round(3), int(state["count"])
    (Array([[-1., -1.],
           [ 1.,  1.]], dtype=float32), 1)
    """

    momentum: float = 0.9
    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_range("momentum", self.momentum, 0.0, 1.0, high_open=True)
        check_range("eps", self.eps, 0.0, low_open=True)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """``bn_momentum`` (optional; the field ``momentum`` is the default)."""
        return frozenset({"bn_momentum"})

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """``gamma`` ones, ``beta`` zeros; running averages zero and ``count`` 0."""
        if len(input_shape) < 1:
            raise ValueError(f"BatchNorm needs a feature axis, got input shape {input_shape}")
        units = input_shape[-1]
        params = {
            "gamma": jnp.ones((units,), jnp.float32),
            "beta": jnp.zeros((units,), jnp.float32),
        }
        state = {**batchnorm.init_stats(units), "count": jnp.zeros((), jnp.int32)}
        return tuple(input_shape), params, state

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
        """Normalize with batch statistics (train; running averages updated) or with the
        running averages (eval; state unchanged)."""
        hp = {} if hp is None else hp
        momentum = hp.get("bn_momentum", self.momentum)
        stats = {"mean": state["mean"], "var": state["var"]}
        y, new_stats = batchnorm.batch_norm(
            x, params["gamma"], params["beta"], stats, state["count"],
            train=train, momentum=momentum, eps=self.eps, mask=mask,
        )
        if not train:
            return y, state
        return y, {**new_stats, "count": state["count"] + 1}
