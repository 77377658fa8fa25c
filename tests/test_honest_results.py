"""Every number the library reports is the one that produced it: a PBT row's scores, its
hyperparameters and its kept parameters belong together (and its saved model says which schedule
made it), a "best" names the metric it is ranked by, ``fit``'s best epoch is the monitored best
with or without early stopping, and its history holds each epoch's wall time and no NaN
learning rates."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

from jaxdl import cli, logs, saved
from jaxdl.early_stopping import EarlyStopping
from jaxdl.nn import MLP
from jaxdl.sweep import (
    LogUniform,
    Space,
    population_based_training,
    run_sweep,
    successive_halving,
)
from jaxdl.sweep.lineage import replay
from jaxdl.train import Trainer, fit, trainer_hyperparams

rng = np.random.default_rng(0)  # two overlapping blobs: 96 train, 32 validation samples
Y = rng.integers(0, 2, 128).astype(np.int32)
X = (rng.normal(size=(128, 2)) + 1.5 * Y[:, None]).astype(np.float32)
DATA = (X[:96], Y[:96], X[96:], Y[96:])
TRAINER = Trainer(MLP((2, 7, 2)), batch_size=32)
# Wide rates, resampled at every exploit: an exploited member often does worse than the state it
# copied, which is where a copied best score would show beside the copier's new values.
PBT = dict(trainer=TRAINER, population=4, interval=1, epochs=4, seed=1, resample_prob=1.0)
SPACE = Space(learning_rate=LogUniform(1e-3, 3.0))


@pytest.fixture(scope="module")
def pbt():
    return population_based_training(SPACE, DATA, **PBT)


def _in_force(results, member: int, epoch: int) -> dict:
    """The hyperparameters member's lineage trained epoch ``epoch`` with (from the raw record)."""
    t = epoch // results.interval
    slot = member
    for step in range(len(results.schedules_by_slot) - 2, t - 1, -1):
        slot = results.parents[step][slot]
    return results.schedules_by_slot[t][slot]


def test_pbt_row_hyperparameters_are_those_its_best_epoch_trained_with(pbt):
    assert any(p != list(range(4)) for p in pbt.parents)  # someone copied another
    for row in pbt.table:
        i, epoch = row["config"], row["best_epoch"]
        assert epoch >= 0
        assert _in_force(pbt, i, epoch) == pytest.approx(
            {k: row[k] for k in SPACE}, rel=1e-12), row


