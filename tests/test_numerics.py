"""Divergence and numerics that do not lie: finite kept parameters, float32 hyperparameters,
label errors named as such, kinks in gradient checks, and the messages that leaked internals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import cli
from jaxdl.early_stopping import EarlyStopping
from jaxdl.gradcheck import check_mlp, gradcheck
from jaxdl.hyperparams import hyperparams
from jaxdl.nn import MLP
from jaxdl.train import Trainer, TrainingDiverged, fit

rng = np.random.default_rng(0)
X = rng.normal(size=(96, 3)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int32)
SGD = Trainer(MLP((3, 8, 2)), optimizer="sgd", batch_size=32)


def finite(tree):
    return all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize("lr, scale, usable", [(3e38, 1.0, True), (1e6, 1e3, False)])
def test_divergence_keeps_finite_parameters_and_says_when_unusable(lr, scale, usable):
    with pytest.raises(TrainingDiverged, match="finite are kept") as info:
        fit(SGD, X * scale, Y, hp={"learning_rate": lr}, epochs=5, progress=False)
    assert finite(info.value.result.params) and info.value.usable == usable
    assert ("already unusable" in str(info.value)) != usable


def test_a_growing_exponential_schedule_is_refused_up_front():
    trainer = Trainer(MLP((3, 8, 2)), optimizer="sgd", schedule="exponential", batch_size=32)
    with pytest.raises(ValueError, match="decay_rate"):
        fit(trainer, X, Y, hp={"learning_rate": 0.1, "decay_rate": 1e4}, epochs=30,
            progress=False)


def test_divergence_with_early_stopping_returns_the_best_epoch():
    stopper = EarlyStopping(patience=100, monitor="loss")
    hp = {"learning_rate": 3.0}
    with pytest.raises(TrainingDiverged, match="best epoch's parameters") as info:
        fit(SGD, X * 5, Y, hp=hp, epochs=60, early_stopping=stopper, progress=False)
    result = info.value.result
    assert info.value.epoch > result.best_epoch + 1
    assert result.best_epoch == int(np.nanargmin(result.history["loss"]))
    again = fit(SGD, X * 5, Y, hp=hp, epochs=result.best_epoch + 1, progress=False)
    jax.tree.map(np.testing.assert_array_equal, result.params, again.params)


@pytest.mark.parametrize(
    "hp, message",
    [
        ({"beta": 0.99999999}, r"beta must lie in \[0.0, 1.0\) as a float32, got 0.99999999 "
         r"\(float32 rounds it to 1.0\)"),
        ({"b1": 1 - 1e-9}, "b1 must .* rounds it to 1.0"),
        ({"b2": 1 - 1e-10}, "b2 must .* rounds it to 1.0"),
        ({"keep_prob": 1e-46}, "keep_prob must .* rounds it to 0.0"),
        ({"keep_prob": 1e-39}, "keep_prob=1e-39 is below float32's smallest normal"),
        ({"learning_rate": 1e39}, "learning_rate must .* rounds it to inf"),
        ({"learning_rate": 1e-50}, "learning_rate must .* rounds it to 0.0"),
        ({"eps": 1e-46}, "eps must .* rounds it to 0.0"),
        ({"l2": 1e40}, "l2 must .* rounds it to inf"),
    ],
)
def test_hyperparameters_are_checked_as_float32(hp, message):
    with pytest.raises(ValueError, match=message):
        hyperparams(**hp)
    assert hyperparams(beta=0.99999994)["beta"] < 1  # the largest float32 below 1 is fine


@pytest.mark.parametrize(
    "trainer, y, message",
    [
        (Trainer(MLP((3, 2))), np.tile([[0.0, 5.0]], (96, 1)), "y row 0 is not one-hot"),
        (Trainer(MLP((3, 2))), np.where(np.arange(96) == 3, np.nan, 1.0)[:, None]
         * np.array([[1.0, 0.0]]), "NaN/inf"),
        (Trainer(MLP((3, 2))), np.where(np.arange(96) == 3, np.nan, Y), "y contains 1 NaN/inf"),
        (Trainer(MLP((3, 1))), np.eye(2)[Y], r"y has shape \(96, 2\) but the model has one "
         "sigmoid output unit"),
        (Trainer(MLP((3, 1))), np.where(np.arange(96) == 0, np.nan, Y), "y contains 1 NaN/inf"),
    ],
)
def test_label_errors_are_input_errors(trainer, y, message):
    with pytest.raises(ValueError, match=message):
        fit(trainer, X, y, epochs=1, progress=False)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"validation": (X, Y, Y)}, TypeError, "validation must be a pair .* sequence of 3"),
        ({"hp": {"learning_rate": [0.1, 0.2]}}, ValueError,
         r"hp\['learning_rate'\] must be a single number .*run_sweep"),
        ({"seed": 1.5}, TypeError, "seed must be an int or a jax.random.key, got 1.5"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int"),
        ({"hp": [0.1]}, TypeError, "hp must be a dict"),
        ({"resume": True, "overwrite": True, "checkpoint_dir": "x"}, ValueError,
         "exclude each other"),
    ],
)
def test_fit_messages_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        fit(SGD, X, Y, epochs=1, progress=False, **kwargs)


def test_gradcheck_reports_relu_kinks_not_a_bug():
    result = check_mlp(0, batch=1)  # batch norm of one sample: every pre-activation is 0
    assert result.passed, str(result)
    assert set(result.kinks) == {"layers[1].beta"} and len(result.kinks["layers[1].beta"]) == 6
    assert "crosses a kink" in str(result)
    for k in result.kinks["layers[1].beta"]:
        assert k.analytic == 0.0 and k.backward == 0.0 and k.forward != 0.0


def test_gradcheck_still_fails_a_wrong_gradient_at_a_kink():
    def loss(w):
        return jnp.sum(jax.nn.relu(w)) + jnp.sum(w**2)

    w = jnp.array([0.0, 1.0, -2.0])
    ok = gradcheck(loss, w)
    assert ok.passed and len(ok.kinks["params"]) == 1
    # backprop outside [left slope, right slope] at the kink, and wrong where smooth
    bad = gradcheck(loss, w, grad_fn=lambda w: jnp.array([5.0, 3.0, -4.0]))
    assert not bad.passed and not bad.kinks
    smooth_bug = gradcheck(loss, w, grad_fn=lambda w: jnp.array([0.0, 2.5, -4.0]))
    assert not smooth_bug.passed and len(smooth_bug.kinks["params"]) == 1


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr()


def test_cli_sweep_where_every_config_diverged_exits_1_with_the_table(tmp_path, capsys):
    code, out = run_cli(capsys, "sweep", "--data-size", "60", "--hidden", "4", "--lr",
                        "1e30:1e31", "--configs", "2", "--epochs", "1", "--no-plots", "--out",
                        str(tmp_path))
    assert code == 1
    assert out.err.strip().splitlines() == [
        "jaxdl: error: every one of the 2 configs diverged or ended with a non-finite val_loss; "
        "lower the learning-rate range (the table is written)"
    ]
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "sweep.json").exists()


@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["train", "--data-size", "1"], 2, ["--data-size must be an int >= 2"]),
        (["train", "--out", "/dev/null/out"], 3, ["cannot write to /dev/null/out"]),
        (["train", "--checkpoint-dir", "/dev/null/c"], 3, ["cannot write to /dev/null/c"]),
    ],
)
def test_cli_errors_name_the_flag_or_path(capsys, tmp_path, argv, code, words):
    got, out = run_cli(capsys, *argv, "--epochs", "1")
    lines = out.err.strip().splitlines()
    assert got == code and len(lines) == 1, out.err
    assert all(w in lines[0] for w in words), lines[0]


def test_cli_binary_space_file_names_the_file(capsys, tmp_path):
    space = tmp_path / "space.toml"
    space.write_bytes(b"\xff\xfe\x00lr")
    got, out = run_cli(capsys, "sweep", "--space", str(space))
    assert got == 2
    assert out.err.strip() == (
        f"jaxdl: error: cannot read sweep file {str(space)!r}: not a UTF-8 text file"
    )


def test_cli_patience_added_on_resume_names_early_stopping(capsys, tmp_path):
    common = ["train", "--data-size", "60", "--hidden", "4", "--batch-size", "16", "--no-plots",
              "--out", str(tmp_path / "o"), "--checkpoint-dir", str(tmp_path / "c")]
    assert run_cli(capsys, *common, "--epochs", "1")[0] == 0
    got, out = run_cli(capsys, *common, "--epochs", "2", "--resume", "--patience", "3")
    assert got == 2 and "differing in: early_stopping" in out.err, out.err
    got, out = run_cli(capsys, *common, "--epochs", "2")
    assert got == 2 and "--resume" in out.err and "--overwrite" in out.err
    assert run_cli(capsys, *common, "--epochs", "2", "--overwrite")[0] == 0


def test_features_beyond_float32_are_refused():
    x = X.astype(np.float64)
    x[5, 1] = 1e39  # finite in float64, inf once cast to the float32 that training uses
    with pytest.raises(ValueError, match=r"x=1e\+39 overflows float32"):
        fit(SGD, x, Y, epochs=1, progress=False)
