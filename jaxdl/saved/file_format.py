"""The on-disk format of a saved model: a directory that a later process turns back into the
same model, parameters and state.

    model-dir/
      manifest.json   format and library version, the model's type and config, the task, class
                      and feature names, the one-hot encoding of text columns (version 2),
                      the standardizer's mean/std, the training hyperparameters, final
                      metrics, checksums
      arrays.npz      every leaf of params and state, named by its pytree path
                      (``params['layers'][0]['W']``), read without pickle

The manifest's ``checksum`` is the SHA-256 of its canonical JSON (sorted keys, no spaces)
without the checksum itself; ``arrays.sha256`` is the SHA-256 of the ``arrays.npz`` file.
The checksums catch damage, not tampering (anyone can edit a manifest and seal it again), so a
saved model is untrusted input: :func:`read_manifest` reads only a regular file of at most
:data:`MANIFEST_MAX_BYTES`, refuses a newer format version, a checksum that does not match and
every field that does not make sense (:func:`check_manifest`); the arrays file is always
``arrays.npz`` inside the directory, whatever the manifest says; the model type is looked up
among the known types (:func:`register_model`), never imported from a module the manifest
names. :func:`check_target` says whether a path may become (or be replaced by) a saved model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxdl import layers, nn
from jaxdl.infra import untrusted
from jaxdl.infra.atomic import jsonable
from jaxdl.layers import base as layer_base

FORMAT = "jaxdl-model"
#: The newest format this jaxdl reads. A model with a one-hot ``encoding`` is written as
#: version 2 (an older jaxdl refuses it instead of ignoring the encoding); others as version 1.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: The largest manifest :func:`read_manifest` reads: 16 MiB.
MANIFEST_MAX_BYTES = 16 << 20
TASKS = ("classification", "regression")


class ModelFileError(ValueError):
    """A saved-model directory that cannot be used (message names the path and the problem)."""


# -- model types --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _ModelType:
    cls: type
    build: Callable[[Any], Any]
    module: str  # what the manifest's informational "module" field says


_MODEL_TYPES: dict[str, _ModelType] = {}


def register_model(cls: type, from_config: Callable[[Any], Any] | None = None) -> type:
    """Make ``load_model`` able to rebuild ``cls`` from a manifest that names it (a decorator).

    A saved model names its type; :func:`load_model` looks that name up here and never imports
    a module a file names. The built-in types (:class:`jaxdl.nn.MLP`,
    :class:`jaxdl.layers.Sequential`) are registered already. A layer class (a
    :class:`jaxdl.layers.Layer` subclass, used inside a ``Sequential``) is registered with
    :mod:`jaxdl.layers` instead, under its class name, so a ``Sequential`` holding it rebuilds.

    Args:
      cls: a model class with ``to_config()`` and a ``from_config`` classmethod, or a dataclass
        (rebuilt from its fields), or a layer class.
      from_config: the function that turns ``to_config()``'s dict back into a model (default:
        ``cls.from_config``, else the dataclass's constructor).

    Returns:
      ``cls``.

    Raises:
      ValueError: for another class (of another module or qualified name) registered under
        the same name; a class defined again (a notebook cell run twice) replaces its old
        definition.
      TypeError: for a class that cannot be rebuilt from a config.

    Examples:
      >>> from jaxdl.saved.file_format import register_model, build_model
      >>> import dataclasses
      >>> @register_model
      ... @dataclasses.dataclass(frozen=True)
      ... class Linear:
      ...     features: int
      >>> build_model({"type": "Linear", "config": {"features": 3}})
      Linear(features=3)
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_model expects a class, got {cls!r}")
    if issubclass(cls, layers.Layer) and not getattr(cls, "is_model", False):
        layer_base.register(cls)
        return cls
    known = _MODEL_TYPES.get(cls.__name__)
    if known is not None and _where(known.cls) != _where(cls):  # a redefinition replaces it
        raise ValueError(f"another model type is registered as {cls.__name__!r} already "
                         f"({_where(known.cls)}); rename the class")
    build = from_config if from_config is not None else getattr(cls, "from_config", None)
    if build is None and dataclasses.is_dataclass(cls):
        def build(config: Any) -> Any:
            if not isinstance(config, Mapping):
                raise TypeError(f"config must be a dict of {cls.__name__} fields, got {config!r}")
            return cls(**config)
    if not callable(build):
        raise TypeError(f"{cls.__name__} has no from_config and is no dataclass: pass "
                        "register_model(cls, from_config=...) to say how to rebuild it")
    _MODEL_TYPES[cls.__name__] = _ModelType(cls, build, cls.__module__)
    return cls


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_MODEL_TYPES["MLP"] = _ModelType(nn.MLP, nn.from_config, "jaxdl.nn")
_MODEL_TYPES["Sequential"] = _ModelType(layers.Sequential, layers.from_config, "jaxdl.layers")