def test_pbt_row_is_its_own_best_since_its_last_exploit(pbt):
    for row in pbt.table:
        i = row["config"]
        since, history = row["since_epoch"], pbt.histories[i]
        own = history["val_loss"][since:]
        assert since <= row["best_epoch"] and row["val_loss"] == min(own)
        assert row["best_epoch"] == since + int(np.argmin(own))
        # before `since` its history is the lineage's: another member's state
        if since:
            assert pbt.lineage(i)[since // pbt.interval - 1] == row["copied_from"] != i
    scores = [r["val_loss"] for r in pbt.table]
    assert len(set(scores)) == len(scores)  # no score copied into several rows


def test_pbt_kept_parameters_give_the_reported_scores_and_replay(pbt):
    for row in pbt.table:
        i = row["config"]
        hp = trainer_hyperparams(TRAINER, pbt.hp[i])
        ts = TRAINER.init(jax.random.key(0), hp)._replace(
            params=pbt.params[i], model_state=pbt.model_state[i])
        val = TRAINER.evaluate(ts, hp, DATA[2], DATA[3])
        assert float(val["loss"]) == pytest.approx(row["val_loss"], rel=1e-5)
        assert float(val["accuracy"]) == pytest.approx(row["val_accuracy"], abs=1e-6)
    best = pbt.best()["config"]
    info = pbt.provenance(best)
    assert info["schedule"] == pbt.schedule(best)[: len(info["schedule"])]
    assert info["lineage"] == pbt.lineage(best)[: len(info["schedule"])]
    # the recorded schedule alone, up to the best epoch, gives the kept weights
    got = replay(TRAINER, DATA, info["schedule"], info["interval"], info["best_epoch"] + 1,
                 info["seed"], pbt.stopper, since=info["since_epoch"])
    assert got.best_epoch == pbt.best_epoch[best]
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(pbt.params[best]), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_cli_pbt_save_best_records_the_schedule_and_its_score(tmp_path):
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    model_dir = tmp_path / "best"
    assert cli.main(["sweep", "--data", str(tmp_path / "d.npz"), "--lr", "0.001:3",
                     "--strategy", "pbt", "--configs", "4", "--interval", "1", "--epochs", "3",
                     "--hidden", "7", "--batch-size", "32", "--save-best", str(model_dir),
                     "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    report = json.load(open(tmp_path / "out" / "sweep.json"))
    best = report["rows"][0]
    model = saved.load_model(model_dir)
    training = model.manifest["hyperparameters"]
    assert training["learning_rate"] == pytest.approx(best["learning_rate"])
    assert training["best_epoch"] == best["best_epoch"] and training["ranked_by"] == "val_loss"
    info = training["pbt"]
    assert info == report["provenance"][best["config"]]
    assert info["schedule"][-1]["learning_rate"] == pytest.approx(best["learning_rate"])
    assert len(info["schedule"]) == best["best_epoch"] // info["interval"] + 1
    assert info["since_epoch"] == best["since_epoch"] <= best["best_epoch"]
    # the saved model, evaluated on the validation split, gives the reported score
    assert model.manifest["metrics"]["validation"]["loss"] == pytest.approx(
        best["val_loss"], rel=1e-5)
    assert math.isfinite(best["val_loss"])


# -- fit: the monitored best without early stopping, epoch times, known learning rates -------
def _fit(**kwargs):
    options = dict(validation=(DATA[2], DATA[3]), hp={"learning_rate": 0.3}, epochs=8,
                   progress=False)
    options.update(kwargs)
    trainer = options.pop("trainer", TRAINER)
    return fit(trainer, DATA[0], DATA[1], **options)


def test_fit_without_early_stopping_reports_the_monitored_best_and_keeps_the_final_params():
    result = _fit()
    val = result.history["val_loss"]
    assert result.monitor == "val_loss" and result.epochs_run == 8
    assert result.best_epoch == int(np.argmin(val)) != 7  # the best is not the last epoch here
    hp = trainer_hyperparams(TRAINER, {"learning_rate": 0.3})
    ts = TRAINER.init(jax.random.key(0), hp)._replace(params=result.params,
                                                      model_state=result.model_state)
    assert float(TRAINER.evaluate(ts, hp, DATA[2], DATA[3])["loss"]) == pytest.approx(
        val[-1], rel=1e-5)  # the final epoch's parameters
    no_validation = _fit(validation=None)
    assert no_validation.monitor == "loss"
    assert no_validation.best_epoch == int(np.argmin(no_validation.history["loss"]))


def test_sweeps_without_early_stopping_report_the_monitored_best():
    # successive halving: run_sweep's engine, plus a member pruned after 4 epochs
    results = successive_halving([{"learning_rate": 0.3}, {"learning_rate": 3.0}], DATA,
                                 trainer=TRAINER, min_epochs=4, max_epochs=8, eta=2)
    assert results.status[1] == "pruned" and results.epochs == [8, 4]
    for i, history in enumerate(results.histories):
        assert results.best_epoch[i] == int(np.argmin(history["val_loss"]))
    assert results.best_epoch[0] != 7  # lr 0.3 peaks before the end


def test_cli_train_prints_the_best_epoch_by_its_monitor_and_the_kept_params(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    out = tmp_path / "out"
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), "--hidden", "7",
                     "--batch-size", "32", "--lr", "0.3", "--epochs", "8", "--out", str(out),
                     "--no-plots", "--keep", "last", "--l2", "0"]) == 0  # overfits: no L2
    printed = capsys.readouterr().out
    report = json.load(open(out / "history.json"))
    val = report["history"]["val_loss"]
    best = int(np.argmin(val))
    assert best != 7, val  # the test needs a best before the last epoch
    assert f"best val_loss {val[best]:.4g} at epoch {best} (epochs 0-7; final parameters kept)" \
        in printed
    assert report["best_epoch"] == best and report["kept_epoch"] == 7
    assert report["monitor"] == "val_loss"
    assert report["final"]["validation"]["loss"] == pytest.approx(val[7], rel=1e-5)


def test_cli_train_keeps_the_best_epochs_params_by_default(tmp_path, capsys):
    # with a validation split and no --patience: every epoch trains, the best epoch's
    # parameters are kept, and the printed/written/saved figures are theirs
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    out = tmp_path / "out"
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), "--hidden", "7",
                     "--batch-size", "32", "--lr", "0.3", "--epochs", "8", "--out", str(out),
                     "--no-plots", "--save", str(tmp_path / "m"), "--l2", "0"]) == 0
    printed = capsys.readouterr().out
    report = json.load(open(out / "history.json"))
    val = report["history"]["val_loss"]
    best = int(np.argmin(val))
    assert best != 7, val
    assert report["epochs_run"] == 8 and not report["stopped_early"]
    assert f"at epoch {best} (epochs 0-7; best epoch's parameters kept)" in printed
    assert report["best_epoch"] == best and report["kept_epoch"] == best
    assert report["final"]["validation"]["loss"] == pytest.approx(val[best], rel=1e-5)
    assert saved.load_model(tmp_path / "m").manifest["hyperparameters"]["kept_epoch"] == best
    # --keep best needs something to rank by; --keep last with --patience contradicts it
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), "--val-fraction", "0",
                     "--keep", "best", "--out", str(tmp_path / "o2")]) == 2
    assert "--keep best" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(tmp_path / "d.npz"), "--patience", "2",
                     "--keep", "last", "--out", str(tmp_path / "o3")]) == 2
    assert "drop --keep last" in capsys.readouterr().err


