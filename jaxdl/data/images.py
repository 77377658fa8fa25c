"""Images from your own files: a folder of images with one subfolder per class, and HDF5 files
in the course's layout. Pixels stay ``uint8``; images are NHWC arrays ``(n, height, width, c)``.

- :func:`read_image_folder`: ``root/<class>/<image>`` as in Keras's
  ``image_dataset_from_directory``: class names are the subfolder names in sorted order, and
  every ``.bmp``, ``.gif``, ``.jpeg``, ``.jpg`` or ``.png`` file below a class folder is one
  image of that class (hidden files and folders, names starting with ``.``, are skipped, and so
  are other files). Needs Pillow (``pip install 'jaxdl[images]'``).
- :func:`read_h5` and :func:`load_h5`: ``train_set_x`` ``(m, h, w, 3)``, ``train_set_y``
  ``(m,)`` or ``(1, m)``, ``list_classes`` (the class names as bytes), and ``test_set_x``,
  ``test_set_y`` likewise, usually in two files (``train_catvnoncat.h5`` and
  ``test_catvnoncat.h5``). Needs h5py (``pip install 'jaxdl[images]'``).

Colour: with ``color_mode=None`` (the default) a folder of grayscale images gives one channel
and a folder of colour images three; a folder that mixes both is an error that names one file
of each kind; ``color_mode="rgb"`` or ``"grayscale"`` converts every image instead. An alpha
channel is dropped; palette images count as colour; 16-bit and floating-point images are
refused. Size: without ``size`` every image must have the same size (else an error names two
that differ); with ``size=(height, width)`` each image is resized (bilinear) to it.

Every file is read as untrusted input (:mod:`jaxdl.infra.untrusted`: regular files only, size
limits); an HDF5 dataset that is a link, virtual or stored in another file is refused.

The reading is split by idea: :mod:`jaxdl.data.image_folder` (a folder of images),
:mod:`jaxdl.data.h5_images` (HDF5 files), :mod:`jaxdl.data.image_set` (:class:`ImageSet` and
:func:`as_dataset`) and :mod:`jaxdl.data.image_packages` (:class:`MissingPackage`); every name
is importable from here too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from jaxdl.data.dataset import Dataset, split_indices
from jaxdl.data.h5_images import H5_SPLITS as H5_SPLITS
from jaxdl.data.h5_images import load_h5, read_h5
from jaxdl.data.image_folder import (
    COLOR_MODES,
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    ImageFolder,
    read_image_folder,
)
from jaxdl.data.image_folder import MAX_IMAGE_BYTES as MAX_IMAGE_BYTES
from jaxdl.data.image_packages import INSTALL_HINT, MissingPackage
from jaxdl.data.image_set import ImageSet, as_dataset, validation_split
from jaxdl.data.normalize import channel_standardizer

__all__ = ["COLOR_MODES", "IMAGE_FORMATS", "IMAGE_SUFFIXES", "INSTALL_HINT", "ImageFolder",
           "ImageSet", "MissingPackage", "as_dataset", "folder_dataset", "h5_dataset", "load_h5",
           "read_h5", "read_image_folder", "validation_split"]


def folder_dataset(
    path: str | os.PathLike,
    size: Sequence[int] | None = None,
    *,
    color_mode: str | None = None,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """A folder of images (:func:`read_image_folder`) split into a stratified
    train/validation/test :class:`~jaxdl.data.dataset.Dataset`
    (:func:`~jaxdl.data.dataset.split_indices`); pixels stay ``uint8`` NHWC.

    Args:
      path: the folder, one subfolder per class.
      size: ``(height, width)`` to resize to, or ``None``.
      color_mode: ``None``, ``"rgb"`` or ``"grayscale"`` (see :func:`read_image_folder`).
      val_fraction: the validation share, in ``(0, 1)``.
      test_fraction: the test share, in ``(0, 1)``.
      seed: the split's seed.

    Returns:
      The :class:`~jaxdl.data.dataset.Dataset`; ``rows`` holds each split's indices into the
      sorted image list (``read_image_folder(path).paths``).

    Examples:
      >>> import os, tempfile, pytest
      >>> Image = pytest.importorskip("PIL.Image")
      >>> from jaxdl.data.images import folder_dataset
      >>> root = tempfile.mkdtemp()
      >>> for name in ("a", "b"):
      ...     os.mkdir(os.path.join(root, name))
      ...     for i in range(5):
      ...         Image.new("RGB", (3, 2)).save(os.path.join(root, name, f"{i}.png"))
      >>> data = folder_dataset(root)
      >>> data.x_train.shape, len(data.y_val), len(data.y_test), data.class_names
      ((6, 2, 3, 3), 2, 2, ('a', 'b'))
    """
    folder = read_image_folder(path, size, color_mode=color_mode)
    train, val, test = split_indices(folder.y, val_fraction, test_fraction, seed)
    x, y = folder.x, folder.y
    return Dataset(x[train], y[train], x[val], y[val], x[test], y[test], len(folder.class_names),
                   os.path.basename(os.path.normpath(os.fspath(path))),
                   channel_standardizer(x[train]), class_names=folder.class_names,
                   rows=(train, val, test))


def h5_dataset(path: str | os.PathLike, test_path: str | os.PathLike | None = None, *,
               val_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """HDF5 files in the course's layout (:func:`load_h5`) as a
    :class:`~jaxdl.data.dataset.Dataset`: the validation split drawn from the training images
    (:func:`as_dataset`), the test split as given.

    Args:
      path: the training file (``train_catvnoncat.h5``).
      test_path: the test file, or ``None`` when ``path`` holds both splits.
      val_fraction: the validation share of the training images, in ``(0, 1)``.
      seed: the split's seed.

    Returns:
      The :class:`~jaxdl.data.dataset.Dataset`, pixels ``uint8`` NHWC.

    Examples:
      >>> import os, tempfile, numpy as np, pytest
      >>> h5py = pytest.importorskip("h5py")
      >>> from jaxdl.data.images import h5_dataset
      >>> folder = tempfile.mkdtemp()
      >>> for split, m in (("train", 10), ("test", 4)):  # the course's two files
      ...     with h5py.File(os.path.join(folder, f"{split}_catvnoncat.h5"), "w") as f:
      ...         f[f"{split}_set_x"] = np.zeros((m, 4, 4, 3), np.uint8)
      ...         f[f"{split}_set_y"] = np.arange(m) % 2
      >>> data = h5_dataset(os.path.join(folder, "train_catvnoncat.h5"),
      ...                   os.path.join(folder, "test_catvnoncat.h5"), val_fraction=0.2)
      >>> len(data.y_train), len(data.y_val), len(data.y_test), data.class_names
      (8, 2, 4, ('0', '1'))
    """
    images = load_h5(path, test_path)
    name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return as_dataset(images, name, val_fraction=val_fraction, seed=seed)
