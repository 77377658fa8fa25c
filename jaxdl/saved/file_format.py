"""The on-disk format of a saved model: a directory that a later process turns back into the
same model, parameters and state.

    model-dir/
      manifest.json   format and library version, the model's type and config, the task, class
                      and feature names, the standardizer's mean/std, the training
                      hyperparameters, final metrics, checksums
      arrays.npz      every leaf of params and state, named by its pytree path
                      (``params['layers'][0]['W']``), read without pickle

The manifest's ``checksum`` is the SHA-256 of its canonical JSON (sorted keys, no spaces)
without the checksum itself; ``arrays.sha256`` is the SHA-256 of the ``arrays.npz`` file.
:func:`read_manifest` refuses a manifest from a newer format version and one whose checksum
does not match; :func:`check_target` says whether a path may become (or be replaced by) a saved
model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.atomic import _jsonable

FORMAT = "jaxdl-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


class ModelFileError(ValueError):
    """A saved-model directory that cannot be used (message names the path and the problem)."""


# -- model config -------------------------------------------------------------------------------
def model_config(model: Any) -> dict[str, Any]:
    """``{"type", "module", "config"}``: how to rebuild ``model``. Uses ``model.to_config()``
    and the nearest module (the type's own, or a package above it) with ``from_config``."""
    if hasattr(model, "to_config"):
        config = model.to_config()
    elif dataclasses.is_dataclass(model) and not isinstance(model, type):
        config = _jsonable(dataclasses.asdict(model))
    else:
        raise TypeError(f"model {type(model).__name__} has no to_config(); a saved model must be "
                        "rebuilt from its config")
    parts = type(model).__module__.split(".")
    for end in range(len(parts), 0, -1):
        module = importlib.import_module(".".join(parts[:end]))
        if callable(getattr(module, "from_config", None)):
            break
    else:
        module = importlib.import_module(type(model).__module__)
    return {"type": type(model).__name__, "module": module.__name__, "config": config}


def build_model(spec: Mapping[str, Any]) -> Any:
    """The model of :func:`model_config`'s ``spec`` (jaxdl's own model types only): the type's
    ``from_config`` classmethod, else its module's ``from_config``, else the dataclass built
    from the config's fields."""
    module_name, type_name = spec.get("module", ""), spec.get("type", "")
    if not isinstance(module_name, str) or not (
        module_name == "jaxdl" or module_name.startswith("jaxdl.")
    ):
        raise ValueError(f"model module {module_name!r} is not part of jaxdl; rebuild the model "
                         "yourself and pass it as load_model(path, model=...)")
    module = importlib.import_module(module_name)
    cls = getattr(module, str(type_name), None)
    from_config = getattr(cls, "from_config", None) if isinstance(cls, type) else None
    if callable(from_config):
        return from_config(spec["config"])
    if callable(getattr(module, "from_config", None)):
        return module.from_config(spec["config"])
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"{module_name} has no model type {type_name!r}")
    return cls(**spec["config"])


# -- arrays -------------------------------------------------------------------------------------
def flatten(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """``{prefix + keystr(path): leaf}`` for every leaf of ``tree``.

    >>> list(flatten("params", {"layers": [{"W": np.ones(2)}]}))
    ["params['layers'][0]['W']"]
    """
    return {name: np.asarray(leaf) for name, leaf in _named(prefix, tree).items()}


def _named(prefix: str, tree: Any) -> dict[str, Any]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {prefix + jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def _fill(source: str, prefix: str, template: Any, arrays: Mapping[str, np.ndarray]) -> Any:
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
        filled.append(value.astype(spec.dtype))
    return jax.tree_util.tree_unflatten(treedef, filled)


def _digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# -- directory ----------------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str, overwrite: bool) -> None:
    """``path`` may become a saved model: it does not exist, or ``overwrite`` and it is one."""
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise FileExistsError(
            f"{path} exists already; choose a new directory or pass overwrite=True (--overwrite)"
        )
    if not os.path.isfile(os.path.join(path, MANIFEST)):
        raise ValueError(f"{path} exists and is not a saved model; refusing to replace it")


def _swap(tmp: str, path: str) -> None:
    """Rename ``tmp`` to ``path``; an existing ``path`` is moved aside first, then removed."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    old = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.old-")
    os.rmdir(old)
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- manifest -----------------------------------------------------------------------------------
def _library_version() -> str:
    from jaxdl import __version__

    return __version__


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The checked manifest of the saved model in directory ``path``."""
    path = os.fspath(path)
    file = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ModelFileError(f"{path}: no such model directory")
    try:
        with open(file, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not a saved model (no {MANIFEST})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{file}: not valid JSON ({err}); the manifest was damaged or "
                             "edited") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{file}: not a jaxdl model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{file}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{file}: written by a newer jaxdl (format version {version}, jaxdl "
            f"{manifest.get('library_version')}); this jaxdl reads format version "
            f"{FORMAT_VERSION} at most: upgrade jaxdl"
        )
    if manifest.get("checksum") != _digest(_canonical(manifest)):
        raise ModelFileError(f"{file}: checksum mismatch; the manifest was changed after it "
                             "was saved: save the model again")
    return manifest
