"""The user's data: ``.csv``, ``.npz`` and ``.npy`` files (or a pandas DataFrame) as a
:class:`~jaxdl.data.datasets.Dataset`.

- ``.csv``: a header row, feature columns, the target column ``target`` (default: the last
  column). A text feature column (``sex``: ``female``/``male``) is one-hot encoded with the
  categories of the training split (:mod:`jaxdl.data.encoding`); ``ignore_columns`` leaves
  columns such as a row id out of the features. Integer targets (``3``) or text targets
  (``cat``) are class labels; other numbers (``3.5``) are regression targets. Columns are read
  strictly (:mod:`jaxdl.data.table`): a column of numbers with one ``1.2.3`` or ``inf`` in it is an
  error naming the row, not a column of text; an empty cell, or ``NA``/``NaN``/``?`` among
  numbers, is a missing value (an error, or the row is dropped with ``drop_missing``).
- ``.npz``: arrays ``x`` and ``y``, or ``x_train``, ``y_train``, ``x_val``, ``y_val``,
  ``x_test``, ``y_test`` (splits used as given). Read without pickle.
- ``.npy``: the features, with ``labels`` a ``.npy`` array, a ``.csv`` column (header row) or
  a ``.txt`` file (one label per line, UTF-8 with or without a byte order mark; a blank line
  before a label is an error, as is a label count other than the sample count).
- a folder of images (one subfolder per class) or an ``.h5``/``.hdf5`` file in the course's
  layout: ``uint8`` NHWC pixels with per-channel statistics (:mod:`jaxdl.data.pixels`); the
  class folders or the file's labels are the classes.

Only regular files are read (a FIFO or a device is refused before reading); a damaged or
truncated ``.npz``/``.npy`` and object arrays (pickle) are errors naming the file.

The task comes from the labels (integers or text: classification with one class per distinct
label; floats: regression) unless ``task`` says it; more than 20 distinct integer or text
labels with fewer than 5 rows per class on average (a measured integer, a row id) are refused
until ``task`` says which (:func:`~jaxdl.data.labels.infer_task`). Classes are the sorted
distinct labels; ``y`` holds each label's index and ``class_names`` the labels as text. The
split is stratified by class (:func:`~jaxdl.data.datasets.split_indices`); the splits hold the
raw features (float32) and ``Dataset.stats`` the standardizer of the training split, which a
:class:`jaxdl.layers.Standardized` model applies (and a saved model keeps).
"""

from __future__ import annotations

import math
import os
import re
import warnings
import zipfile
import zlib
from typing import Any, NamedTuple

import numpy as np

from jaxdl.data import normalize as norm
from jaxdl.data.datasets import TASKS, Dataset, split_indices
from jaxdl.data.encoding import Encoding, encode_table, feature_matrix, fit_encoding, standardizer
from jaxdl.data.labels import Labels, array_labels, encode, infer_task, table_labels
from jaxdl.data.pixels import image_path_dataset, image_shape, is_image_path, read_images
from jaxdl.data.table import Table, from_cells, from_dataframe, is_dataframe, read_csv
from jaxdl.infra.untrusted import open_regular, read_bytes

SUFFIXES = (".csv", ".npz", ".npy")
SPLIT_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def _suffix(path: Any) -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{os.fspath(path)}: unknown file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if not os.path.exists(path):
        raise ValueError(f"{os.fspath(path)}: no such file")
    return suffix


def _table_of(source: Any, text_columns: tuple[str, ...] = ()) -> Table:
    """The :class:`Table` of a DataFrame or of an existing ``.csv`` file (``text_columns`` read
    as text, unparsed)."""
    if is_dataframe(source):
        return from_dataframe(source, text_columns=text_columns)
    _suffix(source)
    return read_csv(source, text_columns=text_columns)


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")


