"""Reading a table of numbers: a CSV file (header row, standard library ``csv``) or a pandas
DataFrame, column by column, with every problem reported as one line naming the source, the
column and the row.

The rules, strict so that one bad cell cannot change what a column means:

- A cell is read with its surrounding spaces removed. A *number* is a decimal such as ``3``,
  ``-0.5``, ``.5`` or ``1e-3`` (ASCII digits; no ``_``, no ``0x``).
- A column is *numeric* when every cell is a number or missing; there a cell is *missing* when
  it is empty or one of ``NA``, ``N/A``, ``NaN``, ``null``, ``None``, ``?`` (any case). A column
  is *integral* when every number in it is an integer (``3``, not ``3.0``); integers are read
  exactly (Python ``int``), also beyond 2**53.
- A column is *text* when no cell is a number; there only an empty cell is missing, and
  ``NA`` or ``None`` are ordinary text (a class called ``NA``).
- A column holding both numbers and text is an error naming the first cell of the rarer kind
  (``1.2.3`` among numbers, ``5`` among words). ``inf``/``infinity`` in a numeric column is an
  error (not a missing value): replace it by a number or leave the cell empty.
- CSV only: a cell may not span lines (a stray ``"`` would swallow the rows after it), every row
  has one field per header column, blank lines (and rows of blank fields) are skipped, and a
  UTF-8 byte order mark is removed. In a one-column file a blank line before a data row is an
  error (it would shift the rows after it); write an empty cell as ``""``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from jaxdl.infra.untrusted import read_bytes

#: Cells that mark a missing value in a numeric column (compared in lower case); an empty cell is
#: missing in any column.
MISSING = frozenset({"na", "n/a", "nan", "null", "none", "?"})
#: Cells that read as an infinite number: an error in a numeric column.
INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
INTEGER = re.compile(r"[+-]?[0-9]+\Z")
# Deletes the characters of numbers: what is left of a column of numbers is empty. Over these
# characters ``float`` accepts exactly the cells that NUMBER matches.
_NUMBER_CHARACTERS = str.maketrans("", "", "0123456789.eE+-\n")
_ODD_SPELLING = re.compile(r"(?m)^(?:\+|-?0[0-9]|-0$)")  # "+1", "01", "-0": same int, other text
#: Integers beyond this magnitude are kept exactly (float64 rounds them).
EXACT_LIMIT = 2**53


class Table(NamedTuple):
    """Columns of one source. ``columns[j]`` is float64 (NaN where missing) for a numeric
    column and an object array of ``str`` otherwise; ``missing[j]`` marks missing cells;
    ``text_at[name]`` is the first row of a text column; ``lines[r]`` is the file line of data
    row ``r`` (``None`` for a DataFrame); ``positions`` maps each name to its position; ``exact``
    holds the integral columns with a value beyond 2**53 as Python ``int`` (0 where missing);
    ``merged[name]`` says where an integral column spells one integer two ways (``01``, ``1``).

    Examples:
        >>> table = from_cells("t.csv", ("a", "b"), [["1", "2"], ["x", "NA"]], None)
        >>> table.num_rows, table.integral, table.text_at, table.is_missing("b").tolist()
        (2, frozenset({'a'}), {'b': 0}, [False, False])
    """

    source: str
    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    missing: tuple[np.ndarray, ...]
    integral: frozenset[str]
    text_at: dict[str, int]
    lines: np.ndarray | None
    positions: dict[str, int]
    exact: dict[str, np.ndarray]
    merged: dict[str, str]

    @property
    def num_rows(self) -> int:
        """Number of data rows."""
        return len(self.columns[0])

    def where(self, row: int) -> str:
        """``"row 3 (line 4)"``: a data row as a person finds it in the file."""
        return _where(self.lines, row)

    def column(self, name: str) -> np.ndarray:
        """The column called ``name``, or a ``ValueError`` listing the columns there are."""
        j = self.positions.get(name)
        if j is None:
            shown = ", ".join(map(repr, self.names[:20]))
            more = f" and {len(self.names) - 20} more" if len(self.names) > 20 else ""
            raise ValueError(f"{self.source}: no column named {name!r}; the columns are "
                             f"{shown}{more}")
        return self.columns[j]

    def numeric(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """The columns ``names`` as a float64 matrix ``(rows, len(names))``, NaN where missing;
        a column holding text is an error naming it and its first text row."""
        for name in names:
            self.column(name)
            if name in self.text_at:
                row = self.text_at[name]
                value = self.columns[self.positions[name]][row]
                raise ValueError(
                    f"{self.source}: column {name!r} is not numeric: {self.where(row)} holds "
                    f"{value!r}; encode it as numbers or remove the column"
                )
        if not names:
            return np.zeros((self.num_rows, 0))
        return np.stack([self.columns[self.positions[n]] for n in names], axis=1)

    def is_missing(self, name: str) -> np.ndarray:
        """Boolean mask of the missing cells of column ``name``."""
        self.column(name)
        return self.missing[self.positions[name]]


def _where(lines: np.ndarray | None, row: int) -> str:
    if lines is None:
        return f"row {row + 1}"
    return f"row {row + 1} (line {int(lines[row])})"


class _Column(NamedTuple):
    values: np.ndarray
    missing: np.ndarray
    integral: bool
    text_row: int | None
    exact: np.ndarray | None
    merged: str | None


def _integers(source: str, name: str, texts: list[str], missing: np.ndarray,
              values: np.ndarray, where: Callable[[int], str]) -> _Column:
    """An integral column: exact values when float64 rounds them, and two spellings of one
    integer (``01`` and ``1``) found."""
    exact = None
    finite = values[~missing]
    if finite.size and np.abs(finite).max() >= EXACT_LIMIT:
        exact = np.array([0 if gap else int(t) for t, gap in zip(texts, missing)], dtype=object)
    merged = None
    if _ODD_SPELLING.search("\n".join(t for t, gap in zip(texts, missing) if not gap)):
        first: dict[int, int] = {}
        for r, t in enumerate(texts):
            if missing[r]:
                continue
            value = int(t)
            s = first.setdefault(value, r)
            if texts[s] != t:
                merged = (f"column {name!r} spells the integer {value} two ways: "
                          f"{texts[s]!r} at {where(s)} and {t!r} at {where(r)}")
                break
    return _Column(values, missing, True, None, exact, merged)


def _all_numbers(texts: list[str]) -> tuple[np.ndarray, bool] | None:
    """``(values, integral)`` when every cell is a number (no spaces), else ``None``."""
    joined = "\n".join(texts)
    if joined.translate(_NUMBER_CHARACTERS):
        return None
    try:
        values = np.array(list(map(float, texts)), dtype=np.float64)
    except ValueError:
        return None
    return values, not any(c in joined for c in ".eE")


def _parse(source: str, name: str, cells: list[str], where: Callable[[int], str]) -> _Column:
    """One column of strings, by the rules of the module docstring."""
    texts, fast = cells, _all_numbers(cells)
    if fast is None:
        texts = [c.strip() for c in cells]
        fast = _all_numbers(texts)
    if fast is not None:  # the common case, at C speed
        values, integral = fast
        missing = np.zeros(len(texts), dtype=bool)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            _not_finite(source, name, texts[bad[0]], where(int(bad[0])))
        if integral:
            return _integers(source, name, texts, missing, values, where)
        return _Column(values, missing, False, None, None, None)
    numbers, words, infinite = [], [], []
    missing = np.zeros(len(texts), dtype=bool)
    for r, t in enumerate(texts):
        if NUMBER.match(t):
            numbers.append(r)
        elif not t:
            missing[r] = True
        elif t.lower() in INFINITE:
            infinite.append(r)
        elif t.lower() not in MISSING:
            words.append(r)
    if numbers and words:
        if len(words) <= len(numbers):
            r = words[0]
            raise ValueError(
                f"{source}: column {name!r} is not numeric: {where(r)} holds {texts[r]!r}, but "
                f"{len(numbers)} other cell(s) hold numbers; a column is all numbers or all "
                "text: fix the cell, or leave it empty to mark a missing value"
            )
        r = numbers[0]
        raise ValueError(
            f"{source}: column {name!r} holds text ({len(words)} cell(s), such as "
            f"{texts[words[0]]!r}) but {where(r)} holds the number {texts[r]!r}; a column is "
            "all numbers or all text: fix the cell, or write every label of the column as text "
            "(such as 'n5')"
        )
    if not numbers and not missing.all():
        text_row = int(np.argmin(missing))
        return _Column(np.array(texts, dtype=object), missing, False, text_row, None, None)
    if infinite:
        _not_finite(source, name, texts[infinite[0]], where(infinite[0]))
    values = np.full(len(texts), np.nan)
    for r in numbers:
        values[r] = float(texts[r])
    bad = np.flatnonzero(~np.isfinite(values[numbers]))
    if bad.size:
        r = numbers[int(bad[0])]
        _not_finite(source, name, texts[r], where(r))
    missing = np.isnan(values)
    if numbers and all(INTEGER.match(texts[r]) for r in numbers):
        return _integers(source, name, texts, missing, values, where)
    return _Column(values, missing, False, None, None, None)


def _not_finite(source: str, name: str, text: str, where: str) -> None:
    raise ValueError(
        f"{source}: column {name!r} holds {text!r} at {where}, which is not a finite number; "
        "replace it by a number, or leave the cell empty to mark a missing value"
    )


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


def read_csv(path: str | os.PathLike, what: str = "data file",
             text_columns: tuple[str, ...] = ()) -> Table:
    """Read a CSV file with a header row into a :class:`Table`.

    Only a regular file is read (:func:`jaxdl.infra.untrusted.read_bytes`), as UTF-8 with an
    optional byte order mark. Blank lines are skipped (a one-column file allows them only at its
    end); every other row must have as many fields as the header, and no cell may span lines.

    Args:
        path: the CSV file.
        what: how error messages name the file when it cannot be read.
        text_columns: columns read as text, unparsed (see :func:`from_cells`).

    Returns:
        The parsed :class:`Table`.

    Raises:
        ValueError: naming the file, the row (and line) and the fix.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b\\n1,2.5\\n3,NA\\n")
    >>> t = read_csv(p)
    >>> t.names, t.numeric(["a"]).ravel().tolist(), t.is_missing("b").tolist()
    (('a', 'b'), [1.0, 3.0], [False, True])
    """
    source = os.fspath(path)
    try:
        text = read_bytes(source, what=what).decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{source}: no such file") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: not a UTF-8 text file ({err.reason} at byte "
                         f"{err.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    blank: int | None = None  # the first blank line after the header
    end = 0  # the last line read
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if end != start:  # a line break inside a quoted cell
                raise ValueError(
                    f"{source}: {_row_at(header, len(rows), start)} opens a quoted cell that "
                    f"runs to line {end}; a cell may not span lines (a stray '\"'?): close the "
                    "quote on its line or remove it"
                )
            if not row or (not row[0].strip() and row != [""] and
                           all(not cell.strip() for cell in row)):
                if header is not None and blank is None:
                    blank = start
                continue
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{source}: row {len(rows) + 1} (line {start}) has {len(row)} "
                    f"fields but the header has {len(header)}; every row needs one value "
                    "per column"
                )
            if blank is not None and len(header) == 1:
                raise ValueError(
                    f"{source}: line {blank} is blank; in a one-column file that would be an "
                    "empty cell and shift every later row: delete the line, or write the "
                    'missing value as "" or NA'
                )
            rows.append(row)
            lines.append(start)
    except csv.Error as err:
        raise ValueError(
            f"{source}: not a valid CSV file at {_row_at(header, len(rows), end + 1)} ({err}); "
            "a quote opened there is never closed, or text follows a closing quote: fix the "
            "quotes of that line"
        ) from None
    if header is None:
        raise ValueError(f"{source}: the file is empty; expected a header row and data rows")
    names = _check_names(source, header)
    if not rows:
        raise ValueError(f"{source}: the file has a header but no data rows")
    columns = [list(column) for column in zip(*rows)]
    return from_cells(source, names, columns, np.asarray(lines), text_columns)


def _row_at(header: list[str] | None, rows: int, line: int) -> str:
    """``"row 3 (line 4)"`` for the next data row, or the header's line."""
    return f"the header (line {line})" if header is None else f"row {rows + 1} (line {line})"


