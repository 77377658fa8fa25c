"""Validation and test splits from files of their own (``--val-data``, ``--test-data``), and
split fractions of 0.

A given file replaces the split that ``--data`` would otherwise hold back: its fraction is 0
unless given (``--test-data test.csv`` trains on every row of ``--data`` that is not
validation). The file holds the same columns as ``--data`` and is read the same strict way
(:func:`jaxdl.data.files.read_inputs`), with the training split's one-hot encoding and class
names; the standardizer stays the training split's (``Dataset.stats``), so nothing about the
model comes from the held-out rows.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from jaxdl.data.datasets import Dataset
from jaxdl.data.files import read_inputs
from jaxdl.data.labels import encode, infer_task

#: The fraction of a split that no file replaces, when no flag gives one.
DEFAULT_FRACTION = 0.2
_SPLITS = (("val", "validation"), ("test", "test"))


def resolve_fractions(args: argparse.Namespace) -> None:
    """Set ``args.val_fraction`` and ``args.test_fraction``: 0 for a split read from its own
    file, else the flag's value or :data:`DEFAULT_FRACTION`; check the files' flags.

    Raises:
      ValueError: for a file without ``--data``, or a split given both as a file and by a
        fraction above 0.

    >>> args = argparse.Namespace(data="train.csv", val_data=None, test_data="test.csv",
    ...                           val_fraction=None, test_fraction=None)
    >>> resolve_fractions(args)
    >>> args.val_fraction, args.test_fraction
    (0.2, 0.0)
    """
    for short, _ in _SPLITS:
        path = getattr(args, f"{short}_data", None)
        fraction = getattr(args, f"{short}_fraction", None)
        if path is not None:
            if args.data is None:
                raise ValueError(f"--{short}-data {path} is the {short} split of --data; give "
                                 "--data FILE (the training rows) with it")
            if fraction:
                raise ValueError(f"--{short}-data {path} is the {short} split, but "
                                 f"--{short}-fraction {fraction:g} holds back rows of --data "
                                 f"for it too; leave out --{short}-fraction (or give 0)")
            fraction = 0.0
        setattr(args, f"{short}_fraction", DEFAULT_FRACTION if fraction is None else fraction)


def with_split_files(args: argparse.Namespace, data: Dataset) -> Dataset:
    """``data`` with its validation and test splits read from ``--val-data`` and
    ``--test-data`` (those given), in the training split's form.

    Returns:
      The dataset; unchanged without the flags.

    >>> import tempfile, pathlib
    >>> from jaxdl.data.files import load_file
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rows = "".join(f"{i},{'ab'[i % 2]}\\n" for i in range(20))
    >>> _ = (folder / "train.csv").write_text("x,y\\n" + rows)
    >>> _ = (folder / "test.csv").write_text("x,y\\n7,b\\n8,a\\n")
    >>> data = load_file(folder / "train.csv", test_fraction=0.0)
    >>> args = argparse.Namespace(val_data=None, test_data=str(folder / "test.csv"))
    >>> data = with_split_files(args, data)
    >>> len(data.y_train), data.x_test.tolist(), data.y_test.tolist()
    (16, [[7.0], [8.0]], [1, 0])
    """
    for short, _ in _SPLITS:
        path = getattr(args, f"{short}_data", None)
        if path is not None:
            x, y = read_split(path, data, f"--{short}-data")
            data = (data._replace(x_val=x, y_val=y) if short == "val"
                    else data._replace(x_test=x, y_test=y))
    return data


def read_split(path: Any, data: Dataset, flag: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of ``path`` in the form of ``data``'s training split: its columns
    (any order), one-hot encoding, class names and dtype; the labels are required.

    Returns:
      ``(x, y)``: features shaped and typed as ``data.x_train``, targets as ``data.y_train``.

    Raises:
      ValueError: naming ``flag`` and the file, for other columns, missing labels, a class the
        training split does not have, or text targets for regression.

    >>> import argparse, tempfile, pathlib
    >>> from jaxdl.cli.splits import read_split
    >>> from jaxdl.data.files import load_file
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.csv").write_text("x,y\\n" + "".join(f"{i},{i % 2}\\n"
    ...                                                         for i in range(20)))
    >>> _ = (folder / "val.csv").write_text("y,x\\n1,3.5\\n")
    >>> read_split(folder / "val.csv", load_file(folder / "train.csv"), "--val-data")
    (array([[3.5]], dtype=float32), array([1], dtype=int32))
    """
    source = os.fspath(path)
    if data.feature_names is None:
        raise ValueError(f"{flag} {source}: the training data names no feature columns")
    try:
        inputs = read_inputs(path, data.feature_names, data.target, need_labels=True,
                             encoding=data.encoding)
        if inputs.labels is None:
            raise ValueError(f"{source}: no labels ({data.target or 'y'}); a {flag} file needs "
                             "them")
        if data.task == "classification":
            infer_task(source, inputs.labels, "classification")
            y, _ = encode(source, inputs.labels, data.class_names, inputs.table)
        else:
            if inputs.labels.kind == "text":
                raise ValueError(f"{source}: the targets are text but --data is a regression "
                                 "table")
            y = inputs.labels.values.astype(np.float32)
    except ValueError as err:
        text = str(err)
        raise ValueError(text if text.startswith(flag) else f"{flag}: {text}") from None
    if len(y) == 0:
        raise ValueError(f"{flag} {source}: no rows")
    x = np.asarray(inputs.x).astype(data.x_train.dtype, copy=False)
    return x.reshape(len(x), *data.x_train.shape[1:]), y.astype(data.y_train.dtype, copy=False)


def check_validation(args: argparse.Namespace, data: Dataset) -> str:
    """The monitored value of ``train``: ``--monitor``, else ``val_loss`` (``loss`` without a
    validation split); early stopping or a ``val_`` monitor without validation data is an error.

    >>> from jaxdl.data.datasets import load
    >>> check_validation(argparse.Namespace(monitor=None, patience=None), load("moons", n=50))
    'val_loss'
    """
    if len(data.y_val):
        return args.monitor or "val_loss"
    fix = "give --val-data FILE or a --val-fraction above 0"
    if args.patience is not None and args.monitor is None:
        raise ValueError(f"--patience (early stopping) watches val_loss, and there is no "
                         f"validation split: {fix}, or leave out --patience")
    if args.monitor is not None and args.monitor.startswith("val_"):
        raise ValueError(f"--monitor {args.monitor} needs validation data, and there is none: "
                         f"{fix}, or monitor a training value such as loss")
    if getattr(args, "keep", None) == "best" and args.monitor is None:
        raise ValueError(f"--keep best picks the epoch by a validation figure, and there is no "
                         f"validation split: {fix}, --monitor loss, or --keep last")
    return args.monitor or "loss"
