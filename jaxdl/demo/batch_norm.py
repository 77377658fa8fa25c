"""4. Batch norm on digits: a deep net stays trainable at learning rates that break the plain
one (the benefit shows as a higher usable learning rate)."""

from __future__ import annotations

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, per_epoch, train
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer

SIZES = (64, 32, 32, 32, 32, 32, 32, 10)
RATES = (0.05, 0.1, 0.2, 0.5, 1.0)
# The rates with a table row and a cost curve; the findings compare the larger. At lr 1 batch
# norm led in 6 of 6 seeds (0..5, 15 epochs: test accuracy 0.87-0.97 against 0.06-0.30), at
# lr 0.5 in only 5 of 6 (seed 0, this demo's default, trains fine without it).
SHOWN = (0.1, 1.0)
HIGH = f"{SHOWN[-1]:g}"
USABLE = 0.85  # a learning rate is usable when the test accuracy reaches this


def run(ctx: Context) -> Json:
    """SGD with and without batch norm over a range of learning rates."""
    data = load("digits", seed=ctx.seed)
    epochs = ctx.epochs(3, 15)
    runs, curves, grid = [], {}, {}
    for bn in (False, True):
        label = "BN" if bn else "no BN"
        trainer = Trainer(Standardized(MLP(SIZES, batch_norm=bn), data.stats), optimizer="sgd",
                          batch_size=64)
        accuracy = []
        for lr in RATES:
            name = f"{label}, lr {lr:g}"
            entry, result = train(ctx, name, trainer, data, {"learning_rate": lr}, epochs)
            accuracy.append(entry["test_accuracy"])
            if lr in SHOWN:
                runs.append(entry)
                curves[name] = per_epoch(result.history["loss"])
        grid[label] = (list(RATES), accuracy)
    by = {r["run"]: r["test_accuracy"] for r in runs}
    usable = {label: [lr for lr, a in zip(*grid[label]) if a >= USABLE] for label in grid}
    top = {label: max(values, default=None) for label, values in usable.items()}

    def shown(lr: float | None) -> str:
        return "none" if lr is None else f"{lr:g}"

    headline = (f"with batch norm, test accuracy stays >= {USABLE:g} up to lr {shown(top['BN'])}; "
                f"without, up to lr {shown(top['no BN'])};\nat lr {HIGH}: "
                f"{by[f'BN, lr {HIGH}']:.2f} with batch norm vs {by[f'no BN, lr {HIGH}']:.2f} "
                "without")
    panels = [
        plots.Panel("training cost per epoch", curves, logy=True),
        plots.Panel(f"test accuracy after {epochs} epochs", grid, xlabel="learning rate",
                    ylabel="test accuracy", logx=True, ylim=(0.0, 1.0), markers=True),
    ]
    return {
        "title": "batch norm on digits",
        "setup": f"MLP 64-(32 x 6)-10 relu He, SGD, mini-batches of 64, {epochs} epochs, lr "
        f"{', '.join(f'{r:g}' for r in RATES)}",
        "runs": runs,
        "grid": {label: dict(zip([f"{r:g}" for r in RATES], acc)) for label, (_, acc)
                 in grid.items()},
        "findings": [
            finding(f"at lr {HIGH} batch norm reaches a higher test accuracy than no batch norm",
                    by[f"BN, lr {HIGH}"] > by[f"no BN, lr {HIGH}"]),
            finding(f"batch norm keeps test accuracy >= {USABLE:g} up to a larger learning rate",
                    top["BN"] is not None and (top["no BN"] is None or top["BN"] > top["no BN"])),
        ],
        "plots": ctx.plot(plots.lines, "4_batch_norm_cost.png", panels, headline),
    }
