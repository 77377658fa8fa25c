"""Durable sweeps (jaxdl.sweep.state): a sweep killed with SIGKILL at a random chunk and resumed
equals an uninterrupted run bit for bit; SIGINT stops after a chunk and writes the table so far;
the metrics log holds one line per member and epoch; resuming a directory written by another
space or data fails before anything compiles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

from jaxdl.checkpoint import CheckpointError
from jaxdl.infra import dirlock
from jaxdl.nn import MLP
from jaxdl.sweep import buckets, engine, run_sweep, state, successive_halving
from jaxdl.train import Trainer

SETUP = """
import numpy as np
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, Space, Uniform
from jaxdl.train import Trainer

rng = np.random.default_rng(0)  # two overlapping blobs: 96 train, 32 validation samples
Y = rng.integers(0, 2, 128).astype(np.int32)
X = (rng.normal(size=(128, 2)) + 1.5 * Y[:, None]).astype(np.float32)
DATA = (X[:96], Y[:96], X[96:], Y[96:])
TRAINER = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
SPACE = Space(learning_rate=LogUniform(1e-3, 0.3), keep_prob=Uniform(0.6, 1.0))
KW = dict(trainer=TRAINER, n=6, min_epochs=1, max_epochs=9, eta=3, seed=1, patience=3)
"""
scope: dict = {}
exec(SETUP, scope)
DATA, TRAINER, SPACE, KW = (scope[k] for k in ("DATA", "TRAINER", "SPACE", "KW"))


@pytest.fixture(scope="module")
def reference():
    return successive_halving(SPACE, DATA, **KW)


def assert_same(got, want):
    assert got.status == want.status and got.epochs == want.epochs
    assert got.histories == want.histories and got.best_epoch == want.best_epoch
    leaves = jax.tree.leaves((got.params, got.model_state))
    for a, b in zip(leaves, jax.tree.leaves((want.params, want.model_state)), strict=True):
        np.testing.assert_array_equal(a, b)


def chunks_logged(directory):
    path = os.path.join(directory, state.METRICS_FILE)
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return len({(line["member"], line["epoch"]) for line in map(json.loads, f) if line})


def test_resume_after_sigkill_at_a_random_chunk_equals_the_uninterrupted_run(
    reference, tmp_path
):
    total = sum(len(h["epoch"]) for h in reference.histories)
    kill_after = int(np.random.default_rng().integers(1, total))  # metric lines seen, any chunk
    script = SETUP + textwrap.dedent(f"""
        from jaxdl.sweep import successive_halving
        successive_halving(SPACE, DATA, checkpoint_dir={str(tmp_path)!r}, **KW)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    try:
        while child.poll() is None and chunks_logged(tmp_path) < kill_after:
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # killed before the first snapshot, resume starts afresh (and cuts the log)
    got = successive_halving(SPACE, DATA, checkpoint_dir=tmp_path, resume=True, **KW)
    assert_same(got, reference)
    with open(tmp_path / state.METRICS_FILE) as f:
        lines = [json.loads(line) for line in f]
    assert len(lines) == total  # nothing logged twice, nothing lost
    by_member = {}
    for line in lines:
        by_member.setdefault(line["member"], []).append(line["epoch"])
    assert by_member == {i: h["epoch"] for i, h in enumerate(reference.histories)}


def test_sigint_stops_after_a_chunk_writes_the_table_and_resumes(reference, tmp_path, capsys):
    original = state.Journal.append
    calls = []

    def append(journal, lines):  # Ctrl-C arrives during the third chunk
        original(journal, lines)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state.Journal, "append", append)
        with pytest.raises(state.SweepInterrupted, match="resume=True") as err:
            successive_halving(SPACE, DATA, checkpoint_dir=tmp_path, **KW)
    assert "stopping after the current chunk" in capsys.readouterr().err
    so_far = err.value.results.histories  # three chunks: epochs 0, 1 and 2
    assert max(max(h["epoch"], default=-1) for h in so_far) == 2
    for got, want in zip(so_far, reference.histories):
        assert got["epoch"] == want["epoch"][: len(got["epoch"])]
    assert os.path.exists(tmp_path / state.TABLE_FILE)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(ValueError, match="already holds a sweep"):
        successive_halving(SPACE, DATA, checkpoint_dir=tmp_path, **KW)
    got = successive_halving(SPACE, DATA, checkpoint_dir=tmp_path, resume=True, **KW)
    assert_same(got, reference)


