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

``--optuna`` (Optuna installed) measures the batched Optuna path instead, on the task of
``scripts/bench_optuna.py`` (4,000 samples of 10 classes x 40 features, an MLP 40-64-10, TPE +
median pruner, up to 40 epochs a trial, val_loss monitored), each study in a fresh process
(its own compiles, no compile cache) whose search is timed (imports and data excluded):

    batched       :func:`jaxdl.sweep.optimize`, 8 and 24 trials per compiled sweep, one CPU
                  device per core (as ``jaxdl sweep`` sets), against Optuna one trial at a time
                  over :func:`jaxdl.fit`, at 24 and 96 trials: wall time, best validation
                  accuracy, and when the batched study first reached the one-at-a-time best
                  within one binomial standard error (target: 1/2 of its wall time at 24
                  trials, 1/3 at 96)
    workers       a 96-trial study on one journal storage: two worker processes (48 trials
                  each, each pinned to a core) against one worker with a device per core, and
                  against one worker pinned to a core (every worker on a core of its own, the
                  issue's protocol); target 0.6x; the load averages are recorded
    crossover     800 samples, hidden 64 and 256, 12 x 20 to 48 x 40 trials x epochs: batched
                  against one at a time on an empty, then a warm, persistent compile cache

    python scripts/bench_search.py --optuna [--seeds 1] [--json PATH] [--quick]

``--quick`` runs every row at a tiny size in one process (but the workers; one workers row, the
warm-cache one) in well under a minute: every code path, no meaningful numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
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


# The batched Optuna path (scripts/bench_optuna.py's studies, each in a fresh process)

OPTUNA_SIZES = {  # trials per study, trials per batch, epochs, samples, hidden units
    "full": dict(trials=(24, 96), batches=(8, 24), epochs=40, samples=4000, hidden=64,
                 workers=dict(trials=96, batch=8, epochs=40, samples=4000, hidden=64),
                 crossover=dict(samples=800, batch=8, hidden=(64, 256),
                                cells=((12, 20), (24, 40), (48, 40)))),
    "quick": dict(trials=(2,), batches=(2,), epochs=2, samples=200, hidden=8,
                  workers=dict(trials=4, batch=2, epochs=2, samples=200, hidden=8),
                  crossover=dict(samples=200, batch=2, hidden=(8,), cells=((4, 2),))),
}  # fmt: skip
REACH_TARGET = {24: 1 / 2, 96: 1 / 3}  # batched time to reach over one-at-a-time wall time
WORKERS_TARGET = 0.6  # two workers' wall time over one worker's


def reach_seconds(timeline: list, accuracy: float) -> float | None:
    """Seconds until the first complete trial with validation accuracy >= ``accuracy``."""
    return next((t for t, a in timeline if a >= accuracy), None)


def against_one_at_a_time(one: dict, batched: dict, val_samples: int, target: float) -> dict:
    """The batched study against the one-at-a-time study: wall-time ratio, and when it first
    reached the one-at-a-time best validation accuracy within one binomial standard error
    (``reach_ratio``: that time over the one-at-a-time study's wall time; met at most
    ``target``)."""
    p = one["best_val_accuracy"]
    noise = math.sqrt(max(p * (1 - p), 1e-12) / val_samples)
    reach = reach_seconds(batched["timeline"], p - noise)
    ratio = None if reach is None else reach / one["seconds"]
    return {"time_ratio": batched["seconds"] / one["seconds"], "noise": noise, "reach_s": reach,
            "reach_ratio": ratio, "target": target,
            "met": ratio is not None and ratio <= target}  # fmt: skip


def batched_rows(size: dict, seeds: int, fresh: bool) -> list[dict]:
    """Per seed and trial count: Optuna one trial at a time, and batched per batch size."""
    import bench_optuna

    rows = []
    task = {k: size[k] for k in ("epochs", "samples", "hidden")}
    for seed in range(seeds):
        for trials in size["trials"]:
            spec = {"path": "one_at_a_time", "trials": trials, "seed": seed, **task}
            one = bench_optuna.run_study(spec, fresh=fresh)
            row = {"seed": seed, "trials": trials, "one_at_a_time": one, "batched": {},
                   "compare": {}}  # fmt: skip
            for batch, refill in [(b, r) for b in size["batches"] for r in (False, True)]:
                # padded batches, then continuous batching (optimize(refill=True))
                name = f"{batch} refill" if refill else str(batch)
                spec = {"path": "batched", "trials": trials, "batch": batch, "seed": seed, **task,
                        "device_per_core": True, "refill": refill}  # fmt: skip
                row["batched"][name] = run = bench_optuna.run_study(spec, fresh=fresh)
                row["compare"][name] = against_one_at_a_time(
                    one, run, size["samples"] // 5, REACH_TARGET.get(trials, 1 / 2))
                c = row["compare"][name]
                reach = "never" if c["reach_ratio"] is None else f"{c['reach_ratio']:.2f}x"
                print(f"{trials} trials, seed {seed}, batch {name}: {run['seconds']:.1f} s "
                      f"(best {run['best_val_accuracy']}) against {one['seconds']:.1f} s "
                      f"(best {one['best_val_accuracy']}): {c['time_ratio']:.2f}x, reached in "
                      f"{reach}", file=sys.stderr, flush=True)  # fmt: skip
            rows.append(row)
    return rows


def workers_row(size: dict, fresh: bool, refill: bool = False, warm: bool = False) -> dict:
    """One worker against two on one journal storage (:func:`bench_optuna.workers`): the
    two workers' wall time over the one worker's, against :data:`WORKERS_TARGET`. ``refill``:
    continuous batching; ``warm``: every study (one worker and the two) on one persistent
    compile cache that unmeasured studies of the same space filled first, one as the single
    worker runs (a device per core) and one pinned to a core as each of the two (fresh only)."""
    import tempfile

    import bench_optuna

    with tempfile.TemporaryDirectory() as tmp:
        spec = {"path": "batched", **size, "refill": refill}
        if warm and fresh:  # fill the cache: one worker's programs (a device per core) and
            spec["compile_cache"] = tmp  # a pinned worker's (one device: other programs)
            bench_optuna.run_study({**spec, "device_per_core": True})
            bench_optuna.finish_study(bench_optuna.start_study(spec, cpu=0))
        row = bench_optuna.workers(spec, fresh)
    ratio = row["two"]["wall_s"] / row["one"]["wall_s"]
    pinned = row["two"]["wall_s"] / row["pinned"]["wall_s"]
    print(f"workers{' refill' if refill else ''}{' warm' if warm else ''}: {ratio:.2f}x one "
          f"worker on every core, {pinned:.2f}x one worker pinned to a core, load "
          f"{_loads(row['loadavg'])}", file=sys.stderr, flush=True)  # fmt: skip
    return {**row, "time_ratio": ratio, "target": WORKERS_TARGET, "met": ratio <= WORKERS_TARGET,
            "pinned_ratio": pinned, "pinned_met": pinned <= WORKERS_TARGET,
            "refill": refill, "warm": warm}  # fmt: skip


WORKER_ROWS = {"padded": (False, False), "refill": (True, False),
               "refill, warm cache": (True, True)}  # (refill, warm) of each workers row
QUICK_WORKER_ROW = "refill, warm cache"  # --quick: the batched rows run padded and refill


def crossover_rows(size: dict, fresh: bool) -> list[dict]:
    """Small tasks: batched (one CPU device per core) against one trial at a time, each
    twice on an empty then a warm persistent compile cache (fresh processes)."""
    import tempfile

    import bench_optuna

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hidden in size["hidden"]:
            for trials, epochs in size["cells"]:
                task = {"trials": trials, "epochs": epochs, "samples": size["samples"],
                        "hidden": hidden}  # fmt: skip
                row = {**task, "batch": size["batch"]}
                for cache in ("cold", "warm"):
                    seconds, compiling = {}, {}
                    for path in bench_optuna.PATHS:
                        folder = f"{tmp}/{path}-{hidden}-{trials}-{epochs}"
                        spec = {"path": path, **task, "batch": size["batch"],
                                "device_per_core": path == "batched",
                                **({"compile_cache": folder} if fresh else {})}  # fmt: skip
                        run = bench_optuna.run_study(spec, fresh=fresh)
                        seconds[path] = run["seconds"]
                        compiling[path] = run["compile_s"]
                    row[cache] = {**seconds, "compile_s": compiling,
                                  "ratio": seconds["batched"] / seconds["one_at_a_time"]}
                print(f"crossover {row['trials']} trials x {row['epochs']} epochs, hidden "
                      f"{row['hidden']}: cold {row['cold']['ratio']:.2f}x, warm "
                      f"{row['warm']['ratio']:.2f}x", file=sys.stderr, flush=True)  # fmt: skip
                rows.append(row)
    return rows


def optuna_report(quick: bool, seeds: int) -> dict:
    """Every row of the batched Optuna path; quick: a minute run in one process (but the
    workers), no meaningful numbers."""
    import bench_optuna

    size, fresh = OPTUNA_SIZES["quick" if quick else "full"], not quick
    start = os.getloadavg()
    report = {"machine": {"cores": len(os.sched_getaffinity(0)), "cpu": bench_optuna.cpu_name(),
                          "loadavg_start": start},
              "sizes": size, "batched": batched_rows(size, seeds, fresh),
              "workers": {name: workers_row(size["workers"], fresh, refill, warm)
                          for name, (refill, warm) in WORKER_ROWS.items()
                          if not quick or name == QUICK_WORKER_ROW},
              "crossover": crossover_rows(size["crossover"], fresh)}  # fmt: skip
    report["machine"]["loadavg_end"] = os.getloadavg()
    return report


def print_optuna(report: dict) -> None:
    """The batched Optuna rows as tables on stdout."""
    print("trials  seed  one at a time: s (compiling), best acc  batch  batched: s (compiling), "
          "best acc  time ratio  reached at  target")
    for row in report["batched"]:
        one = row["one_at_a_time"]
        for batch, run in row["batched"].items():
            c = row["compare"][batch]
            reach = "never" if c["reach_ratio"] is None else f"{c['reach_ratio']:.2f}x"
            print(f"{row['trials']:>6}  {row['seed']:>4}  {one['seconds']:6.1f} "
                  f"({one['compile_s']:5.1f}), {one['best_val_accuracy']:.4f}{'':10}{batch:>9}  "
                  f"{run['seconds']:6.1f} ({run['compile_s']:5.1f}), "
                  f"{run['best_val_accuracy']:.4f}{'':4}{c['time_ratio']:8.2f}x  {reach:>10}  "
                  f"{c['target']:.2f} {'met' if c['met'] else 'missed'}")  # fmt: skip
    for name, w in report["workers"].items():
        compiling = ", ".join(f"{e['compile_s']:.1f}" for e in w["each"])
        print(f"workers ({name}): 1 worker {w['one']['wall_s']:.1f} s ({w['one']['compile_s']:.1f}"
              f" s compiling), 2 workers {w['two']['wall_s']:.1f} s ({compiling} s compiling; "
              f"{w['two']['trials']} trials): {w['time_ratio']:.2f}x (target {w['target']}: "
              f"{'met' if w['met'] else 'missed'}); 1 worker pinned to a core "
              f"{w['pinned']['wall_s']:.1f} s: {w['pinned_ratio']:.2f}x "
              f"({'met' if w['pinned_met'] else 'missed'}); load average {_loads(w['loadavg'])}")
    print("crossover: samples hidden trials epochs  cold batched/one (ratio)  warm (ratio)"
          "  compiling cold / warm: batched, one (s)")
    for r in report["crossover"]:
        cold, warm = r["cold"], r["warm"]
        print(f"{r['samples']:>18} {r['hidden']:>6} {r['trials']:>6} {r['epochs']:>6}  "
              f"{cold['batched']:6.1f}/{cold['one_at_a_time']:5.1f} s ({cold['ratio']:.2f}x)  "
              f"{warm['batched']:5.1f}/{warm['one_at_a_time']:5.1f} s ({warm['ratio']:.2f}x)  "
              f"{cold['compile_s']['batched']:.1f}, {cold['compile_s']['one_at_a_time']:.1f} / "
              f"{warm['compile_s']['batched']:.1f}, {warm['compile_s']['one_at_a_time']:.1f}")
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores; load average "
          f"{_loads({'start': m['loadavg_start'], 'end': m['loadavg_end']})}")


def _loads(named: dict) -> str:
    """Load averages (1, 5 and 15 minutes) by moment, two decimals: ``before 1.29/2.29/2.99``."""
    return ", ".join(f"{k} " + "/".join(f"{v:.2f}" for v in values)
                     for k, values in named.items())


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
    parser.add_argument("--optuna", action="store_true",
                        help="the batched Optuna rows instead of the strategies (needs optuna)")
    parser.add_argument("--quick", action="store_true",
                        help="with --optuna: every row at a tiny size, in under a minute")
    parser.add_argument("--seeds", type=int, default=1, help="with --optuna: study seeds")
    args = parser.parse_args(argv)
    if args.quick and not args.optuna:
        parser.error("--quick goes with --optuna (the strategies' minute run is --smoke)")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.optuna:
        if importlib.util.find_spec("optuna") is None:
            parser.error("--optuna needs optuna: pip install 'jaxdl[optuna]'")
        report = optuna_report(args.quick, args.seeds)
        if args.json:
            write_json(args.json, report)
        print_optuna(report)
        return 0
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
