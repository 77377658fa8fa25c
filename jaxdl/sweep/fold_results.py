"""The results of a cross-validated sweep (:func:`jaxdl.sweep.folds.cross_validate`): each
config's fold curves, their mean, the ranking by it, and the refit of the winner.

A row names what its figures are: ``mean_<metric>`` is the metric averaged over the ``folds``
folds at the config's ``best_epoch`` (the best epoch of the mean curve of the monitored metric),
``std_<monitor>`` its spread over the folds and ``fold<k>_<monitor>`` fold ``k``'s own value at
that epoch. No column is a validation-split figure: each fold validates on rows the others train
on. ``parameters`` is the config's number of trainable parameters.

Which config is refitted (:meth:`FoldResults.best`) follows ``select``: ``"best"`` takes the best
mean; ``"one-se"`` (the default) the *one-standard-error rule* (Hastie, Tibshirani & Friedman,
*The Elements of Statistical Learning*, sec. 7.10): the config with the fewest parameters among
those whose mean is within one standard error of the best mean,

    se = std_k m_k(e*) / sqrt(K - 1)      (the best config's fold values; std over K folds),
    chosen = argmin { parameters : mean <= best mean + se }   (">= best mean - se": "max"),

ties going to the better mean. On a small table the differences between the top configs' means
are mostly fold noise (a five-fold mean of a few dozen rows per fold); the rule then prefers the
model with less room to overfit.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from jaxdl.infra.atomic import write_json
from jaxdl.sweep.results import SweepResults, count_params, score, write_csv
from jaxdl.train import FitResult, Trainer

__all__ = ["SELECT_RULES", "FoldResults", "check_select", "mean_curve"]

#: How :meth:`FoldResults.best` chooses, by name.
SELECT_RULES = {
    "one-se": "the fewest parameters within one standard error of the best mean",
    "best": "the best mean",
}


def check_select(select: Any) -> str:
    """``select`` if it names one of :data:`SELECT_RULES` (``ValueError`` otherwise).

    >>> from jaxdl.sweep.fold_results import check_select
    >>> check_select("one-se")
    'one-se'
    >>> check_select("simplest")
    Traceback (most recent call last):
    ...
    ValueError: select must be one of 'one-se', 'best', got 'simplest'
    """
    if select not in SELECT_RULES:
        raise ValueError(f"select must be one of {', '.join(map(repr, SELECT_RULES))}, "
                         f"got {select!r}")
    return str(select)


def mean_curve(curves: list[list[float]], mode: str) -> tuple[np.ndarray, int]:
    """The mean of the folds' curves over the epochs every fold ran, and its best epoch
    (``-1`` when no epoch's mean is finite).

    Args:
      curves: one list of per-epoch values per fold.
      mode: ``"min"`` or ``"max"``.

    Returns:
      ``(mean per epoch, best epoch)``.

    Examples:
      >>> from jaxdl.sweep.fold_results import mean_curve
      >>> curve, best = mean_curve([[3.0, 1.0, 2.0], [1.0, 2.0]], "min")
      >>> curve.tolist(), best
      ([2.0, 1.5], 1)
    """
    length = min(len(c) for c in curves)
    mean = np.mean(np.array([c[:length] for c in curves], np.float64), axis=0)
    keys = [score(mode, float(v)) for v in mean]
    if not keys or not math.isfinite(min(keys)):
        return mean, -1
    return mean, int(np.argmin(keys))


@dataclasses.dataclass
class FoldResults:
    """A cross-validated sweep: ``runs[k]`` is fold ``k``'s
    :class:`~jaxdl.sweep.SweepResults` (every config, validated on the rows with
    ``fold_ids == k``), ``refit`` the :class:`~jaxdl.train.FitResult` of the best config trained
    on every pooled row for :attr:`refit_epochs` epochs (``refit_trainer`` its trainer).

    Examples:
      >>> import numpy as np
      >>> from jaxdl import MLP, Trainer
      >>> from jaxdl.sweep.folds import cross_validate
      >>> x = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
      >>> y = (x[:, 0] > 0).astype(np.int32)
      >>> cv = cross_validate([{"learning_rate": 0.1}], (x, y), trainer=Trainer(MLP((2, 1))),
      ...                     folds=3, epochs=2, refit=False)
      >>> cv.monitor, cv.columns()[:5]
      ('mean_val_loss', ['config', 'status', 'best_epoch', 'epochs_run', 'folds'])
    """

    configs: list[dict[str, Any]]
    runs: list[SweepResults]
    fold_ids: np.ndarray
    seed: int
    refit: FitResult | None = None
    refit_trainer: Trainer | None = None
    select: str = "one-se"

    def __post_init__(self) -> None:
        check_select(self.select)

    @property
    def folds(self) -> int:
        """K."""
        return len(self.runs)

    @property
    def metric(self) -> str:
        """The monitored history entry, e.g. ``"val_loss"``."""
        return self.runs[0].monitor

    @property
    def monitor(self) -> str:
        """The ranked column, ``mean_<metric>``."""
        return f"mean_{self.metric}"

    @property
    def label(self) -> str:
        """What the ranking is, in words: ``"val_loss, mean of 5 folds"``."""
        return f"{self.metric}, mean of {self.folds} folds"

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``: the monitored metric's direction."""
        return self.runs[0].stopper.direction

    @property
    def metrics(self) -> tuple[str, ...]:
        """The recorded metrics averaged in each row (validation first)."""
        return self.runs[0].metrics

    def row(self, i: int) -> dict[str, Any]:
        """Config ``i``'s row: ``config``, ``status`` (``diverged`` when a fold diverged,
        else ``ok``), ``best_epoch`` (of the mean curve), ``epochs_run`` (the epochs every fold
        ran), ``folds``, ``mean_<metric>`` for every metric at ``best_epoch``,
        ``std_<monitor>``, ``fold<k>_<monitor>``, then the hyperparameters.

        Args:
          i: the config's index.

        Returns:
          The row.
        """
        histories = [run.histories[i] for run in self.runs]
        curve, best = mean_curve([h[self.metric] for h in histories], self.mode)
        own = [h[self.metric][best] if best >= 0 else math.nan for h in histories]
        diverged = any(run.status[i] == "diverged" for run in self.runs)
        row: dict[str, Any] = {
            "config": i,
            "status": "diverged" if diverged else "ok",
            "best_epoch": best,
            "epochs_run": len(curve),
            "folds": self.folds,
        }
        for name in self.metrics:
            values = [h[name][best] if best >= 0 else math.nan for h in histories]
            row[f"mean_{name}"] = float(np.mean(values))
        row[f"std_{self.metric}"] = float(np.std(own))
        for k, value in enumerate(own):
            row[f"fold{k}_{self.metric}"] = float(value)
        row["parameters"] = self.parameters(i)
        return {**row, **self.configs[i]}

    def parameters(self, i: int) -> int:
        """Config ``i``'s number of trainable parameters."""
        return count_params(self.runs[0].params[i])

    @property
    def table(self) -> list[dict[str, Any]]:
        """Every config's row, best mean first, diverged ones last."""
        rows = [self.row(i) for i in range(len(self.configs))]
        return sorted(rows, key=lambda r: (r["status"] == "diverged",
                                           score(self.mode, r[self.monitor]), r["config"]))

    def top(self, k: int) -> list[dict[str, Any]]:
        """The best ``k`` rows that did not diverge."""
        return [r for r in self.table if r["status"] != "diverged"][:k]

    def best(self) -> dict[str, Any]:
        """The chosen row, by :attr:`select` (see the module docstring): with ``"best"`` the
        best mean, with ``"one-se"`` the fewest parameters within one standard error of it
        (``ValueError`` when every config diverged)."""
        top = self.top(len(self.configs))
        if not top:
            raise ValueError("every config diverged on some fold; there is no best one")
        if self.select == "best":
            return top[0]
        bound = score(self.mode, self._bound(top[0]))
        near = [r for r in top if score(self.mode, r[self.monitor]) <= bound]
        return min(near, key=lambda r: (r["parameters"], score(self.mode, r[self.monitor])))

    def threshold(self) -> float:
        """The one-standard-error bound: the best mean plus (``"max"``: minus) the standard
        error of the best config's fold values, ``std / sqrt(K - 1)``."""
        return self._bound(self.top(1)[0])

    def _bound(self, top: dict[str, Any]) -> float:
        """:meth:`threshold` of the best row ``top``."""
        se = float(top[f"std_{self.metric}"]) / math.sqrt(max(top["folds"] - 1, 1))
        return float(top[self.monitor]) + (se if self.mode == "min" else -se)

    def choice(self) -> str:
        """How :meth:`best` chose, in words, with its figures."""
        chosen, top = self.best(), self.top(1)[0]
        if self.select == "best":
            return f"config {chosen['config']}, the best {self.label}"
        return (f"config {chosen['config']} by the one-standard-error rule: the fewest "
                f"parameters ({chosen['parameters']}) among the configs whose {self.label} is "
                f"within one standard error of the best (config {top['config']}: "
                f"{top[self.monitor]:.4f}; bound {self.threshold():.4f}; config "
                f"{chosen['config']}: {chosen[self.monitor]:.4f})")

    @property
    def refit_epochs(self) -> int:
        """The epochs the best config is refitted for: its mean curve's best epoch + 1."""
        return int(self.best()["best_epoch"]) + 1

    def columns(self) -> list[str]:
        """The CSV columns, in order."""
        names = list(self.row(0))
        for config in self.configs:
            names += [k for k in config if k not in names]
        return names

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically)."""
        write_csv(path, self.columns(), self.table)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write ``{"monitor", "ranked_by", "folds", "mode", "refit_epochs", "rows"}`` as JSON
        (atomically)."""
        write_json(path, {"monitor": self.monitor, "ranked_by": self.label, "folds": self.folds,
                          "mode": self.mode, "fold_seed": self.seed, "select": self.select,
                          "chosen": self.best()["config"] if self.top(1) else None,
                          "refit_epochs": self.refit_epochs if self.refit else None,
                          "rows": self.table})
