"""Built-in datasets: seeded 2-D toy sets, scikit-learn's digits, and a split/standardize loader.

Everything here is generated or shipped with a package (never downloaded) and stays in numpy on
the host: features are ``float32`` arrays ``(n, d)``, labels ``int32`` arrays ``(n,)``.

``load(name)`` returns a :class:`Dataset` with stratified train/validation/test splits; features
are standardized with statistics fitted on the training split only
(``x' = (x - mu_train) / sigma_train``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from jaxdl.checks import check_range
from jaxdl.data import normalize as norm


def _sk() -> Any:
    """scikit-learn's dataset module, imported on first use so ``import jaxdl`` stays fast."""
    from sklearn import datasets

    return datasets


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


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
      >>> from jaxdl.data.datasets import moons
      >>> x, y = moons(n=10)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((10, 2), 'int32', 5)
    """
    n = _check_int("n", n, 2)
    x, y = _sk().make_moons(
        n_samples=n, noise=_check_noise(noise), random_state=_check_int("seed", seed, 0)
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
      >>> from jaxdl.data.datasets import circles
      >>> x, y = circles(n=10)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((10, 2), 'int32', 5)
    """
    n = _check_int("n", n, 2)
    check_range("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
    x, y = _sk().make_circles(
        n_samples=n,
        noise=_check_noise(noise),
        factor=float(factor),
        random_state=_check_int("seed", seed, 0),
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
      >>> from jaxdl.data.datasets import flower
      >>> x, y = flower(n=11)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((11, 2), 'int32', 6)
    """
    n = _check_int("n", n, 2)
    petals = _check_int("petals", petals, 1)
    noise = _check_noise(noise)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
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
      >>> from jaxdl.data.datasets import noisy_blobs
      >>> x, y = noisy_blobs(n=20, noise=0.0)
      >>> x.shape, y.dtype.name, int(y.sum())
      ((20, 2), 'int32', 10)
    """
    n = _check_int("n", n, 2)
    check_range("noise", noise, 0.0, 0.5, high_open=True)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
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
      >>> from jaxdl.data.datasets import unscaled_moons
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
      >>> from jaxdl.data.datasets import digits
      >>> x, y = digits()
      >>> x.shape, float(x.max()), sorted(set(y.tolist())) == list(range(10))
      ((1797, 64), 16.0, True)
    """
    x, y = _sk().load_digits(return_X_y=True)
    return _pack(x, y)


class _Spec(NamedTuple):
    make: Callable[..., tuple[np.ndarray, np.ndarray]]
    num_classes: int
    seeded: bool  # generated from a seed with ``n`` points and a ``noise`` level


_SPECS: dict[str, _Spec] = {
    "moons": _Spec(moons, 2, True),
    "circles": _Spec(circles, 2, True),
    "flower": _Spec(flower, 2, True),
    "digits": _Spec(digits, 10, False),
    "noisy_blobs": _Spec(noisy_blobs, 2, True),
    "unscaled_moons": _Spec(unscaled_moons, 2, True),
}

DATASETS: tuple[str, ...] = tuple(_SPECS)


TASKS = ("classification", "regression")


class Dataset(NamedTuple):
    """Train/validation/test splits of one dataset.

    ``stats`` is the :class:`~jaxdl.data.normalize.Standardizer` fitted on ``x_train`` and
    applied to every split, or ``None`` when the features are left raw. ``task`` is
    ``"classification"`` (``y`` int32 class indices, ``class_names[i]`` the label of class
    ``i``) or ``"regression"`` (``y`` float32 targets, ``num_classes`` 0). ``feature_names`` and
    ``target`` name the columns of a file; ``rows`` holds the source row numbers (0-based, data
    rows only) of each split when the split was drawn here.

    Examples:
      >>> from jaxdl.data import load
      >>> data = load("moons", n=100)
      >>> data.x_train.shape, data.x_val.shape, data.x_test.shape, data.num_classes
      ((60, 2), (20, 2), (20, 2), 2)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str
    stats: norm.Standardizer | None
    task: str = "classification"
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    target: str | None = None
    rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _spread(total: int, count: int) -> np.ndarray:
    """Boolean mask of length ``total`` with exactly ``count`` entries set, evenly spaced."""
    i = np.arange(total)
    return (i + 1) * count // total > i * count // total


def split_indices(
    y: np.ndarray, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled, stratified ``(train, val, test)`` index arrays partitioning ``range(len(y))``.

    The test split gets ``round(test_fraction * n)`` samples, the validation split
    ``round(val_fraction * n)``, the training split the rest. Stratified: a class with ``m``
    samples puts ``m * n_test / n`` of them in the test split (within one sample) and
    ``m * n_val / n`` in the validation split (within two).

    Args:
      y: 1-D class labels.
      val_fraction: the validation share, in ``(0, 1)``.
      test_fraction: the test share, in ``(0, 1)``; with ``val_fraction`` below 1.
      seed: the shuffle's seed (an int >= 0).

    Returns:
      ``(train, val, test)`` int index arrays into ``y``, disjoint and covering it.

    Raises:
      ValueError: for fractions out of range or a split that would be empty.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data import split_indices
      >>> y = np.array([0] * 50 + [1] * 50)
      >>> train, val, test = split_indices(y, val_fraction=0.2, test_fraction=0.2)
      >>> len(train), len(val), len(test), int(y[test].sum())
      (60, 20, 20, 10)
    """
    check_range("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, got "
            f"{val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D integer labels (samples,), got shape {y.shape}")
    n = len(y)
    n_test = round(test_fraction * n)
    n_val = round(val_fraction * n)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise ValueError(
            f"n={n} samples cannot fill every split with val_fraction={val_fraction} and "
            f"test_fraction={test_fraction} (train/val/test sizes would be "
            f"{n - n_test - n_val}/{n_val}/{n_test}); use a larger n"
        )
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    perm = rng.permutation(n)
    grouped = perm[np.argsort(y[perm], kind="stable")]
    in_test = _spread(n, n_test)
    rest = grouped[~in_test]
    in_val = _spread(len(rest), n_val)
    parts = (rest[~in_val], rest[in_val], grouped[in_test])
    train, val, test = (rng.permutation(part) for part in parts)
    return train, val, test


def load(
    name: str,
    *,
    seed: int = 0,
    n: int | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    normalize: bool = True,
    noise: float | None = None,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`) split into train/validation/test.

    ``seed`` drives both the generator and the split; ``n`` is the number of samples
    (``None``: the generator's default, or all 1797 digits; for ``"digits"`` a smaller ``n``
    takes a seeded random subset); ``noise`` overrides the generator's noise level (the
    label-flip rate for ``"noisy_blobs"``; not accepted for ``"digits"``). With ``normalize``
    every split is mapped by ``transform(fit_standardizer(x_train), .)``.

    Args:
      name: the dataset, one of :data:`DATASETS`.
      seed: the seed of the generator and the split.
      n: the number of samples, or ``None`` for the default.
      val_fraction: the validation share, in ``(0, 1)``.
      test_fraction: the test share, in ``(0, 1)``.
      normalize: standardize every split with the training split's statistics.
      noise: the generator's noise level, or ``None`` for its default.

    Returns:
      The :class:`Dataset`.

    Raises:
      ValueError: for an unknown name or bad settings, naming the valid choices.

    Examples:
      >>> from jaxdl.data import load
      >>> data = load("flower", n=200, seed=1)
      >>> data.name, len(data.y_train), round(float(data.x_train.mean()), 6)
      ('flower', 120, 0.0)
    """
    if name not in _SPECS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    spec = _SPECS[name]
    seed = _check_int("seed", seed, 0)
    kwargs: dict[str, Any] = {}
    if n is not None:
        kwargs["n"] = _check_int("n", n, 1)
    if noise is not None:
        kwargs["noise"] = noise
    if spec.seeded:
        x, y = spec.make(seed=seed, **kwargs)
    else:
        if noise is not None:
            raise ValueError(f"dataset {name!r} has no noise level; leave noise=None")
        x, y = spec.make()
        if n is not None:
            if n > len(y):
                raise ValueError(f"n must be <= {len(y)} for dataset {name!r}, got {n}")
            keep = np.random.default_rng([seed, 1]).permutation(len(y))[:n]
            x, y = x[keep], y[keep]
    train, val, test = split_indices(y, val_fraction, test_fraction, seed)
    xs = [x[train], x[val], x[test]]
    stats = None
    if normalize:
        stats = norm.fit_standardizer(xs[0])
        xs = [np.asarray(norm.transform(stats, part), dtype=np.float32) for part in xs]
    return Dataset(xs[0], y[train], xs[1], y[val], xs[2], y[test], spec.num_classes, name, stats)
