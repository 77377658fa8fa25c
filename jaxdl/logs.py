"""Watching training as it goes: a per-epoch metrics log and TensorBoard, behind one interface.

A *logger* has ``log_epoch(epoch, values, member=None)`` (called on the host after every epoch
of ``fit``, and of every live member of a sweep), ``log_hparams(member, hparams, metrics)``
(called once per sweep member at the end) and ``close()``.

- :class:`JsonlLogger` writes ``metrics.jsonl``: one JSON object per epoch and member, e.g.
  ``{"epoch": 3, "member": 0, "loss": 0.41, "val_loss": 0.45, "learning_rate": 0.01}``,
  flushed after every epoch, so a killed run keeps its curve.
- :class:`TensorBoardLogger` writes TensorBoard event files (with tensorboardX, the optional
  extra ``jaxdl[tensorboard]``): each value as a scalar per epoch, one run directory per sweep
  member (``member-003``), and each member's hyperparameters with its final metrics for the
  hparams plugin. :func:`read_scalars` reads the scalars of an event file back.
- :class:`Loggers` sends every call to several loggers.
"""

from __future__ import annotations

import glob
import itertools
import json
import math
import os
import struct
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

_WRITERS = itertools.count()
INSTALL_HINT = 'pip install "jaxdl[tensorboard]" (or: pip install tensorboardX)'


@runtime_checkable
class Logger(Protocol):
    """What ``fit`` and the sweeps call after every epoch (a structural protocol: any object
    with these three methods is a logger).

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

    Args:
      path: the ``.jsonl`` file (its directory is created).
      append: keep the lines already in ``path`` (default: start it afresh).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> log = JsonlLogger(path)
    >>> log.log_epoch(0, {"loss": 0.5})
    >>> log.close()
    >>> open(path).read()
    '{"epoch": 0, "loss": 0.5}\\n'
    """

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._file: IO[str] | None = open(self.path, "a" if append else "w", encoding="utf-8")

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """Write ``{"epoch", "member"?, **values}`` (non-finite values as ``null``)."""
        if self._file is None:
            raise ValueError(f"{self.path}: the log is closed")
        record: dict[str, Any] = {"epoch": int(epoch)}
        if member is not None:
            record["member"] = int(member)
        record.update({k: _number(v) for k, v in values.items()})
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """Nothing: the sweep's own table holds each member's hyperparameters."""

    def close(self) -> None:
        """Close the file (later calls raise)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (a torn last line is skipped).

    Args:
      path: a file written by :class:`JsonlLogger`.

    Returns:
      One dict per line, up to the first line that is not complete JSON.

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


def tensorboard_available() -> bool:
    """True when tensorboardX can be imported.

    Returns:
      Whether :class:`TensorBoardLogger` and :func:`read_scalars` can run.

    >>> tensorboard_available() in (True, False)
    True
    """
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


def _hparam_value(value: Any) -> bool | int | float | str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


class TensorBoardLogger:
    """TensorBoard event files under ``logdir`` (one run directory per sweep member).

    Args:
      logdir: the directory of the runs (created); ``fit`` writes into it directly, a sweep
        into ``logdir/member-NNN``.

    Raises:
      ImportError: without tensorboardX (the extra ``jaxdl[tensorboard]``).

    >>> import tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> log = TensorBoardLogger(logdir)
    >>> log.log_epoch(0, {"loss": 0.5})
    >>> log.log_epoch(1, {"loss": 0.25})
    >>> log.close()
    >>> read_scalars(logdir)
    {'loss': [(0, 0.5), (1, 0.25)]}
    """

    def __init__(self, logdir: str | os.PathLike) -> None:
        if not tensorboard_available():
            raise ImportError(f"TensorBoard logging needs tensorboardX: {INSTALL_HINT}")
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self._writers: dict[int | None, Any] = {}

    def _writer(self, member: int | None) -> Any:
        from tensorboardX import SummaryWriter

        if member not in self._writers:
            where = self.logdir if member is None else os.path.join(
                self.logdir, f"member-{member:03d}")
            # a file name of its own, also for writers opened in the same second
            suffix = f".{os.getpid()}.{next(_WRITERS)}"
            self._writers[member] = SummaryWriter(logdir=where, flush_secs=3600,
                                                  filename_suffix=suffix)
        return self._writers[member]

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """One scalar per value at step ``epoch``, flushed."""
        writer = self._writer(member)
        for tag, value in values.items():
            writer.add_scalar(tag, float(np.asarray(value)), int(epoch))
        writer.flush()

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """The member's hyperparameters and final metrics (as ``hparam/<name>``) for the
        hparams plugin, in the member's run directory."""
        from tensorboardX.summary import hparams as hparams_summaries

        writer = self._writer(member)
        values = {f"hparam/{k}": float(v) for k, v in metrics.items() if _number(v) is not None}
        # what SummaryWriter.add_hparams writes, but into this run's own event file (a second
        # writer in the same directory could pick the same file name within one second)
        for summary in hparams_summaries({k: _hparam_value(v) for k, v in hparams.items()},
                                         values):
            writer.file_writer.add_summary(summary)
        for tag, value in values.items():
            writer.add_scalar(tag, value)
        writer.flush()

    def close(self) -> None:
        """Flush and close every writer."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


class Loggers:
    """Several loggers as one.

    Args:
      loggers: the loggers to call, in order (each checked by :func:`check_logger`).

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

    >>> check_logger(None)
    >>> check_logger("metrics.jsonl")
    Traceback (most recent call last):
    TypeError: logger must have log_epoch, log_hparams and close (see jaxdl.logs), got str
    """
    if logger is not None and not isinstance(logger, Logger):
        raise TypeError(f"logger must have log_epoch, log_hparams and close (see jaxdl.logs), "
                        f"got {type(logger).__name__}")


# -- reading event files ------------------------------------------------------------------------
def _records(data: bytes, path: str) -> list[bytes]:
    """The records of a TFRecord file, with their CRCs checked."""
    from tensorboardX.record_writer import masked_crc32c

    out, at = [], 0
    while at + 12 <= len(data):
        header = data[at: at + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[at + 8: at + 12])
        body = data[at + 12: at + 12 + length]
        (body_crc,) = struct.unpack("<I", data[at + 12 + length: at + 16 + length])
        if crc != masked_crc32c(header) or body_crc != masked_crc32c(body):
            raise ValueError(f"{path}: a record fails its checksum")
        out.append(body)
        at += 16 + length
    return out


def read_scalars(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in the event files directly in
    ``logdir`` (read with tensorboardX's protocol buffers).

    Args:
      logdir: a run directory (files of sub-directories, e.g. sweep members, are not read).

    Returns:
      Each tag's ``(step, value)`` pairs, in file and write order.

    Raises:
      ValueError: for a record that fails its checksum.

    >>> import tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> log = TensorBoardLogger(logdir)
    >>> log.log_epoch(3, {"val_loss": 0.75})
    >>> log.close()
    >>> read_scalars(logdir)
    {'val_loss': [(3, 0.75)]}
    """
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(os.fspath(logdir), "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        for record in _records(data, path):
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def last_epoch(history: Mapping[str, Sequence[Any]]) -> dict[str, float]:
    """The newest value of each per-epoch number in a ``fit`` history (``batch_cost`` and
    empty lists left out).

    Args:
      history: a ``fit`` history, a list per name.

    Returns:
      ``{name: last value}`` for every list whose last entry is a number.

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
