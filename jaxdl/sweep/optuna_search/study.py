"""``search(..., strategy="optuna")``: an Optuna study created or joined in a storage (memory, a
journal file, an RDB URL) runs a jaxdl search space's trials, ``batch`` per compiled sweep."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from jaxdl.sweep.optuna_search.core import optimize
from jaxdl.sweep.optuna_search.heartbeat import journal_storage, retry_once
from jaxdl.sweep.optuna_search.reading import StudyResults, importances
from jaxdl.sweep.optuna_search.space import require_optuna, space_to_suggestions
from jaxdl.sweep.results import SweepResults
from jaxdl.train import Trainer

SAMPLERS = ("tpe", "random", "cmaes")
HEARTBEAT = 30  # seconds between heartbeats of a worker's trials in a storage
PRUNERS = ("median", "hyperband", "none")


def open_storage(storage: str | None, heartbeat: int = HEARTBEAT) -> Any:
    """The Optuna storage ``storage`` names, opened now (so a bad one fails before anything
    compiles), with a heartbeat of ``heartbeat`` seconds: a running trial without one for
    ``2 * heartbeat`` seconds is failed and retried once (:mod:`.heartbeat`).

    Args:
      storage: ``None`` (in memory), a journal file path (created if missing) or an RDB URL
        (``postgresql://user@host/db``, ``sqlite:///study.db``; the database must exist).
      heartbeat: seconds between heartbeats (a positive integer).

    Returns:
      ``None`` (in memory), a journal storage or an ``optuna.storages.RDBStorage``.

    Examples:
      >>> import os, tempfile
      >>> type(open_storage(os.path.join(tempfile.mkdtemp(), "study.log"))).__name__
      'HeartbeatJournalStorage'
      >>> open_storage("postgresql://nobody@127.0.0.1:1/none")  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ValueError: storage 'postgresql://nobody@127.0.0.1:1/none' cannot be opened ...
    """
    optuna = require_optuna()
    if storage is None:
        return None
    if not isinstance(storage, str) or not storage:
        raise ValueError(f"storage must be a journal file path or an RDB URL, got {storage!r}")
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 1:
        raise ValueError(f"heartbeat must be a positive whole number of seconds, got "
                         f"{heartbeat!r}")
    try:
        if "://" not in storage:  # a file: Optuna's journal storage
            return journal_storage(storage, heartbeat)
        with warnings.catch_warnings():  # heartbeat_interval is experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(storage, heartbeat_interval=heartbeat,
                                              heartbeat_stale_trial_callback=retry_once())
    except Exception as err:  # noqa: BLE001 - a bad URL, a missing driver, no server
        kind = "journal file" if "://" not in storage else "database"
        cause = err.__cause__ if isinstance(err, ImportError) and err.__cause__ else err
        reason = (str(cause).strip().splitlines() or [""])[0]
        if isinstance(cause, ImportError) and storage.startswith("postgres"):
            reason += " (pip install 'psycopg[binary]')"
        raise ValueError(f"storage {storage!r} cannot be opened as a {kind} "
                         f"({type(cause).__name__}: {reason}); give a writable journal file "
                         "path (study.log) or the URL of a running database") from err


def _check_joined(study: Any, space_fn: Any, direction: str) -> None:
    """A joined study must optimize in ``direction`` and hold the trials of the same space."""
    optuna = require_optuna()
    if study.directions[0].name.lower() != direction:
        raise ValueError(
            f"study_name {study.study_name!r} in the storage is a "
            f"{study.directions[0].name.lower()} study, but the monitor is to "
            f"{direction}: give another study name (--study-name) or the study's monitor "
            "(--monitor)"
        )
    probe = optuna.create_study().ask()  # the space's distributions, off the study
    space_fn(probe)
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            if name in probe.distributions and probe.distributions[name] != dist:
                raise ValueError(
                    f"study_name {study.study_name!r} in the storage holds trials with {name!r} "
                    f"drawn from {dist}, but this search draws it from "
                    f"{probe.distributions[name]}: give another study name (--study-name) or "
                    "the study's own ranges"
                )


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
    heartbeat: int = HEARTBEAT,
    hp: Mapping[str, Any] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    mesh: Any = None,
    epochs_per_call: int = 1,
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Any = None,
    max_members_per_call: int | None = None,
    checkpoint_dir: Any = None,
    resume: bool = False,
    refill: bool = False,
) -> SweepResults:
    """``search(..., strategy="optuna")``: an Optuna study (created, or joined when
    ``study_name`` exists in ``storage``) runs ``n`` trials of ``space``, ``batch`` per compiled
    sweep (:func:`optimize`); the batches come back as one table.

    Args:
      space: a jaxdl search space (see :func:`space_to_suggestions`).
      data, trainer, epochs, seed, monitor, mode: as in :func:`optimize`.
      n: trials for this call.
      sampler: ``"tpe"``, ``"random"`` or ``"cmaes"``, seeded with ``seed`` (in a storage,
        which workers share, with ``seed``, the trials so far and the process id: each worker
        draws its own trials).
      pruner: ``"median"``, ``"hyperband"`` or ``"none"``.
      storage: ``None`` (in memory), a journal file path (``study.log``: resumable, shared by
        processes on one machine or a shared disk) or an RDB URL (``postgresql://...``); see
        :func:`open_storage`.
      study_name: the study's name in ``storage``.
      batch: trials per compiled sweep.
      heartbeat: seconds between a worker's heartbeats in a storage; a trial without one for
        twice as long is failed and retried once (:mod:`.heartbeat`).
      hp, patience, min_delta, mesh, epochs_per_call, model_fn, logger, max_members_per_call,
        checkpoint_dir, resume, refill: passed on to :func:`optimize` (see there; with
        ``refill`` the table's groups are the structures, ``structure 0``, ...).

    Returns:
      The trials' :class:`~.reading.StudyResults`: a sweep table, batch by batch (``group``
      column), with the ``study`` and its fANOVA ``importances``.

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
    backend = open_storage(storage, heartbeat)
    try:
        study = optuna.create_study(storage=backend, study_name=study_name, direction=direction,
                                    sampler=make_sampler(seed=seed), pruner=make_pruner(),
                                    load_if_exists=study_name is not None)
    except Exception as err:  # noqa: BLE001 - a server that went away, a corrupt journal
        raise ValueError(f"storage {storage!r}: the study cannot be created or loaded "
                         f"({type(err).__name__}: {err})") from err
    _check_joined(study, space_fn, direction)
    if storage is not None:  # shared by workers: each draws its own trials
        study.sampler = make_sampler(seed=(seed + len(study.trials) + 7919 * os.getpid()) % 2**31)
    run = optimize(study, space_fn, data, trainer=trainer, n_trials=n, batch=batch, epochs=epochs,
                   seed=seed, monitor=monitor, mode=mode, hp=hp, patience=patience,
                   min_delta=min_delta, mesh=mesh, epochs_per_call=epochs_per_call,
                   model_fn=model_fn, logger=logger, max_members_per_call=max_members_per_call,
                   checkpoint_dir=checkpoint_dir, resume=resume, refill=refill)
    label = "structure" if refill else "batch"
    merged = merge(run.batches, [f"{label} {b}" for b, _ in enumerate(run.batches)])
    fields = {f.name: getattr(merged, f.name) for f in dataclasses.fields(merged)}
    return StudyResults(**fields, study=study, importances=importances(study, seed=seed))
