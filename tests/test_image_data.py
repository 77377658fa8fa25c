"""Image data: IDX (MNIST) and CIFAR-10 binary readers, image folders, course HDF5 files, the
catalog of public data sets. Every file here is made by the test in the real format, with an
independent numpy writer; nothing is downloaded."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import tarfile

import numpy as np
import pytest

from jaxdl.data import catalog, cifar
from jaxdl.data.catalog import image_dataset, load_images
from jaxdl.data.download import DownloadError
from jaxdl.data.idx import parse_idx, read_idx, read_idx_images
from jaxdl.data.images import (
    ImageSet,
    MissingPackage,
    as_dataset,
    folder_dataset,
    h5_dataset,
    load_h5,
    read_h5,
    read_image_folder,
    validation_split,
)
from jaxdl.infra.untrusted import UntrustedFileError

_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D,
          "float64": 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    """The IDX encoding of ``a``, written from the format's description."""
    header = bytes([0, 0, _CODES[a.dtype.name], a.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


# -- IDX ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", list(_CODES))
def test_idx_round_trip_every_type(dtype):
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    got = parse_idx(idx_bytes(a))
    assert got.dtype == a.dtype and got.shape == a.shape
    np.testing.assert_array_equal(got, a)


def test_read_idx_gzip_and_plain(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(idx_bytes(a))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.gz"), a)


@pytest.mark.parametrize("mangle, match", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "extra bytes"),
    (lambda b: b"\x01" + b[1:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
    (lambda b: b[:9], "truncated IDX header"),
    (lambda b: b[:3], "too short"),
    (lambda b: gzip.compress(b)[:-6], "gzip data is truncated"),
    (lambda b: b"\x1f\x8b" + b"garbage" * 3, "not valid gzip"),
    (lambda b: gzip.compress(b) + b"<html>", "bytes of other data follow"),
])
def test_read_idx_refuses_damaged_files(tmp_path, mangle, match):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mangle(idx_bytes(np.zeros((2, 3, 3), np.uint8))))
    with pytest.raises(ValueError, match=match) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_refuses_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UntrustedFileError, match="FIFO"):
        read_idx(tmp_path / "fifo")


def write_mnist(folder, x_train, y_train, x_test, y_test) -> None:
    names = [remote.filename for remote in catalog.SOURCES["mnist"].files]
    arrays = (x_train, y_train, x_test, y_test)
    os.makedirs(folder, exist_ok=True)
    for name, a in zip(names, arrays):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(gzip.compress(idx_bytes(a)))


def test_read_idx_images_shapes_and_checks(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (5, 6, 7), dtype=np.uint8)
    y = rng.integers(0, 10, 5).astype(np.uint8)
    (tmp_path / "x.gz").write_bytes(gzip.compress(idx_bytes(x)))
    (tmp_path / "y.gz").write_bytes(gzip.compress(idx_bytes(y)))
    xs, ys = read_idx_images(tmp_path / "x.gz", tmp_path / "y.gz")
    assert xs.shape == (5, 6, 7, 1) and xs.dtype == np.uint8 and ys.dtype == np.int32
    np.testing.assert_array_equal(xs[..., 0], x)
    np.testing.assert_array_equal(ys, y)
    with pytest.raises(ValueError, match="expected uint8 images of shape"):
        read_idx_images(tmp_path / "y.gz", tmp_path / "y.gz")
    with pytest.raises(ValueError, match="expected uint8 labels"):
        read_idx_images(tmp_path / "x.gz", tmp_path / "x.gz")
    (tmp_path / "y4.gz").write_bytes(gzip.compress(idx_bytes(y[:4])))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        read_idx_images(tmp_path / "x.gz", tmp_path / "y4.gz")
    (tmp_path / "y_bad.gz").write_bytes(gzip.compress(idx_bytes(np.full(5, 10, np.uint8))))
    with pytest.raises(ValueError, match="label 10 is not a class index 0..9"):
        read_idx_images(tmp_path / "x.gz", tmp_path / "y_bad.gz")


# -- CIFAR-10 ---------------------------------------------------------------------------------
def cifar_records(x: np.ndarray, y: np.ndarray) -> bytes:
    """CIFAR-10 binary records: the label byte, then the red, green and blue planes."""
    planes = x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    return np.concatenate([y.astype(np.uint8)[:, None], planes], axis=1).tobytes()


def cifar_parts(seed=0, n=3):
    rng = np.random.default_rng(seed)
    parts = {}
    for name in (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH):
        x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, n)
        parts[name] = (x, y)
    return parts