def test_fit_history_has_epoch_times_that_are_not_a_metric():
    result = _fit(epochs=3)
    times = result.history["epoch_time"]
    assert len(times) == 3 and all(math.isfinite(t) and t > 0 for t in times)
    assert "epoch_time" not in TRAINER.monitors
    with pytest.raises(ValueError, match="monitor must be one of"):
        _fit(epochs=2, early_stopping=EarlyStopping(monitor="epoch_time", mode="min"))


def test_learning_rate_recorded_where_known_and_omitted_where_not(tmp_path):
    optax = pytest.importorskip("optax")
    ready = Trainer(MLP((2, 7, 2)), batch_size=32, optimizer=optax.adam(1e-2))
    logger = logs.JsonlLogger(tmp_path / "m.jsonl")
    result = _fit(trainer=ready, epochs=2, hp={}, logger=logger)
    logger.close()
    assert "learning_rate" not in result.history and len(result.history["loss"]) == 2
    records = logs.read_jsonl(tmp_path / "m.jsonl")
    assert len(records) == 2 and all("learning_rate" not in r for r in records)
    factory = Trainer(MLP((2, 7, 2)), batch_size=32,
                      optimizer=lambda hp: optax.adam(hp["learning_rate"]))
    known = _fit(trainer=factory, epochs=2, hp={"learning_rate": 0.02})
    assert known.history["learning_rate"] == pytest.approx([0.02, 0.02])
    swept = run_sweep([{}, {}], DATA, trainer=ready, epochs=2)
    assert all("learning_rate" not in h for h in swept.histories)
    assert all(len(h["val_loss"]) == 2 for h in swept.histories)


# -- the demo's "best" names its ranking metric -----------------------------------------------
def test_demo_sweep_best_is_labelled_with_its_ranking_metric(tmp_path):
    import csv

    from jaxdl.demo import format_table
    from jaxdl.demo import sweep as demo_sweep
    from jaxdl.demo.common import Context

    got = demo_sweep.run(Context(quick=True, seed=0, out=str(tmp_path), plots=True))
    ranked = got["ranked_by"]
    assert ranked == "val_loss"
    with open(tmp_path / "5_sweep.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] != "diverged"]
    top = min(rows, key=lambda r: float(r[ranked]))
    assert int(top["config"]) == got["best"]["config"]
    assert got["best"][ranked] == pytest.approx(float(top[ranked]), rel=1e-6)
    # the table's label, the note, the plot's title name the metric and show its best value
    label, note = got["runs"][0]["run"], got["runs"][0]["note"]
    assert label.startswith(f"best {ranked}: lr {float(top['learning_rate']):.2g} ")
    assert note.startswith(f"{ranked} {float(top[ranked]):.3f}")
    assert got["headline"].startswith(f"best {ranked} {float(top[ranked]):.3f} ")
    assert f"ranked by {ranked}" in got["setup"]
    assert [r["run"].split(":")[0] for r in got["runs"]] == [
        f"{k} {ranked}" for k in ("best", "2nd", "3rd", "worst")]
    assert (tmp_path / "5_sweep.png").read_bytes()[:4] == b"\x89PNG"
    table = format_table({"quick": True, "seed": 0, "seconds": 1.0, "experiments": [
        {"number": 5, "name": "sweep", "findings": [], "runs": got["runs"]}]})
    assert f"best {ranked}: " in table and "best:" not in table
