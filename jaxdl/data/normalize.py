"""Input normalization with training-set statistics.

    mu = mean(x_train),   sigma**2 = mean((x_train - mu)**2),   x_norm = (x - mu) / sigma

The same ``mu`` and ``sigma`` transform every split (validation, test, new data). A constant
feature has ``sigma = 0``; it is given ``sigma = 1`` so it maps to 0 instead of dividing by zero.
Regression targets get the same statistics per output column (:func:`target_standardizer`).

Numerics: the statistics and the centring ``x - mu`` are computed in float64 on the host, and
only the standardized result is cast to float32, so a feature far from zero (a timestamp
``1.7e9 +- 50``) keeps its distinct values; integer features are centred in integer arithmetic
(``2**62 + k`` stays distinct and keeps its spread, though beyond 2**53 it is centred on the
float64-rounded mean, which a warning reports); the variance is computed on values scaled by a
power of two, so tiny features (``1e-300``) do not underflow, and ordinary data get the same
numbers as the plain formula. :func:`fit_standardizer` warns, naming the feature, when
float32 still merges most of a feature's distinct training values (a huge outlier, a row id).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxdl.checks import check_features, check_finite
from jaxdl.infra.deprecation import deprecated_aliases


class Standardizer(NamedTuple):
    """Per-feature training statistics: ``mean`` and ``std``, each of shape (features,).

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import Standardizer, transform
      >>> stats = Standardizer(mean=np.float32([1.0]), std=np.float32([2.0]))
      >>> transform(stats, np.float32([[5.0]])).tolist()
      [[2.0]]
    """

    mean: np.ndarray
    std: np.ndarray


def _host(x: np.ndarray) -> np.ndarray:
    """``x`` as float64, or as int64 for integers (exact)."""
    x = np.asarray(x)
    if x.dtype.kind == "i" or (x.dtype.kind == "u" and (x.size == 0 or int(x.max()) < 2**63)):
        return x.astype(np.int64)
    return x.astype(np.float64)


def _power_of_two(magnitude: np.ndarray) -> np.ndarray:
    """A power of two near ``magnitude`` (1 for 0): dividing by it is exact."""
    _, exponent = np.frexp(magnitude)
    return np.ldexp(1.0, exponent - 1)


def _centre(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``x - mean`` in float64; for integers in integer arithmetic, so values beyond 2**53 that
    float64 would round together stay apart."""
    mean = np.asarray(mean, np.float64)
    if x.dtype.kind == "i":
        base = np.floor(mean)
        if np.all(np.abs(base) < 2.0**63):
            approx = x.astype(np.float64) - base
            if np.all(np.abs(approx) < 2.0**62):
                return (x - base.astype(np.int64)).astype(np.float64) - (mean - base)
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(np.float64) - mean


def _distinct(x: np.ndarray) -> np.ndarray:
    """The number of distinct values of each column."""
    s = np.sort(x, axis=0)
    return 1 + np.count_nonzero(s[1:] != s[:-1], axis=0)


def fit_standardizer(x: np.ndarray, names: Sequence[str] | None = None) -> Standardizer:
    """Mean and (population) standard deviation of each feature of the training set.

    (Called ``fit`` before; that name still works, with a ``DeprecationWarning``.)

    Args:
      x: the training features ``(samples, features)``, finite (any float or integer dtype).
      names: the features' names, for the warning below (default ``x0``, ``x1``, ...).

    Returns:
      A :class:`Standardizer` with ``mean = mean(x)`` and ``std = sqrt(mean((x - mean)**2))``
      per feature (1 for a constant feature), in float64.

    Raises:
      ValueError: if ``x`` is not 2-D, is empty or holds NaN/inf.

    Warns:
      UserWarning: naming each feature whose standardized float32 values keep fewer than half
        of its distinct training values.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import fit_standardizer, transform
      >>> stats = fit_standardizer(np.array([[0.0, 5.0], [2.0, 5.0]]))
      >>> stats.mean.tolist(), stats.std.tolist()
      ([1.0, 5.0], [1.0, 1.0])
      >>> t = 1.7e9 + np.arange(100.0)[:, None]  # a timestamp: float32 alone keeps 1 in 128
      >>> len(np.unique(transform(fit_standardizer(t), t)))
      100
    """
    check_features("x", x)
    check_finite("x", x)
    x = _host(x)
    if x.dtype.kind == "i":
        first = np.floor(x.astype(np.float64).mean(axis=0))  # near the mean
        mean = first + _centre(x, first).mean(axis=0)
    else:
        scale = _power_of_two(np.abs(x).max(axis=0))
        mean = (x / scale).mean(axis=0) * scale
    centred = _centre(x, mean)
    off = np.zeros(x.shape[1])
    if x.dtype.kind == "i":  # beyond 2**53 the float64 mean is rounded: spread about the true one
        off = centred.mean(axis=0)
        centred = centred - off
    scale = _power_of_two(np.abs(centred).max(axis=0))
    std = np.sqrt(np.mean((centred / scale) ** 2, axis=0)) * scale
    stats = Standardizer(mean, np.where(std > 0, std, 1.0))
    sample = x[:_CHECKED_ROWS]
    _warn_lost_values(sample, transform(stats, sample), np.abs(off) / stats.std, names)
    return stats


