"""Same-run A/B: this tree's training step and epoch against another commit's, taking turns.

    python scripts/bench_ab.py --base REV [--rounds 5] [--repeats 5] [--sweep] [--tiny]

The other commit is unpacked with ``git archive`` into a temporary directory. Each round runs one
subprocess per tree (the order alternates from round to round), so both trees meet the same
machine load in turn. Each subprocess imports its own tree's ``jaxdl`` and ``scripts/benchlib.py``
and times the rows of ``bench.py``'s workload (MLP 784-512-512-10, batch norm, dropout, Adam):
``jaxdl_scan`` (the whole epoch in one compiled scan) and ``jaxdl_loop`` (the jitted step from a
Python loop), the median of ``--repeats`` epochs after a warm-up epoch, in wall seconds and in
the process's CPU seconds (``*_cpu``: all threads; less distorted than wall time when other
processes share the cores). ``--sweep`` adds
``bench_sweep.py``'s vmapped 32-config sweep (``vmap_s``). Printed: per row, the median over
rounds of each tree's seconds and ``ratio = head / base`` (below 1: this tree is faster), with
the range of the per-round ratios and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ROWS_CODE = """
import json, sys, statistics, time
sys.path.insert(0, "scripts")
import benchlib
w = benchlib.Workload(WORKLOAD)
x, y = benchlib.make_data(w)
out = {}
for name in ("jaxdl_scan", "jaxdl_loop"):
    epoch = getattr(benchlib, name)(w, x, y)
    epoch()
    wall, cpu = [], []
    for _ in range(REPEATS):
        c0, t0 = time.process_time(), time.perf_counter()
        epoch()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out[name] = statistics.median(wall)
    out[name + "_cpu"] = statistics.median(cpu)
print("RESULT" + json.dumps(out))
"""

SWEEP_CODE = """
import json, subprocess, sys, tempfile, os
path = os.path.join(tempfile.mkdtemp(), "s.json")
subprocess.run([sys.executable, "scripts/bench_sweep.py", "--json", path, "--cpu-devices", "1"],
               check=True, stdout=subprocess.DEVNULL)
print("RESULT" + json.dumps({"sweep_vmap": json.load(open(path))["vmap_s"]}))
"""


def run_tree(tree: str, code: str) -> dict[str, float]:
    """Run ``code`` in ``tree`` (its ``jaxdl`` first on the path); the figures it prints."""
    env = {**os.environ, "PYTHONPATH": tree}
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True,
                          capture_output=True, text=True)
    line = next(s for s in done.stdout.splitlines() if s.startswith("RESULT"))
    return dict(json.loads(line[len("RESULT"):]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per row and round")
    parser.add_argument("--sweep", action="store_true", help="also time bench_sweep.py's sweep")
    parser.add_argument("--tiny", action="store_true",
                        help="a minute workload that checks the script runs (no real timing)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="jaxdl-base-")
    archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
    workload = "sizes=(12, 8, 8, 3), batch_size=8, num_samples=32" if args.tiny else ""
    code = ROWS_CODE.replace("REPEATS", str(args.repeats)).replace("WORKLOAD", workload)
    load = [os.getloadavg()[0]]
    seconds: dict[str, dict[str, list[float]]] = {"head": {}, "base": {}}
    for r in range(args.rounds):
        order = [("head", ROOT), ("base", base)][:: 1 if r % 2 == 0 else -1]
        for side, tree in order:
            figures = run_tree(tree, code)
            if args.sweep:
                figures.update(run_tree(tree, SWEEP_CODE))
            for row, s in figures.items():
                seconds[side].setdefault(row, []).append(s)
    load.append(os.getloadavg()[0])
    print(f"base {args.base}, {args.rounds} rounds, load average {load[0]:.2f} -> {load[1]:.2f}")
    print(f"{'row':<12} {'head s':>9} {'base s':>9} {'ratio':>7}  per-round ratios")
    for row in seconds["head"]:
        head, old = seconds["head"][row], seconds["base"][row]
        ratios = [h / b for h, b in zip(head, old)]
        print(f"{row:<12} {statistics.median(head):9.4g} {statistics.median(old):9.4g} "
              f"{statistics.median(head) / statistics.median(old):7.4g}  "
              f"{min(ratios):.3f} .. {max(ratios):.3f}")


if __name__ == "__main__":
    main()
