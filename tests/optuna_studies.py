"""What the batched-Optuna tests share (not a test module): a pruner that prunes the slow
learning rates after epoch 1, the learning-rate space, a study with those rates enqueued, and
a count of the programs a call builds."""

from __future__ import annotations

import jax
import pytest

optuna = pytest.importorskip("optuna")  # the test modules that import this skip without it

from jaxdl.sweep.optuna_search import suggest_learning_rate  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState
# lr >= 0.3 trains on, the rest is pruned after epoch 1
RATES = (0.5, 0.01, 0.02, 0.4, 0.03, 0.6, 0.005, 0.04, 0.35, 0.002)
LOWERING = "/jax/core/compile/jaxpr_to_mlir_module_duration"  # once per program built


class PruneSlow(optuna.pruners.BasePruner):
    """Prunes a trial with a learning rate below 0.3 once it has reported epoch 1."""

    def prune(self, study, trial):
        step = trial.last_step
        return step is not None and step >= 1 and trial.params["learning_rate"] < 0.3


def lr_space(trial):
    return {"learning_rate": suggest_learning_rate(trial, 1e-3, 1.0)}


def study_of(rates):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=PruneSlow())
    for lr in rates:
        study.enqueue_trial({"learning_rate": lr})
    return study


def programs_built(fn):
    """How many programs ``fn()`` lowers (each jit cache miss; a persistent cache hit too)."""
    events = []

    def listen(event, seconds, **_):
        if event == LOWERING:
            events.append(seconds)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        result = fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return len(events), result
