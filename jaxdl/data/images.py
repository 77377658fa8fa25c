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
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxdl.checks import check_range
from jaxdl.data.dataset import Dataset, split_indices
from jaxdl.data.normalize import channel_standardizer
from jaxdl.infra.untrusted import DEFAULT_MAX_BYTES, check_regular, read_bytes

__all__ = ["COLOR_MODES", "IMAGE_FORMATS", "IMAGE_SUFFIXES", "INSTALL_HINT", "ImageFolder",
           "ImageSet", "MissingPackage", "as_dataset", "folder_dataset", "h5_dataset", "load_h5",
           "read_h5", "read_image_folder", "validation_split"]

INSTALL_HINT = "pip install 'jaxdl[images]'"
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: The only formats Pillow is allowed to decode (whatever a file's name says).
IMAGE_FORMATS = ("BMP", "GIF", "JPEG", "PNG")
COLOR_MODES = ("rgb", "grayscale")
#: The largest single image file read unless a caller says otherwise: 64 MiB.
MAX_IMAGE_BYTES = 64 << 20
H5_SPLITS = ("train", "test")

_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_COLOR_MODES = frozenset({"RGB", "RGBA", "RGBa", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB",
                          "HSV"})


class MissingPackage(ImportError, ValueError):
    """An optional package (Pillow, h5py) that reading images needs is not installed; an
    ``ImportError`` and a ``ValueError`` (the command reports it as one line).

    Examples:
      >>> from jaxdl.data.images import MissingPackage
      >>> issubclass(MissingPackage, ImportError) and issubclass(MissingPackage, ValueError)
      True
    """


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


class ImageFolder(NamedTuple):
    """The images of a folder: ``x`` ``uint8`` ``(n, height, width, c)``, ``y`` ``int32``
    class indices, ``class_names`` the subfolder names and ``paths`` each image's file.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.data.images import ImageFolder
      >>> folder = ImageFolder(np.zeros((1, 2, 2, 3), np.uint8), np.array([0]), ("cat",),
      ...                      ("pets/cat/a.png",))
      >>> folder.class_names[folder.y[0]], folder.paths[0]
      ('cat', 'pets/cat/a.png')
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    paths: tuple[str, ...]


def _require(module: str, package: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackage(f"{purpose} needs {package}, which is not installed; install it "
                             f"with `{INSTALL_HINT}` (or: pip install {package})") from None


# -- folders of images ---------------------------------------------------------------------------
def _check_size(size: Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if (isinstance(size, str | bytes) or len(size) != 2
            or not all(isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1
                       for s in size)):
        raise ValueError(f"size must be (height, width), two ints >= 1, or None, got {size!r}")
    return int(size[0]), int(size[1])


def _image_files(root: str) -> tuple[tuple[str, ...], list[tuple[int, str]]]:
    """The class names and ``(class index, path)`` of every image below ``root``."""
    if not os.path.isdir(root):
        raise ValueError(f"{root}: not a folder; expected a folder with one subfolder of images "
                         "per class")
    with os.scandir(root) as entries:
        listed = sorted(entries, key=lambda e: e.name)
    classes = tuple(e.name for e in listed if e.is_dir() and not e.name.startswith("."))
    loose = [e.name for e in listed if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]
    if not classes:
        hint = (f" ({len(loose)} images lie directly in it, e.g. {loose[0]}: move each into "
                "the subfolder of its class)" if loose else "")
        raise ValueError(f"{root}: no class subfolders{hint}; expected {root}/<class>/<image> "
                         f"with images ending in {', '.join(IMAGE_SUFFIXES)}")
    files: list[tuple[int, str]] = []
    for index, name in enumerate(classes):
        found = []
        for folder, subfolders, names in os.walk(os.path.join(root, name)):
            subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
            found += [os.path.join(folder, n) for n in sorted(names)
                      if not n.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES)]
        if not found:
            raise ValueError(f"{root}: class folder {name!r} holds no images (files ending in "
                             f"{', '.join(IMAGE_SUFFIXES)}); add images or remove the folder")
        files += [(index, path) for path in found]
    return classes, files


def _decode(pil: Any, path: str, max_image_bytes: int) -> Any:
    data = read_bytes(path, what="image", max_bytes=max_image_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            image = pil.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError, pil.DecompressionBombError,
            pil.DecompressionBombWarning) as err:
        raise ValueError(f"{path}: not a readable image, or truncated ({err}); replace or "
                         "remove the file") from None
    if image.mode not in _GRAY_MODES | _COLOR_MODES:
        raise ValueError(f"{path}: image mode {image.mode!r} (16-bit or floating-point pixels) "
                         "is not supported; save it as an 8-bit grayscale or RGB image")
    return image


def read_image_folder(
    path: str | os.PathLike,
    size: Sequence[int] | None = None,
    *,
    color_mode: str | None = None,
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> ImageFolder:
    """The images below ``path``, one subfolder per class, as ``uint8`` NHWC arrays.

    Images are ordered by class, then by path. See the module docstring for which files count
    as images and how colour and size are handled.

    Args:
      path: the folder (``path/<class>/<image>``).
      size: ``(height, width)`` to resize every image to, or ``None`` (all the same size).
      color_mode: ``None`` (as stored: grayscale 1 channel, colour 3; a mix is an error),
        ``"rgb"`` (3 channels) or ``"grayscale"`` (1 channel).
      max_image_bytes: the largest image file read.

    Returns:
      An :class:`ImageFolder` ``(x, y, class_names, paths)``.

    Raises:
      ValueError: no class folders or a class without images, an unreadable or truncated image,
        different sizes without ``size``, grayscale and colour mixed without ``color_mode``.
      MissingPackage: Pillow is not installed.

    Examples:
      >>> import os, tempfile, pytest
      >>> Image = pytest.importorskip("PIL.Image")
      >>> from jaxdl.data.images import read_image_folder
      >>> root = tempfile.mkdtemp()
      >>> for name, value in [("cat", 200), ("dog", 10)]:
      ...     os.mkdir(os.path.join(root, name))
      ...     Image.new("L", (4, 3), value).save(os.path.join(root, name, "a.png"))
      >>> data = read_image_folder(root)
      >>> data.x.shape, data.x.dtype.name, data.y.tolist(), data.class_names
      ((2, 3, 4, 1), 'uint8', [0, 1], ('cat', 'dog'))
    """
    if color_mode is not None and color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be None, 'rgb' or 'grayscale', got {color_mode!r}")
    shape = _check_size(size)
    root = os.fspath(path)
    classes, files = _image_files(root)
    pil = _require("PIL.Image", "Pillow", "reading a folder of images")
    arrays: list[np.ndarray] = []
    first: dict[bool, str] = {}  # is_gray -> the first such file
    sizes: dict[tuple[int, int], str] = {}
    for _, file in files:
        image = _decode(pil, file, max_image_bytes)
        gray = image.mode in _GRAY_MODES if color_mode is None else color_mode == "grayscale"
        first.setdefault(gray, file)
        image = image.convert("L" if gray else "RGB")
        if shape is not None and image.size != (shape[1], shape[0]):
            image = image.resize((shape[1], shape[0]), pil.Resampling.BILINEAR)
        sizes.setdefault((image.height, image.width), file)
        array = np.asarray(image, dtype=np.uint8)
        arrays.append(array[..., None] if gray else array)
    if len(first) > 1:
        raise ValueError(f"{root}: mixes grayscale images ({first[True]}) and colour images "
                         f"({first[False]}); pass color_mode='rgb' or 'grayscale' to convert "
                         "them all (the jaxdl command reads them as stored: save them in one "
                         "mode)")
    if len(sizes) > 1:
        (s1, f1), (s2, f2) = list(sizes.items())[:2]
        raise ValueError(f"{root}: images differ in size ({f1} is {s1[0]}x{s1[1]}, {f2} is "
                         f"{s2[0]}x{s2[1]}, height x width); pass size=(height, width) (the "
                         "jaxdl command: --image-size H,W) to resize them all")
    x = np.stack(arrays)
    y = np.array([index for index, _ in files], dtype=np.int32)
    return ImageFolder(x, y, classes, tuple(file for _, file in files))


# -- HDF5 files in the course's layout ---------------------------------------------------------
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
    h5py = _require("h5py", "h5py", "reading an HDF5 file")
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


# -- as a Dataset ------------------------------------------------------------------------------
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
      >>> path = os.path.join(tempfile.mkdtemp(), "both.h5")
      >>> with h5py.File(path, "w") as f:
      ...     f["train_set_x"] = np.zeros((10, 4, 4, 3), np.uint8)
      ...     f["train_set_y"] = np.arange(10) % 2
      ...     f["test_set_x"] = np.zeros((4, 4, 4, 3), np.uint8)
      ...     f["test_set_y"] = np.arange(4) % 2
      >>> data = h5_dataset(path, val_fraction=0.2)
      >>> len(data.y_train), len(data.y_val), len(data.y_test), data.class_names
      (8, 2, 4, ('0', '1'))
    """
    images = load_h5(path, test_path)
    name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return as_dataset(images, name, val_fraction=val_fraction, seed=seed)
