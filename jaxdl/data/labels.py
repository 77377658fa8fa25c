"""Labels to classes: integer or text labels name classes (sorted, indexed from 0), floats are
regression targets; the task follows from the labels unless it is given.

Guessing classification has a limit: integer or text labels with more than
:data:`MAX_GUESSED_CLASSES` distinct values *and* fewer than :data:`MIN_ROWS_PER_CLASS` rows per
class on average (a measured integer such as a count or a score, or a row id) are refused unless
the task is given. Integer labels are compared exactly (``2**53`` and ``2**53 + 1`` are two
classes), and two spellings of one integer in a table (``01`` and ``1``) are an error for
classification rather than one merged class.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.data.table import Table

#: Above this many distinct labels the task is not guessed when classes would be small.
MAX_GUESSED_CLASSES = 20
#: ... namely when there are fewer rows than this per class on average.
MIN_ROWS_PER_CLASS = 5


class Labels(NamedTuple):
    """Labels before encoding: ``values`` and their ``kind`` (``"int"``, ``"float"`` or
    ``"text"``); ``merged`` describes two spellings of one integer label (``01``, ``1``) in a
    table, which :func:`encode` refuses.

    Examples:
        >>> import numpy as np
        >>> Labels(np.array(["cat", "dog"], dtype=object), "text").kind
        'text'
    """

    values: np.ndarray
    kind: str
    merged: str | None = None


def array_labels(source: str, name: str, y: np.ndarray) -> Labels:
    """Labels of a 1-D (or ``(n, 1)``) array: integers, floats or text.

    Args:
        source: where the array came from, for error messages.
        name: the array's name, for error messages.
        y: the labels, shape ``(n,)`` or ``(n, 1)``.

    Returns:
        The 1-D :class:`Labels` (floats as float64, text as an object array of ``str``).

    Raises:
        ValueError: for another shape, an infinite value, or values that are neither numbers
            nor text.

    Examples:
        >>> import numpy as np
        >>> labels = array_labels("data.npz", "y", np.array([[1.5], [2.0]]))
        >>> labels.values.tolist(), labels.kind
        ([1.5, 2.0], 'float')
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{source}: array {name!r} has shape {y.shape}; labels must be 1-D")
    if y.dtype.kind in "biu":
        return Labels(y, "int")
    if y.dtype.kind == "f":
        if np.isinf(y).any():
            raise ValueError(f"{source}: array {name!r} holds inf at row "
                             f"{int(np.argmax(np.isinf(y))) + 1}; replace it by a number, or by "
                             "NaN to mark a missing value")
        return Labels(y.astype(np.float64), "float")
    if y.dtype.kind in "US":
        return Labels(y.astype(str).astype(object), "text")
    raise ValueError(f"{source}: array {name!r} holds {y.dtype} values; labels must be numbers "
                     "or text")

def table_labels(table: Table, name: str) -> Labels:
    """Labels of the column ``name``: text, integral numbers or other numbers.

    Args:
        table: the table read from a CSV file or a DataFrame.
        name: the label column.

    Returns:
        The column's :class:`Labels`: kind ``"text"``, ``"int"`` (exact: Python ``int`` in an
        object array when a value is beyond 2**53) or ``"float"``.

    Raises:
        ValueError: if ``table`` has no column ``name``.

    Examples:
        >>> from jaxdl.data.table import from_cells
        >>> table = from_cells("t.csv", ("x", "y"), [["1", "2"], ["cat", "dog"]], None)
        >>> table_labels(table, "x").kind, table_labels(table, "y").kind
        ('int', 'text')
    """
    values = table.column(name)
    if name in table.text_at:
        return Labels(values, "text")
    if name not in table.integral:
        return Labels(values, "float")
    merged = table.merged.get(name)
    return Labels(table.exact.get(name, values), "int",
                  None if merged is None else f"{table.source}: {merged}")


