"""The on-disk format of a saved model: a directory that a later process turns back into the
same model, parameters and state.

    model-dir/
      manifest.json   format and library version, the model's type and config, the task, class
                      and feature names, the one-hot encoding of text columns (version 2),
                      the standardizer's mean/std, the regression targets' mean/std
                      (``target_standardizer``, version 3), the training hyperparameters,
                      final metrics, checksums
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

This module holds the format's names and limits, :class:`ModelFileError` and the model types
(:func:`register_model`, :func:`model_config`, :func:`build_model`); the arrays are
:mod:`jaxdl.saved.saved_arrays`, the manifest :mod:`jaxdl.saved.manifest` and the directory
:mod:`jaxdl.saved.model_directory`. Their names are importable from here as before (and from
``jaxdl.saved``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from jaxdl import layers, nn
from jaxdl.infra.atomic import jsonable
from jaxdl.layers import base as layer_base

FORMAT = "jaxdl-model"
#: The newest format this jaxdl reads. A model with a ``target_standardizer`` (regression
#: targets standardized inside the model) is written as version 3, one with a one-hot
#: ``encoding`` as version 2 (an older jaxdl refuses either instead of ignoring the field and
#: predicting in other units or from other columns); others as version 1.
FORMAT_VERSION = 3
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


#: The names that moved to the modules of one idea each (issue 24), importable from here as
#: before; imported when first used (those modules raise this module's ModelFileError).
_MOVED = {
    "flatten": "jaxdl.saved.saved_arrays",
    "named_leaves": "jaxdl.saved.saved_arrays",
    "fill_tree": "jaxdl.saved.saved_arrays",
    "read_arrays": "jaxdl.saved.saved_arrays",
    "expected_bytes": "jaxdl.saved.saved_arrays",
    "sha256_hex": "jaxdl.saved.saved_arrays",
    "check_target": "jaxdl.saved.model_directory",
    "install": "jaxdl.saved.model_directory",
    "manifest_checksum": "jaxdl.saved.manifest",
    "library_version": "jaxdl.saved.manifest",
    "read_manifest": "jaxdl.saved.manifest",
    "check_manifest": "jaxdl.saved.manifest",
    "check_encoding": "jaxdl.saved.manifest",
    "check_names": "jaxdl.saved.manifest",
    "check_statistics": "jaxdl.saved.manifest",
}


def __getattr__(name: str) -> Any:
    """A name that moved out of this module (:data:`_MOVED`), from its new home."""
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
