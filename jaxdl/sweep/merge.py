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
    """Several sweeps' results as one; ``groups[i]`` labels config ``i``."""

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
    """One :class:`GroupedResults` from sweeps with the same early stopping, in order."""
    if not parts:
        raise ValueError("merge needs at least one sweep's results")
    stoppers = {p.stopper for p in parts}
    if len(stoppers) != 1:
        raise ValueError("merged sweeps must share one early-stopping setup (monitor, mode)")
    fields = {name: [v for p in parts for v in getattr(p, name)] for name in FIELDS}
    groups = [label for p, label in zip(parts, labels, strict=True) for _ in p.configs]
    return GroupedResults(**fields, stopper=parts[0].stopper, groups=groups)