def lacking_config(model: Any) -> str | None:
    """The part of ``model`` (the model itself, or a layer inside it) that cannot describe
    itself as a config, or ``None`` when every part can. A model needs ``to_config()`` or to be
    a dataclass; a layer inside it (in ``layers``) needs ``to_config()``.

    >>> from jaxdl.saved.file_format import lacking_config
    >>> from jaxdl import layers
    >>> class Pad1D:  # a user's layer without to_config()
    ...     pass
    >>> model = layers.Sequential(layers.Dense(2), input_shape=(3,))
    >>> lacking_config(model) is None
    True
    >>> object.__setattr__(model, "layers", (layers.Dense(2), Pad1D()))
    >>> lacking_config(model)
    'layer Pad1D (layers[1])'
    """
    if not hasattr(model, "to_config") and not (
        dataclasses.is_dataclass(model) and not isinstance(model, type)
    ):
        return f"model {type(model).__name__}"
    return _lacking_layer(model, "")


def _lacking_layer(part: Any, path: str) -> str | None:
    children = getattr(part, "layers", ())
    if not isinstance(children, tuple | list):
        return None
    for i, child in enumerate(children):
        where = f"{path}.layers[{i}]" if path else f"layers[{i}]"
        if not hasattr(child, "to_config"):
            return f"layer {type(child).__name__} ({where})"
        found = _lacking_layer(child, where)
        if found:
            return found
    return None


def model_config(model: Any) -> dict[str, Any]:
    """``{"type", "module", "config"}``: how to rebuild ``model`` (``config`` from
    ``model.to_config()``, or the fields of a dataclass). ``module`` is informational:
    :func:`build_model` looks ``type`` up among the registered types.

    Raises:
      TypeError: when a part of the model has no ``to_config()`` (see :func:`lacking_config`).

    >>> from jaxdl.saved.file_format import model_config
    >>> from jaxdl.nn import MLP
    >>> spec = model_config(MLP((2, 1)))
    >>> spec["type"], spec["module"], spec["config"]["sizes"]
    ('MLP', 'jaxdl.nn', [2, 1])
    """
    missing = lacking_config(model)
    if missing is not None:
        raise TypeError(f"{missing} has no to_config(); a saved model must be rebuilt from its "
                        "config: give it one (subclass jaxdl.layers.Layer), or load the saved "
                        "model with load_model(path, model=...)")
    if hasattr(model, "to_config"):
        config = model.to_config()
    else:
        config = jsonable(dataclasses.asdict(model))
    known = _MODEL_TYPES.get(type(model).__name__)
    module = known.module if known is not None and known.cls is type(model) else (
        type(model).__module__)
    return {"type": type(model).__name__, "module": module, "config": config}


def build_model(spec: Mapping[str, Any], where: str = "manifest") -> Any:
    """The model that a manifest's ``model`` entry describes, rebuilt by the registered type of
    that name (see :func:`register_model`); no module is imported.

    Args:
      spec: ``{"type": name, "config": dict}`` as :func:`model_config` made it.
      where: the file, for error messages.

    Raises:
      ModelFileError: for a type that is not registered, a missing config, or a config that
        does not build the type.

    >>> from jaxdl.saved.file_format import build_model
    >>> build_model({"type": "MLP", "config": {"sizes": [2, 1]}})
    MLP(sizes=(2, 1), ...)
    """
    if not isinstance(spec, Mapping):
        raise ModelFileError(f"{where}: field 'model' must be an object with 'type' and "
                             f"'config', got {type(spec).__name__}")
    type_name, config = spec.get("type"), spec.get("config")
    known = _MODEL_TYPES.get(type_name) if isinstance(type_name, str) else None
    if known is None:
        module = spec.get("module")
        named = f" (module {module!r})" if isinstance(module, str) else ""
        raise ModelFileError(
            f"{where}: field 'model.type' {type_name!r}{named} is not part of jaxdl nor "
            f"a registered model type (known: {', '.join(sorted(_MODEL_TYPES))}); jaxdl never "
            "imports a module a file names: register the class with "
            "jaxdl.saved.register_model(cls), or rebuild the model yourself and pass "
            "load_model(path, model=...)")
    if config is None:
        raise ModelFileError(f"{where}: the {type_name} was saved without a config (a part of "
                             "it had no to_config()); rebuild the model yourself and pass "
                             "load_model(path, model=...)")
    try:
        model = known.build(config)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as err:
        hint = (" (register the layer class with jaxdl.saved.register_model, or pass "
                "load_model(path, model=...))" if "unknown layer type" in str(err) else "")
        raise ModelFileError(f"{where}: field 'model.config' does not build a {type_name}: "
                             f"{err}{hint}") from None
    if not isinstance(model, known.cls):
        raise ModelFileError(f"{where}: field 'model.config' built a {type(model).__name__}, "
                             f"not a {type_name}")
    return model


