"""Sweep results: a table sorted best first, CSV/JSON files, a plot, and retraining one config.

Each row holds the config's index and hyperparameters, its ``status`` (``ok``, ``early-stopped``,
``diverged`` or ``pruned`` by successive halving), ``best_epoch`` (the epoch of the best monitored
value, -1 if none was finite), ``epochs_run``, and the training and validation loss and accuracy
of the best epoch (the loss and every metric the trainer records). Rows are sorted by the
monitored value in its mode (best first, non-finite last), with
diverged members after all others. Files are written atomically (a temporary file in the same
directory, then ``os.replace``), so a reader never sees half a table.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl import plots
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import MONITORS, TIMING_KEYS
from jaxdl.infra.atomic import atomic_write, write_json
from jaxdl.train import FitResult, Trainer, fit

METRICS = MONITORS  # the table's metric columns, of the default classification setup
BETAS = ("b1", "b2", "beta", "bn_momentum")


def score(mode: str, value: float) -> float:
    """Sort key of a monitored value: lower is better, non-finite last.

    Args:
      mode: ``"min"`` (lower is better) or ``"max"``.
      value: the monitored value.

    Returns:
      ``value`` for ``"min"``, ``-value`` for ``"max"``, ``inf`` when not finite.

    Examples:
      >>> from jaxdl.sweep.results import score
      >>> sorted([0.7, float("nan"), 0.9], key=lambda v: score("max", v))
      [0.9, 0.7, nan]
    """
    key = value if mode == "min" else -value
    return key if math.isfinite(key) else math.inf


def count_params(params: Any) -> int:
    """The number of scalars in a parameter tree (a member's ``params``).

    >>> import numpy as np
    >>> from jaxdl.sweep.results import count_params
    >>> count_params({"W": np.zeros((3, 2)), "b": np.zeros(2)})
    8
    """
    return int(sum(np.size(a) for a in jax.tree.leaves(params)))


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Sequence[Mapping]) -> None:
    """``rows`` (dicts) as CSV under a header of ``columns``, written atomically.

    >>> import os, tempfile
    >>> from jaxdl.sweep.results import write_csv
    >>> path = os.path.join(tempfile.mkdtemp(), "table.csv")
    >>> write_csv(path, ["config", "val_loss"], [{"config": 0, "val_loss": 0.5}])
    >>> print(open(path).read().strip())
    config,val_loss
    0,0.5
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


@dataclasses.dataclass
class SweepResults:
    """Everything a sweep produced, one list entry per config (in sampling order).

    ``params``/``model_state`` are each member's best-epoch parameters (numpy), ``trainers``
    each member's trainer and ``hp`` the hyperparameters it set (shared ``hp`` and its config's;
    the defaults fill in the rest, so ``fit(..., hp=results.hp[i])`` accepts them),
    ``epochs`` the epoch budget it was given.
    :func:`~jaxdl.sweep.run_sweep` and :func:`~jaxdl.sweep.successive_halving` return it.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl import MLP, Trainer, sweep
      >>> from jaxdl.data import load
      >>> results = sweep.run_sweep(sweep.Space(learning_rate=sweep.LogUniform(1e-3, 1.0)),
      ...                           load("moons", n=60), trainer=Trainer(MLP((2, 4, 2))),
      ...                           n=3, epochs=2)
      >>> results.monitor, len(results.table), results.columns()[:4]
      ('val_loss', 3, ['config', 'status', 'best_epoch', 'epochs_run'])
      >>> best = results.best()
      >>> best == results.top(1)[0] == results.table[0], best["status"]
      (True, 'ok')
      >>> results.to_csv(os.path.join(tempfile.mkdtemp(), "sweep.csv"))
    """

    configs: list[dict[str, Any]]
    histories: list[dict[str, list]]
    status: list[str]
    best_epoch: list[int]
    params: list[Any]
    model_state: list[Any]
    trainers: list[Trainer]
    hp: list[dict[str, float]]
    seeds: list[int]
    epochs: list[int]
    stopper: EarlyStopping

    @property
    def monitor(self) -> str:
        """The ranked metric, e.g. ``"val_loss"``."""
        return self.stopper.monitor

    @property
    def metrics(self) -> tuple[str, ...]:
        """The recorded metrics of the table, validation first (``val_loss``, ``val_accuracy``,
        ``loss``, ``accuracy`` for the default classification setup)."""
        keys = [k for k in self.histories[0] if k not in ("epoch", "learning_rate", *TIMING_KEYS)]
        return tuple(sorted(keys, key=lambda k: (not k.startswith("val_"), keys.index(k))))

    def row(self, i: int) -> dict[str, Any]:
        """The table row of config ``i`` (in sampling order).

        Args:
          i: the config's index.

        Returns:
          ``{"config", "status", "best_epoch", "epochs_run", <metrics at the best epoch>,
          <hyperparameters>}``.
        """
        history, epoch = self.histories[i], self.best_epoch[i]
        at = history["epoch"].index(epoch) if epoch in history["epoch"] else None
        metrics = {k: history[k][at] if at is not None else math.nan for k in self.metrics}
        return {
            "config": i,
            "status": self.status[i],
            "best_epoch": epoch,
            "epochs_run": len(history["epoch"]),
            **metrics,
            **self.configs[i],
        }

    @property
    def table(self) -> list[dict[str, Any]]:
        """Every config's row (see :meth:`row`), best first, diverged ones last."""
        rows = [self.row(i) for i in range(len(self.configs))]
        mode = self.stopper.direction
        return sorted(
            rows,
            key=lambda r: (r["status"] == "diverged", score(mode, r[self.monitor]), r["config"]),
        )

    def top(self, k: int) -> list[dict[str, Any]]:
        """The best ``k`` rows that did not diverge.

        Args:
          k: how many rows.

        Returns:
          Up to ``k`` rows, best first.
        """
        return [r for r in self.table if r["status"] != "diverged"][:k]

    def best(self) -> dict[str, Any]:
        """The best row that did not diverge.

        Returns:
          The row (see :meth:`row`).

        Raises:
          ValueError: when every config diverged.
        """
        top = self.top(1)
        if not top:
            raise ValueError("every config diverged; there is no best one")
        return top[0]

    def columns(self) -> list[str]:
        """Table columns: index, status, epochs, metrics, then the hyperparameters.

        Returns:
          The column names, in CSV order.
        """
        names = ["config", "status", "best_epoch", "epochs_run", *self.metrics]
        for config in self.configs:
            names += [k for k in config if k not in names]
        return names

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically).

        Args:
          path: the destination file.
        """
        write_csv(path, self.columns(), self.table)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write ``{"monitor", "mode", "rows"}`` as JSON (atomically; non-finite numbers as null).

        Args:
          path: the destination file.
        """
        write_json(path, {"monitor": self.monitor, "mode": self.stopper.mode, "rows": self.table})

    def retrain(self, data: Any, config: int | None = None) -> FitResult:
        """Train config ``config`` (default: the best) alone with :func:`jaxdl.train.fit`, with
        its trainer, hyperparameters, seed, epoch budget and early stopping; with shared keys it
        reproduces the sweep's member.

        Args:
          data: a :class:`~jaxdl.data.datasets.Dataset` or ``(x_train, y_train, x_val, y_val)``.
          config: the config's index (default: the best).

        Returns:
          The :class:`~jaxdl.train.FitResult` of the retrained config.
        """
        i = self.best()["config"] if config is None else config
        if hasattr(data, "x_train"):
            data = (data.x_train, data.y_train, data.x_val, data.y_val)
        x, y, x_val, y_val = data
        return fit(
            self.trainers[i],
            x,
            y,
            validation=(x_val, y_val),
            hp=self.hp[i],
            epochs=self.epochs[i],
            seed=self.seeds[i],
            early_stopping=self.stopper,
            progress=False,
        )


