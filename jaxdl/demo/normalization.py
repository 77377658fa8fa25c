"""7. Input normalization: gradient descent on features of scale 1000 and 0.001. Standardized
inputs converge faster, whatever learning rate the raw ones get."""

from __future__ import annotations

import math

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, full_batch, per_epoch, train
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer

RATES = (1.0, 0.1, 0.01, 1e-3, 1e-4)


def run(ctx: Context) -> Json:
    """Raw vs standardized unscaled moons, each at the learning rate of a grid that reaches the
    lowest final training cost."""
    epochs = ctx.epochs(80, 400)
    model = MLP((2, 10, 5, 1))
    runs, curves = [], {}
    for name, normalize in (("standardized", True), ("unscaled", False)):
        data = load("unscaled_moons", n=300, seed=ctx.seed, normalize=normalize)
        net = model if data.stats is None else Standardized(model, data.stats)
        trainer = Trainer(net, optimizer="sgd", batch_size=full_batch(data))
        tried = []
        for lr in RATES:
            entry, result = train(ctx, name, trainer, data, {"learning_rate": lr}, epochs)
            tried.append((entry, result, lr))
        finite = [t for t in tried if not t[0]["diverged"] and math.isfinite(t[0]["cost"])]
        entry, result, lr = min(finite, key=lambda t: t[0]["cost"])
        diverged = sum(t[0]["diverged"] for t in tried)
        entry.update(
            run=f"{name} (lowest-cost lr {lr:g})", learning_rate=lr,
            grid={f"{t[2]:g}": None if t[0]["diverged"] else t[0]["cost"] for t in tried},
            note=f"lowest final cost of lr {RATES[0]:g}..{RATES[-1]:g}"
            + (f", {diverged} diverged" if diverged else ""),
        )
        runs.append(entry)
        curves[entry["run"]] = per_epoch(result.history["loss"])
    standardized, unscaled = runs
    target = unscaled["cost"]
    reached = next(
        (epoch for epoch, c in enumerate(standardized["loss"]) if c <= target), None
    )
    standardized["epochs_to_unscaled_cost"] = reached
    if reached is not None:
        standardized["note"] += f"; reaches the unscaled final cost at epoch {reached + 1}"
    when = f"epoch {reached + 1}" if reached is not None else "no epoch"
    headline = (f"standardized inputs reach the unscaled run's final cost ({target:.3f}) at "
                f"{when} of {epochs}, and end at {standardized['cost']:.3f} (each run at the "
                "learning rate of its lowest final training cost)")
    return {
        "title": "input normalization on unscaled moons",
        "setup": f"features x1 * 1000, x2 * 0.001; MLP 2-10-5-1 relu, gradient descent, full "
        f"batch, {epochs} epochs, the lr of lowest final training cost of "
        f"{', '.join(f'{r:g}' for r in RATES)}",
        "runs": runs,
        "findings": [
            finding("standardized inputs reach a lower cost than unscaled ones",
                    standardized["cost"] < unscaled["cost"]),
            finding("standardized inputs reach the unscaled final cost in under half the epochs",
                    reached is not None and reached < epochs / 2),
        ],
        "plots": ctx.plot(plots.lines, "7_normalization_cost.png",
                          [plots.Panel("training cost per epoch", curves, logy=True)],
                          headline),
    }
