"""The course's experiments, each one real training run per row of a summary table.

    1 initialization   circles: zeros vs random * 10 vs He (zeros stays at chance, He is best)
    2 regularization   a small noisy set: none vs L2 vs dropout (both shrink the train-test gap)
    3 optimizers       moons, mini-batches: GD vs momentum vs Adam, with and without lr decay
    4 batch_norm       digits, 6 hidden layers: batch norm off/on at a modest and a high lr
    5 sweep            flower, 32 vmapped momentum configs: lr (log scale), beta = 1 - 10**r
    6 gradients        per-layer gradient norms of a 20-layer net: random*0.01 / random*10 / He
    7 normalization    unscaled moons: raw vs standardized inputs, each at its best lr
    8 batch_size       batch vs mini-batch vs stochastic gradient descent: noise, time per epoch

:func:`run` writes ``results.json`` (every number of the table, the curves and whether each
expected finding held) and PNG plots into an output directory; :func:`format_table` prints the
summary. ``quick=True`` trains fewer epochs (same models, so the same compiled programs).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import plots
from jaxdl.atomic import write_json
from jaxdl.data.datasets import Dataset, load
from jaxdl.diagnostics import gradient_norms
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, OneMinusLogUniform, Space, run_sweep
from jaxdl.train import FitResult, Trainer, TrainingDiverged, TrainState, fit

Json = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Context:
    """Settings shared by the experiments."""

    quick: bool
    seed: int
    out: str
    plots: bool

    def epochs(self, quick: int, full: int) -> int:
        """The epoch budget of the current mode."""
        return quick if self.quick else full

    def plot(self, draw: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> list[str]:
        """Draw ``name`` into the output directory (nothing when plots are off)."""
        if not self.plots:
            return []
        draw(os.path.join(self.out, name), *args, **kwargs)
        return [name]


# -- shared pieces ------------------------------------------------------------------------------
def _forward(model: MLP) -> Trainer:
    """A trainer used for inference only. The forward pass does not depend on how the weights
    were initialized, so every initializer variant of a model shares one compiled evaluation."""
    return Trainer(dataclasses.replace(model, initializer="he", init_scale=0.01))


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(trainer: Trainer, params: Any, state: Any, splits: dict) -> dict:
    ts = TrainState(params, state, None, jnp.asarray(-1, jnp.int32))
    return {name: trainer.evaluate(ts, {}, x, y) for name, (x, y) in splits.items()}


def evaluate(
    model: MLP, params: Any, state: Any, splits: Mapping[str, tuple[Any, Any]]
) -> dict[str, dict[str, float]]:
    """Loss (no L2 term) and accuracy of every split ``name -> (x, y)`` in inference mode
    (dropout off, batch-norm running statistics), all splits in one compiled call."""
    arrays = {
        name: (jnp.asarray(x, jnp.float32), jnp.asarray(y)) for name, (x, y) in splits.items()
    }
    values = jax.device_get(_evaluate(_forward(model), params, state, arrays))
    return {name: {k: float(v) for k, v in split.items()} for name, split in values.items()}


@functools.partial(jax.jit, static_argnums=0)
def _probability(trainer: Trainer, params: Any, state: Any, x: jax.Array) -> jax.Array:
    """P(class 1) of a one-output model."""
    logits, _ = trainer.model.apply(params, state, x, train=False)
    return jax.nn.sigmoid(logits[:, 0])


def boundary(title: str, model: MLP, result: FitResult, data: Dataset) -> plots.Boundary:
    """A decision-boundary panel of a fitted one-output model over its training points."""
    def predict(grid: np.ndarray) -> np.ndarray:
        return np.asarray(_probability(_forward(model), result.params, result.model_state, grid))

    return plots.Boundary(title, predict, data.x_train, data.y_train)


def _row(name: str, model: MLP, params: Any, state: Any, data: Dataset, **extra: Any) -> Json:
    splits = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}
    scores = evaluate(model, params, state, splits)
    return {
        "run": name,
        "train_accuracy": scores["train"]["accuracy"],
        "test_accuracy": scores["test"]["accuracy"],
        **extra,
    }


def _train(
    ctx: Context, name: str, trainer: Trainer, data: Dataset, hp: dict[str, float], epochs: int
) -> tuple[Json, FitResult]:
    """Fit one run; a diverged run keeps its last finite parameters and says so in its note."""
    note = ""
    try:
        result = fit(
            trainer, data.x_train, data.y_train, hp=hp, epochs=epochs, seed=ctx.seed,
            progress=False,
        )
    except TrainingDiverged as err:
        result, note = err.result, f"diverged at epoch {err.epoch}"
    history = result.history
    row = _row(
        name, trainer.model, result.params, result.model_state, data,
        cost=history["loss"][-1], note=note, diverged=bool(note), loss=history["loss"],
    )
    return row, result


def _finding(claim: str, holds: bool) -> Json:
    return {"claim": claim, "holds": bool(holds)}


def _full_batch(data: Dataset) -> int:
    return len(data.y_train)


# -- 1 ------------------------------------------------------------------------------------------
def initialization(ctx: Context) -> Json:
    """Zeros never break symmetry; random * 10 starts with a huge cost; He trains well."""
    data = load("circles", n=300, seed=ctx.seed)
    epochs = ctx.epochs(300, 600)
    variants = [("zeros", "zeros", 0.01), ("random*10", "random_normal", 10.0), ("he", "he", 0.01)]
    runs, boundaries, curves = [], [], {}
    for name, initializer, scale in variants:
        model = MLP((2, 10, 5, 1), initializer=initializer, init_scale=scale)
        trainer = Trainer(model, optimizer="adam", batch_size=_full_batch(data))
        row, result = _train(ctx, name, trainer, data, {"learning_rate": 0.01}, epochs)
        row["initial_cost"] = result.history["loss"][0]
        row["note"] = row["note"] or f"first-epoch cost {row['initial_cost']:.3g}"
        runs.append(row)
        boundaries.append(boundary(name, model, result, data))
        curves[name] = result.history["loss"]
    by = {r["run"]: r for r in runs}
    chance = all(abs(by["zeros"][k] - 0.5) <= 0.05 for k in ("train_accuracy", "test_accuracy"))
    best = all(
        by["he"][k] > by[other][k]
        for other in ("zeros", "random*10")
        for k in ("train_accuracy", "test_accuracy")
    )
    return {
        "title": "initialization on circles",
        "setup": f"MLP 2-10-5-1 relu, Adam lr 0.01, full batch, {epochs} epochs",
        "runs": runs,
        "findings": [
            _finding("zeros initialization stays at chance (accuracy 0.5)", chance),
            _finding("He initialization has the best train and test accuracy", best),
        ],
        "plots": ctx.plot(plots.boundaries, "1_initialization_boundaries.png", boundaries,
                          "decision boundaries by initialization")
        + ctx.plot(plots.lines, "1_initialization_cost.png",
                   [plots.Panel("training cost", curves, logy=True)]),
    }


# -- 2 ------------------------------------------------------------------------------------------
def regularization(ctx: Context) -> Json:
    """A 64-64 net overfits 120 noisy points; L2 and dropout trade train for test accuracy."""
    data = load("noisy_blobs", n=300, seed=ctx.seed, val_fraction=0.1, test_fraction=0.5)
    epochs = ctx.epochs(200, 600)
    # One trainer for the three runs: dropout with keep_prob 1 is the identity, and l2 and
    # keep_prob are traced hyperparameters, so the three share one compiled epoch.
    model = MLP((2, 64, 64, 1), dropout=True)
    trainer = Trainer(model, optimizer="adam", batch_size=_full_batch(data))
    variants = [
        ("none", {}), ("L2 lambda=1", {"l2": 1.0}), ("dropout keep=0.5", {"keep_prob": 0.5})
    ]
    runs, boundaries = [], []
    for name, hp in variants:
        row, result = _train(ctx, name, trainer, data, {"learning_rate": 0.01, **hp}, epochs)
        row["gap"] = row["train_accuracy"] - row["test_accuracy"]
        row["note"] = row["note"] or f"train-test gap {row['gap']:+.3f}"
        runs.append(row)
        boundaries.append(boundary(name, model, result, data))
    gap = {r["run"]: r["gap"] for r in runs}
    return {
        "title": "regularization on noisy blobs",
        "setup": f"MLP 2-64-64-1 relu, 120 train / 150 test points with 15% flipped labels, "
        f"Adam lr 0.01, full batch, {epochs} epochs",
        "runs": runs,
        "findings": [
            _finding("L2 shrinks the train-test gap", gap["L2 lambda=1"] < gap["none"]),
            _finding("dropout shrinks the train-test gap", gap["dropout keep=0.5"] < gap["none"]),
        ],
        "plots": ctx.plot(plots.boundaries, "2_regularization_boundaries.png", boundaries,
                          "decision boundaries: none vs L2 vs dropout"),
    }


# -- 3 ------------------------------------------------------------------------------------------
OPTIMIZER_NAMES = {"sgd": "gd", "momentum": "momentum", "adam": "adam"}


def optimizers(ctx: Context) -> Json:
    """Same model, batches and budget; only the update rule and the learning-rate schedule vary."""
    data = load("moons", n=300, seed=ctx.seed)
    epochs = ctx.epochs(200, 600)
    model = MLP((2, 5, 2, 1))
    # inverse_time decay with decay_rate 0 is a constant rate, so each optimizer compiles once.
    schedules = [("", {"learning_rate": 0.01, "decay_rate": 0.0}),
                 (" + decay", {"learning_rate": 0.01, "decay_rate": 0.05})]
    runs, boundaries, curves = [], [], {"": {}, " + decay": {}}
    for optimizer, short in OPTIMIZER_NAMES.items():
        trainer = Trainer(model, optimizer=optimizer, batch_size=64, schedule="inverse_time")
        for suffix, hp in schedules:
            row, result = _train(ctx, short + suffix, trainer, data, hp, epochs)
            runs.append(row)
            boundaries.append(boundary(short + suffix, model, result, data))
            curves[suffix][short] = result.history["loss"]
    by = {r["run"]: r["cost"] for r in runs}
    findings = [
        _finding(
            f"Adam reaches the lowest cost ({label})",
            all(by["adam" + suffix] < by[o + suffix] for o in ("gd", "momentum")),
        )
        for suffix, label in (("", "constant learning rate"), (" + decay", "learning-rate decay"))
    ]
    panels = [
        plots.Panel("constant lr 0.01", curves[""], logy=True),
        plots.Panel("lr 0.01 / (1 + 0.05 epoch)", curves[" + decay"], logy=True),
    ]
    return {
        "title": "optimizers on moons",
        "setup": f"MLP 2-5-2-1 relu, mini-batches of 64, {epochs} epochs; lr 0.01 constant "
        "or with inverse-time decay 0.01 / (1 + 0.05 epoch)",
        "runs": runs,
        "findings": findings,
        "plots": ctx.plot(plots.lines, "3_optimizers_cost.png", panels, "training cost")
        + ctx.plot(plots.boundaries, "3_optimizers_boundaries.png", boundaries),
    }


# -- 4 ------------------------------------------------------------------------------------------
def batch_norm(ctx: Context) -> Json:
    """Batch norm keeps a deep net trainable at a learning rate that breaks the plain one."""
    data = load("digits", seed=ctx.seed)
    epochs = ctx.epochs(5, 15)
    sizes = (64, 32, 32, 32, 32, 32, 32, 10)
    runs, curves = [], {}
    for bn in (False, True):
        trainer = Trainer(MLP(sizes, batch_norm=bn), optimizer="sgd", batch_size=64)
        for lr in (0.1, 0.5):
            name = f"{'BN' if bn else 'no BN'}, lr {lr}"
            row, result = _train(ctx, name, trainer, data, {"learning_rate": lr}, epochs)
            runs.append(row)
            curves[name] = result.history["loss"]
    by = {r["run"]: r["test_accuracy"] for r in runs}
    return {
        "title": "batch norm on digits",
        "setup": f"MLP 64-(32 x 6)-10 relu He, SGD, mini-batches of 64, {epochs} epochs",
        "runs": runs,
        "findings": [
            _finding("at lr 0.5 batch norm reaches a higher test accuracy than no batch norm",
                     by["BN, lr 0.5"] > by["no BN, lr 0.5"]),
        ],
        "plots": ctx.plot(plots.lines, "4_batch_norm_cost.png",
                          [plots.Panel("training cost", curves, logy=True)]),
    }


# -- 5 ------------------------------------------------------------------------------------------
SWEEP_SPACE = Space(
    learning_rate=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999)
)


def sweep(ctx: Context) -> Json:
    """32 momentum configs trained at once (one vmapped program), ranked by validation loss."""
    data = load("flower", seed=ctx.seed)
    epochs = ctx.epochs(100, 300)
    trainer = Trainer(MLP((2, 16, 16, 1)), optimizer="momentum", batch_size=64)
    results = run_sweep(SWEEP_SPACE, data, trainer=trainer, n=32, epochs=epochs, seed=ctx.seed)
    table = results.table
    if ctx.plots:
        results.to_csv(os.path.join(ctx.out, "5_sweep.csv"))
    runs = []
    picks = [("best", table[0]), ("2nd", table[1]), ("3rd", table[2]), ("worst", table[-1])]
    for label, entry in picks:
        i = entry["config"]
        lr, beta = entry["learning_rate"], entry["beta"]
        runs.append(
            _row(
                f"{label}: lr {lr:.2g} beta {beta:.3f}", results.trainers[i].model,
                results.params[i], results.model_state[i], data,
                cost=entry["loss"], learning_rate=lr, beta=beta,
                val_accuracy=entry["val_accuracy"], status=entry["status"],
                note=f"val acc {entry['val_accuracy']:.3f} ({entry['status']})",
            )
        )
    rows = [results.row(i) for i in range(len(results.configs))]
    learning_rates = [r["learning_rate"] for r in rows]
    betas = [r["beta"] for r in rows]
    val = [r["val_accuracy"] if math.isfinite(r["val_accuracy"]) else 0.0 for r in rows]
    large = [v for v, lr in zip(val, learning_rates) if lr >= 1e-2]
    small = [v for v, lr in zip(val, learning_rates) if lr < 1e-3]
    findings = [
        _finding(
            "learning rates >= 1e-2 reach a higher mean validation accuracy than rates < 1e-3",
            bool(large) and bool(small) and np.mean(large) > np.mean(small),
        )
    ]
    best = table[0]["config"]
    return {
        "title": "vmapped sweep of learning rate and beta",
        "setup": f"flower, 32 configs, lr = 10**U(-4, 0), beta = 1 - 10**U(-3, -1); momentum, "
        f"MLP 2-16-16-1, mini-batches of 64, {epochs} epochs, one compiled program; each config "
        "keeps its best epoch by validation loss",
        "runs": runs,
        "configs": [
            {"learning_rate": lr, "beta": b, "val_accuracy": r["val_accuracy"],
             "val_loss": r["val_loss"], "status": r["status"]}
            for lr, b, r in zip(learning_rates, betas, rows)
        ],
        "findings": findings,
        "plots": ctx.plot(
            plots.scatter, "5_sweep.png", learning_rates, [1.0 - b for b in betas], val,
            xlabel="learning rate", ylabel="1 - beta", label="validation accuracy",
            title="32-config sweep (momentum)", best=best,
        ) + (["5_sweep.csv"] if ctx.plots else []),
    }


# -- 6 ------------------------------------------------------------------------------------------
def gradients(ctx: Context) -> Json:
    """Per-layer gradient norms of a 20-layer ReLU net at initialization (float64)."""
    data = load("moons", n=300, seed=ctx.seed)
    sizes = (2, *[16] * 19, 1)
    variants = [("random*0.01", "random_normal", 0.01), ("random*10", "random_normal", 10.0),
                ("he", "he", 0.01)]
    runs, norms_w, norms_b = [], {}, {}
    key = jax.random.key(ctx.seed)
    # The gradient depends on the weights, not on how they were drawn: one probe model (and one
    # compiled gradient) serves the three initializations.
    probe = MLP(sizes)
    for name, initializer, scale in variants:
        params, state = MLP(sizes, initializer=initializer, init_scale=scale).init(key)
        w = gradient_norms(probe, params, state, data.x_train, data.y_train)
        b = gradient_norms(probe, params, state, data.x_train, data.y_train, leaf="b")
        # The output bias sees sum(sigmoid(z) - y), about 0 when every prediction is the same,
        # so the backward signal is compared between the first and the last hidden layer.
        ratio = float(b[0] / b[-2])
        train = {"train": (data.x_train, data.y_train)}
        cost = evaluate(probe, params, state, train)["train"]["loss"]
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
        _finding("random*0.01 vanishes: every |dW| is over 1e6 times below He's, and the "
                 "backward signal shrinks towards the input by over 1e6",
                 small.max() < 1e-6 * he_w.min() and by["random*0.01"]["backward_ratio"] < 1e-6),
        _finding("random*10 explodes: every |dW| is over 1e6 times above He's, and the "
                 "backward signal grows towards the input by over 1e6",
                 large.min() > 1e6 * he_w.max() and by["random*10"]["backward_ratio"] > 1e6),
        _finding("He keeps every |dW| within a factor 100 and the backward signal within a "
                 "factor 100", he_w.max() / he_w.min() < 100
                 and 1e-2 < by["he"]["backward_ratio"] < 1e2),
    ]
    panels = [
        plots.Panel("||dJ/dW_l||", norms_w, xlabel="layer", ylabel="norm", logy=True),
        plots.Panel("||dJ/db_l|| (backward signal)", norms_b, xlabel="layer", ylabel="norm",
                    logy=True),
    ]
    return {
        "title": "vanishing / exploding gradients",
        "setup": "MLP 2-(16 x 19)-1 relu at initialization, gradients of the cross-entropy on "
        "the moons training set, computed in float64",
        "runs": runs,
        "findings": findings,
        "plots": ctx.plot(plots.lines, "6_gradient_norms.png", panels,
                          "per-layer gradient norms of a 20-layer net"),
    }


# -- 7 ------------------------------------------------------------------------------------------
NORMALIZATION_RATES = (1.0, 0.1, 0.01, 1e-3, 1e-4)


def normalization(ctx: Context) -> Json:
    """Gradient descent on features of scale 1000 and 0.001: standardized inputs converge
    faster, whatever learning rate the raw ones get."""
    epochs = ctx.epochs(150, 400)
    model = MLP((2, 10, 5, 1))
    runs, curves = [], {}
    for name, normalize in (("standardized", True), ("unscaled", False)):
        data = load("unscaled_moons", n=300, seed=ctx.seed, normalize=normalize)
        trainer = Trainer(model, optimizer="sgd", batch_size=_full_batch(data))
        tried = []
        for lr in NORMALIZATION_RATES:
            row, result = _train(ctx, name, trainer, data, {"learning_rate": lr}, epochs)
            tried.append((row, result, lr))
        finite = [t for t in tried if not t[0]["diverged"] and math.isfinite(t[0]["cost"])]
        row, result, lr = min(finite, key=lambda t: t[0]["cost"])
        diverged = sum(t[0]["diverged"] for t in tried)
        row.update(
            run=f"{name} (best lr {lr:g})", learning_rate=lr,
            grid={f"{t[2]:g}": None if t[0]["diverged"] else t[0]["cost"] for t in tried},
            note=f"best of lr {NORMALIZATION_RATES[0]:g}..{NORMALIZATION_RATES[-1]:g}"
            + (f", {diverged} diverged" if diverged else ""),
        )
        runs.append(row)
        curves[row["run"]] = result.history["loss"]
    standardized, unscaled = runs
    target = unscaled["cost"]
    reached = next(
        (epoch for epoch, c in enumerate(standardized["loss"]) if c <= target), None
    )
    standardized["epochs_to_unscaled_cost"] = reached
    if reached is not None:
        standardized["note"] += f"; reaches the unscaled final cost at epoch {reached}"
    return {
        "title": "input normalization on unscaled moons",
        "setup": f"features x1 * 1000, x2 * 0.001; MLP 2-10-5-1 relu, gradient descent, full "
        f"batch, {epochs} epochs, best of lr {', '.join(f'{r:g}' for r in NORMALIZATION_RATES)}",
        "runs": runs,
        "findings": [
            _finding("standardized inputs reach a lower cost than unscaled ones",
                     standardized["cost"] < unscaled["cost"]),
            _finding("standardized inputs reach the unscaled final cost in under half the epochs",
                     reached is not None and reached < epochs / 2),
        ],
        "plots": ctx.plot(plots.lines, "7_normalization_cost.png",
                          [plots.Panel("training cost at each one's best lr", curves,
                                       logy=True)]),
    }


# -- 8 ------------------------------------------------------------------------------------------
def _noise(costs: Sequence[float]) -> float:
    """Standard deviation of the step-to-step change of the per-step cost."""
    return float(np.std(np.diff(np.asarray(costs, np.float64)))) if len(costs) > 2 else 0.0


TIMING_REPEATS = 3


def batch_size(ctx: Context) -> Json:
    """One epoch = one pass over the data, in 1, 19 or 1200 steps."""
    data = load("moons", n=2000, seed=ctx.seed)
    epochs = ctx.epochs(5, 20)
    model = MLP((2, 10, 5, 1))
    m = _full_batch(data)
    runs, steps_curves, epoch_curves = [], {}, {}
    for name, size in (("batch", m), ("mini-batch 64", 64), ("stochastic", 1)):
        trainer = Trainer(model, optimizer="sgd", batch_size=size)
        args = (trainer, data.x_train, data.y_train)
        options = {"hp": {"learning_rate": 0.05}, "seed": ctx.seed, "progress": False}
        fit(*args, epochs=1, **options)  # compile outside the timed runs
        seconds = math.inf
        for _ in range(TIMING_REPEATS):  # the fastest repeat: the least disturbed by other work
            start = time.perf_counter()
            result = fit(*args, epochs=epochs, **options)
            seconds = min(seconds, (time.perf_counter() - start) / epochs)
        row = _row(name, model, result.params, result.model_state, data,
                   cost=result.history["loss"][-1], loss=result.history["loss"])
        steps = [c for epoch in result.history["batch_cost"] for c in epoch]
        per_epoch = len(result.history["batch_cost"][0])
        noise = _noise(steps[len(steps) // 2:])
        row.update(
            seconds_per_epoch=seconds, steps_per_epoch=per_epoch, noise=noise,
            note=f"{per_epoch} steps/epoch, {1e3 * seconds:.2f} ms/epoch, noise {noise:.3f}",
        )
        runs.append(row)
        steps_curves[name] = ((np.arange(len(steps)) + 1) / per_epoch, steps)
        epoch_curves[name] = (np.arange(1, epochs + 1), result.history["loss"])
    batch, mini, sgd = runs
    panels = [
        plots.Panel("cost of each step", steps_curves, ylabel="cost of the step's batch",
                    ylim=(0.0, 1.5)),
        plots.Panel("mean cost of each epoch", epoch_curves, logy=True),
    ]
    return {
        "title": "batch vs mini-batch vs stochastic gradient descent",
        "setup": f"moons, 1200 training points, MLP 2-10-5-1 relu, plain GD lr 0.05, "
        f"{epochs} epochs",
        "runs": runs,
        "findings": [
            _finding("the per-step cost is noisiest for stochastic GD, then mini-batch, then "
                     "batch", sgd["noise"] > mini["noise"] > batch["noise"]),
            _finding("stochastic GD takes longer per epoch than batch GD",
                     sgd["seconds_per_epoch"] > batch["seconds_per_epoch"]),
            _finding("mini-batches reach a lower cost than batch GD in the same epochs",
                     mini["cost"] < batch["cost"]),
        ],
        "plots": ctx.plot(plots.lines, "8_batch_size_cost.png", panels),
    }


# -- running ------------------------------------------------------------------------------------
EXPERIMENTS: dict[str, Callable[[Context], Json]] = {
    "initialization": initialization,
    "regularization": regularization,
    "optimizers": optimizers,
    "batch_norm": batch_norm,
    "sweep": sweep,
    "gradients": gradients,
    "normalization": normalization,
    "batch_size": batch_size,
}
NAMES: tuple[str, ...] = tuple(EXPERIMENTS)


def select(only: Sequence[str] | None) -> list[str]:
    """Experiment names from numbers (``"3"``) or names (``"optimizers"``), in table order."""
    if not only:
        return list(NAMES)
    chosen = set()
    for item in only:
        item = str(item).strip()
        if item.isdigit() and 1 <= int(item) <= len(NAMES):
            chosen.add(NAMES[int(item) - 1])
        elif item in EXPERIMENTS:
            chosen.add(item)
        else:
            raise ValueError(
                f"unknown experiment {item!r}; use 1..{len(NAMES)} or one of {', '.join(NAMES)}"
            )
    return [name for name in NAMES if name in chosen]


def run(
    out: str = "jaxdl-out",
    *,
    quick: bool = False,
    seed: int = 0,
    only: Sequence[str] | None = None,
    plots: bool = True,
    log: Callable[[str], None] | None = None,
) -> Json:
    """Run the experiments, write ``out/results.json`` (and PNGs when ``plots``) and return the
    results. ``log`` receives one line per finished experiment."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    names = select(only)
    os.makedirs(out, exist_ok=True)
    ctx = Context(quick=quick, seed=seed, out=out, plots=plots)
    start = time.perf_counter()
    experiments = []
    for name in names:
        began = time.perf_counter()
        result = EXPERIMENTS[name](ctx)
        number = NAMES.index(name) + 1
        result = {"number": number, "name": name, **result,
                  "seconds": time.perf_counter() - began}
        experiments.append(result)
        if log is not None:
            held = sum(f["holds"] for f in result["findings"])
            log(f"[{number}] {result['title']}: {result['seconds']:.1f} s, "
                f"{held}/{len(result['findings'])} expected findings")
    results = {
        "quick": quick,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "experiments": experiments,
    }
    write_json(os.path.join(out, "results.json"), results)
    return results