def plot_sweep(results: SweepResults, path: str | os.PathLike) -> None:
    """Scatter the monitored metric against the learning rate (log axis) and against
    ``1 - beta`` (log axis) for every searched beta, coloured by status, one marker shape per
    optimizer when the configs choose among several, the best (or, for a cross-validated sweep,
    the chosen) config starred; saved atomically to ``path``.

    Needs matplotlib (``pip install jaxdl[plot]``).

    Args:
      results: the sweep's results.
      path: the PNG file to write.

    Raises:
      ValueError: when neither a learning rate nor a beta was searched.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl import MLP, Trainer, sweep
      >>> from jaxdl.data import load
      >>> results = sweep.run_sweep({"learning_rate": sweep.LogUniform(1e-3, 1.0)},
      ...                           load("moons", n=60), trainer=Trainer(MLP((2, 4, 2))),
      ...                           n=2, epochs=1)
      >>> path = os.path.join(tempfile.mkdtemp(), "sweep.png")
      >>> sweep.plot_sweep(results, path)
      >>> open(path, "rb").read(4) == b"\\x89PNG"
      True
    """
    rows = results.table
    axes_names = [n for n in ("learning_rate", *BETAS) if any(n in r for r in rows)]
    if not axes_names:
        raise ValueError("plot_sweep needs a searched learning_rate or beta (b1, b2, beta, ...)")
    fig, flat = plots.figure(len(axes_names), height=3.8)  # with matplotlib's install hint
    from matplotlib.lines import Line2D

    colors = {
        "ok": "tab:blue",
        "early-stopped": "tab:green",
        "pruned": "tab:gray",
        "diverged": "tab:red",
    }
    kinds = list(dict.fromkeys(r["optimizer"] for r in rows if "optimizer" in r))
    shapes = dict(zip(kinds, "osD^vPX<>")) if len(kinds) > 1 else {}
    finite = [r for r in rows if math.isfinite(r[results.monitor])]
    chosen = results.best() if any(r["status"] != "diverged" for r in finite) else None
    rule = getattr(results, "select", "best")
    chosen_label = (f"best {results.monitor}" if rule == "best"
                    else f"chosen: {rule} rule on {results.monitor}")
    for ax, name in zip(flat, axes_names):
        def at(r: Mapping[str, Any], name: str = name) -> float:
            return float(r[name] if name == "learning_rate" else 1.0 - r[name])

        for status, color in colors.items():
            for kind in shapes or [None]:
                points = [(at(r), r[results.monitor]) for r in finite if r["status"] == status
                          and name in r and (kind is None or r.get("optimizer") == kind)]
                if points:
                    ax.scatter(*zip(*points), s=18, color=color,
                               marker=shapes.get(kind, "o"))
        if chosen is not None and name in chosen:
            ax.scatter([at(chosen)], [chosen[results.monitor]], marker="*", s=220,
                       facecolors="none", edgecolors="r", linewidths=1.4)
        ax.set_xscale("log")
        plots.log_labels(ax)
        ax.set_xlabel(name if name == "learning_rate" else f"1 - {name}")
        ax.set_ylabel(results.monitor)
        ax.grid(True, which="major", alpha=0.3)
    used = [s for s in colors if any(r["status"] == s for r in finite)]
    handles = [Line2D([], [], ls="", marker="o", color=colors[s], label=s) for s in used]
    handles += [Line2D([], [], ls="", marker=m, color="k", mfc="none", label=k)
                for k, m in shapes.items()]
    if chosen is not None:
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mfc="none", mec="r",
                              label=chosen_label))
    flat[0].legend(handles=handles, fontsize=8)
    plots.suptitle(fig, f"{len(rows)} configs: {results.monitor} at each one's best epoch")
    plots.save(fig, path)
