"""Max and average pooling over 1 or 2 spatial axes, channels last, by ``lax.reduce_window``:

    max:  y[n, i, j, c] = max_{di, dj} x[n, s_i * i + di, s_j * j + dj, c]
    avg:  y[n, i, j, c] = mean of the same window, over the entries inside the input only

``strides`` default to the window (non-overlapping windows). With ``padding="SAME"`` the border
windows are partial: max ignores the padding (it pads with -inf) and avg divides by the number
of real entries.

Non-overlapping windows with ``padding="VALID"`` (the default) are reduced as a reshape,
``(n, h, w, c) -> (n, h / s, s, w / s, s, c)``, and a max or mean over the window axes: the
same values as ``reduce_window``, and a gradient that is elementwise, where ``reduce_window``'s
is a select-and-scatter, which XLA:CPU runs several times slower. Where a window holds equal
maxima the gradient is shared equally among them (``reduce_window`` gives it to one).
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


@dataclasses.dataclass(frozen=True)
class _Pool(Layer):
    """What max and average pooling share: the window, strides and padding checks, the output
    shape, and :meth:`_reduce`; a subclass says how a window is reduced in :meth:`pool`."""

    window: tuple[int, ...] = (2, 2)
    strides: tuple[int, ...] | None = None
    padding: str = "VALID"

    def __post_init__(self) -> None:
        window = check_int_tuple("window", self.window)
        if len(window) not in (1, 2):
            raise ValueError(f"window must have 1 or 2 entries, got {self.window!r}")
        strides = window if self.strides is None else self.strides
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "strides", check_int_tuple("strides", strides, len(window)))
        object.__setattr__(self, "padding", check_padding(self.padding))

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
            # jax.ShapeDtypeStruct.__init__ has no annotations in the installed jax
            jax.ShapeDtypeStruct((1, *input_shape), jnp.float32),  # type: ignore[no-untyped-call]
        )
        if 0 in out.shape:
            raise ValueError(
                f"{type(self).__name__} window {self.window} is larger than its input "
                f"{tuple(input_shape)} with padding='VALID'; use padding='SAME'"
            )
        return tuple(out.shape[1:]), {}, {}

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
        """Each window reduced by :meth:`pool`; state passes through."""
        return self.pool(x), state

    def pool(self, x: jax.Array) -> jax.Array:
        """The pooled ``x`` (batch first, channels last)."""
        raise NotImplementedError

    def _tiled(self, x: jax.Array) -> tuple[jax.Array, tuple[int, ...]] | None:
        """``x`` with each spatial axis split into (windows, window) and the window axes, when
        the windows tile it (``VALID``, strides equal to the window; a remainder is cropped);
        ``None`` otherwise."""
        if self.padding != "VALID" or self.strides != self.window:
            return None
        spatial = x.shape[1:-1]
        counts = [size // k for size, k in zip(spatial, self.window)]
        crop = tuple(slice(0, n * k) for n, k in zip(counts, self.window))
        x = x[(slice(None), *crop, slice(None))]
        shape = [d for n, k in zip(counts, self.window) for d in (n, k)]
        axes = tuple(2 + 2 * i for i in range(len(self.window)))
        return x.reshape(x.shape[0], *shape, x.shape[-1]), axes

    def _reduce(self, x: jax.Array, init: float, op: Any) -> jax.Array:
        """``op`` folded over each window of the spatial axes of ``x``, starting from ``init``
        (the value padding contributes)."""
        strides = self.window if self.strides is None else self.strides
        reduced: jax.Array = lax.reduce_window(x, init, op, (1, *self.window, 1),
                                               (1, *strides, 1), self.padding)
        return reduced


@register
@dataclasses.dataclass(frozen=True)
class MaxPool(_Pool):
    """The largest entry of each ``window`` (per channel).

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers import MaxPool
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> MaxPool((2, 2)).apply({}, {}, x, train=False)[0][0, :, :, 0]
    Array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    """

    def pool(self, x: jax.Array) -> jax.Array:
        """Max over each window (padding is -inf, so it never wins)."""
        tiled = self._tiled(x)
        if tiled is not None:
            return jnp.max(tiled[0], axis=tiled[1])
        return self._reduce(x, -jnp.inf, lax.max)


@register
@dataclasses.dataclass(frozen=True)
class AvgPool(_Pool):
    """The mean of each ``window`` (per channel), over the entries inside the input.

    >>> import jax.numpy as jnp
    >>> from jaxdl.layers import AvgPool
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> AvgPool((2, 2)).apply({}, {}, x, train=False)[0][0, :, :, 0]
    Array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """

    def pool(self, x: jax.Array) -> jax.Array:
        """Window sums over the number of real entries per window."""
        tiled = self._tiled(x)
        if tiled is not None:
            return jnp.mean(tiled[0], axis=tiled[1])
        sums = self._reduce(x, 0.0, lax.add)
        if self.padding == "VALID":
            return sums / math.prod(self.window)
        return sums / self._reduce(jnp.ones((1, *x.shape[1:-1], 1), x.dtype), 0.0, lax.add)
