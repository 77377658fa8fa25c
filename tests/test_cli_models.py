"""Layers models from the command: ``--model NAME|FILE``, ``--augment``, images from a folder
(``--data FOLDER``), the pixel scaling that travels with ``--save`` into ``jaxdl predict``, the
reshape of flat digits for a CNN, and one ``jaxdl: error:`` line (exit 2, nothing written) for
each bad input."""

import csv
import io
import json
import os

import jax
import numpy as np
import pytest

from jaxdl import cli, layers, saved
from jaxdl.cli import build
from jaxdl.data.files import load_file, read_inputs
from jaxdl.data.images import folder_dataset, h5_dataset
from jaxdl.data.pixels import pixel_names

Image = pytest.importorskip("PIL.Image")

CLASSES = ("circle", "cross", "square")


def _image(kind, rng):
    """A 28x28 grayscale image of a class: a bright block at a class-dependent place, plus
    noise."""
    pixels = rng.integers(0, 60, size=(28, 28))
    row, col = {"circle": (2, 2), "cross": (14, 8), "square": (6, 18)}[kind]
    pixels[row:row + 8, col:col + 8] += 180
    return Image.fromarray(pixels.astype(np.uint8), mode="L")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for kind in CLASSES:
        os.mkdir(root / kind)
        for i in range(10):
            _image(kind, rng).save(root / kind / f"{i}.png")
    return str(root)


def _cnn(input_shape=(28, 28, 1), outputs=3):
    return layers.Sequential(
        layers.Conv(4, (3, 3)), layers.Relu(), layers.MaxPool((4, 4)), layers.Flatten(),
        layers.Dense(outputs), input_shape=input_shape)


