"""Who may write where: the ``jaxdl`` command's output paths, checked before anything runs.

A run *owns* its ``--out`` directory, as it owns its checkpoint directory: it holds the same
lock (:mod:`jaxdl.infra.dirlock`, ``.jaxdl-lock``, removed again when the run ends), so a second run
into the same ``--out`` is refused with the owner's PID. An ``--out`` that already holds files
jaxdl writes (:data:`OUTPUT_FILES`: ``history.json``, ``metrics.jsonl``, the sweep table, the
demo's ``results.json``, the plots) is refused, naming them, unless

- ``--overwrite``: those files, listed by name, are removed first (nothing else: a
  ``notes.txt`` of yours stays), or
- ``--resume`` continues the run that wrote them: the same command whose
  ``--checkpoint-dir`` recorded this ``--out`` (``.jaxdl-out.json`` in the checkpoint
  directory); its ``metrics.jsonl`` (and TensorBoard files) are then cut back to the
  checkpoint's epoch as the run goes on, so they equal an uninterrupted run's.

Also refused at startup: ``--save`` (``--save-best``) equal to ``--out`` or holding ``--out``
or ``--checkpoint-dir``, ``--out`` equal to ``--checkpoint-dir`` (two writers of one
``metrics.jsonl``), a ``--save`` whose parent cannot be written, an output that is an input
(``--data``, ``--labels``, ``--space``), ``--resume`` with nothing to resume or
with fewer ``--epochs`` than the checkpoints already ran, and a fresh run into a checkpoint
directory that holds another run.

:func:`reserve` checks a command line before the command runs; :func:`take` claims its
``--out`` once the command has checked its own input, before its first write.

Each command has its own default ``--out``: ``jaxdl-out/train``, ``jaxdl-out/sweep``,
``jaxdl-out`` (demo), so the three can follow one another.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
from collections.abc import Sequence
from typing import Any

from jaxdl.checkpoint import epoch_of, list_checkpoints
from jaxdl.infra import dirlock
from jaxdl.infra.atomic import check_writable, write_json
from jaxdl.infra.untrusted import read_bytes
from jaxdl.sweep.journal import STATE_FILE

#: The files jaxdl writes into ``--out``, per command (``--overwrite`` removes these only).
OUTPUT_FILES: dict[str, tuple[str, ...]] = {
    "train": ("history.json", "metrics.jsonl", "curves.png", "boundary.png"),
    "sweep": ("sweep.csv", "sweep.json", "metrics.jsonl", "sweep.png", "pbt.png"),
    "demo": ("results.json", "1_initialization_boundaries.png", "1_initialization_cost.png",
             "2_regularization_boundaries.png", "3_optimizers_cost.png",
             "3_optimizers_boundaries.png", "4_batch_norm_cost.png", "5_sweep.png",
             "6_gradient_norms.png", "7_normalization_cost.png", "8_batch_size_cost.png"),
}
ALL_FILES = tuple(sorted({name for names in OUTPUT_FILES.values() for name in names}))
#: In a checkpoint directory, which ``--out`` its run writes: ``{"command", "out"}``.
RUN_FILE = ".jaxdl-out.json"
DEFAULT_OUT = {"train": "jaxdl-out/train", "sweep": "jaxdl-out/sweep", "demo": "jaxdl-out"}


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _within(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies inside it (both resolved)."""
    path, folder = _real(path), _real(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def used_files(directory: str | os.PathLike) -> list[str]:
    """The names of :data:`ALL_FILES` present in ``directory`` (symlinks included, unfollowed).

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("metrics.jsonl", "notes.txt"):
    ...     _ = open(os.path.join(folder, name), "w").write("x")
    >>> used_files(folder)
    ['metrics.jsonl']
    """
    directory = os.fspath(directory)
    return [n for n in ALL_FILES if os.path.lexists(os.path.join(directory, n))]


def _event_files(logdir: str, depth: int = 2) -> list[str]:
    """TensorBoard event files directly in ``logdir``, in its ``train``/``validation`` runs and
    in its ``member-NNN`` folders (and their runs)."""
    if not os.path.isdir(logdir):
        return []
    found = []
    for name in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, name)
        if name.startswith("events.out.tfevents."):
            found.append(path)
        elif (depth and (name in ("train", "validation") or (depth == 2 and name.startswith(
                "member-"))) and os.path.isdir(path) and not os.path.islink(path)):
            found += _event_files(path, 1 if name.startswith("member-") else 0)
    return found