#: The training rows whose standardized values are checked (the first ones; a sort per column).
_CHECKED_ROWS = 4096


def _warn_lost_values(x: np.ndarray, z: np.ndarray, off: np.ndarray,
                      names: Sequence[str] | None) -> None:
    """Warn about features whose standardized values ``z`` (of a sample ``x`` of rows) float32
    merges, or whose centring is ``off`` 0 (integers beyond 2**53, whose mean float64 rounds)."""
    before, after = _distinct(x), _distinct(z)
    for j in range(x.shape[1]):
        name = names[int(j)] if names is not None else f"x{j}"
        if 2 * after[j] < before[j]:
            warnings.warn(
                f"feature {name!r}: standardized to float32 it keeps {after[j]} of its "
                f"{before[j]} distinct training values (a few huge values next to many close "
                "ones?); consider transforming it (log, clipping) or removing it",
                UserWarning, stacklevel=3)
        elif off[j] > 1e-3:
            warnings.warn(
                f"feature {name!r}: its values are too large for float64 to hold their mean "
                f"exactly; standardized, their mean is {off[j]:.3g} rather than 0 (subtract an "
                "offset from the feature, or remove it if it is an id)", UserWarning, stacklevel=3)


def transform(stats: Standardizer, x: np.ndarray) -> np.ndarray:
    """``(x - mu) / sigma`` with the training statistics; works on any split. Computed in
    float64 (integers centred exactly), then cast to float32.

    Args:
      stats: the statistics from :func:`fit_standardizer` on the training split.
      x: features ``(samples, features)`` with as many features as ``stats``.

    Returns:
      The standardized features, float32.

    Raises:
      ValueError: if ``x`` is not 2-D or has a different number of features.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import fit_standardizer, transform
      >>> x_train = np.array([[0.0], [2.0]])
      >>> transform(fit_standardizer(x_train), np.array([[4.0]])).tolist()
      [[3.0]]
    """
    check_features("x", x, width=stats.mean.shape[0])
    with np.errstate(over="ignore"):
        z = _centre(_host(x), stats.mean) / np.asarray(stats.std, np.float64)
        return z.astype(np.float32)


def target_standardizer(y_train: np.ndarray) -> Standardizer:
    """The statistics of regression targets on the training split, one per output column:

        mu_k = mean_i y_ik,   sigma_k = sqrt(mean_i (y_ik - mu_k)**2)   (1 for a constant column)

    A model trained on the standardized targets ``(y - mu) / sigma``
    (:class:`jaxdl.layers.Standardized` with ``targets=``) learns the same function whatever
    the targets' units, and predicts ``z * sigma + mu`` in those units.

    Args:
      y_train: the training targets, ``(samples,)`` or ``(samples, outputs)``, finite.

    Returns:
      A :class:`Standardizer` whose ``mean`` and ``std`` have shape ``(outputs,)`` (``(1,)``
      for one target column), float64.

    Raises:
      ValueError: for empty, non-finite or more than 2-D targets.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import target_standardizer
      >>> stats = target_standardizer(np.array([1000.0, 3000.0]))
      >>> stats.mean.tolist(), stats.std.tolist()
      ([2000.0], [1000.0])
    """
    y = np.asarray(y_train)
    if y.ndim not in (1, 2) or y.size == 0:
        raise ValueError(f"y_train must be regression targets (samples,) or (samples, outputs), "
                         f"at least one, got shape {y.shape}")
    check_finite("y_train", y)
    y = y.astype(np.float64).reshape(len(y), -1)
    scale = _power_of_two(np.abs(y).max(axis=0))  # no overflow or underflow at any magnitude
    mean = (y / scale).mean(axis=0) * scale
    centred = y - mean
    scale = _power_of_two(np.abs(centred).max(axis=0))
    std = np.sqrt(np.mean((centred / scale) ** 2, axis=0)) * scale
    return Standardizer(mean, np.where(std > 0, std, 1.0))


