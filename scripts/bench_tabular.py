"""Benchmark: ``jaxdl train`` with its defaults on a user's table against scikit-learn.

scikit-learn's bundled tabular sets are written as CSV files with TEXT labels (breast cancer,
wine, iris, digits; diabetes for regression), split 80/20 (stratified for classification,
plain for regression) with several split seeds. Per set and seed, on the same rows:

    jaxdl      jaxdl train --data train.csv --save m --out run   (defaults, as a user runs it),
               then jaxdl evaluate --model m --data test.csv on the held-out 20%
    linear     Pipeline(StandardScaler(), LogisticRegression()) / Ridge(): defaults
    mlp        Pipeline(StandardScaler(), MLPClassifier()) / MLPRegressor(): defaults
               (max_iter=200, so it may warn that it has not converged; that is its default)

The CLI runs in this process through ``jaxdl.cli.main`` (its output hidden); each row's wall
time is the train + evaluate time (compilation included). Reported: accuracy (classification)
or R^2 (regression) on the held-out rows, mean +- standard deviation over the seeds, and the
mean wall time. Nothing is tuned: every row uses its library's defaults.

    python scripts/bench_tabular.py [--seeds 3] [--quick] [--json PATH] [--sets a,b]

``--quick`` runs one seed of iris only (a smoke test of every code path).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
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
ROWS = ("jaxdl", "linear", "mlp")


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


def run_jaxdl(folder: str, train_csv: str, test_csv: str,
              train_args: tuple[str, ...] = ()) -> float:
    """``jaxdl train`` with defaults (plus ``train_args``: the smoke test's fewer epochs) then
    ``jaxdl evaluate``; the held-out accuracy or R^2."""
    from jaxdl.cli import main

    model, result = os.path.join(folder, "m"), os.path.join(folder, "evaluation.json")
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        code = main(["train", "--data", train_csv, "--save", model,
                     "--out", os.path.join(folder, "run"), *train_args])
        if code == 0:
            code = main(["evaluate", "--model", model, "--data", test_csv, "--out", result])
    if code != 0:
        raise RuntimeError(f"jaxdl exited with {code}:\n{quiet.getvalue()[-2000:]}")
    with open(result, encoding="utf-8") as f:
        figures = json.load(f)
    return float(figures["accuracy"] if "accuracy" in figures else figures["r2"])


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


def run(sets: list[str], seeds: list[int], train_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every row on every set and seed: ``{set: {"task", "metric", "rows", "features", row:
    {"scores", "wall_s"}}}`` (``train_args``: extra ``jaxdl train`` flags, none in the
    benchmark)."""
    results: dict[str, Any] = {}
    for name in sets:
        x, y, names, task = table(name)
        entry: dict[str, Any] = {"task": task, "metric": "accuracy" if task == "classification"
                                 else "r2", "rows": len(y), "features": x.shape[1]}
        for row in ROWS:
            entry[row] = {"scores": [], "wall_s": []}
        for seed in seeds:
            train, test = split(y, task, seed)
            with tempfile.TemporaryDirectory() as folder:
                train_csv = os.path.join(folder, "train.csv")
                test_csv = os.path.join(folder, "test.csv")
                write_csv(train_csv, x[train], y[train], names)
                write_csv(test_csv, x[test], y[test], names)
                score, wall = timed(run_jaxdl, folder, train_csv, test_csv, train_args)
            entry["jaxdl"]["scores"].append(score)
            entry["jaxdl"]["wall_s"].append(wall)
            yy = y.astype(str) if task == "classification" else y
            for row in ("linear", "mlp"):
                score, wall = timed(run_sklearn, row, task, x, yy, train, test)
                entry[row]["scores"].append(score)
                entry[row]["wall_s"].append(wall)
        results[name] = entry
    return results


def report(results: dict[str, Any]) -> str:
    """A Markdown table: one line per set and row."""
    lines = ["| set | metric | jaxdl train (defaults) | standardized Logistic/Ridge | "
             "MLP (sklearn defaults) | wall s: jaxdl / linear / mlp |",
             "|---|---|---|---|---|---|"]
    for name, entry in results.items():
        cells = []
        for row in ROWS:
            s = np.asarray(entry[row]["scores"])
            cells.append(f"{s.mean():.3f} +- {s.std():.3f}")
        walls = " / ".join(f"{np.mean(entry[row]['wall_s']):.2f}" for row in ROWS)
        lines.append(f"| {name} ({entry['rows']} rows, {entry['features']} features) | "
                     f"{entry['metric']} | {' | '.join(cells)} | {walls} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="split seeds (default 3)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--quick", action="store_true", help="one seed of iris (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    sets = ["iris"] if args.quick else [s for s in args.sets.split(",") if s]
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    seeds = [0] if args.quick else list(range(args.seeds))
    results = run(sets, seeds)
    print(report(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
