"""Input validation shared by every module: one clear error per kind of bad input.

Checks run on concrete values only (outside ``jit``); under tracing a value is unknown, so the
check is skipped and the caller's outer (eager) entry point is responsible for it.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np


def is_concrete(value: Any) -> bool:
    """True when ``value`` holds a known number (not a tracer inside ``jit``/``vmap``).

    Args:
      value: anything.

    Returns:
      False for a JAX tracer, True otherwise.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from jaxdl.checks import is_concrete
      >>> is_concrete(1.0)
      True
      >>> jax.jit(lambda x: jnp.asarray(is_concrete(x)))(1.0).item()
      False
    """
    return not isinstance(value, jax.core.Tracer)


def _values(name: str, value: Any) -> np.ndarray | None:
    if not is_concrete(value) or callable(value):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err


def check_finite(name: str, value: Any) -> None:
    """Raise ``ValueError`` if a concrete ``value`` holds NaN or inf.

    Args:
      name: the argument's name, used in the message.
      value: a number, an array, or a tracer (not checked).

    Raises:
      ValueError: naming ``name`` and the number of non-finite entries.

    Examples:
      >>> from jaxdl.checks import check_finite
      >>> check_finite("x", [1.0, float("nan")])
      Traceback (most recent call last):
      ...
      ValueError: x contains 1 NaN/inf value(s); clean or impute the data before training
    """
    arr = _values(name, value)
    if arr is not None and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN/inf value(s); clean or impute the data before training"
        )


def check_range(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ``ValueError`` unless every concrete entry of ``value`` lies in the interval.

    Args:
      name: the argument's name, used in the message.
      value: a number, an array, or a tracer (not checked).
      low: the lower end.
      high: the upper end.
      low_open: exclude ``low`` (the interval is ``(low, ...``).
      high_open: exclude ``high``.

    Raises:
      ValueError: naming ``name``, the interval and the offending entries.

    Examples:
      >>> from jaxdl.checks import check_range
      >>> check_range("p", [0.5, 1.0], 0.0, 1.0)
      >>> check_range("p", [0.5, 1.0], 0.0, 1.0, high_open=True)
      Traceback (most recent call last):
      ...
      ValueError: p must lie in [0.0, 1.0), got [1.0]
    """
    arr = _values(name, value)
    if arr is None:
        return
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    interval = f"{left}{low}, {high}{right}"
    ok = np.isfinite(arr) | np.isinf(arr) & ~np.isnan(arr)
    ok &= (arr > low) if low_open else (arr >= low)
    ok &= (arr < high) if high_open else (arr <= high)
    if not np.all(ok):
        shown = arr if arr.ndim == 0 else arr[~ok]
        raise ValueError(f"{name} must lie in {interval}, got {shown.tolist()}")


