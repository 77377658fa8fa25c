"""Data augmentation as layers that act only in training (the identity at evaluation), and mixup.

Each layer draws one random transform per example from its key (handed out like dropout's:
derived from the step key, itself ``fold_in(dropout_key, epoch)``), so a resumed run draws the
same transforms bit for bit and every member of a sweep draws its own. Inputs are channels-last
images ``(batch, H, W, C)`` or 1-D signals ``(batch, W, C)``; integer inputs (``uint8`` pixels)
are cast to float32 first, in both modes, so training and evaluation see the same dtype.

- ``RandomFlip(p)``: mirror along W with probability ``p``:  ``y[n, :, j] = x[n, :, W-1-j]``
- ``RandomCrop(pad)``: zero-pad ``pad`` on each side of H and W, crop back to ``H x W`` at an
  offset drawn uniformly from the ``(2 pad + 1)`` choices per axis (the CIFAR standard, ``pad=4``)
- ``RandomTranslation(height_factor, width_factor)``: shift by integers ``dy``, ``dx`` uniform
  in ``[-m, m]``, ``m = floor(factor * H)`` (``W`` for ``dx``), filling with zeros
- ``GaussianNoise(std)``: ``y = x + std * eps``, ``eps ~ N(0, 1)`` per element

A shift moves content: ``y[n, i, j] = x[n, i - dy, j - dx]`` where that lies inside the image,
0 elsewhere (a crop at offset ``o`` is the shift ``pad - o``).

Strengths may be traced hyperparameters: when ``hp`` holds ``flip_prob``, ``translate_factor``
(both axes) or ``noise_std`` the layer uses it instead of its field, so a sweep can vary it under
``vmap``. Concrete values are checked (``flip_prob`` and ``translate_factor`` in ``[0, 1]``,
``noise_std >= 0``); a traced value outside its range acts as clipped (a probability above 1
always flips, a factor above 1 may shift everything out of the image).

Mixup needs the labels, which a layer never sees: :func:`mixup` is a pure function to call on a
batch in a step of your own (see ``docs/topics/augmentation.md``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import check_range, is_concrete
from jaxdl.layers.base import Layer, PyTree, Shape, register

FLIP_PROB = "flip_prob"
TRANSLATE_FACTOR = "translate_factor"
NOISE_STD = "noise_std"
# floor(factor * size) with room for float32 rounding (0.7 * 10 is 6.9999998 in float32).
_FLOOR_SLACK = 1e-4


def as_float(x: jax.Array) -> jax.Array:
    """``x`` itself when it is floating point, else ``x`` cast to float32 (``uint8`` pixels).

    >>> as_float(jnp.array([0, 255], jnp.uint8)).dtype
    dtype('float32')
    """
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def shift(x: jax.Array, dy: jax.Array | None, dx: jax.Array) -> jax.Array:
    """Shift each example of ``x`` by whole pixels with zero fill:
    ``y[n, i, j] = x[n, i - dy[n], j - dx[n]]`` inside the image, 0 outside.

    Args:
      x: ``(batch, H, W, C)`` images, or ``(batch, W, C)`` signals with ``dy=None``.
      dy: ``(batch,)`` integer shifts along H (down for positive), or ``None`` for 1-D input.
      dx: ``(batch,)`` integer shifts along W (right for positive).

    Returns:
      An array of ``x``'s shape and dtype.

    Examples:
      >>> shift(jnp.arange(4.0).reshape(1, 4, 1), None, jnp.array([1]))[0, :, 0]
      Array([0., 0., 1., 2.], dtype=float32)
    """
    n, width = x.shape[0], x.shape[-2]
    cols = jnp.arange(width)[None, :] - jnp.asarray(dx)[:, None]  # (batch, W)
    valid = (cols >= 0) & (cols < width)
    cols = jnp.clip(cols, 0, width - 1)
    batch = jnp.arange(n)
    if dy is None:
        out = x[batch[:, None], cols]
    else:
        height = x.shape[1]
        rows = jnp.arange(height)[None, :] - jnp.asarray(dy)[:, None]  # (batch, H)
        valid = ((rows >= 0) & (rows < height))[:, :, None] & valid[:, None, :]
        rows = jnp.clip(rows, 0, height - 1)
        out = x[batch[:, None, None], rows[:, :, None], cols[:, None, :]]
    return jnp.where(valid[..., None], out, jnp.zeros((), x.dtype))


def _check_image_shape(layer: str, input_shape: Shape) -> None:
    shape = tuple(input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"{layer} needs channels-last inputs, (H, W, C) images or (W, C) signals per "
            f"example, got input shape {shape}; reshape flat features, e.g. (64,) -> (8, 8, 1)"
        )


def _strength(hp: Mapping[str, Any] | None, name: str, field: float, low: float,
              high: float) -> Any:
    """``hp[name]`` when given (checked when concrete), else the layer's ``field``."""
    if hp is None or name not in hp:
        return field
    value = hp[name]
    check_range(f"hp[{name!r}]", value, low, high)
    return value


