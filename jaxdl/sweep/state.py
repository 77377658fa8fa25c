"""Durable sweeps: the whole state of a sweep on disk after every compiled chunk of epochs.

A sweep given ``checkpoint_dir`` keeps two files there:

    sweep-state.npz   every bucket's member state (parameters, optimizer and batch-norm state,
                      best parameters, early-stopping state), its members, hyperparameters and
                      epoch, the histories, statuses and budgets, the results of members no
                      longer trained, and a fingerprint of the setup; rewritten atomically
                      (:func:`jaxdl.atomic.atomic_write`) after every chunk
    metrics.jsonl     one JSON line per member and epoch (as :class:`jaxdl.logs.JsonlLogger`
                      writes them: ``{"epoch", "member", values...}``), appended per chunk
                      (before the state file, which records the log's length; a resume cuts
                      anything after it)

The sweep owns the directory while it runs (:mod:`jaxdl.dirlock`, as a checkpoint directory):
a second process is refused with the owner's PID. A SIGKILL at any moment therefore loses at
most one chunk. ``resume=True`` rebuilds the sweep
from the file and continues; since every epoch depends only on the state, the seed and the
epoch number, the final table equals an uninterrupted run bit for bit. A resumed directory must
come from the same setup: the trainer, configs (space, seed, n), data, budgets and early
stopping are compared with the fingerprint before anything compiles. SIGINT (Ctrl-C) stops after
the current chunk, saves, writes the table so far (``sweep.csv``) and raises
:class:`SweepInterrupted`, whose message says how to resume.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import signal
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl import dirlock
from jaxdl.atomic import atomic_write
from jaxdl.checkpoint import CheckpointError

STATE_FILE = "sweep-state.npz"
METRICS_FILE = "metrics.jsonl"
TABLE_FILE = "sweep.csv"
FORMAT = 1


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT stopped a sweep after a chunk; ``results`` holds the table so far (members not
    trained yet have no parameters) and ``directory`` the sweep directory to resume from.

    Args:
      message: what was interrupted and how to resume.
      results: the results so far (``None`` when there is no table yet).
      directory: the sweep directory to resume from.

    >>> stop = SweepInterrupted("sweep interrupted", None, "runs/sweep")
    >>> isinstance(stop, KeyboardInterrupt), stop.directory
    (True, 'runs/sweep')
    """

    def __init__(self, message: str, results: Any, directory: str) -> None:
        super().__init__(message)
        self.results, self.directory = results, directory


def digest(value: Any) -> str:
    """A short hash of ``value``: arrays by dtype, shape and bytes, anything else by ``repr``
    without memory addresses (a user's function has another one in every process).

    Args:
      value: an array, any object, or a tuple/list of them (hashed part by part).

    Returns:
      16 hex digits.

    >>> digest(np.zeros(3)) == digest(np.zeros(3)) != digest(np.zeros(3, np.float32))
    True
    >>> digest((np.ones(2), "relu")) == digest((np.ones(2), "relu")) != digest((np.ones(2), "tanh"))
    True
    >>> len(digest("anything"))
    16
    """
    h = hashlib.sha256()
    for part in value if isinstance(value, tuple | list) else [value]:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(re.sub(r" at 0x[0-9a-fA-F]+", "", repr(part)).encode())
    return h.hexdigest()[:16]


def _flat(tree: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"sweep state {path} is truncated or corrupt ({err}); start a fresh checkpoint_dir"
        ) from err
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"sweep state {path} has an unknown format {meta.get('format')!r}")
    return meta, arrays