def check_paths(args: argparse.Namespace) -> None:
    """Refuse output paths that collide with each other or with an input (see the module).

    Raises:
      ValueError: naming both flags and the path.
      OSError: a ``--save`` whose parent directory cannot be written (exit status 3).

    >>> check_paths(argparse.Namespace(command="train", out="runs/a", save="runs/a"))
    Traceback (most recent call last):
    ValueError: --save and --out name one directory (runs/a): the saved model would be ...
    """
    command: str | None = getattr(args, "command", None)
    if command not in DEFAULT_OUT:  # predict and evaluate check their own --out
        return
    out: str | None = getattr(args, "out", None)
    save: str | None = getattr(args, "save", None)
    ckpt: str | None = getattr(args, "checkpoint_dir", None)
    tensorboard: str | None = getattr(args, "tensorboard", None)
    save_flag = "--save-best" if command == "sweep" else "--save"
    inputs: dict[str, str] = {}
    for flag, name in (("--data", "data"), ("--labels", "labels"), ("--space", "space")):
        if getattr(args, name, None):
            inputs[flag] = os.fspath(getattr(args, name))
    outputs = {flag: path for flag, path in (("--out", out), (save_flag, save),
                                              ("--checkpoint-dir", ckpt),
                                              ("--tensorboard", tensorboard)) if path}
    if save and out and _real(save) == _real(out):
        raise ValueError(f"{save_flag} and --out name one directory ({save}): the saved model "
                         "would be mixed with the run's outputs; choose two directories")
    for flag in ("--out", "--checkpoint-dir", "--tensorboard"):
        if save and flag in outputs and _within(outputs[flag], save):
            raise ValueError(f"{flag} {outputs[flag]} lies inside {save_flag} {save}, which is "
                             f"replaced as a whole when the model is saved; choose a {flag} "
                             f"outside it")
    if out and ckpt and _real(out) == _real(ckpt):
        raise ValueError(f"--out and --checkpoint-dir name one directory ({out}): both would "
                         "write its metrics.jsonl; choose two directories")
    written = [os.path.join(out, n) for n in OUTPUT_FILES[command]] if out else []
    for flag, path in inputs.items():
        for out_flag, target in outputs.items():
            if _real(path) == _real(target) or (out_flag == save_flag and _within(path, target)):
                raise ValueError(f"{flag} {path} is also an output ({out_flag} {target}); "
                                 "keep inputs out of the directories jaxdl writes")
        for target in written:
            if _real(path) == _real(target):
                raise ValueError(f"{flag} {path} is a file jaxdl writes into --out {out}; "
                                 "copy it elsewhere or choose another --out")
    if save:
        _check_parent_writable(save, save_flag)


