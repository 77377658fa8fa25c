"""Channels-last convolution whose gradients stay fast inside ``lax.scan``.

The forward pass is ``lax.conv_general_dilated`` (``NWC``/``WIO`` or ``NHWC``/``HWIO``)::

    y[n, i, o] = sum_{k, c} xpad[n, s * i + d * k, g(o) * C_g + c] * W[k, c, o]

with strides ``s``, kernel dilation ``d``, ``groups`` (input channel group ``g(o)`` of output
channel ``o``, ``C_g = C / groups`` channels each) and explicit ``(low, high)`` zero padding.

Its gradient is written out (a ``jax.custom_vjp``) with every operand laid out explicitly:

- the weight gradient ``dW[k, c, o] = sum_{n, i} xpad[n, s * i + d * k, c] * dy[n, i, o]`` is a
  convolution of the transposed operands ``x -> (C, W, N)`` (channels as the batch, the batch
  as the contracted feature axis) and ``dy -> (W_out, N, O)`` (a kernel dilated by ``s``,
  applied with window stride ``d``) giving ``(C_g, k, O)``; groups become its
  ``batch_group_count`` (:func:`weight_gradient`);
- the input gradient is the convolution of ``dy`` (dilated by ``s``) with the reversed kernel,
  its channel axes swapped explicitly to ``(k, O_g, C)`` (:func:`input_gradient`).

Both are then ``b0f_0io->b0f`` convolutions, the layout XLA:CPU runs as a fast (Eigen)
convolution. JAX's own transpose rules leave them as ``f0b_i0o->0bf`` (weights) and
``b0f_0oi->b0f`` (inputs); jitted alone XLA re-lays them out, but inside a loop body (every
``lax.scan`` epoch) it does not and they run 2-10x slower (jax-ml/jax#12868). The numbers are
the same to float32 round-off (usually bit for bit).

A 1-D convolution runs as a 2-D one over a unit height axis: XLA:CPU hands 2-D convolutions
(``b01f_01io->b01f``) to its YNNPACK kernels (``__ynn_fusion``) and runs 1-D ones on its generic
path, so the 1-D forward pass and gradients are faster as 2-D ones (the strided input gradient,
an ``lhs_dilation`` convolution, stays on the generic path either way).

Under ``jax.vmap`` (a sweep's members) JAX's rule for batched kernels is one convolution with
``feature_group_count`` = members, which XLA:CPU runs 2-4x slower (and off its fast kernels):
members with only their inputs batched are folded into the batch axis, members sharing their
inputs (a sweep's first layer) into the output channels, and the others are looped over
(``lax.map``); other backends keep JAX's rule. Reverse mode only: ``jax.jvp`` of
:func:`conv` raises (``custom_vjp``); :func:`conv_reference` is the plain convolution.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_batching import custom_vmap

Pads = tuple[tuple[int, int], ...]
#: A convolution of two operands with the members' vmap rule of :func:`_over_members`.
_Kernel = Callable[[jax.Array, jax.Array], jax.Array]

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


def _spans(
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    kernel_size: Sequence[int],
    strides: Sequence[int],
    padding: Pads,
    dilation: Sequence[int],
) -> list[tuple[int, int, int]]:
    """Per spatial axis ``(low, d * (k - 1), past)``: the forward pass's low padding, the
    dilated kernel's extent less one and ``past = low + n - (s * (n_out - 1) + d * (k - 1) + 1)``,
    the input positions after the last one it read (negative when it read high padding). Both
    gradients pad by these: the weight gradient reads what the forward pass read, the input
    gradient is the full correlation of ``dy`` with the reversed kernel cut to the input."""
    spans = []
    for n, n_out, k, s, (low, _), d in zip(
        input_spatial, output_spatial, kernel_size, strides, padding, dilation
    ):
        extent = d * (k - 1)
        spans.append((low, extent, low + n - (s * (n_out - 1) + extent + 1)))
    return spans


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
    # the span the forward pass read: high padding makes the output exactly k long (negative:
    # crops what no output position read)
    spans = _spans(x.shape[1:-1], dy.shape[1:-1], kernel_size, strides, padding, dilation)
    pads = [(low, -past) for low, _, past in spans]
    out = lax.conv_general_dilated(
        xt, dyt, window_strides=dilation, padding=pads, rhs_dilation=strides,
        dimension_numbers=DIMENSION_NUMBERS[nd], batch_group_count=groups,
    )
    # (C / groups, *k, O) -> (*k, C / groups, O)
    return jnp.transpose(out, (*range(1, nd + 1), 0, nd + 1))


def input_gradient(
    dy: jax.Array,
    w: jax.Array,
    input_spatial: tuple[int, ...],
    strides: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> jax.Array:
    """``dx[n, j, g * C_g + c] = sum_{i, k, o in group g} dy[n, i, o] W[k, c, o]`` over
    ``j = s * i + d * k - low``: the convolution of ``dy`` dilated by the strides with the
    spatially reversed kernel, its channel axes swapped explicitly to ``(*k, O / groups, C)``
    (``b0f_0io->b0f``; JAX's own transpose leaves ``b0f_0oi->b0f`` inside a loop body).

    >>> import jax, jax.numpy as jnp
    >>> x, w = jnp.zeros((1, 5, 1)), jnp.arange(3.0).reshape(3, 1, 1)
    >>> dy = jnp.ones((1, 3, 1))
    >>> input_gradient(dy, w, (5,), (2,), ((1, 1),), (1,))[0, :, 0]
    Array([1., 2., 1., 2., 1.], dtype=float32)
    >>> jax.grad(lambda x: conv_reference(x, w, (2,), ((1, 1),), (1,)).sum())(x)[0, :, 0]
    Array([1., 2., 1., 2., 1.], dtype=float32)
    """
    nd = len(strides)
    k, cg, out = w.shape[:nd], w.shape[-2], w.shape[-1]
    og = out // groups
    # (*k, C_g, G * O_g) -> (*k, O_g, G * C_g), reversed along space
    kernel = w.reshape(*k, cg, groups, og)
    kernel = jnp.transpose(kernel, (*range(nd), nd + 2, nd + 1, nd)).reshape(*k, og, groups * cg)
    kernel = lax.rev(kernel, tuple(range(nd)))
    # full correlation over the dilated dy, less what the forward pass padded or never read
    spans = _spans(input_spatial, dy.shape[1:-1], k, strides, padding, dilation)
    pads = [(extent - low, extent + past) for low, extent, past in spans]
    return lax.conv_general_dilated(
        dy, kernel, window_strides=(1,) * nd, padding=pads, lhs_dilation=strides,
        rhs_dilation=dilation, dimension_numbers=DIMENSION_NUMBERS[nd],
        feature_group_count=groups,
    )


def _fold_channels(a: jax.Array, groups: int) -> jax.Array:
    """``(M, ..., G * O_g) -> (..., G * M * O_g)``: members next to the output channels of their
    group (a grouped convolution keeps group ``g``'s outputs together)."""
    m, *rest, out = a.shape
    a = jnp.moveaxis(a.reshape(m, *rest, groups, out // groups), 0, -2)
    return a.reshape(*rest, groups * m * (out // groups))


def _unfold_channels(y: jax.Array, members: int, groups: int) -> jax.Array:
    """The inverse of :func:`_fold_channels`: ``(..., G * M * O_g) -> (M, ..., G * O_g)``."""
    *rest, out = y.shape
    y = jnp.moveaxis(y.reshape(*rest, groups, members, out // (groups * members)), -2, 0)
    return y.reshape(members, *rest, out // members)


def _over_members(
    fn: Callable[..., jax.Array], groups: int, batch_first: bool, channels_second: bool
) -> _Kernel:
    """``fn`` with a vmap rule for vmapped operands (a sweep's members), one convolution for all
    members where it can:

    - only the first operand batched and ``batch_first`` (the forward's ``x``, the input
      gradient's ``dy``): the members are folded into its batch axis;
    - only the second batched and ``channels_second`` (the forward's ``w``, the weight
      gradient's ``dy``: members sharing their inputs, as a sweep's first layer does): the
      members are folded into the output channels, ``(..., O) -> (..., M * O)``;
    - otherwise the members are looped over (``lax.map``) on CPU: JAX's own rule, one grouped
      convolution (``feature_group_count`` = members), runs several times slower there than
      the members' convolutions one after another (and off XLA:CPU's fast kernels); other
      backends keep JAX's rule."""
    mapped = custom_vmap(fn)

    @mapped.def_vmap
    def rule(
        axis_size: int, in_batched: Sequence[bool], *args: jax.Array
    ) -> tuple[jax.Array, bool]:
        first, second = args
        if batch_first and in_batched[0] and not in_batched[1]:
            y = mapped(first.reshape(-1, *first.shape[2:]), second)
            return y.reshape(axis_size, first.shape[1], *y.shape[1:]), True
        if channels_second and in_batched[1] and not in_batched[0]:
            y = mapped(first, _fold_channels(second, groups))
            return _unfold_channels(y, axis_size, groups), True
        if jax.default_backend() != "cpu":
            return jax.vmap(fn, in_axes=[0 if b else None for b in in_batched])(*args), True
        args = tuple(a if b else jnp.broadcast_to(a, (axis_size, *a.shape))
                     for a, b in zip(args, in_batched))
        return lax.map(lambda a: mapped(*a), args), True

    return mapped


#: ``(strides, padding, dilation, groups)`` of one convolution, hashable.
Config = tuple[tuple[int, ...], Pads, tuple[int, ...], int]


@functools.cache
def _kernels(
    config: Config, input_spatial: tuple[int, ...], kernel_size: tuple[int, ...]
) -> tuple[_Kernel, _Kernel, _Kernel]:
    """The forward, input-gradient and weight-gradient convolutions of one configuration, each
    with the members' vmap rule of :func:`_over_members`."""
    groups = config[3]
    return (
        _over_members(lambda x, w: conv_reference(x, w, *config), groups, True, True),
        _over_members(
            lambda dy, w: input_gradient(dy, w, input_spatial, *config), groups, True, False
        ),
        _over_members(
            lambda x, dy: weight_gradient(x, dy, kernel_size, *config), groups, False, True
        ),
    )


def _kernels_for(x: jax.Array, w: jax.Array, config: Config) -> tuple[_Kernel, _Kernel, _Kernel]:
    nd = len(config[0])
    return _kernels(config, tuple(x.shape[1:1 + nd]), tuple(w.shape[:nd]))


def conv(
    x: jax.Array,
    w: jax.Array,
    strides: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> jax.Array:
    """:func:`conv_reference` with the gradient of the module docstring (the same numbers to
    float32 round-off, fast inside ``lax.scan`` on CPU; a 1-D convolution is run as a
    2-D one over a unit height axis). ``x`` is ``(N, *spatial, C)``, ``w``
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
    config = (tuple(strides), tuple((int(lo), int(hi)) for lo, hi in padding), tuple(dilation),
              int(groups))
    if len(strides) == 1:
        # XLA:CPU hands 2-D convolutions to its fast (YNNPACK) kernels and leaves 1-D ones on
        # its generic path: the same numbers over a unit height axis
        unit = ((1, *config[0]), ((0, 0), *config[1]), (1, *config[2]), config[3])
        return _conv(x[:, None], w[None], unit)[:, 0]
    return _conv(x, w, config)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv(x: jax.Array, w: jax.Array, config: Config) -> jax.Array:
    return _kernels_for(x, w, config)[0](x, w)


def _conv_fwd(
    x: jax.Array, w: jax.Array, config: Config
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _kernels_for(x, w, config)[0](x, w), (x, w)


def _conv_bwd(
    config: Config, residuals: tuple[jax.Array, jax.Array], dy: jax.Array
) -> tuple[jax.Array, jax.Array]:
    x, w = residuals
    _, input_grad, weight_grad = _kernels_for(x, w, config)
    return input_grad(dy, w), weight_grad(x, dy).astype(w.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)

__all__ = ["conv", "conv_reference", "explicit_padding", "input_gradient", "weight_gradient"]
