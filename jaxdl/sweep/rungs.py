"""The rungs of a sweep: the budgets of a successive halving and the members an external
pruner stops between compiled chunks (the drivers are in :mod:`jaxdl.sweep.engine`)."""

from __future__ import annotations

import numpy as np
from jax.sharding import Mesh

from jaxdl.checks import check_positive_int
from jaxdl.sweep import sharding
from jaxdl.sweep.buckets import Bucket
from jaxdl.sweep.options import Prune
from jaxdl.sweep.recording import History

__all__ = ["halving_rungs", "prune_members"]


def halving_rungs(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """The total epochs after each rung of a successive halving: ``min_epochs * eta**k``, capped
    at ``max_epochs`` (checked: ``eta >= 2``, ``1 <= min_epochs <= max_epochs``).

    >>> from jaxdl.sweep.rungs import halving_rungs
    >>> halving_rungs(1, 20, 3)
    [1, 3, 9, 20]
    """
    check_positive_int("eta", eta, minimum=2)
    check_positive_int("min_epochs", min_epochs)
    check_positive_int("max_epochs", max_epochs)
    if min_epochs > max_epochs:
        raise ValueError(f"min_epochs ({min_epochs}) must be <= max_epochs ({max_epochs})")
    rungs = [min_epochs]
    while rungs[-1] < max_epochs:
        rungs.append(min(rungs[-1] * eta, max_epochs))
    return rungs


def prune_members(
    bucket: Bucket,
    record: dict[str, np.ndarray],
    prune: Prune,
    history: History,
    mesh: Mesh,
    cut: set[int],
    budget: list[int],
) -> None:
    """Ask ``prune`` about the bucket's live members after a chunk (their histories so far, by
    config index) and freeze those it names: ``done`` set on the devices and in ``record``,
    status ``pruned``, budget the epochs they ran (``cut`` gains them).

    Args:
      bucket: the bucket after a compiled chunk.
      record: the chunk's per-epoch record (its last ``done`` row is updated).
      prune: the user's function ``{config index: history} -> indices to stop``.
      history: the sweep's host history (statuses are set here).
      mesh: the device mesh of the config axis.
      cut: the indices stopped so far by ``prune``.
      budget: each config's epochs, set to the epochs a pruned member ran.

    Raises:
      ValueError: when ``prune`` names a member that is not live.
    """
    rows = bucket.ids[bucket.padding(mesh)]  # the config index of each device row
    done = record["done"][-1].tolist()
    live = {i: history.lists[i] for i, d in zip(rows.tolist(), done) if not d}
    if not live:
        return
    stop = {int(i) for i in prune(live)}
    if not stop <= set(live):
        raise ValueError(f"prune named members {sorted(stop - set(live))} that are not live")
    if not stop:
        return
    mask = np.isin(rows, sorted(stop))
    assert bucket.state is not None, "a bucket is pruned after a chunk of training"
    flags = np.asarray(sharding.fetch(bucket.state.done, mesh)) | mask
    bucket.state = bucket.state._replace(done=sharding.put(flags, sharding.members(mesh)))
    record["done"] = record["done"].copy()  # the caller's view: compaction, end of training
    record["done"][-1] |= mask
    for i in stop:
        history.status[i] = "pruned"
        cut.add(i)
        budget[i] = bucket.epoch
