"""Smoke test of the benchmark scripts on a minute workload: every code path runs and reports
the documented JSON keys; the NumPy baseline computes the same gradients as jaxdl. No timings
are checked."""

from __future__ import annotations

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))

import bench  # noqa: E402
import bench_train  # noqa: E402
import benchlib  # noqa: E402

TINY = benchlib.Workload(sizes=(12, 8, 8, 3), batch_size=8, num_samples=32)


def test_bench_train_reports_the_documented_keys():
    result = bench_train.run(TINY, repeats=1, peak_size=32, settle_s=0)
    keys = ("scan_samples_per_s", "loop_samples_per_s", "numpy_samples_per_s",
            "matmul_peak_gflops", "scan_gflops", "peak_share")
    for key in keys:
        assert np.isfinite(result[key]) and result[key] > 0, key
    share = result["scan_gflops"] / result["matmul_peak_gflops"]
    assert result["peak_share"] == pytest.approx(share)
    text = bench_train.report(TINY, result)
    assert "scan_vs_numpy" in text and "peak_share" in text
    json.dumps(result)


def test_bench_reports_rows_ratios_and_pending_side_tables(monkeypatch):
    monkeypatch.setitem(bench.SIDE_TABLES, "sweep", ("no_such_bench.py", [], []))
    rows = ("jaxdl_scan", "jaxdl_loop", "numpy")
    result = bench.run(
        TINY, repeats=1, peak_size=32, rows=rows, side_tables=False, settle_s=0
    )
    speeds = result["samples_per_s"]
    assert set(speeds) == set(rows)
    assert set(result["ratios"]) == {"jaxdl_loop", "numpy"}
    for name, ratio in result["ratios"].items():
        assert ratio == pytest.approx(speeds[name] / speeds["jaxdl_scan"])
    assert result["sweep_speedup"] is None and result["gradcheck_speedup"] is None
    assert bench.side_table("sweep", quick=True) == "pending"
    assert "jaxdl_scan >= every other row" in bench.report(TINY, result)
    json.dumps(result)


@pytest.mark.parametrize(
    "row, module",
    [("jaxdl_sequential", "jaxdl"), ("jax_optax_scan", "optax"), ("flax_optax", "flax"),
     ("torch", "torch"), ("torch_fused", "torch")],
)
def test_peer_rows_train(row, module):
    pytest.importorskip(module)
    x, y = benchlib.make_data(TINY)
    timing = benchlib.measure({row: bench.MAKERS[row](TINY, x, y)}, 1, settle_s=0)[row]
    assert timing.median_s > 0 and len(timing.epochs_s) == 1


def test_numpy_baseline_gradients_match_jaxdl():
    w = benchlib.Workload(sizes=(5, 4, 3), batch_size=6, num_samples=6, keep_prob=1.0)
    x, y = benchlib.make_data(w)
    net = benchlib.NumpyMLP(w, x, y)
    AL, caches = net.forward(net.X)
    cost, grads = net.cost(AL, net.Y), net.backward(AL, net.Y, caches)
    p = net.params
    params = {"layers": [{"W": p["W1"].T, "gamma": p["gamma1"][:, 0], "beta": p["beta1"][:, 0]},
                         {"W": p["W2"].T, "b": p["b2"][:, 0]}]}
    model, trainer = w.model(), w.trainer()
    _, state = model.init(jax.random.key(0))

    def objective(params):
        logits, _ = model.apply(
            params, state, jnp.asarray(x), train=True, key=jax.random.key(1), hp=w.hyperparams()
        )
        return trainer.data_loss(logits, jnp.asarray(y), None)

    value, g = jax.jit(jax.value_and_grad(objective))(params)
    assert cost == pytest.approx(float(value), rel=1e-5)
    layers = g["layers"]
    expected = {"W1": layers[0]["W"].T, "gamma1": layers[0]["gamma"][:, None],
                "beta1": layers[0]["beta"][:, None], "W2": layers[1]["W"].T,
                "b2": layers[1]["b"][:, None]}
    assert set(grads) == set(expected)
    for name, ref in expected.items():
        np.testing.assert_allclose(grads[name], ref, rtol=1e-4, atol=1e-6, err_msg=name)


def test_numpy_baseline_stays_float32():
    x, y = benchlib.make_data(TINY)
    net = benchlib.NumpyMLP(TINY, x, y)
    assert np.isfinite(net.epoch())
    for store in (net.params, net.v, net.s, net.running):
        assert all(a.dtype == np.float32 for a in store.values())
