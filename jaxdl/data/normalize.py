"""Input normalization with training-set statistics.

    mu = mean(x_train),   sigma**2 = mean((x_train - mu)**2),   x_norm = (x - mu) / sigma

The same ``mu`` and ``sigma`` transform every split (validation, test, new data). A constant
feature has ``sigma = 0``; it is given ``sigma = 1`` so it maps to 0 instead of dividing by zero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.checks import check_features, check_finite


class Standardizer(NamedTuple):
    """Per-feature training statistics: ``mean`` and ``std``, each of shape (features,)."""

    mean: np.ndarray
    std: np.ndarray


def fit(x: np.ndarray) -> Standardizer:
    """Mean and (population) standard deviation of each feature of the training set ``x``."""
    check_features("x", x)
    check_finite("x", x)
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = np.sqrt(np.mean((x - mean) ** 2, axis=0))
    std = np.where(std > 0, std, 1.0)
    return Standardizer(mean.astype(np.float32), std.astype(np.float32))


def transform(stats: Standardizer, x: np.ndarray) -> np.ndarray:
    """``(x - mu) / sigma`` with the statistics of ``fit``; works on any split."""
    check_features("x", x, width=stats.mean.shape[0])
    return ((np.asarray(x, np.float32) - stats.mean) / stats.std).astype(np.float32)