def _check_parent_writable(path: str, flag: str) -> None:
    """The nearest existing folder above ``path`` must be a writable directory."""
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent) and parent != os.path.dirname(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise OSError(errno.ENOTDIR, f"cannot save the model in {flag} {path}: {parent} is "
                      "not a directory", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OSError(errno.EACCES, f"cannot save the model in {flag} {path}: {parent} is "
                      "not writable", path)


def _sweep_states(directory: str) -> list[str]:
    """``sweep-state.npz`` files of a sweep directory (its own, its brackets' and rounds')."""
    found = [os.path.join(directory, STATE_FILE)]
    if os.path.isdir(directory):
        found += [os.path.join(directory, n, STATE_FILE) for n in sorted(os.listdir(directory))]
    return [p for p in found if os.path.isfile(p)]


def check_resume(args: argparse.Namespace) -> None:
    """``--resume`` needs something to resume and no fewer ``--epochs`` than already ran; a
    fresh run refuses a checkpoint directory that holds another run.

    >>> import tempfile
    >>> check_resume(argparse.Namespace(command="train", resume=True, overwrite=False,
    ...              checkpoint_dir=tempfile.mkdtemp(), epochs=10))
    Traceback (most recent call last):
    ValueError: --resume: checkpoint directory ... holds no checkpoint, so there is ...
    """
    ckpt = getattr(args, "checkpoint_dir", None)
    if not ckpt or args.command not in ("train", "sweep"):
        return
    resume, overwrite = bool(args.resume), bool(getattr(args, "overwrite", False))
    if args.command == "train":
        found = list_checkpoints(ckpt) if os.path.isdir(ckpt) else []
        if resume and not found:
            where = "does not exist" if not os.path.exists(ckpt) else "holds no checkpoint"
            raise ValueError(f"--resume: checkpoint directory {ckpt} {where}, so there is "
                             "nothing to resume; leave out --resume to start afresh")
        if resume and found:
            done = epoch_of(found[-1]) + 1
            if args.epochs < done:
                raise ValueError(
                    f"--resume: the checkpoints in {ckpt} already ran {done} epochs, more than "
                    f"--epochs {args.epochs}; --epochs is the total, give {done} or more")
        if found and not resume and not overwrite:
            raise ValueError(
                f"checkpoint directory {ckpt} already holds checkpoints (newest "
                f"{os.path.basename(found[-1])}): pass --resume to continue them, --overwrite "
                "to delete them and start over, or choose another --checkpoint-dir")
        return
    states = _sweep_states(ckpt)
    if resume and not states:
        raise ValueError(f"--resume: {ckpt} holds no saved sweep ({STATE_FILE}), so there is "
                         "nothing to resume; leave out --resume to start afresh")
    if states and not resume:
        raise ValueError(f"--checkpoint-dir {ckpt} already holds a sweep; pass --resume to "
                         "continue it, or choose another --checkpoint-dir")


def _recorded_run(ckpt: str | None) -> dict[str, Any] | None:
    """What the checkpoint directory ``ckpt`` recorded about its run's ``--out``."""
    path = os.path.join(ckpt, RUN_FILE) if ckpt else ""
    if not ckpt or not os.path.lexists(path):
        return None
    try:
        record = json.loads(read_bytes(path, what="run record", max_bytes=1 << 16,
                                       follow_symlinks=False))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class OutputDir:
    """A run's hold on its ``--out`` (see the module): :func:`claim` makes one,
    :meth:`release` ends it.

    >>> import tempfile
    >>> args = argparse.Namespace(command="train", out=tempfile.mkdtemp(), overwrite=False,
    ...                           resume=False, checkpoint_dir=None, tensorboard=None)
    >>> held = claim(args)
    >>> try:
    ...     claim(args)
    ... except dirlock.DirectoryInUse:
    ...     print("in use")
    in use
    >>> held.release()
    """

    def __init__(self, directory: str, lock: int | None, created: bool = False) -> None:
        self.directory, self._lock, self.created = directory, lock, created
        self.removed: list[str] = []  # what --overwrite removed

    def release(self) -> None:
        """Drop the lock (and its file); a run that wrote nothing leaves no trace (an empty
        ``metrics.jsonl`` goes, and the folder when this run made it and it is empty)."""
        if self._lock is None:
            return
        metrics = os.path.join(self.directory, "metrics.jsonl")
        try:
            if os.path.isfile(metrics) and not os.path.islink(metrics) \
                    and os.path.getsize(metrics) == 0:
                os.remove(metrics)
        except OSError:
            pass
        dirlock.release(self._lock, self.directory)
        self._lock = None
        if self.created:
            try:
                os.rmdir(self.directory)  # only when empty
            except OSError:
                pass


def claim(args: argparse.Namespace) -> OutputDir:
    """Take ``--out`` for this run: lock it, then refuse it when it holds another run's
    outputs (or, with ``--overwrite``, remove them), and record which run owns it.

    Raises:
      jaxdl.infra.dirlock.DirectoryInUse: another live run holds ``--out``.
      ValueError: ``--out`` holds outputs and neither ``--overwrite`` nor ``--resume`` of the
        run that wrote them was given; a lock or run record that is a symlink.
    """
    out = os.fspath(args.out)
    created = not os.path.isdir(out)
    check_writable(out)  # creates it; a full disk is an error here, the folder left to see
    lock = dirlock.acquire(out, "--out directory")
    held = OutputDir(out, lock, created)
    try:
        held.removed = _take(args, out)
    except BaseException:
        held.release()
        raise
    return held


def _take(args: argparse.Namespace, out: str) -> list[str]:
    found = used_files(out)
    tensorboard = getattr(args, "tensorboard", None)
    events = _event_files(tensorboard) if tensorboard else []
    resume, overwrite = bool(getattr(args, "resume", False)), bool(args.overwrite)
    ckpt = getattr(args, "checkpoint_dir", None)
    me = {"command": args.command, "out": _real(out)}
    if (found or events) and not overwrite:
        recorded = _recorded_run(ckpt) if found else me
        if not resume or recorded != me:
            what = ", ".join(found) if found else ""
            if events:
                what += ("; " if what else "") + f"TensorBoard files in {tensorboard}"
            whose = "" if not resume else (
                " written by another run" if recorded else " not recorded as this run's")
            raise ValueError(
                f"--out {out} already holds the outputs of an earlier run{whose} ({what}); "
                "pass --overwrite to replace them (jaxdl removes only these files), "
                "--resume with that run's --checkpoint-dir to continue it, or choose another "
                "--out")
    removed = _remove(out, found, events) if overwrite and not resume else []
    if ckpt:  # recorded under the directory's lock: never over a live run's record
        check_writable(ckpt)
        lock = dirlock.acquire(ckpt, "checkpoint directory")
        try:
            write_json(os.path.join(ckpt, RUN_FILE), me)
        finally:
            dirlock.release(lock)
    return removed


def _remove(out: str, names: Sequence[str], events: Sequence[str]) -> list[str]:
    """Remove jaxdl's own files: ``names`` in ``out`` and TensorBoard event files."""
    paths = [os.path.join(out, n) for n in names] + list(events)
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            raise ValueError(f"--overwrite: {path} is a directory, not a file jaxdl wrote; "
                             "move it away")
    for path in paths:
        os.remove(path)  # a symlink itself, never its target
    return paths


class Reservation:
    """The output checks of one command line, done (:func:`reserve`), and its ``--out``, taken
    when the command has checked its own input (:func:`take`, from
    :func:`jaxdl.cli.build.load_data`), so a bad flag is reported before a used ``--out``.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._taken: OutputDir | None = None

    def take(self) -> OutputDir:
        """:func:`claim` ``--out`` (once)."""
        if self._taken is None:
            self._taken = claim(self.args)
        return self._taken

    def release(self) -> None:
        """Give ``--out`` back (:meth:`OutputDir.release`) and forget the reservation."""
        if _RESERVED.get(id(self.args)) is self:
            del _RESERVED[id(self.args)]
        if self._taken is not None:
            self._taken.release()
            self._taken = None


_RESERVED: dict[int, Reservation] = {}


def reserve(args: argparse.Namespace) -> Reservation:
    """Check one command line's outputs before the command runs (:func:`check_paths`,
    :func:`check_resume`); :func:`take` claims ``--out`` later.

    Returns:
      The reservation, to :meth:`Reservation.release` when the command ends.

    >>> import tempfile
    >>> args = argparse.Namespace(command="train", out=tempfile.mkdtemp(), overwrite=False,
    ...                           resume=False, checkpoint_dir=None, tensorboard=None)
    >>> reservation = reserve(args)
    >>> take(args).directory == args.out
    True
    >>> reservation.release()
    """
    check_paths(args)
    if args.command in DEFAULT_OUT:
        check_resume(args)
    reservation = Reservation(args)
    _RESERVED[id(args)] = reservation
    return reservation


def take(args: argparse.Namespace) -> OutputDir | None:
    """Claim the ``--out`` reserved for ``args`` (``None`` when nothing was reserved: the
    command's functions called outside the ``jaxdl`` command)."""
    reservation = _RESERVED.get(id(args))
    return None if reservation is None else reservation.take()
