"""save_model / load_model: round trip, atomic replacement, and each way a directory goes bad."""

import json
import os

import jax
import numpy as np
import pytest

from jaxdl import evaluation, saved
from jaxdl.data.normalize import Standardizer
from jaxdl.nn import MLP

MODEL = MLP((3, 5, 4), batch_norm=True)
STATS = Standardizer(np.array([1.0, -2.0, 0.5], np.float32), np.array([2.0, 0.5, 4.0], np.float32))
NAMES = ("a", "b", "c", "d")


def _trained():
    params, state = MODEL.init(jax.random.key(1))
    # move the batch-norm statistics away from their initial values
    x = jax.random.normal(jax.random.key(2), (16, 3))
    _, state = MODEL.apply(params, state, x, train=True)
    return params, state


def _save(path, **kwargs):
    params, state = _trained()
    options = dict(standardizer=STATS, class_names=NAMES, feature_names=("f1", "f2", "f3"),
                   target="t", hyperparameters={"learning_rate": 0.01},
                   metrics={"test": {"accuracy": 0.5}}, metadata={"note": "x"})
    return saved.save_model(path, MODEL, params, state, **{**options, **kwargs})


def test_round_trip_predicts_like_the_model(tmp_path):
    path = _save(tmp_path / "m")
    model = saved.load_model(path)
    params, state = _trained()
    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    logits, _ = MODEL.apply(params, state, (x - STATS.mean) / STATS.std, train=False)
    np.testing.assert_allclose(model.predict(x), jax.nn.softmax(logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict_classes(x, indices=True),
                                  np.argmax(logits, axis=1))
    np.testing.assert_array_equal(model.predict_classes(x),
                                  np.asarray(NAMES)[np.argmax(logits, axis=1)])
    assert model.model == MODEL and model.class_names == NAMES
    assert model.feature_names == ("f1", "f2", "f3") and model.target == "t"
    assert model.manifest["hyperparameters"] == {"learning_rate": 0.01}
    assert model.manifest["library_version"] and model.manifest["format_version"] == 1
    y = np.arange(7) % 4
    assert model.evaluate(x, y) == evaluation.evaluate("classification", logits, y, 4)
    assert sorted(os.listdir(tmp_path)) == ["m"]  # no temporary directory left behind


def test_regression_predicts_values(tmp_path):
    model = MLP((2, 1))
    params, state = model.init(jax.random.key(0))
    path = saved.save_model(tmp_path / "r", model, params, state, task="regression")
    loaded = saved.load_model(path)
    x = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(loaded.predict(x), (x @ params["layers"][0]["W"]).ravel(),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="predict_classes needs a classification model"):
        loaded.predict_classes(x)


def test_existing_directory_is_kept_unless_overwrite(tmp_path):
    path = _save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="exists already"):
        _save(path)
    _save(path, metadata={"note": "second"}, overwrite=True)
    assert saved.load_model(path).manifest["metadata"] == {"note": "second"}
    assert sorted(os.listdir(tmp_path)) == ["m"]
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="not a saved model; refusing to replace"):
        _save(tmp_path / "other", overwrite=True)


def _edit_manifest(path, change, keep_checksum=True):
    file = os.path.join(path, saved.MANIFEST)
    manifest = json.load(open(file))
    change(manifest)
    if not keep_checksum:
        manifest["checksum"] = saved.manifest_checksum(manifest)
    json.dump(manifest, open(file, "w"))


def test_tampered_manifest(tmp_path):
    path = _save(tmp_path / "m")
    _edit_manifest(path, lambda m: m["class_names"].reverse())
    with pytest.raises(saved.ModelFileError, match="checksum mismatch; the manifest was changed"):
        saved.load_model(path)
    with open(os.path.join(path, saved.MANIFEST), "w") as f:
        f.write("{not json")
    with pytest.raises(saved.ModelFileError, match="not valid JSON"):
        saved.load_model(path)


