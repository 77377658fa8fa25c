"""A data source read into features, labels and names (a :class:`RawData`), before
:func:`jaxdl.data.files.load_file` encodes and splits it: a ``.csv`` file or a pandas DataFrame
(its target column and feature columns), an ``.npz`` file (``x`` and ``y``, or its own splits) or
an ``.npy`` file with a labels file; rows with a missing value are an error or dropped.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from jaxdl.data.array_files import (
    SPLIT_ARRAYS,
    default_names,
    feature_array,
    given_splits,
    load_arrays,
    load_npy,
    missing_labels,
)
from jaxdl.data.encoding import feature_matrix
from jaxdl.data.label_files import read_labels_file
from jaxdl.data.labels import Labels, array_labels, table_labels
from jaxdl.data.table import Table, from_dataframe, is_dataframe, read_csv

SUFFIXES = (".csv", ".npz", ".npy")


def check_suffix(path: Any) -> str:
    """The suffix of an existing ``.csv``, ``.npz`` or ``.npy`` file (lower case)."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{os.fspath(path)}: unknown file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if not os.path.exists(path):
        raise ValueError(f"{os.fspath(path)}: no such file")
    return suffix


def table_of(source: Any, text_columns: tuple[str, ...] = ()) -> Table:
    """The :class:`Table` of a DataFrame or of an existing ``.csv`` file (``text_columns`` read
    as text, unparsed)."""
    if is_dataframe(source):
        return from_dataframe(source, text_columns=text_columns)
    check_suffix(source)
    return read_csv(source, text_columns=text_columns)


def drop_missing_rows(source: str, names: tuple[str, ...], x: np.ndarray,
                      y_missing: np.ndarray, drop: bool, where: Any) -> np.ndarray:
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
class RawData(NamedTuple):
    """A source read into features, labels and names, before encoding and splitting."""

    source: str
    x: np.ndarray  # float64
    labels: Labels
    feature_names: tuple[str, ...]
    target: str
    rows: np.ndarray  # data-row numbers kept
    splits: tuple | None = None  # given (x, labels) per split, from an .npz
    table: Table | None = None  # a CSV/DataFrame's table, for its text columns


def is_table(source: Any) -> bool:
    """A DataFrame or a ``.csv`` path."""
    return is_dataframe(source) or (isinstance(source, str | os.PathLike) and
                                    os.fspath(source).lower().endswith(".csv"))


def read_source(source: Any, target: str | None, labels: Any, drop_missing: bool,
                ignore_columns: tuple[str, ...] = ()) -> RawData:
    """Read ``source`` (a ``.csv`` path or DataFrame, an ``.npz`` or ``.npy`` path) into a
    :class:`RawData`; ``labels`` is the labels file of ``.npy`` features."""
    if is_table(source):
        if labels is not None:
            raise ValueError("labels is for .npy/.npz features; a table holds its target "
                             "column: pass target=NAME (--target)")
        table = table_of(source, ignore_columns)
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
        keep = drop_missing_rows(table.source, (*names, target), x, table.is_missing(target),
                                 drop_missing, table.where)
        y = table_labels(table, target)
        return RawData(table.source, x[keep], Labels(y.values[keep], y.kind, y.merged), names,
                       target, keep, table=table)
    if ignore_columns:
        raise ValueError("ignore_columns names columns of a CSV file or DataFrame; leave it "
                         "unset for arrays")
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"source must be a file path or a pandas DataFrame, got "
                        f"{type(source).__name__}")
    path = os.fspath(source)
    suffix = check_suffix(path)
    if target is not None:
        raise ValueError(f"target names a column of a CSV file; {path} is a {suffix} file of "
                         "arrays: leave target unset")
    if suffix == ".npz":
        arrays = load_arrays(path)
        if all(k in arrays for k in SPLIT_ARRAYS):
            if labels is not None:
                raise ValueError(f"{path} holds y_train/y_val/y_test; leave labels unset")
            parts = given_splits(path, arrays)
            x = np.concatenate([p[0] for p in parts])
            kinds = {p[1].kind for p in parts}
            kind = "text" if "text" in kinds else "float" if "float" in kinds else "int"
            values = np.concatenate([p[1].values for p in parts])
            values = values.astype(object) if kind == "text" else values
            y_missing = np.isnan(values) if kind != "text" else np.zeros(len(x), bool)
            keep = drop_missing_rows(path, (*default_names(x), "y"), x, y_missing, drop_missing,
                                     lambda r: f"row {r + 1} of the concatenated splits")
            split = np.repeat(np.arange(3), [len(p[0]) for p in parts])[keep]
            return RawData(path, x[keep], Labels(values[keep], kind), default_names(x), "y",
                           keep, tuple(int(np.sum(split == i)) for i in range(3)))
        if "x" not in arrays:
            raise ValueError(
                f"{path}: no array named 'x' (found: {', '.join(sorted(arrays)) or 'none'}); "
                f"save x and y, or {', '.join(SPLIT_ARRAYS)}"
            )
        x = feature_array(path, "x", arrays["x"])
        if labels is None and "y" not in arrays:
            raise ValueError(f"{path}: no array named 'y' next to 'x'; save the labels as y "
                             "or pass labels=PATH (--labels)")
        if labels is not None and "y" in arrays:
            raise ValueError(f"{path} holds y already; leave labels unset")
        if labels is None:
            y = array_labels(path, "y", arrays["y"])
            y_missing, per, labels_source = missing_labels(y), "array row", f"{path} (y)"
        else:
            y, y_missing, per = read_labels_file(labels)
            labels_source = os.fspath(labels)
    else:
        x = feature_array(path, "x", load_npy(path))
        if labels is None:
            raise ValueError(f"{path}: a .npy file holds features only; pass the labels file "
                             "with labels=PATH (--labels)")
        y, y_missing, per = read_labels_file(labels)
        labels_source = os.fspath(labels)
    if len(y.values) != len(x):
        raise ValueError(f"{path}: {len(x)} samples but {labels_source} holds "
                         f"{len(y.values)} labels; one label per sample ({per}) is needed, in "
                         "the samples' order")
    keep = drop_missing_rows(path, (*default_names(x), "y"), x, y_missing, drop_missing,
                             lambda r: f"row {r + 1}")
    return RawData(path, x[keep], Labels(y.values[keep], y.kind, y.merged), default_names(x), "y",
                   keep)

