"""``jaxdl sweep`` with a space that chooses the optimizer: configs that differ only in optimizer
kind train in ONE compiled epoch program (``optim.switch``), every row equals its config trained
alone with its own optimizer by name (``fit``), and the table, ``sweep.json``, the saved model
and an Optuna study name each member's own optimizer. Resuming a sweep checkpointed with one
program per kind still works."""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import io
import json

import jax
import numpy as np
import pytest

import jaxdl
from jaxdl.cli import build_parser, main
from jaxdl.cli.build import build_model, build_trainer, load_data
from jaxdl.cli.sweep import one_program
from jaxdl.early_stopping import EarlyStopping
from jaxdl.nn import MLP
from jaxdl.optim import OptimizerSwitch
from jaxdl.sweep import Choice, LogUniform, OneMinusLogUniform
from jaxdl.train import Trainer

LOWERING = "/jax/core/compile/jaxpr_to_mlir_module_duration"  # once per program built
EPOCH_PROGRAM = "jit(local)"  # jaxdl.sweep.loop.compiled_epochs: a bucket's scanned epochs
SPACE = ('learning_rate = { distribution = "log_uniform", low = 1e-3, high = 0.3 }\n'
         'optimizer = { distribution = "choice", options = ["momentum", "adam"] }\n')
EPOCHS = 3
RTOL, ATOL = 2e-5, 2e-6  # float32 round-off over a few epochs (both kinds computed, one kept)


def sweep_args(tmp, hidden, *more):
    """A small sweep; ``hidden`` is the test's own width, so no other test's compiled program
    can be reused in this process and every program it needs is built (and counted) here."""
    space = tmp / "space.toml"
    space.write_text(SPACE)
    return ["sweep", "--dataset", "moons", "--data-size", "240", "--space", str(space),
            "--epochs", str(EPOCHS), "--hidden", str(hidden), "--batch-size", "32",
            "--no-folds", "--no-plots", "--no-compile-cache", *more]


def run_counted(argv):
    """``main(argv)`` -> (exit status, stdout, {program name: times built})."""
    built = collections.Counter()

    def listen(event, seconds, **kw):
        if event == LOWERING:
            built[kw.get("fun_name")] += 1

    out = io.StringIO()
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        with contextlib.redirect_stdout(out):
            code = main(argv)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return code, out.getvalue(), built


