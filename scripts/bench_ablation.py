"""Where the training step's time goes: the benchmark epoch built up one feature at a time.

    python scripts/bench_ablation.py [--repeats 7] [--json PATH]

The workload of ``scripts/bench.py`` (MLP 784-512-512-10, batch 128, 16,384 samples). Each row
adds one piece to the row above, every row a ``jaxdl.train.run_epoch`` (shuffle, gather, scan)
except the first:

    matmuls            a hand-written scan doing only the step's 8 matmuls (3 forward, 3 weight
                       gradients, 2 input gradients) and a scalar-step weight update: the floor
    mlp + sgd          jaxdl's plain MLP (ReLU, softmax cross-entropy, L2 off) with SGD
    + adam             Adam instead of SGD
    + batch norm       batch norm in both hidden layers
    + dropout          dropout after both hidden layers (= bench.py's row 1)

Columns: ms per step (median epoch over steps, the rows take turns), the share of the float32
matmul peak measured in the same run, and each row's extra time per step over the row above.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import benchlib
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.infra.atomic import write_json
from jaxdl.train import TRAIN_COMPILER_OPTIONS, Trainer


def _matmul_step(ws: list[jax.Array], xb: jax.Array) -> tuple[list[jax.Array], None]:
    """Forward matmuls, weight and input gradients (not the first layer's input gradient),
    and ``W - 1e-12 * dW``."""
    acts = [xb]
    for W in ws:
        acts.append(acts[-1] @ W)
    g, grads = acts[-1], []
    for i in reversed(range(len(ws))):
        grads.append(acts[i].T @ g)
        if i:
            g = g @ ws[i].T
    return [W - 1e-12 * dW for W, dW in zip(ws, reversed(grads))], None


def _weights(w: benchlib.Workload) -> list[jax.Array]:
    rng = np.random.default_rng(0)
    return [jnp.asarray(rng.normal(size=(a, b)).astype(np.float32) / np.sqrt(a))
            for a, b in zip(w.sizes[:-1], w.sizes[1:])]  # fmt: skip


def step_flops(w: benchlib.Workload) -> int:
    """FLOPs of the matmuls in one step of the floor, counted from its jaxpr."""
    xb = jnp.zeros((w.batch_size, w.sizes[0]), jnp.float32)
    total = 0
    for eqn in jax.make_jaxpr(_matmul_step)(_weights(w), xb).eqns:
        if eqn.primitive.name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            k = int(np.prod([eqn.invars[0].aval.shape[d] for d in contract]))
            total += 2 * k * int(np.prod(eqn.outvars[0].aval.shape))
    return total


def matmuls_only(w: benchlib.Workload, x: np.ndarray, y: np.ndarray) -> benchlib.EpochFn:
    """The step's matmuls and a scalar-step weight update, scanned over the batches (compiled
    with the training programs' options)."""
    xd = jax.device_put(x).reshape(w.steps_per_epoch, w.batch_size, -1)
    epoch = jax.jit(lambda ws, xd: jax.lax.scan(_matmul_step, ws, xd)[0],
                    compiler_options=TRAIN_COMPILER_OPTIONS)
    box = {"ws": _weights(w)}

    def run() -> None:
        box["ws"] = jax.block_until_ready(epoch(box["ws"], xd))

    return run


def variant(**changes: Any) -> Any:
    """A ``run_epoch`` row: the workload's trainer with ``changes`` to the model or optimizer."""

    def make(w: benchlib.Workload, x: np.ndarray, y: np.ndarray) -> benchlib.EpochFn:
        model_kw = {k: v for k, v in changes.items() if k != "optimizer"}
        model = dataclasses.replace(w.model(), **model_kw)
        trainer = Trainer(model, optimizer=changes.get("optimizer", "adam"),
                          batch_size=w.batch_size)  # fmt: skip
        return benchlib.jaxdl_scan(w, x, y, model=model, trainer=trainer)

    return make


ROWS = {
    "matmuls": matmuls_only,
    "mlp + sgd": variant(batch_norm=False, dropout=False, optimizer="sgd"),
    "+ adam": variant(batch_norm=False, dropout=False),
    "+ batch norm": variant(dropout=False),
    "+ dropout": variant(),
}


def run(
    w: benchlib.Workload, repeats: int, peak_size: int = 4096, settle_s: float = 0.3
) -> dict[str, Any]:
    """Time every row in turns; returns the peak and a dict per row (``ms_per_step``,
    ``peak_share``, ``extra_ms_per_step`` over the row above)."""
    x, y = benchlib.make_data(w)
    epochs = {name: make(w, x, y) for name, make in ROWS.items()}
    timings = benchlib.measure(epochs, repeats, settle_s=settle_s)
    peaks = benchlib.matmul_peak(peak_size)
    rows, previous = [], None
    for name, timing in timings.items():
        step_ms = timing.median_s / w.steps_per_epoch * 1e3
        rows.append({
            "row": name,
            "ms_per_step": step_ms,
            "peak_share": timing.gflops(w) / peaks["peak"],
            "extra_ms_per_step": None if previous is None else step_ms - previous,
        })  # fmt: skip
        previous = step_ms
    return {"matmul_gflops": peaks, "rows": rows, "machine": benchlib.machine()}


def report(w: benchlib.Workload, result: dict[str, Any]) -> str:
    """The header and the table."""
    lines = [benchlib.describe(w, result["matmul_gflops"]),
             f"{'row':14s} {'ms/step':>8s} {'peak share':>11s} {'extra ms/step':>14s}"]
    for r in result["rows"]:
        extra = "" if r["extra_ms_per_step"] is None else f"{r['extra_ms_per_step']:+.3f}"
        lines.append(f"{r['row']:14s} {r['ms_per_step']:8.3f} {r['peak_share']:11.1%} {extra:>14s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed epochs per row")
    parser.add_argument("--json", help="write the numbers to this file")
    parser.add_argument("--quick", action="store_true", help="a smaller epoch (a smoke test)")
    args = parser.parse_args(argv)
    w = benchlib.Workload(num_samples=1024) if args.quick else benchlib.Workload()
    result = run(w, args.repeats, peak_size=1024 if args.quick else 4096)
    print(report(w, result))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
