"""Property-based fuzzing of the public entry points with hypothesis.

Property everywhere: the call works and everything it returns is finite, or it raises
``ValueError``/``TypeError`` whose message names the offending argument, before anything compiles
(no epoch ran). The CLI prints exactly one error line and exits 2 on bad input.

Examples are derandomized (the same on every run, so CI is stable); set JAXDL_FUZZ_EXAMPLES and
JAXDL_FUZZ_RANDOM=1 to search longer and wider locally.
"""

import contextlib
import io
import math
import os
import re
import tempfile
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxdl import cli, optim, train
from jaxdl.data.datasets import DATASETS, load
from jaxdl.data.files import load_file
from jaxdl.gradcheck import gradcheck
from jaxdl.hyperparams import hyperparams
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, run_sweep
from jaxdl.train import Trainer, TrainingDiverged, fit

settings.register_profile(
    "jaxdl-fuzz",
    max_examples=int(os.environ.get("JAXDL_FUZZ_EXAMPLES", "20")),
    deadline=None,
    derandomize=os.environ.get("JAXDL_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("jaxdl-fuzz")

# Numbers at and beyond float32's edges, and some that are fine.
EDGE = st.sampled_from([0.0, -0.0, -1.0, 1.0, 1e-46, 1e-39, 1e-8, 0.5, 0.9, 0.99999999,
                        1 - 1e-7, 3e38, 1e39, math.inf, -math.inf, math.nan])
NUMBER = st.one_of(EDGE, st.floats(allow_nan=True, allow_infinity=True, width=64))


def names(err: Exception, *candidates: str) -> bool:
    """True when the message of ``err`` names one of ``candidates`` as a word."""
    text = str(err)
    return any(re.search(rf"(?<![\w-]){re.escape(c)}(?![\w])", text) for c in candidates)


def all_finite(tree) -> bool:
    return all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(tree))


# -- hyperparameters ---------------------------------------------------------------------------
HP_NAMES = ("learning_rate", "b1", "b2", "beta", "eps", "weight_decay", "keep_prob", "l2",
            "decay_rate", "bn_momentum")


@FUZZ
@given(st.dictionaries(st.sampled_from(HP_NAMES), NUMBER, max_size=3))
def test_hyperparams_are_float32_finite_or_refused_by_name(values):
    try:
        hp = hyperparams(**values)
    except (ValueError, TypeError) as err:
        assert names(err, *values), err
        return
    for name, value in hp.items():
        assert value.dtype == jnp.float32 and np.isfinite(value), (name, value)
    for name in ("b1", "b2", "beta", "bn_momentum"):
        assert name not in hp or 0 <= float(hp[name]) < 1
    assert float(hp["learning_rate"]) > 0 and float(hp["eps"]) > 0 and float(hp["keep_prob"]) > 0


# -- fit -----------------------------------------------------------------------------------------
TRAINER = Trainer(MLP((3, 4, 2)), optimizer="adam", batch_size=16)
FIT_ARGS = ("x", "y", "hp", "learning_rate", "b1", "b2", "eps", "seed", "epochs", "validation",
            "x_val", "y_val", "keep_prob")


@st.composite
def fit_inputs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    m = draw(st.sampled_from([1, 2, 7, 16, 33]))
    width = draw(st.sampled_from([3, 3, 3, 2, 0]))
    x = rng.normal(size=(m, width)).astype(draw(st.sampled_from(["float32", "float64", "int32"])))
    if draw(st.booleans()) and x.size:
        x = x.astype(np.float64)
        x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf, 1e39]))
    y = rng.integers(0, 2, size=m)
    label = draw(st.sampled_from(["ok", "ok", "range", "float", "nan", "onehot", "bad-onehot",
                                  "short", "list"]))
    if label == "range":
        y = y + 2
    elif label == "float":
        y = y + 0.5
    elif label == "nan":
        y = np.where(np.arange(m) == 0, np.nan, y)
    elif label == "onehot":
        y = np.eye(2)[y]
    elif label == "bad-onehot":
        y = np.eye(2)[y] * 5.0
    elif label == "short":
        y = y[:-1]
    elif label == "list":
        x, y = x.tolist(), y.tolist()
    hp = draw(st.dictionaries(st.sampled_from(["learning_rate", "b1", "b2", "eps"]),
                              st.one_of(EDGE, st.floats(1e-4, 0.5)), max_size=2))
    kwargs = {"hp": hp}
    kwargs["seed"] = draw(st.sampled_from([0, 3, -1, 1.5, 2**64, True]))
    kwargs["epochs"] = draw(st.sampled_from([1, 1, 1, 0, -2]))
    if draw(st.booleans()):
        kwargs["validation"] = draw(st.sampled_from([(x, y), (x,), [x, y, y]]))
    return x, y, kwargs


