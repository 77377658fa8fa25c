"""What population-based training leaves behind: each member's lineage and hyperparameter
schedule (:class:`PBTResults`), its replay alone (:func:`replay`) and a plot of the schedules
(:func:`plot_schedules`).

A member's state continues, interval by interval, the state of the member it copied at each
exploit step (``parents``); the hyperparameters that state was trained with, interval by
interval, are its schedule. Every member shares the keys of the population's seed, so training
one model with that schedule reproduces the member's history and best parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import plots
from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import record
from jaxdl.infra.atomic import write_json
from jaxdl.sweep import buckets
from jaxdl.sweep.results import SweepResults
from jaxdl.train import (
    FitResult,
    Keys,
    Trainer,
    run_epoch,
    run_evaluate,
    run_init,
    trainer_hyperparams,
)


@dataclasses.dataclass
class PBTResults(SweepResults):
    """:class:`SweepResults` of the final population plus its lineage.

    ``parents[t][j]``: the member whose state member ``j`` took after interval ``t`` (``j``
    itself when it kept its own); ``schedules_by_slot[t][j]``: the hyperparameters member ``j``
    trained with during interval ``t``; ``interval`` epochs per interval.

    >>> from jaxdl.sweep.lineage import PBTResults
    >>> from jaxdl import EarlyStopping
    >>> res = PBTResults(  # two members, two intervals of one epoch
    ...     configs=[{"learning_rate": 0.1}, {"learning_rate": 0.12}],
    ...     histories=[{"epoch": [0, 1], "val_loss": [0.5, 0.4]},
    ...                {"epoch": [0, 1], "val_loss": [0.6, 0.3]}],
    ...     status=["ok", "ok"], best_epoch=[1, 1], params=[None, None], model_state=[None, None],
    ...     trainers=[None, None], hp=[{"learning_rate": 0.1}, {"learning_rate": 0.12}],
    ...     seeds=[0, 0], epochs=[2, 2], stopper=EarlyStopping(),
    ...     parents=[[0, 0]],  # after interval 0, member 1 took member 0's state
    ...     schedules_by_slot=[[{"learning_rate": 0.1}, {"learning_rate": 0.2}],
    ...                        [{"learning_rate": 0.1}, {"learning_rate": 0.12}]],
    ...     interval=1, searched=("learning_rate",))
    >>> res.best()["config"], res.lineage(1)
    (1, [0, 1])
    >>> res.schedule()  # the best member's: member 0's first interval, then its own
    [{'learning_rate': 0.1}, {'learning_rate': 0.12}]
    """

    parents: list[list[int]] = dataclasses.field(default_factory=list)
    schedules_by_slot: list[list[dict[str, float]]] = dataclasses.field(default_factory=list)
    interval: int = 1
    searched: tuple[str, ...] = ()

    def lineage(self, member: int) -> list[int]:
        """The member slot whose state ``member`` continues, interval by interval."""
        slots = [member]
        for t in range(len(self.schedules_by_slot) - 2, -1, -1):
            slots.append(self.parents[t][slots[-1]])
        return slots[::-1]

    def since_epoch(self, member: int) -> int:
        """The first epoch ``member`` trained with its final hyperparameters: the epoch after
        its last exploit (0 if it never copied another member). Its best epoch, and so its
        table row and kept parameters, count from here."""
        lineage, since = self.lineage(member), 0
        for t, slot in enumerate(lineage[1:]):
            if self.parents[t][slot] != slot:
                since = (t + 1) * self.interval
        return since

    def copied_from(self, member: int) -> int:
        """The member whose state ``member`` took at its last exploit (itself if never)."""
        since = self.since_epoch(member)
        return self.lineage(member)[since // self.interval - 1] if since else member

    def row(self, i: int) -> dict[str, Any]:
        """:meth:`SweepResults.row` plus ``since_epoch`` (see :meth:`since_epoch`) and
        ``copied_from`` (see :meth:`copied_from`): the metrics are those of the member's best
        epoch since ``since_epoch``, reached with the row's hyperparameters from the state of
        ``copied_from``."""
        row = super().row(i)
        ranked = {"since_epoch": self.since_epoch(i), "copied_from": self.copied_from(i)}
        head = ("config", "status", "best_epoch", "epochs_run")
        return {**{k: row[k] for k in head}, **ranked,
                **{k: v for k, v in row.items() if k not in head}}  # fmt: skip

    def columns(self) -> list[str]:
        """:meth:`SweepResults.columns` with ``since_epoch`` and ``copied_from`` after
        ``epochs_run``."""
        names = super().columns()
        at = names.index("epochs_run") + 1
        return [*names[:at], "since_epoch", "copied_from", *names[at:]]

    def provenance(self, member: int | None = None) -> dict[str, Any]:
        """What produced ``member``'s (default: the best's) kept parameters: its lineage, the
        hyperparameters of every interval up to its best epoch (``schedule[t]`` trained epochs
        ``t * interval`` to ``(t + 1) * interval - 1``), the epoch it began its own
        hyperparameters and the member it copied there; the seed and ``interval`` replay it
        (:func:`replay`).

        >>> from jaxdl.sweep.lineage import PBTResults
        >>> from jaxdl.early_stopping import EarlyStopping
        >>> res = PBTResults(
        ...     configs=[{"learning_rate": 0.1}, {"learning_rate": 0.12}],
        ...     histories=[{"epoch": [0, 1], "val_loss": [0.5, 0.4]},
        ...                {"epoch": [0, 1], "val_loss": [0.6, 0.3]}],
        ...     status=["ok", "ok"], best_epoch=[1, 1], params=[None, None],
        ...     model_state=[None, None], trainers=[None, None],
        ...     hp=[{"learning_rate": 0.1}, {"learning_rate": 0.12}], seeds=[0, 0],
        ...     epochs=[2, 2], stopper=EarlyStopping(), parents=[[0, 0]],
        ...     schedules_by_slot=[[{"learning_rate": 0.1}, {"learning_rate": 0.2}],
        ...                        [{"learning_rate": 0.1}, {"learning_rate": 0.12}]],
        ...     interval=1, searched=("learning_rate",))
        >>> res.provenance(1)["schedule"], res.provenance(1)["copied_from"]
        ([{'learning_rate': 0.1}, {'learning_rate': 0.12}], 0)
        """
        i = self.best()["config"] if member is None else member
        last = max(self.best_epoch[i], 0) // self.interval + 1  # intervals up to the best epoch
        return {
            "member": i,
            "seed": self.seeds[i],
            "interval": self.interval,
            "best_epoch": self.best_epoch[i],
            "since_epoch": self.since_epoch(i),
            "copied_from": self.copied_from(i),
            "lineage": self.lineage(i)[:last],
            "schedule": self.schedule(i)[:last],
        }

    def to_json(self, path: Any) -> None:
        """:meth:`SweepResults.to_json` plus ``interval`` and each member's
        :meth:`provenance` (``"provenance"``, in member order)."""
        write_json(path, {"monitor": self.monitor, "mode": self.stopper.mode, "rows": self.table,
                          "interval": self.interval,
                          "provenance": [self.provenance(i) for i in range(len(self.configs))]})

    def schedule(self, member: int | None = None) -> list[dict[str, float]]:
        """The full hyperparameters ``member`` (default: the best) was trained with, one dict
        per interval, following its lineage."""
        i = self.best()["config"] if member is None else member
        return [self.schedules_by_slot[t][s] for t, s in enumerate(self.lineage(i))]

    def retrain(self, data: Any, config: int | None = None) -> FitResult:
        """Train member ``config`` (default: the best) alone, replaying its hyperparameter
        schedule with the same seed and epochs; reproduces its history and best parameters."""
        i = self.best()["config"] if config is None else config
        return replay(self.trainers[i], data, self.schedule(i), self.interval, self.epochs[i],
                      self.seeds[i], self.stopper, since=self.since_epoch(i))  # fmt: skip


def replay(
    trainer: Trainer,
    data: Any,
    schedule: Sequence[Mapping[str, float]],
    interval: int,
    epochs: int,
    seed: int,
    stopper: EarlyStopping,
    since: int = 0,
) -> FitResult:
    """Train one model for ``epochs`` with ``schedule[e // interval]`` as the hyperparameters of
    epoch ``e``, keeping the best epoch's parameters by ``stopper.monitor`` (no stopping) among
    epochs ``since`` onwards (a PBT member's best counts from its last exploit).

    Args:
      trainer: the member's trainer.
      data: a Dataset or ``(x_train, y_train, x_val, y_val)``.
      schedule: the hyperparameters of each interval (``ceil(epochs / interval)`` of them).
      interval: epochs per interval.
      epochs: epochs to train (``>= 1``).
      seed: the seed of the population.
      stopper: its ``monitor`` and mode pick the best epoch.
      since: the first epoch that may be the best (``0 <= since < epochs``).

    Returns:
      A :class:`~jaxdl.train.FitResult` of the best epoch's parameters and the history.

    >>> from jaxdl.sweep.lineage import replay
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.early_stopping import EarlyStopping
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(16, 2)).astype(np.float32), rng.integers(0, 2, 16)
    >>> result = replay(Trainer(MLP((2, 2))), (x[:12], y[:12], x[12:], y[12:]),
    ...                 [{"learning_rate": 0.1}, {"learning_rate": 0.01}], 1, 2, 0,
    ...                 EarlyStopping())
    >>> result.history["epoch"], [round(lr, 6) for lr in result.history["learning_rate"]]
    ([0, 1], [0.1, 0.01])
    """
    check_positive_int("epochs", epochs)
    if isinstance(since, bool) or not isinstance(since, int) or not 0 <= since < epochs:
        raise ValueError(f"since must be an epoch in [0, {epochs}), got {since!r}")
    x, y, x_val, y_val = (jnp.asarray(a) for a in buckets.check_sweep_data(trainer, data))
    keys = Keys.from_seed(seed)
    values = [trainer_hyperparams(trainer, hp) for hp in schedule]
    ts = run_init(trainer, keys.init, values[0])
    es = stopper.init()
    best: tuple[Any, Any] | None = None  # (params, model_state) of the best epoch since since
    history: dict[str, list] = {k: [] for k in (*trainer.history_keys, "batch_cost")}
    for epoch in range(epochs):
        if epoch == since:  # the epochs before do not count (the member copied that state)
            es, best = stopper.init(), jax.device_get((ts.params, ts.model_state))
        hp = values[epoch // interval]
        ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, epoch)
        val = run_evaluate(trainer, ts, hp, x_val, y_val)
        host_metrics, host_val = jax.device_get((metrics, val))
        record(history, epoch, host_metrics, host_val, [m.name for m in trainer.metric_list])
        old, es = es, stopper.update(es, history[stopper.monitor][-1], epoch)
        if bool(stopper.improved(old, es)):
            best = jax.device_get((ts.params, ts.model_state))
    if best is None:  # pragma: no cover - since < epochs, and epoch since sets it
        raise AssertionError("unreachable: epoch `since` records the best parameters")
    params, model_state = best
    return FitResult(params, model_state, ts.opt_state, history, int(es.best_epoch), epochs,
                     False, stopper.monitor)  # fmt: skip


def plot_schedules(results: PBTResults, path: Any) -> None:
    """One panel per searched hyperparameter: the value every final member's lineage trained
    with, epoch by epoch (log axis for log-scaled ones, ``1 - beta`` for betas); the best
    member in black. The title gives the best member's score and the range its schedule
    covered. Saved atomically to ``path``.

    Args:
      results: the results of :func:`population_based_training`.
      path: the PNG file.

    >>> from jaxdl.sweep.lineage import PBTResults, plot_schedules
    >>> import os, tempfile
    >>> from jaxdl import EarlyStopping
    >>> res = PBTResults(  # two members, two intervals of one epoch
    ...     configs=[{"learning_rate": 0.1}, {"learning_rate": 0.12}],
    ...     histories=[{"epoch": [0, 1], "val_loss": [0.5, 0.4]},
    ...                {"epoch": [0, 1], "val_loss": [0.6, 0.3]}],
    ...     status=["ok", "ok"], best_epoch=[1, 1], params=[None, None], model_state=[None, None],
    ...     trainers=[None, None], hp=[{"learning_rate": 0.1}, {"learning_rate": 0.12}],
    ...     seeds=[0, 0], epochs=[2, 2], stopper=EarlyStopping(),
    ...     parents=[[0, 0]],  # after interval 0, member 1 took member 0's state
    ...     schedules_by_slot=[[{"learning_rate": 0.1}, {"learning_rate": 0.2}],
    ...                        [{"learning_rate": 0.1}, {"learning_rate": 0.12}]],
    ...     interval=1, searched=("learning_rate",))
    >>> path = os.path.join(tempfile.mkdtemp(), "schedules.png")
    >>> plot_schedules(res, path)
    >>> os.path.getsize(path) > 0
    True
    """
    names = list(results.searched)
    fig, flat = plots.figure(len(names), height=3.6)
    top = results.best()
    best = top["config"]
    n_epochs = max(results.epochs)
    others = [j for j in range(len(results.configs)) if j != best]
    spans = []
    for ax, name in zip(flat, names):
        beta = name in ("b1", "b2", "beta", "bn_momentum")
        for j in others + [best]:
            values = [h[name] for h in results.schedule(j)]
            steps = np.repeat(values, results.interval)[:n_epochs]
            ys = 1.0 - steps if beta else steps
            label = "others (a colour each)" if j == others[0] else None
            style = {"color": "black", "lw": 2.2, "label": f"best by {results.monitor} (member "
                                                            f"{best})"} if j == best \
                else {"alpha": 0.45, "lw": 1, "label": label}  # fmt: skip
            ax.step(np.arange(n_epochs), ys, where="post", **style)
        span = f"{min(values):.3g} to {max(values):.3g}"  # values: the best's, drawn last
        spans.append(f"{name} {span}")
        if name in ("learning_rate", "l2", "weight_decay", "eps") or beta:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"1 - {name}" if beta else name)
        ax.set_title(f"{name} schedules; the best's: {span}", fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small",
               frameon=False)
    shown = [results.monitor, *(k for k in ("val_loss", "val_accuracy") if k != results.monitor)]
    score = ", ".join(f"{k} {top[k]:.3f}" for k in shown if k in top)
    plots.suptitle(fig, f"PBT, {len(results.configs)} members over {n_epochs} epochs: the best "
                   f"by {results.monitor} (member {best}) reaches {score} at epoch "
                   f"{top['best_epoch']}; its schedule spans {'; '.join(spans)}")
    plots.save(fig, path)
