"""Validated once: the boundary (the CLI, ``fit``, ``run_sweep`` and each strategy) checks the
user's input into a frozen setup, and nothing inside checks it again (issue 24).

The hyperparameter checks are counted by their code objects under ``sys.setprofile``, so a call
counts however the function was imported (``from jaxdl.hyperparams import check as ...``)."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections import Counter

import numpy as np
import pytest

from jaxdl import cli, hyperparams
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, hyperband, run_sweep, search, successive_halving, tpe_search
from jaxdl.sweep import options as sweep_options_module
from jaxdl.sweep.options import SweepOptions, sweep_options
from jaxdl.train import FitOptions, FitSetup, Trainer, fit, prepare_fit, run_fit

COUNTED = {hyperparams.check.__code__: "check", hyperparams.check_readers.__code__: "readers"}

rng = np.random.default_rng(0)
X = rng.normal(size=(48, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
DATA = (X[:36], Y[:36], X[36:], Y[36:])


def counted(run):
    """``run()`` and how many times each hyperparameter check ran in it."""
    counts: Counter[str] = Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in COUNTED:
            counts[COUNTED[frame.f_code]] += 1

    sys.setprofile(profile)
    try:
        value = run()
    finally:
        sys.setprofile(None)
    return value, counts


def test_jaxdl_train_checks_the_hyperparameters_once(tmp_path, capsys):
    # before: check 3 times (the CLI, fit's check_for, trainer_hyperparams), readers twice
    argv = ["train", "--dataset", "moons", "--data-size", "60", "--hidden", "4",
            "--batch-size", "16", "--epochs", "1", "--optimizer", "momentum", "--lr", "0.1",
            "--beta", "0.8", "--no-plots", "--out", str(tmp_path)]  # fmt: skip
    code, counts = counted(lambda: cli.main(argv))
    assert code == 0, capsys.readouterr().err
    assert counts == {"check": 1, "readers": 1}


def test_fit_checks_the_hyperparameters_once():
    trainer = Trainer(MLP((2, 4, 2)), optimizer="momentum")
    result, counts = counted(lambda: fit(trainer, X, Y, hp={"learning_rate": 0.1, "beta": 0.8},
                                         epochs=1, progress=False))  # fmt: skip
    assert result.epochs_run == 1
    assert counts == {"check": 1, "readers": 1}  # before: check twice


def test_checked_values_are_not_checked_again():
    checked = hyperparams.check({"learning_rate": 0.1})
    assert isinstance(checked, hyperparams.Checked) and hyperparams.check(checked) is checked
    trainer = Trainer(MLP((2, 1)))
    _, counts = counted(lambda: prepare_fit(trainer, X, Y, hp=checked, epochs=1))
    assert counts == {"readers": 1}
    with pytest.raises(ValueError, match="not read by optimizer 'sgd'"):  # readers: per trainer
        prepare_fit(Trainer(MLP((2, 1)), optimizer="sgd"), X, Y,
                    hp=hyperparams.check({"beta": 0.9}))  # fmt: skip


def test_prepare_fit_freezes_a_setup_that_run_fit_trains_bit_identically():
    trainer = Trainer(MLP((2, 4, 2)), batch_size=16)
    kwargs = dict(validation=(X[36:], Y[36:]), hp={"learning_rate": 0.1, "l2": 0.01}, epochs=3,
                  seed=4, progress=False)  # fmt: skip
    setup = prepare_fit(trainer, X[:36], Y[:36], **kwargs)
    assert isinstance(setup, FitSetup) and isinstance(setup.options, FitOptions)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.options.epochs = 5  # type: ignore[misc]
    assert setup.options.monitor == "val_loss" and setup.options.mode == "min"
    assert set(setup.options.hp) >= {"learning_rate", "l2", "b1"}  # the defaults filled in
    assert setup.options.hp["l2"].dtype == np.float32
    a, b = run_fit(setup), fit(trainer, X[:36], Y[:36], **kwargs)
    assert a.history["loss"] == b.history["loss"] and a.best_epoch == b.best_epoch
    for u, v in zip(jax_leaves(a.params), jax_leaves(b.params), strict=True):
        np.testing.assert_array_equal(u, v)


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_with_logger_checks_the_logger():
    setup = prepare_fit(Trainer(MLP((2, 1))), X, Y, epochs=1)
    with pytest.raises(TypeError, match="logger"):
        setup.with_logger("metrics.jsonl")  # type: ignore[arg-type]


# -- sweeps ----------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", [run_sweep, successive_halving, hyperband, tpe_search, search])
def test_sweep_entry_points_take_explicit_keywords(entry):
    parameters = inspect.signature(entry).parameters.values()
    assert not [p for p in parameters if p.kind is p.VAR_KEYWORD]
    names = {p.name for p in parameters}
    assert {"hp", "seed", "patience", "monitor", "mesh", "checkpoint_dir", "resume"} <= names
    assert "patience" in (entry.__doc__ or "")  # the docstring lists them


def test_the_options_are_checked_once_per_search(monkeypatch):
    built = []

    def counting(*args, **kwargs):
        built.append(kwargs)
        return sweep_options(*args, **kwargs)

    for module in ("jaxdl.sweep.hyperband", "jaxdl.sweep.tpe"):  # the modules, not the functions
        monkeypatch.setattr(sys.modules[module], "sweep_options", counting)
    trainer = Trainer(MLP((2, 4, 2)))
    space = {"learning_rate": LogUniform(1e-3, 1.0)}
    results = hyperband(space, DATA, trainer=trainer, max_epochs=2, eta=2)
    assert results.groups.count("bracket 1") == 2 and len(built) == 1  # 2 brackets, 1 check
    tpe_search(space, DATA, trainer=trainer, n=2, rounds=2, epochs=1)
    assert len(built) == 2  # 2 rounds, 1 check


def test_sweep_options_are_frozen_and_resolved():
    options = sweep_options(Trainer(MLP((2, 1))), epochs=3, monitor="val_accuracy")
    assert isinstance(options, SweepOptions)
    assert options.mode == "max" and options.stopper.patience == sweep_options_module.NEVER
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.epochs = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.hp["learning_rate"] = 0.1  # type: ignore[index]


def test_search_names_the_sweep_options_pbt_does_not_read():
    with pytest.raises(ValueError, match=r"'pbt' does not read \['min_delta', 'patience'\]"):
        search({"learning_rate": LogUniform(1e-3, 1.0)}, DATA, trainer=Trainer(MLP((2, 1))),
               strategy="pbt", patience=2, min_delta=0.1)  # fmt: skip


def test_a_sweep_checks_each_config_once():
    configs = [{"learning_rate": lr} for lr in (0.3, 0.1, 0.03)]
    results, counts = counted(lambda: run_sweep(configs, DATA, trainer=Trainer(MLP((2, 4, 2))),
                                                epochs=1, hp={"l2": 0.01}))  # fmt: skip
    assert results.status == ["ok"] * 3
    assert counts == {"check": 3, "readers": 3}  # before: check 6 times (twice a config)