def infer_task(source: str, labels: Labels, task: str | None, target: str | None = None) -> str:
    """``task``, or from the labels: floats regress, integers and text classify, unless there are
    more than :data:`MAX_GUESSED_CLASSES` distinct labels with fewer than
    :data:`MIN_ROWS_PER_CLASS` rows per class on average (refused: say the task).

    Args:
        source: where the labels came from, for error messages.
        labels: the labels.
        task: ``"classification"``, ``"regression"`` or ``None`` to infer it.
        target: the target column's name, for error messages.

    Returns:
        ``"classification"`` or ``"regression"``.

    Raises:
        ValueError: for regression on text labels, classification on non-integral floats, or
            many small classes guessed.

    Examples:
        >>> import numpy as np
        >>> infer_task("y", Labels(np.array([0.5, 1.5]), "float"), None)
        'regression'
        >>> infer_task("y", Labels(np.array([0.0, 1.0]), "float"), "classification")
        'classification'
        >>> infer_task("y", Labels(np.arange(40), "int"), None)
        Traceback (most recent call last):
        ...
        ValueError: y: the target holds 40 distinct integers in 40 rows (1.0 per class), ...
    """
    if task is None:
        if labels.kind == "float":
            return "regression"
        distinct = int(np.unique(labels.values).size)
        rows = len(labels.values)
        if distinct > MAX_GUESSED_CLASSES and rows < MIN_ROWS_PER_CLASS * distinct:
            what = f"target column {target!r}" if target else "the target"
            kind = "integers" if labels.kind == "int" else "labels"
            choices = ("task='regression' (--task regression) to predict the number, "
                       if labels.kind == "int" else "")
            raise ValueError(
                f"{source}: {what} holds {distinct} distinct {kind} in {rows} rows "
                f"({rows / distinct:.1f} per class), which looks like a measurement or a row "
                f"id rather than classes; say what it is: {choices}task='classification' "
                f"(--task classification) to learn {distinct} classes"
                + (", or another target column (target=NAME, --target)" if target else "")
            )
        return "classification"
    if task == "regression" and labels.kind == "text":
        raise ValueError(f"{source}: task regression needs numeric targets, got text labels "
                         f"such as {labels.values[0]!r}")
    if task == "classification" and labels.kind == "float":
        values = labels.values[np.isfinite(labels.values)]
        if not np.all(values == np.round(values)):
            raise ValueError(
                f"{source}: task classification needs integer or text labels, got "
                f"{values[values != np.round(values)][0]!r}"
            )
    return task


def label_text(labels: Labels) -> np.ndarray:
    """Each label as the text that names its class (``3`` and ``3.0`` are both ``"3"``)."""
    if labels.kind == "text":
        return labels.values.astype(str)
    return np.array([str(int(v)) for v in labels.values], dtype=str)


def encode(source: str, labels: Labels, class_names: tuple[str, ...] | None,
           rows: Table | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices (int32) and class names. ``class_names=None`` takes the sorted distinct
    labels (numerically for numbers); otherwise a label outside them is an error.

    Args:
        source: where the labels came from, for error messages.
        labels: the labels (integers, integral floats or text).
        class_names: the classes in index order, or ``None`` to take them from the labels.
        rows: the table the labels came from, to name a bad label's file line.

    Returns:
        ``(indices, class_names)``: one int32 class index per label, and the name of each class.

    Raises:
        ValueError: for a label outside ``class_names``, fewer than two classes found, or
            labels that spell one integer two ways (``labels.merged``).

    Examples:
        >>> import numpy as np
        >>> indices, names = encode("y", Labels(np.array([10, 2, 10]), "int"), None)
        >>> indices.tolist(), names
        ([1, 0, 1], ('2', '10'))
    """
    if labels.merged is not None:
        raise ValueError(f"{labels.merged}; as class labels these would merge into one class: "
                         "write each class one way (or, for numbers, pass task='regression', "
                         "--task regression)")
    text = label_text(labels)
    if class_names is None:
        if labels.kind == "text":
            class_names = tuple(sorted(set(text.tolist())))
        else:
            class_names = tuple(str(v) for v in sorted({int(v) for v in labels.values}))
        if len(class_names) < 2:
            raise ValueError(
                f"{source}: the labels hold one class only ({class_names[0]!r}); "
                "classification needs at least two classes"
            )
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [r for r, t in enumerate(text) if t not in index]
    if unknown:
        where = rows.where(unknown[0]) if rows is not None else f"row {unknown[0] + 1}"
        raise ValueError(
            f"{source}: label {text[unknown[0]]!r} at {where} is not one of the classes "
            f"{', '.join(class_names)}"
        )
    return np.array([index[t] for t in text], dtype=np.int32), class_names
