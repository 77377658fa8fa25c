"""Max and average pooling over 1 or 2 spatial axes, channels last, by ``lax.reduce_window``:

    max:  y[n, i, j, c] = max_{di, dj} x[n, s_i * i + di, s_j * j + dj, c]
    avg:  y[n, i, j, c] = mean of the same window, over the entries inside the input only

``strides`` default to the window (non-overlapping windows). With ``padding="SAME"`` the border
windows are partial: max ignores the padding (it pads with -inf) and avg divides by the number
of real entries.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl.layers.base import (
    Layer,
    PyTree,
    Shape,
    check_int_tuple,
    check_padding,
    register,
)


class _Pool(Layer):
    window: tuple[int, ...]
    strides: tuple[int, ...] | None
    padding: str

    def __post_init__(self) -> None:
        window = check_int_tuple("window", self.window)
        if len(window) not in (1, 2):
            raise ValueError(f"window must have 1 or 2 entries, got {self.window!r}")
        strides = window if self.strides is None else self.strides
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "strides", check_int_tuple("strides", strides, len(window)))
        object.__setattr__(self, "padding", check_padding(self.padding))

    def _dims(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        strides = self.window if self.strides is None else self.strides
        return (1, *self.window, 1), (1, *strides, 1)

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """No parameters; the output shape is the pooled one."""
        if len(input_shape) != len(self.window) + 1:
            raise ValueError(
                f"{type(self).__name__} with window {self.window} needs inputs with "
                f"{len(self.window)} spatial axes plus channels per example, got "
                f"{tuple(input_shape)}"
            )
        out = jax.eval_shape(
            lambda x: self.apply({}, {}, x, train=False)[0],
            jax.ShapeDtypeStruct((1, *input_shape), jnp.float32),
        )
        if 0 in out.shape:
            raise ValueError(
                f"{type(self).__name__} window {self.window} is larger than its input "
                f"{tuple(input_shape)} with padding='VALID'; use padding='SAME'"
            )
        return tuple(out.shape[1:]), {}, {}



@register
@dataclasses.dataclass(frozen=True)
class MaxPool(_Pool):
    """The largest entry of each ``window`` (per channel).

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> MaxPool((2, 2)).apply({}, {}, x, train=False)[0][0, :, :, 0]
    Array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """

    window: tuple[int, ...] = (2, 2)
    strides: tuple[int, ...] | None = None
    padding: str = "VALID"

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
        """Max over each window; state passes through."""
        window, strides = self._dims()
        y = lax.reduce_window(x, -jnp.inf, lax.max, window, strides, self.padding)
        return y, state


@register
@dataclasses.dataclass(frozen=True)
class AvgPool(_Pool):
    """The mean of each ``window`` (per channel), over the entries inside the input.

    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> AvgPool((2, 2)).apply({}, {}, x, train=False)[0][0, :, :, 0]
    Array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """

    window: tuple[int, ...] = (2, 2)
    strides: tuple[int, ...] | None = None
    padding: str = "VALID"

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
        """Window sums over the number of real entries per window; state passes through."""
        window, strides = self._dims()
        sums = lax.reduce_window(x, 0.0, lax.add, window, strides, self.padding)
        if self.padding == "VALID":
            return sums / math.prod(self.window), state
        ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
        counts = lax.reduce_window(ones, 0.0, lax.add, window, strides, self.padding)
        return sums / counts, state
