"""`jaxdl demo --quick`: the course's qualitative outcomes, checked on the numbers it wrote.

One quick demo run is shared by every test of this module. The assertions recompute each claim
from the raw accuracies, costs, gradient norms and timings in results.json, with margins, rather
than trusting the demo's own verdicts.
"""

import contextlib
import io
import json
import math
import os

import jax
import numpy as np
import pytest

from jaxdl import cli, demo
from jaxdl.infra import atomic

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["demo", "--quick", "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    return {"code": code, "out": out, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
            "results": results}


def experiment(quick, name):
    (found,) = [e for e in quick["results"]["experiments"] if e["name"] == name]
    return found


def runs(quick, name):
    return {r["run"]: r for r in experiment(quick, name)["runs"]}


@pytest.mark.slow
def test_runs_every_experiment_and_prints_one_table(quick):
    assert quick["code"] == 0
    results = quick["results"]
    assert results["quick"] is True and results["seed"] == 0
    assert [e["name"] for e in results["experiments"]] == list(demo.NAMES)
    lines = quick["stdout"].splitlines()
    assert lines[0].split()[:6] == ["#", "experiment", "run", "train", "test", "cost"]
    for e in results["experiments"]:
        rows = [line for line in lines if line.split()[:2] == [str(e["number"]), e["name"]]]
        assert len(rows) == len(e["runs"])
    # Progress lines on stderr, one per experiment.
    assert quick["stderr"].count("expected findings") == len(demo.NAMES)
    # Quick mode compiles without XLA's expensive optimizations, and restores the setting.
    assert jax.config.values["jax_disable_most_optimizations"] is False


@pytest.mark.slow
def test_every_expected_finding_held(quick):
    findings = [f for e in quick["results"]["experiments"] for f in e["findings"]]
    assert len(findings) >= 16
    assert all(f["holds"] for f in findings), [f for f in findings if not f["holds"]]
    assert "[NO ]" not in quick["stdout"]


@pytest.mark.slow
def test_plots_and_results_are_written(quick):
    out = quick["out"]
    names = [p for e in quick["results"]["experiments"] for p in e["plots"]]
    pngs = [p for p in names if p.endswith(".png")]
    assert len(pngs) >= 9
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG
    assert not [f for f in os.listdir(out) if f.startswith(".tmp")]  # atomic writes


@pytest.mark.slow
def test_1_zeros_stay_at_chance_and_he_is_best(quick):
    r = runs(quick, "initialization")
    for key in ("train_accuracy", "test_accuracy"):
        assert r["zeros"][key] == pytest.approx(0.5, abs=0.05)
        assert r["he"][key] > max(r["zeros"][key], r["random*10"][key]) + 0.1
    assert r["zeros"]["cost"] == pytest.approx(math.log(2), abs=1e-3)
    assert r["he"]["train_accuracy"] > 0.9
    # random * 10 starts with a huge cost (saturated sigmoid on logits of size ~1e2..1e3).
    assert r["random*10"]["initial_cost"] > 10 * r["he"]["initial_cost"]


@pytest.mark.slow
def test_2_l2_and_dropout_shrink_the_gap(quick):
    r = runs(quick, "regularization")
    gap = {name: run["train_accuracy"] - run["test_accuracy"] for name, run in r.items()}
    assert r["none"]["train_accuracy"] > 0.85 and gap["none"] > 0.15  # it does overfit
    assert gap["L2 lambda=1"] < gap["none"] - 0.05
    assert gap["dropout keep=0.5"] < gap["none"] - 0.05


@pytest.mark.slow
def test_3_adam_reaches_the_best_cost_and_momentum_beats_gd(quick):
    r = runs(quick, "optimizers")
    assert r["adam"]["cost"] < 0.8 * min(r["gd"]["cost"], r["momentum"]["cost"])
    assert r["adam + decay"]["cost"] < min(r["gd + decay"]["cost"], r["momentum + decay"]["cost"])
    # Heavy-ball momentum at GD's learning rate is visibly faster than GD.
    for suffix in ("", " + decay"):
        assert r["momentum" + suffix]["cost"] < 0.85 * r["gd" + suffix]["cost"]
    assert all(len(run["loss"]) == len(r["adam"]["loss"]) for run in r.values())  # same budget


