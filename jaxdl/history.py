"""A training history's one home: its per-epoch keys (:func:`history_keys`), one epoch's
values from the compiled epoch and evaluation (:func:`epoch_values`, host or traced), appending
them to the lists (:func:`append`), the metrics that early stopping and sweep rankings can
monitor, and the best epoch of a monitored series (:func:`best_epoch`). ``fit``, the
:class:`~jaxdl.train.Trainer`, the sweep's compiled epoch and its host history (every strategy,
PBT included) all use these.

``fit``'s history also holds ``epoch_time``, each epoch's wall time in seconds (training,
validation and the one host sync per epoch; the first epoch includes compiling); it is not a
metric and cannot be monitored."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# Metrics early stopping and sweep rankings can watch (validation loss first: the default).
MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy", "loss", "accuracy")


def history_keys(metric_names: Sequence[str]) -> tuple[str, ...]:
    """The per-epoch keys of a history recording ``metric_names``: ``epoch``, ``loss``, the
    metrics, ``learning_rate``, ``val_loss`` and the ``val_`` metrics.

    >>> history_keys(["accuracy"]) == HISTORY_KEYS
    True
    """
    names = tuple(metric_names)
    return ("epoch", "loss", *names, "learning_rate", "val_loss", *(f"val_{n}" for n in names))


def epoch_values(
    metrics: Mapping[str, Any], val: Mapping[str, Any] | None, metric_names: Sequence[str]
) -> dict[str, Any]:
    """One epoch's history entries (every key of :func:`history_keys` but ``epoch``) from the
    epoch's ``metrics`` (``loss``, ``<metric>_mean``, ``learning_rate``, as
    :meth:`jaxdl.train.Trainer.epoch` returns them) and the validation evaluation ``val``
    (``loss`` and each metric; ``None``: no validation entries). Values pass through as they
    are, host numbers or traced arrays.

    >>> epoch_values({"loss": 0.5, "accuracy_mean": 0.75, "learning_rate": 0.1},
    ...              {"loss": 0.6, "accuracy": 0.7}, ["accuracy"])
    {'loss': 0.5, 'accuracy': 0.75, 'learning_rate': 0.1, 'val_loss': 0.6, 'val_accuracy': 0.7}
    """
    values = {"loss": metrics["loss"]}
    values.update({n: metrics[f"{n}_mean"] for n in metric_names})
    values["learning_rate"] = metrics["learning_rate"]
    if val is not None:
        values["val_loss"] = val["loss"]
        values.update({f"val_{n}": val[n] for n in metric_names})
    return values


def append(history: dict[str, list], epoch: int, values: Mapping[str, Any]) -> None:
    """Append epoch ``epoch`` and its ``values`` (host numbers, see :func:`epoch_values`) to the
    lists of ``history``, as floats. A NaN learning rate (a ready-made transformation's, which
    the trainer does not know) removes the ``learning_rate`` list instead.

    >>> h = {"epoch": [], "loss": [], "learning_rate": []}
    >>> append(h, 0, {"loss": 0.5, "learning_rate": float("nan")})
    >>> h
    {'epoch': [0], 'loss': [0.5]}
    """
    history["epoch"].append(epoch)
    for name, value in values.items():
        value = float(value)
        if name != "learning_rate":
            history[name].append(value)
        elif math.isnan(value):
            history.pop(name, None)
        elif name in history:
            history[name].append(value)


def record(
    history: dict[str, list], epoch: int, metrics: Mapping[str, Any],
    val: Mapping[str, Any] | None, metric_names: Sequence[str],
) -> None:
    """:func:`append` the host values of one epoch (``metrics`` of the epoch, ``val`` of the
    validation evaluation, empty or ``None`` without validation) and, when ``history`` keeps
    ``batch_cost``, the epoch's per-step costs: ``fit``'s record of an epoch.

    >>> h = {"epoch": [], "loss": [], "learning_rate": [], "batch_cost": []}
    >>> record(h, 0, {"loss": 0.5, "learning_rate": 0.1, "cost": [0.4, 0.6]}, None, [])
    >>> h
    {'epoch': [0], 'loss': [0.5], 'learning_rate': [0.1], 'batch_cost': [[0.4, 0.6]]}
    """
    append(history, epoch, epoch_values(metrics, val or None, metric_names))
    if "batch_cost" in history:
        history["batch_cost"].append([float(c) for c in metrics["cost"]])


# Per-epoch entries of fit's history (FitResult.history) and of each sweep member's history, for
# the default classification setup (cross-entropy and accuracy).
HISTORY_KEYS: tuple[str, ...] = history_keys(("accuracy",))


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
