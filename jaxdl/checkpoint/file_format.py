"""The checkpoint file: a pytree and its metadata in one verified ``.npz``.

A checkpoint is one ``.npz`` file named ``ckpt-NNNNNN.npz`` (the epoch, six digits or more):
the pytree's leaves in flattening order (``leaf_0``, ``leaf_1``, ...), a JSON ``meta`` entry and
a ``checksum``, the SHA-256 over every other entry's name, dtype, shape and bytes. Files are
written with :func:`jaxdl.infra.atomic.atomic_write` (temporary file, fsync, rename, fsync of the
directory), so a reader sees the old file or the complete new one. Every failure to read one,
whatever the damage, is a :class:`CorruptCheckpoint`. Only names matching the exact pattern are
listed or pruned, and only a regular file is read (a FIFO, a device or a directory under a
checkpoint's name is a :class:`CheckpointError`, never a hang).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.infra import untrusted
from jaxdl.infra.atomic import atomic_write

PREFIX = "ckpt-"
NAME = re.compile(r"ckpt-(\d{6,})\.npz")
META, CHECKSUM = "meta", "checksum"


class CheckpointError(ValueError):
    """A checkpoint or checkpoint directory that this run cannot use.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import unflatten
    >>> unflatten("ckpt-000001.npz", [np.zeros(2)], {"w": np.zeros(3)})
    Traceback (most recent call last):
    jaxdl.checkpoint.file_format.CheckpointError: checkpoint ckpt-000001.npz: ['w'] has shape ...
    """


class CorruptCheckpoint(CheckpointError):
    """A checkpoint file that does not read back intact (truncated, bit flips, not jaxdl's).

    >>> from jaxdl.checkpoint.file_format import read
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt-000001.npz")
    >>> _ = open(path, "wb").write(b"not a zip file")
    >>> read(path)
    Traceback (most recent call last):
    jaxdl.checkpoint.file_format.CorruptCheckpoint: checkpoint ... is truncated or corrupt (...)
    """


def path_for(directory: str, epoch: int) -> str:
    """The file that holds the checkpoint taken after ``epoch``.

    Args:
      directory: the checkpoint directory.
      epoch: the epoch just finished (six digits or more in the name).

    Returns:
      ``directory/ckpt-NNNNNN.npz``.

    >>> from jaxdl.checkpoint.file_format import path_for
    >>> path_for("ckpt", 20)
    'ckpt/ckpt-000020.npz'
    """
    return os.path.join(directory, f"{PREFIX}{epoch:06d}.npz")


def epoch_of(path: str) -> int:
    """The epoch in a checkpoint file's name.

    Args:
      path: a checkpoint file (only its base name is read).

    Returns:
      The epoch number.

    Raises:
      ValueError: when the name is not ``ckpt-NNNNNN.npz``.

    >>> from jaxdl.checkpoint.file_format import epoch_of
    >>> epoch_of("ckpt/ckpt-000020.npz")
    20
    """
    match = NAME.fullmatch(os.path.basename(path))
    if match is None:
        raise ValueError(f"{path} is not named like a checkpoint ({PREFIX}NNNNNN.npz)")
    return int(match.group(1))


def list_checkpoints(directory: str) -> list[str]:
    """Checkpoint files in ``directory`` (exact name pattern only), oldest epoch first.

    Args:
      directory: the checkpoint directory (missing: no checkpoints).

    Returns:
      The paths of the files named ``ckpt-NNNNNN.npz``, sorted by epoch.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import save, path_for, list_checkpoints
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for epoch in (10, 2):
    ...     _ = save(path_for(folder, epoch), {"w": np.zeros(1)}, {})
    >>> [os.path.basename(p) for p in list_checkpoints(folder)]
    ['ckpt-000002.npz', 'ckpt-000010.npz']
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), n) for n in names if (m := NAME.fullmatch(n))]
    return [os.path.join(directory, n) for _, n in sorted(found)]