# -- arrays -------------------------------------------------------------------------------------
#: The first bytes of each array file type (a zip archive; numpy's own format).
_MAGIC = {".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".npy": (b"\x93NUMPY",)}
#: What a damaged array file raises inside numpy and zipfile.
_BROKEN = (ValueError, OSError, EOFError, KeyError, RuntimeError, NotImplementedError,
           zipfile.BadZipFile, zlib.error)


def _load_arrays(path: str, what: str = "--data file") -> dict[str, np.ndarray]:
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


def _load_npy(path: str, what: str = "--data file") -> np.ndarray:
    return _load_arrays(path, what)["x"]


def _features(source: str, name: str, x: np.ndarray) -> np.ndarray:
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


def _labels_file(path: str | os.PathLike) -> tuple[Labels, np.ndarray, str]:
    """The labels of a ``.npy``, ``.csv`` or ``.txt`` file, which of them are missing, and what
    the file holds one label per (for error messages)."""
    source = os.fspath(path)
    suffix = os.path.splitext(source)[1].lower()
    if suffix == ".npy":
        labels = array_labels(source, "labels", _load_npy(source, "labels file"))
        return labels, _missing_labels(labels), "array row"
    if suffix in (".csv", ".txt"):
        table = read_csv(source, what="labels file") if suffix == ".csv" else _text_lines(source)
        if len(table.names) != 1:
            raise ValueError(f"{source}: a labels file needs one column, got {len(table.names)}")
        name = table.names[0]
        return (table_labels(table, name), table.is_missing(name),
                "data row, after a header line" if suffix == ".csv" else "line")
    raise ValueError(f"{source}: unknown labels file type {suffix!r}; use .npy, .csv or .txt")


def _text_lines(source: str) -> Table:
    """A ``.txt`` file of one label per line as a one-column table: UTF-8 (a byte order mark is
    removed); blank lines at the end are ignored, a blank line before a label is an error."""
    try:
        text = read_bytes(source, what="labels file").decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{source}: no such file") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: not a UTF-8 text file ({err.reason} at byte "
                         f"{err.start})") from None
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{source}: the labels file is empty")
    blank = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if blank is not None:
        raise ValueError(
            f"{source}: line {blank + 1} is blank; each line is the label of one sample, so a "
            "blank line would shift every later label by one: delete the line, or write the "
            "missing label there"
        )
    return from_cells(source, ("labels",), [lines], np.arange(1, len(lines) + 1))


def _given_splits(path: str, arrays: dict[str, np.ndarray]) -> list[tuple[np.ndarray, Labels]]:
    """``(x, labels)`` of the train, val and test arrays of an ``.npz``, checked to agree."""
    parts: list[tuple[np.ndarray, Labels]] = []
    for s in ("train", "val", "test"):
        x = _features(path, f"x_{s}", arrays[f"x_{s}"])
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


# -- labels to classes --------------------------------------------------------------------------
# -- missing values -----------------------------------------------------------------------------
def _drop_missing(source: str, names: tuple[str, ...], x: np.ndarray, y_missing: np.ndarray,
                  drop: bool, where: Any) -> np.ndarray:
    """Rows to keep; without ``drop`` a missing value is an error naming its column and row."""
    gaps = np.isnan(x.reshape(len(x), -1))
    bad = gaps.any(axis=1) | y_missing
    if not bad.any():
        return np.arange(len(x))
    if not drop:
        r = int(np.argmax(bad))
        column = names[int(np.argmax(gaps[r]))] if gaps[r].any() else names[-1]
        raise ValueError(
            f"{source}: missing value in column {column!r} at {where(r)} "
            f"({int(bad.sum())} row(s) have one); fill them in, or drop those rows with "
            "drop_missing=True (--drop-missing)"
        )
    keep = np.flatnonzero(~bad)
    if len(keep) == 0:
        raise ValueError(f"{source}: every row has a missing value; nothing is left to train on")
    return keep


# -- the dataset --------------------------------------------------------------------------------
class _Raw(NamedTuple):
    """A source read into features, labels and names, before encoding and splitting."""

    source: str
    x: np.ndarray  # float64
    labels: Labels
    feature_names: tuple[str, ...]
    target: str
    rows: np.ndarray  # data-row numbers kept
    splits: tuple | None = None  # given (x, labels) per split, from an .npz
    table: Table | None = None  # a CSV/DataFrame's table, for its text columns


