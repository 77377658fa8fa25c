"""jaxdl's scanned epoch on one CPU device against the same epoch with each mini-batch split over
one CPU device per core (``jaxdl.infra.parallel.data_parallel``), for ``bench_cnn.py``'s CNNs.

    python scripts/bench_cnn_per_core.py [--quick] [--rounds 2] [--json PATH]

XLA:CPU runs one program's small convolutions on barely more than one core; two devices, each
with half of every mini-batch (batch norm's statistics over the whole batch), keep both busy.
The device count is fixed when JAX starts, so each setting runs in a process of its own
(``JAX_NUM_CPU_DEVICES``), taking turns for ``--rounds`` rounds. Printed: the median epoch
seconds (wall and process CPU) of each, and per-core / one-device per network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import jax
import bench_cnn, benchlib
from jaxdl.infra import parallel
out = {{}}
for name, n in {sizes!r}:
    w = bench_cnn.CNNWorkload(name, num_samples=n)
    x, y = bench_cnn.make_data(w)
    trainer = w.trainer()
    if {per_core!r}:
        trainer = parallel.data_parallel(trainer)
    epoch = benchlib.jaxdl_scan(w, x, y, trainer=trainer)
    epoch()
    times = []
    for _ in range({repeats}):
        t, c = time.perf_counter(), time.process_time()
        epoch()
        times.append((time.perf_counter() - t, time.process_time() - c))
    times.sort()
    out[name] = {{"wall_s": times[len(times) // 2][0], "cpu_s": times[len(times) // 2][1],
                 "devices": len(jax.devices())}}
print(json.dumps(out))
"""


def run_setting(per_core: bool, sizes: list[tuple[str, int]], repeats: int) -> dict:
    """One process: the median epoch of each network on one device or one device per core."""
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env["JAX_NUM_CPU_DEVICES"] = str(cores if per_core else 1)
    code = CHILD.format(here=HERE, sizes=sizes, per_core=per_core, repeats=repeats)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, 2 repeats, 1 round")
    parser.add_argument("--rounds", type=int, default=2, help="turns each setting takes")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    scale, repeats = (10, 2) if args.quick else (1, 7)
    sizes = [("cnn2d", 1000 // scale), ("cnn1d", 10000 // scale)]
    rounds = 1 if args.quick else args.rounds
    runs: dict[str, list[dict]] = {"one_device": [], "per_core": []}
    for r in range(rounds):
        order = ("one_device", "per_core") if r % 2 == 0 else ("per_core", "one_device")
        for setting in order:
            runs[setting].append(run_setting(setting == "per_core", sizes, repeats))
    result: dict = {"load_average": os.getloadavg()[0]}
    for name, _ in sizes:
        row = {}
        for setting, results in runs.items():
            row[setting + "_wall_s"] = statistics.median(r[name]["wall_s"] for r in results)
            row[setting + "_cpu_s"] = statistics.median(r[name]["cpu_s"] for r in results)
            row[setting + "_devices"] = results[0][name]["devices"]
        row["per_core_over_one_device"] = row["per_core_wall_s"] / row["one_device_wall_s"]
        result[name] = row
        print(f"{name}: one device {row['one_device_wall_s']:.4f} s "
              f"(CPU {row['one_device_cpu_s']:.4f} s), {row['per_core_devices']} devices "
              f"{row['per_core_wall_s']:.4f} s (CPU {row['per_core_cpu_s']:.4f} s): "
              f"per-core epoch at {row['per_core_over_one_device']:.2f}x the one-device time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
