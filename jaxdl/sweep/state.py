"""Durable sweeps: the whole state of a sweep on disk after every compiled chunk of epochs.

A sweep given ``checkpoint_dir`` keeps two files there:

    sweep-state.npz   every bucket's member state (parameters, optimizer and batch-norm state,
                      best parameters, early-stopping state), its members, hyperparameters and
                      epoch, the histories, statuses and budgets, the results of members no
                      longer trained, and a fingerprint of the setup; rewritten atomically
                      (:func:`jaxdl.infra.atomic.atomic_write`) after every chunk
    metrics.jsonl     one JSON line per member and epoch (as :class:`jaxdl.logs.JsonlLogger`
                      writes them: ``{"epoch", "member", values...}``), appended per chunk
                      (before the state file, which records the log's length; a resume cuts
                      anything after it)

The sweep owns the directory while it runs (:mod:`jaxdl.infra.dirlock`, as a checkpoint directory):
a second process is refused with the owner's PID. A SIGKILL at any moment therefore loses at
most one chunk. ``resume=True`` rebuilds the sweep
from the file and continues; since every epoch depends only on the state, the seed and the
epoch number, the final table equals an uninterrupted run bit for bit. A resumed directory must
come from the same setup: the trainer, configs (space, seed, n), data, budgets and early
stopping are compared with the fingerprint before anything compiles. SIGINT (Ctrl-C) stops after
the current chunk, saves, writes the table so far (``sweep.csv``) and raises
:class:`SweepInterrupted`, whose message says how to resume.

The directory and its files are :mod:`jaxdl.sweep.journal`'s, Ctrl-C is
:mod:`jaxdl.sweep.interruption`'s; this module snapshots the engine's buckets
(:func:`save_sweep`) and rebuilds them (:func:`restore_sweep`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from jaxdl.sweep.interruption import SweepInterrupted as SweepInterrupted
from jaxdl.sweep.interruption import interrupted_in as interrupted_in
from jaxdl.sweep.interruption import interrupts as interrupts
from jaxdl.sweep.interruption import resume_hint as resume_hint
from jaxdl.sweep.journal import FORMAT as FORMAT
from jaxdl.sweep.journal import METRICS_FILE as METRICS_FILE
from jaxdl.sweep.journal import STATE_FILE as STATE_FILE
from jaxdl.sweep.journal import TABLE_FILE as TABLE_FILE
from jaxdl.sweep.journal import Journal, host_leaves
from jaxdl.sweep.journal import digest as digest
from jaxdl.sweep.journal import metric_lines as metric_lines
from jaxdl.sweep.journal import open_journal as open_journal

__all__ = ["open_journal", "restore_sweep", "save_sweep"]


def save_sweep(
    journal: Journal,
    *,
    rung: int,
    finished: bool,
    original: Sequence[Any],
    buckets: Sequence[Any],
    history: Any,
    outcome: Mapping[int, Mapping[str, Any]],
    budget: Sequence[int],
    fetch: Callable[[Any], Any],
) -> None:
    """Snapshot the sweep: the buckets still trained (``original`` gives each its number), the
    histories, and the results of members no longer in any bucket. ``fetch(bucket)`` returns
    the bucket's state on the host without padding.

    Args:
      journal: the sweep's journal.
      rung: the successive-halving rung reached (0 for a plain sweep).
      finished: whether the sweep has ended.
      original: every bucket of the sweep, its position the bucket's number.
      buckets: the buckets still trained (``ids``, ``seeds``, ``epoch``, ``size``, ``hp`` and
        ``state``, ``None`` before the first chunk).
      history: the histories (``lists``) and statuses (``status``) of every member.
      outcome: ``{member: {"best", "best_epoch", "params", "model_state"}}`` of finished ones.
      budget: each member's epoch budget.
      fetch: ``fetch(bucket)``: the bucket's state on the host.

    >>> import numpy as np
    >>> from jaxdl.sweep.journal import Journal
    >>> from jaxdl.sweep.state import save_sweep
    >>> import os, tempfile
    >>> from types import SimpleNamespace
    >>> def bucket():  # the engine's record of a bucket of two members not started yet
    ...     return SimpleNamespace(ids=np.array([0, 1]), seeds=[0, 0], epoch=0, size=2,
    ...                            state=None, hp={"learning_rate": np.array([0.1, 0.2])})
    >>> history = SimpleNamespace(lists=[{"epoch": []}, {"epoch": []}], status=["ok", "ok"])
    >>> journal = Journal(tempfile.mkdtemp(), {"seed": "0"}, resume=False)
    >>> saved = bucket()
    >>> save_sweep(journal, rung=0, finished=False, original=[saved], buckets=[saved],
    ...            history=history, outcome={}, budget=[4, 4], fetch=lambda b: b.state)
    >>> journal.close()
    >>> sorted(name for name in os.listdir(journal.directory) if not name.startswith("."))
    ['sweep-state.npz']
    """
    arrays: dict[str, np.ndarray] = {}
    entries, trained = [], set()
    for bucket in buckets:
        k = next(k for k, b in enumerate(original) if b is bucket)
        trained.update(bucket.ids.tolist())
        entries.append(
            {
                "index": k,
                "ids": bucket.ids.tolist(),
                "seeds": list(bucket.seeds),
                "epoch": bucket.epoch,
                "size": bucket.size,
                "started": bucket.state is not None,
            }
        )
        arrays.update({f"hp{k}/{name}": np.asarray(v) for name, v in bucket.hp.items()})
        if bucket.state is not None:
            signature = (tuple(bucket.ids.tolist()), bucket.epoch)
            arrays.update(journal.bucket_arrays(k, signature, functools.partial(fetch, bucket)))
    results = {}
    for i, result in outcome.items():
        if i in trained:
            continue
        results[str(i)] = {"best": result["best"], "best_epoch": result["best_epoch"]}
        leaves = host_leaves((result["params"], result["model_state"]))
        arrays.update({f"outcome{i}/{j}": a for j, a in enumerate(leaves)})
    meta = {
        "rung": rung,
        "finished": finished,
        "buckets": entries,
        "history": history.lists,
        "status": history.status,
        "budget": list(budget),
        "outcome": results,
    }
    journal.save(meta, arrays)


def restore_sweep(
    journal: Journal,
    *,
    original: Sequence[Any],
    history: Any,
    outcome: dict[int, dict[str, Any]],
    budget: list[int],
    template: Callable[[Any], Any],
    place: Callable[[Any, Any], None],
) -> tuple[int, list[Any]]:
    """Rebuild the saved position: returns ``(rung, buckets)`` and fills ``history``,
    ``outcome`` and ``budget``. ``template(bucket)`` gives the structure of a bucket's state,
    ``place(bucket, host_state)`` puts a restored state (or ``None``) on the devices.

    Args:
      journal: a journal opened with ``resume=True`` on a saved sweep.
      original: the rebuilt buckets of the same setup, in the saved order.
      history: filled with the saved ``lists`` and ``status``.
      outcome: filled with the saved results of finished members.
      budget: overwritten with the saved epoch budgets.
      template: ``template(bucket)``: a pytree of the structure of the bucket's state.
      place: ``place(bucket, host_state)``: put a restored state on the devices.

    Returns:
      ``(rung, buckets)``: the saved rung and the buckets still trained.

    Raises:
      ValueError: when ``journal`` resumed no saved sweep.

    >>> import numpy as np
    >>> from jaxdl.sweep.journal import Journal
    >>> from jaxdl.sweep.state import save_sweep, restore_sweep
    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> def bucket():  # the engine's record of a bucket of two members not started yet
    ...     return SimpleNamespace(ids=np.array([0, 1]), seeds=[0, 0], epoch=0, size=2,
    ...                            state=None, hp={"learning_rate": np.array([0.1, 0.2])})
    >>> history = SimpleNamespace(lists=[{"epoch": []}, {"epoch": []}], status=["ok", "ok"])
    >>> journal = Journal(tempfile.mkdtemp(), {"seed": "0"}, resume=False)
    >>> saved = bucket()
    >>> save_sweep(journal, rung=0, finished=False, original=[saved], buckets=[saved],
    ...            history=history, outcome={}, budget=[4, 4], fetch=lambda b: b.state)
    >>> journal.close()
    >>> resumed = Journal(journal.directory, {"seed": "0"}, resume=True)
    >>> budget, fresh = [0, 0], bucket()
    >>> rung, buckets = restore_sweep(resumed, original=[fresh], history=history, outcome={},
    ...                               budget=budget, template=lambda b: None,
    ...                               place=lambda b, host: None)
    >>> rung, budget, buckets[0] is fresh, fresh.hp["learning_rate"].tolist()
    (0, [4, 4], True, [0.1, 0.2])
    >>> resumed.close()
    """
    meta = journal.saved_meta()
    owner = {int(i): b for b in original for i in b.ids.tolist()}
    buckets = []
    for entry in meta["buckets"]:
        k = entry["index"]
        bucket = original[k]
        host = journal.tree(f"bucket{k}", template(bucket)) if entry["started"] else None
        bucket.ids = np.asarray(entry["ids"], np.int64)
        bucket.seeds = list(entry["seeds"])
        bucket.hp = {name: journal.arrays[f"hp{k}/{name}"] for name in bucket.hp}
        bucket.epoch, bucket.size = entry["epoch"], entry["size"]
        place(bucket, host)
        if host is not None:
            signature = (tuple(entry["ids"]), entry["epoch"])
            names = [n for n in journal.arrays if n.startswith(f"bucket{k}/")]
            journal.cache[k] = (signature, {n: journal.arrays[n] for n in names})
        buckets.append(bucket)
    for key, result in meta["outcome"].items():
        i = int(key)
        params, model_state = journal.tree(f"outcome{i}", template(owner[i]).best)
        outcome[i] = {**result, "params": params, "model_state": model_state}
    history.lists = meta["history"]
    history.status = meta["status"]
    budget[:] = meta["budget"]
    return meta["rung"], buckets
