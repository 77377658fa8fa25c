"""scripts/examples/image_recipe.py --quick, end to end: ``jaxdl.data.load("fashion_mnist")``
downloads small files in Fashion-MNIST's own format (gzip'd IDX, made here) from a server on
127.0.0.1, checks their sums, and the recipe's sweep learns the fixture's classes."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import os
import sys
import threading

import numpy as np
import pytest

import jaxdl
from jaxdl.data import catalog

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "examples"))

import image_recipe  # noqa: E402

CLASSES = 4  # of Fashion-MNIST's 10 labels, the fixture uses 0..3


def idx_gz(a: np.ndarray) -> bytes:
    """Gzip'd IDX bytes of a uint8 array, written from the format's description."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return gzip.compress(header + a.astype(np.uint8).tobytes())


def images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 28x28 images whose class ``k`` is a bright band of rows ``7k .. 7k + 6`` (a band
    survives a mirror and a shift by a few pixels, the recipe's augmentation)."""
    y = np.arange(n) % CLASSES
    rng.shuffle(y)
    x = rng.integers(0, 90, (n, 28, 28)).astype(np.int32)
    for k in range(CLASSES):
        x[y == k, 7 * k:7 * k + 7, :] += 150
    return x.clip(0, 255).astype(np.uint8), y.astype(np.uint8)


@pytest.fixture
def fashion_server(tmp_path, monkeypatch):
    """Fixture files served on 127.0.0.1 as the only Fashion-MNIST mirror (sums patched to
    theirs), and an empty cache folder."""
    rng = np.random.default_rng(0)
    (x_train, y_train), (x_test, y_test) = images(240, rng), images(80, rng)
    served = tmp_path / "served"
    served.mkdir()
    source = catalog.SOURCES["fashion_mnist"]
    remotes = []
    for remote, array in zip(source.files, (x_train, y_train, x_test, y_test)):
        body = idx_gz(array)
        (served / remote.filename).write_bytes(body)
        remotes.append(catalog.Remote(remote.filename, len(body), hashlib.sha256(body).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setitem(catalog.SOURCES, "fashion_mnist",
                        source._replace(mirrors=(url,), files=tuple(remotes)))
    cache = tmp_path / "cache"
    monkeypatch.setenv("JAXDL_DATA_DIR", str(cache))
    yield cache
    server.shutdown()
    server.server_close()


def test_quick_recipe_downloads_and_learns(fashion_server, tmp_path, capsys):
    out = tmp_path / "recipe.json"
    result = image_recipe.main(["--quick", "--n", "240", "--epochs", "5", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    # the files were downloaded into the cache and checked
    assert sorted(os.listdir(fashion_server / "fashion_mnist")) == sorted(
        r.filename for r in catalog.SOURCES["fashion_mnist"].files)
    assert (result["num_train"], result["num_val"], result["num_test"]) == (216, 24, 80)
    assert [row["learning_rate"] for row in result["sweep"]] != []
    assert sorted(row["learning_rate"] for row in result["sweep"]) == [3e-3, 1e-2]
    best = result["sweep"][0]
    assert best["val_accuracy"] == max(row["val_accuracy"] for row in result["sweep"])
    assert result["learning_rate"] == best["learning_rate"]
    assert 1 <= result["epochs_run"] <= 5 and 0 <= result["best_epoch"] < result["epochs_run"]
    assert result["test_accuracy"] > 0.6, result  # 4 classes: chance is 0.25
    # the pixels stay uint8; the model standardizes them with the training split's channel
    # statistics (the 216 training images of the seeded validation split)
    assert result["input_dtype"] == "uint8"
    data = jaxdl.data.load("fashion_mnist", n=240, val_fraction=0.1, seed=0)
    pixels = data.x_train.astype(np.float64)
    np.testing.assert_allclose(result["channel_mean"], [pixels.mean()], rtol=1e-12)
    np.testing.assert_allclose(result["channel_std"], [pixels.std()], rtol=1e-12)
    assert "test accuracy" in capsys.readouterr().out


def test_build_puts_the_data_sets_augmentation_in_front():
    from jaxdl.layers.augment import RandomCrop, RandomFlip
    from jaxdl.layers.presets import lenet5

    net = image_recipe.build("mnist", "lenet5", True, (28, 28, 1), 10)
    assert net.layers[0] == RandomCrop(3)  # no flip: a mirrored digit is another symbol
    assert list(net.layers[1:]) == list(lenet5((28, 28, 1), 10).layers)
    net = image_recipe.build("cifar10", "recipe", True, (32, 32, 3), 10)
    assert list(net.layers[:2]) == [RandomFlip(0.5), RandomCrop(4)]
    assert net.output_shape == (10,)
    plain = image_recipe.build("cifar10", "small_vgg", False, (32, 32, 3), 10)
    assert not any(isinstance(layer, RandomFlip | RandomCrop) for layer in plain.layers)
