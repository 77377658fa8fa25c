"""6. Vanishing and exploding gradients: per-layer gradient norms of a 20-layer ReLU net at
initialization (float64)."""

from __future__ import annotations

import jax
import numpy as np

from jaxdl import plots
from jaxdl.data.datasets import load
from jaxdl.demo.common import Context, Json, finding
from jaxdl.diagnostics import gradient_norms
from jaxdl.evaluation import evaluate_splits
from jaxdl.layers import Standardized
from jaxdl.nn import MLP

SIZES = (2, *[16] * 19, 1)
VARIANTS = [("random*0.01", "random_normal", 0.01), ("random*10", "random_normal", 10.0),
            ("he", "he", 0.01)]


def run(ctx: Context) -> Json:
    """Gradient norms per layer for three initializations of the same deep net."""
    data = load("moons", n=300, seed=ctx.seed)
    runs, norms_w, norms_b = [], {}, {}
    key = jax.random.key(ctx.seed)
    # The gradient depends on the weights, not on how they were drawn: one probe model (and one
    # compiled gradient) serves the three initializations.
    probe = Standardized(MLP(SIZES), data.stats)
    for name, initializer, scale in VARIANTS:
        params, state = MLP(SIZES, initializer=initializer, init_scale=scale).init(key)
        w = gradient_norms(probe, params, state, data.x_train, data.y_train)
        b = gradient_norms(probe, params, state, data.x_train, data.y_train, leaf="b")
        # The output bias sees sum(sigmoid(z) - y), about 0 when every prediction is the same,
        # so the backward signal is compared between the first and the last hidden layer.
        ratio = float(b[0] / b[-2])
        train = {"train": (data.x_train, data.y_train)}
        cost = evaluate_splits(probe, params, state, train)["train"]["loss"]
        runs.append({
            "run": name, "train_accuracy": None, "test_accuracy": None, "cost": cost,
            "grad_W": w.tolist(), "grad_b": b.tolist(), "backward_ratio": ratio,
            "note": f"|dW| {w.min():.0e}..{w.max():.0e}, |db1|/|db19| {ratio:.0e}",
        })
        layers = np.arange(1, len(w) + 1)
        norms_w[name], norms_b[name] = (layers, w), (layers, b)
    by = {r["run"]: r for r in runs}
    he_w = np.asarray(by["he"]["grad_W"])
    small, large = np.asarray(by["random*0.01"]["grad_W"]), np.asarray(by["random*10"]["grad_W"])
    findings = [
        finding("random*0.01 vanishes: every |dW| is over 1e6 times below He's, and the "
                "backward signal shrinks towards the input by over 1e6",
                small.max() < 1e-6 * he_w.min() and by["random*0.01"]["backward_ratio"] < 1e-6),
        finding("random*10 explodes: every |dW| is over 1e6 times above He's, and the "
                "backward signal grows towards the input by over 1e6",
                large.min() > 1e6 * he_w.max() and by["random*10"]["backward_ratio"] > 1e6),
        finding("He keeps every |dW| within a factor 100 and the backward signal within a "
                "factor 100", he_w.max() / he_w.min() < 100
                and 1e-2 < by["he"]["backward_ratio"] < 1e2),
    ]
    ratios = {name: by[name]["backward_ratio"] for name in by}
    headline = (f"backward signal from layer 19 to layer 1 (|db1| / |db19|):\n"
                f"{ratios['random*0.01']:.0e} with random * 0.01 (vanishes), "
                f"{ratios['random*10']:.0e} with random * 10 (explodes), "
                f"{ratios['he']:.2g} with He")
    panels = [
        plots.Panel("||dJ/dW_l|| per layer", norms_w, xlabel="layer l", ylabel="norm",
                    logy=True),
        plots.Panel("||dJ/db_l|| per layer (the backward signal)", norms_b, xlabel="layer l",
                    ylabel="norm", logy=True),
    ]
    return {
        "title": "vanishing / exploding gradients",
        "setup": "MLP 2-(16 x 19)-1 relu at initialization, gradients of the cross-entropy on "
        "the moons training set, computed in float64",
        "runs": runs,
        "findings": findings,
        "plots": ctx.plot(plots.lines, "6_gradient_norms.png", panels, headline),
    }
