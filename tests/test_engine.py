"""The open engine: a hand-written model, optimizer transformations and factories, custom losses
and metrics through fit, sweeps, gradient checking, checkpoints and data parallelism."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl
from jaxdl import losses, optim
from jaxdl.early_stopping import EarlyStopping
from jaxdl.gradcheck import check_model
from jaxdl.history import without_timing
from jaxdl.hyperparams import hyperparams
from jaxdl.metrics import Metric
from jaxdl.nn import MLP
from jaxdl.sweep import buckets, engine, run_sweep
from jaxdl.train import Keys, Trainer, compiled, fit, lower_epoch, run_init


def linear_init(key):
    return {"W": 0.1 * jax.random.normal(key, (3, 1)), "b": jnp.zeros((1,))}


def linear_apply(params, x):
    return x @ params["W"] + params["b"]


LINEAR = jaxdl.Model(linear_init, linear_apply)

rng = np.random.default_rng(0)
X = rng.normal(size=(120, 3)).astype(np.float32)
TRUE_W = np.array([1.0, -2.0, 0.5], np.float32)
Y = (X @ TRUE_W + 0.3 + 0.05 * rng.normal(size=120)).astype(np.float32)
XV = rng.normal(size=(40, 3)).astype(np.float32)
YV = (XV @ TRUE_W + 0.3).astype(np.float32)
REGRESSION = Trainer(LINEAR, optimizer="adam", loss="mean_squared_error", batch_size=32)


def momentum_factory(hp):
    """An optimizer factory: built inside jit from the traced hyperparameters."""
    return optim.momentum(hp["learning_rate"], hp["beta"])


@dataclasses.dataclass(frozen=True)
class TwoLayer:
    """A model written against the protocol directly: tanh hidden layer of ``width`` units."""

    width: int = 4
    outputs: int = 1

    def init(self, key):
        k1, k2 = jax.random.split(key)
        params = {
            "hidden": {"W": jax.random.normal(k1, (3, self.width)) / np.sqrt(3.0),
                       "b": jnp.zeros((self.width,))},
            "out": {"W": jax.random.normal(k2, (self.width, self.outputs)) / np.sqrt(self.width),
                    "b": jnp.zeros((self.outputs,))},
        }  # fmt: skip
        return params, {}

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        h = jnp.tanh(x @ params["hidden"]["W"] + params["hidden"]["b"])
        return h @ params["out"]["W"] + params["out"]["b"], state


def close(a, b, rtol=2e-5, atol=2e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=atol)


def test_model_adapter_follows_the_protocol():
    assert isinstance(LINEAR, jaxdl.ModelLike) and isinstance(TwoLayer(), jaxdl.ModelLike)
    params, state = LINEAR.init(jax.random.key(0))
    assert state == {}
    out, new_state = LINEAR.apply(params, state, jnp.ones((2, 3)), train=True, hp={}, mask=None)
    assert out.shape == (2, 1) and new_state == {}
    assert hash(LINEAR) == hash(jaxdl.Model(linear_init, linear_apply))


def test_full_batch_sgd_step_is_the_closed_form_gradient_step():
    trainer = Trainer(LINEAR, optimizer="sgd", loss="mean_squared_error", batch_size=120)
    result = fit(trainer, X, Y, hp={"learning_rate": 0.1}, epochs=1, progress=False)
    p0, _ = LINEAR.init(Keys.from_seed(0).init)
    w0, b0 = np.asarray(p0["W"], np.float64), np.asarray(p0["b"], np.float64)
    residual = X @ w0 + b0 - Y[:, None]
    expected_w = w0 - 0.1 * 2 / 120 * X.T @ residual
    expected_b = b0 - 0.1 * 2 / 120 * residual.sum(0)
    np.testing.assert_allclose(result.params["W"], expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.params["b"], expected_b, rtol=1e-5, atol=1e-6)
    assert result.history["loss"][0] == pytest.approx(float(np.mean(residual**2)), rel=1e-5)


def test_linear_model_learns_with_fit_and_early_stopping_on_val_mse():
    stopper = EarlyStopping(patience=5, monitor="val_mse")
    assert stopper.mode == "min"
    result = fit(REGRESSION, X, Y, validation=(XV, YV), hp={"learning_rate": 0.05}, epochs=60,
                 early_stopping=stopper, progress=False)  # fmt: skip
    keys = {"epoch", "loss", "mse", "mae", "learning_rate", "val_loss", "val_mse", "val_mae"}
    assert set(result.history) == keys | {"batch_cost", "epoch_time"}
    assert result.history["val_mse"][result.best_epoch] < 1e-3
    np.testing.assert_allclose(result.params["W"][:, 0], TRUE_W, atol=0.05)
    # val_loss is the MSE loss, val_mse the metric: the same number
    np.testing.assert_allclose(result.history["val_loss"], result.history["val_mse"], rtol=1e-6)


def test_sweep_members_with_a_factory_optimizer_equal_solo_fits():
    trainer = Trainer(LINEAR, optimizer=momentum_factory, loss="mean_squared_error",
                      batch_size=32)  # fmt: skip
    configs = [{"learning_rate": 0.05, "beta": 0.9}, {"learning_rate": 0.01, "beta": 0.5},
               {"learning_rate": 0.2, "beta": 0.8}]  # fmt: skip
    results = run_sweep(configs, (X, Y, XV, YV), trainer=trainer, epochs=4, patience=2,
                        monitor="val_mae", seed=1)  # fmt: skip
    assert results.stopper.mode == "min" and results.monitor == "val_mae"
    assert {"val_mae", "val_mse", "mae"} <= set(results.table[0])
    values = [r["val_mae"] for r in results.table]
    assert values == sorted(values)
    for i, config in enumerate(configs):
        solo = fit(trainer, X, Y, validation=(XV, YV), hp=config, epochs=4, seed=1,
                   early_stopping=results.stopper, progress=False)  # fmt: skip
        close(results.params[i], solo.params)
        np.testing.assert_allclose(results.histories[i]["val_mae"], solo.history["val_mae"],
                                   rtol=2e-5)  # fmt: skip


@pytest.mark.slow
def test_sweep_builds_the_users_model_from_model_fn():
    trainer = Trainer(TwoLayer(), loss="mean_squared_error", batch_size=32)
    configs = [{"width": 4, "learning_rate": 0.05}, {"width": 8, "learning_rate": 0.05},
               {"width": 4, "learning_rate": 0.01}, {"width": 8, "batch_size": 40}]  # fmt: skip
    results = run_sweep(configs, (X, Y, XV, YV), trainer=trainer, epochs=3,
                        model_fn=lambda c: TwoLayer(**c))  # fmt: skip
    assert [t.model.width for t in results.trainers] == [4, 8, 4, 8]
    assert results.trainers[3].batch_size == 40
    for i in (1, 3):
        continuous = {k: v for k, v in configs[i].items() if k == "learning_rate"}
        solo = fit(results.trainers[i], X, Y, validation=(XV, YV), hp=continuous, epochs=3,
                   early_stopping=results.stopper, progress=False)  # fmt: skip
        close(results.params[i], solo.params)


def scaled_apply(params, x, hp):
    return hp["output_scale"] * (x @ params["W"] + params["b"])


def test_a_models_own_hyperparameter_is_traced_through_fit_and_sweeps():
    model = jaxdl.Model(linear_init, scaled_apply, hyperparameters={"output_scale"})
    trainer = Trainer(model, optimizer="sgd", loss="mean_squared_error", batch_size=40)
    configs = [{"output_scale": 0.5, "learning_rate": 0.1}, {"output_scale": 2.0}]
    results = run_sweep(configs, (X, Y, XV, YV), trainer=trainer, epochs=2)
    for i, config in enumerate(configs):
        solo = fit(trainer, X, Y, validation=(XV, YV), hp=config, epochs=2,
                   early_stopping=results.stopper, progress=False)  # fmt: skip
        close(results.params[i], solo.params)
    assert results.hp[1]["output_scale"] == 2.0
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        fit(Trainer(LINEAR, loss="huber"), X, Y, hp={"output_scale": 2.0})


def test_gradcheck_of_any_model():
    assert check_model(LINEAR, X[:16], Y[:16], loss="mean_squared_error").passed
    labels = (X[:16, 0] > 0).astype(np.int32)
    result = check_model(TwoLayer(outputs=2), X[:16], labels, lambd=0.3)
    assert result.passed and result.difference < 1e-7


def test_checkpoint_resume_is_bit_exact_for_a_user_model_and_transformation(tmp_path):
    trainer = Trainer(LINEAR, optimizer=optim.adam(0.05), loss="huber", batch_size=32)
    kw = {"validation": (XV, YV), "progress": False, "seed": 2}
    full = fit(trainer, X, Y, epochs=4, checkpoint_dir=str(tmp_path / "a"), **kw)
    fit(trainer, X, Y, epochs=2, checkpoint_dir=str(tmp_path / "b"), **kw)
    resumed = fit(trainer, X, Y, epochs=4, checkpoint_dir=str(tmp_path / "b"), resume=True, **kw)
    for a, b in zip(jax.tree.leaves(full[:3]), jax.tree.leaves(resumed[:3]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_equal(without_timing(full.history), without_timing(resumed.history))
    assert "learning_rate" not in full.history  # a ready-made transformation's rate: unknown


def test_custom_loss_and_metric():
    def mean_abs(outputs, y, mask=None):
        return losses.weighted_mean(jnp.abs(outputs[:, 0] - y), mask)

    def max_error(outputs, y, mask=None):
        error = jnp.abs(outputs[:, 0] - y)
        return jnp.max(error if mask is None else jnp.where(mask > 0, error, 0.0))

    trainer = Trainer(LINEAR, loss=mean_abs, metrics=["r2", Metric("max_error", max_error, "min")],
                      batch_size=32)  # fmt: skip
    with pytest.raises(ValueError, match="pass mode='min'"):
        EarlyStopping(monitor="val_max_error")
    stopper = EarlyStopping(patience=2, monitor="val_max_error", mode="min")
    result = fit(trainer, X, Y, validation=(XV, YV), hp={"learning_rate": 0.1}, epochs=6,
                 early_stopping=stopper, progress=False)  # fmt: skip
    assert {"r2", "val_r2", "max_error", "val_max_error"} <= set(result.history)
    predictions = XV @ np.asarray(result.params["W"]) + np.asarray(result.params["b"])
    error = np.abs(predictions[:, 0] - YV)
    best = result.best_epoch
    assert result.history["val_loss"][best] == pytest.approx(float(error.mean()), rel=1e-5)
    assert result.history["val_max_error"][best] == pytest.approx(float(error.max()), rel=1e-5)
    r2 = 1 - np.sum(error**2) / np.sum((YV - YV.mean()) ** 2)
    assert result.history["val_r2"][best] == pytest.approx(float(r2), rel=1e-4)


class TraceState(NamedTuple):
    trace: Any


def ema_sgd(learning_rate: float, rho: float = 0.5):
    """SGD on an EWA of the gradients whose decay is named ``rho`` (not b1/b2/beta)."""

    def init(params):
        return TraceState(jax.tree.map(lambda p: jnp.full_like(p, 0.25), params))

    def update(grads, state, params=None):
        trace = jax.tree.map(lambda t, g: rho * t + (1 - rho) * g, state.trace, grads)
        return jax.tree.map(lambda t: -learning_rate * t, trace), TraceState(trace)

    return optim.GradientTransformation(init, update)


@pytest.mark.parametrize("optimizer", [ema_sgd(0.1), "momentum"])
def test_a_rejected_step_leaves_any_optimizer_state_bit_identical(optimizer):
    trainer = Trainer(LINEAR, optimizer=optimizer, loss="mean_squared_error", batch_size=40)
    hp = hyperparams(learning_rate=0.1)
    ts = trainer.init(jax.random.key(0), hp)
    # a huge weight: the first step's cost overflows to inf and is rejected, as are all after it
    params = {**ts.params, "W": jnp.full((3, 1), 1e30)}
    ts = ts._replace(params=params)
    before = jax.device_get(ts)
    after, metrics = jax.jit(trainer.epoch)(ts, hp, jnp.asarray(X), jnp.asarray(Y),
                                            Keys.from_seed(0), 0)  # fmt: skip
    assert int(after.diverged_at) == 0 and not np.isfinite(metrics["cost"][0])
    for a, b in zip(jax.tree.leaves(before[:3]), jax.tree.leaves(after[:3]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _selects_of_first_weight(trainer: Trainer) -> int:
    """How many selects of the epoch act on arrays shaped like the first weight (3, 8)."""
    hp = hyperparams()
    x, y = jnp.asarray(X), jnp.asarray((X[:, 0] > 0).astype(np.int32))
    keys = Keys.from_seed(0)
    ts = run_init(trainer, keys.init, hp)
    text = lower_epoch(trainer, ts, hp, x, y, keys, 0).as_text()
    return len(re.findall(r"call @_where\w*\(.*\(tensor<i1>, tensor<3x8xf32>", text))


def test_builtin_optimizers_keep_the_scalar_gated_fast_path():
    model = MLP((3, 8, 2))
    # built-in Adam: the gradient is zeroed and the parameter selected; its moments are gated
    # by scalars inside the update. Any transformation: its two moments are selected as well.
    assert _selects_of_first_weight(Trainer(model, optimizer="adam")) == 2
    assert _selects_of_first_weight(Trainer(model, optimizer=optim.adam(0.01))) == 4


def test_mlp_config_round_trip_and_hyperparameters():
    model = MLP((4, 8, 2), batch_norm=True, dropout=True, activation="tanh")
    config = json.loads(json.dumps(model.to_config()))
    assert jaxdl.nn.from_config(config) == model
    assert model.hyperparameters == {"keep_prob", "bn_momentum"}
    assert MLP((4, 2)).hyperparameters == frozenset()


# -- bad input, rejected before anything compiles ------------------------------------------------
@pytest.fixture
def nothing_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before the input was checked")

    for module, name in ((compiled, "_init_model"), (compiled, "_init"), (compiled, "_epoch"),
                         (compiled, "_init_members"), (engine, "compiled_epochs"),
                         (buckets, "run_init_members")):  # fmt: skip
        monkeypatch.setattr(module, name, boom)


def _per_sample(outputs, y, mask=None):
    return jnp.square(outputs[:, 0] - y)


HUBER_TWO_LAYER = Trainer(TwoLayer(), loss="huber")


def _raises(config):
    raise RuntimeError("no such layer")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: fit(Trainer(jaxdl.Model(linear_init, lambda p, x: jnp.sum(x @ p["W"])[None]),
                             loss="mean_squared_error"), X, Y),
         ValueError, r"Model\(linear_init, .*returned outputs of shape \(1,\)"),
        (lambda: fit(Trainer(LINEAR, loss="mean_squared_error"), X, np.stack([Y, Y], 1)),
         ValueError, r"y has shape \(120, 2\) but the model gives outputs of shape \(120, 1\)"),
        (lambda: fit(Trainer(LINEAR, loss=_per_sample), X, Y),
         TypeError, r"loss _per_sample .*must return a scalar.*\(120,\)"),
        (lambda: Trainer(LINEAR, optimizer=object()),
         TypeError, "optimizer must be .* got object, which has no callable init/update"),
        (lambda: fit(Trainer(LINEAR, optimizer=lambda hp: 3.0, loss="huber"), X, Y),
         TypeError, "optimizer factory .*lambda.* returned float"),
        (lambda: Trainer(object()), TypeError, "object has no init or apply"),
        (lambda: fit(Trainer(MLP((3, 4, 1)), loss="huber"), X, Y, hp={"keep_prob": 0.5}),
         ValueError, "keep_prob is read by dropout, and this model has none"),
        (lambda: Trainer(LINEAR, loss="cross_entropy"), ValueError, "unknown loss"),
        (lambda: Trainer(LINEAR, metrics=["f1"]), ValueError, "unknown metric 'f1'"),
        (lambda: fit(Trainer(LINEAR, loss="huber"), X, Y,
                     early_stopping=EarlyStopping(monitor="val_accuracy")),
         ValueError, "monitor must be one of"),
        (lambda: run_sweep([{"width": 4}], (X, Y, XV, YV), trainer=HUBER_TWO_LAYER,
                           model_fn=_raises),
         ValueError, "config 0 .*model_fn '_raises' raised RuntimeError .*no such layer"),
        (lambda: run_sweep([{"width": 4}], (X, Y, XV, YV), trainer=HUBER_TWO_LAYER),
         ValueError, "unknown hyperparameter.*model_fn"),
    ],
)  # fmt: skip
def test_bad_input_is_rejected_before_compiling(nothing_compiles, make, error, message):
    with pytest.raises(error, match=message):
        make()


# -- data parallel ------------------------------------------------------------------------------
CHILD = textwrap.dedent(
    r"""
    import json
    import jax, jax.numpy as jnp, numpy as np
    import jaxdl
    from jaxdl.infra import parallel
    from jaxdl.train import Trainer, fit

    def init(key):
        return {"W": 0.1 * jax.random.normal(key, (3, 1)), "b": jnp.zeros((1,))}

    def apply(params, x):
        return x @ params["W"] + params["b"]

    rng = np.random.default_rng(0)
    X = rng.normal(size=(148, 3)).astype(np.float32)
    Y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32)
    base = Trainer(jaxdl.Model(init, apply), loss="mean_squared_error", batch_size=32)
    kw = {"hp": {"learning_rate": 0.05}, "epochs": 3, "progress": False}
    one, four = fit(base, X, Y, **kw), fit(parallel.data_parallel(base), X, Y, **kw)
    gap = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
              for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(four.params)))
    print("RESULT " + json.dumps({"devices": jax.device_count(), "gap": gap,
                                  "loss": [one.history["loss"], four.history["loss"]]}))
    """
)


def test_data_parallel_on_four_devices_equals_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["devices"] == 4
    assert out["gap"] < 1e-5
    np.testing.assert_allclose(*out["loss"], rtol=1e-5)


def test_regression_losses_and_metrics_match_oracles():
    sk = pytest.importorskip("sklearn.metrics")
    optax = pytest.importorskip("optax")
    r = np.random.default_rng(3)
    z, y = r.normal(size=(20, 1)).astype(np.float32), r.normal(size=20).astype(np.float32)
    mask = (r.random(20) > 0.3).astype(np.float32)
    w = mask.astype(bool)
    assert jaxdl.metrics.mse(z, y, mask) == pytest.approx(sk.mean_squared_error(y[w], z[w, 0]))
    assert jaxdl.metrics.mae(z, y, mask) == pytest.approx(sk.mean_absolute_error(y[w], z[w, 0]))
    assert jaxdl.metrics.r2(z, y, mask) == pytest.approx(sk.r2_score(y[w], z[w, 0]), rel=1e-5)
    assert losses.mean_squared_error(z, y) == pytest.approx(sk.mean_squared_error(y, z[:, 0]))
    scaled = 3 * z  # errors on both sides of delta
    for delta in (1.0, 0.5):
        expected = float(jnp.mean(optax.huber_loss(scaled[:, 0], y, delta=delta)))
        assert losses.huber(scaled, y, delta=delta) == pytest.approx(expected, rel=1e-6)
    # several outputs: R^2 pooled over the outputs (variance weighted)
    z2, y2 = r.normal(size=(30, 2)), r.normal(size=(30, 2)) * [1.0, 3.0]
    expected = sk.r2_score(y2, z2, multioutput="variance_weighted")
    assert jaxdl.metrics.r2(jnp.asarray(z2), jnp.asarray(y2)) == pytest.approx(expected, rel=1e-5)
