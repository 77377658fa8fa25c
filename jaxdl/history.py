"""The names of a training history: one home for the per-epoch keys and the metrics that early
stopping and sweep rankings can monitor, and the best epoch of a monitored series.

``fit``'s history also holds ``epoch_time``, each epoch's wall time in seconds (training,
validation and the one host sync per epoch; the first epoch includes compiling); it is not a
metric and cannot be monitored."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# Per-epoch entries of fit's history (FitResult.history) and of each sweep member's history.
HISTORY_KEYS: tuple[str, ...] = (
    "epoch", "loss", "accuracy", "learning_rate", "val_loss", "val_accuracy"
)
# Metrics early stopping and sweep rankings can watch (validation loss first: the default).
MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy", "loss", "accuracy")


def check_monitor(monitor: str, name: str = "monitor") -> None:
    """Raise ``ValueError`` unless ``monitor`` is one of :data:`MONITORS`.

    >>> check_monitor("val_acc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: monitor must be one of ('val_loss', ...), got 'val_acc'
    """
    if monitor not in MONITORS:
        raise ValueError(f"{name} must be one of {MONITORS}, got {monitor!r}")


def best_epoch(values: Sequence[float], mode: str = "min") -> int:
    """The position of the best finite value (the first of equal ones), as early stopping
    with ``min_delta=0`` would pick it; ``-1`` when none is finite.

    Args:
      values: one monitored value per epoch.
      mode: ``"min"`` (lower is better) or ``"max"``.

    Returns:
      The index of the best value, or ``-1``.

    >>> best_epoch([0.9, 0.4, float("nan"), 0.4, 0.5]), best_epoch([0.7, 0.9], "max")
    (1, 1)
    >>> best_epoch([float("nan")])
    -1
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    sign = 1.0 if mode == "min" else -1.0
    finite = [(sign * float(v), i) for i, v in enumerate(values) if math.isfinite(float(v))]
    return min(finite)[1] if finite else -1


# Per-epoch wall times in fit's history: measurements, not results (two identical runs differ).
TIMING_KEYS: tuple[str, ...] = ("epoch_time",)


def without_timing(history: Mapping[str, Any]) -> dict[str, Any]:
    """``history`` without its wall times (:data:`TIMING_KEYS`): what two runs with the same
    seed, or a resumed and an uninterrupted run, have in common exactly.

    >>> without_timing({"epoch": [0], "loss": [0.5], "epoch_time": [0.01]})
    {'epoch': [0], 'loss': [0.5]}
    """
    return {k: v for k, v in history.items() if k not in TIMING_KEYS}