@FUZZ
@given(fit_inputs())
def test_fit_trains_finitely_or_refuses_before_compiling(inputs):
    x, y, kwargs = inputs
    with mock.patch.object(train, "run_epoch", wraps=train.run_epoch) as epochs:
        try:
            result = fit(TRAINER, x, y, progress=False, **kwargs)
        except (ValueError, TypeError) as err:
            assert epochs.call_count == 0, f"{err!r} raised after an epoch ran"
            assert names(err, *FIT_ARGS), err
            return
        except TrainingDiverged as err:  # a valid but huge learning rate
            assert all_finite(err.result.params)
            return
    assert all_finite((result.params, result.model_state, result.opt_state))
    assert all(math.isfinite(v) for v in result.history["loss"])


# -- the MLP ---------------------------------------------------------------------------------------
@FUZZ
@given(
    st.lists(st.sampled_from([-1, 0, 1, 2, 3, True, 2.5]), min_size=0, max_size=4),
    st.sampled_from(["relu", "tanh", "leaky_relu", "sigmoid", "swish"]),
    st.sampled_from(["he", "xavier", "zeros", "random_normal", "orthogonal"]),
    st.sampled_from([0.01, 1.0, 0.0, -1.0, math.nan]),
    st.booleans(),
    st.booleans(),
)
def test_mlp_builds_and_predicts_finitely_or_refuses(sizes, activation, init, scale, bn, dropout):
    try:
        model = MLP(tuple(sizes), activation=activation, initializer=init, init_scale=scale,
                    batch_norm=bn, dropout=dropout)
    except (ValueError, TypeError) as err:
        assert names(err, "sizes", "activation", "initializer", "init_scale"), err
        return
    params, state = model.init(jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(5, model.sizes[0])).astype(np.float32)
    out, _ = model.apply(params, state, x, train=False, hp={"keep_prob": 1.0})
    assert out.shape == (5, model.sizes[-1]) and all_finite(out)


# -- optimizers and schedules --------------------------------------------------------------------
@FUZZ
@given(
    st.sampled_from(optim.OPTIMIZERS),
    st.dictionaries(st.sampled_from(["learning_rate", "b1", "b2", "beta", "eps",
                                     "weight_decay"]), NUMBER, max_size=2),
    st.sampled_from([0.0, 1e-3, 1.0, 1e30]),
)
def test_optimizers_update_finitely_or_refuse(name, hp, gradient):
    try:
        transform = optim.from_name(name, hyperparams(**hp))
    except (ValueError, TypeError) as err:
        assert names(err, *hp), err
        return
    params = {"w": jnp.ones(3), "b": jnp.zeros(2)}
    state = transform.init(params)
    grads = jax.tree.map(lambda p: jnp.full_like(p, gradient), params)
    for _ in range(3):
        updates, state = transform.update(grads, state, params)
        params = optim.apply_updates(params, updates)
    # Only a huge (but float32-finite) learning rate or gradient may overflow the parameters.
    huge = gradient >= 1e30 or hp.get("learning_rate", 0.0) >= 1e30
    assert all_finite(updates) or huge


SCHEDULES = {
    "exponential_decay": optim.exponential_decay,
    "inverse_time_decay": optim.inverse_time_decay,
}


@FUZZ
@given(st.sampled_from(sorted(SCHEDULES)), NUMBER, NUMBER,
       st.sampled_from([1, 10, 0, -3, 2.5]), st.booleans())
def test_schedules_are_finite_or_refuse(kind, init, rate, steps, staircase):
    try:
        schedule = SCHEDULES[kind](init, rate, steps, staircase=staircase)
    except (ValueError, TypeError) as err:
        assert names(err, "init_value", "decay_rate", "transition_steps"), err
        return
    values = np.asarray([schedule(jnp.asarray(s)) for s in (0, 1, 10, 1000)])
    grows = kind == "exponential_decay" and rate > 1
    assert np.all(np.isfinite(values)) or grows or not np.isfinite(np.float32(init))
    assert np.all(values[np.isfinite(values)] >= 0)


# -- gradient checking ---------------------------------------------------------------------------
def smooth_loss(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2) + 0.5 * jnp.sum(w**2)


@FUZZ
@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1e-7, 1e-5, 0.0, -1e-7, math.nan,
                                                              math.inf, "1e-7", True]),
       st.floats(-3, 3))
def test_gradcheck_passes_smooth_losses_or_refuses(n, k, epsilon, offset):
    w = np.linspace(-1, 1, n * k).reshape(n, k) + offset
    x = np.linspace(0.5, -0.5, 2 * n).reshape(2, n)
    try:
        result = gradcheck(smooth_loss, w, x, epsilon=epsilon, threshold=1e-5)
    except (ValueError, TypeError) as err:
        assert names(err, "epsilon"), err
        return
    assert result.passed and np.isfinite(result.difference), str(result)


# -- datasets -------------------------------------------------------------------------------------
@FUZZ
@given(st.sampled_from([*DATASETS, "imagenet"]), st.sampled_from([0, 7, -1, 1.5]),
       st.sampled_from([None, 1, 2, 10, 60, 10**5, 0, -5, 2.5]),
       st.sampled_from([None, 0.0, 0.2, 5.0, -0.1, math.nan]),
       st.sampled_from([0.2, 0.0, 0.5, 1.0, -0.2]))
