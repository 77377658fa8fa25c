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


# -- bench.py's added keys, bench_sweep.py --scaling and --explain-gap -------------------------
import bench_sweep  # noqa: E402
import sweep_gap  # noqa: E402
import sweep_scaling  # noqa: E402

from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import LogUniform, Space, sample  # noqa: E402
from jaxdl.train import Trainer  # noqa: E402

SWEEP_SIZES = (6, 8, 10)
SWEEP_DATA = bench_sweep.make_data(32, 16, sizes=SWEEP_SIZES)
SWEEP_TRAINER = Trainer(MLP(SWEEP_SIZES), optimizer="adam", batch_size=16)
SWEEP_SPACE = Space(learning_rate=LogUniform(1e-3, 1e-1))


def test_bench_json_has_compile_s_and_sweep_end_to_end():
    result = bench.run(TINY, repeats=1, peak_size=32, rows=("jaxdl_scan",), side_tables=False,
                       settle_s=0)
    row = result["rows"][0]
    assert result["compile_s"] == pytest.approx(max(row["first_epoch_s"] - row["median_epoch_s"],
                                                    0.0))
    assert result["sweep_end_to_end"] is None and result["sweep"] == "skipped"
    assert 0 < result["peak_share"]


@pytest.mark.slow
def test_sweep_scaling_rows():
    result = sweep_scaling.scaling(SWEEP_TRAINER, SWEEP_SIZES, SWEEP_SPACE, SWEEP_DATA,
                                   counts=(1, 3), epochs=1, repeats=1, peak_size=32)
    flops = sweep_scaling.flops_per_config_epoch(SWEEP_SIZES, 16, 32, 16)
    assert result["flops_per_config_epoch"] == flops == 6 * 16 * 128 * 2 + 2 * 16 * 128
    for row, n in zip(result["rows"], (1, 3), strict=True):
        assert row["configs"] == n and row["members_per_call"] >= n
        assert 0 < row["program_bytes"] < row["peak_bytes"]
        assert row["s_per_config_epoch"] == pytest.approx(row["steady_s"] / n)
        assert row["peak_share"] == pytest.approx(row["gflops"] / result["matmul_peak_gflops"])
    assert result["rows"][1]["peak_bytes"] > result["rows"][0]["peak_bytes"]
    assert "s/config-epoch" in sweep_scaling.format_rows(result["rows"])
    json.dumps(result)


def test_sweep_matmul_floor_rows():
    rows = sweep_scaling.matmul_floor(SWEEP_SIZES, 16, (1, 3), peak=100.0, steps=2, repeats=1)
    step_flops = 2 * 16 * (3 * (6 * 8 + 8 * 10) - 6 * 8)  # no first-layer input gradient
    for row, width in zip(rows, (1, 3), strict=True):
        members = width * jax.device_count()
        assert row["members_per_device"] == width
        assert row["ms_per_member_step"] == pytest.approx(row["ms_per_step"] / members)
        assert row["gflops"] == pytest.approx(members * step_flops / row["ms_per_step"] / 1e6)
        assert row["peak_share"] == pytest.approx(row["gflops"] / 100.0)
    assert "ms/member-step" in sweep_scaling.format_floor(rows)
    json.dumps(rows)


@pytest.mark.slow
def test_explain_gap_reports_the_member_precisions_and_ranks():
    configs = sample(SWEEP_SPACE, 0, 4)
    result = bench_sweep.explain(SWEEP_TRAINER, configs, SWEEP_DATA, epochs=2, seeds=3)
    gap = result["gap"]
    assert result["max_abs_diff"] == pytest.approx(abs(gap["sweep_loss"] - gap["solo_loss"]))
    assert gap["config"] == pytest.approx(configs[gap["member"]])
    for name in ("float32", "float64"):
        assert set(gap["precision"][name]) == {"vmapped", "solo", "gap"}
    # the float32 rerun reproduces the sweep (one device here) and the solo run
    assert gap["precision"]["float32"]["solo"] == pytest.approx(gap["solo_loss"], rel=1e-6)
    assert gap["gap_float64"] < 1e-6 and len(gap["seed_losses"]) == 3
    assert gap["rank"]["members"] == 4 and -1 <= gap["rank"]["kendall"] <= 1
    json.dumps(result)


def test_rank_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20), rng.normal(size=20)
    b[:10] = a[:10]
    assert sweep_gap.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
    assert sweep_gap.kendall(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)


def test_hlo_ops_counts_the_scan_body():
    import hlo_ops

    def loop(w, x):
        def body(i, carry):
            a, _ = carry
            return jnp.tanh(a @ w), jax.grad(lambda w: jnp.sum(jnp.tanh(a @ w)))(w)

        return jax.lax.fori_loop(0, 3, body, (x, w))

    w, x = jnp.ones((64, 64)), jnp.ones((32, 64))
    text = jax.jit(loop).lower(w, x).compile().as_text()
    result = hlo_ops.breakdown(text, batch=32, n_in=64)
    shapes = [m["shape"] for m in result["matmuls"]]
    assert "f32[32,64]" in shapes and "f32[64,64]" in shapes  # forward, weight gradient
    assert result["kernels_per_step"] >= len(shapes) and result["bytes_per_step"] > 64 * 64 * 4
    assert result["first_layer_input_gradient"] is True  # a @ w's output is (32, 64) too
    assert result["kinds"]["matmul"]["kernels"] >= 2
    epoch = hlo_ops.breakdown(hlo_ops.epoch_hlo(TINY), TINY.batch_size, TINY.sizes[0],
                              TINY.sizes)
    assert epoch["kernels_per_step"] > 0 and "fusion" in epoch["opcodes"]
    kinds = epoch["kinds"]
    assert sum(k["kernels"] for k in kinds.values()) == epoch["kernels_per_step"]
    assert sum(k["bytes"] for k in kinds.values()) == epoch["bytes_per_step"]
    # Adam: at least the two moments and the parameter for each of the 8 parameter arrays
    assert kinds["parameter-shaped"]["kernels"] >= 3 * 8
    assert kinds["dropout"]["kernels"] >= 1 and kinds["matmul"]["kernels"] >= 5
    json.dumps(epoch)


