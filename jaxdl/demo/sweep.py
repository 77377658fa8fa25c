"""5. A vmapped sweep on flower: 32 momentum configs trained at once (one compiled program),
ranked by validation loss; the table's and the plot's "best" is the lowest validation loss (the
plot's colour is the validation accuracy)."""

from __future__ import annotations

import math
import os

import numpy as np

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, row
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, OneMinusLogUniform, Space, run_sweep
from jaxdl.train import Trainer

SPACE = Space(learning_rate=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999))
CONFIGS = 32


def run(ctx: Context) -> Json:
    """Sample the space, train every config in one program, report the best three and the
    worst by the sweep's ranking metric (validation loss), each labelled with it."""
    data = load("flower", seed=ctx.seed)
    epochs = ctx.epochs(50, 300)
    trainer = Trainer(Standardized(MLP((2, 16, 16, 1)), data.stats), optimizer="momentum",
                      batch_size=64)
    results = run_sweep(SPACE, data, trainer=trainer, n=CONFIGS, epochs=epochs, seed=ctx.seed)
    ranked = results.monitor  # the table's order, best first: every "best" below is by this
    table = results.table
    if ctx.plots:
        results.to_csv(os.path.join(ctx.out, "5_sweep.csv"))
    runs = []
    picks = [("best", table[0]), ("2nd", table[1]), ("3rd", table[2]), ("worst", table[-1])]
    for label, entry in picks:
        i = entry["config"]
        lr, beta = entry["learning_rate"], entry["beta"]
        runs.append(
            row(
                f"{label} {ranked}: lr {lr:.2g} beta {beta:.3f}", results.trainers[i].model,
                results.params[i], results.model_state[i], data,
                cost=entry["loss"], learning_rate=lr, beta=beta, config=i,
                val_accuracy=entry["val_accuracy"], status=entry["status"],
                **{ranked: entry[ranked]},
                note=f"{ranked} {entry[ranked]:.3f}, val acc {entry['val_accuracy']:.3f} "
                f"({entry['status']})",
            )
        )
    rows = [results.row(i) for i in range(len(results.configs))]
    learning_rates = [r["learning_rate"] for r in rows]
    betas = [r["beta"] for r in rows]
    val = [r["val_accuracy"] if math.isfinite(r["val_accuracy"]) else 0.0 for r in rows]
    large = [v for v, lr in zip(val, learning_rates) if lr >= 1e-2]
    small = [v for v, lr in zip(val, learning_rates) if lr < 1e-3]
    holds = bool(large) and bool(small) and np.mean(large) > np.mean(small)
    best = table[0]
    headline = (
        f"best {ranked} {best[ranked]:.3f} (val acc {best['val_accuracy']:.2f}) at lr "
        f"{best['learning_rate']:.2g}, beta {best['beta']:.3f};\nmean val acc "
        f"{np.mean(large) if large else math.nan:.2f} for lr >= 1e-2 vs "
        f"{np.mean(small) if small else math.nan:.2f} for lr < 1e-3"
    )
    return {
        "title": "vmapped sweep of learning rate and beta",
        "setup": f"flower, {CONFIGS} configs, lr = 10**U(-4, 0), beta = 1 - 10**U(-3, -1); "
        f"momentum, MLP 2-16-16-1, mini-batches of 64, {epochs} epochs, one compiled program; "
        f"each config keeps its best epoch by {ranked}, configs ranked by {ranked}",
        "ranked_by": ranked,
        "headline": headline,
        "best": {"config": best["config"], "best_epoch": best["best_epoch"], ranked: best[ranked],
                 "val_accuracy": best["val_accuracy"], "learning_rate": best["learning_rate"],
                 "beta": best["beta"]},
        "runs": runs,
        "configs": [
            {"learning_rate": lr, "beta": b, "val_accuracy": r["val_accuracy"],
             "val_loss": r["val_loss"], "status": r["status"]}
            for lr, b, r in zip(learning_rates, betas, rows)
        ],
        "findings": [
            finding("learning rates >= 1e-2 reach a higher mean validation accuracy than rates "
                    "< 1e-3", holds)
        ],
        "plots": ctx.plot(
            plots.scatter, "5_sweep.png", learning_rates, [1.0 - b for b in betas], val,
            xlabel="learning rate", ylabel="1 - beta", label="validation accuracy",
            title=headline, best=best["config"], best_label=f"best {ranked}",
        ) + (["5_sweep.csv"] if ctx.plots else []),
    }
