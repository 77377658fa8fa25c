"""3. Optimizers on moons: the same model, batches and budget; only the update rule and the
learning-rate schedule vary.

Momentum is run in the heavy-ball convention (PyTorch's and optax's): ``m = beta m + g``,
``W -= lr m`` with the same ``lr`` as GD and Adam. In the course's form ``v = beta v + (1 - beta)
g`` that is ``lr / (1 - beta)``: at the same rate in the course's form momentum takes the same
average step as GD and its curve lies on GD's, so the convention is named in the plot.
"""

from __future__ import annotations

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding, smooth, step_costs, train
from jaxdl.evaluation import boundary
from jaxdl.layers import Standardized
from jaxdl.nn import MLP
from jaxdl.train import Trainer

LEARNING_RATE, BETA, DECAY = 0.01, 0.9, 0.05
# (row name, optimizer, hyperparameters besides the schedule's)
VARIANTS = [
    ("gd", "sgd", {"learning_rate": LEARNING_RATE}),
    ("momentum", "momentum", {"learning_rate": LEARNING_RATE / (1 - BETA), "beta": BETA}),
    ("adam", "adam", {"learning_rate": LEARNING_RATE}),
]
# inverse_time decay with decay_rate 0 is a constant rate, so each optimizer compiles once.
SCHEDULES = [("", 0.0), (" + decay", DECAY)]
SMOOTHING = 0.98  # EWA of the per-step cost: about the last 50 steps


def run(ctx: Context) -> Json:
    """GD vs momentum vs Adam, with and without inverse-time decay; costs and boundaries."""
    data = load("moons", n=300, seed=ctx.seed)
    epochs = ctx.epochs(150, 600)
    model = Standardized(MLP((2, 5, 2, 1)), data.stats)
    runs, boundaries = [], []
    smoothed: dict[str, dict] = {suffix: {} for suffix, _ in SCHEDULES}
    raw: dict[str, dict] = {suffix: {} for suffix, _ in SCHEDULES}
    for short, optimizer, hp in VARIANTS:
        trainer = Trainer(model, optimizer=optimizer, batch_size=64, schedule="inverse_time")
        for suffix, decay_rate in SCHEDULES:
            entry, result = train(ctx, short + suffix, trainer, data,
                                  {**hp, "decay_rate": decay_rate}, epochs)
            if optimizer == "momentum":
                entry["note"] = (f"heavy-ball lr {LEARNING_RATE:g}, beta {BETA:g} (course form "
                                 f"lr {hp['learning_rate']:g})")
            runs.append(entry)
            title = (f"{short + suffix}: train {entry['train_accuracy']:.2f}, "
                     f"test {entry['test_accuracy']:.2f}")
            boundaries.append(boundary(title, model, result, data))
            steps, costs = step_costs(result)
            smoothed[suffix][short] = (steps, smooth(costs, SMOOTHING))
            raw[suffix][short] = (steps, costs)
    by = {r["run"]: r["cost"] for r in runs}
    findings = [
        finding(
            f"Adam reaches the lowest cost ({label})",
            all(by["adam" + suffix] < by[o + suffix] for o in ("gd", "momentum")),
        )
        for suffix, label in (("", "constant learning rate"), (" + decay", "learning-rate decay"))
    ]
    findings.append(finding(
        "momentum (heavy-ball, same lr) reaches a lower cost than GD",
        by["momentum"] < by["gd"] and by["momentum + decay"] < by["gd + decay"],
    ))

    def final(suffix: str) -> str:
        return ", ".join(f"{name} {by[name + suffix]:.3f}" for name, _, _ in VARIANTS)

    panels = [
        plots.Panel(f"constant lr {LEARNING_RATE:g}\nfinal cost {final('')}", smoothed[""],
                    logy=True, raw=raw[""]),
        plots.Panel(f"lr {LEARNING_RATE:g} / (1 + {DECAY:g} epoch)\nfinal cost "
                    f"{final(' + decay')}", smoothed[" + decay"], logy=True, raw=raw[" + decay"]),
    ]
    test = {r["run"]: r["test_accuracy"] for r in runs}
    top = max(test, key=lambda name: test[name])
    boundary_title = (
        f"after the same budget, {top} has the best test accuracy: {test[top]:.2f}\n"
        + "; ".join(f"{label}: " + ", ".join(f"{name} {test[name + suffix]:.2f}"
                                               for name, _, _ in VARIANTS)
                    for suffix, label in (("", "constant lr"), (" + decay", "lr decay")))
    )
    headline = (f"per-step cost (faint) and its EWA (beta {SMOOTHING:g}); momentum (beta {BETA:g}) "
                f"in the heavy-ball convention\nat the same lr: its step builds up to "
                f"lr / (1 - beta) = {LEARNING_RATE / (1 - BETA):g}, so it descends faster than GD")
    return {
        "title": "optimizers on moons",
        "setup": f"MLP 2-5-2-1 relu, mini-batches of 64, {epochs} epochs; lr {LEARNING_RATE:g} "
        f"constant or with inverse-time decay lr / (1 + {DECAY:g} epoch); momentum in the "
        f"heavy-ball convention (m = beta m + g, W -= lr m), beta {BETA:g}",
        "runs": runs,
        "findings": findings,
        "plots": ctx.plot(plots.lines, "3_optimizers_cost.png", panels, headline)
        + ctx.plot(plots.boundaries, "3_optimizers_boundaries.png", boundaries,
                   boundary_title),
    }
