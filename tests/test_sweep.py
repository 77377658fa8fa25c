"""jaxdl.sweep engine and results: every member of a vmapped sweep equals a solo ``fit`` (batch
norm and dropout on), per-member early stopping, divergence isolation, shape buckets, per-member
seeds, successive halving, the results table and files, retraining the best config, and bad
input rejected before anything compiles."""

from __future__ import annotations

import csv
import json
import os

import jax
import numpy as np
import pytest

from jaxdl.data import datasets
from jaxdl.early_stopping import EarlyStopping
from jaxdl.nn import MLP
from jaxdl.sweep import (
    LogUniform,
    OneMinusLogUniform,
    Space,
    buckets,
    engine,
    plot_sweep,
    run_sweep,
    successive_halving,
    trainer_for,
    zoom,
)
from jaxdl.train import Trainer, TrainingDiverged, fit

DATA = datasets.load("moons", n=150, seed=1)  # 90 train (batches 32, 32, 26 padded), 30 val
BN_DROPOUT = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
CONFIGS = [  # chosen so that members stop at different epochs
    {"learning_rate": 0.05, "keep_prob": 0.9, "b1": 0.8, "l2": 0.01},
    {"learning_rate": 0.002, "keep_prob": 0.7, "b1": 0.95, "l2": 0.0},
    {"learning_rate": 0.3, "keep_prob": 0.8, "b1": 0.9, "l2": 0.1},
]
EPOCHS, PATIENCE, SEED = 6, 2, 3
BASE = Trainer(MLP((2, 4, 2)), batch_size=32)
GOOD = [{"learning_rate": 0.1}]


def solo(trainer, hp, epochs=EPOCHS, seed=SEED, patience=PATIENCE):
    stopper = EarlyStopping(engine.NEVER if patience is None else patience)
    return fit(
        trainer, DATA.x_train, DATA.y_train, validation=(DATA.x_val, DATA.y_val), hp=hp,
        epochs=epochs, seed=seed, early_stopping=stopper, progress=False,
    )  # fmt: skip