# -- arrays -------------------------------------------------------------------------------------
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


def manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """The checksum a manifest carries: the SHA-256 of its canonical JSON without the
    ``checksum`` field (sorted keys, no spaces).

    >>> from jaxdl.saved.file_format import manifest_checksum
    >>> manifest_checksum({"a": 1}) == manifest_checksum({"a": 1, "checksum": "x"})
    True
    """
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


# -- directory ----------------------------------------------------------------------------------
def check_target(path: str, overwrite: bool) -> None:
    """``path`` may become a saved model: it does not exist, or ``overwrite`` and it is a saved
    model holding only the files jaxdl wrote (``manifest.json`` and ``arrays.npz``).

    ``overwrite`` never deletes anything else: a directory that also holds other files (notes,
    plots) is refused, and the error names them.

    >>> from jaxdl.saved.file_format import MANIFEST, check_target
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in (MANIFEST, "notes.txt"):
    ...     _ = open(os.path.join(folder, name), "w").write("{}")
    >>> check_target(folder, overwrite=True)
    Traceback (most recent call last):
    ValueError: ... holds files that jaxdl did not write (notes.txt); ...
    """
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise FileExistsError(
            f"{path} exists already; choose a new directory or pass overwrite=True (--overwrite)"
        )
    if os.path.islink(path):
        raise ValueError(f"{path} is a symlink; refusing to replace it: remove the link or "
                         "choose another directory")
    if not os.path.isfile(os.path.join(path, MANIFEST)):
        raise ValueError(f"{path} exists and is not a saved model; refusing to replace it")
    others = sorted(set(os.listdir(path)) - {MANIFEST, ARRAYS})
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ValueError(
            f"{path} holds files that jaxdl did not write ({shown}); overwrite=True "
            f"(--overwrite) replaces only a saved model's {MANIFEST} and {ARRAYS}: move the "
            "other files out, or choose another directory"
        )


