"""The sweep's config axis sharded over a device mesh: 4 emulated CPU devices in one process (with
each device's members in one pass and in blocks), and 2 processes x 2 devices joined by
``jax.distributed`` on localhost (gloo CPU collectives). Each gives the same table as a
single-device run; so do PBT and hyperband on 4 devices. Runs in subprocesses, since the device
count is fixed (``XLA_FLAGS``) before JAX starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

SETUP = """
import json, sys
import jax
import numpy as np
from jaxdl.nn import MLP
from jaxdl.early_stopping import EarlyStopping
from jaxdl.sweep import buckets, config_mesh, run_sweep
from jaxdl.train import Trainer

rng = np.random.default_rng(0)  # two overlapping blobs: 96 train, 32 validation samples
Y = rng.integers(0, 2, 128).astype(np.int32)
X = (rng.normal(size=(128, 2)) + 1.5 * Y[:, None]).astype(np.float32)
DATA = (X[:96], Y[:96], X[96:], Y[96:])
TRAINER = Trainer(MLP((2, 8, 2)), optimizer="sgd", batch_size=32)
CONFIGS = [  # 5 members: padded to 8 on 4 devices
    {"learning_rate": lr, "l2": l2}
    for lr, l2 in ((3.0, 0.0), (0.01, 0.1), (30.0, 0.0), (1e30, 0.0), (1.0, 1.0))
]

def sweep(mesh=None):
    results = run_sweep(CONFIGS, DATA, trainer=TRAINER, epochs=4, patience=1, mesh=mesh)
    return {"table": results.table, "histories": results.histories}
"""

FOUR_DEVICES = """
assert jax.device_count() == 4
# the member axis really is split: 2 of the 8 padded members on each device
mesh = config_mesh()
bucket = buckets.Bucket(TRAINER, np.arange(5), {"learning_rate": np.full(5, 0.1, np.float32)},
                        [0] * 5, True)
bucket.place(mesh)
bucket.init(EarlyStopping(1), mesh)
shards = bucket.state.ts.params["layers"][0]["W"].addressable_shards
print("SHARDS", json.dumps(sorted((s.device.id, s.data.shape[0]) for s in shards)))
print("RESULT", json.dumps(sweep()))
# each device's 2 members in blocks of 1 (a lax.map inside shard_map)
from jaxdl.sweep import blocks
blocks.block_size = lambda members, member_bytes, cpu: 1
jax.clear_caches()
print("BLOCKED", json.dumps(sweep()))
"""

TWO_PROCESSES = """
process_id, port = int(sys.argv[1]), sys.argv[2]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2
print("RESULT", json.dumps(sweep()))
"""


def env(devices: int) -> dict[str, str]:
    return {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
    }


def script(body: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(SETUP) + textwrap.dedent(body)]


def tagged(stdout: str, tag: str):
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1 :])
    raise AssertionError(f"no {tag} line in the output:\n{stdout}")


def assert_same_sweep(a, b):
    """Identical statuses, epochs and order; metrics equal to float32 round-off."""
    keys = ("config", "status", "best_epoch", "epochs_run")
    assert [[r[k] for k in keys] for r in a["table"]] == [[r[k] for k in keys] for r in b["table"]]
    for ra, rb in zip(a["table"], b["table"], strict=True):
        for k in ("val_loss", "val_accuracy", "loss", "accuracy", "learning_rate"):
            np.testing.assert_allclose(ra[k], rb[k], rtol=1e-5, atol=1e-6)
    for ha, hb in zip(a["histories"], b["histories"], strict=True):
        assert ha["epoch"] == hb["epoch"]
        np.testing.assert_allclose(ha["val_loss"], hb["val_loss"], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def single_device():
    """The reference: the same sweep in this process, on one device."""
    namespace: dict = {}
    exec(textwrap.dedent(SETUP), namespace)
    one = namespace["sweep"](namespace["config_mesh"](jax.devices()[:1]))
    return json.loads(json.dumps(one))


def test_four_emulated_devices_give_the_single_device_table(single_device):
    run = subprocess.run(
        script(FOUR_DEVICES), env=env(4), capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert tagged(run.stdout, "SHARDS") == [[0, 2], [1, 2], [2, 2], [3, 2]]
    four = tagged(run.stdout, "RESULT")
    assert len(four["table"]) == 5  # the padding members are dropped
    assert_same_sweep(four, single_device)
    assert_same_sweep(tagged(run.stdout, "BLOCKED"), single_device)
    statuses = {r["status"] for r in four["table"]}
    assert {"early-stopped", "diverged", "ok"} <= statuses  # members frozen on their own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    "jax_cpu_collectives_implementation" not in jax.config.values,
    reason="this jaxlib has no CPU collectives for several processes",
)
def test_two_processes_share_the_configs_and_gather_the_same_table(single_device):
    port = str(free_port())
    procs = [
        subprocess.Popen(
            [*script(TWO_PROCESSES), str(i), port],
            env=env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    first, second = (tagged(stdout, "RESULT") for stdout, _ in outputs)
    assert first == second  # every process receives the full results
    assert len(first["table"]) == 5
    assert_same_sweep(first, single_device)


SEARCHES = """
from jaxdl import sweep
from jaxdl.data import datasets
data = datasets.load("moons", n=200, seed=0)
trainer = Trainer(MLP((2, 8, 2), batch_norm=True, dropout=True), batch_size=32)
space = sweep.Space(learning_rate=sweep.LogUniform(1e-3, 0.3), keep_prob=sweep.Uniform(0.6, 1.0))
out = {}
for name, mesh in (("one", config_mesh(jax.devices()[:1])), ("four", config_mesh())):
    pbt = sweep.population_based_training(space, data, trainer=trainer, population=6, interval=2,
                                          epochs=4, seed=0, mesh=mesh)
    hb = sweep.hyperband(space, data, trainer=trainer, max_epochs=4, eta=2, mesh=mesh)
    out[name] = {"pbt": [pbt.status, [h["val_loss"] for h in pbt.histories]],
                 "hyperband": [hb.status, [h["val_loss"] for h in hb.histories]]}
print("RESULT", json.dumps(out))
"""


@pytest.mark.slow
def test_pbt_and_hyperband_on_four_devices_equal_one_device():
    """PBT's exploit (a gather across devices) and hyperband's rungs and compaction under
    ``shard_map`` give the one-device results."""
    run = subprocess.run(script(SEARCHES), env=env(4), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = tagged(run.stdout, "RESULT")
    for strategy in ("pbt", "hyperband"):
        (status_one, losses_one), (status_four, losses_four) = (
            out[name][strategy] for name in ("one", "four"))
        assert status_one == status_four
        for a, b in zip(losses_one, losses_four, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert "pruned" in out["four"]["hyperband"][0]  # rungs dropped members