def check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless a concrete ``value`` is finite and > 0.

    Args:
      name: the argument's name, used in the message.
      value: a number, an array, or a tracer (not checked).

    Raises:
      ValueError: for an entry that is NaN, inf or <= 0.

    Examples:
      >>> from jaxdl.checks import check_positive
      >>> check_positive("learning_rate", 0.0)
      Traceback (most recent call last):
      ...
      ValueError: learning_rate must lie in (0.0, inf], got 0.0
    """
    check_finite(name, value)
    check_range(name, value, 0.0, math.inf, low_open=True)


def check_float32(name: str, value: Any, *, positive: bool = False) -> None:
    """Raise ``ValueError`` if a concrete ``value`` overflows float32 (or, when ``positive``,
    rounds to 0 or to a subnormal whose reciprocal overflows): hyperparameters are used in
    float32, so such a value would silently act as inf or 0.

    >>> from jaxdl.checks import check_float32
    >>> check_float32("learning_rate", 1e39)
    Traceback (most recent call last):
    ValueError: learning_rate=1e+39 overflows float32 (largest 3.403e+38); use a smaller value
    """
    arr = _values(name, value)
    if arr is None:
        return
    with np.errstate(over="ignore"):
        f32 = arr.astype(np.float32)
    overflow = np.isfinite(arr) & ~np.isfinite(f32)
    if np.any(overflow):
        raise ValueError(
            f"{name}={_first(arr, overflow):.4g} overflows float32 (largest "
            f"{float(np.finfo(np.float32).max):.4g}); use a smaller value"
        )
    tiny = np.finfo(np.float32).tiny
    under = (arr > 0) & (f32 < tiny) if positive else np.zeros(arr.shape, bool)
    if np.any(under):
        raise ValueError(
            f"{name}={_first(arr, under):.4g} is below float32's smallest normal number {tiny:.4g} "
            "(it would act as 0); use a larger value"
        )


def _first(arr: np.ndarray, where: np.ndarray) -> float:
    return float(arr if arr.ndim == 0 else arr[where][0])


def check_beta(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless an EWA decay rate lies in ``[0, 1)``, also after rounding
    to float32 (0.99999999 rounds to 1.0 there, and an average with beta 1 never moves).

    Args:
      name: the argument's name, used in the message.
      value: a number, an array, or a tracer (not checked).

    Raises:
      ValueError: for an entry outside ``[0, 1)`` or one that rounds to 1 in float32.

    Examples:
      >>> from jaxdl.checks import check_beta
      >>> check_beta("b2", 1.0)
      Traceback (most recent call last):
      ...
      ValueError: b2 must lie in [0.0, 1.0), got 1.0
      >>> check_beta("beta", 0.99999999)  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      ValueError: beta=0.99999999 rounds to 1.0 in float32, ...; use at most 0.99999994
    """
    check_range(name, value, 0.0, 1.0, high_open=True)
    arr = _values(name, value)
    if arr is not None and np.any(arr.astype(np.float32) >= 1):  # already in [0, 1)
        top = float(np.nextafter(np.float32(1), np.float32(0)))
        raise ValueError(
            f"{name}={_first(arr, arr.astype(np.float32) >= 1)} rounds to 1.0 in float32, so "
            f"the average would never move; use at most {top:.8f}"
        )


def check_keep_prob(value: Any) -> None:
    """Raise ``ValueError`` unless a dropout keep probability lies in ``(0, 1]`` and is a
    normal float32 number (inverted dropout divides by it).

    Args:
      value: a number, an array, or a tracer (not checked).

    Raises:
      ValueError: for an entry outside ``(0, 1]`` or below float32's smallest normal number.

    Examples:
      >>> from jaxdl.checks import check_keep_prob
      >>> check_keep_prob(0.0)
      Traceback (most recent call last):
      ...
      ValueError: keep_prob must lie in (0.0, 1.0], got 0.0
    """
    check_range("keep_prob", value, 0.0, 1.0, low_open=True)
    check_float32("keep_prob", value, positive=True)


def check_features(name: str, x: Any, width: int | None = None) -> None:
    """Raise ``ValueError`` unless ``x`` is a non-empty 2-D ``(samples, features)`` array.

    Args:
      name: the argument's name, used in the message.
      x: the features.
      width: the number of features expected, or ``None`` for any.

    Raises:
      ValueError: for another rank, no samples, or the wrong number of features.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.checks import check_features
      >>> check_features("x", np.zeros((4, 3)), width=2)
      Traceback (most recent call last):
      ...
      ValueError: x has 3 features per sample but the model expects 2; change the first ...
    """
    shape = np.shape(x)
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be 2-D (samples, features), got shape {shape}; "
            "reshape with x.reshape(len(x), -1)"
        )
    if shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples); pass at least one sample")
    if width is not None and shape[1] != width:
        raise ValueError(
            f"{name} has {shape[1]} features per sample but the model expects {width}; "
            "change the first layer size or the data"
        )


def _finite_labels(name: str, y: Any) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numeric labels, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN/inf label(s); labels must be finite class labels"
        )
    return arr


