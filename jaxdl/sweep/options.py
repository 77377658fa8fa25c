"""The options of a sweep, checked once: :func:`sweep_options` turns what a user passed to
:func:`~jaxdl.sweep.run_sweep`, :func:`~jaxdl.sweep.successive_halving`,
:func:`~jaxdl.sweep.hyperband` or :func:`~jaxdl.sweep.tpe_search` into a frozen
:class:`SweepOptions`; the engine's drivers take that and check nothing again.

What depends on one call's configs (their number, ``seeds`` per config, the data against each
bucket's model) is checked by the driver that receives them; everything else is checked here,
before anything is sampled or compiled.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from jax.sharding import Mesh

from jaxdl import logs
from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import NEVER, EarlyStopping
from jaxdl.sweep import chunking
from jaxdl.sweep.buckets import continuous_names, split_config
from jaxdl.train import Trainer

__all__ = ["NEVER", "SweepOptions", "check_settings", "sweep_options"]

Prune = Callable[[Mapping[int, Mapping[str, list[Any]]]], Any]


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """The checked options of one sweep (see :func:`~jaxdl.sweep.run_sweep` for each one).

    ``stopper`` is the early stopping every member runs (``patience`` :data:`NEVER` without
    one: the best epoch is still kept), with the monitor's resolved mode; ``hp`` is a read-only
    copy of the shared continuous values. Build it with :func:`sweep_options`; a driver may
    ``dataclasses.replace`` the ``checkpoint_dir`` and ``logger`` of a bracket or round.

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep.options import sweep_options
    >>> from jaxdl.train import Trainer
    >>> options = sweep_options(Trainer(MLP((2, 1))), epochs=5, patience=2)
    >>> options.stopper.patience, options.stopper.mode, options.epochs
    (2, 'min', 5)
    """

    epochs: int
    stopper: EarlyStopping
    hp: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    seed: int = 0
    seeds: Sequence[int] | None = None
    patience: int | None = None
    n: int | None = None
    method: str = "random"
    mesh: Mesh | None = None
    epochs_per_call: int = 1
    model_fn: Callable[[dict[str, Any]], Any] | None = None
    logger: logs.Logger | None = None
    checkpoint_dir: str | os.PathLike[str] | None = None
    resume: bool = False
    compact: bool = True
    max_members_per_call: int | None = None
    prune: Prune | None = None

    @property
    def monitor(self) -> str:
        """The ranked history entry (the stopper's)."""
        return self.stopper.monitor

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``: the monitor's resolved direction."""
        return self.stopper.direction


def check_settings(epochs: Any, patience: Any, epochs_per_call: Any) -> None:
    """``epochs`` and ``epochs_per_call`` positive ints, ``patience`` an int or ``None``.

    Args:
      epochs: the most epochs a member trains.
      patience: epochs without improvement before a member stops, or ``None``.
      epochs_per_call: epochs per compiled call (or PBT's interval).

    Raises:
      TypeError, ValueError: naming the argument.

    >>> from jaxdl.sweep.options import check_settings
    >>> check_settings(10, None, 1)
    >>> check_settings(10, 2.5, 1)
    Traceback (most recent call last):
    TypeError: patience must be an int or None, got 2.5
    """
    check_positive_int("epochs", epochs)
    check_positive_int("epochs_per_call", epochs_per_call)
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)):
        raise TypeError(f"patience must be an int or None, got {patience!r}")


def sweep_options(
    trainer: Trainer,
    *,
    epochs: int,
    hp: Mapping[str, Any] | None = None,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    patience: int | None = None,
    monitor: str = "val_loss",
    mode: str | None = None,
    min_delta: float = 0.0,
    n: int | None = None,
    method: str = "random",
    mesh: Mesh | None = None,
    epochs_per_call: int = 1,
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: logs.Logger | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    compact: bool = True,
    max_members_per_call: int | None = None,
    prune: Prune | None = None,
) -> SweepOptions:
    """Check a sweep's options against ``trainer`` once and freeze them.

    Args:
      trainer: the :class:`~jaxdl.train.Trainer` every config starts from.
      epochs: the most epochs a member trains (a halving's ``max_epochs``).
      hp, seed, seeds, patience, monitor, mode, min_delta, n, method, mesh, epochs_per_call,
        model_fn, logger, checkpoint_dir, resume, compact, max_members_per_call, prune: as in
        :func:`~jaxdl.sweep.run_sweep`.

    Returns:
      The :class:`SweepOptions`.

    Raises:
      TypeError, ValueError: naming the option and the fix, before anything compiles.

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep.options import sweep_options
    >>> from jaxdl.train import Trainer
    >>> sweep_options(Trainer(MLP((2, 1))), epochs=5, hp={"hidden_units": 4})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: hp takes continuous hyperparameters only, got ['hidden_units']; set structural ...
    """
    logs.check_logger(logger)
    if prune is not None and not callable(prune):
        raise TypeError(f"prune must be a function histories -> member ids to stop, got {prune!r}")
    chunking.check_max_members(max_members_per_call)
    if not isinstance(compact, bool):
        raise TypeError(f"compact must be True or False, got {compact!r}")
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer must be a jaxdl.train.Trainer, got {type(trainer).__name__}")
    if model_fn is not None and not callable(model_fn):
        raise TypeError(f"model_fn must be a function structural_config -> model, got {model_fn!r}")
    check_settings(epochs, patience, epochs_per_call)
    mode = trainer.check_monitor(monitor, mode)
    stopper = EarlyStopping(NEVER if patience is None else patience, min_delta, monitor, mode)
    shared = dict(hp or {})
    fixed_structural = split_config(shared, model_fn=model_fn,
                                    continuous=continuous_names(trainer))[0]  # fmt: skip
    if fixed_structural:
        raise ValueError(
            f"hp takes continuous hyperparameters only, got {sorted(fixed_structural)}; "
            "set structural ones on the trainer"
        )
    return SweepOptions(
        epochs=epochs, stopper=stopper, hp=MappingProxyType(shared), seed=seed,
        seeds=seeds, patience=patience, n=n, method=method,
        mesh=mesh, epochs_per_call=epochs_per_call, model_fn=model_fn, logger=logger,
        checkpoint_dir=checkpoint_dir, resume=resume, compact=compact,
        max_members_per_call=max_members_per_call, prune=prune,
    )  # fmt: skip
