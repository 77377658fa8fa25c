"""Saved models: :func:`save_model` writes a model with its parameters, state and the data's
statistics to a directory (format: :mod:`jaxdl.saved.file_format`), :func:`load_model` reads it
back as a :class:`SavedModel` that predicts from raw features.

The directory is built under a temporary name beside ``path`` and renamed into place, so it
appears whole or not at all; an existing directory is replaced only with ``overwrite=True``
and only when it is itself a saved model. Loading rebuilds the model from its config, takes the
parameter layout from ``model.init`` (shapes only, nothing is computed) and refuses a manifest
from a newer format version, a manifest whose checksum does not match (changed after saving),
a changed, missing or extra array, and a shape that does not fit. A saved model is untrusted
input (see :mod:`jaxdl.saved.file_format`): every field is checked, the model type is looked up
among the registered ones (:func:`~jaxdl.saved.file_format.register_model`), and the arrays are
read from ``arrays.npz`` inside the directory only, as numbers, finite, and no larger than the
model's shapes allow. ``overwrite=True`` replaces only a directory that holds nothing but a saved
model's two files.

:class:`SavedModel` and :func:`infer` live in :mod:`jaxdl.saved.loaded_model`, the checks that a
model fits its names and statistics (:func:`check_fits`, :func:`input_shape`) in
:mod:`jaxdl.saved.model_fit`; both are importable from here too.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.data.encoding import Encoding, to_manifest
from jaxdl.data.normalize import Standardizer
from jaxdl.infra import untrusted
from jaxdl.infra.atomic import atomic_write, jsonable, umask
from jaxdl.layers.standardize import Standardized
from jaxdl.saved.file_format import (
    ARRAYS,
    FORMAT,
    MANIFEST,
    TASKS,
    ModelFileError,
    build_model,
    lacking_config,
    model_config,
)
from jaxdl.saved.loaded_model import SavedModel
from jaxdl.saved.loaded_model import infer as infer
from jaxdl.saved.manifest import (
    check_encoding,
    check_names,
    check_statistics,
    library_version,
    manifest_checksum,
    read_manifest,
)
from jaxdl.saved.model_directory import (
    check_target,
    install,
)
from jaxdl.saved.model_fit import check_fits, input_shape
from jaxdl.saved.saved_arrays import (
    expected_bytes,
    fill_tree,
    flatten,
    named_leaves,
    read_arrays,
    sha256_hex,
)


# -- save ---------------------------------------------------------------------------------------
def save_model(
    path: str | os.PathLike,
    model: Any,
    params: Any,
    state: Any,
    *,
    standardizer: Standardizer | None = None,
    task: str | None = None,
    class_names: tuple[str, ...] | None = None,
    feature_names: tuple[str, ...] | None = None,
    target: str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    data: Any = None,
    overwrite: bool = False,
    encoding: Encoding | None = None,
) -> str:
    """Write ``model`` with ``params`` and ``state`` to the directory ``path``, atomically.

    A :class:`jaxdl.layers.Standardized` model is saved as its inner model with its training
    statistics as the saved model's ``standardizer`` (per-channel statistics repeated for every
    pixel), which :meth:`SavedModel.predict` applies to raw input; ``standardizer`` is then an
    error (the model carries its own). Any other model is saved with ``standardizer`` only when
    it is given: a model trained on raw features predicts from raw features. The regression
    targets' statistics of a :class:`~jaxdl.layers.Standardized` model with ``targets=`` are
    saved as its ``target_standardizer`` (format version 3), so :meth:`SavedModel.predict`
    gives values in the targets' units, as the model in memory does.

    ``task`` defaults to ``"regression"`` for a model with target statistics, else
    ``"classification"``. ``data`` (a :class:`~jaxdl.data.datasets.Dataset`) fills ``task``,
    ``class_names``, ``feature_names``, ``target`` and ``encoding`` (the one-hot encoding of a
    table's text columns, :mod:`jaxdl.data.encoding`) from the data it was trained on; never
    the standardizer, which only a :class:`~jaxdl.layers.Standardized` model applies.

    >>> import os
    >>> from jaxdl.saved.saved_model import save_model
    >>> import jax, tempfile
    >>> from jaxdl.nn import MLP
    >>> model = MLP((2, 3, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> path = save_model(tempfile.mkdtemp() + "/m", model, params, state)
    >>> sorted(os.listdir(path))
    ['arrays.npz', 'manifest.json']
    """
    targets = None
    if isinstance(model, Standardized):
        if standardizer is not None:
            raise ValueError("the model is Standardized: it carries its own standardizer, so "
                             "passing standardizer= too would standardize twice; leave it out")
        shape = input_shape(model.model)
        width = math.prod(shape) if shape is not None else int(np.size(model.mean))
        standardizer = Standardizer(*model.flat_statistics(width))
        targets = _entry(model.target_stats)
        model = model.model
    if data is not None:
        task = getattr(data, "task", task)
        class_names = class_names or getattr(data, "class_names", None)
        feature_names = feature_names or getattr(data, "feature_names", None)
        target = target or getattr(data, "target", None)
        encoding = encoding or getattr(data, "encoding", None)
    if task is None:  # a model that de-standardizes regression targets is a regressor
        task = "regression" if targets is not None else "classification"
    if task not in TASKS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    where = "save_model"
    names = _checked_names("class_names", class_names, where)
    if names is not None and task != "classification":
        raise ValueError("class_names only apply to task='classification'")
    features = _checked_names("feature_names", feature_names, where)
    stats = _entry(standardizer)
    if stats is not None:
        check_statistics(stats, where)
    if targets is not None:
        check_statistics(targets, where, "target_standardizer")
        if task != "regression":
            raise ValueError("the model standardizes regression targets (targets=), but the "
                             f"task is {task!r}; save it with task='regression' (or data=)")
    one_hot = to_manifest(encoding)
    if one_hot is not None:
        check_encoding(one_hot, features, where)
    path = os.path.abspath(os.fspath(path))
    check_target(path, overwrite)
    arrays = {**flatten("params", params), **flatten("state", state)}
    template = jax.eval_shape(model.init, jax.random.key(0))
    expected = {**named_leaves("params", template[0]), **named_leaves("state", template[1])}
    for name, spec in expected.items():
        if name not in arrays or arrays[name].shape != spec.shape:
            got = arrays[name].shape if name in arrays else "nothing"
            raise ValueError(f"params/state do not fit the model: {name} should have shape "
                             f"{spec.shape}, got {got}")
    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ValueError(f"{name} holds NaN or inf; training diverged: save a model "
                             "whose parameters are finite")
    check_fits(where, model, template, task, names, features, stats, one_hot, targets)
    missing = lacking_config(model)
    if missing is None:
        spec_of_model = model_config(model)
    else:
        warnings.warn(f"{missing} has no to_config(), so the saved model cannot rebuild it: "
                      "load it with load_model(path, model=...)", stacklevel=2)
        spec_of_model = {"type": type(model).__name__, "module": type(model).__module__,
                         "config": None}
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.tmp-")
    try:
        atomic_write(os.path.join(tmp, ARRAYS), lambda f: np.savez(f, **arrays),  # type: ignore[arg-type]
                     mode="wb")
        with open(os.path.join(tmp, ARRAYS), "rb") as f:
            arrays_digest = sha256_hex(f.read())
        manifest = jsonable({
            "format": FORMAT,
            "format_version": 3 if targets is not None else 1 if one_hot is None else 2,
            "library_version": library_version(),
            "model": spec_of_model,
            "task": task,
            "class_names": list(names) if names else None,
            "feature_names": list(features) if features else None,
            "target": target,
            "standardizer": stats,
            **({} if targets is None else {"target_standardizer": targets}),
            **({} if one_hot is None else {"encoding": one_hot}),
            "hyperparameters": dict(hyperparameters or {}),
            "metrics": dict(metrics or {}),
            "metadata": dict(metadata or {}),
            "arrays": {"file": ARRAYS, "sha256": arrays_digest,
                       "shapes": {k: list(v.shape) for k, v in arrays.items()}},
        })
        manifest["checksum"] = manifest_checksum(manifest)
        text = json.dumps(manifest, indent=1) + "\n"
        atomic_write(os.path.join(tmp, MANIFEST), lambda f: f.write(text))
        os.chmod(tmp, 0o777 & ~umask())
        install(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# -- load ---------------------------------------------------------------------------------------
def load_model(path: str | os.PathLike, model: Any = None) -> SavedModel:
    """Load the saved model in directory ``path``; ``model`` rebuilds a model type that is
    not part of jaxdl (its config must match what was saved).

    Args:
        path: a directory written by :func:`save_model`.
        model: the model to fill with the saved arrays; ``None`` rebuilds it from the manifest.

    Returns:
        The :class:`SavedModel`.

    Raises:
        ModelFileError: for a directory that is missing, damaged, changed or from a newer jaxdl.

    Examples:
        >>> import numpy as np
        >>> from jaxdl.saved.saved_model import save_model, load_model
        >>> import jax, tempfile
        >>> from jaxdl.nn import MLP
        >>> params, state = MLP((2, 3, 1)).init(jax.random.key(0))
        >>> path = save_model(tempfile.mkdtemp() + "/m", MLP((2, 3, 1)), params, state)
        >>> saved = load_model(path)
        >>> saved.model, saved.task, saved.predict(np.zeros((1, 2))).shape
        (MLP(sizes=(2, 3, 1), ...), 'classification', (1, 2))
    """
    path = os.fspath(path)
    manifest = read_manifest(path)
    file = os.path.join(path, MANIFEST)
    model = build_model(manifest["model"], file) if model is None else model
    template = jax.eval_shape(model.init, jax.random.key(0))
    expected = {**named_leaves("params", template[0]), **named_leaves("state", template[1])}
    arrays_file = os.path.join(path, ARRAYS)
    try:
        blob = untrusted.read_bytes(arrays_file, what="arrays file",
                                    max_bytes=expected_bytes(expected))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: {ARRAYS} is missing") from None
    except untrusted.UntrustedFileError as err:
        raise ModelFileError(f"{path}: {err} (the most this model's arrays take)") from None
    if sha256_hex(blob) != manifest["arrays"]["sha256"]:
        raise ModelFileError(f"{arrays_file}: checksum mismatch; the arrays were changed after "
                             "saving")
    arrays = read_arrays(blob, arrays_file, expected)
    params = fill_tree(path, "params", template[0], arrays)
    state = fill_tree(path, "state", template[1], arrays)
    stats = manifest.get("standardizer")
    targets = manifest.get("target_standardizer")  # absent before format version 3
    check_fits(file, model, template, manifest["task"], _names(manifest, "class_names"),
               _names(manifest, "feature_names"), stats, manifest.get("encoding"), targets)
    return SavedModel(path, model, params, state, _statistics(stats), manifest,
                      _statistics(targets))


def _entry(stats: Any) -> dict[str, list[float]] | None:
    """A manifest entry ``{"mean": [...], "std": [...]}`` of statistics (float64: exact in JSON,
    as fitted), or ``None``."""
    if stats is None:
        return None
    return {"mean": np.asarray(stats.mean, np.float64).ravel().tolist(),
            "std": np.asarray(stats.std, np.float64).ravel().tolist()}


def _statistics(entry: Mapping[str, Any] | None) -> Standardizer | None:
    """The :class:`Standardizer` of a manifest entry, or ``None``."""
    if entry is None:
        return None
    return Standardizer(np.asarray(entry["mean"], np.float64),
                        np.asarray(entry["std"], np.float64))


def _checked_names(field: str, names: Any, where: str) -> tuple[str, ...] | None:
    """``names`` checked by :func:`check_names` (``None`` or empty: none)."""
    if names is None or len(names) == 0:
        return None
    return check_names(field, names if isinstance(names, str) else list(names), where)


def _names(manifest: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    names = manifest.get(key)
    return tuple(names) if names else None
