"""The standardizer travels with the model: a Dataset keeps raw features, a
``layers.Standardized`` model standardizes them (per mini-batch, inside the compiled epoch),
and the saved model keeps the statistics, so the documented steps

    data = load(...) / load_file(...)
    model = Standardized(net, data.stats); result = fit(Trainer(model), data.x_train, ...)
    save_model(path, model, ..., data=data); load_model(path).predict(data.x_test)

give the in-memory model's predictions on raw features, and no sequence of calls standardizes
twice or never."""

import os

import jax
import numpy as np
import pytest

from jaxdl import MLP, Standardized, Trainer, fit, layers, load_model, save_model
from jaxdl.data import load, load_file
from jaxdl.data.normalize import Standardizer, fit_standardizer, transform
from jaxdl.saved.saved_model import infer
from jaxdl.shapes import check_data


def _fit(model, data, epochs=30):
    trainer = Trainer(model, optimizer="adam", batch_size=64)
    return fit(trainer, data.x_train, data.y_train, validation=(data.x_val, data.y_val),
               epochs=epochs, hp={"learning_rate": 0.01}, seed=0)


def _in_memory(model, result, x):
    return np.asarray(infer(model, result.params, result.model_state, x)[0])


def test_splits_are_raw_and_stats_is_the_training_standardizer():
    data = load("digits")
    raw = load("digits", normalize=False)
    np.testing.assert_array_equal(data.x_train, raw.x_train)  # not standardized
    assert raw.stats is None
    assert data.x_train.max() == 16.0  # the digits' raw pixel counts
    expected = fit_standardizer(data.x_train)
    np.testing.assert_array_equal(data.stats.mean, expected.mean)
    np.testing.assert_array_equal(data.stats.std, expected.std)


def test_digits_load_fit_save_load_predict_on_raw_features(tmp_path):
    data = load("digits")
    model = Standardized(MLP((64, 32, 10)), data.stats)
    result = _fit(model, data)
    memory = _in_memory(model, result, data.x_test)
    path = save_model(tmp_path / "m", model, result.params, result.model_state, data=data)
    saved = load_model(path)
    np.testing.assert_allclose(saved.outputs(data.x_test), memory, rtol=1e-4, atol=1e-4)
    got = saved.predict_classes(data.x_test, indices=True)
    np.testing.assert_array_equal(got, memory.argmax(axis=1))
    accuracy = float(np.mean(got == data.y_test))
    assert accuracy > 0.93, accuracy  # was 0.150 when the splits came standardized
    # the saved model's standardizer is the training split's, and its model the inner one
    np.testing.assert_allclose(saved.standardizer.mean, data.stats.mean)
    assert saved.model == model.model and saved.trainable == model