def _is_table(source: Any) -> bool:
    """A DataFrame or a ``.csv`` path."""
    return is_dataframe(source) or (isinstance(source, str | os.PathLike) and
                                    os.fspath(source).lower().endswith(".csv"))


def _read(source: Any, target: str | None, labels: Any, drop_missing: bool,
          ignore_columns: tuple[str, ...] = ()) -> _Raw:
    if _is_table(source):
        if labels is not None:
            raise ValueError("labels is for .npy/.npz features; a table holds its target "
                             "column: pass target=NAME (--target)")
        table = _table_of(source, ignore_columns)
        target = table.names[-1] if target is None else target
        table.column(target)
        for name in ignore_columns:
            table.column(name)
            if name == target:
                raise ValueError(f"{table.source}: ignore_columns names the target column "
                                 f"{target!r}; leave it out of ignore_columns")
        names = tuple(n for n in table.names if n != target and n not in ignore_columns)
        if not names:
            raise ValueError(f"{table.source}: has only the target column {target!r}; "
                             "there are no features")
        x = feature_matrix(table, names)  # text columns: 0, NaN where missing
        keep = _drop_missing(table.source, (*names, target), x, table.is_missing(target),
                             drop_missing, table.where)
        y = table_labels(table, target)
        return _Raw(table.source, x[keep], Labels(y.values[keep], y.kind, y.merged), names,
                    target, keep, table=table)
    if ignore_columns:
        raise ValueError("ignore_columns names columns of a CSV file or DataFrame; leave it "
                         "unset for arrays")
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"source must be a file path or a pandas DataFrame, got "
                        f"{type(source).__name__}")
    path = os.fspath(source)
    suffix = _suffix(path)
    if target is not None:
        raise ValueError(f"target names a column of a CSV file; {path} is a {suffix} file of "
                         "arrays: leave target unset")
    if suffix == ".npz":
        arrays = _load_arrays(path)
        if all(k in arrays for k in SPLIT_ARRAYS):
            if labels is not None:
                raise ValueError(f"{path} holds y_train/y_val/y_test; leave labels unset")
            parts = _given_splits(path, arrays)
            x = np.concatenate([p[0] for p in parts])
            kinds = {p[1].kind for p in parts}
            kind = "text" if "text" in kinds else "float" if "float" in kinds else "int"
            values = np.concatenate([p[1].values for p in parts])
            values = values.astype(object) if kind == "text" else values
            y_missing = np.isnan(values) if kind != "text" else np.zeros(len(x), bool)
            keep = _drop_missing(path, (*_default_names(x), "y"), x, y_missing, drop_missing,
                                 lambda r: f"row {r + 1} of the concatenated splits")
            split = np.repeat(np.arange(3), [len(p[0]) for p in parts])[keep]
            return _Raw(path, x[keep], Labels(values[keep], kind), _default_names(x), "y",
                        keep, tuple(int(np.sum(split == i)) for i in range(3)))
        if "x" not in arrays:
            raise ValueError(
                f"{path}: no array named 'x' (found: {', '.join(sorted(arrays)) or 'none'}); "
                f"save x and y, or {', '.join(SPLIT_ARRAYS)}"
            )
        x = _features(path, "x", arrays["x"])
        if labels is None and "y" not in arrays:
            raise ValueError(f"{path}: no array named 'y' next to 'x'; save the labels as y "
                             "or pass labels=PATH (--labels)")
        if labels is not None and "y" in arrays:
            raise ValueError(f"{path} holds y already; leave labels unset")
        if labels is None:
            y = array_labels(path, "y", arrays["y"])
            y_missing, per, labels_source = _missing_labels(y), "array row", f"{path} (y)"
        else:
            y, y_missing, per = _labels_file(labels)
            labels_source = os.fspath(labels)
    else:
        x = _features(path, "x", _load_npy(path))
        if labels is None:
            raise ValueError(f"{path}: a .npy file holds features only; pass the labels file "
                             "with labels=PATH (--labels)")
        y, y_missing, per = _labels_file(labels)
        labels_source = os.fspath(labels)
    if len(y.values) != len(x):
        raise ValueError(f"{path}: {len(x)} samples but {labels_source} holds "
                         f"{len(y.values)} labels; one label per sample ({per}) is needed, in "
                         "the samples' order")
    keep = _drop_missing(path, (*_default_names(x), "y"), x, y_missing, drop_missing,
                         lambda r: f"row {r + 1}")
    return _Raw(path, x[keep], Labels(y.values[keep], y.kind, y.merged), _default_names(x), "y",
                keep)