def channel_standardizer(x_train: np.ndarray, normalize: bool = True) -> Standardizer:
    """The per-channel statistics of images ``x_train`` ``(n, *spatial, C)``: the mean and
    (population) standard deviation of each channel over every training pixel (a constant
    channel gets 1), or ``mean = 0, std = 255`` (``x / 255``) without ``normalize``. Each has
    shape ``(C,)`` and broadcasts over an image's last axis (one scale per channel keeps the
    images' spatial structure, which a per-pixel standardizer would distort).

    Args:
      x_train: the training images, channels last (``uint8`` or float).
      normalize: standardize per channel (else scale to ``[0, 1]``).

    Returns:
      A :class:`Standardizer` with ``(C,)`` float64 ``mean`` and ``std``.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import channel_standardizer
      >>> x = np.array([[[[0, 10]], [[255, 30]]]], np.uint8)       # one 2x1 image, 2 channels
      >>> stats = channel_standardizer(x)
      >>> stats.mean.tolist(), stats.std.tolist()
      ([127.5, 20.0], [127.5, 10.0])
    """
    x = np.asarray(x_train)
    channels = x.shape[-1]
    if not normalize:
        return Standardizer(np.zeros(channels), np.full(channels, 255.0))
    values = x.reshape(-1, channels)
    mean = np.zeros(channels)
    square = np.zeros(channels)
    for start in range(0, len(values), 1 << 20):  # float64 a chunk at a time: CIFAR-10 is 150 MB
        chunk = values[start:start + (1 << 20)].astype(np.float64)
        mean += chunk.sum(axis=0)
        square += (chunk ** 2).sum(axis=0)
    mean /= len(values)
    centred = np.zeros(channels)
    for start in range(0, len(values), 1 << 20):
        chunk = values[start:start + (1 << 20)].astype(np.float64) - mean
        centred += (chunk ** 2).sum(axis=0)
    std = np.sqrt(centred / len(values))
    return Standardizer(mean, np.where(std > 0, std, 1.0))


def float32_merges(x: np.ndarray, names: Sequence[str] | None = None,
                   source: str = "x") -> None:
    """Warn, naming the feature, when casting the raw training features ``x`` to float32 (as a
    model computes) merges most of a feature's distinct values (a timestamp ``1.7e9 +- 50``
    keeps one in 128): subtract an offset from such a feature before training.

    Args:
      x: raw features ``(samples, features)``, any numeric dtype.
      names: the features' names (default ``x0``, ``x1``, ...).
      source: where they come from, for the message.

    Examples:
      >>> import numpy as np, warnings
      >>> from jaxdl.data.normalize import float32_merges
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     float32_merges(1.7e9 + np.arange(100.0)[:, None], ["when"])
      >>> str(caught[0].message)[:48]
      "x: feature 'when' keeps 2 of its 100 distinct va"
    """
    sample = np.asarray(x)[:_CHECKED_ROWS]
    if sample.dtype == np.float32 or (sample.dtype.kind in "bu" and sample.itemsize <= 2):
        return
    sample = sample.reshape(len(sample), -1)
    before, after = _distinct(sample), _distinct(sample.astype(np.float32))
    for j in np.flatnonzero(2 * after < before):
        name = names[int(j)] if names is not None else f"x{j}"
        warnings.warn(
            f"{source}: feature {name!r} keeps {after[j]} of its {before[j]} distinct values in "
            "float32, the precision a model computes in (large values that differ little: a "
            "timestamp, an id?); subtract an offset from it, or remove it",
            UserWarning, stacklevel=3)


__getattr__ = deprecated_aliases(__name__, {"fit": fit_standardizer})
