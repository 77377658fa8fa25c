"""Bad image input to ``jaxdl train``: a folder with no images, an unreadable or truncated image,
mixed sizes without ``--image-size``, grayscale and colour mixed, an HDF5 file without the
course's keys. Each is one ``jaxdl: error:`` line naming the file or folder and the fix, exit
status 2, and neither ``--out`` nor ``--save`` written. (A model config with an unknown layer or
a shape that does not fit the data: tests/test_cli_models.py.)"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from jaxdl import cli

Image = pytest.importorskip("PIL.Image")


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


def _fails(tmp_path, capsys, argv, *named):
    out, model = tmp_path / "out", tmp_path / "model"
    code = cli.main(["train", "--model", "lenet5", "--epochs", "1", "--no-plots",
                     "--out", str(out), "--save", str(model), *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxdl: error:"), err
    for text in named:
        assert text in lines[0], lines[0]
    assert "Traceback" not in err
    assert not out.exists() and not model.exists()
    return lines[0]


def test_a_folder_with_no_images(tmp_path, capsys):
    root = tmp_path / "images"
    root.mkdir()
    _fails(tmp_path, capsys, ["--data", str(root)], str(root), "no class subfolders")
    (root / "cat").mkdir()
    (root / "cat" / "notes.txt").write_text("not an image")
    _fails(tmp_path, capsys, ["--data", str(root)], "'cat'", "holds no images")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_or_truncated_image(tmp_path, capsys, damage):
    root = _folder(tmp_path / "images")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
        buf, "PNG")
    body = buf.getvalue()[: len(buf.getvalue()) // 2] if damage == "truncated" else b"\x89PNG?!"
    (root / "b" / "cut.png").write_bytes(body)
    _fails(tmp_path, capsys, ["--data", str(root)], str(root / "b" / "cut.png"),
           "not a readable image")


def test_mixed_sizes_need_image_size(tmp_path, capsys):
    root = _folder(tmp_path / "images")
    _save(root / "b" / "big.png", np.zeros((10, 8, 3)))
    _fails(tmp_path, capsys, ["--data", str(root)], "big.png", "is 10x8", "--image-size H,W")
    # the fix works: with --image-size the same folder trains
    code = cli.main(["train", "--model", "lenet5", "--epochs", "1", "--no-plots",
                     "--data", str(root), "--image-size", "28,28", "--out", str(tmp_path / "ok")])
    assert code == 0


def test_grayscale_and_colour_mixed(tmp_path, capsys):
    root = _folder(tmp_path / "images")
    _save(root / "a" / "gray.png", np.zeros((8, 8)), mode="L")
    _fails(tmp_path, capsys, ["--data", str(root)], "gray.png", "mixes grayscale",
           "save them in one mode")


def test_hdf5_without_the_course_keys(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((4, 8, 8, 3), np.uint8)
        f["labels"] = np.zeros(4, np.int64)
    _fails(tmp_path, capsys, ["--data", str(path)], str(path), "train_set_x", "images")
