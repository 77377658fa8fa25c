"""A CSV file with a header row read into a :class:`~jaxdl.data.columns.Table`
(:func:`read_csv`): standard library ``csv``, strict about quotes, blank lines and field counts.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from jaxdl.data.cells import check_column_names
from jaxdl.data.columns import Table, from_cells
from jaxdl.infra.untrusted import read_bytes


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
    >>> from jaxdl.data.table import read_csv
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
    names = check_column_names(source, header)
    if not rows:
        raise ValueError(f"{source}: the file has a header but no data rows")
    columns = [list(column) for column in zip(*rows)]
    return from_cells(source, names, columns, np.asarray(lines), text_columns)


def _row_at(header: list[str] | None, rows: int, line: int) -> str:
    """``"row 3 (line 4)"`` for the next data row, or the header's line."""
    return f"the header (line {line})" if header is None else f"row {rows + 1} (line {line})"