def install(tmp: str, path: str) -> None:
    """Rename the finished directory ``tmp`` to ``path``; an existing ``path`` is moved aside
    first, then its manifest and arrays are removed (anything else that appeared meanwhile is
    kept, with a warning).

    >>> from jaxdl.saved.file_format import install
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> tmp = os.path.join(root, ".m.tmp"); os.mkdir(tmp)
    >>> install(tmp, os.path.join(root, "m")); os.listdir(root)
    ['m']
    """
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
    for name in (MANIFEST, ARRAYS):
        try:
            os.remove(os.path.join(old, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(old)
    except OSError:
        warnings.warn(f"{path}: files other than a saved model's appeared while it was "
                      f"replaced; they are kept in {old}", stacklevel=3)


# -- manifest -----------------------------------------------------------------------------------
def library_version() -> str:
    """The jaxdl version that writes a manifest.

    >>> from jaxdl.saved.file_format import library_version
    >>> library_version() == __import__("jaxdl").__version__
    True
    """
    from jaxdl import __version__

    return __version__


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a number a manifest may hold")


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The checked manifest of the saved model in directory ``path``.

    ``manifest.json`` must be a regular file (not a FIFO or device) of at most
    :data:`MANIFEST_MAX_BYTES`, valid JSON of a known format version whose checksum matches,
    and every field must make sense (:func:`check_manifest`).

    Raises:
      ModelFileError: naming the file and the problem.
    """
    path = os.fspath(path)
    file = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ModelFileError(f"{path}: no such model directory")
    try:
        text = untrusted.read_bytes(file, what="manifest", max_bytes=MANIFEST_MAX_BYTES)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not a saved model (no {MANIFEST})") from None
    except untrusted.UntrustedFileError as err:
        raise ModelFileError(f"{path}: {err}") from None
    try:
        manifest = json.loads(text.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{file}: not valid JSON ({err}); the manifest was damaged or "
                             "edited") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{file}: not a jaxdl model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{file}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{file}: written by a newer jaxdl (format version {version}, jaxdl "
            f"{manifest.get('library_version')}); this jaxdl reads format version "
            f"{FORMAT_VERSION} at most: upgrade jaxdl"
        )
    if manifest.get("checksum") != manifest_checksum(manifest):
        raise ModelFileError(f"{file}: checksum mismatch; the manifest was changed after it "
                             "was saved: save the model again")
    check_manifest(manifest, file)
    return manifest


def check_manifest(manifest: Mapping[str, Any], file: str = MANIFEST) -> None:
    """Refuse a manifest whose fields do not make sense, naming the field.

    ``model`` and ``arrays`` must be there; ``task`` is classification or regression;
    ``class_names`` (classification only) and ``feature_names`` are lists of distinct strings;
    ``standardizer`` has ``mean`` and ``std`` of finite numbers of one length, ``std > 0``, as
    many as the model's inputs (``feature_names``, with each one-hot column of ``encoding``
    counted, see :func:`check_encoding`); ``arrays.file`` is ``arrays.npz`` (never another path).
    What depends on the model (widths, array shapes) is checked when it is loaded.

    >>> from jaxdl.saved.file_format import check_manifest, ARRAYS
    >>> check_manifest({"model": {"type": "MLP", "config": {}}, "task": "ranking",
    ...                 "arrays": {"file": ARRAYS, "sha256": "0" * 64}})
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: manifest.json: field 'task' must be ...
    """
    for key in ("model", "arrays", "task"):
        if key not in manifest:
            raise ModelFileError(f"{file}: no {key!r} entry; the manifest was not written by "
                                 "jaxdl's save_model")
    model, arrays, task = manifest["model"], manifest["arrays"], manifest["task"]
    if not isinstance(model, dict) or not isinstance(model.get("type"), str):
        raise ModelFileError(f"{file}: field 'model' must be an object with a 'type' string")
    if model.get("config") is not None and not isinstance(model["config"], dict):
        raise ModelFileError(f"{file}: field 'model.config' must be an object")
    if task not in TASKS:
        raise ModelFileError(f"{file}: field 'task' must be 'classification' or 'regression', "
                             f"got {task!r}")
    if not isinstance(arrays, dict):
        raise ModelFileError(f"{file}: field 'arrays' must be an object")
    if arrays.get("file") != ARRAYS:
        raise ModelFileError(f"{file}: field 'arrays.file' is {arrays.get('file')!r}; the "
                             f"arrays of a saved model are always {ARRAYS!r} inside its "
                             "directory, and jaxdl follows no other path a file names")
    if not (isinstance(arrays.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}",
                                                                   arrays["sha256"])):
        raise ModelFileError(f"{file}: field 'arrays.sha256' must be 64 hex digits")
    names = check_names("class_names", manifest.get("class_names"), file)
    if names is not None and task != "classification":
        raise ModelFileError(f"{file}: field 'class_names' is for classification, but the "
                             "task is regression")
    if names is not None and len(names) < 2:
        raise ModelFileError(f"{file}: field 'class_names' names {len(names)} class(es); a "
                             "classifier has two or more")
    features = check_names("feature_names", manifest.get("feature_names"), file)
    target = manifest.get("target")
    if target is not None and not isinstance(target, str):
        raise ModelFileError(f"{file}: field 'target' must be a string or null")
    inputs = check_encoding(manifest.get("encoding"), features, file)
    stats = manifest.get("standardizer")
    if stats is not None:
        width = check_statistics(stats, file)
        if inputs is not None and width != inputs:
            raise ModelFileError(f"{file}: field 'standardizer' has {width} entries but "
                                 f"'feature_names' names {inputs} model inputs"
                                 + (" (one-hot columns counted)" if manifest.get("encoding")
                                    else ""))
    for key in ("hyperparameters", "metrics", "metadata"):
        if not isinstance(manifest.get(key, {}), dict | type(None)):
            raise ModelFileError(f"{file}: field {key!r} must be an object")


def check_encoding(entry: Any, features: tuple[str, ...] | None,
                   file: str = MANIFEST) -> int | None:
    """The number of model inputs that ``feature_names`` and the ``encoding`` entry describe
    (``None`` without feature names): ``entry`` is ``None`` or ``{"one_hot": {column:
    [categories]}}`` where every column is one of ``features`` and its categories are a
    non-empty sorted list of distinct non-empty strings. Each such column counts one input per
    category, any other feature one.

    >>> from jaxdl.saved.file_format import check_encoding
    >>> check_encoding({"one_hot": {"sex": ["f", "m"]}}, ("age", "sex"))
    3
    >>> check_encoding({"one_hot": {"sex": ["m", "f"]}}, ("age", "sex"), "m/manifest.json")
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: m/manifest.json: field 'encoding.one_hot.sex' ...
    """
    if entry is None:
        return None if features is None else len(features)
    if not isinstance(entry, dict) or set(entry) != {"one_hot"} or not isinstance(
            entry["one_hot"], dict) or not entry["one_hot"]:
        raise ModelFileError(f"{file}: field 'encoding' must be null or an object "
                             "{'one_hot': {column: [categories]}} naming at least one column, "
                             f"got {_short(entry)}")
    if features is None:
        raise ModelFileError(f"{file}: field 'encoding' names columns but 'feature_names' is "
                             "missing")
    width = len(features)
    for column, categories in entry["one_hot"].items():
        if column not in features:
            raise ModelFileError(f"{file}: field 'encoding.one_hot' names the column "
                                 f"{_short(column)}, which is not in 'feature_names'")
        field = f"encoding.one_hot.{column}"
        check_names(field, categories, file)
        if not categories or list(categories) != sorted(categories):
            raise ModelFileError(f"{file}: field {field!r} must be a non-empty sorted list of "
                                 f"categories, got {_short(categories)}")
        width += len(categories) - 1
    return width


def check_names(field: str, names: Any, file: str = MANIFEST) -> tuple[str, ...] | None:
    """``names`` (``None``, or a list of distinct non-empty strings) as a tuple.

    >>> from jaxdl.saved.file_format import check_names
    >>> check_names("class_names", "cat", "m/manifest.json")
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: m/manifest.json: field 'class_names' must be ...
    """
    if names is None:
        return None
    if not isinstance(names, list | tuple) or not all(
        isinstance(n, str) and n for n in names
    ):
        raise ModelFileError(f"{file}: field {field!r} must be a list of non-empty strings "
                             f"(one a column), got {_short(names)}")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ModelFileError(f"{file}: field {field!r} names {', '.join(twice[:5])} twice")
    return tuple(names)


def check_statistics(stats: Any, file: str = MANIFEST) -> int:
    """The width of a standardizer entry ``{"mean": [...], "std": [...]}`` whose numbers are
    finite, of one length, and ``std > 0``.

    >>> from jaxdl.saved.file_format import check_statistics
    >>> check_statistics({"mean": [0.0, 1.0], "std": [1.0, 0.0]})
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: manifest.json: field 'standardizer.std' ...
    """
    if not isinstance(stats, dict) or set(stats) != {"mean", "std"}:
        raise ModelFileError(f"{file}: field 'standardizer' must be an object with 'mean' and "
                             "'std' (or null)")
    values = {}
    for key in ("mean", "std"):
        value = stats[key]
        if not isinstance(value, list) or not value or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        ):
            raise ModelFileError(f"{file}: field 'standardizer.{key}' must be a non-empty list "
                                 f"of finite numbers, got {_short(value)}")
        values[key] = value
    if len(values["mean"]) != len(values["std"]):
        raise ModelFileError(f"{file}: field 'standardizer' has {len(values['mean'])} means "
                             f"but {len(values['std'])} standard deviations")
    bad = [i for i, v in enumerate(values["std"]) if v <= 0]
    if bad:
        raise ModelFileError(f"{file}: field 'standardizer.std' is {values['std'][bad[0]]!r} "
                             f"at feature {bad[0]}; standard deviations must be > 0")
    return len(values["std"])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
