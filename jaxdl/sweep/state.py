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
    trained yet have no parameters) and ``directory`` the sweep directory to resume from."""

    def __init__(self, message: str, results: Any, directory: str) -> None:
        super().__init__(message)
        self.results, self.directory = results, directory


def digest(value: Any) -> str:
    """A short hash of ``value``: arrays by dtype, shape and bytes, anything else by ``repr``
    without memory addresses (a user's function has another one in every process)."""
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
        treedef = jax.tree.structure(template)
        return jax.tree.unflatten(
            treedef, [self.arrays[f"{name}/{i}"] for i in range(treedef.num_leaves)]
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
        atomic_write(self.path, lambda f: np.savez(f, **payload), mode="wb")

    def resume_hint(self) -> str:
        return resume_hint(self.directory)


def resume_hint(directory: str | os.PathLike) -> str:
    """How to continue the sweep in ``directory``."""
    directory = os.fspath(directory)
    return (
        f"resume with the same call and checkpoint_dir={directory!r}, resume=True "
        f"(CLI: --checkpoint-dir {directory} --resume)"
    )


def interrupted_in(part: str, directory: Any, stop: SweepInterrupted) -> SweepInterrupted:
    """The interruption of one sweep of a strategy (a bracket, a round), pointing at the
    strategy's own ``directory``."""
    message = f"search interrupted in {part}; {resume_hint(directory)}"
    return SweepInterrupted(message, stop.results, os.fspath(directory))


def open_journal(
    checkpoint_dir: str | os.PathLike | None, resume: bool, parts: Mapping[str, str]
) -> Journal | None:
    """A :class:`Journal`, or ``None`` without ``checkpoint_dir`` (then ``resume`` must be
    false)."""
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
    a second SIGINT interrupts at once. On exit the journal's directory is released."""
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
    """The metrics-log lines of one chunk: a line per live member and epoch, with ``keys``."""
    lines = []
    for step in range(record["live"].shape[0]):
        for j, i in enumerate(ids):
            if record["live"][step, j]:
                line = {"epoch": start + step, "member": int(i)}
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
    the bucket's state on the host without padding."""
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
            arrays.update(journal.bucket_arrays(k, signature, lambda b=bucket: fetch(b)))
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
    ``place(bucket, host_state)`` puts a restored state (or ``None``) on the devices."""
    meta = journal.meta
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