class Journal:
    """The sweep directory: fingerprint check on open, snapshots, the metrics log.

    ``parts`` maps what defines the sweep (``trainer``, ``configs``, ``data``, ...) to a
    :func:`digest`; resuming a directory whose parts differ raises
    :class:`~jaxdl.checkpoint.CheckpointError` naming them.

    Args:
      directory: the sweep directory (created).
      parts: the fingerprint, ``{part: digest}``.
      resume: continue the sweep saved there; without it an existing one is an error.

    Raises:
      ValueError: for a directory that holds a sweep while ``resume`` is false.
      CheckpointError: when resuming a sweep of another setup, or a damaged state file.

    >>> import tempfile
    >>> journal = Journal(tempfile.mkdtemp(), {"seed": digest(0)}, resume=False)
    >>> journal.append([{"epoch": 0, "member": 0, "loss": 0.5}])
    >>> journal.save({"rung": 0}, {"w": np.ones(2)})
    >>> journal.close()  # release the directory
    >>> resumed = Journal(journal.directory, {"seed": digest(0)}, resume=True)
    >>> resumed.saved_meta()["rung"], resumed.arrays["w"]
    (0, array([1., 1.]))
    >>> resumed.close()
    >>> Journal(journal.directory, {"seed": digest(1)}, resume=True)
    Traceback (most recent call last):
    jaxdl.checkpoint.CheckpointError: cannot resume ... a sweep with a different seed; ...
    """

    def __init__(self, directory: str | os.PathLike, parts: Mapping[str, str], resume: bool):
        if not isinstance(resume, bool):
            raise TypeError(f"resume must be True or False, got {resume!r}")
        self._lock: int | None = None
        self.directory = os.fspath(directory)
        self.parts = dict(parts)
        self.path = os.path.join(self.directory, STATE_FILE)
        self.metrics_path = os.path.join(self.directory, METRICS_FILE)
        self.meta: dict[str, Any] | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self.cache: dict[int, tuple[tuple, dict[str, np.ndarray]]] = {}
        self.stop_requested = False
        os.makedirs(self.directory, exist_ok=True)
        try:
            self._lock = dirlock.acquire(self.directory, "checkpoint_dir")
        except dirlock.DirectoryInUse as err:
            raise CheckpointError(str(err)) from None
        try:
            self._open(resume)
        except BaseException:
            self.close()
            raise

    def _open(self, resume: bool) -> None:
        if os.path.exists(self.path):
            if not resume:
                raise ValueError(
                    f"checkpoint_dir {self.directory!r} already holds a sweep; pass resume=True "
                    "(CLI: --resume) to continue it, or choose a fresh directory"
                )
            meta, arrays = _read(self.path)
            differ = [k for k in self.parts if meta["fingerprint"].get(k) != self.parts[k]]
            if differ:
                raise CheckpointError(
                    f"cannot resume {self.path}: it was written by a sweep with a different "
                    f"{', '.join(differ)}; resume with the same space, seed, data and settings, "
                    "or start a fresh checkpoint_dir"
                )
            self.meta, self.arrays = meta, arrays
        saved = 0 if self.meta is None else self.meta["metrics_bytes"]
        if os.path.exists(self.metrics_path) or saved:
            with open(self.metrics_path, "a+b") as f:
                f.truncate(saved)

    def close(self) -> None:
        """Release the directory's lock (:mod:`jaxdl.dirlock`); the files stay."""
        dirlock.release(self._lock)
        self._lock = None

    def __del__(self) -> None:
        self.close()

    # -- restore ------------------------------------------------------------------------------
    def tree(self, name: str, template: Any) -> Any:
        """The saved leaves ``name/0``, ``name/1``, ... in the structure of ``template``."""
        leaves, treedef = jax.tree.flatten(template)
        return jax.tree.unflatten(
            treedef, [self.arrays[f"{name}/{i}"] for i in range(len(leaves))]
        )

    # -- save ---------------------------------------------------------------------------------
    def append(self, lines: Sequence[Mapping[str, Any]]) -> None:
        """Append JSON lines to the metrics log (flushed and synced)."""
        if not lines:
            return
        text = "".join(json.dumps(line) + "\n" for line in lines)
        with open(self.metrics_path, "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def saved_meta(self) -> dict[str, Any]:
        """The meta of the snapshot this journal resumed from.

        Raises:
          ValueError: when the directory held no saved sweep (a fresh run).
        """
        if self.meta is None:
            raise ValueError(
                f"{self.path} held no saved sweep when it was opened: nothing to restore"
            )
        return self.meta

    def bucket_arrays(self, k: int, signature: tuple, fetch: Callable[[], Any]) -> dict:
        """Host leaves of bucket ``k``'s state, fetched again only when ``signature`` (its
        members and epoch) changed since the last snapshot."""
        cached = self.cache.get(k)
        if cached is None or cached[0] != signature:
            leaves = _flat(fetch())
            cached = (signature, {f"bucket{k}/{i}": a for i, a in enumerate(leaves)})
            self.cache[k] = cached
        return cached[1]

    def save(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Write the snapshot atomically, with the fingerprint and the metrics log's length."""
        size = os.path.getsize(self.metrics_path) if os.path.exists(self.metrics_path) else 0
        meta = {**meta, "format": FORMAT, "fingerprint": self.parts, "metrics_bytes": size}
        payload = dict(arrays)
        payload["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        atomic_write(self.path, lambda f: np.savez(f, allow_pickle=False, **payload), mode="wb")

    def resume_hint(self) -> str:
        return resume_hint(self.directory)


def resume_hint(directory: str | os.PathLike) -> str:
    """How to continue the sweep in ``directory``.

    Args:
      directory: the sweep directory.

    Returns:
      A sentence for the Python call and the CLI.

    >>> print(resume_hint("runs/sweep"))
    resume with the same call and checkpoint_dir='runs/sweep', resume=True
    (CLI: --checkpoint-dir runs/sweep --resume)
    """
    directory = os.fspath(directory)
    return (
        f"resume with the same call and checkpoint_dir={directory!r}, resume=True "
        f"(CLI: --checkpoint-dir {directory} --resume)"
    )


def interrupted_in(part: str, directory: Any, stop: SweepInterrupted) -> SweepInterrupted:
    """The interruption of one sweep of a strategy (a bracket, a round), pointing at the
    strategy's own ``directory``.

    Args:
      part: the interrupted sweep, e.g. ``"round 2"``.
      directory: the strategy's directory (the one to resume with).
      stop: the interruption of that sweep.

    Returns:
      A :class:`SweepInterrupted` with ``stop``'s results and ``directory``.

    >>> stop = SweepInterrupted("sweep interrupted", None, "runs/tpe/round-2")
    >>> interrupted_in("round 2", "runs/tpe", stop).directory
    'runs/tpe'
    """
    message = f"search interrupted in {part}; {resume_hint(directory)}"
    return SweepInterrupted(message, stop.results, os.fspath(directory))


def open_journal(
    checkpoint_dir: str | os.PathLike | None, resume: bool, parts: Mapping[str, str]
) -> Journal | None:
    """A :class:`Journal`, or ``None`` without ``checkpoint_dir`` (then ``resume`` must be
    false).

    Args:
      checkpoint_dir: the sweep directory, or ``None`` for a sweep kept in memory only.
      resume: continue the sweep saved there.
      parts: the fingerprint, ``{part: digest}``.

    Returns:
      The journal, or ``None``.

    Raises:
      ValueError: for ``resume`` without ``checkpoint_dir``.
      TypeError: for a ``checkpoint_dir`` that is not a path.

    >>> open_journal(None, False, {}) is None
    True
    >>> open_journal(None, True, {})
    Traceback (most recent call last):
    ValueError: resume=True needs checkpoint_dir, the sweep directory to resume
    """
    if checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir, the sweep directory to resume")
        return None
    if not isinstance(checkpoint_dir, str | os.PathLike):
        raise TypeError(f"checkpoint_dir must be a path, got {checkpoint_dir!r}")
    return Journal(checkpoint_dir, parts, resume)


@contextlib.contextmanager
def interrupts(journal: Journal | None) -> Iterator[None]:
    """While active (main thread, with a journal), SIGINT only sets ``journal.stop_requested``;
    a second SIGINT interrupts at once. On exit the journal's directory is released.

    Args:
      journal: the sweep's journal (``None``: Ctrl-C keeps its usual meaning).

    Returns:
      A context manager; on exit the previous SIGINT handler is back and ``journal`` closed.

    >>> import signal, tempfile
    >>> before = signal.getsignal(signal.SIGINT)
    >>> journal = Journal(tempfile.mkdtemp(), {}, resume=False)
    >>> with interrupts(journal):
    ...     pass  # train chunk by chunk, saving and stopping once journal.stop_requested
    >>> journal.stop_requested, signal.getsignal(signal.SIGINT) is before
    (False, True)
    """
    if journal is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        try:
            yield
        finally:
            journal.close()
        return

    def handler(signum, frame):
        if journal.stop_requested:
            raise KeyboardInterrupt
        journal.stop_requested = True
        print(
            "interrupt: stopping after the current chunk of epochs (Ctrl-C again to abort)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        journal.close()


def metric_lines(
    ids: Sequence[int], start: int, record: Mapping[str, np.ndarray], keys: Sequence[str]
) -> list[dict]:
    """The metrics-log lines of one chunk: a line per live member and epoch, with ``keys``.

    Args:
      ids: the member index of each column.
      start: the epoch of the chunk's first row.
      record: per-epoch arrays ``(epochs, members)``: ``live`` and every name in ``keys``.
      keys: the values to log.

    Returns:
      ``{"epoch", "member", **values}`` dicts (non-finite values as ``None``).

    >>> record = {"live": np.array([[True, True], [True, False]]),
    ...           "loss": np.array([[0.5, np.nan], [0.25, 0.0]])}
    >>> metric_lines([3, 7], 10, record, ["loss"])
    [{'epoch': 10, 'member': 3, 'loss': 0.5}, {'epoch': 10, 'member': 7, 'loss': None},
     {'epoch': 11, 'member': 3, 'loss': 0.25}]
    """
    lines = []
    for step in range(record["live"].shape[0]):
        for j, i in enumerate(ids):
            if record["live"][step, j]:
                line: dict[str, Any] = {"epoch": start + step, "member": int(i)}
                line.update({k: _finite(record[k][step, j]) for k in keys})
                lines.append(line)
    return lines


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


# -- snapshots of the engine's state -------------------------------------------------------------
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
        leaves = _flat((result["params"], result["model_state"]))
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
