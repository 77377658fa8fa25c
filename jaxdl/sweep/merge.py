"""Results of a strategy that runs several sweeps (Hyperband brackets, TPE rounds) as one table.

:class:`GroupedResults` is a :class:`~jaxdl.sweep.results.SweepResults` whose configs come from
several sweeps, in order; ``groups[i]`` names the sweep of config ``i`` (e.g. ``"bracket 2"``),
shown in the table's ``group`` column. Ranking, files and ``retrain`` work as for one sweep.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from jaxdl.sweep.results import SweepResults

FIELDS = ("configs", "histories", "status", "best_epoch", "params", "model_state", "trainers",
          "hp", "seeds", "epochs")  # fmt: skip


@dataclasses.dataclass
class GroupedResults(SweepResults):
    """Several sweeps' results as one; ``groups[i]`` labels config ``i``.

    >>> from jaxdl.sweep.merge import merge
    >>> from jaxdl import EarlyStopping
    >>> from jaxdl.sweep.results import SweepResults
    >>> def one(loss):  # the results of a one-config sweep that ran one epoch
    ...     return SweepResults([{"learning_rate": 0.1}], [{"epoch": [0], "val_loss": [loss]}],
    ...                         ["ok"], [0], [None], [None], [None], [{}], [0], [1],
    ...                         EarlyStopping())
    >>> grouped = merge([one(0.5), one(0.3)], ["round 0", "round 1"])
    >>> grouped.columns()[:2], grouped.epochs_trained
    (['group', 'config'], 2)
    """

    groups: list[str] = dataclasses.field(default_factory=list)

    def row(self, i: int) -> dict[str, Any]:
        """The table row of config ``i``, with its ``group``."""
        return {"group": self.groups[i], **super().row(i)}

    def columns(self) -> list[str]:
        """``group`` first, then the columns of one sweep."""
        return ["group", *super().columns()]

    @property
    def epochs_trained(self) -> int:
        """Epochs trained over all configs (the search's budget)."""
        return sum(len(h["epoch"]) for h in self.histories)


def merge(parts: Sequence[SweepResults], labels: Sequence[str]) -> GroupedResults:
    """One :class:`GroupedResults` from sweeps with the same early stopping, in order.

    Args:
      parts: the sweeps' results; config ``i`` of the merged table is the ``i``-th config of
        their concatenation.
      labels: one group name per part (e.g. ``"bracket 0"``).

    Returns:
      The merged results, ranked as one sweep, with each config's group.

    Raises:
      ValueError: without parts, or for parts with different early stopping.

    >>> from jaxdl.sweep.merge import merge
    >>> from jaxdl import EarlyStopping
    >>> from jaxdl.sweep.results import SweepResults
    >>> def one(loss):  # the results of a one-config sweep that ran one epoch
    ...     return SweepResults([{"learning_rate": 0.1}], [{"epoch": [0], "val_loss": [loss]}],
    ...                         ["ok"], [0], [None], [None], [None], [{}], [0], [1],
    ...                         EarlyStopping())
    >>> merged = merge([one(0.5), one(0.3)], ["round 0", "round 1"])
    >>> [(row["group"], row["config"], row["val_loss"]) for row in merged.table]
    [('round 1', 1, 0.3), ('round 0', 0, 0.5)]
    """
    if not parts:
        raise ValueError("merge needs at least one sweep's results")
    stoppers = {p.stopper for p in parts}
    if len(stoppers) != 1:
        raise ValueError("merged sweeps must share one early-stopping setup (monitor, mode)")
    fields = {name: [v for p in parts for v in getattr(p, name)] for name in FIELDS}
    groups = [label for p, label in zip(parts, labels, strict=True) for _ in p.configs]
    return GroupedResults(**fields, stopper=parts[0].stopper, groups=groups)
