"""A training and a test set of images (:class:`ImageSet`) and the
:class:`~jaxdl.data.dataset.Dataset` made of it (:func:`as_dataset`): a stratified validation
split drawn from the training images (:func:`validation_split`), the test split as given.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.checks import check_range
from jaxdl.data.dataset import Dataset
from jaxdl.data.normalize import channel_standardizer


class ImageSet(NamedTuple):
    """A training and a test set of images: ``uint8`` NHWC images, ``int32`` class indices,
    and ``class_names[i]``, the name of class ``i``.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.images import ImageSet
      >>> x = np.zeros((2, 28, 28, 1), np.uint8)
      >>> data = ImageSet(x, np.array([0, 1]), x[:1], np.array([1]), ("no", "yes"))
      >>> x_train, y_train, x_test, y_test, names = data
      >>> x_test.shape, names[y_test[0]]
      ((1, 28, 28, 1), 'yes')
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def validation_split(y: np.ndarray, val_fraction: float, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train, val)`` index arrays of ``y``, stratified by class.

    The validation split gets ``k = round(val_fraction * n)`` samples; a class with ``m``
    samples puts ``m * k / n`` of them there (within one): the samples, shuffled and grouped by
    class, go to the validation split at evenly spaced positions.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.images import validation_split
      >>> y = np.array([0] * 30 + [1] * 10)
      >>> train, val = validation_split(y, 0.1)
      >>> len(train), len(val), sorted(y[val].tolist())
      (36, 4, [0, 0, 0, 1])
    """
    check_range("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    y = np.asarray(y)
    n = len(y)
    k = round(val_fraction * n)
    if not 0 < k < n:
        raise ValueError(f"val_fraction={val_fraction} of {n} training images leaves an "
                         "empty split; choose another val_fraction")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    grouped = perm[np.argsort(y[perm], kind="stable")]
    i = np.arange(n)
    in_val = (i + 1) * k // n > i * k // n
    return rng.permutation(grouped[~in_val]), rng.permutation(grouped[in_val])


def as_dataset(images: ImageSet, name: str, *, n: int | None = None, val_fraction: float = 0.1,
               seed: int = 0) -> Dataset:
    """A :class:`~jaxdl.data.dataset.Dataset` of ``images``: the validation split drawn from
    the training images (:func:`validation_split`), the test split as given; pixels stay
    ``uint8`` NHWC, ``stats`` their per-channel statistics on the training split
    (:func:`~jaxdl.data.normalize.channel_standardizer`; a :class:`jaxdl.layers.Standardized`
    model applies them).

    Args:
      images: the training and test images.
      name: the data set's name (``Dataset.name``).
      n: keep a seeded random subset of ``n`` training images first (``None``: all).
      val_fraction: the validation share of the training images, in ``(0, 1)``.
      seed: the seed of the subset and of the split.

    Returns:
      The :class:`~jaxdl.data.dataset.Dataset`.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.images import ImageSet, as_dataset
      >>> x = np.zeros((20, 2, 2, 1), np.uint8)
      >>> images = ImageSet(x, np.arange(20) % 2, x[:4], np.arange(4) % 2, ("a", "b"))
      >>> data = as_dataset(images, "toy", val_fraction=0.2)
      >>> data.x_train.shape, data.x_val.shape, data.x_test.shape, data.num_classes
      ((16, 2, 2, 1), (4, 2, 2, 1), (4, 2, 2, 1), 2)
    """
    x, y = images.x_train, images.y_train
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= len(y):
            raise ValueError(f"n must be an int in 1..{len(y)} (the training images of "
                             f"{name!r}), got {n!r}")
        keep = np.sort(np.random.default_rng([seed, 1]).permutation(len(y))[:n])
        x, y = x[keep], y[keep]
    train, val = validation_split(y, val_fraction, seed)
    return Dataset(x[train], y[train], x[val], y[val], images.x_test, images.y_test,
                   len(images.class_names), name, channel_standardizer(x[train]),
                   class_names=images.class_names)
