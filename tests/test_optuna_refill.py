"""optimize(refill=True): continuous batching. A trial that ends (pruned, diverged, out of
epochs) is told at once and its slot takes the next trial in the same compiled program, which
keeps running; each slot counts its own epochs, so every trial reports what a solo run of its
config computes on the group's data order from its ``data_epoch`` on (a solo ``fit`` where that
is 0), and every trial is told once."""

from __future__ import annotations

import dataclasses
import math

import jax
import pytest

optuna = pytest.importorskip("optuna")

from optuna_studies import RATES, State, lr_space, programs_built, study_of  # noqa: E402

from jaxdl.data import datasets  # noqa: E402
from jaxdl.early_stopping import EarlyStopping  # noqa: E402
from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import run_sweep  # noqa: E402
from jaxdl.sweep.engine import NEVER  # noqa: E402
from jaxdl.sweep.optuna_search import optimize  # noqa: E402
from jaxdl.train import Keys, Trainer, fit, trainer_hyperparams  # noqa: E402
from jaxdl.train.compiled import run_epoch, run_evaluate, run_init  # noqa: E402

DATA = datasets.load("moons", n=150, seed=1)  # 90 train, 60 val


def solo_losses(trainer, config, epochs, data_epoch, seed=0):
    """val_loss of a solo run of ``config`` whose epoch ``k`` trains on the mini-batches of
    epoch ``data_epoch + k`` of ``seed`` (initial parameters as ``fit``'s)."""
    hp = trainer_hyperparams(trainer, config)
    keys = Keys.from_seed(seed)
    ts = run_init(trainer, keys.init, hp)
    losses = []
    for k in range(epochs):
        ts, _ = run_epoch(trainer, ts, hp, DATA.x_train, DATA.y_train, keys,
                          jax.numpy.int32(data_epoch + k))  # fmt: skip
        losses.append(float(run_evaluate(trainer, ts, hp, DATA.x_val, DATA.y_val)["loss"]))
    return losses


def reports(trial):
    return [trial.intermediate_values[e] for e in sorted(trial.intermediate_values)]


def test_refilled_slots_report_the_solo_values_and_each_trial_is_told_once():
    trainer = Trainer(MLP((2, 8, 2)), optimizer="sgd", batch_size=32)
    study = study_of(RATES)
    told, tell = [], study.tell

    def counted(trial, *args, **kwargs):
        told.append(trial.number)
        return tell(trial, *args, **kwargs)

    study.tell = counted
    run = optimize(study, lr_space, DATA, trainer=trainer, n_trials=10, batch=2, epochs=5,
                   refill=True)  # fmt: skip
    assert sorted(told) == list(range(10))  # each trial told once
    trials = study.trials
    assert [t.state for t in trials].count(State.PRUNED) == 6
    assert [t.state for t in trials].count(State.COMPLETE) == 4
    # one structure, 2 slots, 10 trials: one program ran them all, each trial once
    assert len(run.batches) == 1 and sorted(run.trials[0]) == list(range(10))
    offsets = [t.user_attrs["data_epoch"] for t in trials]
    assert offsets[:2] == [0, 0] and max(offsets) > 0  # the first two started the program
    for trial in trials:
        config = {"learning_rate": trial.params["learning_rate"]}
        losses = solo_losses(trainer, config, 5, trial.user_attrs["data_epoch"])
        if trial.user_attrs["data_epoch"] == 0:  # the group's first: a solo sweep's numbers
            solo = run_sweep([config], DATA, trainer=trainer, epochs=5)
            assert losses == pytest.approx(solo.histories[0]["val_loss"], rel=1e-5, abs=1e-6)
        if trial.state == State.PRUNED:
            assert sorted(trial.intermediate_values) == [0, 1]
            assert reports(trial) == pytest.approx(losses[:2], rel=1e-5, abs=1e-6)
            assert trial.user_attrs["epochs_run"] == 2
        else:
            assert reports(trial) == pytest.approx(losses, rel=1e-5, abs=1e-6)
            assert trial.value == pytest.approx(min(losses), rel=1e-5, abs=1e-6)
            assert trial.user_attrs["best_epoch"] == losses.index(min(losses))
    # told as they end, not at the end of a batch: trial 1 (pruned after epoch 1) is told
    # before trial 0 (5 epochs), and trial 2 took trial 1's slot while trial 0 trained on
    assert trials[1].datetime_complete < trials[0].datetime_complete
    assert trials[2].datetime_start < trials[0].datetime_complete
    # the results: one row per trial, in the order the trials started, with its own epochs
    results = run.batches[0]
    assert results.configs == [{"learning_rate": trials[n].params["learning_rate"]}
                               for n in run.trials[0]]  # fmt: skip
    assert [len(h["epoch"]) for h in results.histories] == [
        5 if trials[n].state == State.COMPLETE else 2 for n in run.trials[0]]
    assert all(h["epoch"] == list(range(len(h["epoch"]))) for h in results.histories)


def test_refill_compiles_one_program_per_structure():
    def study_run(hidden, rates):
        trainer = Trainer(MLP((2, hidden, 2)), optimizer="sgd", batch_size=32)
        return optimize(study_of(rates), lr_space, DATA, trainer=trainer, n_trials=len(rates),
                        batch=4, epochs=5, refill=True)  # fmt: skip

    programs_built(lambda: study_run(11, RATES))  # what any study builds once per process
    count, run = programs_built(lambda: study_run(13, RATES))
    assert len(run.trials[0]) == 10  # 10 trials through one group of 4 slots
    assert count <= 3, count  # the model's and the members' initialization, the epochs
    again, _ = programs_built(lambda: study_run(13, RATES[:5]))
    assert again == 0