def _write_model(path, model_or_config):
    config = (model_or_config.to_config() if hasattr(model_or_config, "to_config")
              else model_or_config)
    with open(path, "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))
    return str(path)


def _train(tmp_path, *extra):
    out = tmp_path / "out"
    code = cli.main(["train", "--epochs", "2", "--batch-size", "8", "--no-plots",
                     "--out", str(out), *extra])
    assert code == 0
    with open(out / "history.json") as f:
        return json.load(f)


def test_lenet5_on_an_image_folder_saves_the_scaling_that_predict_applies(folder, tmp_path):
    model_dir = tmp_path / "model"
    history = _train(tmp_path, "--data", folder, "--model", "lenet5", "--save", str(model_dir))
    assert layers.from_config(history["model"]) == layers.presets.lenet5((28, 28, 1), 3)
    assert history["sizes"] is None

    # the scaling: per-channel mean and std of the training split's pixels (numpy oracle)
    raw = folder_dataset(folder, seed=0)
    mu, sigma = raw.x_train.astype(np.float64).mean(), raw.x_train.astype(np.float64).std()
    loaded = saved.load_model(model_dir)
    np.testing.assert_allclose(loaded.standardizer.mean, np.full(784, mu))
    np.testing.assert_allclose(loaded.standardizer.std, np.full(784, sigma))
    assert loaded.class_names == CLASSES and loaded.feature_names[-1] == "pixel_27_27_0"

    out = tmp_path / "predictions.csv"
    assert cli.main(["predict", "--model", str(model_dir), "--data", folder,
                     "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["prediction"] + [f"probability_{c}" for c in CLASSES]
    assert len(rows) == 31
    # the model applied by hand to (x - mu) / sigma of the images in folder order
    images = np.stack([
        np.asarray(Image.open(os.path.join(folder, c, f)))[..., None]
        for c in CLASSES for f in sorted(os.listdir(os.path.join(folder, c)))])
    x = ((images - mu) / sigma).astype(np.float32)
    logits, _ = loaded.model.apply(loaded.params, loaded.state, x, train=False)
    expected = np.asarray(jax.nn.softmax(logits))
    got = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert [row[0] for row in rows[1:]] == [CLASSES[i] for i in expected.argmax(axis=1)]


def test_model_file_and_augmentation(folder, tmp_path):
    path = _write_model(tmp_path / "cnn.json", _cnn())
    history = _train(tmp_path, "--data", folder, "--model", path, "--augment", "flip,crop")
    model = layers.from_config(history["model"])
    assert model.layers[:2] == (layers.RandomFlip(0.5), layers.RandomCrop(4))
    assert model.layers[2:] == _cnn().layers


def test_no_normalize_scales_pixels_to_the_unit_interval(folder, tmp_path):
    model_dir = tmp_path / "model"
    _train(tmp_path, "--data", folder, "--model", _write_model(tmp_path / "m.json", _cnn()),
           "--no-normalize", "--save", str(model_dir), "--epochs", "1")
    stats = saved.load_model(model_dir).standardizer
    assert np.all(stats.mean == 0) and np.all(stats.std == 255)


def test_flat_digits_are_read_as_8x8_images(tmp_path):
    args = cli.build_parser().parse_args(["train", "--dataset", "digits", "--data-size", "200",
                                          "--model", "digits_cnn"])
    wrapped = build.build_model(args, build.load_data(args), dropout=False)
    assert isinstance(wrapped, layers.Standardized)  # the raw digits, standardized inside
    model = wrapped.model
    assert model.input_shape == (64,) and model.layers[0] == layers.Reshape((8, 8, 1))
    assert model.layers[1:] == layers.presets.digits_cnn((8, 8, 1), 10).layers
    # a file with an image input shape gets the same leading Reshape; the model trains on
    # flat features
    path = _write_model(tmp_path / "cnn.json", _cnn((8, 8, 1), 10))
    history = _train(tmp_path, "--dataset", "digits", "--data-size", "200",
                     "--model", path, "--augment", "translate,noise=0.05", "--epochs", "1")
    model = layers.from_config(history["model"])
    assert model.layers[:3] == (layers.Reshape((8, 8, 1)), layers.RandomTranslation(1 / 8, 1 / 8),
                                layers.GaussianNoise(0.05))


def test_an_hdf5_file_in_the_course_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    path = str(tmp_path / "cats.h5")
    with h5py.File(path, "w") as f:
        f["train_set_x"] = rng.integers(0, 256, size=(20, 8, 8, 3), dtype=np.uint8)
        f["train_set_y"] = (np.arange(20) % 2).reshape(1, 20)
        f["test_set_x"] = rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
        f["test_set_y"] = (np.arange(6) % 2).reshape(1, 6)
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    model_dir = tmp_path / "model"
    _train(tmp_path, "--data", path, "--model", _write_model(tmp_path / "m.json",
                                                                _cnn((8, 8, 3), 1)),
           "--save", str(model_dir), "--epochs", "1")
    loaded = saved.load_model(model_dir)
    x = h5_dataset(path, val_fraction=0.2).x_train.astype(np.float64)  # the same split
    np.testing.assert_allclose(loaded.standardizer.mean.reshape(64, 3)[5], x.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(loaded.standardizer.std.reshape(64, 3)[0], x.std(axis=(0, 1, 2)))
    assert loaded.class_names == ("non-cat", "cat")


def test_load_file_and_read_inputs_take_image_folders(folder, tmp_path):
    data = load_file(folder, seed=0)
    assert data.x_train.shape[1:] == (28, 28, 1) and data.x_train.dtype == np.uint8  # raw
    assert data.class_names == CLASSES and data.feature_names == pixel_names((28, 28, 1))
    raw = folder_dataset(folder, seed=0)
    np.testing.assert_array_equal(data.x_test, raw.x_test)
    train = raw.x_train.astype(np.float64)  # the per-channel statistics of the training split
    np.testing.assert_allclose(data.stats.mean, [train.mean()])
    np.testing.assert_allclose(data.stats.std, [train.std()])
    with pytest.raises(ValueError, match="leave out target"):
        load_file(folder, target="y")
    # new images of another size and colour are read at the model's size and channels
    root = tmp_path / "new"
    os.makedirs(root / "cross")
    Image.new("RGB", (40, 30), (255, 0, 0)).save(root / "cross" / "a.png")
    inputs = read_inputs(str(root), pixel_names((28, 28, 1)), None, need_labels=True)
    assert inputs.x.shape == (1, 28, 28, 1) and inputs.labels.values.tolist() == ["cross"]


def _fails(tmp_path, capsys, argv, *named):
    out, model = tmp_path / "never", tmp_path / "never-model"
    code = cli.main(["train", "--epochs", "1", "--no-plots", "--out", str(out),
                     "--save", str(model), *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxdl: error:"), err
    for text in named:
        assert text in lines[0], lines[0]
    assert not out.exists() and not model.exists()


@pytest.mark.parametrize("content, named", [
    ({"type": "Sequential", "layers": [{"type": "Blur"}], "input_shape": [28, 28, 1]},
     "unknown layer type 'Blur'"),
    ({"type": "Sequential", "layers": [{"type": "os.system", "command": "touch x"}],
      "input_shape": [28, 28, 1]}, "unknown layer type 'os.system'"),
    ([1, 2, 3], "not a model config"),
    ({"type": "Dense", "units": 3}, "not a model config"),
    ("{not json", "not a JSON file"),
    ({"type": "Sequential", "layers": [{"type": "Dense", "units": 3, "colour": 1}],
      "input_shape": [784]}, "config for Dense does not fit its fields"),
    (_cnn((32, 32, 3)).to_config(), "takes inputs of shape (32, 32, 3)"),
    (_cnn(outputs=5).to_config(), "outputs of shape (5,)"),
    ({"type": "Sequential", "input_shape": [28, 28, 1], "layers": [  # a layer inside misfits
        {"type": "Conv", "features": 4, "kernel_size": [3, 3], "padding": "VALID"},
        {"type": "MaxPool", "window": [64, 64]}, {"type": "Flatten"},
        {"type": "Dense", "units": 3}]},
     "MaxPool window (64, 64) is larger than its input (26, 26, 4)"),
])
def test_a_bad_model_file_is_one_error_line_naming_it(folder, tmp_path, capsys, content, named):
    path = _write_model(tmp_path / "model.json", content)
    _fails(tmp_path, capsys, ["--data", folder, "--model", path], path, named)


def test_other_bad_model_options_are_one_error_line(folder, tmp_path, capsys):
    _fails(tmp_path, capsys, ["--model", "nope"], "--model nope", "lenet5")
    _fails(tmp_path, capsys, ["--dataset", "moons", "--model", "lenet5"], "'lenet5'")
    _fails(tmp_path, capsys, ["--augment", "flip"], "--augment flip needs images")
    _fails(tmp_path, capsys, ["--model", "lenet5", "--hidden", "8"], "--hidden", "--model")
    _fails(tmp_path, capsys, ["--data", folder, "--model", "lenet5", "--augment", "flip=2"],
           "--augment flip=2")
    _fails(tmp_path, capsys, ["--data", folder], "--model")  # the MLP takes no images
    _fails(tmp_path, capsys, ["--image-size", "28,28"], "--image-size")


def test_sweep_trains_a_layers_model(tmp_path, capsys):
    path = _write_model(tmp_path / "cnn.json", _cnn((8, 8, 1), 10))
    out = tmp_path / "sweep"
    code = cli.main(["sweep", "--dataset", "digits", "--data-size", "200", "--model", path,
                     "--lr", "1e-3:1e-2", "--configs", "2", "--epochs", "1", "--no-plots",
                     "--out", str(out), "--save-best", str(tmp_path / "best")])
    assert code == 0
    assert "Sequential (64,) -> Reshape Conv" in capsys.readouterr().out
    best = saved.load_model(tmp_path / "best")
    assert best.model.layers[1:] == _cnn((8, 8, 1), 10).layers


# -- bad images: a folder with no images, an unreadable or truncated image, mixed sizes without
# --image-size, grayscale and colour mixed, an HDF5 file without the course's keys
def _save(path, pixels, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(pixels, np.uint8), mode=mode).save(path)
    return str(path)


def _folder(root, shape=(8, 8, 3), per_class=3):
    """Two class folders of good images of ``shape``."""
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        for i in range(per_class):
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            _save(root / label / f"{i}.png", pixels[..., 0] if shape[-1] == 1 else pixels)
    return root


def _bad_images(tmp_path, capsys, data, *named):
    _fails(tmp_path, capsys, ["--model", "lenet5", "--data", str(data)], *named)


def test_a_folder_with_no_images(tmp_path, capsys):
    root = tmp_path / "images"
    root.mkdir()
    _bad_images(tmp_path, capsys, root, str(root), "no class subfolders")
    (root / "cat").mkdir()
    (root / "cat" / "notes.txt").write_text("not an image")
    _bad_images(tmp_path, capsys, root, "'cat'", "holds no images")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_or_truncated_image(tmp_path, capsys, damage):
    root = _folder(tmp_path / "images")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
        buf, "PNG")
    body = buf.getvalue()[: len(buf.getvalue()) // 2] if damage == "truncated" else b"\x89PNG?!"
    (root / "b" / "cut.png").write_bytes(body)
    _bad_images(tmp_path, capsys, root, str(root / "b" / "cut.png"), "not a readable image")


def test_mixed_sizes_need_image_size(tmp_path, capsys):
    root = _folder(tmp_path / "images")
    _save(root / "b" / "big.png", np.zeros((10, 8, 3)))
    _bad_images(tmp_path, capsys, root, "big.png", "is 10x8", "--image-size H,W")
    # the fix works: with --image-size the same folder trains
    code = cli.main(["train", "--model", "lenet5", "--epochs", "1", "--no-plots",
                     "--data", str(root), "--image-size", "28,28", "--out", str(tmp_path / "ok")])
    assert code == 0


def test_grayscale_and_colour_mixed(tmp_path, capsys):
    root = _folder(tmp_path / "images")
    _save(root / "a" / "gray.png", np.zeros((8, 8)), mode="L")
    _bad_images(tmp_path, capsys, root, "gray.png", "mixes grayscale", "save them in one mode")


def test_hdf5_without_the_course_keys(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((4, 8, 8, 3), np.uint8)
        f["labels"] = np.zeros(4, np.int64)
    _bad_images(tmp_path, capsys, path, str(path), "train_set_x", "images")
