"""Compile time of a first and a second ``jaxdl train`` with the persistent compilation cache.

    python scripts/bench_compile_cache.py [--json PATH] [--epochs 3] [--dataset digits]

Runs the same ``jaxdl train`` command (built-in dataset, MLP with batch norm, same shapes) twice,
each in a fresh Python process, sharing one new, empty temporary cache folder
(``XDG_CACHE_HOME`` points into it), then once more with ``--no-compile-cache`` (``no_cache``:
what the first run would cost without writing the cache), and reports for each run:

- ``compile_s``: the sum of JAX's ``/jax/core/compile/backend_compile_duration`` events, the
  time spent in XLA compilation, or in reading the executable from the cache on a hit;
- ``trace_lower_s``: tracing to jaxprs and lowering to MLIR (not cached: paid by every run);
- ``cache_hits`` / ``cache_misses``, and ``wall_s`` of the whole process (imports included).

``second_over_first`` is ``compile_s`` of run 2 over run 1 (target < 0.2). Both numbers come from
the same invocation, so the ratio is meaningful even on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jaxdl.infra.atomic import write_json  # noqa: E402

# Runs ``jaxdl train`` (the CLI's main) in this process and writes the compile events to argv[1].
DRIVER = """
import json, sys, time
from collections import Counter
import jax
seconds, counts = Counter(), Counter()
def on_duration(name, duration, **kwargs):
    seconds[name] += duration
jax.monitoring.register_event_duration_secs_listener(on_duration)
jax.monitoring.register_event_listener(lambda name, **kwargs: counts.update([name]))
from jaxdl.cli import main
status = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"status": status, "seconds": seconds, "counts": counts}, f)
"""

COMPILE = "/jax/core/compile/backend_compile_duration"
TRACE_LOWER = ("/jax/core/compile/jaxpr_trace_duration",
               "/jax/core/compile/jaxpr_to_mlir_module_duration")


def one_run(train_args: list[str], cache_home: str, work: str) -> dict[str, float]:
    """One ``jaxdl train`` in a fresh process; its compile seconds, cache counts and wall time."""
    events = os.path.join(work, "events.json")
    env = {k: v for k, v in os.environ.items() if k != "JAXDL_NO_COMPILE_CACHE"}
    env.update(XDG_CACHE_HOME=cache_home, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, events, "train", *train_args, "--out", work],
        env=env, cwd=work, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"jaxdl train failed ({done.returncode}):\n{done.stderr}")
    with open(events) as f:
        got = json.load(f)
    seconds, counts = got["seconds"], got["counts"]
    return {
        "compile_s": seconds.get(COMPILE, 0.0),
        "trace_lower_s": sum(seconds.get(name, 0.0) for name in TRACE_LOWER),
        "cache_hits": counts.get("/jax/compilation_cache/cache_hits", 0),
        "cache_misses": counts.get("/jax/compilation_cache/cache_misses", 0),
        "wall_s": wall,
    }


def run(dataset: str = "digits", epochs: int = 3, no_cache_run: bool = True) -> dict[str, object]:
    """Two runs of the same command on a fresh cache (and one without it); the report."""
    train_args = ["--dataset", dataset, "--hidden", "64,64", "--batch-norm", "--epochs",
                  str(epochs), "--batch-size", "64", "--no-plots", "--no-progress"]
    with tempfile.TemporaryDirectory(prefix="jaxdl-bench-cache-") as tmp:
        cache_home = os.path.join(tmp, "cache")
        runs = []
        plan = [("first", []), ("second", []), ("no_cache", ["--no-compile-cache"])]
        for name, extra in plan if no_cache_run else plan[:2]:
            work = os.path.join(tmp, name)
            os.makedirs(work)
            runs.append(one_run(train_args + extra, cache_home, work))
        entries = len(os.listdir(os.path.join(cache_home, "jaxdl", "xla")))
    first, second = runs[:2]
    no_cache = runs[2] if no_cache_run else None
    return {
        "command": "jaxdl train " + " ".join(train_args),
        "first": first,
        "second": second,
        "no_cache": no_cache,
        "cache_entries": entries,
        "second_over_first": second["compile_s"] / first["compile_s"],
        "target": 0.2,
        "method": f"sum of {COMPILE} monitoring events per process",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="write the report to this JSON file")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--epochs", type=int, default=3)
    opts = parser.parse_args()
    report = run(opts.dataset, opts.epochs)
    print(report["command"])
    print(f"{'run':<8}{'compile_s':>11}{'trace_lower_s':>15}{'hits':>6}{'misses':>8}{'wall_s':>8}")
    for name in ("first", "second", "no_cache"):
        r = report[name]
        if r is None:
            continue
        print(f"{name:<8}{r['compile_s']:>11.3f}{r['trace_lower_s']:>15.3f}{r['cache_hits']:>6}"
              f"{r['cache_misses']:>8}{r['wall_s']:>8.2f}")
    print(f"second_over_first {report['second_over_first']:.3f} (target < {report['target']}); "
          f"{report['cache_entries']} cache entries")
    if opts.json:
        write_json(opts.json, report)


if __name__ == "__main__":
    main()
