"""The course's experiments, each one real training run per row of a summary table.

    1 initialization   circles: zeros vs random * 10 vs He (zeros stays at chance, He is best)
    2 regularization   a small noisy set: none vs L2 vs dropout (both shrink the train-test gap)
    3 optimizers       moons, mini-batches: GD vs momentum vs Adam, with and without lr decay
    4 batch_norm       digits, 6 hidden layers: batch norm off/on over learning rates 0.05..1
    5 sweep            flower, 32 vmapped momentum configs: lr (log scale), beta = 1 - 10**r,
                       ranked by validation loss
    6 gradients        per-layer gradient norms of a 20-layer net: random*0.01 / random*10 / He
    7 normalization    unscaled moons: raw vs standardized inputs, each at its lowest-cost lr
    8 batch_size       batch vs mini-batch vs stochastic gradient descent: noise, time per epoch

Each experiment is a module of this package with a ``run(ctx)`` function; :mod:`.common` holds
what they share. :func:`run` writes ``results.json`` (every number of the table, the curves and
whether each expected finding held) and PNG plots into an output directory; :func:`format_table`
prints the summary. ``quick=True`` trains fewer epochs of the same models and compiles them
for speed of compilation (see :func:`run`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxdl.checks import check_positive_int
from jaxdl.demo import (
    batch_norm,
    batch_size,
    gradients,
    initialization,
    normalization,
    optimizers,
    regularization,
    sweep,
)
from jaxdl.demo.common import Context, Json
from jaxdl.infra.atomic import write_json

EXPERIMENTS: dict[str, Callable[[Context], Json]] = {
    "initialization": initialization.run,
    "regularization": regularization.run,
    "optimizers": optimizers.run,
    "batch_norm": batch_norm.run,
    "sweep": sweep.run,
    "gradients": gradients.run,
    "normalization": normalization.run,
    "batch_size": batch_size.run,
}
NAMES: tuple[str, ...] = tuple(EXPERIMENTS)

__all__ = ["EXPERIMENTS", "NAMES", "Context", "format_table", "run", "select"]


def select(only: Sequence[str] | None) -> list[str]:
    """Experiment names from numbers (``"3"``) or names (``"optimizers"``), in table order."""
    if not only:
        return list(NAMES)
    chosen = set()
    for item in only:
        item = str(item).strip()
        if item.isdigit() and 1 <= int(item) <= len(NAMES):
            chosen.add(NAMES[int(item) - 1])
        elif item in EXPERIMENTS:
            chosen.add(item)
        else:
            raise ValueError(
                f"unknown experiment {item!r}; use 1..{len(NAMES)} or one of {', '.join(NAMES)}"
            )
    return [name for name in NAMES if name in chosen]


def run(
    out: str = "jaxdl-out",
    *,
    quick: bool = False,
    seed: int = 0,
    only: Sequence[str] | None = None,
    plots: bool = True,
    log: Callable[[str], None] | None = None,
) -> Json:
    """Run the experiments, write ``out/results.json`` (and PNGs when ``plots``) and return the
    results. ``log`` receives one line per finished experiment.

    ``quick`` trains fewer epochs and compiles without XLA's expensive optimizations
    (``jax_disable_most_optimizations``): the demo's programs are tiny, so compiling dominates
    a short run, and skipping the optimizations halves it for slightly slower steps. The
    setting is restored afterwards.
    """
    check_positive_int("seed", seed, minimum=0)
    names = select(only)
    os.makedirs(out, exist_ok=True)
    ctx = Context(quick=quick, seed=seed, out=out, plots=plots)
    start, cpu_start = time.perf_counter(), time.process_time()
    experiments = []
    fast_compile = bool(jax.config.values.get("jax_disable_most_optimizations", False))
    jax.config.update("jax_disable_most_optimizations", bool(quick) or fast_compile)
    try:
        for name in names:
            began, cpu_began = time.perf_counter(), time.process_time()
            result = EXPERIMENTS[name](ctx)
            number = NAMES.index(name) + 1
            result = {"number": number, "name": name, **result,
                      "seconds": time.perf_counter() - began,
                      "cpu_seconds": time.process_time() - cpu_began}
            experiments.append(result)
            if log is not None:
                held = sum(f["holds"] for f in result["findings"])
                log(f"[{number}] {result['title']}: {result['seconds']:.1f} s "
                    f"({result['cpu_seconds']:.1f} s of CPU), "
                    f"{held}/{len(result['findings'])} expected findings")
    finally:
        jax.config.update("jax_disable_most_optimizations", fast_compile)
    results = {
        "quick": quick,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        # CPU time of every thread: comparable between runs on a machine shared with others
        "cpu_seconds": time.process_time() - cpu_start,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "experiments": experiments,
    }
    write_json(os.path.join(out, "results.json"), results)
    return results


def _cell(value: Any, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else (
        format(value, spec)
    )


def format_table(results: Json) -> str:
    """The summary: one row per run (train/test accuracy, training cost: the final epoch's, a
    sweep row's at its best epoch; a note), then the expected findings and whether each held."""
    width = max([31, *(len(r["run"]) for e in results["experiments"] for r in e["runs"])])
    header = (f"{'#':>2}  {'experiment':<15} {'run':<{width}} {'train':>6} {'test':>6} "
              f"{'cost':>9}  note")
    lines = [header, "-" * len(header)]
    for exp in results["experiments"]:
        for run_ in exp["runs"]:
            lines.append(
                f"{exp['number']:>2}  {exp['name']:<15} {run_['run']:<{width}} "
                f"{_cell(run_.get('train_accuracy'), '.3f'):>6} "
                f"{_cell(run_.get('test_accuracy'), '.3f'):>6} "
                f"{_cell(run_.get('cost'), '.4g'):>9}  {run_.get('note', '')}"
            )
    lines.append("")
    lines.append("expected findings:")
    for exp in results["experiments"]:
        for finding in exp["findings"]:
            mark = "yes" if finding["holds"] else "NO "
            lines.append(f"  [{mark}] {exp['number']} {finding['claim']}")
    mode = "quick" if results["quick"] else "full"
    lines.append(
        f"{len(results['experiments'])} experiments ({mode}, seed {results['seed']}) in "
        f"{results['seconds']:.0f} s"
        + (f" ({results['cpu_seconds']:.0f} s of CPU)" if "cpu_seconds" in results else "")
    )
    return "\n".join(lines)
