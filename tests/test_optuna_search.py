"""jaxdl.sweep.optuna_search: Optuna trials trained several at a time in one vmapped sweep. Every
trial is told once with the right state, a member's value equals a solo sweep of its config,
pruned members stop (shorter histories, PRUNED trials), diverged ones FAIL, define-by-run spaces,
journal storage resumed in a new call, multi-objective studies, the engine's prune hook, and bad
input rejected before anything compiles."""

from __future__ import annotations

import math
import sys

import jax
import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from jaxdl.data import datasets  # noqa: E402
from jaxdl.data.images import MissingPackage  # noqa: E402
from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import optuna_search, run_sweep  # noqa: E402
from jaxdl.sweep.optuna_search import (  # noqa: E402
    optimize,
    suggest_beta,
    suggest_learning_rate,
)
from jaxdl.train import Trainer  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
DATA = datasets.load("moons", n=150, seed=1)  # 90 train, 60 val
BASE = Trainer(MLP((2, 8, 2)), optimizer="sgd", batch_size=32)
State = optuna.trial.TrialState


def lr_space(trial):
    return {"learning_rate": suggest_learning_rate(trial, 1e-3, 1.0)}


def random_study(**kw):
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), **kw)


class CountTells:
    """Wraps ``study.tell`` to count the calls per trial number."""

    def __init__(self, study):
        self.counts: dict[int, int] = {}
        tell = study.tell

        def counted(trial, *args, **kwargs):
            number = trial if isinstance(trial, int) else trial.number
            self.counts[number] = self.counts.get(number, 0) + 1
            return tell(trial, *args, **kwargs)

        study.tell = counted


def test_two_batches_every_trial_told_once_values_equal_solo_sweeps():
    study = random_study()
    for lr in (0.5, 0.05, 0.01, 0.2, 0.1, 0.02):
        study.enqueue_trial({"learning_rate": lr})
    tells = CountTells(study)
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=6, batch=4, epochs=3, seed=2)
    assert tells.counts == {n: 1 for n in range(6)}
    assert run.trials == [[0, 1, 2, 3], [4, 5]]
    assert [len(b.configs) for b in run.batches] == [4, 2]
    assert [t.state for t in study.trials] == [State.COMPLETE] * 6
    for trial in study.trials:
        b, i = divmod(trial.number, 4)
        results = run.batches[b]
        assert results.configs[i] == {"learning_rate": trial.params["learning_rate"]}
        solo = run_sweep([results.configs[i]], DATA, trainer=BASE, epochs=3, seed=2)
        expected = solo.row(0)["val_loss"]
        assert trial.value == pytest.approx(expected, rel=1e-5, abs=1e-6)
        # every epoch reported at its own step
        reported = [trial.intermediate_values[e] for e in range(3)]
        np.testing.assert_allclose(reported, solo.histories[0]["val_loss"], rtol=1e-5)
        row = solo.row(0)
        assert trial.user_attrs["val_accuracy"] == pytest.approx(row["val_accuracy"], rel=1e-5)
        assert (trial.user_attrs["best_epoch"], trial.user_attrs["epochs_run"]) == (
            row["best_epoch"],
            3,
        )


@pytest.mark.slow
def test_groups_padded_to_the_batch_fillers_dropped(monkeypatch):
    sizes = []

    def counting(configs, *args, **kwargs):
        sizes.append(len(configs))
        return run_sweep(configs, *args, **kwargs)

    monkeypatch.setattr(optuna_search.core, "run_sweep", counting)

    def space(trial):
        lr = suggest_learning_rate(trial, 1e-3, 0.5)
        return {"learning_rate": lr, "optimizer": trial.suggest_categorical("o", ["sgd", "adam"])}

    study = random_study()
    for lr, o in ((0.1, "sgd"), (0.2, "sgd"), (0.05, "sgd"), (0.01, "adam"), (0.3, "adam")):
        study.enqueue_trial({"learning_rate": lr, "o": o})
    run = optimize(study, space, DATA, trainer=BASE, n_trials=5, batch=5, epochs=2)
    assert sizes == [10]  # 3 sgd and 2 copies of one, 2 adam and 3 copies of one
    results = run.batches[0]
    assert len(results.configs) == len(results.histories) == len(results.epochs) == 5
    for i, trial in enumerate(study.trials):
        solo = run_sweep([results.configs[i]], DATA, trainer=BASE, epochs=2)
        assert trial.value == pytest.approx(solo.row(0)["val_loss"], rel=1e-5, abs=1e-6)
    sizes.clear()
    optimize(random_study(), space, DATA, trainer=BASE, n_trials=3, batch=3, epochs=1, pad=False)
    assert sizes == [3]


