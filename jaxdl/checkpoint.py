"""Atomic checkpoints of any pytree of arrays, plus JSON metadata.

A checkpoint is one ``.npz`` file: the leaves in flattening order and a JSON ``meta`` entry,
written with :func:`jaxdl.atomic.atomic_write`, so a reader sees either the old file or the
complete new one, never half of one.
Loading checks every leaf's shape and dtype against a template of the expected structure.
"""

from __future__ import annotations

import glob
import json
import os
import zipfile
from typing import Any

import jax
import numpy as np

from jaxdl.atomic import atomic_write
from jaxdl.deprecation import deprecated_aliases

PREFIX = "ckpt-"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: truncated, corrupt, or written by a different setup."""


def path_for(directory: str, epoch: int) -> str:
    """The file that holds the checkpoint taken after ``epoch``."""
    return os.path.join(directory, f"{PREFIX}{epoch:06d}.npz")


def list_checkpoints(directory: str) -> list[str]:
    """Checkpoint files in ``directory``, oldest first."""
    return sorted(glob.glob(os.path.join(glob.escape(directory), f"{PREFIX}*.npz")))


def _host(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(jax.device_get(leaf))


def save(path: str, tree: Any, meta: dict[str, Any], keep: int | None = 3) -> str:
    """Write ``tree`` and ``meta`` to ``path`` atomically; keep only the newest ``keep`` files."""
    directory = os.path.dirname(os.path.abspath(path))
    arrays = {f"leaf_{i}": _host(leaf) for i, leaf in enumerate(jax.tree.leaves(tree))}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays), mode="wb")
    if keep is not None:
        for old in list_checkpoints(directory)[:-keep]:
            os.remove(old)
    return path


def restore(path: str, template: Any) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint into the structure of ``template``; returns ``(tree, meta)``.

    (Called ``load`` before; that name still works, with a ``DeprecationWarning``.)
    """
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        older = [p for p in list_checkpoints(os.path.dirname(path)) if p < path]
        hint = (
            f"; the previous checkpoint {older[-1]} is intact: delete {path} to resume from it"
            if older
            else ""
        )
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({err}){hint}") from err
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(template)
    if len(arrays) != len(leaves_with_path):
        raise CheckpointError(
            f"checkpoint {path} holds {len(arrays)} arrays but this run expects "
            f"{len(leaves_with_path)}: it was written by a different model or optimizer"
        )
    leaves = []
    for i, (key_path, ref) in enumerate(leaves_with_path):
        value = arrays[f"leaf_{i}"]
        expected = _host(ref)
        if value.shape != expected.shape or value.dtype != expected.dtype:
            raise CheckpointError(
                f"checkpoint {path}: {jax.tree_util.keystr(key_path)} has shape {value.shape} "
                f"{value.dtype}, this run expects {expected.shape} {expected.dtype}; it was "
                "written by a different model shape"
            )
        if isinstance(ref, jax.Array) and jax.dtypes.issubdtype(ref.dtype, jax.dtypes.prng_key):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(ref))
        leaves.append(value)
    return jax.tree.unflatten(treedef, leaves), meta


__getattr__ = deprecated_aliases(__name__, {"load": restore})
