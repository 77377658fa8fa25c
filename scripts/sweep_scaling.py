"""The sweep's scaling table: the benchmark sweep at 1, 8, 32, 128, 512 configs.

Per config count ``n`` (learning rates sampled as in ``bench_sweep.py``): ``first_s`` (the first
``run_sweep`` after ``jax.clear_caches()``: compilation included), ``steady_s`` (the fastest of
``repeats`` further runs), ``compile_s = first_s - steady_s``, ``s_per_config_epoch =
steady_s / (n * epochs)``, the achieved matmul GFLOP/s and its ``peak_share`` of the float32
matmul peak measured in the same run (``benchlib.matmul_peak`` before and after the rows, the
better of the two: a busy moment lowers a measurement, so the better one is the stricter bar),
and the memory of the compiled sweep program from ``compiled.memory_analysis()``
(``peak_bytes``: arguments, outputs and temporaries of one call per device; ``program_bytes``
without the arguments), with the members per call the chunking planner chose
(``jaxdl.sweep.chunking``).

FLOPs per config-epoch: ``6 * batch * sum(n_in * n_out)`` per training step (the usual estimate,
as in ``benchlib``) times the steps, plus ``2 * m_val * sum(n_in * n_out)`` for the validation
pass.

:func:`matmul_floor` times only the matmuls of a step (``bench_ablation``'s floor step),
vmapped over ``width`` members on every device (``shard_map``), to show how close the small
per-member matmuls alone come to the peak at the widths the sweep runs (its blocks on CPU).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import bench_ablation
import benchlib
import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.sweep import Space, chunking, run_sweep, sample, sharding
from jaxdl.train import TRAIN_COMPILER_OPTIONS, Trainer

COUNTS = (1, 8, 32, 128, 512)
FLOOR_WIDTHS = (1, 8, 16, 64, 256)  # members per device of matmul_floor


def flops_per_config_epoch(sizes: Sequence[int], batch: int, m: int, m_val: int) -> int:
    """Matmul FLOPs of one config's epoch: training steps plus the validation forward pass.

    >>> flops_per_config_epoch((2, 3), batch=4, m=8, m_val=5)
    348
    """
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    steps = -(-m // batch)
    return 6 * batch * weights * steps + 2 * m_val * weights


def scaling(
    trainer: Trainer,
    sizes: Sequence[int],
    space: Space,
    data: tuple[np.ndarray, ...],
    counts: Sequence[int] = COUNTS,
    epochs: int = 2,
    repeats: int = 1,
    peak_size: int = 4096,
) -> dict[str, Any]:
    """One row per config count (see the module docstring) and the matmul peak."""
    peaks = [benchlib.matmul_peak(peak_size)]
    flops = flops_per_config_epoch(sizes, trainer.batch_size, len(data[0]), len(data[2]))
    rows = []
    for n in counts:
        configs = sample(space, 0, n)
        kw = {"trainer": trainer, "epochs": epochs, "seed": 0}
        jax.clear_caches()
        start = time.perf_counter()
        run_sweep(configs, data, **kw)
        first_s = time.perf_counter() - start
        plan = chunking.last_plan()
        steady = []
        for _ in range(repeats):
            start = time.perf_counter()
            run_sweep(configs, data, **kw)
            steady.append(time.perf_counter() - start)
        steady_s = min(steady)
        gflops = n * epochs * flops / steady_s / 1e9
        rows.append({
            "configs": n,
            "first_s": first_s,
            "steady_s": steady_s,
            "compile_s": max(first_s - steady_s, 0.0),
            "s_per_config_epoch": steady_s / (n * epochs),
            "gflops": gflops,
            "peak_bytes": plan.peak_bytes if plan else None,
            "program_bytes": plan.program_bytes if plan else None,
            "members_per_call": plan.members_per_call if plan else None,
        })  # fmt: skip
    peaks.append(benchlib.matmul_peak(peak_size))
    peak = max(p["peak"] for p in peaks)
    for row in rows:
        row["peak_share"] = row["gflops"] / peak
    return {"matmul_peak_gflops": peak, "matmul_peaks": peaks, "epochs": epochs,
            "flops_per_config_epoch": flops, "rows": rows}


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table."""
    head = (f"{'configs':>7} {'first s':>8} {'steady s':>9} {'s/config-epoch':>15} "
            f"{'GFLOP/s':>8} {'of peak':>8} {'peak MiB':>9} {'per call':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        mib = r["peak_bytes"] / 2**20 if r["peak_bytes"] is not None else float("nan")
        lines.append(
            f"{r['configs']:>7} {r['first_s']:>8.2f} {r['steady_s']:>9.3f} "
            f"{r['s_per_config_epoch']:>15.3g} {r['gflops']:>8.2f} {r['peak_share']:>8.1%} "
            f"{mib:>9.1f} {r['members_per_call']!s:>8}"
        )
    return "\n".join(lines)


def matmul_floor(
    sizes: Sequence[int], batch: int, widths: Sequence[int], peak: float, steps: int = 32,
    repeats: int = 5,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per ``width`` (members per device): ms per step and per member-step of the step's
    matmuls alone, vmapped over ``width`` members on every device, and their GFLOP/s (FLOPs
    counted from the step's jaxpr) as a share of ``peak``."""
    mesh = sharding.config_mesh()
    flops = bench_ablation.step_flops(benchlib.Workload(sizes=tuple(sizes), batch_size=batch))
    rng = np.random.default_rng(0)
    xs = sharding.put(rng.normal(size=(steps, batch, sizes[0])).astype(np.float32),
                      sharding.replicated(mesh))
    step = jax.vmap(bench_ablation._matmul_step, in_axes=(0, None))

    def local(ws, xs):
        return jax.lax.scan(lambda w, xb: (step(w, xb)[0], None), ws, xs)[0]

    spec = P(sharding.AXIS)
    epoch = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(spec, P()), out_specs=spec),
                    compiler_options=TRAIN_COMPILER_OPTIONS)  # as the sweep's own epochs
    rows = []
    for width in widths:
        members = width * mesh.size
        ws = [rng.normal(size=(members, a, b)).astype(np.float32) / np.sqrt(a)
              for a, b in zip(sizes[:-1], sizes[1:])]  # fmt: skip
        ws = jax.device_put(ws, NamedSharding(mesh, spec))
        ws = jax.block_until_ready(epoch(ws, xs))
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            ws = jax.block_until_ready(epoch(ws, xs))
            seconds.append(time.perf_counter() - start)
        per_step = min(seconds) / steps
        gflops = members * flops / per_step / 1e9
        rows.append({"members_per_device": width, "ms_per_step": per_step * 1e3,
                     "ms_per_member_step": per_step * 1e3 / members, "gflops": gflops,
                     "peak_share": gflops / peak})  # fmt: skip
    return rows


def format_floor(rows: list[dict[str, Any]]) -> str:
    """The :func:`matmul_floor` rows as an aligned text table."""
    head = f"{'per device':>10} {'ms/step':>8} {'ms/member-step':>15} {'GFLOP/s':>8} {'of peak':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['members_per_device']:>10} {r['ms_per_step']:>8.3f} "
                     f"{r['ms_per_member_step']:>15.4f} {r['gflops']:>8.1f} "
                     f"{r['peak_share']:>8.1%}")
    return "\n".join(lines)
