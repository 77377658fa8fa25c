"""Benchmark: ``jaxdl train`` and ``jaxdl sweep`` with their defaults on a user's table against
scikit-learn.

scikit-learn's bundled tabular sets are written as CSV files with TEXT labels (breast cancer,
wine, iris, digits; diabetes for regression), split 80/20 (stratified for classification,
plain for regression) with several split seeds. Per set and seed, on the same rows:

    train      jaxdl train --data train.csv --test-data test.csv --save m   (every default:
               it trains on 80% of train.csv and validates on the other 20%)
    sweep      jaxdl sweep --data train.csv --test-data test.csv --save-best m   (no range flag:
               the default space, 32 configs; the best config chosen on the validation split,
               or, since the default changed, by 5-fold cross-validation for a table of at most
               400 training and validation rows: iris, wine, diabetes)
    sweep_cv   the same sweep with --folds 5: ranked by 5-fold cross-validation of train.csv,
               the best config refitted on all of train.csv (not in the default --rows)
    train_60   jaxdl train --data train.csv --save m   (without --test-data: 20% of train.csv
               is held back as an internal test split, so it trains on 60% of it)
    linear     Pipeline(StandardScaler(), LogisticRegression()) / Ridge(): defaults
    mlp        Pipeline(StandardScaler(), MLPClassifier()) / MLPRegressor(): defaults
               (max_iter=200, so it may warn that it has not converged; that is its default)

Each jaxdl model is then scored by ``jaxdl evaluate --model m --data test.csv`` on the
held-out rows (the saved manifest's own test figure, where it has one, is checked against it).
The commands run as a user runs them, each in its own process (``python -m jaxdl``, plots off:
``--no-plots``), with a compile cache of their own (a fresh ``XDG_CACHE_HOME`` per benchmark
run, so the first seed compiles and later ones may reuse its programs); a row's wall time is
its commands' (process start and compilation included). Reported: accuracy (classification)
or R^2 (regression) on the held-out rows, mean +- standard deviation over the seeds, and the
mean wall time per seed. Nothing is tuned: every row uses its library's defaults.

    python scripts/bench_tabular.py [--seeds 3] [--first-seed 0] [--quick] [--json PATH]
                                    [--sets a,b] [--rows train,linear]
    python scripts/bench_tabular.py --report a.json b.json    # one table from earlier runs

``--quick`` runs one seed of iris only (a smoke test of every code path; fewer epochs and
configs). ``--json`` is rewritten after every seed, so a stopped run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

#: name -> (sklearn loader name, task)
SETS = {
    "breast_cancer": ("load_breast_cancer", "classification"),
    "wine": ("load_wine", "classification"),
    "iris": ("load_iris", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}
ROWS = ("train", "sweep", "sweep_cv", "train_60", "linear", "mlp")
DEFAULT_ROWS = ("train", "sweep", "train_60", "linear", "mlp")
JAXDL_ROWS = ("train", "sweep", "sweep_cv", "train_60")
SWEEPS = ("sweep", "sweep_cv")
#: ``sweep_cv``'s K
FOLDS = 5
#: the column titles of :func:`report`
TITLES = {"train": "jaxdl train", "sweep": "jaxdl sweep (defaults)",
          "sweep_cv": f"jaxdl sweep --folds {FOLDS} (refit)",
          "train_60": "jaxdl train, no --test-data", "linear": "Logistic / Ridge",
          "mlp": "sklearn MLP"}
#: ``--quick``: fewer epochs and configs, so that every code path runs in seconds
QUICK_ARGS = {"train": ("--epochs", "2"), "sweep": ("--epochs", "2", "--configs", "2"),
              "sweep_cv": ("--epochs", "2", "--configs", "2"),
              "train_60": ("--epochs", "2")}


def table(name: str) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """``(x, y, feature_names, task)`` of a bundled scikit-learn set; class labels as text
    (the set's target names, such as ``malignant``)."""
    from sklearn import datasets

    loader, task = SETS[name]
    bunch = getattr(datasets, loader)()
    x = np.asarray(bunch.data, np.float64)
    names = [str(n).replace(",", " ") for n in getattr(bunch, "feature_names", [])]
    if len(names) != x.shape[1] or len(set(names)) != len(names):
        names = [f"x{j}" for j in range(x.shape[1])]
    if task == "classification":
        target_names = getattr(bunch, "target_names", None)
        labels = [str(t) for t in (target_names if target_names is not None
                                   else np.unique(bunch.target))]
        y = np.array([f"c_{labels[int(t)]}" if labels[int(t)].isdigit() else labels[int(t)]
                      for t in bunch.target], dtype=object)
    else:
        y = np.asarray(bunch.target, np.float64)
    return x, y, names, task


def write_csv(path: str, x: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """A CSV file with a header, the features (``repr`` of each float) and the target last."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join([*names, "target"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join([*(repr(float(v)) for v in row), str(label)]) + "\n")


def split(y: np.ndarray, task: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices: 80/20, stratified by class for classification."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    strata = y if task == "classification" else None
    train, test = train_test_split(rows, test_size=0.2, random_state=seed, stratify=strata)
    return np.sort(train), np.sort(test)


def jaxdl_command(row: str, train_csv: str, test_csv: str, model: str, out: str
                  ) -> list[str]:
    """The ``jaxdl`` arguments of ``row`` (every default; plots off)."""
    if row in SWEEPS:
        folds = ["--folds", str(FOLDS)] if row == "sweep_cv" else []
        return ["sweep", "--data", train_csv, "--test-data", test_csv, "--save-best", model,
                "--out", out, "--no-plots", *folds]
    held_out = ["--test-data", test_csv] if row == "train" else []
    return ["train", "--data", train_csv, *held_out, "--save", model, "--out", out,
            "--no-plots"]


def jaxdl(args: list[str], env: dict[str, str] | None = None) -> str:
    """``python -m jaxdl ARGS`` in a process of its own; its output (an error if it fails)."""
    done = subprocess.run([sys.executable, "-m", "jaxdl", *args], capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"jaxdl {' '.join(args)} exited with {done.returncode}:\n"
                           f"{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def run_jaxdl(row: str, folder: str, train_csv: str, test_csv: str,
              extra: tuple[str, ...] = (), env: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """``row``'s command (plus ``extra`` flags: the smoke test's fewer epochs), then
    ``jaxdl evaluate`` of the saved model on ``test_csv``.

    Returns:
      ``{"score": held-out accuracy or R^2, "wall_s", "reported": the saved manifest's own test
      figure (None without one), "hyperparameters": the manifest's, "summary": the data line
      the command printed}``.
    """
    model, out = os.path.join(folder, f"{row}-model"), os.path.join(folder, f"{row}-out")
    result = os.path.join(folder, f"{row}-evaluation.json")
    start = time.perf_counter()
    printed = jaxdl([*jaxdl_command(row, train_csv, test_csv, model, out), *extra], env)
    jaxdl(["evaluate", "--model", model, "--data", test_csv, "--out", result], env)
    wall = time.perf_counter() - start
    with open(result, encoding="utf-8") as f:
        figures = json.load(f)
    metric = "accuracy" if "accuracy" in figures else "r2"
    with open(os.path.join(model, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    reported = manifest.get("metrics", {}).get("test", {}).get(metric)
    summary = next((line for line in printed.splitlines() if " train / " in line), "")
    return {"score": float(figures[metric]), "wall_s": wall,
            "reported": None if reported is None else float(reported),
            "hyperparameters": manifest.get("hyperparameters", {}), "summary": summary}


def sklearn_model(row: str, task: str) -> Any:
    """The standardized scikit-learn pipeline of ``row`` (defaults)."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classification = task == "classification"
    model = {"linear": LogisticRegression if classification else Ridge,
             "mlp": MLPClassifier if classification else MLPRegressor}[row]
    return make_pipeline(StandardScaler(), model())


def run_sklearn(row: str, task: str, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                test: np.ndarray) -> float:
    """Fit on the train rows, score (accuracy or R^2) on the test rows."""
    model = sklearn_model(row, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP's ConvergenceWarning at its default max_iter
        model.fit(x[train], y[train])
    return float(model.score(x[test], y[test]))


def timed(fn: Callable[..., float], *args: Any) -> tuple[float, float]:
    """``fn(*args)`` and its wall time in seconds."""
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def machine() -> dict[str, Any]:
    """The machine and versions a run measured on, and its load average when asked."""
    import jax
    import sklearn

    return {"python": platform.python_version(), "jax": jax.__version__,
            "sklearn": sklearn.__version__, "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def run(sets: list[str], seeds: list[int], train_args: tuple[str, ...] = (), *,
        rows: tuple[str, ...] = ROWS, quick: bool = False,
        save: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every row on every set and seed: ``{set: {"task", "metric", "rows", "features",
    "load": [1-minute load average before each seed and after the last], row: {"scores",
    "wall_s", ...}}}``.

    Args:
      train_args: extra flags of every jaxdl command (none in the benchmark).
      rows: the rows to run (:data:`ROWS`).
      quick: the smoke test's fewer epochs and configs (:data:`QUICK_ARGS`).
      save: called with the results after every seed (``--json``).
    """
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        for name in sets:
            x, y, names, task = table(name)
            entry: dict[str, Any] = {"task": task, "metric": "accuracy"
                                     if task == "classification" else "r2",
                                     "rows": len(y), "features": x.shape[1], "load": [],
                                     "seeds": list(seeds)}
            results[name] = entry
            for row in rows:
                entry[row] = {"scores": [], "wall_s": []}
                if row in JAXDL_ROWS:
                    entry[row].update(reported=[], hyperparameters=[], summary=[])
            for seed in seeds:
                entry["load"].append(os.getloadavg()[0])
                train, test = split(y, task, seed)
                with tempfile.TemporaryDirectory() as folder:
                    train_csv = os.path.join(folder, "train.csv")
                    test_csv = os.path.join(folder, "test.csv")
                    write_csv(train_csv, x[train], y[train], names)
                    write_csv(test_csv, x[test], y[test], names)
                    for row in (r for r in rows if r in JAXDL_ROWS):
                        extra = (*train_args, *(QUICK_ARGS[row] if quick else ()))
                        done = run_jaxdl(row, folder, train_csv, test_csv, extra, env)
                        for key, value in done.items():
                            entry[row][key + "s" if key == "score" else key].append(value)
                yy = y.astype(str) if task == "classification" else y
                for row in (r for r in rows if r not in JAXDL_ROWS):
                    score, wall = timed(run_sklearn, row, task, x, yy, train, test)
                    entry[row]["scores"].append(score)
                    entry[row]["wall_s"].append(wall)
                if save is not None:
                    save(results)
            entry["load"].append(os.getloadavg()[0])
    return results


def _cell(entry: dict[str, Any], row: str) -> str:
    scores = np.asarray(entry[row]["scores"])
    return f"{scores.mean():.3f} +- {scores.std():.3f}"


def bar(entry: dict[str, Any]) -> str:
    """The issue's quality bar on the means: ``jaxdl train`` at least the linear model, ``jaxdl
    sweep`` at least the better of the linear model and the MLP (rows not run are left out).

    >>> bar({"train": {"scores": [0.9]}, "sweep": {"scores": [0.95]},
    ...      "linear": {"scores": [0.92]}, "mlp": {"scores": [0.94]}})
    'train < linear; sweep >= max(linear, mlp)'
    """
    mean = {row: float(np.mean(entry[row]["scores"])) for row in ROWS if row in entry}
    verdicts = []
    if "train" in mean and "linear" in mean:
        verdicts.append(f"train {'>=' if mean['train'] >= mean['linear'] else '<'} linear")
    peers = [mean[row] for row in ("linear", "mlp") if row in mean]
    for sweep in (s for s in SWEEPS if s in mean and peers):
        verdicts.append(f"{sweep} {'>=' if mean[sweep] >= max(peers) else '<'} "
                        f"max({', '.join(r for r in ('linear', 'mlp') if r in mean)})")
    return "; ".join(verdicts)


def report(results: dict[str, Any]) -> str:
    """A Markdown table, one line per set: each row's held-out accuracy or R^2 (mean +- std
    over the seeds), the quality bar (:func:`bar`) and the mean wall seconds per seed."""
    rows = [row for row in ROWS if any(row in entry for entry in results.values())]
    lines = ["| set | metric | " + " | ".join(TITLES[row] for row in rows)
             + " | bar (means) | wall s: " + " / ".join(rows) + " |",
             "|---|---|" + "---|" * len(rows) + "---|---|"]
    for name, entry in results.items():
        cells = [_cell(entry, row) if row in entry else "" for row in rows]
        walls = " / ".join(f"{np.mean(entry[row]['wall_s']):.1f}" if row in entry else "-"
                           for row in rows)
        lines.append(f"| {name} ({entry['rows']} rows, {entry['features']} features) | "
                     f"{entry['metric']} | {' | '.join(cells)} | {bar(entry)} | {walls} |")
    return "\n".join(lines)


def mismatches(results: dict[str, Any], tolerance: float = 1e-4) -> list[str]:
    """Where a saved model's manifest reports a test figure other than ``jaxdl evaluate``'s
    on the same rows (each should be the other; ``train_60``'s manifest holds its internal
    test split instead, so it is left out)."""
    found = []
    for name, entry in results.items():
        for row in ("train", *SWEEPS):
            scores = entry.get(row, {}).get("scores", [])
            for seed, score, reported in zip(entry.get("seeds", range(len(scores))), scores,
                                             entry.get(row, {}).get("reported", [])):
                if reported is not None and abs(score - reported) > tolerance:
                    found.append(f"{name} {row} seed {seed}: manifest {reported:.4f}, "
                                 f"evaluate {score:.4f}")
    return found


def per_seed(entry: dict[str, Any], row: str) -> list[bool]:
    """Seed by seed, whether ``row`` (a sweep) scored at least the better of the linear model
    and the MLP on that seed's held-out rows.

    >>> per_seed({"sweep": {"scores": [0.9, 1.0]}, "linear": {"scores": [0.95, 0.9]},
    ...           "mlp": {"scores": [0.8, 1.0]}}, "sweep")
    [False, True]
    """
    peers = [entry[r]["scores"] for r in ("linear", "mlp") if r in entry]
    return [score >= max(p[i] for p in peers) for i, score in enumerate(entry[row]["scores"])]


def merge(results: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Add the sets of an earlier run to ``results``: a set already there gets the other run's
    seeds appended to each of its rows (a row only one run has is taken as it is).

    >>> a = {"iris": {"seeds": [0], "load": [1.0], "linear": {"scores": [0.9]}}}
    >>> b = {"iris": {"seeds": [1], "load": [2.0], "linear": {"scores": [1.0]}}}
    >>> merge(a, b)["iris"]["seeds"], a["iris"]["linear"]["scores"]
    ([0, 1], [0.9, 1.0])
    """
    for name, entry in more.items():
        if name not in results:
            results[name] = entry
            continue
        mine = results[name]
        mine["seeds"] = [*mine.get("seeds", []), *entry.get("seeds", [])]
        mine["load"] = [*mine.get("load", []), *entry.get("load", [])]
        for row in ROWS:
            if row in entry and row in mine:
                for key, values in entry[row].items():
                    mine[row][key] = [*mine[row].get(key, []), *values]
            elif row in entry:
                mine[row] = entry[row]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="split seeds (default 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first split seed (default 0): seeds FIRST .. FIRST+SEEDS-1, "
                        "e.g. --first-seed 3 --seeds 5 confirms on seeds 3-7")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS),
                        help=f"comma-separated rows of {', '.join(ROWS)} (default: "
                        f"{','.join(DEFAULT_ROWS)})")
    parser.add_argument("--quick", action="store_true",
                        help="one seed of iris, fewer epochs and configs (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="print one table from the JSON files of earlier runs; run nothing")
    args = parser.parse_args(argv)
    if args.report:
        results: dict[str, Any] = {}
        for path in args.report:
            with open(path, encoding="utf-8") as f:
                merge(results, json.load(f)["sets"])
        print(report(results))
        for row in SWEEPS:
            counts = [per_seed(e, row) for e in results.values() if row in e]
            if counts:
                met = sum(sum(c) for c in counts)
                print(f"{row}: at least max(linear, mlp) on {met} of "
                      f"{sum(len(c) for c in counts)} set-seeds")
        for line in mismatches(results):
            print("MISMATCH", line)
        return 0
    sets = ["iris"] if args.quick else [s for s in args.sets.split(",") if s]
    rows = tuple(r for r in args.rows.split(",") if r)
    for kind, asked, known in (("set", sets, SETS), ("row", rows, ROWS)):
        unknown = [s for s in asked if s not in known]
        if unknown:
            parser.error(f"unknown {kind}(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(known)}")
    seeds = [0] if args.quick else list(range(args.first_seed, args.first_seed + args.seeds))
    about = machine()

    def save(results: dict[str, Any]) -> None:
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"machine": about, "seeds": seeds, "sets": results}, f, indent=1)

    results = run(sets, seeds, rows=rows, quick=args.quick, save=save)
    save(results)
    print(report(results))
    for line in mismatches(results):
        print("MISMATCH", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
