"""A folder of images with one subfolder per class, read as ``uint8`` NHWC arrays
(:func:`read_image_folder`): which files count as images, their colour and size. See
:mod:`jaxdl.data.images` for the rules; needs Pillow (``pip install 'jaxdl[images]'``).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxdl.data.image_packages import require_package
from jaxdl.infra.untrusted import read_bytes

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: The only formats Pillow is allowed to decode (whatever a file's name says).
IMAGE_FORMATS = ("BMP", "GIF", "JPEG", "PNG")
COLOR_MODES = ("rgb", "grayscale")
#: The largest single image file read unless a caller says otherwise: 64 MiB.
MAX_IMAGE_BYTES = 64 << 20

_GRAY_MODES = frozenset({"1", "L", "LA", "La"})
_COLOR_MODES = frozenset({"RGB", "RGBA", "RGBa", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB",
                          "HSV"})


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
    pil = require_package("PIL.Image", "Pillow", "reading a folder of images")
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