def _missing_labels(labels: Labels) -> np.ndarray:
    """NaN labels of an array (text and integer arrays have none)."""
    if labels.kind == "float":
        return np.isnan(labels.values)
    return np.zeros(len(labels.values), dtype=bool)


def _default_names(x: np.ndarray) -> tuple[str, ...]:
    return tuple(f"x{j}" for j in range(int(np.prod(x.shape[1:]))))


def load_file(
    source: str | os.PathLike | Any,
    target: str | None = None,
    labels: str | os.PathLike | None = None,
    task: str | None = None,
    drop_missing: bool = False,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
    ignore_columns: tuple[str, ...] | list[str] = (),
) -> Dataset:
    """Read a data file (or a pandas DataFrame) into train/validation/test splits.

    The splits hold the raw features; ``Dataset.stats`` is the standardizer of the training
    split (``x' = (x - mu_train) / sigma_train``; ``None`` when ``normalize`` is False), which
    ``jaxdl.layers.Standardized(model, data.stats)`` applies inside the model. Classification
    labels become indices into ``Dataset.class_names``. Text feature columns of a table are
    one-hot encoded with the categories of the training split
    (:mod:`jaxdl.data.encoding`; kept in ``Dataset.encoding``; the one-hot columns are not
    standardized); ``feature_names`` stay the table's column names.

    Args:
        source: a ``.csv``, ``.npz`` or ``.npy`` path, or a pandas DataFrame.
        target: the target column of a CSV/DataFrame (default: the last column).
        labels: labels file for ``.npy`` features (``.npy``, ``.csv`` or ``.txt``).
        task: ``"classification"`` or ``"regression"`` (default: from the labels).
        drop_missing: drop rows with a missing value instead of raising.
        val_fraction: the validation share of the stratified split (ignored by an ``.npz``
            that holds its own splits).
        test_fraction: the test share of the split (ignored likewise).
        seed: the split's seed (ignored likewise).
        normalize: fit the training split's standardizer (``stats``).
        ignore_columns: columns of a table that are not features (a row id, free text).

    Returns:
        A :class:`~jaxdl.data.datasets.Dataset` with ``task``, ``class_names``,
        ``feature_names``, ``target`` and the source ``rows`` of each split.

    >>> from jaxdl.data.files import load_file
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = p.write_text("a,b,label\\n" + "".join(f"{i},{i % 3},{i % 2}\\n" for i in range(20)))
    >>> d = load_file(p)
    >>> d.task, d.num_classes, d.class_names, d.feature_names, len(d.y_train)
    ('classification', 2, ('0', '1'), ('a', 'b'), 12)
    """
    _check_task(task)
    if is_image_path(source):  # a folder of images or an HDF5 file: jaxdl.data.pixels
        given = [n for n, v in (("target", target), ("labels", labels),
                                ("drop_missing", drop_missing), ("ignore_columns", ignore_columns),
                                ("task='regression'", task == "regression")) if v]
        if given:
            raise ValueError(f"{os.fspath(source)}: images are labelled by their class folder "
                             f"or file; leave out {', '.join(given)}")
        return image_path_dataset(source, val_fraction=val_fraction,
                                  test_fraction=test_fraction, seed=seed, normalize=normalize)
    if isinstance(ignore_columns, str):
        ignore_columns = (ignore_columns,)
    raw = _read(source, target, labels, drop_missing, tuple(ignore_columns))
    task = infer_task(raw.source, raw.labels, task, raw.target if _is_table(source) else None)
    if task == "classification":
        y, class_names = encode(raw.source, raw.labels, None)
        strata = y
    else:
        y, class_names = raw.labels.values.astype(np.float32), None
        strata = np.zeros(len(y), np.int32)
        _warn_float32_targets(raw, y)
    if raw.splits is not None:
        ends = np.cumsum(raw.splits)
        parts = (np.arange(ends[0]), np.arange(ends[0], ends[1]), np.arange(ends[1], ends[2]))
    else:
        try:
            parts = split_indices(strata, val_fraction, test_fraction, seed)
        except ValueError as err:
            raise ValueError(f"{raw.source}: {err}") from None
    shape = raw.x.shape[1:]
    flat = raw.x.reshape(len(raw.x), -1)
    encoding = None
    if raw.table is not None:
        encoding = fit_encoding(raw.table, raw.feature_names, raw.rows[parts[0]])
    if encoding is not None:
        assert raw.table is not None
        order = np.concatenate(parts)
        numeric = np.zeros((raw.table.num_rows, flat.shape[1]))
        numeric[raw.rows] = flat
        encoded = encode_table(raw.table, encoding, raw.rows[order], numeric, len(parts[0]))
        flat = np.empty_like(encoded)
        flat[order] = encoded
        shape = (encoding.width,)
    xs = [flat[p] for p in parts]
    stats = standardizer(xs[0], encoding, raw.feature_names) if normalize else None
    norm.float32_merges(xs[0], encoding.expanded_names() if encoding is not None
                        else raw.feature_names, os.path.basename(raw.source))
    xs = [np.asarray(part, np.float32).reshape(len(part), *shape) for part in xs]  # raw
    name = os.path.basename(raw.source)
    return Dataset(
        xs[0], y[parts[0]], xs[1], y[parts[1]], xs[2], y[parts[2]],
        len(class_names) if class_names else 0, name, stats, task, class_names,
        raw.feature_names, raw.target, (raw.rows[parts[0]], raw.rows[parts[1]], raw.rows[parts[2]]),
        encoding,
    )


