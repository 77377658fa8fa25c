"""``scripts/bench_search.py --optuna``: the batched Optuna rows. The quick run's report must
compute every ratio from the timings it reports (not meet a target: the quick sizes mean
nothing), and every study must hold the trials it was asked for."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "scripts")
sys.path.insert(0, SCRIPTS)

import bench_search  # noqa: E402


def test_against_one_at_a_time_reaches_within_one_standard_error():
    one = {"seconds": 20.0, "best_val_accuracy": 0.9}
    noise = math.sqrt(0.9 * 0.1 / 800)  # 0.0106
    batched = {"seconds": 16.0, "timeline": [[2.0, 0.5], [6.0, 0.885], [8.0, 0.89], [9.0, 0.95]]}
    c = bench_search.against_one_at_a_time(one, batched, val_samples=800, target=0.5)
    assert c["noise"] == pytest.approx(noise)
    assert c["time_ratio"] == 0.8
    assert c["reach_s"] == 8.0 and c["reach_ratio"] == 0.4 and c["met"]  # 0.885 < 0.9 - noise
    never = {"seconds": 4.0, "timeline": [[1.0, 0.5]]}
    c = bench_search.against_one_at_a_time(one, never, val_samples=800, target=0.5)
    assert c["reach_s"] is None and c["reach_ratio"] is None and not c["met"]
    late = bench_search.against_one_at_a_time(one, batched, val_samples=800, target=1 / 3)
    assert late["reach_ratio"] == 0.4 and not late["met"]


@pytest.mark.slow
def test_quick_run_reports_ratios_computed_from_its_timings(tmp_path):
    pytest.importorskip("optuna")
    out = tmp_path / "search.json"
    done = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "bench_search.py"), "--optuna", "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    size = report["sizes"]
    for name in ("loadavg_start", "loadavg_end"):
        assert len(report["machine"][name]) == 3
    assert report["machine"]["cores"] == len(os.sched_getaffinity(0))

    assert [r["trials"] for r in report["batched"]] == list(size["trials"])
    for row in report["batched"]:  # each batch size padded and with refill, paired
        assert set(row["batched"]) == {f"{b}{m}" for b in size["batches"] for m in ("", " refill")}
    for row in report["batched"]:
        one = row["one_at_a_time"]
        assert one["trials"] == row["trials"]
        assert one["complete"] + one["pruned"] + one["failed"] == row["trials"]
        for batch, run in row["batched"].items():
            c = row["compare"][batch]
            assert run["trials"] == row["trials"]
            assert run["compiles"] >= 1 and 0 < run["compile_s"] <= run["seconds"] + 0.01
            assert c["time_ratio"] == pytest.approx(run["seconds"] / one["seconds"])
            p = one["best_val_accuracy"]
            assert c["noise"] == pytest.approx(math.sqrt(p * (1 - p) / (size["samples"] // 5)))
            first = [t for t, a in run["timeline"] if a >= p - c["noise"]]
            assert c["reach_s"] == (first[0] if first else None)
            if first:
                assert c["reach_ratio"] == pytest.approx(first[0] / one["seconds"])
            assert c["met"] == (c["reach_ratio"] is not None and c["reach_ratio"] <= c["target"])
            # the timeline lies within the study's wall time, and its best is the reported best
            assert max(t for t, _ in run["timeline"]) <= run["seconds"] + 0.01
            assert max(a for _, a in run["timeline"]) == run["best_val_accuracy"]

    assert set(report["workers"]) == {bench_search.QUICK_WORKER_ROW}  # all three without --quick
    for name, w in report["workers"].items():
        assert (w["refill"], w["warm"]) == bench_search.WORKER_ROWS[name]
        assert w["one"]["wall_s"] == pytest.approx(w["one"]["end"] - w["one"]["start"])
        starts, ends = [e["start"] for e in w["each"]], [e["end"] for e in w["each"]]
        assert len(starts) == 2 and w["two"]["wall_s"] == pytest.approx(max(ends) - min(starts))
        assert w["time_ratio"] == pytest.approx(w["two"]["wall_s"] / w["one"]["wall_s"])
        assert w["met"] == (w["time_ratio"] <= w["target"])
        assert w["pinned"]["wall_s"] == pytest.approx(w["pinned"]["end"] - w["pinned"]["start"])
        assert w["pinned_ratio"] == pytest.approx(w["two"]["wall_s"] / w["pinned"]["wall_s"])
        assert w["pinned_met"] == (w["pinned_ratio"] <= w["target"])
        # every trial of each study once, none left running
        for study in (w["one"], w["pinned"], w["two"]):
            assert study["trials"] == size["workers"]["trials"]
            assert study["complete"] + study["pruned"] + study["failed"] == study["trials"]
        if len(os.sched_getaffinity(0)) >= 2:  # each worker pinned to its own core
            assert [e["cores"] for e in w["each"]] == [1, 1]
            assert len(set(w["pinned_to"])) == 2
        assert set(w["loadavg"]) == {"before", "between", "after"}

    assert len(report["crossover"]) == len(size["crossover"]["cells"])
    for row in report["crossover"]:
        for cache in ("cold", "warm"):
            seconds = row[cache]
            assert seconds["ratio"] == pytest.approx(seconds["batched"] / seconds["one_at_a_time"])
            assert set(seconds["compile_s"]) == {"batched", "one_at_a_time"}
    assert "time ratio" in done.stdout and "workers (refill, warm cache):" in done.stdout


def test_quick_goes_with_optuna(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_search.main(["--quick"])
    assert exit_info.value.code == 2
    assert "--quick goes with --optuna" in capsys.readouterr().err
