"""Early stopping as a pure, jittable decision on a monitored metric.

After each epoch, with ``sign = +1`` when lower is better (losses) and ``-1`` otherwise:

    improved = sign * (best - metric) > min_delta
    best, best_epoch, wait = (metric, epoch, 0) if improved else (best, best_epoch, wait + 1)
    stop = wait >= patience

The state is a NamedTuple of arrays, so it works in a Python loop (``fit``) and under ``vmap``
(one decision per sweep member). It only decides; the caller keeps the best parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.metrics import mode_of

#: A patience no run reaches (the largest int32): early stopping that never stops, so that the
#: best epoch is still tracked (``--keep best`` without ``--patience``; a sweep without it).
NEVER = 2**31 - 1


class EarlyStoppingState(NamedTuple):
    """Best value so far, the epoch it was seen, epochs since then, and whether to stop.

    Each field is an array: a scalar in ``fit``, one entry per member in a sweep.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import EarlyStopping
      >>> stopper = EarlyStopping(patience=3)
      >>> state = stopper.init()
      >>> float(state.best), int(state.best_epoch), int(state.wait), bool(state.stop)
      (inf, -1, 0, False)
      >>> state = stopper.update(state, jnp.array([0.5, jnp.nan]), 0)  # two sweep members
      >>> state.best.tolist(), state.wait.tolist()
      ([0.5, inf], [0, 1])
    """

    best: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    stop: jax.Array


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``monitor`` names a history entry such as ``"val_loss"``, ``"val_accuracy"`` or
    ``"val_mse"``.

    Args:
      patience: epochs without improvement before stopping (an int >= 1).
      min_delta: the smallest change that counts as an improvement (>= 0).
      monitor: a history entry such as ``"val_loss"`` or ``"val_accuracy"``.
      mode: ``"min"`` or ``"max"``; may be left out for the loss and the built-in metrics of
        :data:`jaxdl.metrics.METRICS` (their declared mode), any other monitor needs it.

    Raises:
      TypeError: for a non-integer ``patience``.
      ValueError: for ``patience < 1``, a negative ``min_delta`` or an unknown ``mode``.

    Examples:
      >>> from jaxdl import EarlyStopping
      >>> stopper = EarlyStopping(patience=2)
      >>> state = stopper.init()
      >>> for epoch, val_loss in enumerate([1.0, 0.5, 0.6, 0.7]):
      ...     state = stopper.update(state, val_loss, epoch)
      >>> bool(state.stop), int(state.best_epoch), float(state.best)
      (True, 1, 0.5)
      >>> EarlyStopping(monitor="val_r2").mode, EarlyStopping(monitor="f1", mode="max").mode
      ('max', 'max')
    """

    patience: int = 5
    min_delta: float = 0.0
    monitor: str = "val_loss"
    mode: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int):
            raise TypeError(f"patience must be an integer, got {self.patience!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1 epoch, got {self.patience}")
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise TypeError(f"monitor must name a history entry, got {self.monitor!r}")
        mode = self.mode if self.mode is not None else mode_of(self.monitor)
        if mode is None:
            raise ValueError(
                f"monitor {self.monitor!r} is not the loss or a built-in metric, so its direction "
                "is unknown: pass mode='min' (lower is better) or mode='max'"
            )
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        object.__setattr__(self, "mode", mode)

    @property
    def direction(self) -> str:
        """The resolved ``mode``, ``"min"`` or ``"max"`` (``mode`` as a ``str``, never ``None``).

        >>> from jaxdl.early_stopping import EarlyStopping
        >>> EarlyStopping(monitor="val_accuracy").direction
        'max'
        """
        if self.mode is None:  # pragma: no cover - __post_init__ always resolves it
            raise AssertionError("EarlyStopping.mode was not resolved")
        return self.mode

    def init(self) -> EarlyStoppingState:
        """The state before any epoch: the best value is the worst possible.

        Returns:
          An :class:`EarlyStoppingState` with ``best = inf`` (``-inf`` for mode ``"max"``),
          ``best_epoch = -1``, ``wait = 0`` and ``stop = False``.

        Examples:
          >>> from jaxdl import EarlyStopping
          >>> float(EarlyStopping(monitor="val_accuracy").init().best)
          -inf
        """
        worst = jnp.inf if self.mode == "min" else -jnp.inf
        return EarlyStoppingState(
            best=jnp.asarray(worst, jnp.float32),
            best_epoch=jnp.asarray(-1, jnp.int32),
            wait=jnp.asarray(0, jnp.int32),
            stop=jnp.asarray(False),
        )

    def update(self, state: EarlyStoppingState, metric: Any, epoch: Any) -> EarlyStoppingState:
        """Fold in this epoch's ``metric``; a non-finite metric never counts as improvement.

        Args:
          state: the state after the previous epoch.
          metric: this epoch's monitored value (a scalar, or one per sweep member).
          epoch: this epoch's number.

        Returns:
          The new state; ``stop`` stays True once set.

        Examples:
          >>> from jaxdl import EarlyStopping
          >>> stopper = EarlyStopping(patience=1)
          >>> state = stopper.update(stopper.init(), float("nan"), 0)
          >>> int(state.best_epoch), bool(state.stop)
          (-1, True)
        """
        metric = jnp.asarray(metric, jnp.float32)
        sign = 1.0 if self.mode == "min" else -1.0
        improved = (sign * (state.best - metric) > self.min_delta) & jnp.isfinite(metric)
        wait = jnp.where(improved, 0, state.wait + 1)
        return EarlyStoppingState(
            best=jnp.where(improved, metric, state.best),
            best_epoch=jnp.where(improved, jnp.asarray(epoch, jnp.int32), state.best_epoch),
            wait=wait,
            stop=state.stop | (wait >= self.patience),
        )

    @staticmethod
    def improved(old: EarlyStoppingState, new: EarlyStoppingState) -> jax.Array:
        """True where the last update found a new best.

        Args:
          old: the state before the update.
          new: the state after it.

        Returns:
          A boolean array (one entry per sweep member, or a scalar).

        Examples:
          >>> from jaxdl import EarlyStopping
          >>> stopper = EarlyStopping()
          >>> old = stopper.init()
          >>> bool(EarlyStopping.improved(old, stopper.update(old, 0.3, 0)))
          True
        """
        return new.best_epoch != old.best_epoch