def assert_member_equals_fit(results, i, got):
    """Parameters, batch-norm statistics and history of member ``i`` match a solo fit."""
    for a, b in zip(
        jax.tree.leaves((results.params[i], results.model_state[i])),
        jax.tree.leaves((got.params, got.model_state)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
    history = results.histories[i]
    assert history["epoch"] == got.history["epoch"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(history[key], got.history[key], rtol=2e-5, atol=2e-6)
    assert results.best_epoch[i] == got.best_epoch
    assert (results.status[i] == "early-stopped") == got.stopped_early


@pytest.fixture(scope="module")
def sweep():
    return run_sweep(CONFIGS, DATA, trainer=BN_DROPOUT, epochs=EPOCHS, patience=PATIENCE, seed=SEED)


def test_every_member_equals_a_solo_fit_with_batch_norm_and_dropout(sweep):
    for i in range(len(CONFIGS)):
        assert_member_equals_fit(sweep, i, solo(BN_DROPOUT, sweep.hp[i]))
    # the hyperparameters were really different per member (not one broadcast config)
    assert len({h["val_loss"][-1] for h in sweep.histories}) == len(CONFIGS)


def test_per_member_early_stopping_freezes_only_that_member(sweep):
    statuses = set(sweep.status)
    assert statuses == {"ok", "early-stopped"}, sweep.status
    for i, status in enumerate(sweep.status):
        run = len(sweep.histories[i]["epoch"])
        if status == "early-stopped":  # stopped right after `patience` epochs without progress
            assert run == sweep.best_epoch[i] + PATIENCE + 1 < EPOCHS
        else:
            assert run == EPOCHS
        assert sweep.histories[i]["epoch"] == list(range(run))


def test_table_is_sorted_best_first_and_written_atomically(sweep, tmp_path):
    table = sweep.table
    assert [r["config"] for r in table] == sorted(
        range(len(CONFIGS)), key=lambda i: sweep.row(i)["val_loss"]
    )
    best = table[0]
    assert best == sweep.best()
    history = sweep.histories[best["config"]]
    assert best["val_loss"] == history["val_loss"][best["best_epoch"]] == min(history["val_loss"])
    assert best["learning_rate"] == CONFIGS[best["config"]]["learning_rate"]

    path = tmp_path / "sweep.csv"
    path.write_text("stale")
    sweep.to_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert [int(r["config"]) for r in rows] == [r["config"] for r in table]
    assert [r["status"] for r in rows] == [r["status"] for r in table]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], [r["val_loss"] for r in table])
    assert {"keep_prob", "b1", "l2", "best_epoch", "epochs_run"} <= set(rows[0])

    sweep.to_json(tmp_path / "sweep.json")
    document = json.loads((tmp_path / "sweep.json").read_text())
    assert document["monitor"] == "val_loss" and document["mode"] == "min"
    assert document["rows"] == json.loads(json.dumps(table))

    plot_sweep(sweep, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["sweep.csv", "sweep.json", "sweep.png"]  # no temps


def test_best_config_retrained_alone_reproduces_its_result(sweep):
    best = sweep.best()
    again = sweep.retrain(DATA)
    assert again.best_epoch == best["best_epoch"]
    assert again.history["val_loss"][again.best_epoch] == pytest.approx(best["val_loss"], 1e-5)


def test_zoom_uses_the_best_results(sweep):
    space = Space(learning_rate=LogUniform(1e-3, 1.0), b1=OneMinusLogUniform(0.5, 0.99))
    top = sweep.top(2)
    fine = zoom(space, sweep, 2)
    lrs = [r["learning_rate"] for r in top]
    assert fine["learning_rate"].low <= min(lrs) and max(lrs) <= fine["learning_rate"].high
    assert fine["learning_rate"].high / fine["learning_rate"].low < 1e3  # narrower than before


def test_successive_halving_keeps_the_best_and_continues_them():
    results = successive_halving(
        CONFIGS, DATA, trainer=BN_DROPOUT, min_epochs=1, max_epochs=EPOCHS, eta=3,
        patience=PATIENCE, seed=SEED,
    )  # fmt: skip
    # rungs end at epochs 1, 3, 6; a rung keeps ceil(alive / 3) of the members still running
    pruned = [i for i, s in enumerate(results.status) if s == "pruned"]
    assert len(pruned) >= 1
    for i in pruned:
        assert (
            results.epochs[i] in (1, 2, 4)
            and len(results.histories[i]["epoch"]) == (results.epochs[i])
        )
    winner = max(range(len(CONFIGS)), key=lambda i: results.epochs[i])
    assert results.status[winner] in ("ok", "early-stopped")
    # a survivor continued where it was: it equals one solo fit of its whole budget
    got = solo(BN_DROPOUT, results.hp[winner], epochs=results.epochs[winner])
    assert_member_equals_fit(results, winner, got)
    # a member pruned at the end of rung r had no better best validation loss at r than every
    # member that went on past r
    for i in pruned:
        r = results.epochs[i]
        for j in range(len(CONFIGS)):
            if results.epochs[j] > r:
                assert min(results.histories[j]["val_loss"][:r]) <= min(
                    results.histories[i]["val_loss"][:r]
                )


@pytest.mark.slow
def test_divergence_is_isolated_buckets_and_per_member_seeds():
    base = Trainer(MLP((2, 8, 2)), optimizer="sgd", batch_size=32)
    configs = [
        {"learning_rate": 0.5},
        {"learning_rate": 1e4},
        {"learning_rate": 0.1, "optimizer": "momentum", "beta": 0.8},
        {"learning_rate": 1e5, "optimizer": "momentum"},
    ]
    seeds = [4, 5, 6, 7]
    results = run_sweep(configs, DATA, trainer=base, epochs=3, seeds=seeds)
    assert results.status == ["ok", "diverged", "ok", "diverged"]
    assert [r["status"] for r in results.table][-2:] == ["diverged", "diverged"]
    assert [t.optimizer for t in results.trainers] == ["sgd", "sgd", "momentum", "momentum"]
    # the healthy sgd member is exactly its solo run with its own seed, next to a diverged one
    got = solo(base, results.hp[0], epochs=3, seed=seeds[0], patience=None)
    assert_member_equals_fit(results, 0, got)
    with pytest.raises(TrainingDiverged) as err:  # fit raises where the sweep marked divergence
        solo(base, results.hp[1], epochs=3, seed=seeds[1], patience=None)
    assert err.value.epoch == results.histories[1]["epoch"][-1]
    assert len(results.histories[2]["epoch"]) == 3
    assert all(np.isfinite(a).all() for a in jax.tree.leaves(results.params))


def test_several_epochs_per_call_give_the_same_sweep(sweep):
    chunked = run_sweep(  # chunks of epochs 0-3 and 4-7, where epochs 6 and 7 change nothing
        CONFIGS, DATA, trainer=BN_DROPOUT, epochs=EPOCHS, patience=PATIENCE, seed=SEED,
        epochs_per_call=4,
    )  # fmt: skip
    assert chunked.status == sweep.status and chunked.histories == sweep.histories
    for a, b in zip(jax.tree.leaves(chunked.params), jax.tree.leaves(sweep.params), strict=True):
        np.testing.assert_array_equal(a, b)


def test_structural_values_rebuild_the_trainer():
    base = Trainer(MLP((2, 8, 2)), batch_size=32)
    assert trainer_for(base, {"hidden_units": 4, "num_layers": 3}).model.sizes == (2, 4, 4, 4, 2)
    assert trainer_for(base, {"hidden_units": (6, 3)}).model.sizes == (2, 6, 3, 2)
    assert trainer_for(base, {"num_layers": 2}).model.sizes == (2, 8, 8, 2)
    changed = trainer_for(base, {"optimizer": "rmsprop", "batch_size": 16, "batch_norm": True})
    assert (changed.optimizer, changed.batch_size, changed.model.batch_norm) == (
        "rmsprop",
        16,
        True,
    )
    assert engine.split_config({"learning_rate": 0.1, "hidden_units": 4}) == (
        {"hidden_units": 4},
        {"learning_rate": 0.1},
    )
    with pytest.raises(ValueError, match="disagrees"):
        trainer_for(base, {"hidden_units": (6, 3), "num_layers": 3})


@pytest.fixture
def nothing_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before the input was checked")

    monkeypatch.setattr(engine, "compiled_epochs", boom)
    monkeypatch.setattr(buckets, "run_init_members", boom)


@pytest.mark.parametrize(
    ("configs", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, r"number of configs\) must be >= 1"),
        ({}, {}, ValueError, "search space is empty"),
        (Space(learning_rate=LogUniform(1e-3, 1e-1)), {}, ValueError, "needs n"),
        (Space(learning_rate=LogUniform(1e-3, 1e-1)), {"n": 0}, ValueError, ">= 1"),
        ([{"learning_rate": -1.0}], {}, ValueError, "config 0 .*learning_rate"),
        ([{"keep_prob": 1.5}], {}, ValueError, "keep_prob must lie in"),
        ([{"b1": 1.0}], {}, ValueError, "b1 must lie in"),
        ([{"lr": 0.1}], {}, ValueError, "unknown hyperparameter"),
        ([{"optimizer": "lbfgs"}], {}, ValueError, "unknown optimizer"),
        ([{"hidden_units": 0}], {}, ValueError, "sizes must be"),
        ([{"batch_size": 0}], {}, ValueError, "batch_size must be"),
        (GOOD, {"epochs": 0}, ValueError, "epochs must be a positive"),
        (GOOD, {"epochs_per_call": 0}, ValueError, "epochs_per_call"),
        (GOOD, {"patience": 0}, ValueError, "patience must be >= 1"),
        (GOOD, {"monitor": "f1"}, ValueError, "monitor must be one of"),
        (GOOD, {"seeds": [1, 2]}, ValueError, "one seed per config"),
        (GOOD, {"seed": -1}, ValueError, "non-negative"),
        (GOOD, {"hp": {"optimizer": "sgd"}}, ValueError, "continuous hyperparameters only"),
        (GOOD, {"data": (DATA.x_train, DATA.y_train)}, TypeError, "x_train, y_train, x_val"),
        (GOOD, {"data": (DATA.x_train[:, :1], DATA.y_train, DATA.x_val, DATA.y_val)},
         ValueError, "features"),
        (GOOD, {"trainer": "adam"}, TypeError, "trainer must be"),
        ("lr", {}, TypeError, "space_or_configs"),
        (["lr"], {}, TypeError, "a config must be a dict"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_before_compiling(nothing_compiles, configs, kwargs, error, message):
    kwargs = {"data": DATA, "trainer": BASE, **kwargs}
    data = kwargs.pop("data")
    with pytest.raises(error, match=message):
        run_sweep(configs, data, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eta": 1}, "eta must be an integer >= 2"),
        ({"min_epochs": 5, "max_epochs": 2}, "min_epochs"),
        ({"min_epochs": 0}, "min_epochs must be a positive"),
    ],
)
def test_successive_halving_bad_input(nothing_compiles, kwargs, message):
    kwargs = {"min_epochs": 1, "max_epochs": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        successive_halving(GOOD, DATA, trainer=BASE, **kwargs)


def test_plot_needs_a_learning_rate_or_beta(sweep, tmp_path):
    sweep_without = engine.SweepResults(
        **{**sweep.__dict__, "configs": [{"keep_prob": c["keep_prob"]} for c in CONFIGS]}
    )
    with pytest.raises(ValueError, match="learning_rate or beta"):
        plot_sweep(sweep_without, tmp_path / "x.png")
    assert not os.listdir(tmp_path)
