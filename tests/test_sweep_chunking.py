"""jaxdl.sweep.chunking: a bucket run in chunks of its member axis (set by hand or chosen from the
compiled program's memory) gives the results of one call, bit for bit where XLA compiles the
chunk's program to the same per-member arithmetic as the whole bucket's (here 48 members in
chunks of 32), else to float32 rounding; bad settings are rejected before anything compiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.sweep import chunking, run_sweep, sharding, successive_halving
from jaxdl.train import Trainer

DATA = datasets.load("moons", n=150, seed=1)  # 90 train (batches 32, 32, 26 padded), 30 val
TRAINER = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
CONFIGS = [  # 18 members: chunks of 8 + 8 + 2 (padded to 8)
    {"learning_rate": lr, "keep_prob": kp}
    for lr in (0.002, 0.01, 0.03, 0.05, 0.1, 0.3) for kp in (0.6, 0.8, 1.0)
]
# 48 members: chunks of 32 + 16 (padded to 32). XLA:CPU compiles the batch-norm gradient's
# reductions of some member counts differently (for this 2-8-2 net, 40 members against chunks
# of 16 or 8, 64 against 32); those agree to float32 rounding (the next test).
MANY = [{"learning_rate": lr, "keep_prob": kp}
        for lr in (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3)
        for kp in (0.6, 0.7, 0.8, 1.0)]


def assert_same(a, b, exact=True):
    """Two sweep results equal (bit for bit, or to float32 rounding): parameters, states,
    histories, status, best epoch."""
    assert a.status == b.status and a.best_epoch == b.best_epoch and a.epochs == b.epochs
    if exact:
        assert a.histories == b.histories
    for h, g in zip(a.histories, b.histories, strict=True):
        assert h.keys() == g.keys() and h["epoch"] == g["epoch"]
        for k in h:
            np.testing.assert_allclose(h[k], g[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for x, y in zip(jax.tree.leaves((a.params, a.model_state)),
                    jax.tree.leaves((b.params, b.model_state)), strict=True):
        if exact:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("per_member_seeds", [False, True])
def test_chunks_equal_one_call_bit_for_bit(per_member_seeds):
    kw = {"trainer": TRAINER, "epochs": 4, "patience": 1, "epochs_per_call": 2}
    kw.update({"seeds": list(range(len(MANY)))} if per_member_seeds else {"seed": 3})
    whole = run_sweep(MANY, DATA, max_members_per_call=len(MANY), **kw)
    chunked = run_sweep(MANY, DATA, max_members_per_call=32, **kw)
    assert chunking.last_plan() == (48, 32, None, None, None)
    assert_same(whole, chunked)
    assert "early-stopped" in whole.status  # members freeze at different epochs


@pytest.mark.slow
def test_small_chunks_equal_one_call_to_rounding():
    kw = {"trainer": TRAINER, "epochs": 3, "seed": 0}
    whole = run_sweep(CONFIGS, DATA, **kw)
    chunked = run_sweep(CONFIGS, DATA, max_members_per_call=5, **kw)  # rounded up to 8
    assert chunking.last_plan() == (18, 8, None, None, None)
    assert_same(whole, chunked, exact=False)


@pytest.mark.slow
def test_successive_halving_in_chunks_equals_one_call():
    kw = {"trainer": TRAINER, "min_epochs": 1, "max_epochs": 4, "eta": 2, "seed": 0}
    assert_same(successive_halving(CONFIGS, DATA, **kw),
                successive_halving(CONFIGS, DATA, max_members_per_call=1, **kw),  # 8 a call
                exact=False)


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
    assert_same(whole, small, exact=False)


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


SHARDED = """
import json
import jax
import numpy as np
from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.sweep import chunking, run_sweep
from jaxdl.train import Trainer

assert jax.device_count() == 2
data = datasets.load("moons", n=150, seed=1)
trainer = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
configs = [{"learning_rate": 0.001 * 1.4 ** i, "keep_prob": 0.7} for i in range(20)]
kw = {"trainer": trainer, "epochs": 2, "seed": 0}
whole = run_sweep(configs, data, **kw)
chunked = run_sweep(configs, data, max_members_per_call=16, **kw)
print("RESULT", json.dumps({
    "plan": list(chunking.last_plan()),
    "status": whole.status == chunked.status,
    "loss": float(np.max(np.abs(np.subtract([h["val_loss"] for h in whole.histories],
                                            [h["val_loss"] for h in chunked.histories])))),
}))
"""


@pytest.mark.slow
def test_chunks_on_two_devices():
    """16 members per call on 2 emulated CPU devices: 8 per device, 20 members (padded to 32)."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SHARDED], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["plan"][:2] == [20, 16] and result["status"]
    assert result["loss"] < 1e-5
