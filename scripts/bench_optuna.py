"""Optuna trials several per compiled program against one at a time.

    python scripts/bench_optuna.py [--trials 24] [--batch 8] [--epochs 20] [--repeats 2]
        [--json PATH]
    python scripts/bench_optuna.py --seeds 3 --epochs 40 [--kinds refill,refill_switch]
    python scripts/bench_optuna.py --study SPEC_JSON   # one study; its summary as JSON

Both paths run the same study setup: TPE (seeded) with a median pruner (4 startup trials, 4
warm-up epochs), the same define-by-run space (learning rate log-uniform in [1e-4, 1];
optimizer momentum or adam; momentum's beta on the 1 - beta scale in [0.8, 0.999]; l2
log-uniform in [1e-6, 1e-2]), the same data (4,000 samples of 10 classes x 40 features from
numpy: Gaussian class means plus noise, 80% train / 20% validation), an MLP 40-64-10,
mini-batches of 128, ``epochs`` epochs, val_loss monitored:

- ``batched``: :func:`jaxdl.sweep.optimize`, ``batch`` trials per vmapped sweep, the pruner
  asked after every epoch
- ``one_at_a_time``: ``study.optimize`` with an objective that runs :func:`jaxdl.fit` (jaxdl's
  compiled epoch), reports ``val_loss`` after each epoch from a callback and raises
  ``optuna.TrialPruned`` when the pruner says so; a diverged trial fails

Reported: wall time (compiles included), trials complete / pruned / failed, epochs trained, the
best trial's val_loss, the best validation accuracy of a complete trial (at its best epoch) and
the timeline of complete trials (seconds from the start, val_accuracy). ``--repeats 2`` (the
default) runs both paths again with fresh studies in the same process: the first round pays the
compiles, the second shows a study whose programs are already compiled.

``--seeds N`` runs N rows instead, one per study seed, every study in a fresh process: one at a
time, then each batched study of ``--kinds`` (``refill``: continuous batching, one program per
optimizer kind; ``refill_switch``: the same with the trainer's optimizer
``optim.switch("momentum", "adam")``, one program for both kinds; ``padded``,
``padded_switch``: padded batches), each with its wall-time ratio and when it reached the
one-at-a-time best validation accuracy within one binomial standard error, as a share of the
one-at-a-time wall time (the issue's target: 1/2 at 24 trials, 1/3 at 96).

``--study SPEC_JSON`` runs one study in this process (``scripts/bench_search.py --optuna`` starts
one such process per row, so that each pays its own compiles, as a user's run does); the spec's
keys are those of :func:`study_in_process`. :func:`start_study` starts one (pinned to a core if
asked) and :func:`finish_study` reads its summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import optuna

from jaxdl import MLP, Trainer, fit, optim
from jaxdl.early_stopping import EarlyStopping
from jaxdl.sweep import optimize, suggest_beta, suggest_learning_rate
from jaxdl.sweep.engine import NEVER
from jaxdl.train import TrainingDiverged

PATHS = ("batched", "one_at_a_time")
# lowering to XLA and compiling (or a cache load); tracing is left out: its events nest
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")  # fmt: skip


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


def new_study(seed=0, storage=None, name=None):
    """A TPE + median-pruner study; ``storage``: a journal file path shared by workers, opened
    as ``jaxdl sweep --storage`` opens it (with jaxdl's heartbeat)."""
    if storage is not None:
        from jaxdl.sweep.optuna_search.study import open_storage

        storage = open_storage(storage)
    return optuna.create_study(
        storage=storage, study_name=name, load_if_exists=name is not None,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=4),
    )  # fmt: skip


def make_trainer(hidden=64, features=40, switch=False):
    """The MLP's trainer; ``switch``: its optimizer is ``optim.switch("momentum", "adam")``, so
    a batched study trains trials of both optimizer kinds in one program."""
    optimizer = optim.switch("momentum", "adam") if switch else "adam"
    return Trainer(MLP((features, hidden, 10)), optimizer=optimizer, batch_size=128)


TRAINER = make_trainer()


