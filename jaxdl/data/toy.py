"""Seeded 2-D toy sets for the course's experiments: moons, circles, the planar flower, noisy
blobs to overfit, and moons with badly scaled features; and scikit-learn's 8x8 digits.

Every generator takes the number of points ``n``, a ``noise`` level and a ``seed``, and returns
``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``, generated on
the host in numpy (``moons`` and ``circles`` with scikit-learn's generators, imported on first
use). :func:`jaxdl.data.datasets.load` splits and standardizes them by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from jaxdl.checks import check_int, check_range


def _sk() -> Any:
    """scikit-learn's dataset module, imported on first use so ``import jaxdl`` stays fast."""
    from sklearn import datasets

    return datasets


def _check_noise(noise: Any) -> float:
    check_range("noise", noise, 0.0)
    return float(noise)


def _pack(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int32)


def moons(n: int = 300, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (``sklearn.datasets.make_moons``) plus Gaussian noise of
    standard deviation ``noise``; ``n // 2`` points in class 0, the rest in class 1.

    Args:
      n: the number of points (>= 2).
      noise: the standard deviation of the Gaussian noise (>= 0).
      seed: the generator's seed (an int >= 0).

    Returns:
      ``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.

    Examples:
      >>> from jaxdl.data.toy import moons
      >>> x, y = moons(n=10)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((10, 2), 'int32', 5)
    """
    n = check_int("n", n, 2)
    x, y = _sk().make_moons(
        n_samples=n, noise=_check_noise(noise), random_state=check_int("seed", seed, 0)
    )
    return _pack(x, y)


def circles(
    n: int = 300, noise: float = 0.05, factor: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles (``sklearn.datasets.make_circles``): class 0 on the unit circle,
    class 1 on the circle of radius ``factor``, plus Gaussian noise of std ``noise``.

    Args:
      n: the number of points (>= 2).
      noise: the standard deviation of the Gaussian noise (>= 0).
      seed: the generator's seed (an int >= 0).
      factor: the inner circle's radius, in ``(0, 1)``.

    Returns:
      ``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.

    Examples:
      >>> from jaxdl.data.toy import circles
      >>> x, y = circles(n=10)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((10, 2), 'int32', 5)
    """
    n = check_int("n", n, 2)
    check_range("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
    x, y = _sk().make_circles(
        n_samples=n,
        noise=_check_noise(noise),
        factor=float(factor),
        random_state=check_int("seed", seed, 0),
    )
    return _pack(x, y)


def flower(
    n: int = 400, petals: int = 4, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The planar "flower": ``2 * petals`` petals of the rose ``r = 4 |sin(petals * theta)|``,
    coloured alternately by the two classes.

    A clean angle ``theta0`` is drawn uniformly inside a petal of the point's class (petal
    ``p`` spans ``[p, p + 1) * pi / petals``; class = ``p mod 2``); then
    ``theta = theta0 + noise * N(0, 1)``, ``r = 4 |sin(petals * theta)| + noise * N(0, 1)`` and
    ``x = (r sin theta, r cos theta)``. Class 0 gets ``n // 2`` points, class 1 the rest.

    Args:
      n: the number of points (>= 2).
      noise: the noise level of the angle and the radius (>= 0).
      seed: the generator's seed (an int >= 0).
      petals: petals per class (an int >= 1).

    Returns:
      ``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.

    Examples:
      >>> from jaxdl.data.toy import flower
      >>> x, y = flower(n=11)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((11, 2), 'int32', 6)
    """
    n = check_int("n", n, 2)
    petals = check_int("petals", petals, 1)
    noise = _check_noise(noise)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    y = (np.arange(n) >= n // 2).astype(np.int32)
    petal = 2 * rng.integers(0, petals, size=n) + y
    theta = (petal + rng.uniform(size=n)) * np.pi / petals + noise * rng.standard_normal(n)
    r = 4.0 * np.abs(np.sin(petals * theta)) + noise * rng.standard_normal(n)
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    order = rng.permutation(n)
    return _pack(x[order], y[order])


def noisy_blobs(n: int = 200, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small, noisy 2-D set on which a big network overfits (the regularization demo).

    Two overlapping Gaussian blobs of unit variance centred at ``(-1, -0.5)`` (class 0) and
    ``(1, 0.5)`` (class 1), ``n // 2`` points each side; then exactly ``round(noise * n)``
    labels, chosen at random, are flipped (``noise`` is the label-noise rate, in ``[0, 0.5)``).
    The points depend only on ``n`` and ``seed``, not on ``noise``.

    Args:
      n: the number of points (>= 2).
      noise: the label-flip rate, in ``[0, 0.5)``.
      seed: the generator's seed (an int >= 0).

    Returns:
      ``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.

    Examples:
      >>> from jaxdl.data.toy import noisy_blobs
      >>> x, y = noisy_blobs(n=20, noise=0.0)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((20, 2), 'int32', 10)
    """
    n = check_int("n", n, 2)
    check_range("noise", noise, 0.0, 0.5, high_open=True)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    y = (np.arange(n) >= n // 2).astype(np.int32)
    centres = np.array([[-1.0, -0.5], [1.0, 0.5]])
    x = centres[y] + rng.standard_normal((n, 2))
    order = rng.permutation(n)
    x, y = x[order], y[order]
    flip = rng.choice(n, size=round(float(noise) * n), replace=False)
    y[flip] = 1 - y[flip]
    return _pack(x, y)


def unscaled_moons(
    n: int = 300,
    noise: float = 0.2,
    seed: int = 0,
    scales: tuple[float, float] = (1000.0, 0.001),
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`moons` with feature ``j`` multiplied by ``scales[j]`` (default ``x1 * 1000``,
    ``x2 * 0.001``): the input-normalization experiment, where unnormalized inputs give an
    elongated cost surface and slow gradient descent.

    Args:
      n: the number of points (>= 2).
      noise: the standard deviation of the Gaussian noise (>= 0).
      seed: the generator's seed (an int >= 0).
      scales: the factors ``(s1, s2)`` of the two features (> 0).

    Returns:
      ``(x, y)``: float32 features ``(n, 2)`` and int32 labels ``(n,)`` in ``{0, 1}``.

    Examples:
      >>> from jaxdl.data.toy import unscaled_moons
      >>> x, y = unscaled_moons(n=10)
      >>> x.shape, int(y.sum()), bool(abs(x[:, 0]).max() > 100 * abs(x[:, 1]).max())
      ((10, 2), 5, True)
    """
    scale = np.asarray(scales, dtype=np.float64)
    if scale.shape != (2,):
        raise ValueError(f"scales must be a pair (s1, s2), got {scales!r}")
    check_range("scales", scale, 0.0, math.inf, low_open=True, high_open=True)
    x, y = moons(n, noise, seed)
    return _pack(x * scale, y)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's handwritten digits (shipped with the package): 1797 images of 8x8 pixels
    with intensities 0..16, flattened to 64 features; labels 0..9.

    Returns:
      ``(x, y)``: float32 features ``(1797, 64)`` and int32 labels ``(1797,)``.

    Examples:
      >>> from jaxdl.data.toy import digits
      >>> x, y = digits()
      >>> x.shape, float(x.max()), sorted(set(y.tolist())) == list(range(10))
      ((1797, 64), 16.0, True)
    """
    x, y = _sk().load_digits(return_X_y=True)
    return _pack(x, y)