def _check_field(name: str, value: Any, high: float) -> None:
    """A layer's strength: one finite number in ``[0, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    check_range(name, value, 0.0, high)


def _check_key(layer: str, key: jax.Array | None) -> jax.Array:
    if key is None:
        raise ValueError(f"{layer} with train=True needs key=jax.random.key(...)")
    return key


class _Augmentation(Layer):
    """Shared by the augmentation layers: no parameters, same shape, a key in training only."""

    images_only: ClassVar[bool] = True  # (H, W, C) or (W, C) inputs; False: any shape

    def draws_key(self, train: bool) -> bool:
        """A key is needed in training only."""
        return train

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """No parameters; the shape (``(H, W, C)`` or ``(W, C)`` for the image transforms) is
        unchanged."""
        if self.images_only:
            _check_image_shape(type(self).__name__, input_shape)
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
        """The transformed batch in training (needs ``key``); ``x`` (as float) at test time."""
        x = as_float(x)
        if not train:
            return x, state
        return self.transform(_check_key(type(self).__name__, key), x, hp), state

    def transform(self, key: jax.Array, x: jax.Array, hp: Mapping[str, Any] | None) -> jax.Array:
        """The training-mode transform of a float batch ``x``."""
        raise NotImplementedError


@register
@dataclasses.dataclass(frozen=True)
class RandomFlip(_Augmentation):
    """Mirror each example along W (horizontally) with probability ``p``, or ``hp["flip_prob"]``
    when given: ``flip_n ~ Bernoulli(p)``, drawn as ``jax.random.bernoulli(key, p, (batch,))``.

    >>> import jax, jax.numpy as jnp
    >>> x = jnp.arange(3.0).reshape(1, 3, 1)
    >>> RandomFlip(1.0).apply({}, {}, x, train=True, key=jax.random.key(0))[0][0, :, 0]
    Array([2., 1., 0.], dtype=float32)
    """

    p: float = 0.5

    def __post_init__(self) -> None:
        _check_field("p", self.p, 1.0)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """``flip_prob`` (overrides ``p`` when given)."""
        return frozenset({FLIP_PROB})

    def transform(self, key: jax.Array, x: jax.Array, hp: Mapping[str, Any] | None) -> jax.Array:
        """``x`` with the chosen examples mirrored along W."""
        p = _strength(hp, FLIP_PROB, self.p, 0.0, 1.0)
        flip = jax.random.bernoulli(key, p, (x.shape[0],))
        flip = flip.reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.where(flip, jnp.flip(x, axis=x.ndim - 2), x)


@register
@dataclasses.dataclass(frozen=True)
class RandomCrop(_Augmentation):
    """Zero-pad ``pad`` pixels on each side of H and W (W only for 1-D input) and crop back to
    the input size at offsets ``o ~ randint(key, (batch, axes), 0, 2 pad + 1)`` (axes: H then W).

    >>> import jax, jax.numpy as jnp
    >>> y, _ = RandomCrop(4).apply({}, {}, jnp.ones((2, 8, 8, 3)), train=True,
    ...                            key=jax.random.key(0))
    >>> y.shape
    (2, 8, 8, 3)
    """

    pad: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.pad, int | np.integer) or isinstance(self.pad, bool) or self.pad < 1:
            raise ValueError(f"pad must be a positive int (pixels per side), got {self.pad!r}")
        object.__setattr__(self, "pad", int(self.pad))  # JSON-able in to_config

    def transform(self, key: jax.Array, x: jax.Array, hp: Mapping[str, Any] | None) -> jax.Array:
        """The crops: the shift ``pad - o`` per axis."""
        axes = x.ndim - 2
        shifts = self.pad - jax.random.randint(key, (x.shape[0], axes), 0, 2 * self.pad + 1)
        return shift(x, shifts[:, 0] if axes == 2 else None, shifts[:, -1])


@register
@dataclasses.dataclass(frozen=True)
class RandomTranslation(_Augmentation):
    """Shift each example by ``dy, dx ~ randint(k, (batch,), -m, m + 1)`` pixels with zero fill,
    ``m = floor(factor * size)`` (``k_h, k_w = jax.random.split(key)``; 1-D input: ``dx`` only,
    drawn with ``k_w``). ``hp["translate_factor"]``, when given, replaces both factors.

    >>> import jax, jax.numpy as jnp
    >>> layer = RandomTranslation(0.25, 0.25)
    >>> layer.apply({}, {}, jnp.ones((2, 8, 8, 1)), train=True, key=jax.random.key(0))[0].shape
    (2, 8, 8, 1)
    """

    height_factor: float = 0.1
    width_factor: float = 0.1

    def __post_init__(self) -> None:
        _check_field("height_factor", self.height_factor, 1.0)
        _check_field("width_factor", self.width_factor, 1.0)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """``translate_factor`` (overrides both factors when given)."""
        return frozenset({TRANSLATE_FACTOR})

    def transform(self, key: jax.Array, x: jax.Array, hp: Mapping[str, Any] | None) -> jax.Array:
        """``x`` shifted by the drawn ``dy``, ``dx``."""
        n = x.shape[0]
        height_factor, width_factor = self.height_factor, self.width_factor
        if hp is not None and TRANSLATE_FACTOR in hp:
            height_factor = width_factor = _strength(hp, TRANSLATE_FACTOR, 0.0, 0.0, 1.0)
        k_h, k_w = jax.random.split(key)

        def draw(k: jax.Array, factor: Any, size: int) -> jax.Array:
            m = jnp.floor(jnp.asarray(factor, jnp.float32) * size + _FLOOR_SLACK).astype(jnp.int32)
            return jax.random.randint(k, (n,), -m, m + 1)

        dx = draw(k_w, width_factor, x.shape[-2])
        if x.ndim == 3:
            return shift(x, None, dx)
        dy = draw(k_h, height_factor, x.shape[1])
        return shift(x, dy, dx)


@register
@dataclasses.dataclass(frozen=True)
class GaussianNoise(_Augmentation):
    """Add ``std * eps``, ``eps = jax.random.normal(key, x.shape)``, in training (any shape);
    ``hp["noise_std"]``, when given, replaces ``std``.

    >>> import jax, jax.numpy as jnp
    >>> layer = GaussianNoise(0.1)
    >>> layer.apply({}, {}, jnp.zeros((1, 3)), train=False)[0]
    Array([[0., 0., 0.]], dtype=float32)
    """

    images_only: ClassVar[bool] = False
    std: float = 0.1

    def __post_init__(self) -> None:
        _check_field("std", self.std, math.inf)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """``noise_std`` (overrides ``std`` when given)."""
        return frozenset({NOISE_STD})

    def transform(self, key: jax.Array, x: jax.Array, hp: Mapping[str, Any] | None) -> jax.Array:
        """``x + std * eps``."""
        std = jnp.asarray(_strength(hp, NOISE_STD, self.std, 0.0, math.inf), x.dtype)
        return x + std * jax.random.normal(key, x.shape, x.dtype)


def mixup(
    key: jax.Array, x: jax.Array, y_onehot: jax.Array, alpha: Any
) -> tuple[jax.Array, jax.Array]:
    """Mixup (Zhang et al., 2018) with one mixing weight per example:

        lam_n ~ Beta(alpha, alpha),   pi = a random permutation of the batch
        x'_n = lam_n x_n + (1 - lam_n) x_pi(n),   y'_n = lam_n y_n + (1 - lam_n) y_pi(n)

    drawn as ``k_lam, k_perm = jax.random.split(key)``, ``lam = jax.random.beta(k_lam, alpha,
    alpha, (batch,))``, ``pi = jax.random.permutation(k_perm, batch)``.

    Args:
      key: a PRNG key.
      x: ``(batch, ...)`` inputs (integers are cast to float32).
      y_onehot: ``(batch, classes)`` one-hot (or probability) labels.
      alpha: the Beta concentration, > 0 (may be traced); small values mix little.

    Returns:
      ``(x_mixed, y_mixed)``; each row of ``y_mixed`` still sums to 1.

    Raises:
      ValueError: for labels that are not 2-D rows, one per example, or a concrete
        ``alpha <= 0``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> xm, ym = mixup(jax.random.key(0), jnp.eye(4), jnp.eye(4), 0.4)
      >>> bool(jnp.allclose(xm, ym)), bool(jnp.allclose(ym.sum(axis=1), 1.0))
      (True, True)
    """
    x = as_float(x)
    n = x.shape[0]
    if np.ndim(y_onehot) != 2 or np.shape(y_onehot)[0] != n:
        raise ValueError(
            f"y_onehot must be (batch, classes) one-hot rows, one per example of x {x.shape}, "
            f"got shape {np.shape(y_onehot)}; one-hot encode labels with "
            "jax.nn.one_hot(y, classes)"
        )
    if is_concrete(alpha):
        check_range("alpha", alpha, 0.0, low_open=True)
    y = as_float(jnp.asarray(y_onehot))
    k_lam, k_perm = jax.random.split(key)
    lam = jax.random.beta(k_lam, alpha, alpha, (n,))
    perm = jax.random.permutation(k_perm, n)

    def mix(a: jax.Array) -> jax.Array:
        w = lam.astype(a.dtype).reshape((n,) + (1,) * (a.ndim - 1))
        return w * a + (1 - w) * a[perm]

    return mix(x), mix(y)


__all__ = [
    "GaussianNoise",
    "RandomCrop",
    "RandomFlip",
    "RandomTranslation",
    "as_float",
    "mixup",
    "shift",
]
