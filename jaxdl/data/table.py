"""Reading a table of numbers: a CSV file (header row, standard library ``csv``) or a pandas
DataFrame, column by column, with every problem reported as one line naming the source, the
column and the row.

A cell is *missing* when it is empty or one of ``NA``, ``N/A``, ``NaN``, ``null``, ``None``,
``?`` (any case). A column is *numeric* when every cell that is not missing parses as a finite
float; it is *integral* when every such cell parses as an ``int`` (``"3"``, not ``"3.0"``).
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any, NamedTuple

import numpy as np

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


class Table(NamedTuple):
    """Columns of one source. ``columns[j]`` is float64 (NaN where missing) for a numeric
    column and an object array of ``str`` otherwise; ``missing[j]`` marks missing cells;
    ``text_at[name]`` is the first row of a non-numeric column holding text; ``lines[r]`` is
    the file line of data row ``r`` (``None`` for a DataFrame).

    Examples:
        >>> table = from_cells("t.csv", ("a", "b"), [["1", "2"], ["x", "NA"]], None)
        >>> table.num_rows, table.integral, table.text_at, table.is_missing("b").tolist()
        (2, frozenset({'a'}), {'b': 0}, [False, True])
    """

    source: str
    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    missing: tuple[np.ndarray, ...]
    integral: frozenset[str]
    text_at: dict[str, int]
    lines: np.ndarray | None

    @property
    def num_rows(self) -> int:
        """Number of data rows."""
        return len(self.columns[0])

    def where(self, row: int) -> str:
        """``"row 3 (line 4)"``: a data row as a person finds it in the file."""
        if self.lines is None:
            return f"row {row + 1}"
        return f"row {row + 1} (line {int(self.lines[row])})"

    def column(self, name: str) -> np.ndarray:
        """The column called ``name``, or a ``ValueError`` listing the columns there are."""
        if name not in self.names:
            raise ValueError(
                f"{self.source}: no column named {name!r}; the columns are "
                f"{', '.join(map(repr, self.names))}"
            )
        return self.columns[self.names.index(name)]

    def numeric(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """The columns ``names`` as a float64 matrix ``(rows, len(names))``, NaN where missing;
        a column holding text is an error naming it and its first text row."""
        for name in names:
            self.column(name)
            if name in self.text_at:
                row = self.text_at[name]
                value = self.columns[self.names.index(name)][row]
                raise ValueError(
                    f"{self.source}: column {name!r} is not numeric: {self.where(row)} holds "
                    f"{value!r}; encode it as numbers or remove the column"
                )
        if not names:
            return np.zeros((self.num_rows, 0))
        return np.stack([self.columns[self.names.index(n)] for n in names], axis=1)

    def is_missing(self, name: str) -> np.ndarray:
        """Boolean mask of the missing cells of column ``name``."""
        self.column(name)
        return self.missing[self.names.index(name)]


def _parse(cells: list[str]) -> tuple[np.ndarray, np.ndarray, bool, int | None]:
    """``(values, missing, integral, first_text_row)`` of one column of strings."""
    missing = np.array([c.strip().lower() in MISSING for c in cells], dtype=bool)
    values = np.full(len(cells), np.nan)
    integral = True
    for r, cell in enumerate(cells):
        if missing[r]:
            continue
        text = cell.strip()
        try:
            value = float(text)
        except ValueError:
            return np.array([c.strip() for c in cells], dtype=object), missing, False, r
        if not math.isfinite(value):
            return np.array([c.strip() for c in cells], dtype=object), missing, False, r
        if integral:
            try:
                int(text)
            except ValueError:
                integral = False
        values[r] = value
    return values, missing, integral, None


def _check_names(source: str, names: list[str]) -> tuple[str, ...]:
    names = [n.strip() for n in names]
    for j, name in enumerate(names):
        if not name:
            raise ValueError(f"{source}: header column {j + 1} has no name; name every column")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{source}: the header names column {name!r} twice")
        seen.add(name)
    return tuple(names)


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row into a :class:`Table`.

    Blank lines are skipped; every other row must have as many fields as the header.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b\\n1,2.5\\n3,NA\\n")
    >>> t = read_csv(p)
    >>> t.names, t.numeric(["a"]).ravel().tolist(), t.is_missing("b").tolist()
    (('a', 'b'), [1.0, 3.0], [False, True])
    """
    source = os.fspath(path)
    try:
        with open(source, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows: list[list[str]] = []
            lines: list[int] = []
            header: list[str] | None = None
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if header is None:
                    header = row
                    continue
                if len(row) != len(header):
                    raise ValueError(
                        f"{source}: row {len(rows) + 1} (line {reader.line_num}) has {len(row)} "
                        f"fields but the header has {len(header)}; every row needs one value "
                        "per column"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: not a UTF-8 text file ({err.reason})") from None
    except csv.Error as err:
        raise ValueError(f"{source}: not a valid CSV file ({err})") from None
    if header is None:
        raise ValueError(f"{source}: the file is empty; expected a header row and data rows")
    names = _check_names(source, header)
    if not rows:
        raise ValueError(f"{source}: the file has a header but no data rows")
    return from_cells(source, names, [[row[j] for row in rows] for j in range(len(names))],
                      np.asarray(lines))


def from_cells(source: str, names: tuple[str, ...], cells: list[list[str]],
               lines: np.ndarray | None) -> Table:
    """A :class:`Table` of text cells, one list per column (``lines``: each row's file line).

    Args:
        source: the table's name in error messages (a file path).
        names: the column names.
        cells: the cells, one list of strings per column.
        lines: each data row's line in the file, or ``None``.

    Returns:
        The parsed :class:`Table`.

    Examples:
        >>> import numpy as np
        >>> table = from_cells("t.csv", ("a",), [["1.5", "?"]], np.array([2, 3]))
        >>> table.numeric(["a"]).ravel().tolist(), table.where(1)
        ([1.5, nan], 'row 2 (line 3)')
    """
    columns, missing, integral, text_at = [], [], set(), {}
    for name, column in zip(names, cells):
        values, gaps, whole, text_row = _parse(column)
        columns.append(values)
        missing.append(gaps)
        if text_row is not None:
            text_at[name] = text_row
        elif whole:
            integral.add(name)
    return Table(source, names, tuple(columns), tuple(missing), frozenset(integral), text_at,
                 lines)


def is_dataframe(value: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas when it is not loaded).

    Args:
        value: any object.

    Returns:
        Whether ``value`` is a ``pandas.DataFrame``.

    Examples:
        >>> import pandas as pd
        >>> is_dataframe(pd.DataFrame({"a": [1]})), is_dataframe({"a": [1]})
        (True, False)
    """
    pandas = __import__("sys").modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def from_dataframe(frame: Any) -> Table:
    """A :class:`Table` of a pandas DataFrame: numeric columns as they are, others as text.

    Args:
        frame: a ``pandas.DataFrame`` with at least one row.

    Returns:
        The :class:`Table` (its source is ``"DataFrame"``, its ``lines`` ``None``).

    Raises:
        ValueError: for a DataFrame without rows, or with unnamed or repeated columns.

    Examples:
        >>> import pandas as pd
        >>> table = from_dataframe(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}))
        >>> table.names, table.is_missing("x").tolist(), table.where(0)
        (('x', 'y'), [False, True], 'row 1')
    """
    source = "DataFrame"
    names = _check_names(source, [str(c) for c in frame.columns])
    if len(frame) == 0:
        raise ValueError(f"{source}: has no rows")
    columns, missing, integral, text_at = [], [], set(), {}
    for name, label in zip(names, frame.columns):
        series = frame[label]
        gaps = np.asarray(series.isna(), dtype=bool)
        kind = np.dtype(series.dtype).kind if isinstance(series.dtype, np.dtype) else "O"
        if kind in "biuf":
            values = np.asarray(series, dtype=np.float64)
            bad = ~np.isfinite(values) & ~gaps
            if bad.any():
                text_at[name] = int(np.argmax(bad))
            if kind in "biu":
                integral.add(name)
        else:
            cells = ["" if gap else str(v) for v, gap in zip(series.tolist(), gaps)]
            values, gaps, whole, text_row = _parse(cells)
            if text_row is not None:
                text_at[name] = text_row
            elif whole:
                integral.add(name)
        columns.append(values)
        missing.append(gaps)
    return Table(source, names, tuple(columns), tuple(missing), frozenset(integral), text_at,
                 None)
