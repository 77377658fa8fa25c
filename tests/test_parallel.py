"""Data-parallel training on 4 simulated CPU devices, device selection and the backend report.

The multi-device checks run in one subprocess whose environment sets
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` before JAX starts; it prints its
measurements as JSON and the tests below judge them.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import pytest

from jaxdl.infra import devices, parallel
from jaxdl.nn import MLP
from jaxdl.train import Trainer

CHILD = textwrap.dedent(
    r"""
    import json, os, re, shutil, sys, tempfile, warnings

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxdl import checkpoint
    from jaxdl.infra import devices, parallel
    from jaxdl.hyperparams import hyperparams
    from jaxdl.nn import MLP
    from jaxdl.train import Keys, Trainer, fit, lower_epoch, run_epoch, run_init

    out = {"device_count": jax.device_count(), "describe": devices.describe(jax.devices())}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(148, 3)).astype(np.float32)
    Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int32)
    # 148 samples in batches of 32: the last batch has 20 real rows, so its 4 shards of 8 rows
    # hold 8, 8, 4 and 0 real rows: sync batch norm must weight them by the mask.
    base = Trainer(MLP((3, 16, 2), batch_norm=True, dropout=True), batch_size=32)
    dp4 = parallel.data_parallel(base)
    dp1 = parallel.data_parallel(base, jax.devices()[:1])
    HP = {"learning_rate": 0.01, "keep_prob": 0.8, "l2": 0.1}
    EPOCHS = 5
    tmp = tempfile.mkdtemp()

    def run(trainer, **kw):
        kw = {"hp": HP, "epochs": EPOCHS, "validation": (X[:40], Y[:40]), "progress": False, **kw}
        return fit(trainer, X, Y, **kw)

    def gap(a, b):
        trees = [(a.params, b.params), (a.model_state, b.model_state), (a.opt_state, b.opt_state)]
        diffs = [
            float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
            for ta, tb in trees for u, v in zip(jax.tree.leaves(ta), jax.tree.leaves(tb))
        ]
        loss = max(abs(p - q) for p, q in zip(a.history["loss"], b.history["loss"]))
        return {"state": max(diffs), "loss": loss, "epochs": [a.epochs_run, b.epochs_run]}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        single = run(base, checkpoint_dir=os.path.join(tmp, "single"))
        four = run(dp4)
        one = run(dp1, validation=None)
    out["warnings"] = [str(w.message) for w in caught]
    out["four"], out["one"] = gap(single, four), gap(single, one)
    state = jax.tree.leaves((four.params, four.model_state, four.opt_state))
    out["replicated"] = [leaf.sharding.is_fully_replicated for leaf in state]
    out["state_devices"] = sorted({len(leaf.devices()) for leaf in state})

    # Resume the single-device run's oldest kept checkpoint (epoch 2) on 4 devices.
    resumed_dir = os.path.join(tmp, "resumed")
    os.makedirs(resumed_dir)
    shutil.copy(checkpoint.list_checkpoints(os.path.join(tmp, "single"))[0], resumed_dir)
    resumed = run(dp4, checkpoint_dir=resumed_dir, resume=True)
    out["resumed"] = gap(single, resumed)

    # The batches each device receives.
    x, y, keys = jnp.asarray(X), jnp.asarray(Y), Keys.from_seed(0)
    xs, ys, mask = jax.jit(dp4.epoch_batches)(x, y, keys, 0)
    ref = jax.jit(base.epoch_batches)(x, y, keys, 0)
    shards = sorted(xs.addressable_shards, key=lambda s: s.index[1].start)
    out["batches"] = {
        "spec": [list(a.sharding.spec) for a in (xs, ys, mask)],
        "shard_shapes": [list(s.data.shape) for s in shards],
        "shard_devices": sorted(s.device.id for s in shards),
        "starts": [s.index[1].start for s in shards],
        "equal_to_single": all(
            np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip((xs, ys, mask), ref)
        ),
        "shards_reassemble": bool(
            np.array_equal(np.concatenate([np.asarray(s.data) for s in shards], 1), ref[0])
        ),
        "distinct_pairs": sum(
            not np.array_equal(np.asarray(a.data), np.asarray(b.data))
            for i, a in enumerate(shards) for b in shards[i + 1:]
        ),
        "last_batch_real_rows": [
            float(np.asarray(s.data)[-1].sum())
            for s in sorted(mask.addressable_shards, key=lambda s: s.index[1].start)
        ],
    }

    # The compiled epoch: per-device activations of 32 / 4 = 8 rows, all-reduces, donation.
    hp = hyperparams(**HP)
    args = parallel.replicate((hp, x, y, keys), dp4.mesh)
    ts = parallel.replicate(run_init(dp4, keys.init, hp), dp4.mesh)
    hlo = lower_epoch(dp4, ts, *args, 0).compile().as_text()
    out["hlo"] = {
        "all_reduce": hlo.count("all-reduce"),
        "local_hidden": bool(re.search(r"f32\[8,16\]", hlo)),
        "global_hidden": bool(re.search(r"f32\[32,16\]", hlo)),
    }
    leaf = ts.params["layers"][0]["W"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_epoch(dp4, ts, *args, 0)
    out["donated"] = leaf.is_deleted()
    out["donation_warnings"] = [str(w.message) for w in caught]

    # A global batch that does not split over the 4 devices.
    errors = {}
    for name, trainer, x_bad in [
        ("batch_50", Trainer(base.model, batch_size=50), X),
        ("clamped_10", Trainer(base.model, batch_size=64), X[:10]),
    ]:
        try:
            fit(parallel.data_parallel(trainer), x_bad, Y[: len(x_bad)], epochs=1, progress=False)
            errors[name] = None
        except ValueError as err:
            errors[name] = str(err)
    out["errors"] = errors
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def child():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.mark.slow
def test_data_parallel_fit_matches_single_device(child):
    assert child["device_count"] == 4
    for name in ("four", "one", "resumed"):
        assert child[name]["epochs"] == [5, 5], name
        assert child[name]["state"] < 1e-5, (name, child[name])
        assert child[name]["loss"] < 1e-5, (name, child[name])
    # Parameters, batch-norm and optimizer state come back replicated on all four devices.
    assert all(child["replicated"])
    assert child["state_devices"] == [4]


@pytest.mark.slow
def test_each_device_gets_its_own_slice_of_the_global_batch(child):
    b = child["batches"]
    assert b["spec"] == [[None, "data"]] * 3
    assert b["shard_shapes"] == [[5, 8, 3]] * 4
    assert b["shard_devices"] == [0, 1, 2, 3]
    assert b["starts"] == [0, 8, 16, 24]
    assert b["equal_to_single"] and b["shards_reassemble"]
    assert b["distinct_pairs"] == 6
    assert b["last_batch_real_rows"] == [8.0, 8.0, 4.0, 0.0]


@pytest.mark.slow
def test_compiled_epoch_is_partitioned_with_all_reduces_and_donates_state(child):
    assert child["hlo"]["all_reduce"] > 0
    assert child["hlo"]["local_hidden"] and not child["hlo"]["global_hidden"]
    assert child["donated"]
    assert not [w for w in child["warnings"] + child["donation_warnings"] if "donat" in w]


@pytest.mark.slow
def test_indivisible_global_batch_is_a_clear_error(child):
    assert "does not split over 4 devices" in child["errors"]["batch_50"]
    assert "multiple of 4, e.g. 48 or 52" in child["errors"]["batch_50"]
    assert "global batch of 10 samples" in child["errors"]["clamped_10"]
    assert "e.g. 8 or 12" in child["errors"]["clamped_10"]


@pytest.mark.slow
def test_backend_report_is_one_line(child):
    line = child["describe"]
    assert "\n" not in line
    assert line.startswith("backend cpu (jax ")
    assert "4 devices, cpu x 4 (ids 0, 1, 2, 3); data parallel over 4; float32 matmuls" in line
    one = devices.describe(jax.devices()[:1], "bfloat16")
    assert "1 device, cpu x 1 (ids 0); single device; bfloat16 matmuls (float32 accumulation)" in (
        one
    )


def test_device_selection():
    assert devices.select() == jax.devices()
    assert devices.select("cpu") == jax.devices("cpu")
    # The tests run with JAX_PLATFORMS=cpu (conftest), so no GPU is ever visible here.
    with pytest.raises(ValueError, match="'gpu' requested but jax .* sees no GPU, only cpu: 1 "
                       r"device.*pip install -e \"\.\[cuda\]\"") as info:
        devices.select("gpu")
    assert "\n" not in str(info.value) and "JAX_PLATFORMS=cpu hides GPUs" in str(info.value)
    with pytest.raises(ValueError, match="device must be one of cpu, gpu"):
        devices.select("tpu0")
    with pytest.raises(ValueError, match="at least one device"):
        devices.describe([])


def test_mesh_construction_and_bad_input():
    trainer = parallel.data_parallel(Trainer(MLP((3, 2))))
    assert trainer.mesh.axis_names == ("data",) and trainer.mesh.size == jax.device_count()
    assert hash(trainer) == hash(parallel.data_parallel(Trainer(MLP((3, 2)))))
    with pytest.raises(ValueError, match="at least one device"):
        parallel.make_mesh([])
    with pytest.raises(TypeError, match="jax.Device objects"):
        parallel.make_mesh(["cpu:0"])
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
        Trainer(MLP((3, 2)), mesh="data")