class PruneAfter(optuna.pruners.BasePruner):
    """Prunes every trial whose last reported step is >= ``step`` (optionally only those with a
    learning rate below ``below``)."""

    def __init__(self, step, below=math.inf):
        self.step, self.below = step, below

    def prune(self, study, trial):
        step = trial.last_step
        return step is not None and step >= self.step and trial.params["learning_rate"] < self.below


def test_pruner_stops_members_at_chunk_boundaries():
    study = random_study(pruner=PruneAfter(1))
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=3, batch=3, epochs=6)
    results = run.batches[0]
    assert results.status == ["pruned"] * 3
    assert [len(h["epoch"]) for h in results.histories] == [2, 2, 2]  # epochs 0 and 1 only
    assert results.epochs == [2, 2, 2]
    assert [t.state for t in study.trials] == [State.PRUNED] * 3
    assert [sorted(t.intermediate_values) for t in study.trials] == [[0, 1]] * 3
    # asked every 4 epochs: the pruner first sees step 3
    study = random_study(pruner=PruneAfter(0))
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=2, batch=2, epochs=6,
                   epochs_per_call=4)  # fmt: skip
    assert [len(h["epoch"]) for h in run.batches[0].histories] == [4, 4]
    assert [t.state for t in study.trials] == [State.PRUNED] * 2


def test_pruned_member_leaves_the_others_as_their_solo_runs():
    study = random_study(pruner=PruneAfter(1, below=0.03))
    for lr in (0.3, 0.01, 0.1):
        study.enqueue_trial({"learning_rate": lr})
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=3, batch=3, epochs=4)
    results = run.batches[0]
    assert results.status == ["ok", "pruned", "ok"]
    assert [len(h["epoch"]) for h in results.histories] == [4, 2, 4]
    assert [t.state for t in study.trials] == [State.COMPLETE, State.PRUNED, State.COMPLETE]
    for i in (0, 2):
        solo = run_sweep([results.configs[i]], DATA, trainer=BASE, epochs=4)
        assert results.histories[i]["val_loss"] == pytest.approx(
            solo.histories[0]["val_loss"], rel=1e-5
        )
        assert study.trials[i].value == pytest.approx(solo.row(0)["val_loss"], rel=1e-5)


def test_median_pruner_prunes_worse_than_median_members():
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    study = random_study(pruner=pruner)
    for lr in (0.3, 0.2, 0.002, 0.001, 0.25, 0.003):
        study.enqueue_trial({"learning_rate": lr})
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=6, batch=2, epochs=5)
    states = [t.state for t in study.trials]
    assert states[:2] == [State.COMPLETE] * 2  # the startup trials
    assert State.PRUNED in states
    for trial in study.trials:
        b, i = divmod(trial.number, 2)
        history = run.batches[b].histories[i]
        if trial.state == State.PRUNED:
            step = max(trial.intermediate_values)
            assert len(history["epoch"]) == step + 1 < 5
            # the median rule: worse than the median of earlier trials at that step
            earlier = [t.intermediate_values[step] for t in study.trials[: 2 * b]
                       if step in t.intermediate_values]  # fmt: skip
            assert trial.intermediate_values[step] > np.median(earlier)
        else:
            assert len(history["epoch"]) == 5


