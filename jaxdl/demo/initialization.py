"""1. Initialization on circles: zeros never break symmetry, random * 10 starts with a huge cost,
He trains well."""

from __future__ import annotations

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, full_batch, train
from jaxdl.evaluation import boundary
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer

VARIANTS = [("zeros", "zeros", 0.01), ("random*10", "random_normal", 10.0), ("he", "he", 0.01)]
WHY_FLAT = "flat at P = 0.5: zero weights keep every unit identical, so symmetry never breaks"


def run(ctx: Context) -> Json:
    """Train the same MLP from three initializations; plot decision boundaries and costs."""
    data = load("circles", n=300, seed=ctx.seed)
    epochs = ctx.epochs(150, 600)
    runs, boundaries, curves = [], [], {}
    for name, initializer, scale in VARIANTS:
        model = Standardized(MLP((2, 10, 5, 1), initializer=initializer, init_scale=scale),
                             data.stats)
        trainer = Trainer(model, optimizer="adam", batch_size=full_batch(data))
        entry, result = train(ctx, name, trainer, data, {"learning_rate": 0.01}, epochs)
        entry["initial_cost"] = result.history["loss"][0]
        entry["note"] = entry["note"] or f"first-epoch cost {entry['initial_cost']:.3g}"
        runs.append(entry)
        note = WHY_FLAT if name == "zeros" else f"first-epoch cost {entry['initial_cost']:.3g}\n"
        title = f"{name}: train {entry['train_accuracy']:.2f}, test {entry['test_accuracy']:.2f}"
        boundaries.append(boundary(title, model, result, data, note=note))
        curves[name] = result.history["loss"]
    by = {r["run"]: r for r in runs}
    chance = all(abs(by["zeros"][k] - 0.5) <= 0.05 for k in ("train_accuracy", "test_accuracy"))
    best = all(
        by["he"][k] > by[other][k]
        for other in ("zeros", "random*10")
        for k in ("train_accuracy", "test_accuracy")
    )
    test = {name: by[name]["test_accuracy"] for name in by}
    headline = (f"He initialization: test accuracy {test['he']:.2f} vs {test['random*10']:.2f} "
                f"(random * 10) and {test['zeros']:.2f} (zeros)")
    cost_title = (f"random * 10 starts at cost {by['random*10']['initial_cost']:.3g}, He at "
                  f"{by['he']['initial_cost']:.2f}; zeros stays at {by['zeros']['cost']:.3f}")
    return {
        "title": "initialization on circles",
        "setup": f"MLP 2-10-5-1 relu, Adam lr 0.01, full batch, {epochs} epochs",
        "runs": runs,
        "findings": [
            finding("zeros initialization stays at chance (accuracy 0.5)", chance),
            finding("He initialization has the best train and test accuracy", best),
        ],
        "plots": ctx.plot(plots.boundaries, "1_initialization_boundaries.png", boundaries,
                          headline)
        + ctx.plot(plots.lines, "1_initialization_cost.png",
                   [plots.Panel("training cost per epoch", curves, logy=True)], cost_title),
    }
