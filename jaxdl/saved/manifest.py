"""The saved model's ``manifest.json``: its checksum, read as untrusted input
(:func:`read_manifest`) and every field checked (:func:`check_manifest`,
:func:`check_encoding`, :func:`check_names`, :func:`check_statistics`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from jaxdl.infra import untrusted
from jaxdl.saved import file_format
from jaxdl.saved.file_format import MANIFEST, ModelFileError
from jaxdl.saved.saved_arrays import sha256_hex


def manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """The checksum a manifest carries: the SHA-256 of its canonical JSON without the
    ``checksum`` field (sorted keys, no spaces).

    >>> from jaxdl.saved.file_format import manifest_checksum
    >>> manifest_checksum({"a": 1}) == manifest_checksum({"a": 1, "checksum": "x"})
    True
    """
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


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
        text = untrusted.read_bytes(file, what="manifest", max_bytes=file_format.MANIFEST_MAX_BYTES)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not a saved model (no {MANIFEST})") from None
    except untrusted.UntrustedFileError as err:
        raise ModelFileError(f"{path}: {err}") from None
    try:
        manifest = json.loads(text.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{file}: not valid JSON ({err}); the manifest was damaged or "
                             "edited") from None
    if not isinstance(manifest, dict) or manifest.get("format") != file_format.FORMAT:
        raise ModelFileError(f"{file}: not a jaxdl model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{file}: bad format_version {version!r}")
    if version > file_format.FORMAT_VERSION:
        raise ModelFileError(
            f"{file}: written by a newer jaxdl (format version {version}, jaxdl "
            f"{manifest.get('library_version')}); this jaxdl reads format version "
            f"{file_format.FORMAT_VERSION} at most: upgrade jaxdl"
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
    counted, see :func:`check_encoding`); ``target_standardizer`` (regression only; absent in
    models saved before it existed) likewise, one entry per output; ``arrays.file`` is
    ``arrays.npz`` (never another path).
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
    if task not in file_format.TASKS:
        raise ModelFileError(f"{file}: field 'task' must be 'classification' or 'regression', "
                             f"got {task!r}")
    if not isinstance(arrays, dict):
        raise ModelFileError(f"{file}: field 'arrays' must be an object")
    if arrays.get("file") != file_format.ARRAYS:
        raise ModelFileError(f"{file}: field 'arrays.file' is {arrays.get('file')!r}; the "
                             f"arrays of a saved model are always {file_format.ARRAYS!r} inside "
                             "its directory, and jaxdl follows no other path a file names")
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
    targets = manifest.get("target_standardizer")
    if targets is not None:
        check_statistics(targets, file, "target_standardizer")
        if task != "regression":
            raise ModelFileError(f"{file}: field 'target_standardizer' is for regression, but "
                                 "the task is classification")
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


def check_statistics(stats: Any, file: str = MANIFEST, field: str = "standardizer") -> int:
    """The width of a standardizer entry ``{"mean": [...], "std": [...]}`` whose numbers are
    finite, of one length, and ``std > 0``; ``field`` names it in errors (``standardizer`` or
    ``target_standardizer``).

    >>> from jaxdl.saved.file_format import check_statistics
    >>> check_statistics({"mean": [0.0, 1.0], "std": [1.0, 0.0]})
    Traceback (most recent call last):
    jaxdl.saved.file_format.ModelFileError: manifest.json: field 'standardizer.std' ...
    """
    if not isinstance(stats, dict) or set(stats) != {"mean", "std"}:
        raise ModelFileError(f"{file}: field {field!r} must be an object with 'mean' and "
                             "'std' (or null)")
    values = {}
    for key in ("mean", "std"):
        value = stats[key]
        if not isinstance(value, list) or not value or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        ):
            raise ModelFileError(f"{file}: field '{field}.{key}' must be a non-empty list "
                                 f"of finite numbers, got {_short(value)}")
        values[key] = value
    if len(values["mean"]) != len(values["std"]):
        raise ModelFileError(f"{file}: field {field!r} has {len(values['mean'])} means "
                             f"but {len(values['std'])} standard deviations")
    bad = [i for i, v in enumerate(values["std"]) if v <= 0]
    if bad:
        raise ModelFileError(f"{file}: field '{field}.std' is {values['std'][bad[0]]!r} "
                             f"at {'feature' if field == 'standardizer' else 'output'} {bad[0]}; "
                             "standard deviations must be > 0")
    return len(values["std"])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
