"""No silent no-ops: a hyperparameter nothing reads is an error in fit, sweeps and the CLI,
raised on the host before anything compiles; and the table of who reads what matches the code."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import cli, optim, train
from jaxdl.data import datasets
from jaxdl.hyperparams import DEFAULTS, OPTIMIZER, TABLE, check, check_for, check_readers, reads
from jaxdl.nn import MLP
from jaxdl.sweep import OneMinusLogUniform, Space, run_sweep
from jaxdl.train import Trainer, fit, fitting

DATA = datasets.load("moons", n=60, seed=0)
X, Y = DATA.x_train, DATA.y_train
MODEL = MLP((2, 4, 1))


@pytest.fixture
def nothing_compiles(monkeypatch):
    """Fail the test if fit gets as far as initializing or running an epoch."""

    def compiled(*args, **kwargs):
        raise AssertionError("a program was compiled before the bad setting was rejected")

    monkeypatch.setattr(fitting, "run_init", compiled)
    monkeypatch.setattr(fitting, "run_epoch", compiled)


def fit_error(trainer, hp):
    with pytest.raises(ValueError) as info:
        fit(trainer, X, Y, hp=hp, epochs=1, progress=False)
    return str(info.value)


# -- fit ----------------------------------------------------------------------------------------
def test_beta_with_adam(nothing_compiles):
    message = fit_error(Trainer(MODEL, optimizer="adam"), {"beta": 0.95})
    assert "Adam uses b1/b2" in message and "beta is momentum/Nesterov/RMSprop's" in message


def test_b1_with_momentum(nothing_compiles):
    message = fit_error(Trainer(MODEL, optimizer="momentum"), {"b1": 0.95})
    assert "'momentum'" in message and "b1 is Adam/AdamW/Nadam's" in message


def test_eps_with_sgd(nothing_compiles):
    message = fit_error(Trainer(MODEL, optimizer="sgd"), {"eps": 1e-6})
    assert "SGD uses only learning_rate" in message


def test_weight_decay_with_adam(nothing_compiles):
    assert "AdamW's" in fit_error(Trainer(MODEL, optimizer="adam"), {"weight_decay": 1e-3})


def test_keep_prob_without_dropout(nothing_compiles):
    message = fit_error(Trainer(MLP((2, 4, 1), dropout=False)), {"keep_prob": 0.5})
    assert "read by dropout" in message and "dropout=True" in message


def test_bn_momentum_without_batch_norm(nothing_compiles):
    message = fit_error(Trainer(MODEL), {"bn_momentum": 0.99})
    assert "batch norm" in message and "batch_norm=True" in message


def test_decay_rate_with_constant_schedule(nothing_compiles):
    message = fit_error(Trainer(MODEL, schedule="constant"), {"decay_rate": 0.1})
    assert "schedule 'constant'" in message and "inverse_time" in message


def test_schedule_without_decay_rate_is_a_host_error(nothing_compiles):
    message = fit_error(Trainer(MODEL, schedule="inverse_time"), {})
    assert "schedule 'inverse_time' needs the hyperparameter decay_rate" in message


def test_exponential_decay_rate_range(nothing_compiles):
    message = fit_error(Trainer(MODEL, schedule="exponential"), {"decay_rate": 1.5})
    assert "(0.0, 1.0]" in message


def test_values_checked_as_float32(nothing_compiles):
    assert "rounds it to 1.0" in fit_error(Trainer(MODEL, optimizer="momentum"),
                                           {"beta": 1 - 1e-9})
    assert "rounds it to 0.0" in fit_error(Trainer(MODEL), {"learning_rate": 1e-50})
    assert "rounds it to inf" in fit_error(Trainer(MODEL), {"learning_rate": 1e39})


def test_read_names_are_accepted():
    fit(Trainer(MLP((2, 4, 1), dropout=True, batch_norm=True), optimizer="momentum",
                schedule="exponential"),
        X, Y, hp={"beta": 0.8, "keep_prob": 0.9, "bn_momentum": 0.5, "decay_rate": 0.9,
                  "l2": 0.1}, epochs=1, progress=False)


# -- the rule for what cannot be checked --------------------------------------------------------
class UsersModel:
    """A model without ``hyperparameters``: it may read keep_prob or bn_momentum."""


def test_models_without_hyperparameters_are_not_checked():
    check_readers({"keep_prob", "bn_momentum"}, "sgd", "constant", UsersModel())


def test_users_optimizer_and_schedule_are_not_checked():
    check_readers({"beta", "b1", "weight_decay"}, object(), "constant", MODEL)
    check_readers({"decay_rate"}, "sgd", lambda count: 0.1, MODEL)


def test_declared_hyperparameters_are_checked():
    model = UsersModel()
    model.hyperparameters = frozenset({"keep_prob"})
    check_readers({"keep_prob"}, "sgd", "constant", model)
    with pytest.raises(ValueError, match="batch norm"):
        check_readers({"bn_momentum"}, "sgd", "constant", model)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        check_readers({"lr"}, "sgd", "constant", MODEL)


# -- sweeps -------------------------------------------------------------------------------------
def test_sweep_config_with_beta_under_adam():
    with pytest.raises(ValueError, match=r"config 1 .*Adam uses b1/b2"):
        run_sweep([{"learning_rate": 0.1}, {"beta": 0.9}], DATA,
                  trainer=Trainer(MODEL, optimizer="adam"), epochs=1)


def test_sweep_space_over_beta_under_adam():
    with pytest.raises(ValueError, match="beta is momentum/Nesterov/RMSprop's"):
        run_sweep(Space(beta=OneMinusLogUniform(0.9, 0.99)), DATA,
                  trainer=Trainer(MODEL, optimizer="adam"), n=4, epochs=1)


def test_sweep_shared_keep_prob_without_dropout():
    with pytest.raises(ValueError, match="read by dropout"):
        run_sweep([{"learning_rate": 0.1}], DATA, trainer=Trainer(MODEL), hp={"keep_prob": 0.5},
                  epochs=1)


def test_sweep_structural_change_is_checked_per_member():
    # Member 0 turns dropout on, so its keep_prob is read; member 1 has no dropout.
    configs = [{"dropout": True, "keep_prob": 0.5}, {"dropout": False, "keep_prob": 0.5}]
    with pytest.raises(ValueError, match="config 1"):
        run_sweep(configs, DATA, trainer=Trainer(MODEL), epochs=1)


def test_sweep_results_hp_refit(tmp_path):
    results = run_sweep([{"learning_rate": 0.1, "beta": 0.8}], DATA,
                        trainer=Trainer(MODEL, optimizer="momentum"), epochs=1)
    assert results.hp == [{"learning_rate": pytest.approx(0.1), "beta": pytest.approx(0.8)}]
    results.retrain(DATA)  # the set names only: fit accepts them


# -- the CLI ------------------------------------------------------------------------------------
TINY = ["--data-size", "60", "--hidden", "4", "--batch-size", "16", "--epochs", "1"]


@pytest.mark.parametrize(
    "argv,words",
    [
        (["train", "--optimizer", "adam", "--beta", "0.95"], ["Adam uses b1/b2"]),
        (["sweep", "--optimizer", "adam", "--beta", "0.9:0.99"], ["momentum/Nesterov/RMSprop's"]),
        (["sweep", "--optimizer", "momentum", "--lr", "1e-3:1", "--b2", "0.99"], ["b2"]),
        (["train", "--decay-rate", "0.1"], ["schedule 'constant'"]),
        (["train", "--schedule", "inverse_time"], ["needs the hyperparameter decay_rate"]),
    ],
)
def test_cli_one_line_errors(tmp_path, capsys, argv, words):
    code = cli.main([*argv, *TINY, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert all(w in err[0] for w in words), err


def test_cli_keep_prob_turns_dropout_on(tmp_path, capsys):
    code = cli.main(["train", *TINY, "--keep-prob", "1.0", "--no-plots", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert "dropout" in capsys.readouterr().out


# -- the table matches the code -----------------------------------------------------------------
def _updates(optimizer: str, hp: dict) -> np.ndarray:
    """Three updates of ``optimizer`` on fixed gradients."""
    params = {"w": jnp.array([1.0, -2.0, 3.0])}
    transform = optim.from_name(optimizer, hp)
    state = transform.init(params)
    out = []
    for g in ([0.5, -1.0, 2.0], [0.1, 0.3, -0.2], [1.0, 1.0, 1.0]):
        updates, state = transform.update({"w": jnp.array(g)}, state, params)
        params = optim.apply_updates(params, updates)
        out.append(np.asarray(updates["w"]))
    return np.stack(out)


@pytest.mark.parametrize("optimizer", optim.OPTIMIZERS)
def test_optimizer_readers_match_from_name(optimizer):
    base = _updates(optimizer, {})
    for name, p in TABLE.items():
        if p.kind != OPTIMIZER:
            continue
        changed = not np.allclose(_updates(optimizer, {name: 0.5}), base)
        assert changed == (name in reads(optimizer)), (optimizer, name)


@pytest.mark.parametrize("schedule", train.SCHEDULES)
def test_schedule_readers_match_trainer(schedule):
    trainer = Trainer(MODEL, schedule=schedule)

    def rate(decay_rate):
        return float(trainer.learning_rate({"learning_rate": 0.1, "decay_rate": decay_rate}, 1)(5))

    assert (rate(0.5) != rate(0.25)) == (schedule in TABLE["decay_rate"].readers)


@pytest.mark.parametrize("dropout", [False, True])
def test_model_readers_match_mlp(dropout):
    model = MLP((2, 8, 1), dropout=dropout)
    params, state = model.init(jax.random.key(0))

    def out(keep_prob):
        logits, _ = model.apply(params, state, jnp.ones((4, 2)), train=True,
                                key=jax.random.key(1), hp={"keep_prob": keep_prob})
        return np.asarray(logits)

    assert (not np.allclose(out(0.5), out(1.0))) == ("keep_prob" in model.hyperparameters)


def test_optimizer_defaults_have_one_home():
    assert dict(optim.DEFAULTS) == {
        n: DEFAULTS[n] for n in optim.DEFAULTS
    }
    assert set(optim.DEFAULTS) == {n for o in optim.OPTIMIZERS for n in reads(o)}


def test_check_for_uses_the_trainer():
    check_for(Trainer(MODEL, optimizer="rmsprop"), {"beta": 0.9, "eps": 1e-7})
    with pytest.raises(ValueError, match="RMSprop"):
        check_for(Trainer(MODEL, optimizer="rmsprop"), {"b1": 0.9})
    check({"l2": np.array([0.0, 0.1])})