def write_cifar_tar(path, parts, *, meta=True, mangle=None, skip=()) -> None:
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, (x, y) in parts.items():
            if name in skip:
                continue
            data = cifar_records(x, y)
            add(name, mangle(name, data) if mangle else data)
        if meta:
            add("batches.meta.txt", "\n".join(f"c{i}" for i in range(10)).encode() + b"\n\n")


def test_cifar_archive_matches_the_numpy_reference(tmp_path):
    parts = cifar_parts()
    path = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_tar(path, parts)
    data = cifar.read_cifar10(path)
    x_train = np.concatenate([parts[b][0] for b in cifar.TRAIN_BATCHES])
    y_train = np.concatenate([parts[b][1] for b in cifar.TRAIN_BATCHES])
    np.testing.assert_array_equal(data.x_train, x_train)
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.x_test, parts[cifar.TEST_BATCH][0])
    np.testing.assert_array_equal(data.y_test, parts[cifar.TEST_BATCH][1])
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int32
    assert data.class_names == tuple(f"c{i}" for i in range(10))


def test_cifar_pixel_layout_is_hwc():
    x = np.zeros((1, 32, 32, 3), np.uint8)
    x[0, 1, 2] = (11, 22, 33)  # row 1, column 2: red 11, green 22, blue 33
    record = cifar_records(x, np.array([4]))
    assert record[1 + 32 + 2] == 11 and record[1 + 1024 + 32 + 2] == 22
    got, y = cifar.parse_batch(record, "b")
    assert got[0, 1, 2].tolist() == [11, 22, 33] and y.tolist() == [4]


def test_cifar_extracted_folder(tmp_path):
    parts = cifar_parts(1, 2)
    for name, (x, y) in parts.items():
        (tmp_path / name).write_bytes(cifar_records(x, y))
    data = cifar.read_cifar10(tmp_path)
    np.testing.assert_array_equal(data.x_test, parts[cifar.TEST_BATCH][0])
    assert data.class_names == cifar.CLASSES and len(data.y_train) == 10


@pytest.mark.parametrize("kwargs, match", [
    ({"mangle": lambda n, d: d[:-1] if n == "data_batch_3.bin" else d},
     "data_batch_3.bin: .* not a whole number"),
    ({"mangle": lambda n, d: b"\x0a" + d[1:] if n == "test_batch.bin" else d},
     "test_batch.bin: label 10"),
    ({"skip": ("test_batch.bin",)}, "test_batch.bin missing"),
])
def test_cifar_refuses_damaged_archives(tmp_path, kwargs, match):
    path = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_tar(path, cifar_parts(), **kwargs)
    with pytest.raises(ValueError, match=match) as err:
        cifar.read_cifar10(path)
    assert str(path) in str(err.value)


def test_cifar_refuses_truncated_or_garbage_archives(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    write_cifar_tar(path, cifar_parts())
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="truncated.*download it again"):
        cifar.read_cifar10(path)
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 archive"):
        cifar.read_cifar10(path)


def test_cifar_ignores_links_with_batch_names(tmp_path):
    path = tmp_path / "c.tar"
    parts = cifar_parts()
    with tarfile.open(path, "w") as tar:
        for name, (x, y) in parts.items():
            if name == "data_batch_1.bin":
                info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
                continue
            data = cifar_records(x, y)
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match="data_batch_1.bin missing"):
        cifar.read_cifar10(path)


# -- the catalog ------------------------------------------------------------------------------
def _mnist_fixture(folder, seed=0):
    rng = np.random.default_rng(seed)
    arrays = (rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, 6).astype(np.uint8),
              rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              rng.integers(0, 10, 2).astype(np.uint8))
    write_mnist(folder, *arrays)
    return arrays


def _use_fixture_sums(monkeypatch, name, folder):
    """Point the catalog's checksums for ``name`` at the fixture files in ``folder``."""
    source = catalog.SOURCES[name]
    files = tuple(catalog.Remote(r.filename, os.path.getsize(os.path.join(folder, r.filename)),
                                 hashlib.sha256(open(os.path.join(folder, r.filename), "rb")
                                                .read()).hexdigest())
                  for r in source.files)
    monkeypatch.setitem(catalog.SOURCES, name, source._replace(files=files))


