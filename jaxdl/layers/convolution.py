"""Channels-last convolution whose weight gradient stays fast inside ``lax.scan``.

The forward pass is ``lax.conv_general_dilated`` (``NWC``/``WIO`` or ``NHWC``/``HWIO``)::

    y[n, i, o] = sum_{k, c} xpad[n, s * i + d * k, g(o) * C_g + c] * W[k, c, o]

with strides ``s``, kernel dilation ``d``, ``groups`` (input channel group ``g(o)`` of output
channel ``o``, ``C_g = C / groups`` channels each) and explicit ``(low, high)`` zero padding.

Its gradient is written out (a ``jax.custom_vjp``): the input gradient is JAX's own transpose
of the convolution, and the weight gradient

    dW[k, c, o] = sum_{n, i} xpad[n, s * i + d * k, c] * dy[n, i, o]

is computed as a convolution of the explicitly transposed operands ``x -> (C, W, N)`` (channels
as the batch, the batch as the contracted feature axis) and ``dy -> (W_out, N, O)`` (a kernel
dilated by ``s``, applied with window stride ``d``), giving ``(C_g, k, O)`` in the
``b0f_0io->b0f`` layout that XLA:CPU runs as a fast (Eigen) convolution; groups become its
``batch_group_count``. JAX's own transpose rule leaves that convolution in the layout
``f0b_i0o->0bf``; jitted alone XLA re-lays it out, but inside a loop body (every ``lax.scan``
epoch) it does not and the convolution runs 5-10x slower (jax-ml/jax#12868). The numbers are
the same to float32 round-off (usually bit for bit). Reverse mode only: ``jax.jvp`` of
:func:`conv` raises (``custom_vjp``); :func:`conv_reference` is the plain convolution.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

Pads = tuple[tuple[int, int], ...]

DIMENSION_NUMBERS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def explicit_padding(
    spatial: Sequence[int],
    kernel_size: Sequence[int],
    strides: Sequence[int],
    padding: str | Pads,
    dilation: Sequence[int],
) -> Pads:
    """``(low, high)`` zero padding per spatial axis for ``"SAME"``, ``"VALID"`` or explicit
    pairs (returned as they are). SAME pads ``max((ceil(n / s) - 1) * s + d * (k - 1) + 1 - n,
    0)`` in total, the extra one at the high end, so that the output has ``ceil(n / s)`` entries.

    >>> explicit_padding((8,), (3,), (2,), "SAME", (1,))
    ((0, 1),)
    >>> explicit_padding((8, 8), (3, 3), (1, 1), "SAME", (2, 2))
    ((2, 2), (2, 2))
    """
    if not isinstance(padding, str):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    effective = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
    return tuple(
        (int(lo), int(hi)) for lo, hi in lax.padtype_to_pads(spatial, effective, strides, padding)
    )


def conv_reference(
    x: jax.Array,
    w: jax.Array,
    strides: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> jax.Array:
    """The plain ``lax.conv_general_dilated`` that :func:`conv` computes (with JAX's own
    gradient).

    >>> import jax.numpy as jnp
    >>> conv_reference(jnp.ones((1, 5, 1)), jnp.ones((3, 1, 1)), (1,), ((1, 1),), (1,))[0, :, 0]
    Array([2., 3., 3., 3., 2.], dtype=float32)
    """
    return lax.conv_general_dilated(
        x, w, window_strides=strides, padding=padding, rhs_dilation=dilation,
        feature_group_count=groups, dimension_numbers=DIMENSION_NUMBERS[w.ndim - 2],
    )


def weight_gradient(
    x: jax.Array,
    dy: jax.Array,
    kernel_size: tuple[int, ...],
    strides: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> jax.Array:
    """``dW[k, c, o] = sum_{n, i} xpad[n, s * i + d * k, c] * dy[n, i, o]`` (shape
    ``(*kernel_size, C / groups, O)``) as one ``b0f_0io->b0f`` convolution of the transposed
    operands (see the module docstring).

    >>> import jax, jax.numpy as jnp
    >>> x, w = jnp.arange(5.0).reshape(1, 5, 1), jnp.ones((3, 1, 1))
    >>> dy = jnp.ones((1, 5, 1))
    >>> weight_gradient(x, dy, (3,), (1,), ((1, 1),), (1,))[:, 0, 0]
    Array([ 6., 10., 10.], dtype=float32)
    >>> jax.grad(lambda w: conv_reference(x, w, (1,), ((1, 1),), (1,)).sum())(w)[:, 0, 0]
    Array([ 6., 10., 10.], dtype=float32)
    """
    nd = len(kernel_size)
    # x (N, *S, C) -> (C, *S, N): channels are the batch, the batch is the contracted feature.
    xt = jnp.transpose(x, (nd + 1, *range(1, nd + 1), 0))
    # dy (N, *S_out, O) -> (*S_out, N, O): a kernel with N inputs and O outputs.
    dyt = jnp.transpose(dy, (*range(1, nd + 1), 0, nd + 1))
    pads = []
    for a in range(nd):
        low = padding[a][0]
        # the input span the gradient reads; the high padding makes the output exactly k long
        # (negative: crop what no output position reads)
        covered = dilation[a] * (kernel_size[a] - 1) + strides[a] * (dy.shape[1 + a] - 1) + 1
        pads.append((low, covered - x.shape[1 + a] - low))
    out = lax.conv_general_dilated(
        xt, dyt, window_strides=dilation, padding=pads, rhs_dilation=strides,
        dimension_numbers=DIMENSION_NUMBERS[nd], batch_group_count=groups,
    )
    # (C / groups, *k, O) -> (*k, C / groups, O)
    return jnp.transpose(out, (*range(1, nd + 1), 0, nd + 1))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def conv(
    x: jax.Array,
    w: jax.Array,
    strides: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> jax.Array:
    """:func:`conv_reference` with the gradient of the module docstring (the same numbers to
    float32 round-off, fast inside ``lax.scan`` on CPU). ``x`` is ``(N, *spatial, C)``, ``w``
    ``(*kernel_size, C / groups, O)`` of the same dtype; ``padding`` is ``(low, high)`` per
    spatial axis (see :func:`explicit_padding`).

    >>> import jax, jax.numpy as jnp
    >>> x, w = jnp.arange(10.0).reshape(1, 5, 2), jnp.ones((3, 2, 1))
    >>> args = ((2,), ((1, 1),), (1,))
    >>> conv(x, w, *args)[0, :, 0]
    Array([ 6., 27., 30.], dtype=float32)
    >>> g = jax.grad(lambda w: conv(x, w, *args).sum())(w)
    >>> bool(jnp.all(g == jax.grad(lambda w: conv_reference(x, w, *args).sum())(w)))
    True
    """
    return conv_reference(x, w, strides, padding, dilation, groups)


def _conv_fwd(x, w, strides, padding, dilation, groups):
    return conv_reference(x, w, strides, padding, dilation, groups), (x, w)


def _conv_bwd(strides, padding, dilation, groups, residuals, dy):
    x, w = residuals
    _, input_vjp = jax.vjp(lambda x: conv_reference(x, w, strides, padding, dilation, groups), x)
    (dx,) = input_vjp(dy)
    dw = weight_gradient(x, dy, w.shape[:-2], strides, padding, dilation, groups)
    return dx, dw.astype(w.dtype)


conv.defvjp(_conv_fwd, _conv_bwd)

__all__ = ["conv", "conv_reference", "explicit_padding", "weight_gradient"]