def test_newer_format_version(tmp_path):
    path = _save(tmp_path / "m")
    _edit_manifest(path, lambda m: m.update(format_version=99), keep_checksum=False)
    with pytest.raises(saved.ModelFileError, match="newer jaxdl .*format version 99.*upgrade"):
        saved.load_model(path)


def test_missing_array_and_shape_mismatch(tmp_path):
    params, state = _trained()
    arrays = {**saved.flatten("params", params), **saved.flatten("state", state)}

    def rewrite(path, arrays):
        file = os.path.join(path, saved.ARRAYS)
        np.savez(file, **arrays)
        digest = saved.sha256_hex(open(file, "rb").read())
        _edit_manifest(path, lambda m: m["arrays"].update(sha256=digest), keep_checksum=False)

    path = _save(tmp_path / "a")
    missing = dict(arrays)
    del missing["params['layers'][0]['W']"]
    rewrite(path, missing)
    with pytest.raises(saved.ModelFileError, match=r"has no array params\['layers'\]\[0\]\['W'\]"):
        saved.load_model(path)

    path = _save(tmp_path / "b")
    rewrite(path, {**arrays, "params['layers'][1]['b']": np.zeros(7, np.float32)})
    with pytest.raises(saved.ModelFileError, match=r"shape \(7,\) but the model needs \(4,\)"):
        saved.load_model(path)

    path = _save(tmp_path / "c")
    changed = {**arrays, "params['layers'][1]['b']": arrays["params['layers'][1]['b']"] + 1}
    np.savez(os.path.join(path, saved.ARRAYS), **changed)  # changed without the manifest
    with pytest.raises(saved.ModelFileError, match="arrays were changed after saving"):
        saved.load_model(path)


def test_params_that_do_not_fit_are_refused(tmp_path):
    params, state = MLP((3, 2, 4), batch_norm=True).init(jax.random.key(0))
    with pytest.raises(ValueError, match="do not fit the model"):
        saved.save_model(tmp_path / "m", MODEL, params, state)
    assert not os.listdir(tmp_path)


def test_model_module_outside_jaxdl_is_refused():
    with pytest.raises(ValueError, match="not part of jaxdl"):
        saved.build_model({"module": "os", "type": "system", "config": {}})


def test_predict_a_dataframe_by_column_names(tmp_path):
    pd = pytest.importorskip("pandas")
    model = saved.load_model(_save(tmp_path / "m"))
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    frame = pd.DataFrame({"f3": x[:, 2], "f1": x[:, 0], "f2": x[:, 1]})
    np.testing.assert_allclose(model.predict(frame), model.predict(x), rtol=1e-6)


def test_layers_sequential_round_trip(tmp_path):
    from jaxdl import layers

    model = layers.Sequential(layers.Dense(6), layers.BatchNorm(), layers.Relu(),
                              layers.Dropout(), layers.Dense(3), input_shape=(4,))
    params, state = model.init(jax.random.key(0))
    loaded = saved.load_model(saved.save_model(tmp_path / "s", model, params, state))
    assert loaded.model == model and loaded.manifest["model"]["module"] == "jaxdl.layers"
    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    logits, _ = model.apply(params, state, x, train=False)
    np.testing.assert_allclose(loaded.predict(x), jax.nn.softmax(logits), rtol=1e-5, atol=1e-7)


def test_every_name_is_importable_from_jaxdl_saved():
    """The package re-exports the public names its two modules define, as the same objects
    (private helpers stay private: no module imports another's ``_`` names)."""
    from jaxdl.saved import file_format, saved_model

    for module in (file_format, saved_model):
        for name, value in vars(module).items():
            public = not name.startswith("_")
            if public and (getattr(value, "__module__", None) == module.__name__ or name.isupper()):
                assert getattr(saved, name) is value, f"jaxdl.saved.{name}"
    assert saved.infer is saved_model.infer and callable(saved.sha256_hex)