def _warn_float32_targets(raw: _Raw, y: np.ndarray) -> None:
    """Warn when float32 merges most of the distinct regression targets (``1.7e9 +- 50``)."""
    before = np.unique(raw.labels.values.astype(np.float64)).size
    after = np.unique(y).size
    if 2 * after < before:
        warnings.warn(
            f"{raw.source}: the regression target {raw.target!r} keeps {after} of its {before} "
            "distinct values in float32 (large values that differ little); subtract an offset "
            "or rescale it", UserWarning, stacklevel=3)


# -- new data for a trained model ---------------------------------------------------------------
class Inputs(NamedTuple):
    """Features of new data in the model's column order, their labels (``None`` when the source
    has none), and the table they came from (``None`` for arrays); :func:`read_inputs` returns it.

    >>> from jaxdl.data.files import read_inputs
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "new.csv"
    >>> _ = p.write_text("a,y\\n1,cat\\n2,dog\\n")
    >>> inputs = read_inputs(p, ("a",), "y", need_labels=True)
    >>> inputs.x.tolist(), inputs.labels.values.tolist(), inputs.table.names
    ([[1.0], [2.0]], ['cat', 'dog'], ('a', 'y'))
    """

    x: np.ndarray
    labels: Labels | None
    table: Table | None
    ids: np.ndarray | None = None


