"""One home each for history keys, the best epoch and evaluation: jaxdl.history builds every
history (fit, the sweep's compiled epoch and host lists, PBT, lineage), the best epoch without
early stopping is the best by the monitor in fit, `jaxdl train` and sweeps alike, and
jaxdl.scoring is an old path of jaxdl.evaluation."""

from __future__ import annotations

import importlib
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from jaxdl import cli, evaluation, history
from jaxdl.nn import MLP
from jaxdl.sweep import Space, Uniform, population_based_training, run_sweep
from jaxdl.train import Trainer, fit

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(3)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
XV = RNG.normal(size=(40, 4)).astype(np.float32)
YV = (XV[:, 0] - XV[:, 2] > 0.3).astype(np.int32)


def test_history_keys_have_one_home():
    trainer = Trainer(MLP((4, 3)), metrics=["accuracy", "mse"])
    assert trainer.history_keys == history.history_keys(["accuracy", "mse"])
    assert history.HISTORY_KEYS == Trainer(MLP((4, 3))).history_keys
    # nothing else spells the val_ keys or the metric means out
    for path in ("train/fitting.py", "train/trainer.py", "sweep/loop.py", "sweep/engine.py",
                 "sweep/pbt.py", "sweep/lineage.py"):
        source = (ROOT / "jaxdl" / path).read_text()
        assert not re.search(r"""f["']val_\{""", source), path
        assert not re.search(r"""_mean["']""", source), path


def test_epoch_values_and_append_round_trip():
    h = {k: [] for k in history.history_keys(["mae"])}
    values = history.epoch_values({"loss": 1.0, "mae_mean": 2.0, "learning_rate": 0.5},
                                  {"loss": 3.0, "mae": 4.0}, ["mae"])
    history.append(h, 7, values)
    assert h == {"epoch": [7], "loss": [1.0], "mae": [2.0], "learning_rate": [0.5],
                 "val_loss": [3.0], "val_mae": [4.0]}
    history.append(h, 8, {**values, "learning_rate": float("nan")})
    assert "learning_rate" not in h and h["epoch"] == [7, 8]


def test_without_early_stopping_the_best_epoch_is_the_monitors_best_in_fit_and_sweeps():
    trainer = Trainer(MLP((4, 8, 2)), optimizer="sgd", batch_size=32)
    config = {"learning_rate": 2.0}  # large steps: val_loss is not monotone
    solo = fit(trainer, X, Y, validation=(XV, YV), hp=config, epochs=8, seed=2, progress=False)
    best = history.best_epoch(solo.history["val_loss"])
    assert solo.best_epoch == best and solo.epochs_run == 8
    swept = run_sweep([config], (X, Y, XV, YV), trainer=trainer, epochs=8, seed=2)
    assert swept.best_epoch == [best]
    assert swept.histories[0]["val_loss"] == pytest.approx(solo.history["val_loss"], rel=1e-5)
    assert swept.table[0]["best_epoch"] == best and swept.table[0]["epochs_run"] == 8
    assert best != 7, "the data should make the best epoch differ from the final one"


def test_pbt_best_epoch_is_the_monitors_best_since_the_last_copy():
    space = Space({"learning_rate": Uniform(0.5, 2.0)})
    res = population_based_training(space, (X, Y, XV, YV), trainer=Trainer(MLP((4, 2)),
                                    optimizer="sgd", batch_size=32), population=2, interval=2,
                                    epochs=4, seed=0)
    for i, h in enumerate(res.histories):
        since = res.since_epoch(i)
        values = h["val_loss"][since:]
        assert res.best_epoch[i] == since + history.best_epoch(values)


def test_jaxdl_train_reports_the_monitors_best_epoch_beside_the_final_one(tmp_path, capsys):
    code = cli.main(["train", "--data-size", "80", "--hidden", "4", "--batch-size", "16",
                     "--epochs", "6", "--lr", "0.5", "--no-plots", "--keep", "last",
                     "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0, out
    import json

    written = json.loads((tmp_path / "o" / "history.json").read_text())
    best = history.best_epoch(written["history"]["val_loss"])
    assert written["best_epoch"] == best
    assert f"at epoch {best} (epochs 0-5; final parameters kept)" in out


def test_scoring_is_an_old_path_of_evaluation():
    sys.modules.pop("jaxdl.scoring", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scoring = importlib.import_module("jaxdl.scoring")
    assert any(issubclass(w.category, DeprecationWarning) and "jaxdl.evaluation" in str(w.message)
               for w in caught)
    for name in ("evaluate_splits", "probability", "boundary", "inference_trainer"):
        assert getattr(scoring, name) is getattr(evaluation, name)


def test_evaluate_splits_is_the_trainers_evaluation():
    import jax

    model = MLP((4, 3, 2), batch_norm=True)
    params, state = model.init(jax.random.key(0))
    got = evaluation.evaluate_splits(model, params, state, {"val": (XV, YV)})["val"]
    logits, _ = model.apply(params, state, XV, train=False)
    want = evaluation.classification(np.asarray(logits), YV, 2)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert got["accuracy"] == pytest.approx(want["accuracy"])
