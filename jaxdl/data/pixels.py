"""Images from a path as a training :class:`~jaxdl.data.dataset.Dataset` of ``uint8`` pixels,
with the scaling that travels with the model (``jaxdl train --data FOLDER`` or ``--data x.h5``).

- A folder (one subfolder of images per class, :func:`jaxdl.data.images.read_image_folder`) is
  split into stratified train/validation/test splits.
- An ``.h5``/``.hdf5`` file in the course's layout (:func:`jaxdl.data.images.read_h5`) with
  both ``train_set_*`` and ``test_set_*`` keeps its test split and draws the validation split
  from the training images; a file with one split is split like a folder.

Pixels stay ``uint8`` (4x less memory than float32, on the host and on the device);
``Dataset.stats`` holds the per-channel statistics of the training split,

    mu_c = mean of x_train[..., c],  sigma_c = std of x_train[..., c],  x' = (x - mu_c) / sigma_c

(one scale per channel keeps the images' spatial structure, which a per-pixel standardizer would
distort); with ``normalize=False`` they only scale to ``[0, 1]``, ``x' = x / 255``. A
:class:`jaxdl.layers.Standardized` model applies them in float32 one mini-batch at a time inside
the compiled epoch, and a saved model keeps them (one entry per value of an example, the
per-channel numbers repeated in NHWC order) to apply to raw images.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from jaxdl.data import images
from jaxdl.data.dataset import Dataset, split_indices
from jaxdl.data.labels import Labels
from jaxdl.data.normalize import channel_standardizer as channel_standardizer

H5_SUFFIXES = (".h5", ".hdf5")


def is_image_path(path: object) -> bool:
    """Whether ``path`` names images: an existing folder or an ``.h5``/``.hdf5`` file.

    >>> import tempfile
    >>> is_image_path(tempfile.gettempdir()), is_image_path("cats.h5"), is_image_path("t.csv")
    (True, True, False)
    """
    if not isinstance(path, str | os.PathLike):
        return False
    name = os.fspath(path)
    return os.path.isdir(name) or os.path.splitext(name)[1].lower() in H5_SUFFIXES


def pixel_names(shape: Sequence[int]) -> tuple[str, ...]:
    """The feature names of images of ``shape`` ``(H, W, C)``: ``pixel_i_j_c`` in NHWC order, so
    a saved model knows the image size to read new images at (:func:`image_shape`).

    >>> pixel_names((1, 2, 1))
    ('pixel_0_0_0', 'pixel_0_1_0')
    """
    height, width, channels = shape
    return tuple(f"pixel_{i}_{j}_{c}" for i in range(height) for j in range(width)
                 for c in range(channels))


def image_shape(feature_names: Sequence[str]) -> tuple[int, int, int] | None:
    """``(H, W, C)`` of :func:`pixel_names`, or ``None`` for other feature names.

    >>> image_shape(pixel_names((28, 28, 1))), image_shape(("x0", "x1"))
    ((28, 28, 1), None)
    """
    match = re.fullmatch(r"pixel_(\d+)_(\d+)_(\d+)", feature_names[-1]) if feature_names else None
    if match is None:
        return None
    shape = (int(match[1]) + 1, int(match[2]) + 1, int(match[3]) + 1)
    return shape if tuple(feature_names) == pixel_names(shape) else None


def scaled(data: Dataset, normalize: bool = True) -> Dataset:
    """``data`` (``uint8`` images, kept as they are) with ``stats`` the per-channel
    :func:`~jaxdl.data.normalize.channel_standardizer` of its training split (``x / 255``
    without ``normalize``) and the :func:`pixel_names` of its image shape; a
    :class:`jaxdl.layers.Standardized` model applies the statistics per mini-batch.

    >>> x = np.full((4, 2, 2, 1), 51, np.uint8)
    >>> y = np.array([0, 1, 0, 1])
    >>> data = scaled(Dataset(x, y, x, y, x, y, 2, "toy", None), normalize=False)
    >>> data.x_train.dtype.name, data.stats.mean.tolist(), data.stats.std.tolist()
    ('uint8', [0.0], [255.0])
    """
    stats = channel_standardizer(data.x_train, normalize)
    return data._replace(stats=stats, feature_names=pixel_names(data.x_train.shape[1:]))


def image_path_dataset(
    path: str | os.PathLike,
    size: Sequence[int] | None = None,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
) -> Dataset:
    """The images of a folder or an HDF5 file (see the module docstring) as a
    :class:`~jaxdl.data.dataset.Dataset` of raw ``uint8`` NHWC pixels with their per-channel
    statistics (:func:`scaled`).

    Args:
      path: a folder with one subfolder per class, or an ``.h5``/``.hdf5`` file.
      size: ``(height, width)`` to resize a folder's images to (``None``: all the same size).
      val_fraction: the validation share.
      test_fraction: the test share (not used for an HDF5 file with its own test split).
      seed: the split's seed.
      normalize: standardize per channel (else ``x / 255``).

    Returns:
      The :class:`~jaxdl.data.dataset.Dataset`, ``stats`` the per-channel standardizer.

    Raises:
      ValueError: what the readers raise (naming the file), ``size`` given for an HDF5 file.

    >>> import tempfile, pytest
    >>> Image = pytest.importorskip("PIL.Image")
    >>> root = tempfile.mkdtemp()
    >>> for name in ("a", "b"):
    ...     os.mkdir(os.path.join(root, name))
    ...     for i in range(5):
    ...         Image.new("L", (3, 2), 40 * i).save(os.path.join(root, name, f"{i}.png"))
    >>> data = image_path_dataset(root)
    >>> data.x_train.shape, data.x_train.dtype.name, data.stats.mean.shape
    ((6, 2, 3, 1), 'uint8', (1,))
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        data = images.folder_dataset(name, size, val_fraction=val_fraction,
                                     test_fraction=test_fraction, seed=seed)
        return scaled(data, normalize)
    if size is not None:
        raise ValueError(f"{name}: an HDF5 file's images are used at their size; the image "
                         "size (--image-size) applies to a folder of images")
    splits, names = images.read_h5(name)
    if "train" in splits and "test" in splits:
        (x, y), (x_test, y_test) = splits["train"], splits["test"]
        if x.shape[1:] != x_test.shape[1:]:
            raise ValueError(f"{name}: train_set_x has images of shape {x.shape[1:]} but "
                             f"test_set_x {x_test.shape[1:]}")
        count = max(int(y.max()), int(y_test.max())) + 1
        image_set = images.ImageSet(x, y, x_test, y_test, names or _numbered(count))
        data = images.as_dataset(image_set, os.path.splitext(os.path.basename(name))[0],
                                 val_fraction=val_fraction, seed=seed)
    else:
        x, y = next(iter(splits.values()))
        parts = split_indices(y, val_fraction, test_fraction, seed)
        class_names = names or _numbered(int(y.max()) + 1)
        train, val, test = parts
        data = Dataset(x[train], y[train], x[val], y[val], x[test], y[test], len(class_names),
                       os.path.splitext(os.path.basename(name))[0], None,
                       class_names=class_names, rows=parts)
    return scaled(data, normalize)