@pytest.mark.slow
def test_4_batch_norm_survives_a_high_learning_rate(quick):
    r = runs(quick, "batch_norm")
    assert r["BN, lr 1"]["test_accuracy"] > r["no BN, lr 1"]["test_accuracy"] + 0.2
    assert r["BN, lr 1"]["test_accuracy"] > 0.85  # the highest rate breaks only the plain net
    grid = experiment(quick, "batch_norm")["grid"]
    assert grid["BN"]["0.5"] > 0.85


@pytest.mark.slow
def test_5_sweep_of_32_configs_on_log_scales(quick):
    e = experiment(quick, "sweep")
    configs = e["configs"]
    assert len(configs) == 32
    lr = np.array([c["learning_rate"] for c in configs])
    one_minus_beta = 1 - np.array([c["beta"] for c in configs])
    assert lr.min() >= 1e-4 and lr.max() <= 1.0
    assert np.all((one_minus_beta >= 1e-3 - 1e-9) & (one_minus_beta <= 0.1 + 1e-9))
    # Log-scale sampling: every decade of the learning rate gets some configs.
    assert set(np.floor(np.log10(lr)).astype(int)) == {-4, -3, -2, -1}
    val = np.array([c["val_accuracy"] for c in configs])
    assert val.max() > val.min() + 0.15
    best = e["runs"][0]
    ranked = [c for c in configs if c["status"] != "diverged" and c["val_loss"] is not None]
    assert best["val_accuracy"] == min(ranked, key=lambda c: c["val_loss"])["val_accuracy"]
    assert best["learning_rate"] > 1e-2  # tiny rates barely move in this budget


@pytest.mark.slow
def test_6_vanishing_exploding_and_he(quick):
    r = runs(quick, "gradients")
    he = np.array(r["he"]["grad_W"])
    small, large = np.array(r["random*0.01"]["grad_W"]), np.array(r["random*10"]["grad_W"])
    assert len(he) == len(small) == len(large) == 20
    assert small.max() < 1e-20 < 1e-3 < he.min()
    assert large.min() > 1e20 > 1e3 > he.max()
    assert he.max() / he.min() < 100
    for name, low, high in (("random*0.01", 0, 1e-10), ("random*10", 1e10, math.inf),
                            ("he", 1e-2, 1e2)):
        b = np.array(r[name]["grad_b"])
        # The backward signal from the last hidden layer to the first one.
        assert low < b[0] / b[-2] < high
        if name != "he":
            steps = np.diff(np.log10(b[:-1]))
            assert np.all(steps > 0) if name == "random*0.01" else np.all(steps < 0)


@pytest.mark.slow
def test_7_standardized_inputs_converge_faster(quick):
    standardized, unscaled = experiment(quick, "normalization")["runs"]
    assert standardized["run"].startswith("standardized")
    assert standardized["cost"] < 0.5 * unscaled["cost"]
    reached = standardized["epochs_to_unscaled_cost"]
    assert reached is not None and reached < len(standardized["loss"]) / 4
    assert standardized["test_accuracy"] > unscaled["test_accuracy"]


@pytest.mark.slow
def test_8_stochastic_is_noisy_and_slow_per_epoch(quick):
    batch, mini, sgd = experiment(quick, "batch_size")["runs"]
    steps = (batch["steps_per_epoch"], mini["steps_per_epoch"], sgd["steps_per_epoch"])
    assert steps == (1, 19, 1200)
    assert sgd["noise"] > 2 * mini["noise"] > 4 * batch["noise"]
    assert sgd["seconds_per_epoch"] > batch["seconds_per_epoch"]
    assert mini["cost"] < batch["cost"] and sgd["cost"] < batch["cost"]


def test_select_and_table_helpers():
    assert demo.select(None) == list(demo.NAMES)
    assert demo.select(["8", "sweep", "1"]) == ["initialization", "sweep", "batch_size"]
    with pytest.raises(ValueError, match="unknown experiment 'nine'"):
        demo.select(["nine"])
    assert demo.batch_size.noise([0.0, 1.0, 0.0, 1.0]) == pytest.approx(np.std([1.0, -1.0, 1.0]))
    assert atomic.jsonable({"a": [np.float32(1.5), float("nan")], "b": (np.int64(2),)}) == {
        "a": [1.5, None], "b": [2]}
