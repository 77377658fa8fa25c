"""A labels file for ``.npy`` features: a ``.npy`` array, a ``.csv`` column (header row) or a
``.txt`` file (one label per line, UTF-8 with or without a byte order mark; a blank line before
a label is an error).
"""

from __future__ import annotations

import os
import re

import numpy as np

from jaxdl.data.array_files import load_npy, missing_labels
from jaxdl.data.labels import Labels, array_labels, table_labels
from jaxdl.data.table import Table, from_cells, read_csv
from jaxdl.infra.untrusted import read_bytes


def read_labels_file(path: str | os.PathLike) -> tuple[Labels, np.ndarray, str]:
    """The labels of a ``.npy``, ``.csv`` or ``.txt`` file, which of them are missing, and what
    the file holds one label per (for error messages)."""
    source = os.fspath(path)
    suffix = os.path.splitext(source)[1].lower()
    if suffix == ".npy":
        labels = array_labels(source, "labels", load_npy(source, "labels file"))
        return labels, missing_labels(labels), "array row"
    if suffix in (".csv", ".txt"):
        table = read_csv(source, what="labels file") if suffix == ".csv" else text_lines(source)
        if len(table.names) != 1:
            raise ValueError(f"{source}: a labels file needs one column, got {len(table.names)}")
        name = table.names[0]
        return (table_labels(table, name), table.is_missing(name),
                "data row, after a header line" if suffix == ".csv" else "line")
    raise ValueError(f"{source}: unknown labels file type {suffix!r}; use .npy, .csv or .txt")


def text_lines(source: str) -> Table:
    """A ``.txt`` file of one label per line as a one-column table: UTF-8 (a byte order mark is
    removed); blank lines at the end are ignored, a blank line before a label is an error."""
    try:
        text = read_bytes(source, what="labels file").decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{source}: no such file") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: not a UTF-8 text file ({err.reason} at byte "
                         f"{err.start})") from None
    lines = re.split(r"\r\n|\r|\n", text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{source}: the labels file is empty")
    blank = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if blank is not None:
        raise ValueError(
            f"{source}: line {blank + 1} is blank; each line is the label of one sample, so a "
            "blank line would shift every later label by one: delete the line, or write the "
            "missing label there"
        )
    return from_cells(source, ("labels",), [lines], np.arange(1, len(lines) + 1))

