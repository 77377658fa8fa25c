"""New data for a trained model: its features in the model's column order, their labels and
ids (:func:`read_inputs`), from a ``.csv`` file or pandas DataFrame, arrays, or images.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import numpy as np

from jaxdl.data.array_files import default_names, feature_array, load_arrays
from jaxdl.data.encoding import Encoding, encode_table, feature_matrix
from jaxdl.data.labels import Labels, table_labels
from jaxdl.data.pixels import image_shape, is_image_path, read_images
from jaxdl.data.sources import check_suffix, drop_missing_rows, is_table, read_source, table_of
from jaxdl.data.table import Table


class Inputs(NamedTuple):
    """Features of new data in the model's column order, their labels (``None`` when the source
    has none), and the table they came from (``None`` for arrays); :func:`read_inputs` returns it.

    >>> from jaxdl.data.inputs import read_inputs
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

    >>> from jaxdl.data.inputs import read_inputs
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
    if is_table(source):
        table = table_of(source, (id_column,) if id_column else ())
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
        drop_missing_rows(table.source, (*feature_names, target or ""), x, y_missing, False,
                          table.where)
        if encoding is not None:
            x = encode_table(table, encoding, None, x)
        y = table_labels(table, target) if target and need_labels else None
        ids = table.column(id_column) if id_column is not None else None
        return Inputs(x, y, table, ids)
    if id_column is not None:
        raise ValueError(f"--id-column names a column of a CSV file; {os.fspath(source)} "
                         "holds arrays: leave it out")
    raw = read_source(source, None, labels if need_labels else None, drop_missing=False) \
        if need_labels else None
    if raw is not None:
        x, y = raw.x, raw.labels
    else:
        path = os.fspath(source)
        check_suffix(path)
        arrays = load_arrays(path)
        if "x" not in arrays:
            raise ValueError(f"{path}: no array named 'x' (found: "
                             f"{', '.join(sorted(arrays)) or 'none'})")
        x, y = feature_array(path, "x", arrays["x"]), None
        drop_missing_rows(path, default_names(x), x, np.zeros(len(x), bool), False,
                          lambda r: f"row {r + 1}")
    width = int(np.prod(x.shape[1:]))
    expected = encoding.width if encoding is not None else len(feature_names)
    if width != expected:
        raise ValueError(f"{os.fspath(source)}: {width} features per sample but the model "
                         f"was trained on {expected}"
                         + (" (text columns one-hot encoded)" if encoding is not None else ""))
    return Inputs(x, y, None)
