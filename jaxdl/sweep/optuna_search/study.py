"""``search(..., strategy="optuna")``: an Optuna study created or joined in a storage (memory, a
journal file, an RDB URL) runs a jaxdl search space's trials, ``batch`` per compiled sweep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxdl.sweep.optuna_search.core import optimize
from jaxdl.sweep.optuna_search.space import require_optuna, space_to_suggestions
from jaxdl.sweep.results import SweepResults
from jaxdl.train import Trainer

SAMPLERS = ("tpe", "random", "cmaes")
PRUNERS = ("median", "hyperband", "none")


def study_search(
    space: Mapping[str, Any],
    data: Any,
    *,
    trainer: Trainer,
    n: int,
    epochs: int,
    sampler: str = "tpe",
    pruner: str = "median",
    storage: str | None = None,
    study_name: str | None = None,
    batch: int = 8,
    seed: int = 0,
    monitor: str = "val_loss",
    mode: str | None = None,
    **options: Any,
) -> SweepResults:
    """``search(..., strategy="optuna")``: an Optuna study (created, or joined when
    ``study_name`` exists in ``storage``) runs ``n`` trials of ``space``, ``batch`` per compiled
    sweep (:func:`optimize`); the batches come back as one table.

    Args:
      space: a jaxdl search space (see :func:`space_to_suggestions`).
      data, trainer, epochs, seed, monitor, mode: as in :func:`optimize`.
      n: trials for this call.
      sampler: ``"tpe"``, ``"random"`` or ``"cmaes"`` (seeded with ``seed``).
      pruner: ``"median"``, ``"hyperband"`` or ``"none"``.
      storage: ``None`` (in memory), a journal file path (``study.log``: resumable, shared by
        processes on one machine) or an RDB URL (``postgresql://...``).
      study_name: the study's name in ``storage``.
      batch: trials per compiled sweep.
      **options: passed on to :func:`optimize`.

    Returns:
      The trials' :class:`~jaxdl.sweep.SweepResults`, batch by batch (``group`` column).

    Examples:
      >>> import numpy as np
      >>> from jaxdl.nn import MLP
      >>> from jaxdl.sweep import LogUniform
      >>> rng = np.random.default_rng(0)
      >>> y = rng.integers(0, 2, 64).astype(np.int32)
      >>> x = (rng.normal(size=(64, 2)) + 2 * y[:, None]).astype(np.float32)
      >>> results = study_search({"learning_rate": LogUniform(1e-3, 0.3)},
      ...                        (x[:48], y[:48], x[48:], y[48:]),
      ...                        trainer=Trainer(MLP((2, 4, 2)), batch_size=16), n=4, epochs=2,
      ...                        batch=2, pruner="none")
      >>> len(results.configs), sorted(set(results.groups))
      (4, ['batch 0', 'batch 1'])
    """
    optuna = require_optuna()
    from jaxdl.sweep.merge import merge

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {PRUNERS}, got {pruner!r}")
    space_fn = space_to_suggestions(space)
    make_sampler = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
                    "cmaes": optuna.samplers.CmaEsSampler}[sampler]
    make_pruner = {"median": optuna.pruners.MedianPruner,
                   "hyperband": optuna.pruners.HyperbandPruner,
                   "none": optuna.pruners.NopPruner}[pruner]
    direction = "maximize" if (mode or trainer.check_monitor(monitor)) == "max" else "minimize"
    backend: Any = storage
    if storage is not None and "://" not in storage:  # a file: Optuna's journal storage
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        backend = JournalStorage(JournalFileBackend(storage))
    study = optuna.create_study(storage=backend, study_name=study_name, direction=direction,
                                sampler=make_sampler(seed=seed), pruner=make_pruner(),
                                load_if_exists=study_name is not None)
    if study.trials:  # a joined study: another seed, or this call would redraw earlier trials
        study.sampler = make_sampler(seed=seed + len(study.trials))
    run = optimize(study, space_fn, data, trainer=trainer, n_trials=n, batch=batch, epochs=epochs,
                   seed=seed, monitor=monitor, mode=mode, **options)
    return merge(run.batches, [f"batch {b}" for b, _ in enumerate(run.batches)])
