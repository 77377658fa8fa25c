"""The :class:`Table` type (the columns of one source) and :func:`from_cells`, which builds one
from text cells by the rules of :mod:`jaxdl.data.table`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.data.cells import Column, parse_column, row_where, text_column


class Table(NamedTuple):
    """Columns of one source. ``columns[j]`` is float64 (NaN where missing) for a numeric
    column and an object array of ``str`` otherwise; ``missing[j]`` marks missing cells;
    ``text_at[name]`` is the first row of a text column; ``lines[r]`` is the file line of data
    row ``r`` (``None`` for a DataFrame); ``positions`` maps each name to its position; ``exact``
    holds the integral columns with a value beyond 2**53 as Python ``int`` (0 where missing);
    ``merged[name]`` says where an integral column spells one integer two ways (``01``, ``1``).

    Examples:
        >>> from jaxdl.data.table import from_cells
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
        return row_where(self.lines, row)

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
        >>> from jaxdl.data.table import from_cells
        >>> table = from_cells("t.csv", ("a",), [["1.5", "?"]], np.array([2, 3]))
        >>> table.numeric(["a"]).ravel().tolist(), table.where(1)
        ([1.5, nan], 'row 2 (line 3)')
    """
    parsed = [text_column(column) if name in text_columns else
              parse_column(source, name, column, lambda r: row_where(lines, r))
              for name, column in zip(names, cells)]
    return build_table(source, names, parsed, lines)


def build_table(source: str, names: tuple[str, ...], parsed: list[Column],
                lines: np.ndarray | None) -> Table:
    """The :class:`Table` of parsed columns."""
    return Table(
        source, names, tuple(c.values for c in parsed), tuple(c.missing for c in parsed),
        frozenset(n for n, c in zip(names, parsed) if c.integral),
        {n: c.text_row for n, c in zip(names, parsed) if c.text_row is not None}, lines,
        {n: j for j, n in enumerate(names)},
        {n: c.exact for n, c in zip(names, parsed) if c.exact is not None},
        {n: c.merged for n, c in zip(names, parsed) if c.merged is not None},
    )
