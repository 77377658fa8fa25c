"""A saved model is untrusted input: whoever can edit its directory can also reseal the manifest's
checksum. Each probe edits a saved model (or hands over a FIFO, a device, a path elsewhere) and
expects one clear error naming the field or file, never an import, a hang, a traceback or a
silently wrong answer."""

import csv
import dataclasses
import io
import json
import os
import shutil
import sys
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import checkpoint, cli, layers, saved
from jaxdl.data.normalize import Standardizer
from jaxdl.nn import MLP

MODEL = MLP((3, 5, 4))
NAMES = ("a", "b", "c", "d")
FEATURES = ("f1", "f2", "f3")
STATS = Standardizer(np.array([1.0, -2.0, 0.5], np.float32), np.array([2.0, 0.5, 4.0], np.float32))
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "saved_v1_mlp")


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    params, state = MODEL.init(jax.random.key(0))
    path = tmp_path_factory.mktemp("orig") / "m"
    return saved.save_model(path, MODEL, params, state, standardizer=STATS, class_names=NAMES,
                            feature_names=FEATURES, target="t")


@pytest.fixture
def model_dir(original, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(original, path)
    return str(path)


def _reseal(path, change):
    """Edit the manifest and seal it again, as anyone can."""
    file = os.path.join(path, saved.MANIFEST)
    with open(file) as f:
        manifest = json.load(f)
    change(manifest)
    manifest["checksum"] = saved.manifest_checksum(manifest)
    with open(file, "w") as f:
        json.dump(manifest, f)


def _replace_arrays(path, blob):
    """Put ``blob`` in place of arrays.npz and reseal the manifest with its digest."""
    with open(os.path.join(path, saved.ARRAYS), "wb") as f:
        f.write(blob)
    _reseal(path, lambda m: m["arrays"].update(sha256=saved.sha256_hex(blob)))


def _npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _arrays(path):
    with np.load(os.path.join(path, saved.ARRAYS)) as archive:
        return {k: archive[k] for k in archive.files}


def _one_line_error(capsys, argv):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("jaxdl: error: "), err
    return err


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


def _finishes(call, fifo=None, timeout=20.0):
    """Run ``call`` in a thread; the exception it raised (``None`` if none), or fail if it hangs.
    A hung reader of ``fifo`` is released afterwards, so the test run goes on."""
    outcome = {}

    def run():
        try:
            call()
            outcome["error"] = None
        except BaseException as err:  # noqa: BLE001 - whatever it raises is the result
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() and fifo is not None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # gives the reader EOF
        except OSError:
            pass
    assert "error" in outcome, f"{call} did not return within {timeout} s (it hangs)"
    return outcome["error"]


# -- security: no import of a named module, no path followed ---------------------------------
def test_manifest_module_is_never_imported(model_dir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["jaxdl", "--version"])
    monkeypatch.delitem(sys.modules, "jaxdl.__main__", raising=False)
    _reseal(model_dir, lambda m: m["model"].update(module="jaxdl.__main__", type="main"))
    err = _finishes(lambda: saved.load_model(model_dir))
    assert isinstance(err, saved.ModelFileError), repr(err)
    assert "'main'" in str(err) and "load_model(path, model=...)" in str(err)
    assert "register_model" in str(err) and "jaxdl.__main__" not in sys.modules
    data = _write_csv(os.path.join(os.path.dirname(model_dir), "x.csv"), FEATURES, [[1, 2, 3]])
    err = _one_line_error(capsys, ["predict", "--model", model_dir, "--data", data, "--out",
                                   os.path.join(os.path.dirname(model_dir), "p.csv")])
    assert "model.type" in err and "jaxdl.__main__" not in sys.modules


def test_unknown_model_type_is_refused_not_guessed(model_dir):
    # the module exists and has a from_config: the old loader built an MLP for any type name
    _reseal(model_dir, lambda m: m["model"].update(type="Evil", module="jaxdl.nn"))
    with pytest.raises(saved.ModelFileError, match=r"'Evil'.*register_model.*load_model\(path, "
                                                   r"model=\.\.\.\)"):
        saved.load_model(model_dir)


@dataclasses.dataclass(frozen=True)
class Scale:
    """A user's model: ``x * w`` per feature, a dataclass (so its config is its fields)."""

    width: int

    def init(self, key):
        return {"w": jnp.ones(self.width)}, {}

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        return x * params["w"], state


def test_user_model_types_load_once_registered(tmp_path):
    params = {"w": jnp.array([1.0, 2.0, 3.0])}
    path = saved.save_model(tmp_path / "s", Scale(3), params, {}, task="regression")
    assert json.load(open(os.path.join(path, saved.MANIFEST)))["model"]["type"] == "Scale"
    saved.file_format._MODEL_TYPES.pop("Scale", None)
    with pytest.raises(saved.ModelFileError, match="'Scale'.*not part of jaxdl nor a registered"):
        saved.load_model(path)
    given = saved.load_model(path, model=Scale(3))  # the way out without registering
    np.testing.assert_allclose(given.predict(np.ones((1, 3))), [[1.0, 2.0, 3.0]])
    try:
        assert saved.register_model(Scale) is Scale
        loaded = saved.load_model(path)
        assert loaded.model == Scale(3)
        np.testing.assert_allclose(loaded.predict(np.full((2, 3), 2.0)), [[2.0, 4.0, 6.0]] * 2)
        again = dataclasses.make_dataclass("Scale", [("width", int)])
        again.__module__ = __name__  # the same class defined again (a notebook cell rerun)
        assert saved.register_model(again) is again
        assert saved.file_format._MODEL_TYPES["Scale"].cls is again
        other = dataclasses.make_dataclass("Scale", [("width", int)])
        other.__module__ = "elsewhere"
        with pytest.raises(ValueError, match="another model type is registered as 'Scale'"):
            saved.register_model(other)
    finally:
        saved.file_format._MODEL_TYPES.pop("Scale", None)


@dataclasses.dataclass(frozen=True)
class Pad1D:
    """A user's layer with no to_config(): pads each example with one zero feature."""

    def init(self, key, input_shape):
        return (input_shape[0] + 1,), {}, {}

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        return jnp.pad(x, ((0, 0), (0, 1))), state


def test_layer_without_to_config_saves_and_names_the_way_out(tmp_path):
    model = layers.Sequential(layers.Dense(4), Pad1D(), layers.Dense(2), input_shape=(3,))
    params, state = model.init(jax.random.key(0))
    with pytest.warns(UserWarning, match=r"layer Pad1D \(layers\[1\]\) has no to_config\(\).*"
                                         r"load_model\(path, model=\.\.\.\)"):
        path = saved.save_model(tmp_path / "p", model, params, state)
    with pytest.raises(saved.ModelFileError, match=r"without a config.*load_model\(path, "
                                                   r"model=\.\.\.\)"):
        saved.load_model(path)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    logits, _ = model.apply(params, state, x, train=False)
    np.testing.assert_allclose(saved.load_model(path, model=model).predict(x),
                               jax.nn.softmax(logits), rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match=r"layer Pad1D \(layers\[1\]\) has no to_config"):
        saved.model_config(model)


@dataclasses.dataclass(frozen=True)
class Shift(layers.Layer):
    """A user's layer with a config (a Layer subclass): ``x + 1``."""

    def init(self, key, input_shape):
        return input_shape, {}, {}

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        return x + 1.0, state


def test_registered_user_layer_rebuilds_inside_sequential(tmp_path):
    model = layers.Sequential(layers.Dense(3), Shift(), input_shape=(2,))
    params, state = model.init(jax.random.key(0))
    path = saved.save_model(tmp_path / "s", model, params, state,
                            class_names=np.array(["x", "y", "z"]))
    with pytest.raises(saved.ModelFileError, match=r"unknown layer type 'Shift'.*"
                                                   r"register_model"):
        saved.load_model(path)
    assert saved.register_model(Shift) is Shift  # goes to jaxdl.layers' registry
    loaded = saved.load_model(path)
    assert loaded.model == model and loaded.class_names == ("x", "y", "z")
    x = np.ones((2, 2), np.float32)
    logits, _ = model.apply(params, state, x, train=False)
    np.testing.assert_allclose(loaded.predict(x), jax.nn.softmax(logits), rtol=1e-6)


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_arrays_file_elsewhere_is_not_followed(original, tmp_path, where):
    for name, seed in (("m", 0), ("elsewhere", 1)):  # two models of one architecture
        params, state = MODEL.init(jax.random.key(seed))
        saved.save_model(tmp_path / name, MODEL, params, state)
    other = str(tmp_path / "elsewhere" / saved.ARRAYS)
    named = "../elsewhere/arrays.npz" if where == "relative" else other
    digest = saved.sha256_hex(open(other, "rb").read())
    _reseal(str(tmp_path / "m"), lambda m: m["arrays"].update(file=named, sha256=digest))
    with pytest.raises(saved.ModelFileError, match=r"field 'arrays.file' is .*elsewhere"):
        saved.load_model(tmp_path / "m")


def test_overwrite_keeps_files_it_did_not_write(model_dir, tmp_path, capsys):
    notes = os.path.join(model_dir, "notes.txt")
    with open(notes, "w") as f:
        f.write("how this model was made")
    params, state = MODEL.init(jax.random.key(5))
    with pytest.raises(ValueError, match=r"holds files that jaxdl did not write \(notes.txt\)"):
        saved.save_model(model_dir, MODEL, params, state, overwrite=True)
    err = _one_line_error(capsys, ["train", "--epochs", "1", "--save", model_dir, "--overwrite",
                                   "--out", str(tmp_path / "out"), "--no-plots"])
    assert "notes.txt" in err
    assert open(notes).read() == "how this model was made"
    assert sorted(os.listdir(model_dir)) == ["arrays.npz", "manifest.json", "notes.txt"]
    saved.load_model(model_dir)  # the old model is untouched


def test_out_over_the_data_or_the_model_is_refused(model_dir, tmp_path, capsys):
    data = _write_csv(tmp_path / "x.csv", [*FEATURES, "t"], [[1, 2, 3, "a"], [0, 0, 1, "b"]])
    alias = tmp_path / "alias.csv"
    os.link(data, alias)
    link = tmp_path / "link.csv"
    os.symlink(data, link)
    before = {p: open(p, "rb").read() for p in (data, *(os.path.join(model_dir, n) for n in
                                                        os.listdir(model_dir)))}
    for command, out, what in [
        ("predict", data, "--data"),
        ("predict", str(alias), "--data"),  # a hard link: another name of the same file
        ("predict", str(link), "--data"),
        ("predict", os.path.join(model_dir, saved.MANIFEST), "--model"),
        ("predict", os.path.join(model_dir, saved.ARRAYS), "--model"),
        ("evaluate", data, "--data"),
        ("evaluate", os.path.join(model_dir, "evaluation.json"), "--model"),
    ]:
        err = _one_line_error(capsys, [command, "--model", model_dir, "--data", data,
                                       "--out", out])
        assert f"--out {out}" in err and what in err
    assert {p: open(p, "rb").read() for p in before} == before
    assert sorted(os.listdir(model_dir)) == ["arrays.npz", "manifest.json"]


# -- hangs: FIFOs, devices, sizes ---------------------------------------------------------------
@pytest.mark.parametrize("name", [saved.MANIFEST, saved.ARRAYS])
def test_fifo_in_the_model_directory_is_refused(model_dir, tmp_path, name):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    os.remove(os.path.join(model_dir, name))
    os.symlink(fifo, os.path.join(model_dir, name))
    err = _finishes(lambda: saved.load_model(model_dir), fifo)
    assert isinstance(err, saved.ModelFileError) and "FIFO" in str(err), repr(err)


@pytest.mark.parametrize("name", [saved.MANIFEST, saved.ARRAYS])
def test_dev_zero_in_the_model_directory_is_refused(model_dir, name):
    os.remove(os.path.join(model_dir, name))
    os.symlink("/dev/zero", os.path.join(model_dir, name))
    with pytest.raises(saved.ModelFileError, match="not a regular file: it is a device"):
        saved.load_model(model_dir)


def test_oversized_files_are_refused_before_reading(model_dir):
    arrays = os.path.join(model_dir, saved.ARRAYS)
    with open(arrays, "r+b") as f:
        f.truncate(64 << 20)  # sparse: far more than a (3, 5, 4) MLP's arrays take
    with pytest.raises(saved.ModelFileError, match=r"arrays file .* more than the limit"):
        saved.load_model(model_dir)
    with open(os.path.join(model_dir, saved.MANIFEST), "r+b") as f:
        f.truncate(saved.MANIFEST_MAX_BYTES + 1)
    with pytest.raises(saved.ModelFileError, match="manifest .* more than the limit of 16777216"):
        saved.load_model(model_dir)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_checkpoint_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    folder = str(tmp_path / "ckpt")
    with checkpoint.CheckpointDir(folder, {"seed": 0}).open(resume=False) as store:
        store.save(1, {"w": np.ones(2)}, {})
    newest = checkpoint.path_for(folder, 2)
    fifo = str(tmp_path / "fifo")
    if kind == "fifo":
        os.mkfifo(fifo)
        os.symlink(fifo, newest)
    else:
        os.symlink("/dev/zero", newest)

    def resume():
        with checkpoint.CheckpointDir(folder, {"seed": 0}).open(resume=True) as store:
            store.restore({"w": np.zeros(2)})

    err = _finishes(resume, fifo if kind == "fifo" else None)
    assert isinstance(err, checkpoint.CheckpointError), repr(err)
    assert "ckpt-000002.npz" in str(err) and "not a regular file" in str(err)


# -- silent or crashing: each manifest field, each array ----------------------------------------
def _set(key, value):
    return lambda m: m.update({key: value})


def _drop(key):
    return lambda m: m.pop(key)


def _stats(mean=(1.0, -2.0, 0.5), std=(2.0, 0.5, 4.0)):
    return _set("standardizer", {"mean": list(mean), "std": list(std)})


@pytest.mark.parametrize("change, field", [
    (_set("task", "ranking"), "'task'"),
    (_set("class_names", "abcd"), "'class_names'"),
    (_set("class_names", ["a", "b", "c"]), "'class_names' names 3 classes"),
    (_set("class_names", ["a", "b", "c", "c"]), "'class_names' names c twice"),
    (_set("class_names", [1, 2, 3, 4]), "'class_names'"),
    (_set("feature_names", ["f1", "f2"]), "'feature_names'"),
    (_set("target", 7), "'target'"),
    (_stats(std=(2.0, 0.0, 4.0)), "'standardizer.std'"),
    (_stats(std=(2.0, -1.0, 4.0)), "'standardizer.std'"),
    (_stats(std=(2.0, "x", 4.0)), "'standardizer.std'"),
    (_stats(std=(2.0, float("inf"), 4.0)), "not valid JSON"),
    (_stats(mean=(1.0, 2.0)), "'standardizer'"),
    (_set("standardizer", {"mean": [0.0] * 5, "std": [1.0] * 5}), "'standardizer'"),
    (_drop("model"), "'model'"),
    (_drop("arrays"), "'arrays'"),
    (_drop("task"), "'task'"),
    (_set("model", "MLP"), "'model'"),
    (lambda m: m["model"].update(config={"sizes": "big"}), "'model.config'"),
    (lambda m: m["model"].update(config={"sizes": [3, 5, 4], "evil": 1}), "'model.config'"),
    (lambda m: m["arrays"].update(sha256=7), "'arrays.sha256'"),
])
def test_manifest_fields_are_checked(model_dir, capsys, change, field):
    _reseal(model_dir, change)
    with pytest.raises(saved.ModelFileError, match="manifest.json: .*" + field.replace("(", r"\(")):
        saved.load_model(model_dir)
    data = _write_csv(os.path.join(os.path.dirname(model_dir), "x.csv"), FEATURES, [[1, 2, 3]])
    out = os.path.join(os.path.dirname(model_dir), "p.csv")
    _one_line_error(capsys, ["predict", "--model", model_dir, "--data", data, "--out", out])
    assert not os.path.exists(out)


def _with(path, name, value):
    return _npz(**{**_arrays(path), name: value})


W = "params['layers'][0]['W']"


@pytest.mark.parametrize("make, problem", [
    (lambda p: _with(p, W, np.full((3, 5), "x")), r"holds <U1 values"),
    (lambda p: _with(p, W, np.array([[{}] * 5] * 3, dtype=object)), r"cannot be read"),
    (lambda p: _with(p, W, np.full((3, 5), np.nan, np.float32)), "NaN or inf"),
    (lambda p: _with(p, W, np.full((3, 5), np.inf, np.float32)), "NaN or inf"),
    (lambda p: _with(p, W, np.zeros((5, 3), np.float32)), r"shape \(5, 3\)"),
    (lambda p: _with(p, "state['extra']", np.zeros(2)), "does not use: state"),
    (lambda p: open(os.path.join(p, saved.ARRAYS), "rb").read()[:300], "not a readable .npz"),
    (lambda p: b"garbage" * 40, "not a readable .npz"),
    (lambda p: _npy(np.zeros(3)), "not an .npz archive"),
])
def test_bad_arrays_are_refused(model_dir, capsys, make, problem):
    _replace_arrays(model_dir, make(model_dir))
    with pytest.raises(saved.ModelFileError, match=problem):
        saved.load_model(model_dir)
    data = _write_csv(os.path.join(os.path.dirname(model_dir), "x.csv"), FEATURES, [[1, 2, 3]])
    _one_line_error(capsys, ["predict", "--model", model_dir, "--data", data, "--out",
                             os.path.join(os.path.dirname(model_dir), "p.csv")])


def _npy(value):
    buffer = io.BytesIO()
    np.save(buffer, value)
    return buffer.getvalue()


@pytest.mark.parametrize("options, problem", [
    (dict(class_names=("a", "b", "c")), "'class_names' names 3 classes but the model has 4"),
    (dict(class_names="abcd"), "'class_names' must be a list"),
    (dict(class_names=("a", "a", "b", "c")), "'class_names' names a twice"),
    (dict(feature_names=("f1", "f2")), "'feature_names' has 2 entries but the model takes 3"),
    (dict(task="regression", class_names=NAMES), "class_names only apply to"),
    (dict(standardizer=Standardizer(np.zeros(3), np.array([1.0, 0.0, 1.0]))),
     "'standardizer.std'"),
    (dict(standardizer=Standardizer(np.zeros(2), np.ones(2))), "'standardizer' has 2 entries"),
])
def test_save_refuses_what_would_break_predict(tmp_path, options, problem):
    params, state = MODEL.init(jax.random.key(0))
    with pytest.raises(ValueError, match=problem):
        saved.save_model(tmp_path / "m", MODEL, params, state, **options)
    assert not os.listdir(tmp_path)


def test_save_refuses_non_finite_params(tmp_path):
    params, state = MODEL.init(jax.random.key(0))
    params["layers"][1]["b"] = params["layers"][1]["b"].at[2].set(jnp.nan)
    with pytest.raises(ValueError, match=r"params\['layers'\]\[1\]\['b'\] holds NaN"):
        saved.save_model(tmp_path / "m", MODEL, params, state)
    assert not os.listdir(tmp_path)


# -- predict and evaluate -----------------------------------------------------------------------
def test_predict_refuses_non_finite_outputs(tmp_path, capsys):
    model = MLP((2, 1))
    params = {"layers": [{"W": jnp.array([[10.0], [10.0]]), "b": jnp.zeros(1)}]}
    _, state = model.init(jax.random.key(0))
    path = saved.save_model(tmp_path / "r", model, params, state, task="regression",
                            feature_names=("a", "b"))
    data = str(tmp_path / "x.npy")
    np.save(data, np.array([[1.0, 2.0], [1e38, 1e38], [0.0, 0.0], [-1e38, -1e38]]))
    out = tmp_path / "p.csv"
    err = _one_line_error(capsys, ["predict", "--model", path, "--data", data, "--out",
                                   str(out)])
    assert "x.npy" in err and "NaN or inf for 2 sample(s) (rows 2, 4" in err
    assert not out.exists()
    np.save(data, np.zeros((0, 2)))
    err = _one_line_error(capsys, ["predict", "--model", path, "--data", data, "--out",
                                   str(out)])
    assert "at least one sample" in err and not out.exists()
    with pytest.raises(ValueError, match="at least one sample"):
        saved.load_model(path).predict(np.zeros((0, 2)))


def test_evaluate_refuses_fractional_class_labels_and_mismatched_lengths(original, tmp_path,
                                                                           capsys):
    params, state = MODEL.init(jax.random.key(0))
    path = saved.save_model(tmp_path / "m", MODEL, params, state, feature_names=FEATURES)
    x = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
    data = str(tmp_path / "f.npz")
    np.savez(data, x=x, y=np.array([0.7, 1.7, 2.7]))
    out = tmp_path / "e.json"
    err = _one_line_error(capsys, ["evaluate", "--model", path, "--data", data, "--out",
                                   str(out)])
    assert "f.npz" in err and "0.7" in err and not out.exists()
    loaded = saved.load_model(path)
    with pytest.raises(ValueError, match=r"y holds 0.7, not a class index"):
        loaded.evaluate(x, np.array([0.7, 1.7, 2.7]))
    with pytest.raises(ValueError, match="x has 3 samples but y has 2 labels"):
        loaded.evaluate(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        loaded.evaluate(x, np.array([0, 1, 4]))
    # whole numbers stored as floats are class indices, as before
    assert loaded.evaluate(x, np.array([0.0, 1.0, 3.0])) == loaded.evaluate(x, np.array([0, 1, 3]))


# -- a model saved by format version 1 still loads ----------------------------------------------
def test_committed_version_1_model_still_loads():
    loaded = saved.load_model(FIXTURE)
    model = MLP((2, 3, 3), batch_norm=True)
    assert loaded.model == model and loaded.class_names == ("a", "b", "c")
    assert loaded.feature_names == ("x0", "x1") and loaded.target == "y"
    arrays = _arrays(FIXTURE)
    template = model.init(jax.random.key(0))
    params, state = (jax.tree_util.tree_map_with_path(
        lambda p, _, prefix=prefix: arrays[prefix + jax.tree_util.keystr(p)], tree)
        for prefix, tree in zip(("params", "state"), template))
    x = np.array([[0.5, -0.25], [3.0, 1.0], [-2.0, 4.0]], np.float32)
    mean, std = np.array([1.0, -1.0], np.float32), np.array([2.0, 0.5], np.float32)
    logits, _ = model.apply(params, state, (x - mean) / std, train=False)
    np.testing.assert_allclose(loaded.predict(x), jax.nn.softmax(logits), rtol=1e-5, atol=1e-7)
