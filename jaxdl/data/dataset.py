"""A data set split for training: the :class:`Dataset` type and the stratified
:func:`split_indices` every loader draws its splits with (built-in sets, files, images)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxdl.checks import check_int, check_range
from jaxdl.data import normalize as norm

TASKS = ("classification", "regression")


class Dataset(NamedTuple):
    """Train/validation/test splits of one dataset.

    The splits hold the raw features (``uint8`` for images); ``stats`` is the
    :class:`~jaxdl.data.normalize.Standardizer` fitted on ``x_train`` (per feature, or per
    channel for images), applied to no split: the model applies it to its inputs,
    ``jaxdl.layers.Standardized(model, data.stats)``, and a saved model keeps it, so the same
    raw features go to ``fit``, ``predict`` and a saved model's ``predict``. ``stats`` is
    ``None`` when none was fitted (``normalize=False``). ``target_stats`` (regression only) is
    the :func:`~jaxdl.data.normalize.target_standardizer` of ``y_train``, one mean and standard
    deviation per output column, for the model to train on standardized targets and predict in
    the targets' units: ``Standardized(model, data.stats, targets=data.target_stats)``; ``None``
    for classification or without ``normalize``. ``task`` is
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
    encoding: Any = None  # a table's one-hot encoding (jaxdl.data.encoding.Encoding)
    target_stats: norm.Standardizer | None = None  # regression: y_train's per-column statistics


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
      val_fraction: the validation share, in ``[0, 1)`` (0: an empty validation split).
      test_fraction: the test share, in ``[0, 1)`` (0: an empty test split); with
        ``val_fraction`` below 1.
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
    check_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    check_range("test_fraction", test_fraction, 0.0, 1.0, high_open=True)
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
    if (n - n_test - n_val < 1 or (test_fraction > 0 and n_test < 1)
            or (val_fraction > 0 and n_val < 1)):
        raise ValueError(
            f"n={n} samples cannot fill every split with val_fraction={val_fraction} and "
            f"test_fraction={test_fraction} (train/val/test sizes would be "
            f"{n - n_test - n_val}/{n_val}/{n_test}); use a larger n"
        )
    rng = np.random.default_rng(check_int("seed", seed, 0))
    perm = rng.permutation(n)
    grouped = perm[np.argsort(y[perm], kind="stable")]
    in_test = _spread(n, n_test)
    rest = grouped[~in_test]
    in_val = _spread(len(rest), n_val)
    parts = (rest[~in_val], rest[in_val], grouped[in_test])
    train, val, test = (rng.permutation(part) for part in parts)
    return train, val, test
