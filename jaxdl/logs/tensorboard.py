"""TensorBoard event files, written with tensorboardX (the optional extra ``jaxdl[tensorboard]``)
and read back without TensorBoard.

:class:`TensorBoardLogger` writes each value as a scalar per epoch, one run directory per sweep
member (``member-003``), and each member's hyperparameters with its final metrics for the
hparams plugin. :func:`read_scalars` reads the scalars of an event file back, checking every
record's CRC. tensorboardX is imported only when one of them runs.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

_WRITERS = itertools.count()
INSTALL_HINT = 'pip install "jaxdl[tensorboard]" (or: pip install tensorboardX)'


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
        values = {f"hparam/{k}": float(v) for k, v in metrics.items() if math.isfinite(float(v))}
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