def read_inputs(
    source: str | os.PathLike | Any,
    feature_names: tuple[str, ...],
    target: str | None,
    *,
    need_labels: bool,
    labels: str | os.PathLike | None = None,
    encoding: Encoding | None = None,
    id_column: str | None = None,
) -> Inputs:
    """Read new data for a model trained on ``feature_names``.

    A CSV/DataFrame must hold every feature column (in any order; they are put in the
    model's order) and may hold the ``target`` column, which ``need_labels`` requires, and the
    ``id_column`` (read as text, passed through as ``Inputs.ids``); any other column is an
    error. The text columns of ``encoding`` are one-hot encoded (an unknown category: all
    zeros, with a warning; see :mod:`jaxdl.data.encoding`). Arrays (``.npz`` ``x``/``y``,
    ``.npy`` + ``labels``) must have ``len(feature_names)`` features (``encoding.width`` with
    an encoding: one-hot columns included). Missing values are an error: every row gets an
    answer.

    Args:
      source: a ``.csv``, ``.npz`` or ``.npy`` path, or a pandas DataFrame.
      feature_names: the model's feature columns, in its order.
      target: the label column of a table (``None``: none).
      need_labels: require labels (evaluation) and return them.
      labels: for a ``.npy`` source, the file of its labels.
      encoding: the model's one-hot encoding of text columns, or ``None``.
      id_column: a table's row-id column: not a feature, returned as text.

    Returns:
      An :class:`Inputs`: the features (float64) in the model's column order (one-hot
      columns expanded), the labels when ``need_labels`` (else ``None``), the table of a
      CSV/DataFrame and its ids.

    Raises:
      ValueError: for missing or extra columns, missing values, missing labels that
        ``need_labels`` requires, or a feature count other than ``len(feature_names)``.

    >>> from jaxdl.data.files import read_inputs
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "new.csv"
    >>> _ = p.write_text("b,a\\n2,1\\n4,3\\n")
    >>> read_inputs(p, ("a", "b"), "y", need_labels=False).x.tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    if is_image_path(source) and id_column is None:  # images: uint8 NHWC, labels as text
        x, image_labels = read_images(source, image_shape(feature_names))
        if math.prod(x.shape[1:]) != len(feature_names):
            raise ValueError(f"{os.fspath(source)}: images of shape {x.shape[1:]} but the model "
                             f"was trained on {len(feature_names)} values per example")
        return Inputs(x, image_labels if need_labels else None, None)
    if _is_table(source):
        table = _table_of(source, (id_column,) if id_column else ())
        if id_column is not None:
            table.column(id_column)
            if id_column in feature_names:
                raise ValueError(f"the id column {id_column!r} is one of the model's feature "
                                 "columns; name a column that is not a feature")
        wanted = set(feature_names)
        missing = [n for n in feature_names if n not in table.positions]
        extra = [n for n in table.names if n not in wanted and n not in (target, id_column)]
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"lacks the model's feature column(s) {', '.join(missing)}")
            if extra:
                problems.append(f"has column(s) the model was not trained on: {', '.join(extra)}"
                                + (" (a row id? pass it as the id column, --id-column NAME)"
                                   if id_column is None and not missing else ""))
            raise ValueError(
                f"{table.source}: {' and '.join(problems)}; expected the columns "
                f"{', '.join(feature_names)}" + (f" (and optionally {target})" if target else "")
            )
        if need_labels and (target is None or target not in table.names):
            raise ValueError(f"{table.source}: no target column {target!r}; evaluation needs "
                             "the true labels")
        text = set(encoding.categories) if encoding is not None else set()
        x = feature_matrix(table, feature_names, text)
        y_missing = table.is_missing(target) if target and need_labels else np.zeros(len(x), bool)
        _drop_missing(table.source, (*feature_names, target or ""), x, y_missing, False,
                      table.where)
        if encoding is not None:
            x = encode_table(table, encoding, None, x)
        y = table_labels(table, target) if target and need_labels else None
        ids = table.column(id_column) if id_column is not None else None
        return Inputs(x, y, table, ids)
    if id_column is not None:
        raise ValueError(f"--id-column names a column of a CSV file; {os.fspath(source)} "
                         "holds arrays: leave it out")
    raw = _read(source, None, labels if need_labels else None, drop_missing=False) \
        if need_labels else None
    if raw is not None:
        x, y = raw.x, raw.labels
    else:
        path = os.fspath(source)
        _suffix(path)
        arrays = _load_arrays(path)
        if "x" not in arrays:
            raise ValueError(f"{path}: no array named 'x' (found: "
                             f"{', '.join(sorted(arrays)) or 'none'})")
        x, y = _features(path, "x", arrays["x"]), None
        _drop_missing(path, _default_names(x), x, np.zeros(len(x), bool), False,
                      lambda r: f"row {r + 1}")
    width = int(np.prod(x.shape[1:]))
    expected = encoding.width if encoding is not None else len(feature_names)
    if width != expected:
        raise ValueError(f"{os.fspath(source)}: {width} features per sample but the model "
                         f"was trained on {expected}"
                         + (" (text columns one-hot encoded)" if encoding is not None else ""))
    return Inputs(x, y, None)
