"""One column of a table read from its text cells, by the rules of :mod:`jaxdl.data.table`: what
a number is, which cells are missing, when a column is numeric, integral or text, and the error
that names the cell breaking the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

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


def row_where(lines: np.ndarray | None, row: int) -> str:
    """``"row 3 (line 4)"``: data row ``row`` and its file line (``"row 3"`` without
    ``lines``)."""
    if lines is None:
        return f"row {row + 1}"
    return f"row {row + 1} (line {int(lines[row])})"


class Column(NamedTuple):
    """One parsed column: its values, missing cells, whether it is integral, its first text row
    (a text column), its exact integers beyond 2**53 and the note of an integer spelled two
    ways."""

    values: np.ndarray
    missing: np.ndarray
    integral: bool
    text_row: int | None
    exact: np.ndarray | None
    merged: str | None


def _integers(source: str, name: str, texts: list[str], missing: np.ndarray,
              values: np.ndarray, where: Callable[[int], str]) -> Column:
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
    return Column(values, missing, True, None, exact, merged)


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


def parse_column(source: str, name: str, cells: list[str], where: Callable[[int], str]) -> Column:
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
            not_finite(source, name, texts[bad[0]], where(int(bad[0])))
        if integral:
            return _integers(source, name, texts, missing, values, where)
        return Column(values, missing, False, None, None, None)
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
        return Column(np.array(texts, dtype=object), missing, False, text_row, None, None)
    if infinite:
        not_finite(source, name, texts[infinite[0]], where(infinite[0]))
    values = np.full(len(texts), np.nan)
    for r in numbers:
        values[r] = float(texts[r])
    bad = np.flatnonzero(~np.isfinite(values[numbers]))
    if bad.size:
        r = numbers[int(bad[0])]
        not_finite(source, name, texts[r], where(r))
    missing = np.isnan(values)
    if numbers and all(INTEGER.match(texts[r]) for r in numbers):
        return _integers(source, name, texts, missing, values, where)
    return Column(values, missing, False, None, None, None)


def not_finite(source: str, name: str, text: str, where: str) -> None:
    """Raise the ``ValueError`` of an infinite number (``text``) in a numeric column."""
    raise ValueError(
        f"{source}: column {name!r} holds {text!r} at {where}, which is not a finite number; "
        "replace it by a number, or leave the cell empty to mark a missing value"
    )


def check_column_names(source: str, names: list[str]) -> tuple[str, ...]:
    """The header's column names, stripped; an empty or repeated name is an error."""
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



def text_column(cells: list[str]) -> Column:
    """A column kept as text: stripped cells, the empty ones missing."""
    texts = [c.strip() for c in cells]
    missing = np.array([not t for t in texts], dtype=bool)
    row = None if missing.all() else int(np.argmin(missing))
    return Column(np.array(texts, dtype=object), missing, False, row, None, None)