def _numbered(count: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(count))


def read_images(path: str | os.PathLike, shape: Sequence[int] | None = None
                ) -> tuple[np.ndarray, Labels]:
    """New images for a trained model: ``uint8`` NHWC pixels and their labels as text (the class
    folder's name, or the HDF5 file's class name of each label).

    A folder gives every image, ordered by class folder, then by path, resized to ``shape``'s
    height and width and converted to its channels (1: grayscale, 3: RGB) when ``shape`` is
    given; an HDF5 file every image it holds (``train_set_x``, then ``test_set_x``), as stored.

    >>> import tempfile, pytest
    >>> Image = pytest.importorskip("PIL.Image")
    >>> root = tempfile.mkdtemp()
    >>> for name in ("cat", "dog"):
    ...     os.mkdir(os.path.join(root, name))
    ...     Image.new("L", (4, 4)).save(os.path.join(root, name, "a.png"))
    >>> x, labels = read_images(root)
    >>> x.shape, labels.values.tolist()
    ((2, 4, 4, 1), ['cat', 'dog'])
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        size = color = None
        if shape is not None:
            size, color = (shape[0], shape[1]), "grayscale" if shape[-1] == 1 else "rgb"
        folder = images.read_image_folder(name, size, color_mode=color)
        x, y, class_names = folder.x, folder.y, folder.class_names
    else:
        splits, names = images.read_h5(name)
        parts = list(splits.values())
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        class_names = names or _numbered(int(y.max()) + 1 if y.size else 1)
        if y.size and int(y.max()) >= len(class_names):
            raise ValueError(f"{name}: holds label {int(y.max())} but names only "
                             f"{len(class_names)} classes")
    text = np.array(class_names, dtype=object)[y] if y.size else np.array([], dtype=object)
    return x, Labels(text, "text")
