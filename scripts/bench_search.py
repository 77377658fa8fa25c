"""Benchmark: search strategies at the same total epoch budget, best validation accuracy and
wall time, plus Optuna's TPE (when installed) driving our compiled single-model epoch.

Task: ten Gaussian classes in 64 dimensions (``--train`` samples, a quarter as many for
validation), an MLP 64-256-256-10 with batch norm and dropout, Adam, mini-batches of 64; the
space is ``learning_rate ~ LogUniform(1e-4, 1e-1)``, ``l2 ~ LogUniform(1e-5, 1)``,
``keep_prob ~ Uniform(0.5, 1)``. The budget is ``--configs * --epochs`` epochs (24 x 40 by
default). Each strategy gets as many configs as fit that budget:

    random     --configs configs, up to --epochs, early stopping (patience 10)
    halving    n configs from 1 epoch to --epochs, eta 3
    hyperband  R = --epochs, eta 3 (its brackets set n; reported as they are)
    pbt        a population of --configs for --epochs, exploit/explore every 4 epochs
    tpe        3 rounds of --configs / 3 configs, up to --epochs, patience 10
    optuna     TPESampler + MedianPruner, one trial at a time, until the budget is spent

Reported per strategy: ``best_val_accuracy``, ``wall_s`` (compilation included) and
``epochs`` (epochs actually trained); with Optuna, ``target`` says per strategy whether it
reached Optuna's best within noise (at most one binomial standard error of the validation
accuracy below it) in at most half Optuna's wall time. ``--smoke`` runs a minute version (every
code path, no meaningful numbers).

    python scripts/bench_search.py [--json PATH] [--configs 24] [--epochs 40] [--smoke]
                                   [--compile-cache DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time

import jax
import numpy as np

from jaxdl.early_stopping import EarlyStopping
from jaxdl.infra import compile_cache
from jaxdl.infra.atomic import write_json
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, Space, Uniform, brackets
from jaxdl.sweep.strategies import search
from jaxdl.train import Keys, Trainer, run_epoch, run_evaluate, run_init, trainer_hyperparams

SPACE = Space(learning_rate=LogUniform(1e-4, 1e-1), l2=LogUniform(1e-5, 1.0),
              keep_prob=Uniform(0.5, 1.0))  # fmt: skip
PATIENCE = 10


def make_data(m: int, width: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Ten Gaussian blobs in ``width`` dimensions, standardized: train and validation splits."""
    rng = np.random.default_rng(seed)
    m_val = max(m // 4, 10)
    centers = rng.normal(size=(10, width)).astype(np.float32)
    y = rng.integers(0, 10, m + m_val).astype(np.int32)
    x = centers[y] + 2.5 * rng.normal(size=(m + m_val, width)).astype(np.float32)
    x = (x - x[:m].mean(0)) / x[:m].std(0)
    return x[:m], y[:m], x[m:], y[m:]


def halving_configs(budget: int, epochs: int, eta: int = 3) -> int:
    """The most configs successive halving from 1 epoch can start within ``budget`` epochs."""
    rungs = [1]
    while rungs[-1] < epochs:
        rungs.append(min(rungs[-1] * eta, epochs))

    def cost(n: int) -> int:
        total, live, done = 0, n, 0
        for r in rungs:
            total, done, live = total + live * (r - done), r, math.ceil(live / eta)
        return total

    n = 1
    while cost(n + 1) <= budget:
        n += 1
    return n


def optuna_tpe(trainer: Trainer, data: tuple, budget: int, epochs: int, seed: int) -> dict | None:
    """Optuna's TPE with its median pruner, one trial at a time, each trial driving our
    compiled single-model epoch; ``None`` when optuna is not installed."""
    if importlib.util.find_spec("optuna") is None:
        return None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y, x_val, y_val = (jax.device_put(a) for a in data)
    spent = [0]

    def objective(trial):
        hp = trainer_hyperparams(trainer, {
            "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
            "l2": trial.suggest_float("l2", 1e-5, 1.0, log=True),
            "keep_prob": trial.suggest_float("keep_prob", 0.5, 1.0),
        })  # fmt: skip
        keys = Keys.from_seed(seed)
        ts = run_init(trainer, keys.init, hp)
        stopper = EarlyStopping(PATIENCE, monitor="val_accuracy", mode="max")
        es, best = stopper.init(), 0.0
        for epoch in range(epochs):
            if spent[0] >= budget:
                break
            ts, _ = run_epoch(trainer, ts, hp, x, y, keys, epoch)
            accuracy = float(run_evaluate(trainer, ts, hp, x_val, y_val)["accuracy"])
            spent[0] += 1
            best = max(best, accuracy) if math.isfinite(accuracy) else best
            es = stopper.update(es, accuracy, epoch)
            trial.report(accuracy, epoch)
            if trial.should_prune() or bool(es.stop):
                break
        return best

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner())  # fmt: skip
    start = time.perf_counter()
    while spent[0] < budget:
        study.optimize(objective, n_trials=1)
    return {"best_val_accuracy": study.best_value, "wall_s": time.perf_counter() - start,
            "epochs": spent[0], "configs": len(study.trials)}  # fmt: skip


