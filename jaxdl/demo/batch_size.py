"""8. Batch vs mini-batch vs stochastic gradient descent: one epoch is one pass over the data,
in 1, 19 or 1200 steps."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import (
    Context,
    Json,
    finding,
    full_batch,
    fully_optimized,
    row,
    smooth,
    step_costs,
)
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer, fit

TIMING_REPEATS = 3
WINDOW = 100  # the EWA of the per-step cost averages about one epoch, at most this many steps


def noise(costs: Sequence[float] | np.ndarray) -> float:
    """Standard deviation of the step-to-step change of the per-step cost."""
    return float(np.std(np.diff(np.asarray(costs, np.float64)))) if len(costs) > 2 else 0.0


def run(ctx: Context) -> Json:
    """Train with three batch sizes; time an epoch and measure the per-step noise.

    The full demo times the programs compiled with all of XLA's optimizations, the best of
    ``TIMING_REPEATS`` runs; quick mode times one run of its own fast-compiled programs."""
    if ctx.quick:
        return _run(ctx)
    with fully_optimized():
        return _run(ctx)


def _run(ctx: Context) -> Json:
    data = load("moons", n=2000, seed=ctx.seed)
    epochs = ctx.epochs(10, 20)  # timing needs epochs to amortize the per-run overhead
    repeats = ctx.epochs(1, TIMING_REPEATS)
    model = Standardized(MLP((2, 10, 5, 1)), data.stats)
    m = full_batch(data)
    runs, smoothed, raw, epoch_curves = [], {}, {}, {}
    for name, size in (("batch", m), ("mini-batch 64", 64), ("stochastic", 1)):
        trainer = Trainer(model, optimizer="sgd", batch_size=size)
        args = (trainer, data.x_train, data.y_train)
        options: dict[str, Any] = {
            "hp": {"learning_rate": 0.05}, "seed": ctx.seed, "progress": False,
        }
        fit(*args, epochs=1, **options)  # compile outside the timed runs
        seconds = math.inf
        for _ in range(repeats):  # the fastest repeat: the least disturbed by other work
            start = time.perf_counter()
            result = fit(*args, epochs=epochs, **options)
            seconds = min(seconds, (time.perf_counter() - start) / epochs)
        entry = row(name, model, result.params, result.model_state, data,
                    cost=result.history["loss"][-1], loss=result.history["loss"])
        steps, costs = step_costs(result)
        per_epoch = len(result.history["batch_cost"][0])
        entry_noise = noise(costs[len(costs) // 2:])
        entry.update(
            seconds_per_epoch=seconds, steps_per_epoch=per_epoch, noise=entry_noise,
            note=f"{per_epoch} steps/epoch, {1e3 * seconds:.2f} ms/epoch, noise {entry_noise:.3f}",
        )
        runs.append(entry)
        # beta = 1 - 1 / window: about one epoch of steps (none for batch GD's one step)
        smoothed[name] = (steps, smooth(costs, 1.0 - 1.0 / min(WINDOW, per_epoch)))
        raw[name] = (steps, costs)
        epoch_curves[name] = (np.arange(1, epochs + 1), result.history["loss"])
    batch, mini, sgd = runs
    panels = [
        plots.Panel(f"per-step cost (faint), EWA over an epoch\nnoise {sgd['noise']:.2f} "
                    f"stochastic, {mini['noise']:.2f} mini-batch, {batch['noise']:.3f} batch",
                    smoothed, ylabel="cost of the step's batch",
                    ylim=(0.0, 1.2), raw=raw),
        plots.Panel(f"mean cost of each epoch\n{1e3 * sgd['seconds_per_epoch']:.1f} ms/epoch "
                    f"stochastic vs {1e3 * batch['seconds_per_epoch']:.1f} ms batch",
                    epoch_curves, logy=True),
    ]
    headline = (f"after {epochs} epochs: cost {sgd['cost']:.3f} stochastic, {mini['cost']:.3f} "
                f"mini-batch, {batch['cost']:.3f} batch: more steps per pass, noisier steps")
    return {
        "title": "batch vs mini-batch vs stochastic gradient descent",
        "setup": f"moons, 1200 training points, MLP 2-10-5-1 relu, plain GD lr 0.05, "
        f"{epochs} epochs; time per epoch: "
        + ("one run, compiled without XLA's expensive optimizations (quick)" if ctx.quick
           else f"the fastest of {repeats} runs, fully optimized"),
        "runs": runs,
        "findings": [
            finding("the per-step cost is noisiest for stochastic GD, then mini-batch, then "
                    "batch", sgd["noise"] > mini["noise"] > batch["noise"]),
            finding("stochastic GD takes longer per epoch than batch GD",
                    sgd["seconds_per_epoch"] > batch["seconds_per_epoch"]),
            finding("mini-batches reach a lower cost than batch GD in the same epochs",
                    mini["cost"] < batch["cost"]),
        ],
        "plots": ctx.plot(plots.lines, "8_batch_size_cost.png", panels, headline),
    }
