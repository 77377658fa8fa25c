"""jaxdl.sweep.optimize compiles each structure once per study: every batch, a partial last
batch included, is padded to ``batch`` members per structure and pruned members keep their
slot, so a study of several batches with pruning builds one epoch program per structure (and
its initialization), not one per member count; and every trial reports the values a solo run
of its config gives."""

from __future__ import annotations

import math

import pytest

optuna = pytest.importorskip("optuna")

from optuna_studies import RATES, State, lr_space, programs_built, study_of  # noqa: E402

from jaxdl.data import datasets  # noqa: E402
from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import run_sweep  # noqa: E402
from jaxdl.sweep.optuna_search import optimize  # noqa: E402
from jaxdl.train import Trainer  # noqa: E402

DATA = datasets.load("moons", n=150, seed=1)  # 90 train, 60 val


def test_three_batches_with_pruning_compile_one_structure_once():
    def study_run(hidden, rates):
        trainer = Trainer(MLP((2, hidden, 2)), optimizer="sgd", batch_size=32)
        return optimize(study_of(rates), lr_space, DATA, trainer=trainer, n_trials=len(rates),
                        batch=4, epochs=5)  # fmt: skip

    # the programs any study builds once per process (data staging, keys) come first, with
    # another model width, so the count below is this structure's own whatever ran before
    programs_built(lambda: study_run(11, RATES))
    count, run = programs_built(lambda: study_run(13, RATES))
    assert [len(b.configs) for b in run.batches] == [4, 4, 2]
    states = [t.state for t in run.study.trials]
    assert states.count(State.PRUNED) == 6 and states.count(State.COMPLETE) == 4
    # the model's initialization, the members' initialization and the epoch program (before:
    # 9, an epoch and an initialization per member count of 4 and 2 and the compaction's
    # gathers)
    assert count <= 3, count
    again, _ = programs_built(lambda: study_run(13, RATES[:5]))
    assert again == 0  # a second study of the same structure compiles nothing


def test_padded_fixed_size_batches_report_the_solo_values():
    trainer = Trainer(MLP((2, 8, 2)), optimizer="sgd", batch_size=32)
    study = study_of(RATES)
    run = optimize(study, lr_space, DATA, trainer=trainer, n_trials=10, batch=4, epochs=5)
    for trial in study.trials:
        config = {"learning_rate": trial.params["learning_rate"]}
        solo = run_sweep([config], DATA, trainer=trainer, epochs=5)
        losses = solo.histories[0]["val_loss"]
        reported = [trial.intermediate_values[e] for e in sorted(trial.intermediate_values)]
        if trial.state == State.PRUNED:
            assert sorted(trial.intermediate_values) == [0, 1]
            assert reported == pytest.approx(losses[:2], rel=1e-5, abs=1e-6)
        else:
            assert trial.state == State.COMPLETE
            assert reported == pytest.approx(losses, rel=1e-5, abs=1e-6)
            assert trial.value == pytest.approx(solo.row(0)["val_loss"], rel=1e-5, abs=1e-6)
            assert math.isfinite(trial.value)
    # the fillers never reach a trial or a result
    assert sum(len(b.configs) for b in run.batches) == len(study.trials) == 10
