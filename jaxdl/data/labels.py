"""Labels to classes: integer or text labels name classes (sorted, indexed from 0), floats are
regression targets; the task follows from the labels unless it is given.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxdl.data.table import Table


class Labels(NamedTuple):
    """Labels before encoding: ``values`` and their ``kind`` (``"int"``, ``"float"`` or
    ``"text"``).

    Examples:
        >>> import numpy as np
        >>> Labels(np.array(["cat", "dog"], dtype=object), "text").kind
        'text'
    """

    values: np.ndarray
    kind: str

def array_labels(source: str, name: str, y: np.ndarray) -> Labels:
    """Labels of a 1-D (or ``(n, 1)``) array: integers, floats or text.

    Args:
        source: where the array came from, for error messages.
        name: the array's name, for error messages.
        y: the labels, shape ``(n,)`` or ``(n, 1)``.

    Returns:
        The 1-D :class:`Labels` (floats as float64, text as an object array of ``str``).

    Raises:
        ValueError: for another shape or values that are neither numbers nor text.

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
        The column's :class:`Labels`: kind ``"text"``, ``"int"`` or ``"float"``.

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
    return Labels(values, "int" if name in table.integral else "float")

def infer_task(source: str, labels: Labels, task: str | None) -> str:
    """``task``, or from the labels: floats regress, integers and text classify.

    Args:
        source: where the labels came from, for error messages.
        labels: the labels.
        task: ``"classification"``, ``"regression"`` or ``None`` to infer it.

    Returns:
        ``"classification"`` or ``"regression"``.

    Raises:
        ValueError: for regression on text labels, or classification on non-integral floats.

    Examples:
        >>> import numpy as np
        >>> infer_task("y", Labels(np.array([0.5, 1.5]), "float"), None)
        'regression'
        >>> infer_task("y", Labels(np.array([0.0, 1.0]), "float"), "classification")
        'classification'
    """
    if task is None:
        return "regression" if labels.kind == "float" else "classification"
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
        ValueError: for a label outside ``class_names``, or fewer than two classes found.

    Examples:
        >>> import numpy as np
        >>> indices, names = encode("y", Labels(np.array([10, 2, 10]), "int"), None)
        >>> indices.tolist(), names
        ([1, 0, 1], ('2', '10'))
    """
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
