"""Training throughput of jaxdl's scanned epoch against a Python loop and the course's NumPy.

    python scripts/bench_train.py [--repeats N] [--json PATH]

Measures, in one run, on the workload of ``benchlib`` (MLP 784-512-512-10, batch norm, dropout
keep 0.8, Adam 1e-3, batch 128, float32, 16384 samples):

* ``scan``: ``jaxdl.train.run_epoch``, the whole epoch (shuffle included) as one jitted scan
* ``loop``: the same ``Trainer.train_step``, jitted, from a Python loop over device batches
* ``numpy``: the course's hand-written NumPy forward/backward with batch norm, dropout and Adam

and the float32 matmul peak of this machine (best of a large JAX and a large NumPy matmul).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import benchlib
from benchlib import Workload

from jaxdl.infra.atomic import write_json

TARGETS = {"scan_vs_loop": 1.05, "scan_vs_numpy": 2.3, "peak_share": 0.45}


def run(
    w: Workload, repeats: int = 7, peak_size: int = 4096, settle_s: float = 0.3
) -> dict[str, Any]:
    """Measure the three implementations and the matmul peak; the figures as a dict."""
    x, y = benchlib.make_data(w)
    epochs = {
        "scan": benchlib.jaxdl_scan(w, x, y),
        "loop": benchlib.jaxdl_loop(w, x, y),
        "numpy": benchlib.numpy_course(w, x, y),
    }
    timings = benchlib.measure(epochs, repeats, settle_s)
    peak = benchlib.matmul_peak(peak_size)
    rows = benchlib.table(w, timings, peak["peak"], reference="scan")
    by_name = {r["name"]: r for r in rows}
    scan = by_name["scan"]
    return {
        "scan_samples_per_s": scan["samples_per_s"],
        "loop_samples_per_s": by_name["loop"]["samples_per_s"],
        "numpy_samples_per_s": by_name["numpy"]["samples_per_s"],
        "matmul_peak_gflops": peak["peak"],
        "scan_gflops": scan["gflops"],
        "peak_share": scan["peak_share"],
        "scan_vs_loop": scan["samples_per_s"] / by_name["loop"]["samples_per_s"],
        "scan_vs_numpy": scan["samples_per_s"] / by_name["numpy"]["samples_per_s"],
        "matmul_gflops": peak,
        "rows": rows,
        "machine": benchlib.machine(),
        "repeats": repeats,
    }


def report(w: Workload, result: dict[str, Any]) -> str:
    """The result as text: header, table and each target met or missed."""
    lines = [
        benchlib.describe(w, result["matmul_gflops"]),
        f"first epoch = compile + warm-up; epoch = median of {result['repeats']} epochs",
        "",
        benchlib.format_table(result["rows"], "scan"),
        "",
    ]
    for key, goal in TARGETS.items():
        value = result[key]
        shown = f"{value:.1%}" if key == "peak_share" else f"{value:.2f}x"
        wanted = f"{goal:.0%}" if key == "peak_share" else f"{goal:.2f}x"
        lines.append(
            f"{key:<14} {shown:>8}  (target >= {wanted}: {'met' if value >= goal else 'MISSED'})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="steady-state epochs per row")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    w = Workload()
    result = run(w, args.repeats)
    print(report(w, result))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