@pytest.mark.slow
def test_two_structures_wait_for_their_own_slots_and_a_diverged_trial_fails():
    x, y, x_val, y_val = DATA.x_train, DATA.y_train, DATA.x_val, DATA.y_val
    trainer = Trainer(MLP((2, 8, 2)), batch_size=32)
    chosen = [(0.1, "momentum"), (0.05, "adam"), (1e8, "momentum"), (0.02, "momentum"),
              (0.3, "adam"), (0.01, "momentum"), (0.2, "adam")]  # fmt: skip

    class PruneEveryThird(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number % 3 == 1 and (trial.last_step or 0) >= 1

    study = optuna.create_study(pruner=PruneEveryThird())
    for lr, kind in chosen:
        study.enqueue_trial({"learning_rate": lr, "optimizer": kind})

    def space(trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e9, log=True),
                "optimizer": trial.suggest_categorical("optimizer", ["momentum", "adam"])}

    run = optimize(study, space, DATA, trainer=trainer, n_trials=7, batch=2, epochs=4,
                   refill=True)  # fmt: skip
    by_kind = {b.trainers[0].optimizer: n for b, n in zip(run.batches, run.trials)}
    assert sorted(by_kind["momentum"]) == [0, 2, 3, 5] and sorted(by_kind["adam"]) == [1, 4, 6]
    states = [t.state for t in study.trials]
    assert states == [State.COMPLETE, State.PRUNED, State.FAIL, State.COMPLETE, State.PRUNED,
                      State.COMPLETE, State.COMPLETE]  # fmt: skip
    for trial in study.trials:
        if trial.state == State.FAIL:  # diverged: a failed trial, its finite epochs reported
            assert trial.user_attrs["status"] == "diverged"
            assert all(math.isfinite(v) for v in trial.intermediate_values.values())
            continue
        config = dict(trial.params)
        kind = dataclasses.replace(trainer, optimizer=config.pop("optimizer"))
        losses = solo_losses(kind, config, 4, trial.user_attrs["data_epoch"])
        if trial.user_attrs["data_epoch"] == 0:  # as fit trains it
            solo = fit(kind, x, y, validation=(x_val, y_val), hp=config, epochs=4,
                       early_stopping=EarlyStopping(NEVER), progress=False)  # fmt: skip
            assert losses == pytest.approx(solo.history["val_loss"], rel=1e-5, abs=1e-6)
        got = reports(trial)
        assert got == pytest.approx(losses[: len(got)], rel=1e-5, abs=1e-6)
        assert len(got) == (2 if trial.state == State.PRUNED else 4)
        assert all(math.isfinite(v) for v in got)


def test_refill_checks_its_options():
    trainer = Trainer(MLP((2, 4, 2)), optimizer="sgd", batch_size=32)
    study = study_of(RATES[:2])
    with pytest.raises(TypeError, match="refill must be True or False"):
        optimize(study, lr_space, DATA, trainer=trainer, n_trials=2, refill="yes")
    with pytest.raises(ValueError, match="refill=True.*max_members_per_call"):
        optimize(study, lr_space, DATA, trainer=trainer, n_trials=2, refill=True,
                 max_members_per_call=2)  # fmt: skip
    assert {t.state for t in study.trials} == {State.WAITING}  # nothing asked


def test_study_search_passes_refill_on():
    from jaxdl.sweep import LogUniform
    from jaxdl.sweep.optuna_search import study_search

    trainer = Trainer(MLP((2, 4, 2)), optimizer="sgd", batch_size=32)
    results = study_search({"learning_rate": LogUniform(1e-3, 0.3)}, DATA, trainer=trainer, n=5,
                           epochs=2, batch=2, pruner="none", refill=True)  # fmt: skip
    assert len(results.configs) == 5 and set(results.groups) == {"structure 0"}
    assert all(len(h["epoch"]) == 2 for h in results.histories)


@pytest.mark.parametrize("optimizer", ["adam", "switch"])
def test_the_program_compiles_from_the_state_shapes_before_the_states_exist(optimizer):
    """A refill group's program compiles from ``state_shapes`` while its members' initial states
    are still being made; the shapes, dtypes, weak types and placements are exactly those of
    the states ``Bucket.init`` then puts on the devices, so the real call finds that program
    (a mismatch would compile it again)."""
    import numpy as np

    from jaxdl import optim
    from jaxdl.sweep import buckets, config_mesh, sharding
    from jaxdl.sweep.loop import state_shapes

    chosen = optim.switch("momentum", "adam") if optimizer == "switch" else optimizer
    trainer = Trainer(MLP((2, 8, 2)), optimizer=chosen, batch_size=32)
    hp = {"learning_rate": np.full(3, 0.1, np.float32)}
    if optimizer == "switch":
        hp["optimizer_index"] = np.array([0, 1, 1], np.float32)
    mesh = config_mesh()
    bucket = buckets.Bucket(trainer, np.arange(3), hp, [0] * 3, True)
    stopper = EarlyStopping(2)
    shapes = state_shapes(trainer, hp, stopper, len(bucket.padding(mesh)),
                          sharding.members(mesh))
    bucket.init(stopper, mesh)

    def described(a):
        return (a.shape, a.dtype, getattr(a, "weak_type", False), a.sharding)

    assert jax.tree.map(described, shapes) == jax.tree.map(described, bucket.state)
