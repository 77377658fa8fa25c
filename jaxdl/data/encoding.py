"""Text feature columns as one-hot columns: a column of categories (``sex``: ``female``,
``male``) becomes one 0/1 column per category, in sorted order, with the categories taken from
the training split only.

    sex = "male"   ->   [sex=female, sex=male] = [0, 1]

Choices (scikit-learn's usual pipeline: ``OneHotEncoder`` on the text columns,
``StandardScaler`` on the numeric ones only):

- The one-hot columns are *not* standardized (their standardizer entries are mean 0, std 1):
  a category stays a 0/1 indicator; numeric columns are standardized as before.
- A category the training split lacks (in the validation/test rows, or in new data given to
  ``jaxdl predict``/``evaluate``) is encoded as an all-zero row of that column's block, like
  ``OneHotEncoder(handle_unknown="ignore")``, with a warning naming the column, the first such
  row and its value, and how many rows hold one. An error instead would make training depend on
  whether a rare category fell into the training split.
- A text column holding a different value in every training row (20 rows or more) is an id or
  free text, not categories: an error naming it (leave it out: ``load_file(...,
  ignore_columns=[name])``, ``jaxdl predict --id-column NAME``).
- A missing (empty) text cell is a missing value, as in a numeric column.

The expansion is internal: a saved model's ``feature_names`` stay the table's column names, and
its manifest keeps the categories (``"encoding": {"one_hot": {column: [categories]}}``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from jaxdl.data import normalize as norm
from jaxdl.data.table import Table

#: A text column with a distinct value in each of at least this many training rows is an id.
MIN_ROWS_FOR_ID = 20


class Encoding(NamedTuple):
    """The feature columns of a table in the model's order (``features``) and, for each text
    column among them, its categories in one-hot order (``categories``).

    Examples:
        >>> from jaxdl.data.encoding import Encoding
        >>> enc = Encoding(("age", "sex"), {"sex": ("female", "male")})
        >>> enc.width, enc.expanded_names(), enc.one_hot_mask().tolist()
        (3, ('age', 'sex=female', 'sex=male'), [False, True, True])
    """

    features: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]

    @property
    def width(self) -> int:
        """The number of model inputs: one per numeric column, one per category."""
        return sum(len(self.categories.get(n, (None,))) for n in self.features)

    def expanded_names(self) -> tuple[str, ...]:
        """A name per model input: the column, or ``column=category``."""
        out: list[str] = []
        for name in self.features:
            if name in self.categories:
                out.extend(f"{name}={c}" for c in self.categories[name])
            else:
                out.append(name)
        return tuple(out)

    def one_hot_mask(self) -> np.ndarray:
        """True for each model input that is a one-hot column."""
        return np.array([n in self.categories for n in self.features
                         for _ in self.categories.get(n, (None,))], dtype=bool)


def fit_encoding(table: Table, features: Sequence[str], rows: np.ndarray) -> Encoding | None:
    """The sorted categories of each text column among ``features``, seen in ``rows`` (the
    training rows); ``None`` when every feature column is numeric.

    Args:
        table: the parsed table.
        features: the feature columns, in the model's order.
        rows: the training rows (indices into the table).

    Returns:
        The :class:`Encoding`, or ``None`` without text columns.

    Raises:
        ValueError: for a text column with a distinct value in every one of at least
            :data:`MIN_ROWS_FOR_ID` training rows (an id), naming it.

    Examples:
        >>> from jaxdl.data.encoding import fit_encoding
        >>> import numpy as np
        >>> from jaxdl.data.table import from_cells
        >>> t = from_cells("t.csv", ("a", "c"), [["1", "2", "3"], ["y", "x", "z"]], None)
        >>> fit_encoding(t, ("a", "c"), np.array([0, 1]))
        Encoding(features=('a', 'c'), categories={'c': ('x', 'y')})
    """
    categories = {}
    for name in features:
        if name not in table.text_at:
            continue
        j = table.positions[name]
        present = rows[~table.missing[j][rows]]
        values = table.columns[j][present].astype(str)
        distinct = sorted(set(values.tolist()))
        if len(values) >= MIN_ROWS_FOR_ID and len(distinct) == len(values):
            raise ValueError(
                f"{table.source}: text column {name!r} holds a different value in each of its "
                f"{len(values)} training rows (such as {str(values[0])!r}): an id or free "
                "text, not categories to one-hot encode; leave it out of the features "
                f"(load_file(..., ignore_columns=[{name!r}]); jaxdl predict --id-column "
                f"{name}) or remove the column"
            )
        if distinct:
            categories[name] = tuple(distinct)
    return Encoding(tuple(features), categories) if categories else None


def encode_table(table: Table, encoding: Encoding, rows: np.ndarray | None = None,
           numeric: np.ndarray | None = None, training_rows: int = 0) -> np.ndarray:
    """The model inputs of ``rows`` of ``table``: each numeric column as it is (NaN where
    missing), each text column as its one-hot block (NaN where missing; all zeros, with a
    warning, for a category outside ``encoding``).

    Args:
        table: the parsed table.
        encoding: the encoding fitted on the training rows.
        rows: the rows to encode (default: all).
        numeric: the table's feature columns as :func:`feature_matrix` gives them (computed
            when not given).
        training_rows: the first this many of ``rows`` are the training split (their
            categories are known by construction); only used for the warning's wording.

    Returns:
        A float64 matrix ``(len(rows), encoding.width)``.

    Warns:
        UserWarning: per text column holding unknown categories, naming the first one's row.

    Examples:
        >>> from jaxdl.data.encoding import encode_table, Encoding
        >>> from jaxdl.data.table import from_cells
        >>> t = from_cells("t.csv", ("a", "c"), [["1", "2"], ["x", "y"]], None)
        >>> encode_table(t, Encoding(("a", "c"), {"c": ("x", "y")})).tolist()
        [[1.0, 1.0, 0.0], [2.0, 0.0, 1.0]]
    """
    rows = np.arange(table.num_rows) if rows is None else np.asarray(rows)
    if numeric is None:
        numeric = feature_matrix(table, encoding.features, set(encoding.categories))
    blocks = []
    for k, name in enumerate(encoding.features):
        column = numeric[rows, k]
        if name not in encoding.categories:
            blocks.append(column[:, None])
            continue
        categories = encoding.categories[name]
        index = {c: i for i, c in enumerate(categories)}
        j = table.positions[name]
        cells = table.columns[j][rows]
        block = np.zeros((len(rows), len(categories)))
        unknown = []
        for r, (cell, gap) in enumerate(zip(cells, table.missing[j][rows])):
            if gap:
                block[r] = np.nan
            elif (i := index.get(str(cell))) is not None:
                block[r, i] = 1.0
            else:
                unknown.append(r)
        if unknown:
            r = unknown[0]
            where = "row(s) outside the training split" if training_rows else "row(s)"
            warnings.warn(
                f"{table.source}: column {name!r}: {len(unknown)} {where} hold categories the "
                f"model was not trained on, such as {str(cells[r])!r} at "
                f"{table.where(int(rows[r]))}; they are encoded as all zeros (no category of "
                f"the column); the known categories are {', '.join(categories[:10])}"
                + (", ..." if len(categories) > 10 else ""), UserWarning, stacklevel=2)
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def feature_matrix(table: Table, features: Sequence[str],
                   text: set[str] | None = None) -> np.ndarray:
    """The columns ``features`` as a float64 matrix with NaN where a cell is missing; a text
    column (any, when ``text`` is ``None``; else those named in ``text``) is 0 where present.
    A text column not in ``text`` is an error (see :meth:`Table.numeric`), as is a numeric column
    named in ``text``.

    Examples:
        >>> from jaxdl.data.encoding import feature_matrix
        >>> from jaxdl.data.table import from_cells
        >>> t = from_cells("t.csv", ("a", "c"), [["1", "NA"], ["x", ""]], None)
        >>> feature_matrix(t, ("a", "c")).tolist()
        [[1.0, 0.0], [nan, nan]]
    """
    allowed = set(table.text_at) if text is None else text
    numeric = [n for n in features if n not in allowed]
    for name in features:
        table.column(name)
        if name in allowed and name not in table.text_at and not table.is_missing(name).all():
            raise ValueError(
                f"{table.source}: column {name!r} holds numbers, but the model was trained on "
                "it as a text column of categories; pass the column as it was in training")
    values = table.numeric(numeric)
    out = np.zeros((table.num_rows, len(features)))
    k = 0
    for i, name in enumerate(features):
        if name in allowed:
            out[:, i] = np.where(table.is_missing(name), np.nan, 0.0)
        else:
            out[:, i] = values[:, k]
            k += 1
    return out


def standardizer(x_train: np.ndarray, encoding: Encoding | None,
                 names: Sequence[str] | None = None) -> norm.Standardizer:
    """Standardizer statistics of the training inputs: fitted on the numeric columns only; the
    one-hot columns get mean 0 and std 1 (left as 0/1).

    Examples:
        >>> from jaxdl.data.encoding import standardizer, Encoding
        >>> import numpy as np
        >>> x = np.array([[1.0, 0.0, 1.0], [3.0, 1.0, 0.0]])
        >>> s = standardizer(x, Encoding(("a", "c"), {"c": ("x", "y")}))
        >>> s.mean.tolist(), s.std.tolist()
        ([2.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    """
    if encoding is None:
        return norm.fit_standardizer(x_train, names)
    hot = encoding.one_hot_mask()
    mean, std = np.zeros(len(hot)), np.ones(len(hot))
    if (~hot).any():
        numeric_names = [n for n, h in zip(encoding.expanded_names(), hot) if not h]
        fitted = norm.fit_standardizer(x_train[:, ~hot], numeric_names)
        mean[~hot], std[~hot] = fitted.mean, fitted.std
    return norm.Standardizer(mean, std)


def to_manifest(encoding: Encoding | None) -> dict | None:
    """The manifest entry of ``encoding``: ``{"one_hot": {column: [categories]}}``.

    >>> from jaxdl.data.encoding import to_manifest, Encoding
    >>> to_manifest(Encoding(("sex",), {"sex": ("f", "m")}))
    {'one_hot': {'sex': ['f', 'm']}}
    """
    if encoding is None:
        return None
    return {"one_hot": {n: list(c) for n, c in encoding.categories.items()}}


def from_manifest(entry: Mapping | None, features: Sequence[str]) -> Encoding | None:
    """The :class:`Encoding` of a manifest entry checked by
    :func:`jaxdl.saved.file_format.check_encoding`.

    >>> from jaxdl.data.encoding import from_manifest
    >>> from_manifest({"one_hot": {"sex": ["f", "m"]}}, ("age", "sex")).width
    3
    """
    if not entry:
        return None
    return Encoding(tuple(features), {n: tuple(c) for n, c in entry["one_hot"].items()})
