"""``jaxdl sweep --folds K``: rank the configs by K-fold cross-validation of the training and
validation rows (:func:`jaxdl.sweep.folds.cross_validate`), print the ranking as K-fold means,
and save the chosen config (``--select``) refitted on all of those rows."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxdl.cli import data as user_data
from jaxdl.cli.tables import render
from jaxdl.data.datasets import Dataset

#: Strategies that take ``--folds`` (the plain sweep of random or grid configs).
FOLD_STRATEGIES = ("random", "grid")


def check_fold_args(args: argparse.Namespace, data: Dataset) -> None:
    """``--folds`` checked against the other flags and the data, before anything compiles.

    Raises:
      ValueError: naming ``--folds`` and the fix.

    >>> import numpy as np
    >>> from jaxdl.cli import build_parser
    >>> from jaxdl.data.datasets import load
    >>> args = build_parser().parse_args(["sweep", "--folds", "1"])
    >>> check_fold_args(args, load("moons", n=50))
    Traceback (most recent call last):
    ...
    ValueError: --folds must be an integer of at least 2 (each fold validates on 1/K of ...; got 1
    """
    from jaxdl.sweep.folds import check_folds

    strategy = args.strategy or args.method
    if strategy not in FOLD_STRATEGIES:
        raise ValueError(f"--folds cross-validates the plain sweep (--strategy random or grid), "
                         f"not --strategy {strategy}; drop --folds or the strategy")
    for flag, given in (("--checkpoint-dir", args.checkpoint_dir), ("--resume", args.resume)):
        if given:
            raise ValueError(f"--folds runs the folds one after another without checkpoints; "
                             f"drop {flag}")
    y = np.concatenate([np.asarray(data.y_train), np.asarray(data.y_val)])
    check_folds(args.folds, y, data.task == "classification", "--folds")


#: ``jaxdl sweep --data TABLE`` cross-validates by default (:data:`DEFAULT_FOLDS` folds) when
#: its training and validation rows number at most this many (the tables measured: 120 to
#: 353 such rows; see docs/benchmarks.md).
SMALL_TABLE_ROWS = 400
DEFAULT_FOLDS = 5


def default_folds(args: argparse.Namespace, data: Dataset) -> int | None:
    """The ``--folds`` a sweep uses when none is given: :data:`DEFAULT_FOLDS` for a small table
    (``--data`` a CSV file of at most :data:`SMALL_TABLE_ROWS` training and validation rows,
    every class with at least :data:`DEFAULT_FOLDS` of them) searched by the plain sweep without
    ``--checkpoint-dir`` or ``--tensorboard``; otherwise none (ranked on the validation split).
    ``--no-folds`` turns it off.

    >>> from jaxdl.cli import build_parser
    >>> from jaxdl.data.datasets import load
    >>> default_folds(build_parser().parse_args(["sweep"]), load("moons", n=50)) is None
    True
    """
    if getattr(args, "no_folds", False):
        if args.folds is not None:
            raise ValueError("--folds and --no-folds contradict each other; keep one")
        return None
    if args.folds is not None:
        return int(args.folds)
    if (args.data is None or data.x_train.ndim != 2 or (args.strategy or args.method)
            not in FOLD_STRATEGIES or args.checkpoint_dir or args.resume or args.tensorboard):
        return None
    y = np.concatenate([np.asarray(data.y_train), np.asarray(data.y_val)])
    if len(y) > SMALL_TABLE_ROWS:
        return None
    if data.task == "classification" and np.bincount(y).min() < DEFAULT_FOLDS:
        return None
    return DEFAULT_FOLDS


def run_folds(args: argparse.Namespace, space: Any, data: Dataset, trainer: Any, fixed: Any,
              mesh: Any, logger: Any = None) -> Any:
    """The cross-validated sweep of ``args`` (:func:`jaxdl.sweep.folds.cross_validate`);
    ``logger`` gets config ``i`` of fold ``k`` as member ``k * configs + i``."""
    from jaxdl.sweep.folds import cross_validate

    return cross_validate(
        space, data, trainer=trainer, folds=args.folds, epochs=args.epochs,
        n=args.configs or 32, method=args.strategy or args.method, seed=args.seed, hp=fixed,
        patience=args.patience, monitor=args.monitor or "val_loss", min_delta=args.min_delta,
        mesh=mesh, select=args.select or "one-se", logger=logger,
    )  # fmt: skip


def fold_table(rows: Sequence[dict[str, Any]], names: Sequence[str], task: str,
               metric: str) -> str:
    """The ranked rows of a cross-validated sweep: rank, config, the searched values, the
    K-fold means of the loss and accuracy (or mse), the spread of the ranked ``metric`` over
    the folds, the number of parameters, the best epoch of the mean curve and the status.

    >>> rows = [{"config": 2, "learning_rate": 0.01, "mean_val_loss": 0.25,
    ...          "mean_val_accuracy": 0.9, "std_val_loss": 0.05, "best_epoch": 7,
    ...          "status": "ok", "folds": 5, "parameters": 42}]
    >>> print(fold_table(rows, ["learning_rate"], "classification", "val_loss"))
    rank  config  learning_rate  mean_val_loss  mean_val_acc  std_val_loss  params  epoch  status
       1       2           0.01         0.2500        0.9000        0.0500      42      7      ok
    """
    second = "val_accuracy" if task == "classification" else "val_mse"
    label = "val_acc" if task == "classification" else "val_mse"
    header = ["rank", "config", *names, "mean_val_loss", f"mean_{label}", f"std_{metric}",
              "params", "epoch", "status"]
    lines = [[rank, row["config"], *(_fmt(row[n]) for n in names), row["mean_val_loss"],
              row[f"mean_{second}"], row[f"std_{metric}"], row["parameters"], row["best_epoch"],
              row["status"]]
             for rank, row in enumerate(rows, 1)]
    return render(header, lines, left=0)


def save_refit(args: argparse.Namespace, results: Any, data: Dataset) -> str:
    """Save the chosen config refitted on every training and validation row, with its figures
    on those rows (``train``) and on the test split, and in its manifest the K-fold score it
    was ranked by."""
    from jaxdl.sweep.fold_results import SELECT_RULES
    from jaxdl.sweep.folds import pooled

    best = results.best()
    i, refit, trainer = best["config"], results.refit, results.refit_trainer
    rows = pooled(data)
    splits = user_data.figures(trainer.model, refit.params, refit.model_state, rows)
    test = ", ".join(f"{k} {v:.4f}" for k, v in splits.get("test", {}).items()
                     if isinstance(v, float))
    print(f"config {i} refitted on {len(rows.y_train)} training and validation rows for "
          f"{results.refit_epochs} epochs: test {test}")
    training = {
        **results.runs[0].hp[i], **results.configs[i], "optimizer": trainer.optimizer,
        "epochs": results.refit_epochs, "best_epoch": results.refit_epochs - 1,
        "kept": "the refit's last epoch", "ranked_by": results.label, "folds": results.folds,
        "chosen_by": SELECT_RULES[results.select],
        "cross_validation": {k: v for k, v in best.items()
                             if k.startswith(("mean_", "std_", "fold")) or k == "best_epoch"},
        "refit": f"trained on all {len(rows.y_train)} training and validation rows for "
                 f"{results.refit_epochs} epochs (the best epoch of the mean fold curve + 1), "
                 "last epoch kept",
    }  # fmt: skip
    return user_data.save(args, trainer.model, refit.params, refit.model_state, rows, training,
                          splits)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
