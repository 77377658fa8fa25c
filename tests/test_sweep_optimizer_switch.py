"""A trainer whose optimizer is ``optim.switch("momentum", "adam")``: sweeps and batched Optuna
studies put configs that differ only in ``config["optimizer"]`` into one vmapped group (one
compiled program), and every member's results equal those of the same config trained with its
optimizer by name (to float32 round-off)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxdl import optim
from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.sweep import run_sweep
from jaxdl.sweep.buckets import check_sweep_data, make_buckets
from jaxdl.train import Trainer

DATA = datasets.load("moons", n=150, seed=1)  # 90 train, 60 val
CONFIGS = [
    {"optimizer": "momentum", "learning_rate": 0.3, "beta": 0.8},
    {"optimizer": "adam", "learning_rate": 0.02},
    {"optimizer": "adam", "learning_rate": 0.05, "b1": 0.8, "beta": 0.5},  # beta: ignored
    {"optimizer": "momentum", "learning_rate": 0.1},
]


def trainer(optimizer, hidden=8):
    return Trainer(MLP((2, hidden, 2)), optimizer=optimizer, batch_size=32)


SWITCH = trainer(optim.switch("momentum", "adam"))
PLAIN = trainer("adam")


def groups(base, configs):
    host = check_sweep_data(base, DATA)
    return make_buckets(base, configs, {}, [0] * len(configs), True, host)


def test_mixed_kinds_are_one_bucket_with_the_index_traced():
    buckets, trainers, hp = groups(SWITCH, CONFIGS)
    assert len(buckets) == 1 and buckets[0].trainer == SWITCH
    assert buckets[0].hp["optimizer_index"].tolist() == [0.0, 1.0, 1.0, 0.0]
    # each member's own trainer and values: what fit(member trainer, hp=...) accepts
    assert [t.optimizer for t in trainers] == ["momentum", "adam", "adam", "momentum"]
    assert hp[2] == pytest.approx({"learning_rate": 0.05, "b1": 0.8})  # Adam's: beta left out
    plain = [c if c["optimizer"] == "momentum" else {k: v for k, v in c.items() if k != "beta"}
             for c in CONFIGS]  # fmt: skip
    assert len(groups(PLAIN, plain)[0]) == 2  # without the switch: one bucket per kind


@pytest.mark.slow
def test_switch_sweep_equals_the_plain_sweep_member_by_member():
    switched = run_sweep(CONFIGS, DATA, trainer=SWITCH, epochs=4)
    plain_configs = [{k: v for k, v in c.items() if not (k == "beta" and c["optimizer"] == "adam")}
                     for c in CONFIGS]  # fmt: skip
    plain = run_sweep(plain_configs, DATA, trainer=PLAIN, epochs=4)
    for i in range(len(CONFIGS)):
        for key in ("loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(switched.histories[i][key], plain.histories[i][key],
                                       rtol=2e-6, atol=1e-7)  # fmt: skip
        for a, b in zip(jax_leaves(switched.params[i]), jax_leaves(plain.params[i]), strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
        assert switched.trainers[i].optimizer == CONFIGS[i]["optimizer"]


def jax_leaves(tree):
    import jax

    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def test_bad_configs_name_the_config_and_the_fix():
    with pytest.raises(ValueError, match=r"config 0 .*'sgd' is not one of this switch's"):
        groups(SWITCH, [{"optimizer": "sgd", "learning_rate": 0.1}])
    with pytest.raises(ValueError, match=r"config 0 .*weight_decay is not read by any optimizer"):
        groups(SWITCH, [{"optimizer": "adam", "weight_decay": 0.1}])
    # no optimizer in the config: the switch's first name
    _, trainers, _ = groups(SWITCH, [{"learning_rate": 0.1}])
    assert trainers[0].optimizer == "momentum"


optuna = pytest.importorskip("optuna")

from optuna_studies import PruneSlow, programs_built  # noqa: E402

from jaxdl.sweep.optuna_search import optimize, suggest_learning_rate  # noqa: E402

TRIALS = [(0.5, "momentum"), (0.01, "adam"), (0.4, "adam"), (0.02, "momentum"),
          (0.35, "momentum"), (0.6, "adam")]  # fmt: skip


def kind_space(trial):
    return {"learning_rate": suggest_learning_rate(trial, 1e-3, 1.0),
            "optimizer": trial.suggest_categorical("optimizer", ["momentum", "adam"])}


def kind_study():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), pruner=PruneSlow())
    for lr, kind in TRIALS:
        study.enqueue_trial({"learning_rate": lr, "optimizer": kind})
    return study


@pytest.mark.slow
@pytest.mark.parametrize("refill", [False, True])
def test_optuna_trials_of_both_kinds_share_one_program_and_report_their_solo_values(refill):
    def study_run(hidden):
        return optimize(kind_study(), kind_space, DATA, trainer=trainer(
            optim.switch("momentum", "adam"), hidden), n_trials=len(TRIALS), batch=6, epochs=4,
            refill=refill)  # fmt: skip

    programs_built(lambda: study_run(5))  # the programs any study builds once per process
    count, run = programs_built(lambda: study_run(7))
    assert count <= 3, count  # the model's init, the members' init, one epoch program
    assert len(run.batches) == 1  # one group for both kinds
    assert sorted(t.optimizer for t in run.batches[0].trainers) == ["adam"] * 3 + ["momentum"] * 3
    for trial in run.study.trials:
        config = {"learning_rate": trial.params["learning_rate"]}
        solo = run_sweep([config], DATA, trainer=trainer(trial.params["optimizer"], 7), epochs=4)
        losses = solo.histories[0]["val_loss"]
        reported = [trial.intermediate_values[e] for e in sorted(trial.intermediate_values)]
        assert reported == pytest.approx(losses[:len(reported)], rel=1e-5, abs=1e-6)
        if trial.params["learning_rate"] < 0.3:
            assert trial.state == optuna.trial.TrialState.PRUNED
        else:
            assert trial.value == pytest.approx(solo.row(0)["val_loss"], rel=1e-5, abs=1e-6)
