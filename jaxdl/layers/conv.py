"""Convolution over 1 or 2 spatial axes, channels last (``NWC`` / ``NHWC``), by
``lax.conv_general_dilated``. As in every deep-learning library this is a cross-correlation:

    y[n, i, j, o] = b[o] + sum_{di, dj, c} xpad[n, s_i * i + d_i * di, s_j * j + d_j * dj,
                                              g(o) * C_g + c] * W[di, dj, c, o]

with strides ``s``, kernel dilation ``d`` and ``groups`` (output channel ``o`` sees the
``C_g = in_channels / groups`` input channels of its group ``g(o)``; depthwise when ``groups ==
in_channels``). ``xpad`` is ``x`` zero-padded: ``"SAME"``, ``"VALID"`` (none) or explicit
``(low, high)`` pairs per spatial axis. Output size per spatial axis: ``ceil(n / s)`` for SAME,
``floor((n + low + high - d * (k - 1) - 1) / s) + 1`` otherwise. The kernel ``W`` has shape
``(*kernel_size, in_channels / groups, features)`` and is drawn by a :mod:`jaxdl.init`
initializer as the ``(prod(kernel_size) * in_channels / groups, features)`` matrix it is, so
He's fan-in is the receptive field times the input channels of a group.

The gradient is :func:`jaxdl.layers.convolution.conv`'s: the same numbers as JAX's own to
float32 round-off, with both gradient convolutions laid out so that they stay fast inside the
``lax.scan`` of a training epoch on CPU (jax-ml/jax#12868). Reverse mode only (``jax.grad``,
``jax.vjp``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import init
from jaxdl.layers.base import (
    Layer,
    PyTree,
    Shape,
    check_conv_padding,
    check_int_tuple,
    register,
)
from jaxdl.layers.convolution import DIMENSION_NUMBERS, Pads, conv, explicit_padding


@register
@dataclasses.dataclass(frozen=True)
class Conv(Layer):
    """``features`` filters of size ``kernel_size`` (1 entry: 1-D over (batch, width,
    channels); 2 entries: 2-D over (batch, height, width, channels)), with ``strides`` (an int or
    one per axis), ``padding`` (``"SAME"``, ``"VALID"`` or one ``(low, high)`` pair per spatial
    axis, e.g. ``((1, 1),)`` or ``((1, 1), (2, 2))``), kernel ``dilation`` (an int or one per
    axis) and ``groups`` (dividing both the input channels and ``features``).

    >>> import jax
    >>> shape, params, _ = Conv(8, (3, 3)).init(jax.random.key(0), (8, 8, 1))
    >>> shape, params["W"].shape
    ((8, 8, 8), (3, 3, 1, 8))
    >>> depthwise = Conv(6, (3,), padding=((2, 0),), dilation=2, groups=6)
    >>> shape, params, _ = depthwise.init(jax.random.key(0), (10, 6))
    >>> shape, params["W"].shape
    ((8, 6), (3, 1, 6))
    """

    features: int
    kernel_size: tuple[int, ...] = (3, 3)
    strides: tuple[int, ...] = (1,)
    padding: str | Pads = "SAME"
    use_bias: bool = True
    initializer: str = "he"
    init_scale: float = 0.01
    dilation: tuple[int, ...] = (1,)
    groups: int = 1

    init_draws_key = True

    def __post_init__(self) -> None:
        if (not isinstance(self.features, int) or isinstance(self.features, bool)
                or self.features < 1):
            raise ValueError(f"Conv features must be a positive int, got {self.features!r}")
        kernel = check_int_tuple("kernel_size", self.kernel_size)
        if len(kernel) not in DIMENSION_NUMBERS:
            raise ValueError(
                f"kernel_size must have 1 (1-D) or 2 (2-D) entries, got {self.kernel_size!r}"
            )
        object.__setattr__(self, "kernel_size", kernel)
        object.__setattr__(self, "strides", check_int_tuple("strides", self.strides, len(kernel)))
        object.__setattr__(self, "padding", check_conv_padding(self.padding, len(kernel)))
        object.__setattr__(
            self, "dilation", check_int_tuple("dilation", self.dilation, len(kernel))
        )
        if (not isinstance(self.groups, int) or isinstance(self.groups, bool)
                or self.groups < 1):
            raise ValueError(f"Conv groups must be a positive int, got {self.groups!r}")
        if self.features % self.groups:
            raise ValueError(
                f"Conv features ({self.features}) must be a multiple of groups ({self.groups}); "
                f"each group has features / groups filters"
            )
        init.get(self.initializer, self.init_scale)

    @property
    def spatial_dims(self) -> int:
        """1 for a 1-D convolution, 2 for a 2-D one."""
        return len(self.kernel_size)

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """Kernel ``(*kernel_size, in_channels / groups, features)`` from the initializer, bias
        zeros."""
        if key is None:
            raise ValueError("Conv.init draws random weights: pass key=jax.random.key(...)")
        if len(input_shape) != self.spatial_dims + 1:
            layout = "(width, channels)" if self.spatial_dims == 1 else "(height, width, channels)"
            raise ValueError(
                f"a {self.spatial_dims}-D Conv needs inputs of shape {layout} per example, got "
                f"{tuple(input_shape)}; reshape images to channels-last, e.g. x.reshape(n, 8, 8, 1)"
            )
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(
                f"Conv groups={self.groups} must divide the input channels ({channels}); "
                f"depthwise convolution is groups == in_channels"
            )
        fan_in = math.prod(self.kernel_size) * (channels // self.groups)
        w = init.get(self.initializer, self.init_scale)(key, (fan_in, self.features), jnp.float32)
        params = {"W": w.reshape(*self.kernel_size, channels // self.groups, self.features)}
        if self.use_bias:
            params["b"] = jnp.zeros((self.features,), jnp.float32)
        out = jax.eval_shape(
            lambda x: self._conv(x, params["W"]),
            # jax.ShapeDtypeStruct.__init__ has no annotations in the installed jax
            jax.ShapeDtypeStruct((1, *input_shape), jnp.float32),  # type: ignore[no-untyped-call]
        )
        if 0 in out.shape:
            raise ValueError(
                f"Conv kernel {self.kernel_size} (dilation {self.dilation}) is larger than its "
                f"input {tuple(input_shape)} padded with padding={self.padding!r}; use "
                "padding='SAME', more padding or a smaller kernel"
            )
        return tuple(out.shape[1:]), params, {}

    def _conv(self, x: jax.Array, w: jax.Array) -> jax.Array:
        pads = explicit_padding(
            x.shape[1:-1], self.kernel_size, self.strides, self.padding, self.dilation
        )
        return conv(x, w.astype(x.dtype), self.strides, pads, self.dilation, self.groups)

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
