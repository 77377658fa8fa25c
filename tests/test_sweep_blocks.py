"""jaxdl.sweep.blocks: a device's members trained in cache-sized blocks (a ``lax.map`` over
blocks of a ``vmap``) give the results of one vmapped pass, padded blocks included, and
members, epochs and records keep their order."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.sweep import blocks, run_sweep
from jaxdl.train import Trainer

DATA = datasets.load("moons", n=150, seed=1)  # 90 train, 30 validation
TRAINER = Trainer(MLP((2, 8, 2), dropout=True), optimizer="sgd", batch_size=32)
# 10 members: two diverge (learning rate 1e4), others stop early (patience 2)
CONFIGS = [{"learning_rate": lr, "keep_prob": kp}
           for lr in (0.03, 0.3, 1.0, 3.0, 1e4) for kp in (0.7, 1.0)]


@pytest.fixture
def fresh_programs():
    """The sweep's programs traced anew (the block size is read at trace time)."""
    jax.clear_caches()
    yield
    jax.clear_caches()


_ONE_PASS: dict = {}  # per_member_seeds -> the unblocked sweep, shared by both block sizes


@pytest.mark.slow
@pytest.mark.parametrize("block", [3, 5])  # 4 blocks, the last padded; 2 even blocks
@pytest.mark.parametrize("per_member_seeds", [False, True])
def test_blocks_equal_one_pass(monkeypatch, fresh_programs, block, per_member_seeds):
    kw = {"trainer": TRAINER, "epochs": 4, "patience": 2, "epochs_per_call": 2}
    kw.update({"seeds": list(range(len(CONFIGS)))} if per_member_seeds else {"seed": 3})
    if per_member_seeds not in _ONE_PASS:  # the one pass does not depend on the block size
        _ONE_PASS[per_member_seeds] = run_sweep(CONFIGS, DATA, **kw)
    whole = _ONE_PASS[per_member_seeds]
    asked = []

    def fixed(members, member_bytes, cpu):
        asked.append((members, member_bytes, cpu))
        return block

    monkeypatch.setattr(blocks, "block_size", fixed)
    jax.clear_caches()
    blocked = run_sweep(CONFIGS, DATA, **kw)
    assert asked and asked[0][0] == len(CONFIGS) and asked[0][2] is True
    assert asked[0][1] > 2 * 4 * (2 * 8 + 8 * 2)  # parameters and best parameters
    assert blocked.status == whole.status and blocked.best_epoch == whole.best_epoch
    assert "diverged" in whole.status
    for h, g in zip(whole.histories, blocked.histories, strict=True):
        assert h.keys() == g.keys() and h["epoch"] == g["epoch"]
        for k in h:
            np.testing.assert_allclose(h[k], g[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for x, y in zip(jax.tree.leaves(whole.params), jax.tree.leaves(blocked.params), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("block", [1, 2, 3, 4, 7])
def test_in_blocks_keeps_members_and_epochs_in_order(block):
    members = {"w": jnp.arange(14.0).reshape(7, 2), "k": jnp.arange(7)}

    def fn(m, scale):  # state (members, 2); record (3 epochs, members)
        record = {"x": jnp.stack([m["w"].sum(1) * e for e in range(3)]), "k": m["k"] + 0 * m["k"]}
        return m["w"] * scale, {"x": record["x"], "k": jnp.stack([record["k"]] * 3)}

    state, record = blocks.in_blocks(fn, block, members, 2.0)
    want_state, want_record = fn(members, 2.0)
    np.testing.assert_array_equal(state, want_state)
    np.testing.assert_array_equal(record["x"], want_record["x"])
    np.testing.assert_array_equal(record["k"], np.tile(np.arange(7), (3, 1)))


def test_accelerators_and_small_sweeps_run_in_one_pass():
    member = 420_000  # bytes of state per member of the benchmark's 64-128-128-10 MLP
    assert blocks.block_size(512, member, cpu=False) == 512
    assert blocks.block_size(32, member, cpu=True) == 32  # 13 MB: fits in one pass
    size = blocks.block_size(256, member, cpu=True)
    assert 256 % size == 0 and size * member <= blocks.BLOCK_BYTES < 2 * size * member
