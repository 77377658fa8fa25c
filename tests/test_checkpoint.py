"""Checkpoint files and directory ownership: verified reads, locks, fallback, exact names."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from jaxdl import checkpoint
from jaxdl.checkpoint import CheckpointDir, CheckpointError, CorruptCheckpoint
from jaxdl.history import without_timing

TREE = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int32(4)}
FP = {"trainer": "mlp", "data": "abc"}


def write(directory, epochs=(0, 1, 2), fingerprint=FP, keep=3):
    with CheckpointDir(str(directory), fingerprint, keep=keep).open(resume=True) as store:
        for e in epochs:
            store.save(e, {k: v + e for k, v in TREE.items()}, {"epoch": e})


def test_round_trip_and_pruning_keeps_only_pattern_files(tmp_path):
    stray = tmp_path / "ckpt-backup.npz"
    stray.write_bytes(b"not mine")
    (tmp_path / "ckpt-12.npz").write_bytes(b"not mine either")
    write(tmp_path, epochs=range(5))
    names = [os.path.basename(p) for p in checkpoint.list_checkpoints(str(tmp_path))]
    assert names == ["ckpt-000002.npz", "ckpt-000003.npz", "ckpt-000004.npz"]
    assert stray.read_bytes() == b"not mine"
    with CheckpointDir(str(tmp_path), FP).open(resume=True) as store:
        tree, meta = store.restore(TREE)
    assert meta["epoch"] == 4 and meta["fingerprint"] == FP
    np.testing.assert_array_equal(tree["w"], TREE["w"] + 4)


def test_epochs_sort_numerically_past_six_digits(tmp_path):
    write(tmp_path, epochs=(999_999, 1_000_000), keep=None)
    assert checkpoint.list_checkpoints(str(tmp_path))[-1].endswith("ckpt-1000000.npz")


def test_second_owner_is_refused_with_the_first_pid(tmp_path):
    with CheckpointDir(str(tmp_path), FP).open(resume=True):
        with pytest.raises(CheckpointError, match=f"in use by another run \\(PID {os.getpid()}"):
            CheckpointDir(str(tmp_path), FP).open(resume=True)
    CheckpointDir(str(tmp_path), FP).open(resume=True).close()  # released on exit


def test_lock_held_by_another_process_then_stale_after_it_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from jaxdl.checkpoint import CheckpointDir; "
         f"d = CheckpointDir({str(tmp_path)!r}, {{}}).open(resume=True); print('held', "
         "flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointError, match=f"PID {holder.pid} on"):
            CheckpointDir(str(tmp_path), FP).open(resume=True)
    finally:
        holder.kill()
        holder.wait()
    # The lock file still names the dead process; its lock went with it.
    assert str(holder.pid) in (tmp_path / checkpoint.LOCK).read_text()
    with CheckpointDir(str(tmp_path), FP).open(resume=True):
        assert str(os.getpid()) in (tmp_path / checkpoint.LOCK).read_text()


def test_fresh_run_refuses_existing_checkpoints_unless_overwrite(tmp_path):
    write(tmp_path)
    with pytest.raises(CheckpointError, match="another run \\(differing in: data\\).*overwrite"):
        CheckpointDir(str(tmp_path), {**FP, "data": "other"}).open(resume=False)
    with pytest.raises(CheckpointError, match="this same setup.*resume=True"):
        CheckpointDir(str(tmp_path), FP).open(resume=False)
    with pytest.raises(ValueError, match="exclude each other"):
        CheckpointDir(str(tmp_path), FP).open(resume=True, overwrite=True)
    assert len(checkpoint.list_checkpoints(str(tmp_path))) == 3
    CheckpointDir(str(tmp_path), FP).open(resume=False, overwrite=True).close()
    assert checkpoint.list_checkpoints(str(tmp_path)) == []


def test_resume_refuses_another_setup_naming_the_difference(tmp_path):
    write(tmp_path)
    store = CheckpointDir(str(tmp_path), {**FP, "seed": "1"}).open(resume=True)
    with pytest.raises(CheckpointError, match="differing in: seed"):
        store.restore(TREE)
    store.close()


def test_stale_temporary_files_are_removed_at_start(tmp_path):
    write(tmp_path)
    stale = tmp_path / ".tmp-k1l2ckpt-000003.npz"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".tmp-abchistory.json"
    other.write_text("{")
    CheckpointDir(str(tmp_path), FP).open(resume=True).close()
    assert not stale.exists() and other.exists()


@pytest.mark.parametrize(
    "damage",
    ["truncate", "zero", "foreign", "no-checksum", "garbage", "empty"],
)
def test_every_damage_is_a_corrupt_checkpoint(tmp_path, damage):
    write(tmp_path, epochs=(0,))
    (path,) = checkpoint.list_checkpoints(str(tmp_path))
    data = open(path, "rb").read()
    if damage == "truncate":
        open(path, "wb").write(data[: len(data) // 2])
    elif damage == "zero":
        open(path, "wb").write(data[:400] + bytes(200) + data[600:])
    elif damage == "foreign":
        np.savez(path, a=np.ones(3))
    elif damage == "no-checksum":
        np.savez(path, leaf_0=np.ones(3), meta=np.frombuffer(b"{}", np.uint8))
    elif damage == "garbage":
        open(path, "wb").write(b"PK\x03\x04" + os.urandom(300))
    else:
        open(path, "wb").close()
    with pytest.raises(CorruptCheckpoint, match=os.path.basename(path)):
        checkpoint.read(path)


def test_bit_flips_never_escape_as_another_error(tmp_path):
    write(tmp_path, epochs=(0,))
    (path,) = checkpoint.list_checkpoints(str(tmp_path))
    data = bytearray(open(path, "rb").read())
    rng = np.random.default_rng(0)
    for bit in rng.choice(len(data) * 8, size=150, replace=False):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        open(path, "wb").write(flipped)
        try:
            tree = checkpoint.restore(path, TREE)[0]
        except CorruptCheckpoint:
            continue
        # A flip the zip format ignores (e.g. in a timestamp) must leave the arrays intact.
        np.testing.assert_array_equal(tree["w"], TREE["w"])


def test_fallback_skips_damaged_newer_checkpoints_with_a_warning(tmp_path):
    write(tmp_path)
    paths = checkpoint.list_checkpoints(str(tmp_path))
    for p in paths[1:]:
        with open(p, "r+b") as f:
            f.seek(os.path.getsize(p) // 2)  # inside an entry's data
            f.write(b"\xff" * 8)
    with CheckpointDir(str(tmp_path), FP).open(resume=True) as store:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tree, meta = store.restore(TREE)
    assert meta["epoch"] == 0
    assert [w.category for w in caught] == [checkpoint.CheckpointWarning] * 2
    assert "ckpt-000002.npz" in str(caught[0].message)
    with open(paths[0], "r+b") as f:
        f.truncate(50)
    with CheckpointDir(str(tmp_path), FP).open(resume=True) as store:
        with pytest.raises(CorruptCheckpoint, match="no intact checkpoint"):
            store.restore(TREE)


def test_content_hash_sees_values_dtype_and_shape():
    a = np.arange(6, dtype=np.float32)
    h = checkpoint.content_hash
    assert h(a) == h(a.copy())
    assert len({h(a), h(a + 1e-6), h(a.astype(np.float64)), h(a.reshape(2, 3)), h(a[::-1])}) == 5
    assert h(a, None) != h(a)


# -- through fit ---------------------------------------------------------------------------------
def _fit(tmp_path, x=None, **kwargs):
    from jaxdl.nn import MLP
    from jaxdl.train import Trainer, fit

    rng = np.random.default_rng(0)
    xs = rng.normal(size=(40, 3)).astype(np.float32) if x is None else x
    y = (xs[:, 0] > 0).astype(np.int32)
    kwargs = {"epochs": 2, "progress": False, "checkpoint_dir": str(tmp_path), **kwargs}
    return fit(Trainer(MLP((3, 4, 2)), batch_size=16), xs, y, validation=(xs, y), **kwargs)


def test_fit_owns_its_directory_and_checks_the_data(tmp_path):
    from jaxdl.early_stopping import EarlyStopping

    first = _fit(tmp_path)
    with pytest.raises(CheckpointError, match="this same setup.*resume=True"):
        _fit(tmp_path)
    noisy = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32) + 1e-3
    with pytest.raises(CheckpointError, match=r"differing in: data, validation\)"):
        _fit(tmp_path, x=noisy, epochs=3, resume=True)
    with pytest.raises(CheckpointError, match=r"differing in: early_stopping\)"):
        _fit(tmp_path, epochs=3, resume=True, early_stopping=EarlyStopping(patience=2))
    assert _fit(tmp_path, resume=True).history == first.history  # nothing left to train
    again = _fit(tmp_path, overwrite=True)
    assert without_timing(again.history) == without_timing(first.history)
    assert len(checkpoint.list_checkpoints(str(tmp_path))) == 2


def test_the_directory_is_synced_after_each_rename(tmp_path):
    from unittest import mock

    from jaxdl.infra import atomic

    with mock.patch.object(atomic, "fsync_directory", wraps=atomic.fsync_directory) as synced:
        write(tmp_path, epochs=(0, 1))
    assert [c.args for c in synced.call_args_list] == [(str(tmp_path),)] * 2


def test_a_failed_write_names_the_file_and_leaves_nothing_behind(tmp_path):
    import errno
    from unittest import mock

    write(tmp_path, epochs=(0,))
    before = sorted(os.listdir(tmp_path))
    full = OSError(errno.ENOSPC, "No space left on device")
    with mock.patch("numpy.savez", side_effect=full):
        with pytest.raises(OSError, match="cannot write .*ckpt-000001.npz: No space left") as info:
            write(tmp_path, epochs=(1,))
    assert info.value.filename.endswith("ckpt-000001.npz")
    assert sorted(os.listdir(tmp_path)) == before
    checkpoint.read(checkpoint.list_checkpoints(str(tmp_path))[-1])


def _forge(path, arrays, compressed=False):
    """A checkpoint file with a consistent checksum, as anyone could write one."""
    arrays = {**arrays, checkpoint.CHECKSUM: checkpoint.file_format._checksum(arrays)}
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return str(path)


def test_forged_checkpoints_are_corrupt_not_crashes(tmp_path):
    meta = np.frombuffer(b"[1, 2]", np.uint8)
    path = _forge(tmp_path / "ckpt-000001.npz", {"leaf_0": np.ones(2), checkpoint.META: meta})
    with pytest.raises(CorruptCheckpoint, match="metadata that is not an object"):
        checkpoint.read(path)
    meta = np.frombuffer(b"{}", np.uint8)
    zeros = np.zeros(1 << 20, np.uint8)  # 1 MiB that deflates to about 1 KiB
    path = _forge(tmp_path / "ckpt-000002.npz", {"leaf_0": zeros, checkpoint.META: meta},
                  compressed=True)
    with pytest.raises(CorruptCheckpoint, match="unpacks to .* it is compressed"):
        checkpoint.read(path)