def test_early_stopped_members_report_every_epoch_they_ran():
    study = random_study()
    for lr in (0.9, 0.5, 0.05):
        study.enqueue_trial({"learning_rate": lr})
    run = optimize(study, lr_space, DATA, trainer=BASE, n_trials=3, batch=3, epochs=8, patience=1)
    results = run.batches[0]
    assert "early-stopped" in results.status and "ok" in results.status
    for trial, history in zip(study.trials, results.histories):
        assert trial.state == State.COMPLETE
        assert sorted(trial.intermediate_values) == history["epoch"]
        assert trial.value == min(history["val_loss"])


def test_diverged_member_fails_the_others_complete():
    study = random_study()
    for lr in (0.1, 1e8):
        study.enqueue_trial({"learning_rate": lr})

    def wide(trial):
        return {"learning_rate": suggest_learning_rate(trial, 1e-3, 1e9)}

    run = optimize(study, wide, DATA, trainer=BASE, n_trials=2, batch=2, epochs=3)
    assert run.batches[0].status == ["ok", "diverged"]
    assert [t.state for t in study.trials] == [State.COMPLETE, State.FAIL]


def test_conditional_space_two_buckets():
    def space(trial):
        config = {"learning_rate": suggest_learning_rate(trial, 1e-3, 0.5)}
        config["optimizer"] = trial.suggest_categorical("optimizer", ["sgd", "momentum"])
        if config["optimizer"] == "momentum":
            config["beta"] = suggest_beta(trial, "beta", 0.8, 0.99)
        return config

    study = random_study()
    for optimizer in ("sgd", "momentum", "sgd", "momentum"):
        study.enqueue_trial({"optimizer": optimizer})
    run = optimize(study, space, DATA, trainer=BASE, n_trials=4, batch=4, epochs=2)
    results = run.batches[0]
    assert [t.optimizer for t in results.trainers] == ["sgd", "momentum", "sgd", "momentum"]
    for trial, config in zip(study.trials, results.configs):
        assert trial.state == State.COMPLETE
        assert ("one_minus_beta" in trial.params) == (config["optimizer"] == "momentum")
        if "beta" in config:
            assert config["beta"] == pytest.approx(1 - trial.params["one_minus_beta"])
            assert 0.8 <= config["beta"] <= 0.99


