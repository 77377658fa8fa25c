"""Convolution over 1 or 2 spatial axes, channels last (``NWC`` / ``NHWC``), by
``lax.conv_general_dilated``. As in every deep-learning library this is a cross-correlation:

    y[n, i, j, o] = b[o] + sum_{di, dj, c} x[n, s_i * i + di, s_j * j + dj, c] * W[di, dj, c, o]

(``x`` zero-padded first with ``padding="SAME"``). Output size per spatial axis: ``ceil(n / s)``
for SAME, ``ceil((n - k + 1) / s)`` for VALID. The kernel ``W`` has shape
``(*kernel_size, in_channels, features)`` and is drawn by a :mod:`jaxdl.init` initializer as the
``(prod(kernel_size) * in_channels, features)`` matrix it is, so He's fan-in is the receptive
field times the input channels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import init
from jaxdl.layers.base import (
    Layer,
    PyTree,
    Shape,
    check_int_tuple,
    check_padding,
    register,
)

_DIMENSION_NUMBERS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


@register
@dataclasses.dataclass(frozen=True)
class Conv(Layer):
    """``features`` filters of size ``kernel_size`` (1 entry: 1-D over (batch, width,
    channels); 2 entries: 2-D over (batch, height, width, channels)), with ``strides`` (an int or
    one per axis) and ``padding`` ``"SAME"`` or ``"VALID"``.

    >>> import jax
    >>> shape, params, _ = Conv(8, (3, 3)).init(jax.random.key(0), (8, 8, 1))
    >>> shape, params["W"].shape
    ((8, 8, 8), (3, 3, 1, 8))
    """

    features: int
    kernel_size: tuple[int, ...] = (3, 3)
    strides: tuple[int, ...] = (1,)
    padding: str = "SAME"
    use_bias: bool = True
    initializer: str = "he"
    init_scale: float = 0.01

    init_draws_key = True

    def __post_init__(self) -> None:
        if (not isinstance(self.features, int) or isinstance(self.features, bool)
                or self.features < 1):
            raise ValueError(f"Conv features must be a positive int, got {self.features!r}")
        kernel = check_int_tuple("kernel_size", self.kernel_size)
        if len(kernel) not in _DIMENSION_NUMBERS:
            raise ValueError(
                f"kernel_size must have 1 (1-D) or 2 (2-D) entries, got {self.kernel_size!r}"
            )
        object.__setattr__(self, "kernel_size", kernel)
        object.__setattr__(self, "strides", check_int_tuple("strides", self.strides, len(kernel)))
        object.__setattr__(self, "padding", check_padding(self.padding))
        init.get(self.initializer, self.init_scale)

    @property
    def spatial_dims(self) -> int:
        """1 for a 1-D convolution, 2 for a 2-D one."""
        return len(self.kernel_size)

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """Kernel ``(*kernel_size, in_channels, features)`` from the initializer, bias zeros."""
        if key is None:
            raise ValueError("Conv.init draws random weights: pass key=jax.random.key(...)")
        if len(input_shape) != self.spatial_dims + 1:
            layout = "(width, channels)" if self.spatial_dims == 1 else "(height, width, channels)"
            raise ValueError(
                f"a {self.spatial_dims}-D Conv needs inputs of shape {layout} per example, got "
                f"{tuple(input_shape)}; reshape images to channels-last, e.g. x.reshape(n, 8, 8, 1)"
            )
        fan_in = math.prod(self.kernel_size) * input_shape[-1]
        w = init.get(self.initializer, self.init_scale)(key, (fan_in, self.features), jnp.float32)
        params = {"W": w.reshape(*self.kernel_size, input_shape[-1], self.features)}
        if self.use_bias:
            params["b"] = jnp.zeros((self.features,), jnp.float32)
        out = jax.eval_shape(
            lambda x: self._conv(x, params["W"]), jax.ShapeDtypeStruct((1, *input_shape),
                                                                        jnp.float32)
        )
        if 0 in out.shape:
            raise ValueError(
                f"Conv kernel {self.kernel_size} is larger than its input {tuple(input_shape)} "
                "with padding='VALID'; use padding='SAME' or a smaller kernel"
            )
        return tuple(out.shape[1:]), params, {}

    def _conv(self, x: jax.Array, w: jax.Array) -> jax.Array:
        return lax.conv_general_dilated(
            x, w.astype(x.dtype), window_strides=self.strides, padding=self.padding,
            dimension_numbers=_DIMENSION_NUMBERS[self.spatial_dims],
        )

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
        """The convolution (plus bias); state passes through."""
        y = self._conv(x, params["W"])
        return (y + params["b"] if self.use_bias else y), state