def test_load_images_from_the_cache_without_network(tmp_path, monkeypatch):
    arrays = _mnist_fixture(tmp_path / "mnist")
    _use_fixture_sums(monkeypatch, "mnist", tmp_path / "mnist")
    data = load_images("mnist", tmp_path, base_url="http://127.0.0.1:9/")  # port 9: nothing
    np.testing.assert_array_equal(data.x_train[..., 0], arrays[0])
    np.testing.assert_array_equal(data.y_train, arrays[1])
    np.testing.assert_array_equal(data.x_test[..., 0], arrays[2])
    np.testing.assert_array_equal(data.y_test, arrays[3])
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.class_names == tuple("0123456789")


def test_load_images_offline_names_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXDL_DATA_DIR", str(tmp_path))
    with pytest.raises(DownloadError) as err:
        load_images("fashion_mnist", base_url="http://127.0.0.1:9/", timeout=5)
    message = str(err.value)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz") in message
    assert "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84" in message


def test_load_images_unknown_name():
    with pytest.raises(ValueError, match="valid names: mnist, fashion_mnist, cifar10"):
        load_images("imagenet")


def test_catalog_sums_are_well_formed():
    for name, source in catalog.SOURCES.items():
        assert source.mirrors and all(m.startswith(("http://", "https://")) for m in
                                      source.mirrors), name
        assert len(source.class_names) == 10
        for remote in source.files:
            assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0
            assert remote.size > 0
    assert len({r.sha256 for s in catalog.SOURCES.values() for r in s.files}) == 9


def test_validation_split_is_stratified_and_partitions():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = validation_split(y, 0.1, seed=3)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(100))
    assert np.bincount(y[val]).tolist() == [5, 3, 2]
    again = validation_split(y, 0.1, seed=3)
    np.testing.assert_array_equal(again[1], val)
    with pytest.raises(ValueError, match="empty split"):
        validation_split(np.array([0, 1]), 0.1)


def test_as_dataset_keeps_uint8_pixels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 3, 3, 1), dtype=np.uint8)
    y = np.arange(40) % 4
    data = as_dataset(ImageSet(x, y, x[:8], y[:8], tuple("abcd")), "toy", val_fraction=0.25)
    assert data.x_train.dtype == np.uint8
    # the per-channel statistics of the training split, for layers.Standardized to apply
    pixels = data.x_train.reshape(-1, 1).astype(np.float64)
    np.testing.assert_allclose(data.stats.mean, pixels.mean(axis=0))
    np.testing.assert_allclose(data.stats.std, pixels.std(axis=0))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (30, 10, 8)
    rows = {r.tobytes() for r in np.concatenate([data.x_train, data.x_val])}
    assert rows == {r.tobytes() for r in x}
    assert data.class_names == tuple("abcd") and data.num_classes == 4


# -- folders of images ------------------------------------------------------------------------
def _pil():
    return pytest.importorskip("PIL.Image", reason="Pillow is not installed")


def _save(path, array, mode=None):
    Image = _pil()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_folder_matches_the_pixels_written(tmp_path):
    rng = np.random.default_rng(0)
    images = {("cat", "b.png"): rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
              ("cat", "a.png"): rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
              ("dog", "deep/c.png"): rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)}
    for (cls, name), a in images.items():
        _save(tmp_path / cls / name, a)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "cat" / ".hidden.png").write_bytes(b"junk")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    data = read_image_folder(tmp_path)
    assert data.class_names == ("cat", "dog")
    assert data.y.tolist() == [0, 0, 1] and data.y.dtype == np.int32
    assert data.x.dtype == np.uint8 and data.x.shape == (3, 5, 4, 3)
    order = [("cat", "a.png"), ("cat", "b.png"), ("dog", "deep/c.png")]
    np.testing.assert_array_equal(data.x, np.stack([images[k] for k in order]))
    assert data.paths[2] == str(tmp_path / "dog" / "deep" / "c.png")


def test_folder_resize_and_colour_modes(tmp_path):
    _save(tmp_path / "a" / "1.png", np.full((8, 6), 77, np.uint8))  # grayscale
    _save(tmp_path / "b" / "2.png", np.full((4, 4, 3), (10, 200, 30), np.uint8))
    with pytest.raises(ValueError, match=r"mixes grayscale images \(.*1.png\) and colour "
                                         r"images \(.*2.png\).*color_mode"):
        read_image_folder(tmp_path, (3, 5))
    rgb = read_image_folder(tmp_path, (3, 5), color_mode="rgb")
    assert rgb.x.shape == (2, 3, 5, 3)
    assert np.all(rgb.x[0] == 77) and np.all(rgb.x[1] == (10, 200, 30))
    gray = read_image_folder(tmp_path, (3, 5), color_mode="grayscale")
    assert gray.x.shape == (2, 3, 5, 1)
    luma = (10 * 299 + 200 * 587 + 30 * 114) / 1000  # ITU-R 601-2, Pillow's "L"
    assert np.all(np.abs(gray.x[1].astype(float) - luma) <= 1)