def run(train: int, width: int, hidden: int, configs: int, epochs: int, seed: int = 0) -> dict:
    """Every strategy at the budget ``configs * epochs``; returns the report dict."""
    data = make_data(train, width, seed)
    trainer = Trainer(MLP((width, hidden, hidden, 10), batch_norm=True, dropout=True),
                      optimizer="adam", batch_size=64)  # fmt: skip
    budget = configs * epochs
    common = dict(trainer=trainer, epochs=epochs, seed=seed, monitor="val_accuracy")
    plans = {
        "random": dict(n=configs, patience=PATIENCE),
        "halving": dict(n=halving_configs(budget, epochs), eta=3),
        "hyperband": dict(eta=3),
        "pbt": dict(n=configs, interval=max(1, epochs // 10)),
        "tpe": dict(n=max(2, configs // 3), rounds=3, patience=PATIENCE),
    }
    report = {"budget_epochs": budget, "hyperband_brackets": [b.n for b in brackets(epochs, 3)],
              "strategies": {}}  # fmt: skip
    for name, options in plans.items():
        start = time.perf_counter()
        results = search(SPACE, data, strategy=name, **common, **options)
        wall = time.perf_counter() - start
        best = results.best()
        report["strategies"][name] = {
            "best_val_accuracy": best["val_accuracy"],
            "wall_s": wall,
            "epochs": sum(len(h["epoch"]) for h in results.histories),
            "configs": len(results.configs),
        }
        print(f"{name:>9}: best val_accuracy {best['val_accuracy']:.4f} in {wall:6.1f} s "
              f"({report['strategies'][name]['epochs']} epochs)", file=sys.stderr)  # fmt: skip
    optuna_result = optuna_tpe(trainer, data, budget, epochs, seed)
    if optuna_result is not None:
        report["strategies"]["optuna_tpe"] = optuna_result
        report["target"] = against_optuna(report["strategies"], len(data[3]))
    else:
        report["optuna_tpe"] = "optuna is not installed"
    return report


def against_optuna(strategies: dict, val_samples: int) -> dict:
    """The target, per strategy: its best validation accuracy within noise of Optuna's (no
    lower than Optuna's minus one binomial standard error ``sqrt(p (1 - p) / m_val)``) in at
    most half of Optuna's wall time."""
    reference = strategies["optuna_tpe"]
    p = reference["best_val_accuracy"]
    noise = math.sqrt(max(p * (1 - p), 1e-12) / val_samples)
    rows = {}
    for name, row in strategies.items():
        if name == "optuna_tpe":
            continue
        within = row["best_val_accuracy"] >= p - noise
        ratio = row["wall_s"] / reference["wall_s"]
        rows[name] = {"within_noise": within, "time_ratio": ratio,
                      "met": within and ratio <= 0.5}  # fmt: skip
    return {"val_samples": val_samples, "noise": noise, "strategies": rows,
            "met_by": sorted(n for n, r in rows.items() if r["met"])}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the report here")
    parser.add_argument("--configs", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--train", type=int, default=3200, help="training samples")
    parser.add_argument("--smoke", action="store_true", help="a minute run of every code path")
    parser.add_argument("--compile-cache", metavar="DIR",
                        help="use jaxdl's persistent compile cache in DIR (run twice: the second "
                        "run finds every program compiled, as the jaxdl command does)")
    args = parser.parse_args(argv)
    if args.compile_cache:
        compile_cache.enable(args.compile_cache)
    if args.smoke:
        report = run(train=96, width=8, hidden=8, configs=4, epochs=3)
    else:
        report = run(train=args.train, width=64, hidden=256, configs=args.configs,
                     epochs=args.epochs)  # fmt: skip
    if args.json:
        write_json(args.json, report)
    for name, row in report["strategies"].items():
        print(f"{name:>10}  best_val_accuracy {row['best_val_accuracy']:.4f}  "
              f"wall_s {row['wall_s']:7.2f}  epochs {row['epochs']}")  # fmt: skip
    if "target" in report:
        target = report["target"]
        print(f"target (Optuna's best within {target['noise']:.4f}, in at most half its time): "
              f"met by {', '.join(target['met_by']) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
