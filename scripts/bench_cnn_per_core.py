"""jaxdl's scanned epoch on one CPU device against the same epoch with each mini-batch split over
one CPU device per core (``jaxdl.infra.parallel.data_parallel``), for ``bench_cnn.py``'s CNNs.

    python scripts/bench_cnn_per_core.py [--quick] [--rounds 2] [--batch-sizes 16,32,64,100]
                                         [--json PATH]

XLA:CPU runs one program's small convolutions on barely more than one core; two devices, each
with half of every mini-batch (batch norm's statistics over the whole batch), keep both busy.
The device count is fixed when JAX starts, so each setting runs in a process of its own
(``JAX_NUM_CPU_DEVICES``), taking turns for ``--rounds`` rounds. Printed: the median epoch
seconds (wall and process CPU) of each, and per-core / one-device per network and batch size,
beside the forward pass's FLOPs per core and what ``jaxdl train`` chooses
(``jaxdl.infra.parallel.cpu_split``): the rows across batch sizes show where splitting starts to
pay, the measurement behind ``CPU_SPLIT_MIN_FLOPS``.
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
for name, n, batch in {sizes!r}:
    w = bench_cnn.CNNWorkload(name, num_samples=n, batch_size=batch)
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
    wall, cpu = times[len(times) // 2]
    out[f"{{name}}/{{batch}}"] = {{"wall_s": wall, "cpu_s": cpu, "devices": len(jax.devices())}}
print(json.dumps(out))
"""


def run_setting(per_core: bool, sizes: list[tuple[str, int, int]], repeats: int) -> dict:
    """One process: the median epoch of each network on one device or one device per core."""
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env["JAX_NUM_CPU_DEVICES"] = str(cores if per_core else 1)
    code = CHILD.format(here=HERE, sizes=sizes, per_core=per_core, repeats=repeats)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def choice(name: str, batch: int, cores: int) -> dict:
    """The forward pass's MFLOP per core at this batch size, and whether ``jaxdl train`` would
    split it over ``cores`` CPU devices (``cpu_split``'s rule, evaluated without a second
    device: only the FLOP count and the divisibility matter)."""
    sys.path.insert(0, HERE)
    import bench_cnn

    from jaxdl.infra.parallel import CPU_SPLIT_MIN_FLOPS, forward_cost

    model = bench_cnn.CNNWorkload(name, batch_size=batch).trainer().model
    flops, convolves = forward_cost(model, (batch, *model.input_shape))
    splits = convolves and batch % cores == 0 and flops / cores >= CPU_SPLIT_MIN_FLOPS
    return {"forward_mflop_per_core": flops / cores / 1e6, "train_splits": bool(splits)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, 2 repeats, 1 round")
    parser.add_argument("--rounds", type=int, default=2, help="turns each setting takes")
    parser.add_argument("--batch-sizes", default="100",
                        help="comma-separated mini-batch sizes, each measured on both CNNs")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    scale, repeats = (10, 2) if args.quick else (1, 7)
    batches = [int(b) for b in args.batch_sizes.split(",")]
    sizes = [(name, n // scale, b) for name, n in (("cnn2d", 1000), ("cnn1d", 10000))
             for b in batches]
    rounds = 1 if args.quick else args.rounds
    runs: dict[str, list[dict]] = {"one_device": [], "per_core": []}
    for r in range(rounds):
        order = ("one_device", "per_core") if r % 2 == 0 else ("per_core", "one_device")
        for setting in order:
            runs[setting].append(run_setting(setting == "per_core", sizes, repeats))
    result: dict = {"load_average": os.getloadavg()[0]}
    cores = runs["per_core"][0]
    for name, _, batch in sizes:
        label = f"{name}/{batch}"
        row = choice(name, batch, cores[label]["devices"])
        for setting, results in runs.items():
            row[setting + "_wall_s"] = statistics.median(r[label]["wall_s"] for r in results)
            row[setting + "_cpu_s"] = statistics.median(r[label]["cpu_s"] for r in results)
            row[setting + "_devices"] = results[0][label]["devices"]
        row["per_core_over_one_device"] = row["per_core_wall_s"] / row["one_device_wall_s"]
        result[label] = row
        print(f"{label} ({row['forward_mflop_per_core']:.1f} MFLOP per core, jaxdl train "
              f"splits: {row['train_splits']}): one device {row['one_device_wall_s']:.4f} s "
              f"(CPU {row['one_device_cpu_s']:.4f} s), {row['per_core_devices']} devices "
              f"{row['per_core_wall_s']:.4f} s (CPU {row['per_core_cpu_s']:.4f} s): "
              f"per-core epoch at {row['per_core_over_one_device']:.2f}x the one-device time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