def test_folder_alpha_is_dropped(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = (1, 2, 3), 9
    _save(tmp_path / "a" / "x.png", rgba, "RGBA")
    data = read_image_folder(tmp_path)
    assert data.x.shape == (1, 2, 2, 3) and np.all(data.x == (1, 2, 3))


def test_folder_mixed_sizes_need_a_size(tmp_path):
    _save(tmp_path / "a" / "1.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "a" / "2.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"differ in size .*1.png is 4x4, .*2.png is 5x4.*size="):
        read_image_folder(tmp_path)
    assert read_image_folder(tmp_path, size=(4, 4)).x.shape == (2, 4, 4, 3)


def test_folder_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no class subfolders"):
        read_image_folder(tmp_path)
    _save(tmp_path / "loose.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="lie directly in it"):
        read_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="class folder 'empty' holds no images"):
        read_image_folder(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        read_image_folder(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="size must be"):
        read_image_folder(tmp_path, size=(0, 3))
    with pytest.raises(ValueError, match="color_mode must be"):
        read_image_folder(tmp_path, color_mode="RGB")


def test_folder_truncated_garbage_and_special_files(tmp_path):
    Image = _pil()
    _save(tmp_path / "a" / "good.png", np.zeros((8, 8, 3), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buf, "PNG")
    bad = tmp_path / "b" / "cut.png"
    bad.parent.mkdir()
    bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ValueError, match=r"cut.png: not a readable image, or truncated"):
        read_image_folder(tmp_path)
    bad.write_bytes(b"GIF89a garbage")
    with pytest.raises(ValueError, match="cut.png: not a readable image"):
        read_image_folder(tmp_path)
    tiff = io.BytesIO()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tiff, "TIFF")
    bad.write_bytes(tiff.getvalue())  # a format outside the four is not decoded
    with pytest.raises(ValueError, match="cut.png: not a readable image"):
        read_image_folder(tmp_path)
    bad.unlink()
    os.mkfifo(tmp_path / "b" / "pipe.png")
    with pytest.raises(UntrustedFileError, match="FIFO"):
        read_image_folder(tmp_path)
    (tmp_path / "b" / "pipe.png").unlink()
    Image.fromarray(np.zeros((2, 2), np.uint16)).save(tmp_path / "b" / "deep.png")
    with pytest.raises(ValueError, match="deep.png: image mode .* not supported"):
        read_image_folder(tmp_path)


def test_folder_without_pillow(tmp_path, monkeypatch):
    _pil()
    _save(tmp_path / "a" / "1.png", np.zeros((2, 2), np.uint8))
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingPackage, match=r"needs Pillow.*pip install 'jaxdl\[images\]'"):
        read_image_folder(tmp_path)


# -- HDF5 in the course's layout --------------------------------------------------------------
@pytest.fixture
def h5py():
    return pytest.importorskip("h5py", reason="h5py is not installed")


def _course_files(h5py, folder, m_train=4, m_test=2):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (m_train, 6, 6, 3), dtype=np.uint8)
    y_train = rng.integers(0, 2, m_train)
    x_test = rng.integers(0, 256, (m_test, 6, 6, 3), dtype=np.uint8)
    y_test = rng.integers(0, 2, m_test)
    with h5py.File(folder / "train_catvnoncat.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = x_train, y_train
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    with h5py.File(folder / "test_catvnoncat.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = x_test, y_test.reshape(1, -1)
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    return x_train, y_train, x_test, y_test


def test_course_h5_files(tmp_path, h5py):
    x_train, y_train, x_test, y_test = _course_files(h5py, tmp_path)
    data = load_h5(tmp_path / "train_catvnoncat.h5", tmp_path / "test_catvnoncat.h5")
    np.testing.assert_array_equal(data.x_train, x_train)
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.x_test, x_test)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.class_names == ("non-cat", "cat") and data.y_test.dtype == np.int32
    with pytest.raises(ValueError, match="has no test_set_x / test_set_y; pass the test file"):
        load_h5(tmp_path / "train_catvnoncat.h5")
    with pytest.raises(ValueError, match="has no train_set_x"):
        load_h5(tmp_path / "test_catvnoncat.h5")


def test_h5_without_the_course_keys(tmp_path, h5py):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match=r"other.h5: not in the course's layout.*holds images"):
        read_h5(path)
    with h5py.File(path, "a") as f:
        f["train_set_x"] = np.zeros((2, 2, 2, 3), np.uint8)
    with pytest.raises(ValueError, match="has train_set_x but not train_set_y"):
        read_h5(path)


