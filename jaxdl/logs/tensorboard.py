"""TensorBoard event files, written with tensorboardX (the optional extra ``jaxdl[tensorboard]``)
and read back without TensorBoard.

:class:`TensorBoardLogger` writes each value as a scalar per epoch in two runs, as Keras does:
``train/`` (``loss``, ``accuracy``, ``learning_rate``, ...) and ``validation/`` (the ``val_``
values under the same tags, ``loss``, ``accuracy``, ...), so TensorBoard overlays the two curves
of one metric in one chart. A sweep writes one folder per member (``member-003/train``,
``member-003/validation``) and each member's hyperparameters with its final metrics for the
hparams plugin in ``member-003`` (the session whose runs they are). :func:`read_scalars` reads
the scalars of one run back, checking every record's CRC. tensorboardX is imported only when
one of them runs.

A run directory that already holds event files is continued the way TensorBoard reads a
restarted run: the first epoch logged there drops the older events of that step and later (and
a torn last record), so a run killed and resumed leaves each scalar once per step.
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

from jaxdl.infra.atomic import atomic_write

_WRITERS = itertools.count()
INSTALL_HINT = 'pip install "jaxdl[tensorboard]" (or: pip install tensorboardX)'


def tensorboard_available() -> bool:
    """True when tensorboardX can be imported.

    Returns:
      Whether :class:`TensorBoardLogger` and :func:`read_scalars` can run.

    >>> from jaxdl.logs.tensorboard import tensorboard_available
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


#: The run (sub-directory) of the training values and of the ``val_`` values.
RUNS = ("train", "validation")


def run_and_tag(key: str) -> tuple[str, str]:
    """The run and tag of a logged value: ``val_<tag>`` goes to ``validation``, any other key
    to ``train`` under its own name.

    >>> from jaxdl.logs.tensorboard import run_and_tag
    >>> run_and_tag("val_loss"), run_and_tag("loss"), run_and_tag("learning_rate")
    (('validation', 'loss'), ('train', 'loss'), ('train', 'learning_rate'))
    """
    if key.startswith("val_"):
        return RUNS[1], key[len("val_"):]
    return RUNS[0], key


class TensorBoardLogger:
    """TensorBoard event files under ``logdir``: the runs ``train`` and ``validation`` (see
    :func:`run_and_tag`), in one folder per sweep member.

    Args:
      logdir: the directory of the runs (created); ``fit`` writes ``logdir/train`` and
        ``logdir/validation``, a sweep ``logdir/member-NNN/train`` and ``.../validation``.
        Event files already in a run directory are cut back to the steps before the first
        epoch logged there (a resumed run).

    Raises:
      ImportError: without tensorboardX (the extra ``jaxdl[tensorboard]``).

    >>> from jaxdl.logs.tensorboard import TensorBoardLogger, read_scalars
    >>> import os, tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> log = TensorBoardLogger(logdir)
    >>> log.log_epoch(0, {"loss": 0.5})
    >>> log.log_epoch(1, {"loss": 0.25})
    >>> log.close()
    >>> read_scalars(os.path.join(logdir, "train"))
    {'loss': [(0, 0.5), (1, 0.25)]}
    """

    def __init__(self, logdir: str | os.PathLike) -> None:
        if not tensorboard_available():
            raise ImportError(f"TensorBoard logging needs tensorboardX: {INSTALL_HINT}")
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self._writers: dict[tuple[int | None, str | None], Any] = {}
        self._cut: set[int] = set()

    def _writer(self, member: int | None, run: str | None, step: int | None = None) -> Any:
        """The writer of ``run`` (``None``: the member's own folder) of ``member``."""
        from tensorboardX import SummaryWriter

        if (member, run) not in self._writers:
            where = self.logdir if member is None else os.path.join(
                self.logdir, f"member-{member:03d}")
            where = where if run is None else os.path.join(where, run)
            if step is not None:
                cut_events(where, step)
                if member is not None and member not in self._cut:  # its hparams summaries
                    self._cut.add(member)
                    cut_events(os.path.dirname(where), step)
            # a file name of its own, also for writers opened in the same second
            suffix = f".{os.getpid()}.{next(_WRITERS):06d}"  # sorts in the order opened
            self._writers[member, run] = SummaryWriter(logdir=where, flush_secs=3600,
                                                       filename_suffix=suffix)
        return self._writers[member, run]

    def log_epoch(self, epoch: int, values: Mapping[str, float], member: int | None = None
                  ) -> None:
        """One scalar per value at step ``epoch`` in its run (:func:`run_and_tag`), flushed."""
        used = set()
        for key, value in values.items():
            run, tag = run_and_tag(key)
            writer = self._writer(member, run, int(epoch))
            writer.add_scalar(tag, float(np.asarray(value)), int(epoch))
            used.add(run)
        for run in used:
            self._writer(member, run).flush()

    def log_hparams(self, member: int, hparams: Mapping[str, Any],
                    metrics: Mapping[str, float]) -> None:
        """The member's hyperparameters and final metrics (as ``hparam/<name>``) for the
        hparams plugin, in the member's run directory."""
        from tensorboardX.summary import hparams as hparams_summaries

        writer = self._writer(member, None)
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
    """The records of a TFRecord file, with their CRCs checked (a torn last record, cut short
    by a killed writer, is left out)."""
    from tensorboardX.record_writer import masked_crc32c

    out, at = [], 0
    while at + 12 <= len(data):
        header = data[at: at + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[at + 8: at + 12])
        if crc != masked_crc32c(header):
            raise ValueError(f"{path}: a record fails its checksum")
        if at + 16 + length > len(data):
            break  # torn
        body = data[at + 12: at + 12 + length]
        (body_crc,) = struct.unpack("<I", data[at + 12 + length: at + 16 + length])
        if body_crc != masked_crc32c(body):
            raise ValueError(f"{path}: a record fails its checksum")
        out.append(body)
        at += 16 + length
    return out


