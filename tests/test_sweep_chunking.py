"""jaxdl.sweep.chunking: a bucket run in chunks of its member axis (set by hand or chosen from the
compiled program's memory) gives bit for bit the results of one call; bad settings are rejected
before anything compiles."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.sweep import chunking, run_sweep, sharding, successive_halving
from jaxdl.train import Trainer

DATA = datasets.load("moons", n=150, seed=1)  # 90 train (batches 32, 32, 26 padded), 30 val
TRAINER = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
CONFIGS = [
    {"learning_rate": lr, "keep_prob": kp}
    for lr, kp in [(0.05, 0.9), (0.002, 0.7), (0.3, 0.8), (0.01, 1.0), (0.1, 0.6)]
]


def assert_same(a, b):
    """Two sweep results equal bit for bit: parameters, states, histories, status, best epoch."""
    assert a.status == b.status and a.best_epoch == b.best_epoch and a.epochs == b.epochs
    assert a.histories == b.histories
    for x, y in zip(jax.tree.leaves((a.params, a.model_state)),
                    jax.tree.leaves((b.params, b.model_state)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("per_member_seeds", [False, True])
def test_chunks_equal_one_call_bit_for_bit(per_member_seeds):
    kw = {"trainer": TRAINER, "epochs": 4, "patience": 1, "epochs_per_call": 2}
    kw.update({"seeds": [3, 1, 4, 1, 5]} if per_member_seeds else {"seed": 3})
    whole = run_sweep(CONFIGS, DATA, max_members_per_call=len(CONFIGS), **kw)
    chunked = run_sweep(CONFIGS, DATA, max_members_per_call=2, **kw)  # 2 + 2 + 1 padded
    assert_same(whole, chunked)
    assert "early-stopped" in whole.status  # members freeze at different epochs


def test_successive_halving_in_chunks_equals_one_call():
    kw = {"trainer": TRAINER, "min_epochs": 1, "max_epochs": 3, "seed": 0}
    assert_same(successive_halving(CONFIGS, DATA, **kw),
                successive_halving(CONFIGS, DATA, max_members_per_call=1, **kw))  # 2 a call


def test_the_default_chunks_a_bucket_that_does_not_fit(monkeypatch):
    mesh = sharding.config_mesh()
    monkeypatch.setattr(chunking, "_PLANS", {})
    whole = run_sweep(CONFIGS, DATA, trainer=TRAINER, epochs=2, seed=0)
    (full,) = chunking._PLANS.values()
    assert full == chunking.last_plan()
    assert full.members == full.members_per_call == sharding.padded_count(len(CONFIGS), mesh)
    assert 0 < full.program_bytes < full.peak_bytes and full.program_bytes <= full.budget
    plans = {}
    monkeypatch.setattr(chunking, "_PLANS", plans)
    monkeypatch.setattr(chunking, "memory_budget", lambda mesh: 1)
    with pytest.warns(UserWarning, match="sweep members per device need"):
        small = run_sweep(CONFIGS, DATA, trainer=TRAINER, epochs=2, seed=0)
    assert [p.members_per_call for p in plans.values()] == [chunking.MIN_PER_DEVICE * mesh.size]
    assert_same(whole, small)


def test_program_bytes_grow_with_the_member_count():
    def program(n):
        f = jax.jit(jax.vmap(lambda w, x: jax.numpy.tanh(x @ w) @ w.T, in_axes=(0, None)))
        return chunking.program_bytes(f.lower(np.ones((n, 16, 16), np.float32),
                                              np.ones((8, 16), np.float32)).compile())

    small, big = program(2), program(64)
    assert 0 < small < big
    assert chunking.memory_budget(sharding.config_mesh()) > 0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (True, TypeError),
                                        (2.0, TypeError), ("2", TypeError)])
def test_bad_max_members_per_call_is_rejected(bad, error):
    with pytest.raises(error, match="max_members_per_call"):
        run_sweep(CONFIGS, DATA, trainer=TRAINER, epochs=1, max_members_per_call=bad)
