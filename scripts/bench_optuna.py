"""Optuna trials several per compiled program against one at a time.

    python scripts/bench_optuna.py [--trials 24] [--batch 8] [--epochs 20] [--repeats 2]
        [--json PATH]

Both rows run the same study setup in one process, taking turns: TPE (seed 0) with a median
pruner (4 startup trials, 4 warm-up epochs), the same define-by-run space (learning rate
log-uniform in [1e-4, 1]; optimizer momentum or adam; momentum's beta on the 1 - beta scale in
[0.8, 0.999]; l2 log-uniform in [1e-6, 1e-2]), the same data (4,000 samples of 10 classes x 40
features from numpy: Gaussian class means plus noise, 3,200 train / 800 validation), an MLP
40-64-10, mini-batches of 128, ``epochs`` epochs, val_loss monitored:

- ``batched``: :func:`jaxdl.sweep.optimize`, ``batch`` trials per vmapped sweep, the pruner
  asked after every epoch
- ``one_at_a_time``: ``study.optimize`` with an objective that runs :func:`jaxdl.fit` (jaxdl's
  compiled epoch), reports ``val_loss`` after each epoch from a callback and raises
  ``optuna.TrialPruned`` when the pruner says so; a diverged trial fails

Reported: wall time (compiles included), trials complete / pruned / failed, epochs trained, the
best trial's val_loss and val_accuracy at its best epoch. ``--repeats 2`` (the default) runs both
rows again with fresh studies in the same process: the first round pays the compiles, the second
shows a study whose programs are already compiled (a long study amortizes them the same way).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import optuna

from jaxdl import MLP, Trainer, fit
from jaxdl.early_stopping import EarlyStopping
from jaxdl.sweep import optimize, suggest_beta, suggest_learning_rate
from jaxdl.sweep.engine import NEVER
from jaxdl.train import TrainingDiverged


def make_data(n=4000, classes=10, features=40, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, features)).astype(np.float32) * 0.6
    y = rng.integers(0, classes, size=n).astype(np.int32)
    x = (means[y] + rng.normal(size=(n, features))).astype(np.float32)
    split = n * 4 // 5
    return x[:split], y[:split], x[split:], y[split:]


def space(trial):
    config = {
        "learning_rate": suggest_learning_rate(trial, 1e-4, 1.0),
        "optimizer": trial.suggest_categorical("optimizer", ["momentum", "adam"]),
        "l2": trial.suggest_float("l2", 1e-6, 1e-2, log=True),
    }
    if config["optimizer"] == "momentum":
        config["beta"] = suggest_beta(trial, "beta", 0.8, 0.999)
    return config


def new_study():
    return optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=4),
    )


TRAINER = Trainer(MLP((40, 64, 10)), batch_size=128)


def batched(data, args):
    study = new_study()
    start = time.perf_counter()
    optimize(study, space, data, trainer=TRAINER, n_trials=args.trials, batch=args.batch,
             epochs=args.epochs)  # fmt: skip
    return study, time.perf_counter() - start


def one_at_a_time(data, args):
    x, y, x_val, y_val = data
    stopper = EarlyStopping(NEVER)

    def objective(trial):
        config = space(trial)
        trainer = dataclasses.replace(TRAINER, optimizer=config.pop("optimizer"))

        def report(epoch, history):
            trial.report(history["val_loss"][-1], epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs_run", epoch + 1)
                raise optuna.TrialPruned()

        try:
            result = fit(trainer, x, y, validation=(x_val, y_val), hp=config, epochs=args.epochs,
                         early_stopping=stopper, progress=False, callbacks=[report])  # fmt: skip
        except TrainingDiverged:
            trial.set_user_attr("epochs_run", args.epochs)
            return float("nan")  # Optuna marks a NaN objective FAIL
        at = result.best_epoch
        trial.set_user_attr("val_accuracy", result.history["val_accuracy"][at])
        trial.set_user_attr("epochs_run", len(result.history["val_loss"]))
        return result.history["val_loss"][at]

    study = new_study()
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials)
    return study, time.perf_counter() - start


def summary(study, seconds):
    states = [t.state.name for t in study.trials]
    best = study.best_trial
    return {
        "seconds": round(seconds, 2),
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "epochs_trained": int(sum(t.user_attrs.get("epochs_run", 0) for t in study.trials)),
        "best_val_loss": round(best.value, 4),
        "best_val_accuracy": round(best.user_attrs["val_accuracy"], 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = make_data()
    rows, ratios = {}, []
    for repeat in range(1, args.repeats + 1):  # repeat 2 on: the compiled programs are cached
        for name, run in (("batched", batched), ("one_at_a_time", one_at_a_time)):
            rows[f"{name}_{repeat}"] = summary(*run(data, args))
            print(f"{name} (run {repeat})", rows[f"{name}_{repeat}"], flush=True)
        ratio = rows[f"one_at_a_time_{repeat}"]["seconds"] / rows[f"batched_{repeat}"]["seconds"]
        ratios.append(ratio)
        print(f"run {repeat}: one at a time / batched wall time: {ratio:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
