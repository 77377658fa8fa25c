"""Optuna trials trained ``batch`` at a time, each batch one vmapped sweep (:func:`optimize`;
the package docstring says how trials are reported, pruned and told)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from jaxdl.sweep.buckets import continuous_names, program_trainer, split_config
from jaxdl.sweep.engine import run_sweep
from jaxdl.sweep.options import sweep_options
from jaxdl.sweep.optuna_search.heartbeat import Heartbeat, fail_stale_trials
from jaxdl.sweep.optuna_search.refill import run_refill
from jaxdl.sweep.optuna_search.space import require_optuna
from jaxdl.sweep.optuna_search.trials import (
    PARAM_COUNT,
    ask_trials,
    describe_trial,
    objective_values,
)
from jaxdl.sweep.results import SweepResults
from jaxdl.train import Trainer


class OptunaRun(NamedTuple):
    """What :func:`optimize` returns: the ``study`` (every trial told), the
    :class:`~jaxdl.sweep.SweepResults` of each batch and, per batch, the trial number of each
    member (``trials[b][i]`` is member ``i`` of ``batches[b]``).

    >>> run = OptunaRun(study=None, batches=[], trials=[[0, 1]])
    >>> run.trials[0][1]   # member 1 of the first batch is trial 1
    1
    """

    study: Any
    batches: list[SweepResults]
    trials: list[list[int]]


def _objectives(
    optuna: Any, study: Any, trainer: Trainer, monitor: str, mode: str | None, objectives: Any
) -> tuple[list[Any], str]:
    """The checked objectives and the monitor's mode: each objective's direction must be the
    study's."""
    mode = trainer.check_monitor(monitor, mode)
    objectives = [monitor] if objectives is None else list(objectives)
    directions = study.directions
    if len(objectives) != len(directions):
        raise ValueError(
            f"objectives {objectives} give {len(objectives)} value(s) but the study has "
            f"{len(directions)} direction(s); pass one objective per direction"
        )
    for k, (objective, direction) in enumerate(zip(objectives, directions)):
        if callable(objective):
            continue
        if not isinstance(objective, str):
            raise TypeError(
                f"objectives[{k}] must be a metric name, {PARAM_COUNT!r} or a function "
                f"(results, member) -> float, got {objective!r}"
            )
        if objective == PARAM_COUNT:
            want = "min"
        elif objective == monitor:
            want = mode
        else:
            want = trainer.check_monitor(objective, None)
        kinds = optuna.study.StudyDirection
        wanted = kinds.MINIMIZE if want == "min" else kinds.MAXIMIZE
        if direction != wanted:
            raise ValueError(
                f"study direction {direction.name.lower()} disagrees with {objective!r} "
                f"(mode {want!r}): create the study with direction="
                f"{wanted.name.lower()!r} or pick another monitor/mode"
            )
    return objectives, mode


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _fillers(configs: list[dict], trainer: Trainer, model_fn: Any, size: int) -> list[dict]:
    """Copies of a member's config that fill each structure's group up to ``size`` members (the
    batch), so every batch of a study, a partial last batch included, compiles each structure
    once: same programs, same member count. Configs the engine will reject get none (it
    reports them)."""
    groups: dict[Any, list[dict]] = {}
    try:
        for config in configs:
            structural = split_config(
                config, model_fn=model_fn, continuous=continuous_names(trainer)
            )[0]
            key = program_trainer(trainer, structural, model_fn)[1]  # a switch: one group
            groups.setdefault(key, []).append(config)
    except Exception:  # noqa: BLE001 - the sweep names the bad config before compiling
        return []
    return [g[0] for g in groups.values() for _ in range(size - len(g))]


def _real(results: SweepResults, n: int) -> SweepResults:
    """The results of the first ``n`` members (the trials), without the fillers."""
    lists = ("configs", "histories", "status", "best_epoch", "params", "model_state",
             "trainers", "hp", "seeds", "epochs")  # fmt: skip
    return dataclasses.replace(results, **{k: getattr(results, k)[:n] for k in lists})