def content_hash(*arrays: Any) -> str:
    """SHA-256 (hex) over the dtypes, shapes and bytes of ``arrays`` (``None`` allowed).

    Args:
      *arrays: arrays (host or device) or ``None``.

    Returns:
      The 64-character hex digest.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import content_hash
    >>> content_hash(np.zeros(2)) == content_hash(np.zeros(2)) != content_hash(np.ones(2))
    True
    """
    digest = hashlib.sha256()
    for value in arrays:
        if value is None:
            digest.update(b"none;")
            continue
        arr = np.asarray(jax.device_get(value))
        digest.update(f"{arr.dtype.str}{arr.shape};".encode())
        digest.update(arr.data if arr.flags.c_contiguous else arr.tobytes())
    return digest.hexdigest()


def _checksum(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name != CHECKSUM:
            digest.update(name.encode() + b"\0")
            digest.update(content_hash(arrays[name]).encode())
    return np.frombuffer(digest.hexdigest().encode(), np.uint8)


def _host(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(jax.device_get(leaf))


def save(path: str, tree: Any, meta: dict[str, Any], keep: int | None = 3) -> str:
    """Write ``tree`` and ``meta`` to ``path`` atomically, with a checksum; keep only the newest
    ``keep`` checkpoints of the directory (``None``: all).

    Args:
      path: the file, normally :func:`path_for` ``(directory, epoch)``.
      tree: a pytree of arrays (PRNG key arrays are stored as their key data).
      meta: JSON-able metadata stored beside the leaves.
      keep: how many of the directory's checkpoints to keep, newest first (``None``: all).

    Returns:
      ``path``.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import save, path_for, list_checkpoints
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for epoch in range(4):
    ...     path = save(path_for(folder, epoch), {"w": np.full(2, epoch)}, {"epoch": epoch}, keep=2)
    >>> [os.path.basename(p) for p in list_checkpoints(folder)]
    ['ckpt-000002.npz', 'ckpt-000003.npz']
    """
    arrays = {f"leaf_{i}": _host(leaf) for i, leaf in enumerate(jax.tree.leaves(tree))}
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    arrays[CHECKSUM] = _checksum(arrays)
    atomic_write(path, lambda f: np.savez(f, allow_pickle=False, **arrays), mode="wb")
    if keep is not None:
        for old in list_checkpoints(os.path.dirname(path) or ".")[:-keep]:
            os.remove(old)
    return path


def read(path: str) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The verified leaves and meta of a checkpoint; :class:`CorruptCheckpoint` on any damage.

    Args:
      path: a file written by :func:`save`.

    Returns:
      ``(leaves, meta)``: the host arrays in flattening order and the metadata dict.

    Raises:
      FileNotFoundError: when ``path`` does not exist.
      CheckpointError: when it is not a regular file (a FIFO, a device, a directory).
      CorruptCheckpoint: when it is truncated, altered or not a jaxdl checkpoint.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import save, read
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt-000003.npz")
    >>> path = save(path, (np.ones(2), 7), {"epoch": 3})
    >>> leaves, meta = read(path)
    >>> [leaf.tolist() for leaf in leaves], meta
    ([[1.0, 1.0], 7], {'epoch': 3})
    """
    try:
        fd = untrusted.open_regular(path, what="checkpoint")
    except untrusted.UntrustedFileError as err:
        raise CheckpointError(f"{err}; remove it from the checkpoint directory") from None
    try:
        with os.fdopen(fd, "rb") as file, np.load(file, allow_pickle=False) as data:
            _check_stored(path, data.zip, os.fstat(file.fileno()).st_size)
            arrays = {name: data[name] for name in data.files}
    except CheckpointError:
        raise
    except Exception as err:  # a damaged zip or npy header fails in many ways
        raise CorruptCheckpoint(
            f"checkpoint {path} is truncated or corrupt ({type(err).__name__}: {err})"
        ) from err
    if META not in arrays or CHECKSUM not in arrays:
        raise CorruptCheckpoint(
            f"{path} is not a jaxdl checkpoint (no {META!r} or {CHECKSUM!r} entry)"
        )
    if arrays[CHECKSUM].tobytes() != _checksum(arrays).tobytes():
        raise CorruptCheckpoint(f"checkpoint {path} is corrupt: its checksum does not match")
    try:
        meta = json.loads(arrays[META].tobytes().decode())
    except (ValueError, RecursionError) as err:  # checksum-consistent: not written by jaxdl
        raise CorruptCheckpoint(f"checkpoint {path} has unreadable metadata ({err})") from err
    if not isinstance(meta, dict):
        raise CorruptCheckpoint(f"checkpoint {path} has metadata that is not an object; it was "
                                "not written by jaxdl")
    count = len(arrays) - 2
    try:
        leaves = [arrays[f"leaf_{i}"] for i in range(count)]
    except KeyError as err:
        raise CorruptCheckpoint(f"{path} is not a jaxdl checkpoint (no entry {err})") from err
    return leaves, meta


def _check_stored(path: str, archive: Any, size: int) -> None:
    """:func:`save` stores entries uncompressed, so together they are no larger than the file;
    more is a compressed archive that could unpack to any size: not jaxdl's."""
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > size:
        raise CorruptCheckpoint(f"checkpoint {path} unpacks to {unpacked} bytes from {size}; it "
                                "is compressed, and not a jaxdl checkpoint")


def restore(path: str, template: Any) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint into the structure of ``template``; returns ``(tree, meta)``.

    (Called ``load`` before; that name still works, with a ``DeprecationWarning``.)

    Args:
      path: a file written by :func:`save`.
      template: a pytree of the expected structure, shapes and dtypes (its values are unused).

    Returns:
      ``(tree, meta)``: the saved arrays in ``template``'s structure and the metadata.

    Raises:
      CorruptCheckpoint: for a damaged file.
      CheckpointError: when the file does not fit ``template``.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import save, restore
    >>> import os, tempfile
    >>> path = save(os.path.join(tempfile.mkdtemp(), "ckpt-000001.npz"), {"b": np.ones(2)}, {})
    >>> tree, meta = restore(path, {"b": np.zeros(2)})
    >>> tree["b"]
    array([1., 1.])
    """
    leaves, meta = read(path)
    return unflatten(path, leaves, template), meta


def unflatten(path: str, leaves: list[np.ndarray], template: Any) -> Any:
    """``leaves`` in the structure of ``template``, each checked for shape and dtype.

    Args:
      path: the file the leaves came from (named in errors).
      leaves: host arrays in ``template``'s flattening order, as :func:`read` returns them.
      template: a pytree of the expected structure, shapes and dtypes; a PRNG key leaf turns
        its saved key data back into a key of the same implementation.

    Returns:
      ``leaves`` in ``template``'s structure.

    Raises:
      CheckpointError: for a different number of leaves, or a leaf of another shape or dtype.

    >>> import numpy as np
    >>> from jaxdl.checkpoint.file_format import unflatten
    >>> template = {"w": np.ones(2), "b": np.ones(1)}  # flattened in key order: b, w
    >>> unflatten("ckpt-000001.npz", [np.zeros(1), np.full(2, 3.0)], template)
    {'b': array([0.]), 'w': array([3., 3.])}
    """
    refs, treedef = jax.tree_util.tree_flatten_with_path(template)
    if len(leaves) != len(refs):
        raise CheckpointError(
            f"checkpoint {path} holds {len(leaves)} arrays but this run expects {len(refs)}: "
            "it was written by a different model, optimizer or early stopping"
        )
    out = []
    for value, (key_path, ref) in zip(leaves, refs):
        expected = _host(ref)
        if value.shape != expected.shape or value.dtype != expected.dtype:
            raise CheckpointError(
                f"checkpoint {path}: {jax.tree_util.keystr(key_path)} has shape {value.shape} "
                f"{value.dtype}, this run expects {expected.shape} {expected.dtype}; it was "
                "written by a different model shape"
            )
        if isinstance(ref, jax.Array) and jax.dtypes.issubdtype(ref.dtype, jax.dtypes.prng_key):
            value = jax.random.wrap_key_data(jnp.asarray(value), impl=jax.random.key_impl(ref))
        out.append(value)
    return jax.tree.unflatten(treedef, out)