def from_cells(source: str, names: tuple[str, ...], cells: list[list[str]],
               lines: np.ndarray | None, text_columns: tuple[str, ...] = ()) -> Table:
    """A :class:`Table` of text cells, one list per column (``lines``: each row's file line).

    Args:
        source: the table's name in error messages (a file path).
        names: the column names.
        cells: the cells, one list of strings per column.
        lines: each data row's line in the file, or ``None``.
        text_columns: columns kept as their text (spaces around it removed; an empty cell is
            missing), neither parsed nor checked: row ids such as ``007``.

    Returns:
        The parsed :class:`Table`.

    Raises:
        ValueError: for a column of numbers and text, or an infinite number, naming the row.

    Examples:
        >>> import numpy as np
        >>> table = from_cells("t.csv", ("a",), [["1.5", "?"]], np.array([2, 3]))
        >>> table.numeric(["a"]).ravel().tolist(), table.where(1)
        ([1.5, nan], 'row 2 (line 3)')
    """
    parsed = [_as_text(column) if name in text_columns else
              _parse(source, name, column, lambda r: _where(lines, r))
              for name, column in zip(names, cells)]
    return _table(source, names, parsed, lines)


def _as_text(cells: list[str]) -> _Column:
    """A column kept as text: stripped cells, the empty ones missing."""
    texts = [c.strip() for c in cells]
    missing = np.array([not t for t in texts], dtype=bool)
    row = None if missing.all() else int(np.argmin(missing))
    return _Column(np.array(texts, dtype=object), missing, False, row, None, None)


