"""2. Regularization: a 64-64 net overfits 120 noisy points; L2 and dropout trade train for test
accuracy."""

from __future__ import annotations

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, full_batch, train
from jaxdl.evaluation import boundary
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer

# Every run sets l2 (0 is no penalty): hp then has the same entries, so one program serves all.
VARIANTS = [("none", {"l2": 0.0}), ("L2 lambda=1", {"l2": 1.0}),
            ("dropout keep=0.5", {"l2": 0.0, "keep_prob": 0.5})]


def run(ctx: Context) -> Json:
    """No regularization vs L2 vs dropout on the same net and data; decision boundaries."""
    data = load("noisy_blobs", n=300, seed=ctx.seed, val_fraction=0.1, test_fraction=0.5)
    epochs = ctx.epochs(150, 600)
    # One trainer for the three runs: dropout with keep_prob 1 is the identity, and l2 and
    # keep_prob are traced hyperparameters, so the three share one compiled epoch.
    model = Standardized(MLP((2, 64, 64, 1), dropout=True), data.stats)
    trainer = Trainer(model, optimizer="adam", batch_size=full_batch(data))
    runs, boundaries = [], []
    for name, hp in VARIANTS:
        entry, result = train(ctx, name, trainer, data, {"learning_rate": 0.01, **hp}, epochs)
        entry["gap"] = entry["train_accuracy"] - entry["test_accuracy"]
        entry["note"] = entry["note"] or f"train-test gap {entry['gap']:+.3f}"
        runs.append(entry)
        title = f"{name}: train {entry['train_accuracy']:.2f}, test {entry['test_accuracy']:.2f}"
        boundaries.append(boundary(title, model, result, data,
                                   note=f"train-test gap {entry['gap']:+.2f}"))
    gap = {r["run"]: r["gap"] for r in runs}
    headline = (f"L2 and dropout shrink the train-test gap from {gap['none']:+.2f} to "
                f"{gap['L2 lambda=1']:+.2f} (L2) and {gap['dropout keep=0.5']:+.2f} (dropout)")
    return {
        "title": "regularization on noisy blobs",
        "setup": f"MLP 2-64-64-1 relu, 120 train / 150 test points with 15% flipped labels, "
        f"Adam lr 0.01, full batch, {epochs} epochs",
        "runs": runs,
        "findings": [
            finding("L2 shrinks the train-test gap", gap["L2 lambda=1"] < gap["none"]),
            finding("dropout shrinks the train-test gap", gap["dropout keep=0.5"] < gap["none"]),
        ],
        "plots": ctx.plot(plots.boundaries, "2_regularization_boundaries.png", boundaries,
                          headline),
    }