def test_load_file_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)) * [1000.0, 0.01, 5.0] + [5e4, -3.0, 0.0]
    y = ((x[:, 0] - 5e4) / 1000 + (x[:, 1] + 3) / 0.01 > 0).astype(int)
    path = tmp_path / "table.csv"
    path.write_text("a,b,c,label\n" + "".join(
        f"{r[0]!r},{r[1]!r},{r[2]!r},{t}\n" for r, t in zip(x.tolist(), y)))
    data = load_file(path)
    np.testing.assert_allclose(data.x_train[:, 0].mean(), 5e4, rtol=0.01)  # raw
    model = Standardized(MLP((3, 16, 1)), data.stats)
    result = _fit(model, data, epochs=40)
    memory = _in_memory(model, result, data.x_test)
    saved = load_model(save_model(tmp_path / "m", model, result.params, result.model_state,
                                  data=data))
    np.testing.assert_allclose(saved.outputs(data.x_test), memory, rtol=1e-4, atol=1e-4)
    predicted = saved.predict_classes(data.x_test)
    assert float(np.mean(predicted.astype(int) == data.y_test)) > 0.9
    # a DataFrame-free path too: the raw rows of the file itself
    rows = x[data.rows[2]]
    np.testing.assert_allclose(saved.outputs(rows), memory, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_command_line_trains_saves_and_predicts_raw_rows(tmp_path, capsys):
    from jaxdl import cli

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2)) * [100.0, 1.0] + [1000.0, 0.0]
    y = (x[:, 0] - 1000 + 100 * x[:, 1] > 0).astype(int)
    path = tmp_path / "d.csv"
    path.write_text("p,q,y\n" + "".join(f"{a!r},{b!r},{t}\n" for (a, b), t in zip(x.tolist(), y)))
    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(path), "--save", str(tmp_path / "m"), "--epochs",
                     "40", "--hidden", "8", "--optimizer", "adam", "--lr", "0.02",
                     "--out", str(out), "--checkpoint-dir", str(tmp_path / "ck"), "--no-plots"])
    assert code == 0
    printed = capsys.readouterr().out
    test_line = next(line for line in printed.splitlines() if line.startswith("test"))
    reported = float(test_line.split()[2])  # split, loss, accuracy
    new = tmp_path / "new.csv"
    new.write_text("p,q\n" + "".join(f"{a!r},{b!r}\n" for a, b in x.tolist()))
    assert cli.main(["predict", "--model", str(tmp_path / "m"), "--data", str(new),
                     "--out", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()[1:]
    predicted = np.array([int(line.split(",")[0]) for line in lines])
    assert float(np.mean(predicted == y)) > 0.9
    data = load_file(path)
    saved = load_model(tmp_path / "m")
    test_accuracy = float(np.mean(saved.predict_classes(data.x_test).astype(int) == data.y_test))
    assert test_accuracy == pytest.approx(reported, abs=1e-4)


def test_images_stay_uint8_on_the_device_and_train():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(96, 6, 6, 3), dtype=np.uint8)
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 2].mean(axis=(1, 2))).astype(np.int32)
    from jaxdl.data.images import ImageSet, as_dataset

    data = as_dataset(ImageSet(x, y, x[:16], y[:16], ("r", "b")), "toy", val_fraction=0.25)
    assert data.x_train.dtype == np.uint8
    assert data.stats.mean.shape == (3,)  # per channel
    np.testing.assert_allclose(data.stats.mean,
                               data.x_train.reshape(-1, 3).astype(np.float64).mean(axis=0))
    net = layers.Sequential(layers.Conv(4, (3, 3)), layers.Relu(), layers.Flatten(),
                            layers.Dense(2), input_shape=(6, 6, 3))
    model = Standardized(net, data.stats)
    trainer = Trainer(model, optimizer="adam", batch_size=32)
    on_device, _ = check_data(trainer, data.x_train, data.y_train)
    assert on_device.dtype == np.uint8  # cast per mini-batch inside the compiled epoch
    result = fit(trainer, data.x_train, data.y_train, epochs=25, hp={"learning_rate": 0.01})
    assert result.history["accuracy"][-1] > 0.8
    z = (x[:4].astype(np.float64) - data.stats.mean) / data.stats.std
    np.testing.assert_allclose(_in_memory(model, result, x[:4]),
                               _in_memory(net, result, z.astype(np.float32)), atol=1e-5)
    # an unwrapped model still gets float32 on the host, as before
    assert check_data(Trainer(net), data.x_train, data.y_train)[0].dtype == np.float32


def test_saved_image_model_predicts_raw_uint8(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(40, 4, 4, 1), dtype=np.uint8)
    stats = Standardizer(np.array([100.0]), np.array([50.0]))
    net = layers.Sequential(layers.Flatten(), layers.Dense(3), input_shape=(4, 4, 1))
    model = Standardized(net, stats)
    params, state = model.init(jax.random.key(0))
    saved = load_model(save_model(tmp_path / "m", model, params, state))
    assert len(saved.standardizer.mean) == 16  # per channel, repeated for every pixel
    np.testing.assert_allclose(saved.outputs(x), np.asarray(infer(model, params, state, x)[0]),
                               rtol=1e-5, atol=1e-5)


def test_twice_is_refused():
    data = load("moons", n=100)
    model = Standardized(MLP((2, 4, 1)), data.stats)
    with pytest.raises(ValueError, match="already standardizes its inputs"):
        Standardized(model, data.stats)
    params, state = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="carries its own standardizer"):
        save_model("unused", model, params, state, standardizer=data.stats)
    with pytest.raises(ValueError, match="normalize=False"):
        Standardized(MLP((2, 1)), load("moons", n=100, normalize=False).stats)