@pytest.fixture
def nothing_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before the input was checked")

    monkeypatch.setattr(engine, "compiled_epochs", boom)
    monkeypatch.setattr(buckets, "run_init_members", boom)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    directory = tmp_path_factory.mktemp("finished")
    configs = [{"learning_rate": 0.3}, {"learning_rate": 0.1}, {"learning_rate": 1e4}]
    results = run_sweep(configs, DATA, trainer=TRAINER, epochs=12, patience=1,
                        checkpoint_dir=directory)  # fmt: skip
    assert set(results.status) == {"early-stopped"}  # done before the budget: nothing to train
    return directory, configs, results


def test_a_finished_sweep_resumes_without_compiling(finished, nothing_compiles):
    directory, configs, results = finished
    got = run_sweep(configs, DATA, trainer=TRAINER, epochs=12, patience=1,
                    checkpoint_dir=directory, resume=True)  # fmt: skip
    assert_same(got, results)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"configs": [{"learning_rate": 0.2}, {"learning_rate": 0.1}, {"learning_rate": 1e4}]},
         "different configs"),
        ({"data": tuple(a[::-1].copy() for a in DATA)}, "different data"),
        ({"epochs": 13}, "different budget"),
        ({"trainer": Trainer(MLP((2, 4, 2)), batch_size=32)}, "different trainer"),
        ({"patience": 2}, "different early stopping"),
    ],
)
def test_resuming_another_sweep_fails_before_compiling(finished, nothing_compiles, change, message):
    directory, configs, _ = finished
    kwargs = {"configs": configs, "data": DATA, "trainer": TRAINER, "epochs": 12, "patience": 1,
              **change}  # fmt: skip
    with pytest.raises(CheckpointError, match=message):
        run_sweep(kwargs.pop("configs"), kwargs.pop("data"), checkpoint_dir=directory,
                  resume=True, **kwargs)  # fmt: skip


def test_resume_needs_a_directory(nothing_compiles):
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        run_sweep([{"learning_rate": 0.1}], DATA, trainer=TRAINER, resume=True)


def test_a_sweep_directory_in_use_is_refused_naming_its_owner(finished, nothing_compiles):
    directory, configs, results = finished
    held = dirlock.acquire(str(directory))  # as another live run would
    try:
        with pytest.raises(CheckpointError, match=f"in use by another run \\(PID {os.getpid()}"):
            run_sweep(configs, DATA, trainer=TRAINER, epochs=12, patience=1,
                      checkpoint_dir=directory, resume=True)  # fmt: skip
    finally:
        dirlock.release(held)
    # a sweep releases the directory when it ends, and the owner's release frees it
    for _ in range(2):
        got = run_sweep(configs, DATA, trainer=TRAINER, epochs=12, patience=1,
                        checkpoint_dir=directory, resume=True)  # fmt: skip
        assert_same(got, results)


def test_a_journal_that_failed_to_open_is_collected_quietly(tmp_path, monkeypatch):
    import gc

    from jaxdl.sweep.journal import Journal

    raised = []
    monkeypatch.setattr(sys, "unraisablehook", raised.append)
    with pytest.raises(TypeError, match="resume must be True or False"):
        Journal(str(tmp_path), {}, resume=1)
    gc.collect()
    assert raised == []  # no "Exception ignored in Journal.__del__"
