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
:class:`jaxdl.layers.Standardized` model applies (and a saved model keeps); regression targets
stay in their units, with their training statistics in ``Dataset.target_stats``
(``Standardized(model, data.stats, targets=data.target_stats)`` trains on standardized targets
and predicts in the targets' units).

The reading is split by idea: :mod:`jaxdl.data.sources` reads a source into features and labels
(:mod:`jaxdl.data.array_files` its arrays, :mod:`jaxdl.data.label_files` a labels file) and
:mod:`jaxdl.data.inputs` reads new data for a trained model (``read_inputs``, importable from
here too).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from jaxdl.data import normalize as norm
from jaxdl.data.array_files import SPLIT_ARRAYS
from jaxdl.data.datasets import TASKS, Dataset, split_indices
from jaxdl.data.encoding import encode_table, fit_encoding, standardizer
from jaxdl.data.inputs import Inputs, read_inputs
from jaxdl.data.labels import encode, infer_task
from jaxdl.data.pixels import image_path_dataset, is_image_path
from jaxdl.data.sources import SUFFIXES, RawData, is_table, read_source

__all__ = ["SPLIT_ARRAYS", "SUFFIXES", "Inputs", "load_file", "read_inputs"]


def _check_task(task: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")


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
        normalize: fit the training split's standardizer (``stats``) and, for regression, its
            targets' statistics (``target_stats``).
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
    raw = read_source(source, target, labels, drop_missing, tuple(ignore_columns))
    task = infer_task(raw.source, raw.labels, task, raw.target if is_table(source) else None)
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
    targets = None  # regression targets: standardized inside the model, like the features
    if task == "regression" and normalize:
        targets = norm.target_standardizer(y[parts[0]])
    return Dataset(
        xs[0], y[parts[0]], xs[1], y[parts[1]], xs[2], y[parts[2]],
        len(class_names) if class_names else 0, name, stats, task, class_names,
        raw.feature_names, raw.target, (raw.rows[parts[0]], raw.rows[parts[1]], raw.rows[parts[2]]),
        encoding, targets,
    )


def _warn_float32_targets(raw: RawData, y: np.ndarray) -> None:
    """Warn when float32 merges most of the distinct regression targets (``1.7e9 +- 50``)."""
    before = np.unique(raw.labels.values.astype(np.float64)).size
    after = np.unique(y).size
    if 2 * after < before:
        warnings.warn(
            f"{raw.source}: the regression target {raw.target!r} keeps {after} of its {before} "
            "distinct values in float32 (large values that differ little); subtract an offset "
            "or rescale it", UserWarning, stacklevel=3)