def batched(study, data, trials, batch, epochs, trainer=TRAINER, refill=False):
    start = time.perf_counter()
    optimize(study, space, data, trainer=trainer, n_trials=trials, batch=batch, epochs=epochs,
             refill=refill)
    return time.perf_counter() - start


def one_at_a_time(study, data, trials, epochs, trainer=TRAINER):
    x, y, x_val, y_val = data
    stopper = EarlyStopping(NEVER)

    def objective(trial):
        config = space(trial)
        chosen = dataclasses.replace(trainer, optimizer=config.pop("optimizer"))

        def report(epoch, history):
            trial.report(history["val_loss"][-1], epoch)
            if trial.should_prune():
                trial.set_user_attr("epochs_run", epoch + 1)
                raise optuna.TrialPruned()

        try:
            result = fit(chosen, x, y, validation=(x_val, y_val), hp=config, epochs=epochs,
                         early_stopping=stopper, progress=False, callbacks=[report])  # fmt: skip
        except TrainingDiverged:
            trial.set_user_attr("epochs_run", epochs)
            return float("nan")  # Optuna marks a NaN objective FAIL
        at = result.best_epoch
        trial.set_user_attr("val_accuracy", result.history["val_accuracy"][at])
        trial.set_user_attr("epochs_run", len(result.history["val_loss"]))
        return result.history["val_loss"][at]

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - start


def summary(study, seconds, started=None):
    """The study's counts, best values and the timeline of its complete trials (seconds after
    ``started``, a Unix time; default: the first trial's start)."""
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    if started is None:
        started = min(t.datetime_start.timestamp() for t in trials)
    complete = [t for t in trials if t.state.name == "COMPLETE" and "val_accuracy" in t.user_attrs]
    timeline = sorted((round(t.datetime_complete.timestamp() - started, 3),
                       round(t.user_attrs["val_accuracy"], 4)) for t in complete)  # fmt: skip
    best = study.best_trial
    return {
        "seconds": round(seconds, 2),
        "trials": len(trials),
        "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"),
        "epochs_trained": int(sum(t.user_attrs.get("epochs_run", 0) for t in trials)),
        "best_val_loss": round(best.value, 4),
        "best_val_accuracy": max((a for _, a in timeline), default=None),
        "timeline": timeline,
    }


def study_in_process(spec):
    """One study in this process: ``spec`` has ``path`` (``batched`` or ``one_at_a_time``),
    ``trials``, ``epochs``, optional ``batch`` (8), ``samples`` (4000), ``hidden`` (64),
    ``seed`` (0), ``refill`` (continuous batching, ``optimize(refill=True)``), ``switch`` (the
    batched trainer's optimizer is ``optim.switch("momentum", "adam")``: one program for both
    optimizer kinds), ``storage`` and
    ``name`` (a journal file shared with other workers),
    ``compile_cache`` (a folder for jaxdl's persistent compile cache) and ``device_per_core``
    (one CPU device per usable core, as the ``jaxdl`` command sets). Returns the summary
    (:func:`summary`, of this worker's trials' whole study) with ``start`` and ``end`` (Unix
    times around the search, imports and data excluded), ``compile_s`` (seconds of the
    search spent lowering to XLA and compiling or loading from the cache, tracing left out;
    ``compiles``: how many programs) and ``cores`` (usable cores)."""
    if spec.get("device_per_core"):
        from jaxdl.infra.devices import cpu_device_per_core

        cpu_device_per_core()
    if spec.get("compile_cache"):
        from jaxdl.infra import compile_cache

        compile_cache.enable(spec["compile_cache"])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = make_data(n=spec.get("samples", 4000))
    trainer = make_trainer(spec.get("hidden", 64),
                           switch=spec.get("switch", False) and spec["path"] == "batched")
    study = new_study(spec.get("seed", 0), spec.get("storage"), spec.get("name"))
    compiling = []  # seconds of each lowering and compile (or cache load) of the search
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: compiling.append((event, seconds)) if event in COMPILE_EVENTS
        else None)  # fmt: skip
    start = time.time()
    if spec["path"] == "batched":
        seconds = batched(study, data, spec["trials"], spec.get("batch", 8), spec["epochs"],
                          trainer, spec.get("refill", False))  # fmt: skip
    else:
        seconds = one_at_a_time(study, data, spec["trials"], spec["epochs"], trainer)
    end = time.time()
    compiles = sum(1 for event, _ in compiling if event == COMPILE_EVENTS[-1])
    return {**summary(study, seconds, start), "start": start, "end": end,
            "compile_s": round(sum(s for _, s in compiling), 2), "compiles": compiles,
            "cores": len(os.sched_getaffinity(0))}  # fmt: skip


