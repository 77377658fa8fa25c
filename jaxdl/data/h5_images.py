"""HDF5 files in the course's layout (``train_set_x``, ``train_set_y``, ``list_classes``,
``test_set_x``, ``test_set_y``) read as ``uint8`` NHWC images and ``int32`` labels
(:func:`read_h5`, :func:`load_h5`); a dataset that is a link, virtual or stored in another file
is refused. Needs h5py (``pip install 'jaxdl[images]'``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxdl.data.image_packages import require_package
from jaxdl.data.image_set import ImageSet
from jaxdl.infra.untrusted import DEFAULT_MAX_BYTES, check_regular

H5_SPLITS = ("train", "test")


def _h5_array(h5py: Any, f: Any, key: str, path: str, max_bytes: int) -> np.ndarray:
    link = f.get(key, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"{path}: {key} is a link ({type(link).__name__}); jaxdl reads only "
                         "data stored in the file itself")
    item = f[key]
    if not isinstance(item, h5py.Dataset):
        raise ValueError(f"{path}: {key} is a group, not an array")
    if item.is_virtual or item.external:
        raise ValueError(f"{path}: {key} keeps its data in other files (a virtual or external "
                         "dataset); jaxdl reads only data stored in the file itself")
    if item.dtype.kind not in "uifSb":
        raise ValueError(f"{path}: {key} holds {item.dtype} values, not numbers or names")
    if item.size * item.dtype.itemsize > max_bytes:
        raise ValueError(f"{path}: {key} has {item.size * item.dtype.itemsize} bytes, more than "
                         f"the limit of {max_bytes}")
    return np.asarray(item[()])


def _h5_images(x: np.ndarray, key: str, path: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.dtype.kind not in "ui":
        raise ValueError(f"{path}: {key} must hold integer pixels of shape (m, height, width, "
                         f"3) or (m, height, width), got {x.dtype.name} of shape {x.shape}")
    if x.size and (int(x.min()) < 0 or int(x.max()) > 255):
        raise ValueError(f"{path}: {key} holds pixel values outside 0..255")
    return x.astype(np.uint8)


def _h5_labels(y: np.ndarray, key: str, path: str, m: int) -> np.ndarray:
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1 or len(y) != m:
        raise ValueError(f"{path}: {key} must hold {m} labels, shape ({m},) or (1, {m}), got "
                         f"shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise ValueError(f"{path}: {key} holds labels that are not whole numbers")
    if y.dtype.kind not in "uif" or (y.size and y.min() < 0):
        raise ValueError(f"{path}: {key} must hold class indices 0, 1, ...")
    return y.astype(np.int32)


def read_h5(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES
            ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...] | None]:
    """The splits of an HDF5 file in the course's layout, and its class names.

    Args:
      path: an ``.h5`` file with ``train_set_x`` and ``train_set_y`` and/or ``test_set_x`` and
        ``test_set_y``, and optionally ``list_classes``.
      max_bytes: the size limit of the file and of each array.

    Returns:
      ``(splits, class_names)``: ``splits`` maps ``"train"`` / ``"test"`` to ``(x, y)``
      (``uint8`` NHWC images, ``int32`` labels) for each split in the file; ``class_names`` is
      ``list_classes`` decoded, or ``None`` when the file has none.

    Raises:
      ValueError: not an HDF5 file, none of the course's keys, an array of the wrong shape, a
        label without a class.
      MissingPackage: h5py is not installed.

    Examples:
      >>> import os, tempfile, numpy as np, pytest
      >>> h5py = pytest.importorskip("h5py")
      >>> from jaxdl.data.images import read_h5
      >>> path = os.path.join(tempfile.mkdtemp(), "train_catvnoncat.h5")
      >>> with h5py.File(path, "w") as f:
      ...     f["train_set_x"] = np.zeros((2, 4, 4, 3), np.uint8)
      ...     f["train_set_y"] = np.array([0, 1])
      ...     f["list_classes"] = np.array([b"non-cat", b"cat"])
      >>> splits, names = read_h5(path)
      >>> splits["train"][0].shape, splits["train"][1].tolist(), names
      ((2, 4, 4, 3), [0, 1], ('non-cat', 'cat'))
    """
    name = os.fspath(path)
    check_regular(name, what="HDF5 file", max_bytes=max_bytes)
    h5py = require_package("h5py", "h5py", "reading an HDF5 file")
    try:
        f = h5py.File(name, "r")
    except OSError as err:
        raise ValueError(f"{name}: not a readable HDF5 file ({err})") from None
    with f:
        keys = sorted(f.keys())
        names = None
        if "list_classes" in f:
            raw = _h5_array(h5py, f, "list_classes", name, max_bytes)
            if raw.ndim != 1 or raw.dtype.kind not in "SU" or not raw.size:
                raise ValueError(f"{name}: list_classes must be a list of class names, got "
                                 f"{raw.dtype} of shape {raw.shape}")
            names = tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                          for v in raw.tolist())
        splits = {}
        for split in H5_SPLITS:
            kx, ky = f"{split}_set_x", f"{split}_set_y"
            if kx not in f and ky not in f:
                continue
            if kx not in f or ky not in f:
                raise ValueError(f"{name}: has {kx if kx in f else ky} but not "
                                 f"{ky if kx in f else kx}; the course's layout needs both")
            x = _h5_images(_h5_array(h5py, f, kx, name, max_bytes), kx, name)
            y = _h5_labels(_h5_array(h5py, f, ky, name, max_bytes), ky, name, len(x))
            if names is not None and y.size and int(y.max()) >= len(names):
                raise ValueError(f"{name}: {ky} holds label {int(y.max())} but list_classes "
                                 f"names only {len(names)} classes")
            splits[split] = (x, y)
    if not splits:
        raise ValueError(f"{name}: not in the course's layout: expected train_set_x and "
                         f"train_set_y (or test_set_x and test_set_y) and list_classes; the "
                         f"file holds {', '.join(keys) or 'nothing'}")
    return splits, names


def load_h5(path: str | os.PathLike, test_path: str | os.PathLike | None = None, *,
            max_bytes: int = DEFAULT_MAX_BYTES) -> ImageSet:
    """A training and a test set from HDF5 files in the course's layout.

    The training split comes from ``path``; the test split from ``test_path`` when given, else
    from ``path`` itself.

    Args:
      path: the file with ``train_set_x`` and ``train_set_y`` (``train_catvnoncat.h5``).
      test_path: the file with ``test_set_x`` and ``test_set_y`` (``test_catvnoncat.h5``).
      max_bytes: the size limit of each file and array.

    Returns:
      An :class:`ImageSet`; class names from ``list_classes`` (``"0"``, ``"1"``, ... when
      neither file has them).

    Raises:
      ValueError: a missing split, images of different shapes in the two files, class names
        that differ between the files, and everything :func:`read_h5` raises.

    Examples:
      >>> import os, tempfile, numpy as np, pytest
      >>> h5py = pytest.importorskip("h5py")
      >>> from jaxdl.data.images import load_h5
      >>> folder = tempfile.mkdtemp()
      >>> for split, m in [("train", 3), ("test", 2)]:
      ...     with h5py.File(os.path.join(folder, split + ".h5"), "w") as f:
      ...         f[split + "_set_x"] = np.zeros((m, 4, 4, 3), np.uint8)
      ...         f[split + "_set_y"] = np.arange(m).reshape(1, m) % 2
      ...         f["list_classes"] = np.array([b"non-cat", b"cat"])
      >>> data = load_h5(os.path.join(folder, "train.h5"), os.path.join(folder, "test.h5"))
      >>> data.x_train.shape, data.y_test.tolist(), data.class_names
      ((3, 4, 4, 3), [0, 1], ('non-cat', 'cat'))
    """
    train_file = os.fspath(path)
    splits, names = read_h5(train_file, max_bytes=max_bytes)
    if "train" not in splits:
        raise ValueError(f"{train_file}: has no train_set_x / train_set_y; pass the training "
                         "file first and the test file as test_path")
    test_file = train_file
    if test_path is not None:
        test_file = os.fspath(test_path)
        test_splits, test_names = read_h5(test_file, max_bytes=max_bytes)
        if names is not None and test_names is not None and names != test_names:
            raise ValueError(f"{train_file} and {test_file} name different classes: "
                             f"{list(names)} and {list(test_names)}")
        names = names or test_names
    else:
        test_splits = splits
    if "test" not in test_splits:
        raise ValueError(f"{test_file}: has no test_set_x / test_set_y; pass the test file as "
                         "test_path")
    (x_train, y_train), (x_test, y_test) = splits["train"], test_splits["test"]
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"the training images ({train_file}) are {x_train.shape[1:]} but the "
                         f"test images ({test_file}) are {x_test.shape[1:]}; use files of one "
                         "data set")
    if names is None:
        top = max([int(y.max()) for y in (y_train, y_test) if y.size], default=0)
        names = tuple(str(i) for i in range(top + 1))
    return ImageSet(x_train, y_train, x_test, y_test, names)
