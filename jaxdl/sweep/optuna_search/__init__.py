"""Optuna studies, several trials per compiled program.

:func:`optimize` asks a study for ``batch`` trials at once (``study.ask()``), turns each into a
config with a define-by-run ``space_fn(trial) -> dict`` (conditional parameters work: a
``beta`` asked only when the optimizer is momentum), and trains the batch as one
:func:`~jaxdl.sweep.run_sweep`: configs with equal structure share one vmapped, compiled
program (the optimizer kind is structural, unless the trainer's optimizer is
:func:`jaxdl.optim.switch`: then trials that differ only in ``config["optimizer"]`` share one
program, the kind a traced index). After every compiled chunk (``epochs_per_call`` epochs) each
live member's monitored values are reported (``trial.report(value, epoch)``) and the members
whose trial the study's pruner prunes (``trial.should_prune()``) are frozen through the
engine's ``prune`` hook. Each trial gets its table row as user attributes (``val_accuracy``,
``best_epoch``, ``status``, ...) and is then told its result once:

    COMPLETE  the best monitored value (the early-stopping best; or the objectives' values at
              that epoch for a multi-objective study)
    PRUNED    stopped by the pruner (Optuna keeps its last reported value)
    FAIL      diverged (a non-finite cost) or no finite monitored value: a failed trial, not a
              crash

Trials are sampled ``batch`` at a time, so a model-based sampler (TPE) sees the results of the
previous batches only; ``optuna.samplers.TPESampler(constant_liar=True)`` spreads a batch out.
``optimize(..., refill=True)`` batches continuously instead (:mod:`.refill`): a trial is told
when it ends and its slot takes the next trial in the same compiled program.
Any storage works (in memory, a journal file, SQLite, PostgreSQL): a study loaded again
continues in a new :func:`optimize` call, and several worker processes (on one machine or many)
share one study through its storage. A storage with a heartbeat (:mod:`.heartbeat`) lets a
worker's running trials be failed when it dies and retried once by the others.

Modules: :mod:`.core` (:func:`optimize`), :mod:`.refill` (continuous batching), :mod:`.trials`
(asking, describing and valuing a trial), :mod:`.space` (define-by-run spaces), :mod:`.study`
(:func:`study_search`, storages), :mod:`.heartbeat` (failing a dead worker's trials),
:mod:`.reading` (importances) and :mod:`.figures` (parallel coordinates, slice plots). Optuna is
optional (``pip install 'jaxdl[optuna]'``): it is imported inside these functions only.
"""

from jaxdl.sweep.optuna_search.core import PARAM_COUNT, OptunaRun, optimize
from jaxdl.sweep.optuna_search.space import (
    INSTALL_HINT,
    require_optuna,
    space_to_suggestions,
    suggest_beta,
    suggest_learning_rate,
)
from jaxdl.sweep.optuna_search.study import PRUNERS, SAMPLERS, study_search

__all__ = [
    "INSTALL_HINT",
    "PARAM_COUNT",
    "PRUNERS",
    "SAMPLERS",
    "OptunaRun",
    "optimize",
    "require_optuna",
    "space_to_suggestions",
    "study_search",
    "suggest_beta",
    "suggest_learning_rate",
]