def check_labels(name: str, y: Any, num_classes: int) -> None:
    """Raise unless ``y`` holds integer labels in ``[0, num_classes)``, or 2-D rows of width
    ``num_classes`` that are one-hot or class probabilities (non-negative, summing to 1).

    Args:
      name: the argument's name, used in the message.
      y: 1-D integer labels, or 2-D one-hot (or probability) rows of width ``num_classes``.
      num_classes: the number of classes (output units).

    Raises:
      TypeError: for non-integer 1-D labels.
      ValueError: for another shape, a label out of range, NaN/inf, or a row that is not
        one-hot.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.checks import check_labels
      >>> check_labels("y", np.array([0, 1, 2]), num_classes=2)
      Traceback (most recent call last):
      ...
      ValueError: y must lie in [0, 2), got labels from 0 to 2; check the number of output units
      >>> check_labels("y", np.array([[0.0, 5.0]]), 2)  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      ValueError: y row 0 is not one-hot or a probability row (...): [0.0, 5.0]
    """
    dtype = np.asarray(y).dtype if is_concrete(y) else y.dtype
    shape = np.shape(y)
    if len(shape) == 2:
        if shape[1] != num_classes:
            raise ValueError(f"{name} is one-hot of width {shape[1]}, expected {num_classes}")
        if is_concrete(y):
            arr = _finite_labels(name, y).astype(np.float64)
            bad = np.flatnonzero(np.any(arr < 0, axis=1) | (np.abs(arr.sum(axis=1) - 1) > 1e-3))
            if bad.size:
                raise ValueError(
                    f"{name} row {bad[0]} is not one-hot or a probability row (non-negative, "
                    f"summing to 1): {arr[bad[0]].tolist()}"
                )
        return
    if len(shape) != 1:
        raise ValueError(f"{name} must be 1-D integer labels or 2-D one-hot, got shape {shape}")
    if is_concrete(y):
        _finite_labels(name, y)
    if not np.issubdtype(dtype, np.integer):
        raise TypeError(
            f"{name} must hold integer class labels, got dtype {dtype}; use y.astype(int)"
        )
    if is_concrete(y) and shape[0]:
        arr = np.asarray(y)
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must lie in [0, {num_classes}), got labels from {low} to {high}; "
                "check the number of output units"
            )


def check_binary_labels(name: str, y: Any) -> None:
    """0/1 labels for one sigmoid output unit, shaped ``(m,)`` or ``(m, 1)``.

    >>> import numpy as np
    >>> from jaxdl.checks import check_binary_labels
    >>> check_binary_labels("y", np.array([0, 1, 2]))
    Traceback (most recent call last):
    ValueError: y must hold 0/1 labels for one output unit, got values [0, 1, 2]
    """
    shape = np.shape(y)
    if len(shape) == 2 and shape[1] != 1 or len(shape) > 2:
        raise ValueError(
            f"{name} has shape {shape} but the model has one sigmoid output unit: pass 0/1 "
            f"labels of shape ({shape[0]},), or give the model {shape[-1]} output units for "
            "one-hot labels"
        )
    values = np.unique(_finite_labels(name, y))
    if not np.isin(values, (0, 1)).all():
        raise ValueError(
            f"{name} must hold 0/1 labels for one output unit, got values {values[:5].tolist()}"
        )


def check_positive_int(name: str, value: Any, minimum: int = 1) -> None:
    """Raise ``ValueError`` unless ``value`` is an int (not a bool) ``>= minimum``.

    >>> from jaxdl.checks import check_positive_int
    >>> check_positive_int("epochs", 3)
    >>> check_positive_int("epochs", 0)
    Traceback (most recent call last):
    ValueError: epochs must be a positive integer, got 0
    >>> check_positive_int("seed", -1, minimum=0)
    Traceback (most recent call last):
    ValueError: seed must be a non-negative integer, got -1
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an ``int``: a ``TypeError`` unless it is an int (not a bool), a
    ``ValueError`` unless it is ``>= minimum``.

    >>> from jaxdl.checks import check_int
    >>> check_int("seed", 3, 0)
    3
    >>> check_int("n", 0, 1)
    Traceback (most recent call last):
    ValueError: n must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)