def _table(source: str, names: tuple[str, ...], parsed: list[_Column],
           lines: np.ndarray | None) -> Table:
    return Table(
        source, names, tuple(c.values for c in parsed), tuple(c.missing for c in parsed),
        frozenset(n for n, c in zip(names, parsed) if c.integral),
        {n: c.text_row for n, c in zip(names, parsed) if c.text_row is not None}, lines,
        {n: j for j, n in enumerate(names)},
        {n: c.exact for n, c in zip(names, parsed) if c.exact is not None},
        {n: c.merged for n, c in zip(names, parsed) if c.merged is not None},
    )


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
        >>> table = from_dataframe(pd.DataFrame({"x": [1.0, None], "y": ["a", "b"]}))
        >>> table.names, table.is_missing("x").tolist(), table.where(0)
        (('x', 'y'), [False, True], 'row 1')
    """
    source = "DataFrame"
    names = _check_names(source, [str(c) for c in frame.columns])
    if len(frame) == 0:
        raise ValueError(f"{source}: has no rows")
    parsed = []
    for j, name in enumerate(names):
        series = frame.iloc[:, j]
        gaps = np.asarray(series.isna(), dtype=bool)
        kind = np.dtype(series.dtype).kind if isinstance(series.dtype, np.dtype) else "O"
        if name in text_columns:
            parsed.append(_as_text(["" if gap else str(v) for v, gap in
                                    zip(series.tolist(), gaps)]))
        elif kind in "biuf":
            values = np.asarray(series, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values) & ~gaps)
            if bad.size:
                _not_finite(source, name, str(values[bad[0]]), _where(None, int(bad[0])))
            exact = None
            if kind in "iu" and len(values) and np.abs(values).max() >= EXACT_LIMIT:
                exact = np.array([int(v) for v in np.asarray(series)], dtype=object)
            parsed.append(_Column(values, gaps, kind in "biu", None, exact, None))
        else:
            cells = ["" if gap else str(v) for v, gap in zip(series.tolist(), gaps)]
            parsed.append(_parse(source, name, cells, lambda r: _where(None, r)))
    return _table(source, names, parsed, None)
