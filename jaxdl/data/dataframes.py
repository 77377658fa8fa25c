"""A pandas DataFrame read into a :class:`~jaxdl.data.columns.Table` (:func:`from_dataframe`),
without importing pandas (:func:`is_dataframe`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxdl.data.cells import (
    EXACT_LIMIT,
    Column,
    check_column_names,
    not_finite,
    parse_column,
    row_where,
    text_column,
)
from jaxdl.data.columns import Table, build_table


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas when it is not loaded).

    Args:
        value: any object.

    Returns:
        Whether ``value`` is a ``pandas.DataFrame``.

    Examples:
        >>> import pandas as pd
        >>> from jaxdl.data.table import is_dataframe
        >>> is_dataframe(pd.DataFrame({"a": [1]})), is_dataframe({"a": [1]})
        (True, False)
    """
    pandas = __import__("sys").modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def from_dataframe(frame: Any, text_columns: tuple[str, ...] = ()) -> Table:
    """A :class:`Table` of a pandas DataFrame: numeric columns as they are (an infinite value is
    an error; NaN/None are missing), other columns read from their text by the module's rules.

    Args:
        frame: a ``pandas.DataFrame`` with at least one row.
        text_columns: columns kept as text (see :func:`from_cells`).

    Returns:
        The :class:`Table` (its source is ``"DataFrame"``, its ``lines`` ``None``).

    Raises:
        ValueError: for a DataFrame without rows, with unnamed or repeated columns, or with a
            bad cell (see :func:`from_cells`).

    Examples:
        >>> import pandas as pd
        >>> from jaxdl.data.table import from_dataframe
        >>> table = from_dataframe(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}))
        >>> table.names, table.is_missing("x").tolist(), table.where(0)
        (('x', 'y'), [False, True], 'row 1')
    """
    source = "DataFrame"
    names = check_column_names(source, [str(c) for c in frame.columns])
    if len(frame) == 0:
        raise ValueError(f"{source}: has no rows")
    parsed = []
    for j, name in enumerate(names):
        series = frame.iloc[:, j]
        gaps = np.asarray(series.isna(), dtype=bool)
        kind = np.dtype(series.dtype).kind if isinstance(series.dtype, np.dtype) else "O"
        if name in text_columns:
            parsed.append(text_column(["" if gap else str(v) for v, gap in
                                       zip(series.tolist(), gaps)]))
        elif kind in "biuf":
            values = np.asarray(series, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values) & ~gaps)
            if bad.size:
                not_finite(source, name, str(values[bad[0]]), row_where(None, int(bad[0])))
            exact = None
            if kind in "iu" and len(values) and np.abs(values).max() >= EXACT_LIMIT:
                exact = np.array([int(v) for v in np.asarray(series)], dtype=object)
            parsed.append(Column(values, gaps, kind in "biu", None, exact, None))
        else:
            cells = ["" if gap else str(v) for v, gap in zip(series.tolist(), gaps)]
            parsed.append(parse_column(source, name, cells, lambda r: row_where(None, r)))
    return build_table(source, names, parsed, None)
