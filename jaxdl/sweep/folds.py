"""K-fold cross-validation of a sweep's ranking, then a refit of the chosen config on every row.

The training and validation rows are pooled and split into ``K`` folds drawn from ``seed``
(:func:`fold_ids`: stratified by class for classification, so each fold holds each class's
rows to within one; the fold sizes differ by at most one row). Fold ``k`` validates on its own
rows and trains on the other ``K - 1`` folds. Every config runs on every fold: one
:func:`~jaxdl.sweep.run_sweep` per fold with the same configs, keys and epochs, through the same
compiled programs (the folds' shapes are equal or differ by one row, so a bucket compiles once
or twice). A :class:`~jaxdl.layers.Standardized` model's statistics are fitted once, on all the
pooled rows, and serve every fold and the refit: they are constants of the compiled program, so
statistics per fold (what a scikit-learn ``Pipeline`` in ``GridSearchCV`` does) would compile
every bucket once per fold. A fold's validation rows thus shape the mean and spread its inputs
(and, for regression, its targets) are scaled by; nothing else of them reaches its training.

A config's score is its *mean curve*: the monitored metric averaged over the folds at each
epoch, taken at the best epoch of that mean curve,

    e* = argbest_e (1/K) sum_k m_k(e),        score = (1/K) sum_k m_k(e*),

rather than the mean of each fold's own best: one epoch count is what the refit needs, and the
minimum of each noisy fold curve would flatter every config. The configs are ranked by it; the
chosen one (by default the one-standard-error rule: the fewest parameters within one standard
error of the best mean, see :class:`FoldResults`) is trained again on all the pooled rows for
``e* + 1`` epochs (``GridSearchCV(refit=True)``), its last epoch kept: that is the model
:class:`FoldResults` holds, with no validation figure of its own (the test split stays held
out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from jax.sharding import Mesh

from jaxdl.data.encoding import standardizer
from jaxdl.data.normalize import target_standardizer
from jaxdl.layers.standardize import Standardized
from jaxdl.logs import Logger, offset_members
from jaxdl.sweep.buckets import resolve_configs, split_config, trainer_for
from jaxdl.sweep.engine import run_sweep
from jaxdl.sweep.fold_results import FoldResults, check_select, mean_curve
from jaxdl.train import Trainer, fit

__all__ = ["FoldResults", "check_folds", "cross_validate", "fold_ids", "mean_curve"]


def check_folds(folds: Any, y: np.ndarray, stratify: bool, name: str = "folds") -> int:
    """``folds`` checked against the pooled targets ``y``: an int from 2 to the number of rows
    (with ``stratify``: to the rows of the smallest class, so every fold validates every class).

    Args:
      folds: the number of folds K.
      y: the pooled training and validation targets.
      stratify: whether the folds are stratified by class.
      name: the argument's name in the error (``--folds`` from the command line).

    Returns:
      ``folds`` as an int.

    Raises:
      ValueError: naming ``name`` and the largest K allowed.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.sweep.folds import check_folds
      >>> check_folds(3, np.array([0, 0, 0, 1, 1, 1]), stratify=True)
      3
      >>> check_folds(4, np.array([0, 0, 0, 1, 1, 1]), stratify=True)
      Traceback (most recent call last):
      ...
      ValueError: folds must be at most 3, the rows of the smallest class (class 0 has 3); got 4
    """
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise ValueError(f"{name} must be an integer of at least 2 (each fold validates on "
                         f"1/K of the rows and trains on the rest); got {folds!r}")
    rows = len(y)
    if stratify:
        classes, counts = np.unique(np.asarray(y), return_counts=True)
        smallest = int(np.argmin(counts))
        if folds > counts[smallest]:
            raise ValueError(f"{name} must be at most {counts[smallest]}, the rows of the "
                             f"smallest class (class {classes[smallest]} has "
                             f"{counts[smallest]}); got {folds}")
    elif folds > rows:
        raise ValueError(f"{name} must be at most {rows}, the training and validation rows; "
                         f"got {folds}")
    return int(folds)


def fold_ids(y: np.ndarray, folds: int, seed: int, stratify: bool) -> np.ndarray:
    """The fold of every row: the rows in an order drawn from ``seed`` (with ``stratify``: each
    class's rows shuffled, the classes one after another), then folds ``0, 1, ..., K-1, 0, ...``
    dealt along that order, so the folds' sizes differ by at most one and so do each class's
    counts in them.

    Args:
      y: the targets (class indices when ``stratify``).
      folds: K.
      seed: the seed of the order (``numpy.random.default_rng``).
      stratify: deal each class's rows evenly over the folds.

    Returns:
      An int array ``(rows,)`` of fold numbers.

    Examples:
      >>> import numpy as np
      >>> from jaxdl.sweep.folds import fold_ids
      >>> y = np.array([0] * 6 + [1] * 4)
      >>> ids = fold_ids(y, 2, seed=0, stratify=True)
      >>> np.bincount(ids).tolist(), np.bincount(ids[y == 1]).tolist()
      ([5, 5], [2, 2])
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    if stratify:
        order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
    else:
        order = rng.permutation(len(y))
    ids = np.empty(len(y), np.int64)
    ids[order] = np.arange(len(y)) % folds
    return ids


def restandardized(trainer: Trainer, x: np.ndarray, y: np.ndarray, encoding: Any = None,
                   names: Sequence[str] | None = None) -> Trainer:
    """``trainer`` whose :class:`~jaxdl.layers.Standardized` model takes its statistics (and
    its target statistics, where it has them) from the rows ``x, y``; any other model as is.

    Examples:
      >>> import numpy as np
      >>> from jaxdl import MLP, Trainer
      >>> from jaxdl.data.normalize import Standardizer
      >>> from jaxdl.layers import Standardized
      >>> from jaxdl.sweep.folds import restandardized
      >>> base = Trainer(Standardized(MLP((1, 2)), Standardizer(np.zeros(1), np.ones(1))))
      >>> x = np.array([[1.0], [3.0]])
      >>> restandardized(base, x, np.array([0, 1])).model.mean.tolist()
      [2.0]
    """
    model = trainer.model
    if not isinstance(model, Standardized):
        return trainer
    stats = standardizer(x, encoding, None if encoding is not None else names)
    targets = None if model.target_stats is None else target_standardizer(y)
    return dataclasses.replace(trainer, model=Standardized(model.model, stats, targets=targets))


def cross_validate(
    space_or_configs: Any,
    data: Any,
    *,
    trainer: Trainer,
    folds: int = 5,
    epochs: int = 10,
    n: int | None = None,
    method: str = "random",
    seed: int = 0,
    hp: Mapping[str, Any] | None = None,
    patience: int | None = None,
    monitor: str = "val_loss",
    mode: str | None = None,
    min_delta: float = 0.0,
    mesh: Mesh | None = None,
    stratify: bool | None = None,
    refit: bool = True,
    select: str = "one-se",
    logger: Logger | None = None,
) -> FoldResults:
    """Rank configs by K-fold cross-validation, then refit the best on every pooled row.

    See the module docstring: each fold is a :func:`~jaxdl.sweep.run_sweep` of every config
    (the same configs, keys and epochs), a config's score is its mean curve's best value.

    Args:
      space_or_configs: a space (sampled with ``n``, ``seed``, ``method``) or configs.
      data: a :class:`~jaxdl.data.datasets.Dataset` (its training and validation rows are
        pooled; a ``Standardized`` model's statistics are refitted on them)
        or ``(x, y)``, the rows to split.
      trainer: the trainer every config starts from.
      folds: K, from 2 to the rows of the smallest class (classification) or the rows.
      epochs, n, method, seed, hp, patience, monitor, mode, min_delta, mesh: as in
        :func:`~jaxdl.sweep.run_sweep`; ``seed`` also draws the folds.
      stratify: stratify the folds by class (default: when the data's task is classification,
        or, for ``(x, y)``, when ``y`` holds integers).
      refit: train the chosen config on every pooled row (``FoldResults.refit``).
      select: how the config is chosen: ``"one-se"``, the fewest parameters within one
        standard error of the best mean (the one-standard-error rule), or ``"best"``, the best
        mean (see :class:`FoldResults`).
      logger: see :mod:`jaxdl.logs`: config ``i`` of fold ``k`` logs as member
        ``k * len(configs) + i``.

    Returns:
      The :class:`FoldResults`.

    Examples:
      >>> import numpy as np
      >>> from jaxdl import MLP, Trainer
      >>> from jaxdl.sweep.folds import cross_validate
      >>> rng = np.random.default_rng(0)
      >>> y = rng.integers(0, 2, 40).astype(np.int32)
      >>> x = (rng.normal(size=(40, 2)) + 2 * y[:, None]).astype(np.float32)
      >>> cv = cross_validate([{"learning_rate": 0.1}, {"learning_rate": 1e-4}], (x, y),
      ...                     trainer=Trainer(MLP((2, 4, 1))), folds=4, epochs=3)
      >>> cv.best()["config"], cv.best()["folds"], cv.refit_epochs == cv.best()["best_epoch"] + 1
      (0, 4, True)
    """
    if hasattr(data, "x_train"):
        x = np.concatenate([np.asarray(data.x_train), np.asarray(data.x_val)])
        y = np.concatenate([np.asarray(data.y_train), np.asarray(data.y_val)])
        task = getattr(data, "task", "classification")
        encoding, names = getattr(data, "encoding", None), getattr(data, "feature_names", None)
    elif isinstance(data, tuple | list) and len(data) == 2:
        x, y = (np.asarray(a) for a in data)
        task = "classification" if np.issubdtype(y.dtype, np.integer) else "regression"
        encoding = names = None
    else:
        raise TypeError("data must be a jaxdl Dataset or a tuple (x, y) of the rows to split, "
                        f"got {type(data).__name__}")
    stratify = task == "classification" if stratify is None else stratify
    folds = check_folds(folds, y, stratify)
    select = check_select(select)  # before anything compiles
    configs = resolve_configs(space_or_configs, n, seed, method)
    ids = fold_ids(y, folds, seed, stratify)
    pooled_trainer = restandardized(trainer, x, y, encoding, names)  # one program for all
    runs = []
    for k in range(folds):
        tr, va = ids != k, ids == k
        runs.append(run_sweep(
            configs, (x[tr], y[tr], x[va], y[va]), trainer=pooled_trainer, epochs=epochs,
            hp=hp, seed=seed, patience=patience, monitor=monitor, mode=mode,
            min_delta=min_delta, mesh=mesh, logger=offset_members(logger, k * len(configs)),
        ))  # fmt: skip
    results = FoldResults(configs=list(configs), runs=runs, fold_ids=ids, seed=seed,
                          select=select)
    if refit and not all(row["status"] == "diverged" for row in results.table):
        i = results.best()["config"]
        chosen = trainer_for(pooled_trainer, split_config(configs[i])[0])
        results.refit = fit(chosen, x, y, hp=runs[0].hp[i], epochs=results.refit_epochs,
                            seed=seed, progress=False)
        results.refit_trainer = chosen
    return results


def pooled(data: Any) -> Any:
    """``data`` (a Dataset) with its validation rows moved into its training split: the rows a
    cross-validated refit trains on, so the saved model's ``train`` figure is on all of them.

    Examples:
      >>> from jaxdl.data.datasets import load
      >>> from jaxdl.sweep.folds import pooled
      >>> data = load("moons", n=50)
      >>> len(pooled(data).y_train) == len(data.y_train) + len(data.y_val), len(pooled(data).y_val)
      (True, 0)
    """
    x_val, y_val = np.asarray(data.x_val), np.asarray(data.y_val)
    return data._replace(
        x_train=np.concatenate([np.asarray(data.x_train), x_val]),
        y_train=np.concatenate([np.asarray(data.y_train), y_val]),
        x_val=x_val[:0], y_val=y_val[:0], rows=None,
    )  # fmt: skip
