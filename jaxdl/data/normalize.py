"""Input normalization with training-set statistics.

    mu = mean(x_train),   sigma**2 = mean((x_train - mu)**2),   x_norm = (x - mu) / sigma

The same ``mu`` and ``sigma`` transform every split (validation, test, new data). A constant
feature has ``sigma = 0``; it is given ``sigma = 1`` so it maps to 0 instead of dividing by zero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.checks import check_features, check_finite
from jaxdl.deprecation import deprecated_aliases


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


def fit_standardizer(x: np.ndarray) -> Standardizer:
    """Mean and (population) standard deviation of each feature of the training set.

    (Called ``fit`` before; that name still works, with a ``DeprecationWarning``.)

    Args:
      x: the training features ``(samples, features)``, finite.

    Returns:
      A :class:`Standardizer` with ``mean = mean(x)`` and ``std = sqrt(mean((x - mean)**2))``
      per feature (1 for a constant feature), in float32.

    Raises:
      ValueError: if ``x`` is not 2-D, is empty or holds NaN/inf.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.normalize import fit_standardizer
      >>> stats = fit_standardizer(np.array([[0.0, 5.0], [2.0, 5.0]]))
      >>> stats.mean.tolist(), stats.std.tolist()
      ([1.0, 5.0], [1.0, 1.0])
    """
    check_features("x", x)
    check_finite("x", x)
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = np.sqrt(np.mean((x - mean) ** 2, axis=0))
    std = np.where(std > 0, std, 1.0)
    return Standardizer(mean.astype(np.float32), std.astype(np.float32))


def transform(stats: Standardizer, x: np.ndarray) -> np.ndarray:
    """``(x - mu) / sigma`` with the training statistics; works on any split.

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
    return ((np.asarray(x, np.float32) - stats.mean) / stats.std).astype(np.float32)


__getattr__ = deprecated_aliases(__name__, {"fit": fit_standardizer})