def _cell(value: Any, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else (
        format(value, spec)
    )


def format_table(results: Json) -> str:
    """The summary: one row per run (train/test accuracy, final training cost, a note), then
    the expected findings and whether each held."""
    header = f"{'#':>2}  {'experiment':<15} {'run':<31} {'train':>6} {'test':>6} {'cost':>9}  note"
    lines = [header, "-" * len(header)]
    for exp in results["experiments"]:
        for run_ in exp["runs"]:
            lines.append(
                f"{exp['number']:>2}  {exp['name']:<15} {run_['run']:<31} "
                f"{_cell(run_.get('train_accuracy'), '.3f'):>6} "
                f"{_cell(run_.get('test_accuracy'), '.3f'):>6} "
                f"{_cell(run_.get('cost'), '.4g'):>9}  {run_.get('note', '')}"
            )
    lines.append("")
    lines.append("expected findings:")
    for exp in results["experiments"]:
        for finding in exp["findings"]:
            mark = "yes" if finding["holds"] else "NO "
            lines.append(f"  [{mark}] {exp['number']} {finding['claim']}")
    mode = "quick" if results["quick"] else "full"
    lines.append(
        f"{len(results['experiments'])} experiments ({mode}, seed {results['seed']}) in "
        f"{results['seconds']:.0f} s"
    )
    return "\n".join(lines)