def _frame(body: bytes) -> bytes:
    """One TFRecord: length, its CRC, the body, its CRC."""
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", len(body))
    return (header + struct.pack("<I", masked_crc32c(header)) + body
            + struct.pack("<I", masked_crc32c(body)))


def _event_files(logdir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(glob.escape(logdir), "events.out.tfevents.*")))


def _read_events(path: str) -> bytes:
    from jaxdl.infra.untrusted import read_bytes

    return read_bytes(path, what="TensorBoard event file", follow_symlinks=False)


def cut_events(logdir: str | os.PathLike, step: int) -> int:
    """Drop, from the event files directly in ``logdir``, every summary at ``step`` or later
    and the hparams summaries (written when a run ends), as TensorBoard does for a restarted
    run; each changed file is rewritten atomically.

    Args:
      logdir: a run directory (missing: nothing to do).
      step: the first step the continuing run logs.

    Returns:
      How many events were dropped.

    >>> from jaxdl.logs.tensorboard import TensorBoardLogger, read_scalars
    >>> import os, tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> log = TensorBoardLogger(logdir)
    >>> for epoch in range(3):
    ...     log.log_epoch(epoch, {"loss": 1 / (epoch + 1)})
    >>> log.close()
    >>> log = TensorBoardLogger(logdir)  # resumed from the checkpoint of epoch 0
    >>> log.log_epoch(1, {"loss": 0.5})
    >>> log.close()
    >>> read_scalars(os.path.join(logdir, "train"))
    {'loss': [(0, 1.0), (1, 0.5)]}
    """
    from tensorboardX.proto import event_pb2

    dropped = 0
    for path in _event_files(os.fspath(logdir)):
        data = _read_events(path)
        records = _records(data, path)
        kept = []
        for record in records:
            event = event_pb2.Event.FromString(record)
            if event.HasField("summary") and (event.step >= step or any(
                    v.tag.startswith(("hparam/", "_hparams_/")) for v in event.summary.value)):
                continue
            kept.append(record)
        framed = b"".join(_frame(r) for r in kept)
        if framed != data:
            dropped += len(records) - len(kept)
            atomic_write(path, _writer_of(framed), mode="wb")
    return dropped


def _writer_of(content: bytes) -> Any:
    return lambda f: f.write(content)


def read_scalars(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in the event files directly in
    ``logdir`` (read with tensorboardX's protocol buffers).

    Args:
      logdir: a run directory, e.g. ``tb/train`` or ``tb/member-002/validation`` (files of
        its sub-directories are not read).

    Returns:
      Each tag's ``(step, value)`` pairs, in file and write order.

    Raises:
      ValueError: for a record that fails its checksum.

    >>> from jaxdl.logs.tensorboard import TensorBoardLogger, read_scalars
    >>> import os, tempfile
    >>> logdir = tempfile.mkdtemp()
    >>> log = TensorBoardLogger(logdir)
    >>> log.log_epoch(3, {"loss": 0.5, "val_loss": 0.75})
    >>> log.close()
    >>> read_scalars(os.path.join(logdir, "validation"))
    {'loss': [(3, 0.75)]}
    """
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in _event_files(os.fspath(logdir)):
        data = _read_events(path)
        for record in _records(data, path):
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars

