"""Regression targets are standardized with the training split's statistics (issue 25): a
``Standardized(model, data.stats, targets=data.target_stats)`` model learns
``(y - mu_y) / sigma_y`` and predicts ``mu_y + sigma_y * z``, so

- the same data with targets x1e3 or x1e-3 trains the same (the same R^2, through ``fit`` and
  through ``jaxdl train --data file.csv``), with every metric in the targets' units;
- the loss is exactly the loss on standardized targets (closed form, and its gradient);
- a saved model predicts in the targets' units (a linear target learnt exactly, the in-memory
  model), and models saved before the field existed load as before;
- classification computes what it did (nothing of this is on its path)."""

import csv
import json
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import MLP, Standardized, Trainer, cli, fit, load_model, losses, save_model
from jaxdl.data import load, load_file
from jaxdl.data.normalize import Standardizer, fit_standardizer, target_standardizer
from jaxdl.evaluation import regression
from jaxdl.saved import ModelFileError
from jaxdl.saved.saved_model import infer
from jaxdl.train.state import Batch, TrainState

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SCALES = (1.0, 1e3, 1e-3)


def _rows(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 1.0 + x[:, 0] - 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 2] + 0.1 * rng.normal(size=n)
    return x, y


def _csv(path, x, y):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "y"])
        writer.writerows([[repr(float(v)) for v in row] + [repr(float(t))]
                          for row, t in zip(x, y)])
    return str(path)


def _fit(model, data, epochs=15):
    trainer = Trainer(model, loss="mean_squared_error", metrics=("mse", "mae", "r2"))
    return fit(trainer, data.x_train, data.y_train, validation=(data.x_val, data.y_val),
               hp={"learning_rate": 1e-2}, epochs=epochs, seed=0)


def _test_figures(model, result, data):
    outputs, _ = infer(model, result.params, result.model_state, data.x_test)
    return regression(outputs, data.y_test, model.target_stats)


# -- fit: the same R^2 at any scale ---------------------------------------------------------
@pytest.mark.slow
def test_fit_gives_the_same_r2_whatever_the_targets_units(tmp_path):
    x, y = _rows()
    found = {}
    for scale in SCALES:
        data = load_file(_csv(tmp_path / f"y{scale}.csv", x, y * scale))
        assert data.task == "regression"
        y_train = data.y_train.astype(np.float64)
        np.testing.assert_allclose(data.target_stats.mean, [y_train.mean()], rtol=1e-12)
        np.testing.assert_allclose(data.target_stats.std, [y_train.std()], rtol=1e-12)
        model = Standardized(MLP((3, 8, 1)), data.stats, targets=data.target_stats)
        result = _fit(model, data)
        found[scale] = (result.history, _test_figures(model, result, data))
    history, figures = found[1.0]
    assert figures["r2"] > 0.7, figures  # learnt something (0.79)
    for scale in SCALES[1:]:
        scaled_history, scaled = found[scale]
        assert scaled["r2"] == pytest.approx(figures["r2"], abs=1e-4)
        assert scaled["loss"] == pytest.approx(figures["loss"], rel=1e-3)  # scale-free
        assert scaled["mae"] == pytest.approx(figures["mae"] * scale, rel=1e-3)  # in units
        assert scaled["mse"] == pytest.approx(figures["mse"] * scale**2, rel=1e-3)
        np.testing.assert_allclose(scaled_history["val_r2"], history["val_r2"], atol=1e-4)
        np.testing.assert_allclose(scaled_history["val_loss"], history["val_loss"], rtol=1e-3)
        np.testing.assert_allclose(scaled_history["val_mse"],
                                   np.asarray(history["val_mse"]) * scale**2, rtol=1e-3)


def test_without_target_statistics_large_targets_train_differently(tmp_path):
    """What the test above guards against: the same model on raw x1e3 targets."""
    x, y = _rows()
    r2 = {}
    for scale in (1.0, 1e3):
        data = load_file(_csv(tmp_path / f"y{scale}.csv", x, y * scale))
        model = Standardized(MLP((3, 8, 1)), data.stats)  # no targets=
        r2[scale] = _test_figures(model, _fit(model, data), data)["r2"]
    assert r2[1e3] < r2[1.0] - 0.5, r2


# -- jaxdl train --data file.csv --------------------------------------------------------------
def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.slow
def test_jaxdl_train_gives_the_same_r2_whatever_the_targets_units(tmp_path, capsys):
    x, y = _rows()
    found = {}
    for scale in SCALES:
        data = _csv(tmp_path / f"y{scale}.csv", x, y * scale)
        out, model = tmp_path / f"out{scale}", tmp_path / f"model{scale}"
        _run(capsys, "train", "--data", data, "--hidden", "8", "--epochs", "12", "--lr", "0.01",
             "--no-plots", "--out", out, "--save", model,
             "--checkpoint-dir", tmp_path / f"c{scale}")
        written = json.load(open(out / "history.json"))
        _run(capsys, "evaluate", "--model", model, "--data", data, "--out",
             tmp_path / f"e{scale}.json")
        _run(capsys, "predict", "--model", model, "--data", data, "--out",
             tmp_path / f"p{scale}.csv")
        predictions = np.loadtxt(tmp_path / f"p{scale}.csv", skiprows=1, delimiter=",")
        found[scale] = (written, json.load(open(tmp_path / f"e{scale}.json")), predictions)
        manifest = json.load(open(model / "manifest.json"))
        assert manifest["format_version"] == 3 and manifest["task"] == "regression"
        train_rows = load_file(data).y_train.astype(np.float64)
        np.testing.assert_allclose(manifest["target_standardizer"]["mean"], [train_rows.mean()])
        np.testing.assert_allclose(manifest["target_standardizer"]["std"], [train_rows.std()])
        # the figures printed are what produced them: the final validation loss is the last
        # epoch's val_loss (MSE on standardized targets), its MSE the last val_mse (in units)
        history, final = written["history"], written["final"]
        assert final["validation"]["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-4)
        assert final["validation"]["mse"] == pytest.approx(history["val_mse"][-1], rel=1e-4)
        std = manifest["target_standardizer"]["std"][0]
        assert final["validation"]["loss"] == pytest.approx(
            final["validation"]["mse"] / std**2, rel=1e-4)
    (written, evaluated, predictions) = found[1.0]
    assert written["final"]["test"]["r2"] > 0.7  # learnt something (0.78)
    for scale in SCALES[1:]:
        scaled_written, scaled_evaluated, scaled_predictions = found[scale]
        for split in ("train", "validation", "test"):
            assert scaled_written["final"][split]["r2"] == pytest.approx(
                written["final"][split]["r2"], abs=1e-4)
            assert scaled_written["final"][split]["mae"] == pytest.approx(
                written["final"][split]["mae"] * scale, rel=1e-3)
        assert scaled_evaluated["r2"] == pytest.approx(evaluated["r2"], abs=1e-4)
        assert scaled_evaluated["mae"] == pytest.approx(evaluated["mae"] * scale, rel=1e-3)
        np.testing.assert_allclose(scaled_predictions, predictions * scale, rtol=1e-3,
                                   atol=1e-3 * scale)


@pytest.mark.slow
def test_jaxdl_sweep_ranks_the_same_whatever_the_targets_units(tmp_path, capsys):
    x, y = _rows(n=120)
    rows, best = {}, {}
    for scale in (1.0, 1e3):
        data = _csv(tmp_path / f"y{scale}.csv", x, y * scale)
        out, model = tmp_path / f"s{scale}", tmp_path / f"best{scale}"
        _run(capsys, "sweep", "--data", data, "--hidden", "4", "--lr", "1e-3:1e-1", "--configs",
             "3", "--epochs", "4", "--no-plots", "--out", out, "--save", model,
             "--checkpoint-dir", tmp_path / f"c{scale}")
        rows[scale] = {r["config"]: r for r in json.load(open(out / "sweep.json"))["rows"]}
        best[scale] = json.load(open(model / "manifest.json"))
        assert "target_standardizer" in best[scale]
    assert rows[1.0].keys() == rows[1e3].keys() and len(rows[1.0]) == 3
    for config, row in rows[1.0].items():
        scaled = rows[1e3][config]
        assert scaled["val_loss"] == pytest.approx(row["val_loss"], rel=1e-3)
        assert scaled["val_mse"] == pytest.approx(row["val_mse"] * 1e6, rel=1e-3)
    assert best[1e3]["metrics"]["test"]["r2"] == pytest.approx(best[1.0]["metrics"]["test"]["r2"],
                                                               abs=1e-4)


# -- the loss is the standardized-target loss ----------------------------------------------------
def _linear_data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, size=(n, 2))
    y = np.stack([1000.0 + 250.0 * x[:, 0] - 125.0 * x[:, 1] + rng.normal(size=n),
                  1e-3 * (x[:, 1] - x[:, 0]) + 1e-4 * rng.normal(size=n)], axis=1)
    return x.astype(np.float32), y.astype(np.float32)


def test_the_loss_and_its_gradient_are_those_of_standardized_targets():
    x, y = _linear_data()
    stats, targets = fit_standardizer(x), target_standardizer(y)
    net = MLP((2, 5, 2))
    scaled = Standardized(net, stats, targets=targets)
    plain = Standardized(net, stats)
    y_std = ((y - targets.mean) / targets.std).astype(np.float32)
    params, state = scaled.init(jax.random.key(0))
    batch, key = Batch(jnp.asarray(x), jnp.asarray(y), None), jax.random.key(1)
    for loss in ("mean_squared_error", "huber"):
        cost, grads, _, metrics = Trainer(scaled, loss=loss).loss_and_grads(
            params, state, batch, key, {}, num_examples=len(x))
        want, want_grads, _, _ = Trainer(plain, loss=loss).loss_and_grads(
            params, state, Batch(jnp.asarray(x), jnp.asarray(y_std), None), key, {},
            num_examples=len(x))
        assert float(cost) == pytest.approx(float(want), rel=1e-5)
        for got, expected in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads)):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    # closed form: the inner model's outputs z against (y - mu) / sigma, per column ...
    z = np.asarray(net.apply(params, state, plain.standardize(x), train=False)[0], np.float64)
    trainer = Trainer(scaled, loss="mean_squared_error", metrics=("mse",))
    live = TrainState(params, state, None, jnp.asarray(-1, jnp.int32))
    figures = trainer.evaluate(live, {}, jnp.asarray(x), jnp.asarray(y))
    assert float(figures["loss"]) == pytest.approx(np.mean((z - y_std) ** 2), rel=1e-5)
    # ... = mean_k MSE_k / sigma_k^2 on the outputs in the targets' units, whose MSE it reports
    out = np.asarray(scaled.apply(params, state, x, train=False)[0], np.float64)
    np.testing.assert_allclose(out, targets.mean + targets.std * z, rtol=1e-5)
    per_column = np.mean((out - y) ** 2, axis=0) / targets.std**2
    assert float(figures["loss"]) == pytest.approx(per_column.mean(), rel=1e-4)
    assert float(figures["mse"]) == pytest.approx(np.mean((out - y) ** 2), rel=1e-4)


def test_fit_on_raw_targets_is_fit_on_standardized_targets():
    x, y = _linear_data(n=96)
    stats, targets = fit_standardizer(x), target_standardizer(y)
    y_std = ((y - targets.mean) / targets.std).astype(np.float32)
    net = MLP((2, 6, 2))
    runs = []
    for model, labels in ((Standardized(net, stats, targets=targets), y),
                          (Standardized(net, stats), y_std)):
        trainer = Trainer(model, loss="mean_squared_error", batch_size=32)
        runs.append(fit(trainer, x, labels, hp={"learning_rate": 0.01}, epochs=10, seed=3))
    np.testing.assert_allclose(runs[0].history["loss"], runs[1].history["loss"], rtol=1e-4)
    for got, expected in zip(jax.tree.leaves(runs[0].params), jax.tree.leaves(runs[1].params)):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)


# -- saved models predict in the targets' units ----------------------------------------------
def _exact_linear(x, slope, intercept, stats, targets):
    """The standardized linear model's parameters for ``y = x @ slope + intercept``: with
    ``x = mu + sd * u`` and ``y = mu_y + sigma_y * z``, ``z = u @ W + b``."""
    w = (stats.std[:, None] * slope[:, None]) / targets.std
    b = (stats.mean @ slope + intercept - targets.mean) / targets.std
    return {"layers": [{"W": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}]}


def test_saved_model_predicts_a_linear_target_exactly_in_its_units(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(100, 2))
    slope, intercept = np.array([250.0, -125.0]), 4000.0
    y = (x @ slope + intercept).astype(np.float32)
    stats, targets = fit_standardizer(x), target_standardizer(y)
    model = Standardized(MLP((2, 1)), stats, targets=targets)
    params = _exact_linear(x, slope, intercept, stats, targets)
    memory = np.asarray(infer(model, params, {}, x.astype(np.float32))[0]).ravel()
    np.testing.assert_allclose(memory, y, rtol=1e-5)
    path = save_model(tmp_path / "m", model, params, {}, feature_names=("a", "b"), target="y")
    saved = load_model(path)
    assert saved.task == "regression"  # a model with target statistics is a regressor
    np.testing.assert_allclose(saved.predict(x), y, rtol=1e-5)
    np.testing.assert_allclose(saved.predict(x), memory, rtol=1e-6)
    np.testing.assert_allclose(saved.target_standardizer.mean, targets.mean)
    np.testing.assert_allclose(saved.target_standardizer.std, targets.std)
    assert saved.trainable == model
    figures = saved.evaluate(x, y)
    assert figures["r2"] == pytest.approx(1.0, abs=1e-6)
    assert figures["mae"] < 1e-5 * np.abs(y).max()


def test_a_linear_target_is_learnt_exactly_and_saved_in_its_units(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=(256, 2)).astype(np.float32)
    slope, intercept = np.array([250.0, -125.0]), 4000.0
    y = (x.astype(np.float64) @ slope + intercept).astype(np.float32)
    stats, targets = fit_standardizer(x), target_standardizer(y)
    model = Standardized(MLP((2, 1)), stats, targets=targets)
    result = fit(Trainer(model, loss="mean_squared_error", batch_size=64), x, y,
                 hp={"learning_rate": 0.05}, epochs=150, seed=0)
    memory = np.asarray(infer(model, result.params, result.model_state, x)[0]).ravel()
    least_squares = np.linalg.lstsq(np.c_[x, np.ones(len(x))], y.astype(np.float64),
                                    rcond=None)[0]
    np.testing.assert_allclose(least_squares, [*slope, intercept], rtol=1e-6)
    np.testing.assert_allclose(memory, y, rtol=0, atol=1e-3 * y.std())
    saved = load_model(save_model(tmp_path / "m", model, result.params, result.model_state))
    np.testing.assert_allclose(saved.predict(x), memory, rtol=1e-6, atol=1e-6 * y.std())


def test_models_saved_before_target_statistics_load_as_before():
    expected = json.load(open(os.path.join(FIXTURES, "saved_v1_regression_predictions.json")))
    saved = load_model(os.path.join(FIXTURES, "saved_v1_regression"))
    assert saved.manifest["format_version"] == 1 and saved.target_standardizer is None
    assert saved.task == "regression"
    np.testing.assert_allclose(saved.predict(np.asarray(expected["x"])),
                               [float(v) for v in expected["predictions"]], rtol=1e-6)
    assert saved.trainable.target_stats is None
    classifier = load_model(os.path.join(FIXTURES, "saved_v1_mlp"))
    assert classifier.target_standardizer is None and classifier.task == "classification"


def _saved(tmp_path):
    x, y = _linear_data()
    model = Standardized(MLP((2, 2)), fit_standardizer(x), targets=target_standardizer(y))
    params, state = model.init(jax.random.key(0))
    return save_model(tmp_path / "m", model, params, state)


def _reseal(path, edit):
    from jaxdl.saved.manifest import manifest_checksum

    file = os.path.join(path, "manifest.json")
    manifest = json.load(open(file))
    edit(manifest)
    manifest["checksum"] = manifest_checksum(manifest)
    json.dump(manifest, open(file, "w"))


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(task="classification"), "'target_standardizer' is for regression"),
    (lambda m: m["target_standardizer"].update(std=[1.0, 0.0]),
     "'target_standardizer.std' is 0.0 at output 1"),
    (lambda m: m["target_standardizer"].update(mean=[1.0], std=[2.0]),
     "'target_standardizer' has 1 entries but the model has 2 outputs"),
    (lambda m: m.update(target_standardizer={"mean": [1.0, 2.0]}),
     "'target_standardizer' must be an object with 'mean' and 'std'"),
])
def test_a_bad_target_standardizer_is_refused(tmp_path, edit, message):
    path = _saved(tmp_path)
    assert json.load(open(os.path.join(path, "manifest.json")))["format_version"] == 3
    _reseal(path, edit)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


# -- bad input ---------------------------------------------------------------------------------
def test_bad_target_statistics_and_a_classification_loss_are_refused(tmp_path):
    stats = Standardizer(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="targets std must be positive"):
        Standardized(MLP((2, 1)), stats, targets=Standardizer(np.zeros(1), np.zeros(1)))
    with pytest.raises(ValueError, match="targets mean and std must each have one entry per"):
        Standardized(MLP((2, 1)), stats, targets=Standardizer(np.zeros((1, 2)), np.ones((1, 2))))
    model = Standardized(MLP((2, 1)), stats, targets=Standardizer(np.zeros(1), np.ones(1)))
    params, state = model.init(jax.random.key(0))
    x, y = np.zeros((4, 2), np.float32), np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="train it with a regression loss"):
        Trainer(model).data_loss(model.apply(params, state, x, train=False)[0], y, None)
    with pytest.raises(ValueError, match="task='regression'"):
        save_model(tmp_path / "m", model, params, state, task="classification")
    assert not os.path.exists(tmp_path / "m")


def test_the_target_statistics_travel_with_the_model():
    stats, targets = Standardizer(np.zeros(2), np.ones(2)), Standardizer(np.ones(1), 2 * np.ones(1))
    model = Standardized(MLP((2, 3, 1)), stats, targets=targets)
    assert model != Standardized(MLP((2, 3, 1)), stats)
    assert hash(model) != hash(Standardized(MLP((2, 3, 1)), stats))
    again = pickle.loads(pickle.dumps(model))
    assert again == model and again.target_stats.std.tolist() == [2.0]
    wider = model.with_structure({"hidden_units": 5})
    assert wider.target_stats.mean.tolist() == [1.0] and wider.model.sizes == (2, 5, 1)
    assert "1 target statistics" in repr(model)


# -- classification: nothing of this is on its path -------------------------------------------
def test_classification_is_unchanged():
    data = load("moons", n=100)
    assert data.target_stats is None
    model = Standardized(MLP((2, 4, 1)), data.stats)
    assert model.target_stats is None
    params, state = model.init(jax.random.key(0))
    x = jnp.asarray(data.x_train)
    inner = jax.jit(lambda p: model.model.apply(p, state, model.standardize(x), train=False)[0])
    outer = jax.jit(lambda p: model.apply(p, state, x, train=False)[0])
    np.testing.assert_array_equal(outer(params), inner(params))  # bit for bit
    logits, labels = outer(params), jnp.asarray(data.y_train)
    loss = losses.resolve(None, logits.shape)
    pair = losses.standardized_pair(loss, logits, labels, None)
    assert pair[0] is logits and pair[1] is labels  # the very arrays, untouched
    got = jax.jit(lambda z: Trainer(model).data_loss(z, labels, None))(logits)
    want = jax.jit(lambda z: loss.fn(z, labels, None))(logits)
    np.testing.assert_array_equal(got, want)


def test_a_classification_table_has_no_target_statistics(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    assert load_file(path).target_stats is None
    _run(capsys, "train", "--data", path, "--hidden", "4", "--epochs", "1", "--no-plots",
         "--out", tmp_path / "o", "--save", tmp_path / "m")
    manifest = json.load(open(tmp_path / "m" / "manifest.json"))
    assert manifest["format_version"] == 1 and "target_standardizer" not in manifest
