"""The arrays of a saved model (``arrays.npz``): params and state flattened to one array per
leaf, named by its pytree path, written without pickle and read back as untrusted input
(:func:`read_arrays`); the SHA-256 checksums of the files.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.saved.file_format import (
    ARRAYS,
    ModelFileError,
)


def flatten(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """``{prefix + keystr(path): leaf}`` for every leaf of ``tree``.

    >>> import numpy as np
    >>> from jaxdl.saved.file_format import flatten
    >>> list(flatten("params", {"layers": [{"W": np.ones(2)}]}))
    ["params['layers'][0]['W']"]
    """
    return {name: np.asarray(leaf) for name, leaf in named_leaves(prefix, tree).items()}


def named_leaves(prefix: str, tree: Any) -> dict[str, Any]:
    """The leaves of ``tree`` by their names in the arrays file: ``prefix`` + the key path.

    >>> from jaxdl.saved.file_format import named_leaves
    >>> named_leaves("params", {"W": 1, "b": [2]})
    {"params['W']": 1, "params['b'][0]": 2}
    """
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {prefix + jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def fill_tree(source: str, prefix: str, template: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """``template``'s tree with each leaf taken from ``arrays`` by its name
    (:func:`named_leaves`), checked against the leaf's shape and kind; errors name ``source``.

    >>> from jaxdl.saved.file_format import fill_tree
    >>> import jax, numpy as np
    >>> spec = {"b": jax.ShapeDtypeStruct((2,), np.float32)}
    >>> fill_tree("m", "params", spec, {"params['b']": np.ones(2, np.float32)})
    {'b': array([1., 1.], dtype=float32)}
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    filled = []
    for path, spec in leaves:
        name = prefix + jax.tree_util.keystr(path)
        if name not in arrays:
            raise ModelFileError(f"{source}: {ARRAYS} has no array {name}, which the model needs")
        value = arrays[name]
        if value.shape != spec.shape:
            raise ModelFileError(f"{source}: array {name} has shape {value.shape} but the model "
                                 f"needs {spec.shape}")
        if np.dtype(spec.dtype).kind in "biu" and value.dtype.kind not in "biu":
            raise ModelFileError(f"{source}: array {name} holds {value.dtype} values but the "
                                 f"model needs {np.dtype(spec.dtype)}")
        filled.append(value.astype(spec.dtype))
    return jax.tree_util.tree_unflatten(treedef, filled)


def read_arrays(blob: bytes, file: str, expected: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` content ``blob``, each checked against ``expected`` (``{name:
    shape-and-dtype}`` of the model's params and state) before it is read: no other names, no
    entry larger than its shape allows, numbers only (no pickle, no text), all finite.

    Args:
      blob: the bytes of ``arrays.npz``.
      file: its path, for error messages.
      expected: what the model needs, as :func:`jax.eval_shape` of ``model.init`` gives it.

    Returns:
      ``{name: array}`` (shapes are checked when the arrays are filled into the model).

    Raises:
      ModelFileError: for a truncated or garbage file and every array that is not as described.

    >>> import io
    >>> import numpy as np
    >>> from jaxdl.saved.file_format import read_arrays
    >>> buffer = io.BytesIO()
    >>> np.savez(buffer, w=np.array([1.0, np.nan]))
    >>> read_arrays(buffer.getvalue(), "arrays.npz", {"w": np.zeros(2)})
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: arrays.npz: array w holds NaN or inf...
    """
    try:
        archive = np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways
        raise ModelFileError(f"{file}: not a readable .npz archive ({type(err).__name__}: "
                             f"{err}); it is truncated or was not written by jaxdl") from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or archive.zip is None:
        raise ModelFileError(f"{file}: not an .npz archive; it was not written by jaxdl")
    zipped = archive.zip
    with archive:
        extra = sorted(set(archive.files) - set(expected))
        if extra:
            raise ModelFileError(f"{file}: holds array(s) the model does not use: "
                                 f"{', '.join(extra[:10])}")
        for info in zipped.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            limit = 8 * math.prod(expected[name].shape) + 4096 if name in expected else 0
            if info.file_size > limit:
                raise ModelFileError(f"{file}: entry {info.filename!r} has {info.file_size} "
                                     f"bytes, more than the model's array {name} can take")
        arrays = {}
        for name in archive.files:
            try:
                value = archive[name]
            except Exception as err:  # noqa: BLE001 - object arrays, damaged entries
                raise ModelFileError(f"{file}: array {name} cannot be read ({type(err).__name__}"
                                     f": {err}); the file was not written by jaxdl") from None
            if value.dtype.kind not in "biuf":
                raise ModelFileError(f"{file}: array {name} holds {value.dtype} values; a saved "
                                     "model's arrays hold numbers")
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise ModelFileError(f"{file}: array {name} holds NaN or inf; the model was "
                                     "saved after training diverged, or the file was changed")
            arrays[name] = value
    return arrays


def expected_bytes(expected: Mapping[str, Any]) -> int:
    """The most bytes an ``arrays.npz`` of arrays shaped like ``expected`` takes (8 bytes an
    element, 4 KiB of headers an array, 64 KiB for the archive).

    >>> import numpy as np
    >>> from jaxdl.saved.file_format import expected_bytes
    >>> expected_bytes({"w": np.zeros((2, 3))})
    69680
    """
    return sum(8 * math.prod(v.shape) + 4096 for v in expected.values()) + (64 << 10)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex.

    >>> from jaxdl.saved.file_format import sha256_hex
    >>> sha256_hex(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()
