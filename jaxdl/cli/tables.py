"""The tables the ``jaxdl`` command prints (figures per split, sweep rankings), aligned for
numbers of any magnitude: a column is as wide as its widest cell, and a number too large or
too small for four decimals is written in scientific notation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def number(value: Any, decimals: int = 4) -> str:
    """``value`` with ``decimals`` decimals, in scientific notation outside ``[1e-3, 1e6)``
    (by magnitude; 0 stays fixed), non-numbers as ``str``.

    Args:
      value: a number (or anything else, shown with ``str``).
      decimals: digits after the point (and after the leading digit in scientific notation).

    Returns:
      The text of one table cell.

    >>> from jaxdl.cli.tables import number
    >>> number(0.25), number(5970589184.0), number(3e-9), number(7), number("relu")
    ('0.2500', '5.9706e+09', '3.0000e-09', '7', 'relu')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0 or 1e-3 <= size < 1e6:
        return f"{value:.{decimals}f}"
    return f"{value:.{decimals}e}"


def render(header: Sequence[str], rows: Sequence[Sequence[Any]], min_width: int = 0,
           left: int = 1, gap: int = 2) -> str:
    """A text table: the first ``left`` columns left-aligned, the others right-aligned, each
    column ``max(min_width, widest cell)`` wide and at least ``gap`` spaces from the next one.
    Numbers are formatted with :func:`number`.

    Args:
      header: the column names.
      rows: one sequence of cells per row, as many as ``header``.
      min_width: the narrowest a right-aligned column gets.
      left: how many leading columns are left-aligned.
      gap: spaces between columns.

    Returns:
      The lines of the table, joined by newlines.

    >>> from jaxdl.cli.tables import render
    >>> print(render(["split", "loss"], [["train", 5970589184.0], ["test", 0.25]]))
    split        loss
    train  5.9706e+09
    test       0.2500
    """
    cells = [[str(h) for h in header]] + [[number(v) for v in row] for row in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    widths = [w if j < left else max(w, min_width) for j, w in enumerate(widths)]
    lines = []
    for row in cells:
        parts = [c.ljust(w) if j < left else c.rjust(w)
                 for j, (c, w) in enumerate(zip(row, widths))]
        lines.append((" " * gap).join(parts).rstrip())
    return "\n".join(lines)


def format_figures(splits: dict[str, dict[str, Any]], task: str) -> str:
    """A table with one row per split: loss and accuracy, or loss, MAE and R^2 (splits with no
    samples are left out).

    >>> from jaxdl.cli.tables import format_figures
    >>> print(format_figures({"test": {"loss": 0.25, "accuracy": 0.9}}, "classification"))
    split       loss  accuracy
    test      0.2500    0.9000
    """
    keys = ("loss", "accuracy") if task == "classification" else ("loss", "mae", "r2")
    rows = [[name, *(values[k] for k in keys)] for name, values in splits.items()
            if values.get("samples", 1)]
    return render(["split", *keys], rows, min_width=8)


def wrote_line(written: Sequence[str], tensorboard: str | None = None,
               checkpoint_dir: str | None = None) -> str:
    """The closing line of ``train`` and ``sweep``: every file written, then the TensorBoard
    directory (its ``train``/``validation`` runs) and the checkpoint directory when used.

    >>> from jaxdl.cli.tables import wrote_line
    >>> wrote_line(["out/history.json"], tensorboard="tb", checkpoint_dir="ckpt")
    'wrote out/history.json; TensorBoard runs in tb (train/, validation/); checkpoints in ckpt'
    """
    line = "wrote " + ", ".join(written)
    if tensorboard:
        line += f"; TensorBoard runs in {tensorboard} (train/, validation/)"
    if checkpoint_dir:
        line += f"; checkpoints in {checkpoint_dir}"
    return line