def start_study(spec, cpu=None):
    """A process running :func:`study_in_process` (``spec``), pinned to core ``cpu`` if given
    (``taskset``)."""
    command = [sys.executable, os.path.abspath(__file__), "--study", json.dumps(spec)]
    pin = [] if cpu is None or shutil.which("taskset") is None else ["taskset", "-c", str(cpu)]
    return subprocess.Popen([*pin, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def finish_study(process):
    """The summary a :func:`start_study` process prints last; its stderr on failure."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"study process failed ({process.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def run_study(spec, cpu=None, fresh=True):
    """:func:`study_in_process`, in a fresh process (its own compiles) unless ``fresh`` is
    false; its summary."""
    return finish_study(start_study(spec, cpu)) if fresh else study_in_process(spec)


def with_wall(study):
    """A study's summary with its wall time from start to end, ``wall_s``."""
    return {**study, "wall_s": study["end"] - study["start"]}


def workers(spec, fresh=True):
    """A batched study of ``spec["trials"]`` on a journal storage: one worker (one CPU device
    per core, as ``jaxdl sweep`` sets); one worker pinned to one core (``pinned``, the issue's
    protocol: every worker on a core of its own); then two worker processes of half the trials
    each, each pinned to one core where there are two, on one storage. Wall times run from the
    first worker's start to the last one's end (imports and data excluded); the machine's load
    averages (1, 5, 15 minutes) are recorded before, between and after."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cores = sorted(os.sched_getaffinity(0))
    pins = [cores[k] if len(cores) >= 2 else None for k in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        before = os.getloadavg()
        one = run_study({**spec, "storage": f"{tmp}/one.log", "name": "one",
                         "device_per_core": True}, fresh=fresh)  # fmt: skip
        pinned = run_study({**spec, "storage": f"{tmp}/pinned.log", "name": "pinned"}, pins[0],
                           fresh=fresh)  # fmt: skip
        half = {**spec, "trials": spec["trials"] // 2, "storage": f"{tmp}/two.log", "name": "two"}
        between = os.getloadavg()
        processes = [start_study({**half, "seed": k}, pins[k]) for k in range(2)]
        each = [finish_study(p) for p in processes]
        after = os.getloadavg()
        start, end = min(w["start"] for w in each), max(w["end"] for w in each)
        two = summary(new_study(storage=f"{tmp}/two.log", name="two"), end - start, start)
    return {"one": with_wall(one), "pinned": with_wall(pinned),
            "two": {**two, "wall_s": end - start}, "each": each, "pinned_to": pins,
            "loadavg": {"before": before, "between": between, "after": after}}  # fmt: skip


# --kinds: the batched studies of a --seeds row (optimize's arguments and the trainer's switch)
KINDS = {
    "padded": {},
    "padded_switch": {"switch": True},
    "refill": {"refill": True},
    "refill_switch": {"refill": True, "switch": True},
}


def reach(one, batched, val_samples, target):
    """When the batched study's first complete trial came within one binomial standard error of
    the one-at-a-time study's best validation accuracy: seconds and the share of the
    one-at-a-time wall time (``met``: at most ``target``), and the wall-time ratio."""
    p = one["best_val_accuracy"]
    noise = (max(p * (1 - p), 1e-12) / val_samples) ** 0.5
    at = next((t for t, a in batched["timeline"] if a >= p - noise), None)
    ratio = None if at is None else at / one["seconds"]
    return {"time_ratio": round(batched["seconds"] / one["seconds"], 3), "reach_s": at,
            "reach_ratio": None if ratio is None else round(ratio, 3),
            "met": ratio is not None and ratio <= target}  # fmt: skip


def seed_rows(args):
    """Per seed: the one-at-a-time study, then each of ``args.kinds`` batched, each study in a
    fresh process (its own compiles), one after the other; the load average around each row."""
    task = {"trials": args.trials, "epochs": args.epochs, "samples": 4000, "hidden": 64}
    target = 1 / 3 if args.trials >= 96 else 1 / 2
    rows = []
    for seed in range(args.seeds):
        before = os.getloadavg()
        one = run_study({"path": "one_at_a_time", "seed": seed, **task})
        row = {"seed": seed, "one_at_a_time": one, "batched": {}}
        line = [f"seed {seed}: one at a time {one['seconds']:.1f} s ({one['compile_s']:.1f} s "
                f"compiling, {one['compiles']} programs), best {one['best_val_accuracy']}"]
        for kind in args.kinds.split(","):
            spec = {"path": "batched", "batch": args.batch, "seed": seed,
                    "device_per_core": True, **task, **KINDS[kind]}  # fmt: skip
            run = run_study(spec)
            run.update(reach(one, run, task["samples"] // 5, target))
            row["batched"][kind] = run
            at = "never" if run["reach_ratio"] is None else f"{run['reach_ratio']:.2f}x"
            line.append(f"{kind} {run['seconds']:.1f} s ({run['compile_s']:.1f} s compiling, "
                        f"{run['compiles']} programs), best {run['best_val_accuracy']}, "
                        f"{run['time_ratio']:.2f}x, reached at {at}")  # fmt: skip
        row["loadavg"] = {"before": before, "after": os.getloadavg()}
        print("; ".join(line) + f"; load {before[0]:.1f} -> {row['loadavg']['after'][0]:.1f}",
              flush=True)  # fmt: skip
        rows.append(row)
    return rows


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``), else the platform's machine type."""
    try:
        with open("/proc/cpuinfo") as f:
            names = (line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
            return next(names)
    except (OSError, StopIteration):
        return platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24, help="trials per study (default 24)")
    parser.add_argument("--batch", type=int, default=8,
                        help="trials trained together: a batch, or the slots of a refill study "
                        "(default 8)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="most epochs a trial trains (default 20)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="without --seeds: studies of each kind, taking turns (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--seeds", type=int, default=0,
                        help="instead of the repeats: this many seeds, each a row of studies in "
                        "fresh processes (one at a time, then --kinds batched) with when each "
                        "reached the one-at-a-time best")  # fmt: skip
    parser.add_argument("--kinds", default="refill,refill_switch",
                        help=f"with --seeds: batched studies, comma-separated, of {list(KINDS)}; "
                        "*_switch trains both optimizer kinds in one program (optim.switch)")
    parser.add_argument("--study", metavar="SPEC_JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.study:
        print(json.dumps(study_in_process(json.loads(args.study))), flush=True)
        return
    if args.seeds:
        unknown = set(args.kinds.split(",")) - set(KINDS)
        if unknown:
            parser.error(f"--kinds: unknown {sorted(unknown)}; choose from {list(KINDS)}")
        rows = seed_rows(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "cpu": cpu_name(), "rows": rows}, f, indent=1)
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = make_data()
    rows, ratios = {}, []
    for repeat in range(1, args.repeats + 1):  # repeat 2 on: the compiled programs are cached
        for name in PATHS:
            study, started = new_study(), time.time()
            if name == "batched":
                seconds = batched(study, data, args.trials, args.batch, args.epochs)
            else:
                seconds = one_at_a_time(study, data, args.trials, args.epochs)
            row = summary(study, seconds, started)
            del row["timeline"]
            rows[f"{name}_{repeat}"] = row
            print(f"{name} (run {repeat})", row, flush=True)
        ratio = rows[f"one_at_a_time_{repeat}"]["seconds"] / rows[f"batched_{repeat}"]["seconds"]
        ratios.append(ratio)
        print(f"run {repeat}: one at a time / batched wall time: {ratio:.2f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