def optimize(
    study: Any,
    space_fn: Callable[[Any], Mapping[str, Any]],
    data: Any,
    *,
    trainer: Trainer,
    n_trials: int,
    batch: int = 8,
    epochs: int = 10,
    seed: int = 0,
    monitor: str = "val_loss",
    mode: str | None = None,
    epochs_per_call: int = 1,
    objectives: Sequence[Any] | None = None,
    pad: bool = True,
    refill: bool = False,
    hp: Mapping[str, Any] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    mesh: Any = None,
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Any = None,
    max_members_per_call: int | None = None,
    checkpoint_dir: Any = None,
    resume: bool = False,
) -> OptunaRun:
    """Run ``n_trials`` trials of ``study``, ``batch`` at a time, each batch one vmapped
    :func:`~jaxdl.sweep.run_sweep`; see the module docstring.

    Args:
      study: an ``optuna.Study`` (its direction must agree with ``monitor``'s mode).
      space_fn: ``trial -> config dict`` (``trial.suggest_*``; see :func:`suggest_beta`).
      data: a dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the base :class:`~jaxdl.train.Trainer`; structural names of a config
        (``optimizer``, ``hidden_units``, ...) change it, as in a sweep. With
        ``optimizer=optim.switch("momentum", "adam")`` the optimizer kind is not structural:
        trials that differ only in ``config["optimizer"]`` (one of the switch's names) train in
        one group and one compiled program, each step computing both updates (each trial's
        results name its own optimizer and equal a run with it by name).
      n_trials: trials to run in this call (a study loaded from storage continues).
      batch: trials per vmapped sweep (the last batch may be smaller).
      epochs: the most epochs per trial; reports are ``trial.report(value, epoch)``.
      seed: the training seed of every trial (common random numbers, as in a sweep).
      monitor, mode: the early-stopping and reported metric (``val_loss``, ``val_accuracy``).
      epochs_per_call: epochs per compiled chunk: the pruner is asked after each.
      objectives: for a multi-objective study, one per direction: a metric name (its value at
        the best epoch), ``"param_count"`` (minimize) or ``f(results, member) -> float``.
        Pruning is skipped there (Optuna has no reports for several objectives).
      pad: fill each structure's group of a batch up to ``batch`` members with copies of one
        of its configs (frozen after their first chunk; never reported or told) and keep
        every member in its slot when it stops (no compaction), so each structure compiles
        one program for the whole study, whatever the sampler's split, the pruner or a
        partial last batch. ``False``: no fillers, stopped members leave the program
        (``compact``): fewer member-epochs, one compile per structure and member count.
      refill: continuous batching (:mod:`.refill`): a trial that ends is told at once and its
        slot takes the next trial of the study in the same compiled program, each slot
        counting its own epochs (reports, stopping, budget) on its group's data order (user
        attribute ``data_epoch``); ``batch`` is the slots of each structure. Takes no
        ``logger`` or ``max_members_per_call``; ``pad`` is moot (the slots never change).
        The returned batches are then one per structure.
      hp, patience, min_delta, mesh, model_fn, logger, max_members_per_call: passed on to
        :func:`~jaxdl.sweep.run_sweep` (see there).
      checkpoint_dir, resume: refused: the study's storage is its durable record.

    Returns:
      An :class:`OptunaRun`: the study, each batch's results and its trial numbers.

    Examples:
      >>> import numpy as np, optuna
      >>> from jaxdl import MLP
      >>> from jaxdl.sweep.optuna_search import suggest_learning_rate
      >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
      >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
      >>> y = (x[:, 0] > 0).astype(np.int32)
      >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
      >>> run = optimize(study, lambda t: {"learning_rate": suggest_learning_rate(t)},
      ...                (x, y, x, y), trainer=Trainer(MLP((2, 1))), n_trials=3, batch=2,
      ...                epochs=2)
      >>> len(study.trials), [len(b.configs) for b in run.batches], run.trials
      (3, [2, 1], [[0, 1], [2]])
    """
    optuna = require_optuna()
    if not isinstance(study, optuna.Study):
        raise TypeError(f"study must be an optuna.Study, got {type(study).__name__}")
    if not callable(space_fn):
        raise TypeError(f"space_fn must be a function trial -> config dict, got {space_fn!r}")
    _check_count("n_trials", n_trials)
    _check_count("batch", batch)
    if not isinstance(pad, bool):
        raise TypeError(f"pad must be True or False, got {pad!r}")
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer must be a jaxdl.train.Trainer, got {type(trainer).__name__}")
    for name, given in (("checkpoint_dir", checkpoint_dir is not None), ("resume", resume)):
        if given:
            raise ValueError(
                f"optimize takes no {name}: the study's storage is its durable record (e.g. "
                "optuna.storages.JournalStorage); load the study again to continue it"
            )
    objectives, mode = _objectives(optuna, study, trainer, monitor, mode, objectives)
    if not isinstance(refill, bool):
        raise TypeError(f"refill must be True or False, got {refill!r}")
    if refill:
        for name, value in (("logger", logger), ("max_members_per_call", max_members_per_call)):
            if value is not None:
                raise ValueError(f"optimize(refill=True) takes no {name}: leave it out, or "
                                 "pass refill=False")
        options = sweep_options(
            trainer, epochs=epochs, hp=hp, seed=seed, patience=patience, monitor=monitor,
            mode=mode, min_delta=min_delta, mesh=mesh, epochs_per_call=epochs_per_call,
            model_fn=model_fn,
        )  # fmt: skip
        batches, numbers = run_refill(study, space_fn, data, trainer, n_trials, batch, options,
                                      objectives)  # fmt: skip
        return OptunaRun(study, batches, numbers)
    single = len(study.directions) == 1
    State, Finished = optuna.trial.TrialState, optuna.exceptions.UpdateFinishedTrialError
    run = OptunaRun(study, [], [])
    done = 0
    while done < n_trials:
        fail_stale_trials(study)  # a dead worker's trials: failed, queued again once
        trials, configs = ask_trials(study, space_fn, min(batch, n_trials - done))
        beat = Heartbeat(study, trials)
        told: set[int] = set()
        reported = [0] * len(trials)
        n = len(trials)
        fillers = _fillers(configs, trainer, model_fn, batch) if pad else []

        def report(i: int, history: Mapping[str, list], trials=trials, reported=reported):
            """Report member ``i``'s epochs not reported yet (finite values only)."""
            values, epochs_seen = history[monitor], history["epoch"]
            for k in range(reported[i], len(values)):
                if math.isfinite(values[k]):
                    trials[i].report(values[k], epochs_seen[k])
            reported[i] = len(values)

        def prune(live: Mapping[int, Mapping[str, list]], trials=trials, n=n, report=report):
            stop = [i for i in live if i >= n]  # fillers: frozen at once, never reported
            for i, history in live.items():
                if i >= n or not single:
                    continue
                try:
                    report(i, history)
                    if trials[i].should_prune():
                        stop.append(i)
                except Finished:  # taken for dead by another worker: retried there
                    stop.append(i)
            return stop

        try:
            results = run_sweep(
                configs + fillers, data, trainer=trainer, epochs=epochs, seed=seed, monitor=monitor,
                mode=mode, epochs_per_call=epochs_per_call, prune=prune,
                compact=not pad, hp=hp, patience=patience, min_delta=min_delta, mesh=mesh,
                model_fn=model_fn, logger=logger, max_members_per_call=max_members_per_call,
            )  # fmt: skip
            beat.stop()
            results = _real(results, n)
            for i, trial in enumerate(trials):
                try:
                    if single:  # the last epochs of members that stopped on their own
                        report(i, results.histories[i])
                    describe_trial(trial, results, i)
                except Finished:  # taken for dead by another worker: retried there
                    told.add(i)
                    continue
                values = objective_values(results, i, objectives)
                if results.status[i] == "pruned":
                    study.tell(trial, state=State.PRUNED, skip_if_finished=True)
                elif results.status[i] == "diverged" or values is None:
                    study.tell(trial, state=State.FAIL, skip_if_finished=True)
                else:  # skip: failed by another worker that took this one for dead
                    study.tell(trial, values if not single else values[0],
                               skip_if_finished=True)
                told.add(i)
        except BaseException:
            beat.stop()
            for i, trial in enumerate(trials):
                if i not in told:
                    study.tell(trial, state=State.FAIL, skip_if_finished=True)
            raise
        run.batches.append(results)
        run.trials.append([t.number for t in trials])
        done += len(trials)
    return run
