"""What a sweep records: each member's history as the compiled epochs report it
(:class:`History`), the :class:`~jaxdl.sweep.results.SweepResults` built from it
(:func:`sweep_results`) and each member's final row for a logger (:func:`log_results`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxdl import logs
from jaxdl.history import append
from jaxdl.sweep.buckets import Bucket
from jaxdl.sweep.results import SweepResults

__all__ = ["log_results"]


class History:
    """Per-member history lists, filled from the per-epoch records of the compiled step (no
    ``learning_rate`` list where the trainer does not know the rate: a ready-made
    transformation)."""

    def __init__(self, n: int, keys: Sequence[str], logger: Any = None) -> None:
        self.KEYS = ("epoch", *(k for k in keys if k != "epoch"))
        self.lists: list[dict[str, list[float]]] = [{k: [] for k in self.KEYS} for _ in range(n)]
        self.status = ["ok"] * n
        self.logger = logger

    def add(self, bucket: Bucket, start: int, record: dict[str, np.ndarray]) -> None:
        for step in range(record["live"].shape[0]):
            for j, i in enumerate(bucket.ids):
                if not record["live"][step, j]:
                    continue
                entry = self.lists[i]
                append(entry, start + step, {k: record[k][step, j] for k in self.KEYS[1:]})
                if self.logger is not None:
                    self.logger.log_epoch(start + step, logs.last_epoch(entry), member=int(i))
                if record["diverged"][step, j]:
                    self.status[i] = "diverged"
                elif record["stopped"][step, j]:
                    self.status[i] = "early-stopped"


def sweep_results(
    configs: Any, history: History, outcome: Any, trainers: Any, member_hp: Any,
    member_seeds: Any, budget: Any, stopper: Any
) -> SweepResults:
    """The :class:`SweepResults` of the members with an outcome (``None`` for the others)."""
    empty = {"params": None, "model_state": None, "best_epoch": -1}
    got = [outcome.get(i, empty) for i in range(len(configs))]
    return SweepResults(
        configs=configs,
        histories=history.lists,
        status=history.status,
        best_epoch=[g["best_epoch"] for g in got],
        params=[g["params"] for g in got],
        model_state=[g["model_state"] for g in got],
        trainers=trainers,
        hp=member_hp,
        seeds=member_seeds,
        epochs=budget,
        stopper=stopper,
    )


def log_results(logger: Any, results: SweepResults) -> None:
    """Give ``logger`` each member's hyperparameters and best-epoch metrics (its table row).

    >>> import numpy as np
    >>> from jaxdl.sweep.engine import run_sweep
    >>> from jaxdl.sweep.recording import log_results
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> results = run_sweep([{"learning_rate": 0.1}], (x, y, x, y),
    ...                     trainer=Trainer(MLP((2, 1))), epochs=1)
    >>> class Show:
    ...     def log_hparams(self, member, hparams, metrics):
    ...         print(member, hparams, sorted(metrics))
    >>> log_results(Show(), results)
    0 {'learning_rate': 0.1} ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    if logger is None:
        return
    for i in range(len(results.configs)):
        row = results.row(i)
        logger.log_hparams(i, {**results.hp[i], **results.configs[i]},
                           {k: row[k] for k in results.metrics})
