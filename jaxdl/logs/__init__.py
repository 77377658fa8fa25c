"""Watching training as it goes: a per-epoch metrics log and TensorBoard, behind one interface.

A *logger* has ``log_epoch(epoch, values, member=None)`` (called on the host after every epoch
of ``fit``, and of every live member of a sweep), ``log_hparams(member, hparams, metrics)``
(called once per sweep member at the end) and ``close()``.

- :class:`JsonlLogger` writes ``metrics.jsonl``: one JSON object per epoch and member, e.g.
  ``{"epoch": 3, "member": 0, "loss": 0.41, "val_loss": 0.45, "learning_rate": 0.01}``,
  flushed after every epoch, so a killed run keeps its curve. A resumed run continues the log
  (``append=True``): its first line cuts the file back to where that line stood, so the log of
  a run killed and resumed equals an uninterrupted run's line for line.
- :class:`TensorBoardLogger` writes TensorBoard event files (with tensorboardX, the optional
  extra ``jaxdl[tensorboard]``): each value as a scalar per epoch in two runs, ``train/`` and
  ``validation/`` (``val_loss`` is the tag ``loss`` of the ``validation`` run, so the two curves
  overlay, as Keras writes them), one folder per sweep member (``member-003/train``, ...), and
  each member's hyperparameters with its final metrics for the hparams plugin.
  :func:`read_scalars` reads the scalars of one run back.
- :class:`Loggers` sends every call to several loggers.

The TensorBoard writer and reader are :mod:`jaxdl.logs.tensorboard`'s; every name is importable
from ``jaxdl.logs``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from jaxdl.infra.atomic import open_nofollow
from jaxdl.logs import tensorboard as tensorboard
from jaxdl.logs.tensorboard import INSTALL_HINT as INSTALL_HINT
from jaxdl.logs.tensorboard import TensorBoardLogger as TensorBoardLogger
from jaxdl.logs.tensorboard import read_scalars as read_scalars
from jaxdl.logs.tensorboard import tensorboard_available as tensorboard_available


@runtime_checkable
class Logger(Protocol):
    """What ``fit`` and the sweeps call after every epoch (a structural protocol: any object
    with these three methods is a logger).

    >>> from jaxdl.logs import Logger, JsonlLogger
    >>> import os, tempfile
    >>> isinstance(JsonlLogger(os.path.join(tempfile.mkdtemp(), "m.jsonl")), Logger)
    True
    >>> isinstance(print, Logger)
    False
    """

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None: ...

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


def _number(value: Any) -> float | None:
    value = float(np.asarray(value))
    return value if math.isfinite(value) else None


class JsonlLogger:
    """Append one JSON line per epoch (and member) to ``path``, flushed each time.

    The file is opened without following a symlink (a ``metrics.jsonl`` that is a link is an
    error naming it; its target is never written).

    Args:
      path: the ``.jsonl`` file (its directory is created).
      append: continue the log of a resumed run: the first line logged cuts the file back to
        just before the line of the same epoch and member already there (the lines a killed
        run wrote past its checkpoint, and a torn last line), so no epoch appears twice.
        Default: start the file afresh.

    >>> from jaxdl.logs import JsonlLogger, read_jsonl
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> log = JsonlLogger(path)
    >>> for epoch in range(3):
    ...     log.log_epoch(epoch, {"loss": 1 / (epoch + 1)})
    >>> log.close()
    >>> log = JsonlLogger(path, append=True)  # resumed from the checkpoint of epoch 0
    >>> log.log_epoch(1, {"loss": 0.5})
    >>> log.close()
    >>> [r["epoch"] for r in read_jsonl(path)]
    [0, 1]
    """

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        fd = open_nofollow(self.path, "r+" if append else "w", what="metrics log")
        self._file: IO[str] | None = os.fdopen(fd, "r+" if append else "w", encoding="utf-8")
        self._continue = append

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """Write ``{"epoch", "member"?, **values}`` (non-finite values as ``null``)."""
        if self._file is None:
            raise ValueError(f"{self.path}: the log is closed")
        record: dict[str, Any] = {"epoch": int(epoch)}
        if member is not None:
            record["member"] = int(member)
        if self._continue:
            self._continue = False
            self._cut(record["epoch"], record.get("member"))
        record.update({k: _number(v) for k, v in values.items()})
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def _cut(self, epoch: int, member: int | None) -> None:
        """Truncate the file before its first line of ``(epoch, member)`` (or after its last
        complete line) and move to its end."""
        assert self._file is not None
        fd = self._file.fileno()
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        at = cut_offset(data, epoch, member)
        if at < len(data):
            os.ftruncate(fd, at)  # one call: the lines before stay as they were
            os.fsync(fd)
        self._file.seek(0, os.SEEK_END)

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """Nothing: the sweep's own table holds each member's hyperparameters."""

    def close(self) -> None:
        """Close the file (later calls raise)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def cut_offset(data: bytes, epoch: int, member: int | None) -> int:
    """Where a resumed run's log continues: the byte offset of the first line of ``(epoch,
    member)`` in ``data`` (a ``metrics.jsonl``), else the end of its last complete line.

    Args:
      data: the log's bytes.
      epoch: the first epoch the resumed run logs.
      member: its sweep member (``None`` for ``fit``).

    Returns:
      The length to keep.

    >>> from jaxdl.logs import cut_offset
    >>> log = b'{"epoch": 0}\\n{"epoch": 1}\\n{"epoch": 2}\\n{"epo'
    >>> cut_offset(log, 1, None), cut_offset(log, 5, None), len(log)
    (13, 39, 44)
    """
    at = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # a torn last line
        try:
            record = json.loads(line)
        except ValueError:
            break
        if isinstance(record, dict) and record.get("epoch") == epoch and \
                record.get("member") == member:
            break
        at += len(line)
    return at


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (a torn last line is skipped).

    Args:
      path: a file written by :class:`JsonlLogger`.

    Returns:
      One dict per line, up to the first line that is not complete JSON.

    >>> from jaxdl.logs import read_jsonl
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> _ = open(path, "w").write('{"epoch": 0, "loss": 0.5}\\n{"epoch": 1, "lo')  # torn
    >>> read_jsonl(path)
    [{'epoch': 0, 'loss': 0.5}]
    """
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


class Loggers:
    """Several loggers as one.

    Args:
      loggers: the loggers to call, in order (each checked by :func:`check_logger`).

    >>> from jaxdl.logs import Loggers, JsonlLogger, read_jsonl
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, name) for name in ("a.jsonl", "b.jsonl")]
    >>> both = Loggers([JsonlLogger(p) for p in paths])
    >>> both.log_epoch(0, {"loss": 0.5})
    >>> both.close()
    >>> [read_jsonl(p) for p in paths]
    [[{'epoch': 0, 'loss': 0.5}], [{'epoch': 0, 'loss': 0.5}]]
    """

    def __init__(self, loggers: Sequence[Logger]) -> None:
        for logger in loggers:
            check_logger(logger)
        self.loggers = list(loggers)

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """``log_epoch`` of each."""
        for logger in self.loggers:
            logger.log_epoch(epoch, values, member)

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """``log_hparams`` of each."""
        for logger in self.loggers:
            logger.log_hparams(member, hparams, metrics)

    def close(self) -> None:
        """``close`` of each."""
        for logger in self.loggers:
            logger.close()


class MemberOffset:
    """``logger`` with every member index shifted by ``offset``: a search that runs its configs
    in parts (hyperband's brackets, TPE's rounds) numbers them as its merged results do.
    Closing it leaves ``logger`` open for the next part.

    Args:
      logger: the logger to forward to.
      offset: added to every member index.

    >>> from jaxdl.logs import JsonlLogger, MemberOffset, read_jsonl
    >>> import os, tempfile
    >>> log = JsonlLogger(os.path.join(tempfile.mkdtemp(), "metrics.jsonl"))
    >>> MemberOffset(log, 10).log_epoch(0, {"loss": 0.5}, member=2)
    >>> log.close()
    >>> read_jsonl(log.path)
    [{'epoch': 0, 'member': 12, 'loss': 0.5}]
    """

    def __init__(self, logger: Logger, offset: int) -> None:
        self.logger, self.offset = logger, int(offset)

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """``logger.log_epoch`` with ``member + offset``."""
        self.logger.log_epoch(epoch, values, None if member is None else member + self.offset)

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """``logger.log_hparams`` with ``member + offset``."""
        self.logger.log_hparams(member + self.offset, hparams, metrics)

    def close(self) -> None:
        """Nothing: the caller closes ``logger``."""


def offset_members(logger: Logger | None, offset: int) -> MemberOffset | None:
    """:class:`MemberOffset` of ``logger``, or ``None`` without one.

    Args:
      logger: a logger or ``None``.
      offset: added to every member index.

    Returns:
      ``MemberOffset(logger, offset)``, or ``None`` when ``logger`` is ``None``.

    >>> from jaxdl.logs import offset_members
    >>> offset_members(None, 4) is None
    True
    """
    return None if logger is None else MemberOffset(logger, offset)


def check_logger(logger: Any) -> None:
    """``logger`` must have ``log_epoch``, ``log_hparams`` and ``close``.

    Args:
      logger: the object to check (``None`` passes: no logging).

    Raises:
      TypeError: when it lacks one of the three methods.

    >>> from jaxdl.logs import check_logger
    >>> check_logger(None)
    >>> check_logger("metrics.jsonl")
    Traceback (most recent call last):
    TypeError: logger must have log_epoch, log_hparams and close (see jaxdl.logs), got str
    """
    if logger is not None and not isinstance(logger, Logger):
        raise TypeError(f"logger must have log_epoch, log_hparams and close (see jaxdl.logs), "
                        f"got {type(logger).__name__}")


def last_epoch(history: Mapping[str, Sequence[Any]]) -> dict[str, float]:
    """The newest value of each per-epoch number in a ``fit`` history (``batch_cost`` and
    empty lists left out).

    Args:
      history: a ``fit`` history, a list per name.

    Returns:
      ``{name: last value}`` for every list whose last entry is a number.

    >>> from jaxdl.logs import last_epoch
    >>> last_epoch({"epoch": [0, 1], "loss": [0.9, 0.7], "val_loss": [], "batch_cost": [[1.0]]})
    {'loss': 0.7}
    """
    return {
        k: v[-1] for k, v in history.items()
        if k not in ("epoch", "batch_cost") and len(v) and isinstance(v[-1], int | float)
    }


def after_epoch(logger: Logger | None, callbacks: Sequence[Any], epoch: int,
                history: Mapping[str, Sequence[Any]]) -> None:
    """What ``fit`` does on the host after each epoch: log the epoch's values, then call each
    ``callback(epoch, history)``.

    Args:
      logger: gets ``log_epoch(epoch, last_epoch(history))`` (``None``: no logging).
      callbacks: callables ``f(epoch, history)``, called in order.
      epoch: the epoch just finished.
      history: the ``fit`` history so far.

    >>> from jaxdl.logs import after_epoch
    >>> after_epoch(None, [lambda epoch, h: print(epoch, h["loss"])], 1, {"loss": [0.9, 0.7]})
    1 [0.9, 0.7]
    """
    if logger is not None:
        logger.log_epoch(epoch, last_epoch(history))
    for callback in callbacks:
        callback(epoch, history)


def check_callbacks(callbacks: Any) -> tuple[Any, ...]:
    """``callbacks`` as a tuple of callables ``f(epoch, history)``.

    Args:
      callbacks: ``None``, one callable or a sequence of them.

    Returns:
      A tuple of the callables.

    Raises:
      TypeError: for an entry that is not callable.

    >>> from jaxdl.logs import check_callbacks
    >>> check_callbacks(print) == (print,), check_callbacks(None)
    (True, ())
    >>> check_callbacks([print, "f"])
    Traceback (most recent call last):
    TypeError: callbacks must be callables f(epoch, history), got 'f'
    """
    if callable(callbacks):
        callbacks = (callbacks,)
    callbacks = tuple(callbacks or ())
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables f(epoch, history), got {cb!r}")
    return callbacks
