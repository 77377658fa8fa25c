"""The sweep directory: its files, one owner at a time, the fingerprint of its setup, the
metrics log.

    sweep-state.npz   the snapshot of the sweep (what :mod:`jaxdl.sweep.state` saves), with the
                      fingerprint and the metrics log's length; rewritten atomically
                      (:func:`jaxdl.infra.atomic.atomic_write`) after every chunk
    metrics.jsonl     one JSON line per member and epoch (as :class:`jaxdl.logs.JsonlLogger`
                      writes them: ``{"epoch", "member", values...}``), appended per chunk
                      before the snapshot; a resume cuts anything after the recorded length
                      (a log found shorter, e.g. emptied by hand, is kept as it is, with a
                      warning: it is never padded)
    sweep.csv         the table so far, written when a sweep is interrupted

A :class:`Journal` owns its directory while it is open (:mod:`jaxdl.infra.dirlock`, as a checkpoint
directory): a second process is refused with the owner's PID. Resuming compares the saved
fingerprint (:func:`digest` of each part of the setup) with the new one before anything
compiles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.checkpoint import CheckpointError
from jaxdl.infra import dirlock
from jaxdl.infra.atomic import atomic_write, open_nofollow
from jaxdl.sweep.interruption import resume_hint

__all__ = [
    "STATE_FILE",
    "METRICS_FILE",
    "TABLE_FILE",
    "FORMAT",
    "digest",
    "Journal",
    "open_journal",
    "metric_lines",
]

STATE_FILE = "sweep-state.npz"
METRICS_FILE = "metrics.jsonl"
TABLE_FILE = "sweep.csv"
FORMAT = 1


def digest(value: Any) -> str:
    """A short hash of ``value``: arrays by dtype, shape and bytes, anything else by ``repr``
    without memory addresses (a user's function has another one in every process).

    Args:
      value: an array, any object, or a tuple/list of them (hashed part by part).

    Returns:
      16 hex digits.

    >>> import numpy as np
    >>> from jaxdl.sweep.journal import digest
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


def host_leaves(tree: Any) -> list[np.ndarray]:
    """The leaves of ``tree`` as host numpy arrays, in ``jax.tree.leaves`` order."""
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

    >>> import numpy as np
    >>> from jaxdl.sweep.journal import Journal, digest
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
    jaxdl.checkpoint.file_format.CheckpointError: cannot resume ... with a different seed; ...
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
        if os.path.lexists(self.metrics_path) or saved:
            fd = open_nofollow(self.metrics_path, "r+", what="sweep metrics log")
            with os.fdopen(fd, "r+b") as f:
                size = os.fstat(fd).st_size
                if size >= saved:
                    f.truncate(saved)  # the lines of chunks the snapshot does not hold
                else:  # never pad with NUL bytes: keep what is there
                    warnings.warn(
                        f"{self.metrics_path} has {size} bytes, fewer than the {saved} the "
                        "saved sweep wrote (emptied or cut by hand?); its lost lines stay lost, "
                        "the resumed sweep appends after what is left", stacklevel=3)

    def close(self) -> None:
        """Release the directory's lock (:mod:`jaxdl.infra.dirlock`); the files stay."""
        dirlock.release(self._lock)
        self._lock = None

    def __del__(self) -> None:
        if getattr(self, "_lock", None) is not None:  # also when __init__ failed early
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
        fd = open_nofollow(self.metrics_path, "a", what="sweep metrics log")
        with os.fdopen(fd, "a") as f:
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
            leaves = host_leaves(fetch())
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

    >>> from jaxdl.sweep.journal import open_journal
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

    >>> import numpy as np
    >>> from jaxdl.sweep.journal import metric_lines
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