def test_datasets_load_finitely_or_refuse(name, seed, n, noise, val_fraction):
    try:
        data = load(name, seed=seed, n=n, noise=noise, val_fraction=val_fraction)
    except (ValueError, TypeError) as err:
        assert names(err, "name", name, "seed", "n", "noise", "val_fraction", "test_fraction",
                     "dataset"), err
        return
    for part in (data.x_train, data.x_val, data.x_test):
        assert np.all(np.isfinite(part))
    assert len(data.x_train) == len(data.y_train) > 0


# -- data files ----------------------------------------------------------------------------------
ARRAY = st.sampled_from([
    np.arange(24.0).reshape(12, 2), np.ones((12, 2), np.float32), np.arange(24).reshape(12, 2),
    np.array([[1.0, math.nan]] * 12), np.array([[math.inf, 0.0]] * 12), np.zeros((12,)),
    np.zeros((0, 2)), np.full((12, 2), 2**62, np.int64), np.array([["a", "b"]] * 12),
    np.zeros((12, 2), bool), np.arange(12) % 2, np.arange(12) * 0.5, np.array(["x", "y"] * 6),
    np.arange(10) % 2, np.arange(12) % 2 + 2**53, np.array([math.nan] * 12),
    np.full(12, math.inf),
])


@FUZZ
@given(st.dictionaries(st.sampled_from(["x", "y", "x_train", "y_train", "x_val", "y_val",
                                        "x_test", "y_test", "z"]), ARRAY, max_size=7),
       st.sampled_from([None, "classification", "regression"]), st.booleans(),
       st.sampled_from([None, 10, -30]))
def test_npz_files_load_finitely_or_refuse_naming_the_file(arrays, task, drop, cut):
    folder = tempfile.mkdtemp(prefix="jaxdl-fuzz-npz-")
    path = os.path.join(folder, "d.npz")
    np.savez(path, **arrays)
    if cut is not None:  # a damaged file
        data = open(path, "rb").read()
        open(path, "wb").write(data[:cut])
    try:
        data = load_file(path, task=task, drop_missing=drop, val_fraction=0.25,
                         test_fraction=0.25)
    except ValueError as err:
        assert str(err).startswith(path), err
        assert "\n" not in str(err), err
        return
    for part in (data.x_train, data.x_val, data.x_test):
        assert part.dtype == np.float32 and np.all(np.isfinite(part))
    assert len(data.x_train) == len(data.y_train) > 0


# -- sweeps ----------------------------------------------------------------------------------------
SWEEP_DATA = load("moons", n=40)
SWEEP_TRAINER = Trainer(MLP((2, 3, 1)), optimizer="momentum", batch_size=16)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 8))
@given(st.sampled_from([1e-3, 1e-2, 0.0, -1.0, math.nan, 1e39]),
       st.sampled_from([1e-1, 1e-3, math.inf]), st.sampled_from([1, 2, 0, -1]))
def test_run_sweep_is_finite_or_refuses(low, high, n):
    try:
        results = run_sweep({"learning_rate": LogUniform(low, high)}, SWEEP_DATA,
                            trainer=SWEEP_TRAINER, n=n, epochs=1, seed=0)
    except (ValueError, TypeError) as err:
        assert names(err, "low", "high", "n", "learning_rate", "LogUniform"), err
        return
    for row in results.table:
        assert row["status"] == "diverged" or math.isfinite(row["val_loss"]), row


# -- the command line ------------------------------------------------------------------------------
OUT = tempfile.mkdtemp(prefix="jaxdl-fuzz-")
BAD_FLAGS = st.sampled_from([
    ("--lr", ["0", "-1", "nan", "inf", "1e39", "x", "1e-50"]),
    ("--beta", ["1", "0.99999999", "-0.1", "nan"]),
    ("--b1", ["1.0", "2"]),
    ("--keep-prob", ["0", "1.5", "1e-46"]),
    ("--batch-size", ["0", "-3", "1.5", "x"]),
    ("--epochs", ["0", "-1", ""]),
    ("--data-size", ["0", "1", "-2", "1e3"]),
    ("--hidden", ["0", "-4", "a,b", "4,,4"]),
    ("--dataset", ["mnist", ""]),
    ("--noise", ["nan", "x"]),
    ("--seed", ["-1", "1.5"]),
    ("--optimizer", ["adagrad"]),
    ("--checkpoint-every", ["0"]),
])


@FUZZ
@given(BAD_FLAGS.flatmap(lambda fv: st.tuples(st.just(fv[0]), st.sampled_from(fv[1]))),
       st.sampled_from(["train", "sweep"]))
def test_cli_bad_input_is_one_line_and_exit_2(flag_value, command):
    flag, value = flag_value
    if command == "sweep" and flag == "--checkpoint-every":
        return
    argv = [command, "--epochs", "1", "--data-size", "30", "--no-plots", "--out", OUT,
            flag, value]
    if command == "sweep" and flag not in ("--lr",):
        argv += ["--lr", "1e-3:1e-1"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    lines = err.getvalue().strip().splitlines()
    assert code == 2, (argv, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("jaxdl") and "error:" in lines[0], lines