@pytest.mark.slow
def test_bench_ablation_rows_build_up_to_the_benchmark_step():
    import bench_ablation

    result = bench_ablation.run(TINY, repeats=1, peak_size=32, settle_s=0)
    rows = result["rows"]
    assert [r["row"] for r in rows] == list(bench_ablation.ROWS)
    for above, row in zip(rows, rows[1:]):
        assert row["extra_ms_per_step"] == pytest.approx(row["ms_per_step"] - above["ms_per_step"])
    assert all(r["ms_per_step"] > 0 and r["peak_share"] > 0 for r in rows)
    assert "+ dropout" in bench_ablation.report(TINY, result)
    json.dumps(result)


def test_bench_ablation_floor_runs_exactly_the_needed_matmuls():
    import bench_ablation

    x, y = benchlib.make_data(TINY)
    epoch = bench_ablation.matmuls_only(TINY, x, y)
    step_flops = bench_ablation.step_flops(TINY)
    # 3 forward, 3 weight-gradient and 2 input-gradient matmuls; no first-layer input gradient
    assert step_flops == TINY.needed_flops_per_step
    epoch()  # runs


def test_bench_search_target_is_optunas_best_within_noise_in_half_its_time():
    import bench_search

    strategies = {
        "optuna_tpe": {"best_val_accuracy": 0.9, "wall_s": 10.0},
        "fast_close": {"best_val_accuracy": 0.885, "wall_s": 4.0},  # 0.015 below, noise 0.0212
        "fast_far": {"best_val_accuracy": 0.85, "wall_s": 2.0},
        "slow_better": {"best_val_accuracy": 0.95, "wall_s": 6.0},
    }
    target = bench_search.against_optuna(strategies, val_samples=200)
    assert target["noise"] == pytest.approx((0.9 * 0.1 / 200) ** 0.5)
    assert target["met_by"] == ["fast_close"]
    assert target["strategies"]["slow_better"] == {"within_noise": True, "time_ratio": 0.6,
                                                   "met": False}  # fmt: skip
    assert not target["strategies"]["fast_far"]["within_noise"]


def test_plot_search_draws_each_task_and_names_the_finding(tmp_path):
    pytest.importorskip("matplotlib")
    import bench_search
    import plot_search

    def report(rows, val):
        strategies = {k: {"best_val_accuracy": a, "wall_s": t} for k, (a, t) in rows.items()}
        return {"strategies": strategies, "target": bench_search.against_optuna(strategies, val)}

    met = report({"tpe": (0.905, 10.1), "pbt": (0.90, 24.0), "optuna_tpe": (0.901, 23.4)}, 800)
    missed = report({"pbt": (0.88, 3.9), "random": (0.7, 1.0), "optuna_tpe": (0.89, 4.2)}, 200)
    assert plot_search.finding(met).startswith("tpe: 0.905 (Optuna 0.901) in 0.43x")
    assert plot_search.finding(missed).endswith("pbt in 0.93x Optuna's time (target 0.5x): missed")
    path = tmp_path / "search.png"
    plot_search.draw([("default", met), ("small", missed)], str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_bench_augmentation_row_is_the_ratio_bench_augment_measured(monkeypatch):
    """The augmentation cost comes from scripts/bench_augment.py run in this bench run: the
    ratio is its augmented epoch over its plain one, checked against its target."""
    for name in bench.SIDE_TABLES:  # the others are left out ("pending")
        monkeypatch.setitem(bench.SIDE_TABLES, name, ("no_such_bench.py", [], []))
    monkeypatch.setitem(bench.SIDE_TABLES, "augment", (
        "bench_augment.py", [], ["--repeats", "1", "--samples", "256", "--batch", "64"]))
    result = bench.run(TINY, repeats=1, peak_size=32, rows=("jaxdl_scan",), quick=True,
                       settle_s=0)
    figures = result["augment"]
    assert isinstance(figures, dict), figures
    assert result["augment_ratio"] == pytest.approx(figures["augmented_s"] / figures["plain_s"])
    assert figures["target"] == 1.10 and figures["samples"] == 256
    ratio = result["augment_ratio"]
    verdict = "met" if ratio <= 1.10 else "MISSED"
    assert f"{ratio:.3f}x  (target <= 1.10x: {verdict})" in bench.report(TINY, result)
    result["augment_ratio"] = 1.25
    assert "1.250x  (target <= 1.10x: MISSED)" in bench.report(TINY, result)


@pytest.mark.slow
def test_bench_cnn_per_core_reports_both_settings_and_their_ratio():
    import bench_cnn_per_core

    from jaxdl.infra.parallel import CPU_SPLIT_MIN_FLOPS

    result = bench_cnn_per_core.main(["--quick", "--batch-sizes", "10"])
    for name in ("cnn1d/10", "cnn2d/10"):
        row = result[name]
        assert row["one_device_devices"] == 1 and row["per_core_devices"] >= 1
        # the choice column is cpu_split's rule on the FLOPs it prints: 10 rows are too few
        assert row["forward_mflop_per_core"] * 1e6 < CPU_SPLIT_MIN_FLOPS
        assert row["train_splits"] is False
        assert row["per_core_over_one_device"] == pytest.approx(
            row["per_core_wall_s"] / row["one_device_wall_s"])