def test_h5_bad_content(tmp_path, h5py):
    path = tmp_path / "train.h5"
    path.write_text("not hdf5")
    with pytest.raises(ValueError, match="train.h5: not a readable HDF5 file"):
        read_h5(path)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["x"] = np.zeros((2, 2, 2, 3), np.uint8)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = h5py.ExternalLink("data.h5", "/x")
        f["train_set_y"] = np.array([0, 1])
    with pytest.raises(ValueError, match="train_set_x is a link"):
        read_h5(path)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = np.zeros((2, 2, 2, 3), np.uint8)
        f["train_set_y"] = np.array([0, 2])
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    with pytest.raises(ValueError, match="label 2 but list_classes names only 2"):
        read_h5(path)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = np.zeros((2, 2, 2, 3), np.float32) + 0.5
        f["train_set_y"] = np.array([0, 1])
    with pytest.raises(ValueError, match="integer pixels"):
        read_h5(path)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = np.zeros((2, 2, 2, 3), np.uint8)
        f["train_set_y"] = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="must hold 2 labels"):
        read_h5(path)


def test_h5_without_h5py(tmp_path, monkeypatch, h5py):
    _course_files(h5py, tmp_path)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(MissingPackage, match=r"needs h5py.*jaxdl\[images\]"):
        read_h5(tmp_path / "train_catvnoncat.h5")


# -- as a Dataset -----------------------------------------------------------------------------
def test_image_dataset_subset_and_split(tmp_path, monkeypatch):
    arrays = _mnist_fixture(tmp_path / "mnist")
    _use_fixture_sums(monkeypatch, "mnist", tmp_path / "mnist")
    data = image_dataset("mnist", n=5, val_fraction=0.2, seed=1, cache_dir=tmp_path,
                         base_url="http://127.0.0.1:9/")
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (4, 1, 2)
    train_rows = {r.tobytes() for r in arrays[0]}
    assert {r.tobytes() for r in np.concatenate([data.x_train, data.x_val])[..., 0]} <= train_rows
    np.testing.assert_array_equal(data.x_test[..., 0], arrays[2])
    assert data.name == "mnist" and data.num_classes == 10 and data.x_train.dtype == np.uint8
    np.testing.assert_allclose(data.stats.mean, [data.x_train.astype(np.float64).mean()])
    with pytest.raises(ValueError, match=r"n must be an int in 1..6"):
        image_dataset("mnist", n=7, cache_dir=tmp_path, base_url="http://127.0.0.1:9/")


def test_folder_dataset_is_a_stratified_split(tmp_path):
    rng = np.random.default_rng(0)
    for cls, count in (("a", 10), ("b", 5)):
        for i in range(count):
            _save(tmp_path / cls / f"{i}.png", rng.integers(0, 256, (3, 3, 3), dtype=np.uint8))
    data = folder_dataset(tmp_path, val_fraction=0.2, test_fraction=0.2, seed=2)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (9, 3, 3)
    assert np.bincount(data.y_test, minlength=2).tolist() == [2, 1]
    folder = read_image_folder(tmp_path)
    train, val, test = data.rows
    np.testing.assert_array_equal(data.x_val, folder.x[val])
    assert sorted(np.concatenate(data.rows).tolist()) == list(range(15))
    assert data.name == tmp_path.name and data.class_names == ("a", "b")


def test_h5_dataset(tmp_path, h5py):
    x_train, y_train, x_test, y_test = _course_files(h5py, tmp_path, m_train=10)
    data = h5_dataset(tmp_path / "train_catvnoncat.h5", tmp_path / "test_catvnoncat.h5",
                      val_fraction=0.2)
    assert (len(data.y_train), len(data.y_val)) == (8, 2)
    np.testing.assert_array_equal(data.x_test, x_test)
    assert data.name == "train_catvnoncat" and data.class_names == ("non-cat", "cat")