def table(out):
    with open(out / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def solo_fit(tmp, hidden, optimizer, learning_rate):
    """The config trained alone by ``fit`` with its optimizer BY NAME, on the data and model the
    command builds (the best epoch's parameters kept, as a sweep keeps them)."""
    args = build_parser().parse_args(sweep_args(tmp, hidden, "--out", str(tmp / "oracle")))
    data = load_data(args)
    trainer = build_trainer(args, build_model(args, data, dropout=False), None, data.task)
    trainer = dataclasses.replace(trainer, optimizer=optimizer)
    never = EarlyStopping(2**30, 0.0, "val_loss", "min")
    result = jaxdl.fit(trainer, data.x_train, data.y_train, validation=(data.x_val, data.y_val),
                       hp={"learning_rate": learning_rate}, epochs=EPOCHS, seed=0,
                       early_stopping=never, progress=False)
    return result, trainer, data


@pytest.fixture(scope="module")
def switched(tmp_path_factory):
    """One CLI sweep of 6 configs over momentum | adam, the best saved."""
    tmp = tmp_path_factory.mktemp("switch")
    out = tmp / "out"
    code, stdout, built = run_counted([*sweep_args(tmp, 7, "--configs", "6"), "--out", str(out),
                                       "--save", str(tmp / "best")])
    assert code == 0, stdout
    return tmp, out, stdout, built


def test_both_kinds_train_in_one_compiled_epoch_program(switched):
    _, out, stdout, built = switched
    kinds = {row["optimizer"] for row in table(out)}
    assert kinds == {"momentum", "adam"}  # both drawn: one program per kind would build two
    assert built[EPOCH_PROGRAM] == 1, built
    assert built["jit(_init_members)"] == 1, built  # one bucket's optimizer states
    assert "optimizers momentum | adam" in stdout


def test_each_row_equals_its_config_fit_alone_with_its_own_optimizer(switched):
    tmp, out, _, _ = switched
    logged = collections.defaultdict(list)
    for line in (out / "metrics.jsonl").read_text().splitlines():
        entry = json.loads(line)
        logged[entry["member"]].append(entry)
    rows = table(out)
    assert len(rows) == 6
    for row in rows:
        i, name, lr = int(row["config"]), row["optimizer"], float(row["learning_rate"])
        solo, _, _ = solo_fit(tmp, 7, name, lr)
        for key in ("loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose([e[key] for e in logged[i]], solo.history[key],
                                       rtol=RTOL, atol=ATOL)
        assert int(row["best_epoch"]) == solo.best_epoch
        assert float(row["val_loss"]) == pytest.approx(solo.history["val_loss"][solo.best_epoch],
                                                       rel=RTOL, abs=ATOL)


def test_table_json_and_saved_model_name_the_members_own_optimizer(switched):
    tmp, out, stdout, _ = switched
    rows = table(out)
    document = json.loads((out / "sweep.json").read_text())
    assert [r["optimizer"] for r in document["rows"]] == [r["optimizer"] for r in rows]
    assert "switch" not in (out / "sweep.json").read_text().lower()
    assert "optimizer_index" not in (out / "sweep.json").read_text()
    best = rows[0]
    assert f"best config {best['config']} by val_loss" in stdout
    manifest = json.loads((tmp / "best" / "manifest.json").read_text())
    hp = manifest["hyperparameters"]
    assert hp["optimizer"] == best["optimizer"] and "optimizer_index" not in hp
    # the saved model predicts as the config fit alone with that optimizer, to round-off
    solo, trainer, data = solo_fit(tmp, 7, best["optimizer"], float(best["learning_rate"]))
    jaxdl.save_model(tmp / "solo", trainer.model, solo.params, solo.model_state, data=data)
    loaded, alone = jaxdl.load_model(tmp / "best"), jaxdl.load_model(tmp / "solo")
    assert loaded.model == alone.model
    np.testing.assert_allclose(loaded.predict(data.x_test), alone.predict(data.x_test),
                               rtol=RTOL, atol=ATOL)


def test_the_switch_only_where_every_kind_reads_the_searched_and_fixed_names():
    base = Trainer(MLP((2, 1)), optimizer="sgd")
    both = {"learning_rate": LogUniform(1e-3, 1.0), "optimizer": Choice(["momentum", "adam"])}
    chosen = one_program(base, both, {}).optimizer
    assert isinstance(chosen, OptimizerSwitch) and chosen.names == ("momentum", "adam")
    beta = {**both, "beta": OneMinusLogUniform(0.8, 0.99)}
    assert one_program(base, beta, {}) is base  # Adam does not read beta: refused as before
    assert one_program(base, both, {"beta": 0.9}) is base  # --beta 0.9 likewise
    shared = {"beta": OneMinusLogUniform(0.8, 0.99),
              "optimizer": Choice(["momentum", "rmsprop", "nesterov"])}
    assert one_program(base, shared, {}).optimizer.names == ("momentum", "rmsprop", "nesterov")
    for space in ({"learning_rate": LogUniform(1e-3, 1.0)}, {"optimizer": Choice(["adam"])},
                  {"optimizer": Choice(["adam", "lion"])}, {"hidden_units": Choice([4, 8])}):
        assert one_program(base, space, {}) is base


def test_a_name_some_kinds_do_not_read_is_refused_naming_the_fix(tmp_path, capsys):
    space = tmp_path / "beta.toml"
    space.write_text(SPACE + 'beta = { distribution = "one_minus_log_uniform", low = 0.8, '
                     'high = 0.99 }\n')
    argv = [*sweep_args(tmp_path, 5, "--configs", "6"), "--out", str(tmp_path / "out")]
    argv[argv.index("--space") + 1] = str(space)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "jaxdl: error: config" in err and "beta is not read by optimizer 'adam'" in err
    assert not (tmp_path / "out" / "sweep.csv").exists()


@pytest.mark.slow
def test_resume_of_a_sweep_checkpointed_with_one_program_per_kind(tmp_path, monkeypatch):
    args = sweep_args(tmp_path, 6, "--configs", "4", "--checkpoint-dir", str(tmp_path / "ck"))
    with monkeypatch.context() as patch:  # the command before one_program: a program per kind
        patch.setattr("jaxdl.cli.sweep.one_program", lambda trainer, space, fixed: trainer)
        code, _, per_kind = run_counted([*args, "--out", str(tmp_path / "before")])
    assert code == 0 and per_kind[EPOCH_PROGRAM] == 2, per_kind
    code, stdout, _ = run_counted([*args, "--out", str(tmp_path / "after"), "--resume"])
    assert code == 0, stdout
    assert "resumed a sweep started with one compiled program per optimizer kind" in stdout
    assert table(tmp_path / "after") == table(tmp_path / "before")
    # a sweep checkpointed with the switch resumes with it (its optimizer states restored)
    again = sweep_args(tmp_path, 6, "--configs", "4", "--checkpoint-dir", str(tmp_path / "ck2"))
    code, _, built = run_counted([*again, "--out", str(tmp_path / "switch")])
    assert code == 0 and built[EPOCH_PROGRAM] == 1, built
    code, stdout, _ = run_counted([*again, "--out", str(tmp_path / "resumed"), "--resume"])
    assert code == 0 and "one compiled program per optimizer kind" not in stdout
    assert table(tmp_path / "resumed") == table(tmp_path / "switch")
    for plain, switched in zip(table(tmp_path / "before"), table(tmp_path / "switch"),
                               strict=True):
        assert plain["optimizer"] == switched["optimizer"]
        assert float(plain["val_loss"]) == pytest.approx(float(switched["val_loss"]),
                                                         rel=RTOL, abs=ATOL)


def test_a_switch_sweep_refuses_a_per_kind_checkpoint_by_its_fingerprint(tmp_path):
    from jaxdl.checkpoint import CheckpointError
    from jaxdl.data import datasets
    from jaxdl.optim import switch
    from jaxdl.sweep import run_sweep

    data = datasets.load("moons", n=80, seed=2)
    configs = [{"optimizer": "momentum", "learning_rate": 0.1},
               {"optimizer": "adam", "learning_rate": 0.01}]
    plain = Trainer(MLP((2, 3, 1)), optimizer="sgd", batch_size=16)
    run_sweep(configs, data, trainer=plain, epochs=1, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="different trainer;"):
        run_sweep(configs, data, trainer=dataclasses.replace(plain, optimizer=switch(
            "momentum", "adam")), epochs=1, checkpoint_dir=tmp_path, resume=True)
    resumed = run_sweep(configs, data, trainer=plain, epochs=1, checkpoint_dir=tmp_path,
                        resume=True)  # the plain fingerprint is what it was
    assert [t.optimizer for t in resumed.trainers] == ["momentum", "adam"]


@pytest.mark.slow
def test_an_optuna_study_on_a_journal_trains_both_kinds_in_one_program(tmp_path):
    optuna = pytest.importorskip("optuna")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = str(tmp_path / "study.log")
    argv = [*sweep_args(tmp_path, 9, "--configs", "6"), "--strategy", "optuna",
            "--sampler", "random", "--pruner", "none", "--trials-per-batch", "6",
            "--storage", storage, "--study-name", "kinds", "--out", str(tmp_path / "out")]
    code, stdout, built = run_counted(argv)
    assert code == 0, stdout
    study = optuna.load_study(study_name="kinds",
                              storage=JournalStorage(JournalFileBackend(storage)))
    names = ["momentum", "adam"]
    kinds = {names[t.params["optimizer"]] for t in study.trials}
    assert kinds == set(names) and built[EPOCH_PROGRAM] == 1, built
    rows = table(tmp_path / "out")
    assert len(rows) == len(study.trials) == 6
    for row in rows:  # the table's configs are the study's trials, in order
        trial = study.trials[int(row["config"])]
        assert row["optimizer"] == names[trial.params["optimizer"]]
        assert float(row["learning_rate"]) == pytest.approx(trial.params["learning_rate"])
        assert trial.value == pytest.approx(float(row["val_loss"]), rel=1e-6)
        solo, _, _ = solo_fit(tmp_path, 9, row["optimizer"], trial.params["learning_rate"])
        assert trial.value == pytest.approx(min(solo.history["val_loss"]), rel=RTOL, abs=ATOL)