def test_journal_storage_resumed_in_a_new_call(tmp_path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = str(tmp_path / "study.log")
    study = optuna.create_study(
        study_name="s", storage=JournalStorage(JournalFileBackend(path)),
        sampler=optuna.samplers.RandomSampler(seed=0),
    )  # fmt: skip
    optimize(study, lr_space, DATA, trainer=BASE, n_trials=2, batch=2, epochs=2)
    again = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    assert len(again.trials) == 2
    run = optimize(again, lr_space, DATA, trainer=BASE, n_trials=3, batch=2, epochs=2)
    assert run.trials == [[2, 3], [4]]
    final = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    assert [t.number for t in final.trials] == [0, 1, 2, 3, 4]
    assert all(t.state != State.RUNNING for t in final.trials)


@pytest.mark.slow
def test_multi_objective_val_loss_and_param_count():
    def space(trial):
        return {"learning_rate": 0.1, "hidden_units": trial.suggest_categorical("h", [4, 16])}

    study = optuna.create_study(directions=["minimize", "minimize"])
    for h in (4, 16):
        study.enqueue_trial({"h": h})
    run = optimize(study, space, DATA, trainer=BASE, n_trials=2, batch=2, epochs=2,
                   objectives=("val_loss", "param_count"))  # fmt: skip
    results = run.batches[0]
    for i, trial in enumerate(study.trials):
        h = trial.params["h"]
        assert trial.values[0] == pytest.approx(results.row(i)["val_loss"])
        assert trial.values[1] == (2 * h + h) + (h * 2 + 2)  # weights and biases of 2-h-2
        assert sum(np.size(a) for a in jax.tree.leaves(results.params[i])) == trial.values[1]


def test_engine_prune_hook():
    def prune(live):
        return [i for i, h in live.items() if i == 1 and len(h["epoch"]) >= 2]

    configs = [{"learning_rate": 0.1}, {"learning_rate": 0.05}, {"learning_rate": 0.2}]
    results = run_sweep(configs, DATA, trainer=BASE, epochs=4, prune=prune)
    assert results.status == ["ok", "pruned", "ok"]
    assert [len(h["epoch"]) for h in results.histories] == [4, 2, 4]
    assert results.epochs == [4, 2, 4]
    solo = run_sweep([configs[2]], DATA, trainer=BASE, epochs=4)
    assert results.histories[2]["val_loss"] == pytest.approx(solo.histories[0]["val_loss"])
    with pytest.raises(ValueError, match="not live"):
        run_sweep(configs, DATA, trainer=BASE, epochs=2, prune=lambda live: [7])
    with pytest.raises(TypeError, match="prune"):
        run_sweep(configs, DATA, trainer=BASE, epochs=2, prune=3)


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may compile on bad input")

    monkeypatch.setattr(optuna_search.core, "run_sweep", refuse)


def test_bad_input_one_clear_error_before_compiling(no_training):
    def raises(trial):
        raise KeyError("oops")

    study = random_study()
    with pytest.raises(ValueError, match="space_fn raised KeyError on trial 0"):
        optimize(study, raises, DATA, trainer=BASE, n_trials=2, batch=2)
    assert [t.state for t in study.trials] == [State.FAIL]  # told, not left running
    study = random_study()
    with pytest.raises(ValueError, match="space_fn must return a dict"):
        optimize(study, lambda t: [0.1], DATA, trainer=BASE, n_trials=2)
    assert [t.state for t in study.trials] == [State.FAIL]
    with pytest.raises(ValueError, match="direction maximize disagrees with 'val_loss'"):
        optimize(optuna.create_study(direction="maximize"), lr_space, DATA, trainer=BASE,
                 n_trials=2)  # fmt: skip
    with pytest.raises(ValueError, match="direction minimize disagrees with 'val_accuracy'"):
        optimize(random_study(), lr_space, DATA, trainer=BASE, n_trials=2,
                 monitor="val_accuracy")  # fmt: skip
    with pytest.raises(ValueError, match="batch must be a positive integer, got 0"):
        optimize(random_study(), lr_space, DATA, trainer=BASE, n_trials=2, batch=0)
    with pytest.raises(ValueError, match="n_trials must be a positive integer, got 0"):
        optimize(random_study(), lr_space, DATA, trainer=BASE, n_trials=0)
    with pytest.raises(ValueError, match="2 direction"):
        optimize(optuna.create_study(directions=["minimize"] * 2), lr_space, DATA, trainer=BASE,
                 n_trials=1)  # fmt: skip
    with pytest.raises(ValueError, match="takes no checkpoint_dir: the study's storage"):
        optimize(random_study(), lr_space, DATA, trainer=BASE, n_trials=1, checkpoint_dir="d")
    with pytest.raises(TypeError, match="study must be an optuna.Study"):
        optimize("study", lr_space, DATA, trainer=BASE, n_trials=1)


def test_bad_config_fails_the_batch_before_compiling():
    study = random_study()
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        optimize(study, lambda t: {"learning_rat": 0.1}, DATA, trainer=BASE, n_trials=2)
    assert [t.state for t in study.trials] == [State.FAIL] * 2


def test_suggest_ranges_checked():
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="beta range"):
        suggest_beta(trial, low=0.9, high=1.0)
    with pytest.raises(ValueError, match="learning rate range"):
        suggest_learning_rate(trial, 0.0, 1.0)


def test_missing_optuna_has_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingPackage, match=r"pip install 'jaxdl\[optuna\]'") as err:
        optimize(None, lr_space, DATA, trainer=BASE, n_trials=1)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ImportError)
