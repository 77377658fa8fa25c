"""Arrays of the user's ``.npz`` and ``.npy`` files, read without pickle: features checked to be
numbers, the train/val/test arrays of an ``.npz`` that holds its own splits, the labels of an
array and which of them are missing. :func:`jaxdl.data.files.load_file` reads them.
"""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from jaxdl.data.labels import Labels, array_labels
from jaxdl.infra.untrusted import open_regular

SPLIT_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")

#: The first bytes of each array file type (a zip archive; numpy's own format).
_MAGIC = {".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".npy": (b"\x93NUMPY",)}
#: What a damaged array file raises inside numpy and zipfile.
_BROKEN = (ValueError, OSError, EOFError, KeyError, RuntimeError, NotImplementedError,
           zipfile.BadZipFile, zlib.error)


def load_arrays(path: str, what: str = "--data file") -> dict[str, np.ndarray]:
    """The arrays of a regular ``.npz`` file (by name) or ``.npy`` file (as ``"x"``), read
    without pickle; a damaged file or object arrays are a ``ValueError`` naming ``path``."""
    suffix = os.path.splitext(path)[1].lower()
    try:
        f = os.fdopen(open_regular(path, what=what), "rb")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    with f:
        if not f.read(8).startswith(_MAGIC[suffix]):
            raise ValueError(f"{path}: not a {suffix} file (it does not start like one); save "
                             f"it with numpy.{'savez' if suffix == '.npz' else 'save'}")
        f.seek(0)
        try:
            if suffix == ".npy":
                return {"x": np.load(f, allow_pickle=False)}
            with np.load(f, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        except _BROKEN as err:
            if "pickle" in str(err):
                raise ValueError(f"{path}: holds object arrays, which need pickle; save plain "
                                 "numeric (or text) arrays") from None
            raise ValueError(f"{path}: not a readable {suffix} file ({type(err).__name__}: "
                             f"{err}); it may be truncated: save it again") from None


def load_npy(path: str, what: str = "--data file") -> np.ndarray:
    """The array of a regular ``.npy`` file, read as :func:`load_arrays` reads it."""
    return load_arrays(path, what)["x"]


def feature_array(source: str, name: str, x: np.ndarray) -> np.ndarray:
    """Features as float64, or as int64 when an integer is beyond 2**53 (float64 would round
    neighbours together; standardization subtracts the mean exactly)."""
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{source}: array {name!r} holds {x.dtype} values; features must be "
                         "numbers")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{source}: array {name!r} has shape {x.shape}; features must be "
                         "(samples, features) with at least one sample")
    if x.dtype.kind == "f" and np.isinf(x).any():
        row = int(np.argmax(np.isinf(x.reshape(len(x), -1)).any(axis=1)))
        raise ValueError(f"{source}: array {name!r} holds inf at row {row + 1}; replace it by a "
                         "number, or by NaN to mark a missing value")
    if x.dtype.kind in "iu" and x.size and max(abs(int(x.min())), abs(int(x.max()))) >= 2**53 \
            and int(x.max()) < 2**63:
        return x.astype(np.int64)
    return x.astype(np.float64)



def given_splits(path: str, arrays: dict[str, np.ndarray]) -> list[tuple[np.ndarray, Labels]]:
    """``(x, labels)`` of the train, val and test arrays of an ``.npz``, checked to agree."""
    parts: list[tuple[np.ndarray, Labels]] = []
    for s in ("train", "val", "test"):
        x = feature_array(path, f"x_{s}", arrays[f"x_{s}"])
        y = array_labels(path, f"y_{s}", arrays[f"y_{s}"])
        if len(x) != len(y.values):
            raise ValueError(f"{path}: x_{s} has {len(x)} samples but y_{s} has "
                             f"{len(y.values)} labels; each split needs one label per sample")
        if parts and x.shape[1:] != parts[0][0].shape[1:]:
            raise ValueError(f"{path}: x_{s} has samples of shape {x.shape[1:]} but x_train "
                             f"{parts[0][0].shape[1:]}; every split needs the same features")
        if parts and (y.kind == "text") != (parts[0][1].kind == "text"):
            raise ValueError(f"{path}: y_{s} and y_train differ: one holds text, the other "
                             "numbers; label every split the same way")
        parts.append((x, y))
    return parts


def missing_labels(labels: Labels) -> np.ndarray:
    """NaN labels of an array (text and integer arrays have none)."""
    if labels.kind == "float":
        return np.isnan(labels.values)
    return np.zeros(len(labels.values), dtype=bool)


def default_names(x: np.ndarray) -> tuple[str, ...]:
    """``x0``, ``x1``, ...: the feature names of an array without column names."""
    return tuple(f"x{j}" for j in range(int(np.prod(x.shape[1:]))))