def test_a_model_that_does_not_standardize_saves_no_standardizer(tmp_path):
    """save_model(..., data=data) no longer takes data.stats for a plain model: trained on the
    raw splits, it predicts from raw features (before, it was saved standardizing once more)."""
    data = load("moons", n=200)
    model = MLP((2, 8, 1))
    result = _fit(model, data, epochs=5)
    saved = load_model(save_model(tmp_path / "m", model, result.params, result.model_state,
                                  data=data))
    assert saved.standardizer is None
    np.testing.assert_allclose(saved.outputs(data.x_test),
                               _in_memory(model, result, data.x_test), rtol=1e-5, atol=1e-6)


def test_standardized_applies_exactly_the_formula():
    stats = Standardizer(np.array([3.0, -1.0, 0.5]), np.array([2.0, 0.25, 4.0]))
    net = MLP((3, 5, 2))
    model = Standardized(net, stats)
    params, state = model.init(jax.random.key(1))
    x = np.random.default_rng(0).normal(size=(7, 3)) * 10
    expected = _in_memory(net, type("R", (), {"params": params, "model_state": state}),
                          transform(stats, x))
    got = np.asarray(model.apply(params, state, x, train=False)[0])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert hash(model) == hash(Standardized(MLP((3, 5, 2)), stats))
    assert model != Standardized(net, Standardizer(stats.mean + 1, stats.std))


def test_committed_saved_models_still_load():
    fixtures = os.path.join(os.path.dirname(__file__), "fixtures")
    found = [os.path.join(root) for root, _, files in os.walk(fixtures)
             if "manifest.json" in files]
    for path in found:
        try:
            load_model(path)
        except Exception as err:  # noqa: BLE001 - a fixture meant to be refused
            assert "format" in str(err) or "checksum" in str(err) or "newer" in str(err), err


def test_fit_with_text_labels_says_how_to_encode_them():
    x = np.zeros((4, 2), np.float32)
    for y in (np.array(["cat", "dog", "cat", "dog"]), np.array(["a", "b", "a", "b"], object)):
        with pytest.raises(TypeError, match=r"y holds text labels \(such as '(cat|a)'\); fit "
                                            r"takes class indices.*np.unique.*load_file"):
            fit(Trainer(MLP((2, 1))), x, y, epochs=1)


def test_the_sweeps_saved_best_predicts_raw_features_as_reported(tmp_path, capsys):
    from jaxdl import cli

    best = tmp_path / "best"
    assert cli.main(["sweep", "--dataset", "digits", "--data-size", "500", "--hidden", "16",
                     "--configs", "2", "--epochs", "3", "--lr", "1e-2:1e-1", "--no-plots",
                     "--out", str(tmp_path / "o"), "--checkpoint-dir", str(tmp_path / "c"),
                     "--save-best", str(best)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("best config"))
    reported = float(line.rsplit("accuracy", 1)[1].split()[0].rstrip(","))
    data = load("digits", n=500)
    saved = load_model(best)
    assert saved.standardizer is not None
    got = float(np.mean(saved.predict_classes(data.x_test, indices=True) == data.y_test))
    assert got == pytest.approx(reported, abs=1e-4)


def test_a_sweep_keeps_uint8_images_and_its_members_match_their_fits():
    from jaxdl import sweep
    from jaxdl.data.images import ImageSet, as_dataset
    from jaxdl.sweep import buckets

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(64, 5, 5, 1), dtype=np.uint8)
    y = (x[..., 0].mean(axis=(1, 2)) > 127).astype(np.int32)
    data = as_dataset(ImageSet(x, y, x[:8], y[:8], ("lo", "hi")), "toy", val_fraction=0.25)
    net = layers.Sequential(layers.Flatten(), layers.Dense(2), input_shape=(5, 5, 1))
    trainer = Trainer(Standardized(net, data.stats), optimizer="adam", batch_size=16)
    host = buckets.check_sweep_data(trainer, data)
    assert host[0].dtype == np.uint8 and host[2].dtype == np.uint8  # 4x less device memory
    assert buckets.check_sweep_data(Trainer(net), data)[0].dtype == np.float32
    configs = [{"learning_rate": 0.01}, {"learning_rate": 0.003}]
    results = sweep.run_sweep(configs, data, trainer=trainer, epochs=3)
    for i, config in enumerate(configs):
        solo = fit(trainer, data.x_train, data.y_train, validation=(data.x_val, data.y_val),
                   hp=config, epochs=3)
        np.testing.assert_allclose(results.histories[i]["val_loss"], solo.history["val_loss"],
                                   rtol=1e-5)
