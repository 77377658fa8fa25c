"""The names of a training history: one home for the per-epoch keys and the metrics that early
stopping and sweep rankings can monitor."""

from __future__ import annotations

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
