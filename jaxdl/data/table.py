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

The reading is split by idea: :mod:`jaxdl.data.cells` (one column from its cells, by these
rules), :mod:`jaxdl.data.columns` (:class:`Table`, :func:`from_cells`),
:mod:`jaxdl.data.csv_files` (:func:`read_csv`) and :mod:`jaxdl.data.dataframes`
(:func:`from_dataframe`, :func:`is_dataframe`); every name is importable from here too.
"""

from __future__ import annotations

from jaxdl.data.cells import EXACT_LIMIT, INFINITE, INTEGER, MISSING, NUMBER
from jaxdl.data.columns import Table, from_cells
from jaxdl.data.csv_files import read_csv
from jaxdl.data.dataframes import from_dataframe, is_dataframe

__all__ = ["EXACT_LIMIT", "INFINITE", "INTEGER", "MISSING", "NUMBER", "Table", "from_cells",
           "from_dataframe", "is_dataframe", "read_csv"]
