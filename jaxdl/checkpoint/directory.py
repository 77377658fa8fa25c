"""A run's checkpoint directory: one owner at a time, no mixing with an earlier run, resume
from the newest checkpoint that reads back intact.

A run owns its directory through :class:`CheckpointDir`: an advisory lock on ``.jaxdl-lock``
(:mod:`jaxdl.infra.dirlock`: it holds the owner's PID, and the operating system drops it when that
process dies, so a stale lock is simply taken over), removal of the temporary files of a killed
write, refusal of a fresh run into a directory that already holds checkpoints (unless
``overwrite``), and resume from the newest checkpoint that reads back intact, warning about
every newer one it had to skip. The files are :mod:`jaxdl.checkpoint.file_format`'s.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

from jaxdl.checkpoint.file_format import (
    CheckpointError,
    CorruptCheckpoint,
    list_checkpoints,
    path_for,
    read,
    save,
    unflatten,
)
from jaxdl.infra import dirlock

TEMPORARY = re.compile(r"\.tmp-.*ckpt-\d{6,}\.npz")  # atomic_write's names for a checkpoint
LOCK = dirlock.LOCK


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was skipped in favour of an older intact one.

    >>> from jaxdl.checkpoint.directory import CheckpointDir
    >>> import tempfile, warnings
    >>> import numpy as np
    >>> store = CheckpointDir(tempfile.mkdtemp(), {"seed": 0}).open(resume=False)
    >>> _ = store.save(1, {"w": np.ones(2)}, {})
    >>> newer = store.save(2, {"w": np.full(2, 2.0)}, {})
    >>> _ = open(newer, "r+b").write(b"damaged")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     tree, meta = store.restore({"w": np.zeros(2)})
    >>> meta["epoch"], caught[0].category.__name__
    (1, 'CheckpointWarning')
    >>> store.close()
    """


def differences(old: Any, new: Mapping[str, Any]) -> list[str]:
    """The names of the parts of fingerprint ``new`` that ``old`` does not match.

    Args:
      old: the fingerprint stored in a checkpoint (anything but a mapping differs in every
        part).
      new: this run's fingerprint.

    Returns:
      The keys of ``new`` missing from ``old`` or with another value there, then the keys only
      ``old`` has, sorted.

    >>> from jaxdl.checkpoint.directory import differences
    >>> differences({"seed": 0, "lr": 0.1, "old": 1}, {"seed": 1, "lr": 0.1})
    ['seed', 'old']
    """
    if not isinstance(old, Mapping):
        return sorted(new)
    return [k for k in new if k not in old or old[k] != new[k]] + sorted(set(old) - set(new))


class CheckpointDir:
    """A run's exclusive hold on its checkpoint directory (a context manager).

    ``fingerprint`` is a JSON-able dict naming what makes runs interchangeable (model, data,
    hyperparameters, seed, ...); a checkpoint is resumed only when all of it matches, and the
    error names the parts that differ.

    >>> from jaxdl.checkpoint.directory import CheckpointDir
    >>> import tempfile
    >>> import numpy as np
    >>> with CheckpointDir(tempfile.mkdtemp(), {"seed": 0}).open(resume=False) as store:
    ...     path = store.save(0, {"w": np.ones(2)}, {"epoch": 0})
    ...     store.restore({"w": np.zeros(2)})[0]["w"]
    array([1., 1.])
    """

    def __init__(self, directory: str, fingerprint: Mapping[str, Any], keep: int = 3) -> None:
        self.directory, self.fingerprint, self.keep = os.fspath(directory), dict(fingerprint), keep
        self._lock: int | None = None

    # -- ownership ------------------------------------------------------------------------
    def open(self, *, resume: bool, overwrite: bool = False) -> CheckpointDir:
        """Lock the directory, remove stale temporary files and, for a fresh run, make sure no
        checkpoints of an earlier run would be mixed with this one's (``overwrite`` deletes
        them). Raises :class:`CheckpointError` when another live process owns the directory."""
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other: choose one")
        os.makedirs(self.directory, exist_ok=True)
        self._acquire()
        try:
            for name in os.listdir(self.directory):
                if TEMPORARY.fullmatch(name):
                    os.remove(os.path.join(self.directory, name))
            existing = list_checkpoints(self.directory)
            if existing and overwrite:
                for path in existing:
                    os.remove(path)
            elif existing and not resume:
                raise CheckpointError(self._occupied_message(existing[-1]))
        except BaseException:
            self.close()
            raise
        return self

    def _acquire(self) -> None:
        try:
            self._lock = dirlock.acquire(self.directory, "checkpoint directory")
        except dirlock.DirectoryInUse as err:
            raise CheckpointError(str(err)) from None

    def _occupied_message(self, newest: str) -> str:
        try:
            differ = differences(read(newest)[1].get("fingerprint"), self.fingerprint)
        except CorruptCheckpoint:
            differ = ["unreadable"]
        what = (
            f"checkpoints of this same setup (newest {os.path.basename(newest)}): pass "
            "resume=True (--resume) to continue them"
            if not differ
            else f"checkpoints of another run (differing in: {', '.join(differ)}): choose "
            "another directory"
        )
        return (
            f"checkpoint directory {self.directory} already holds {what}, or overwrite=True "
            "(--overwrite) to delete them and start over"
        )

    def close(self) -> None:
        """Release the directory (the lock file stays, unlocked)."""
        dirlock.release(self._lock)
        self._lock = None

    def __enter__(self) -> CheckpointDir:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- files ----------------------------------------------------------------------------
    def save(self, epoch: int, tree: Any, meta: dict[str, Any]) -> str:
        """Checkpoint ``tree`` after ``epoch``, with this run's fingerprint in the meta."""
        meta = {**meta, "epoch": epoch, "fingerprint": self.fingerprint}
        return save(path_for(self.directory, epoch), tree, meta, self.keep)

    def restore(self, template: Any) -> tuple[Any, dict[str, Any]] | None:
        """The newest intact checkpoint read into ``template``'s structure, with its meta
        (``None`` when there is none). A damaged newer file is skipped with a
        :class:`CheckpointWarning`; a checkpoint of another setup raises :class:`CheckpointError`
        naming the parts of the fingerprint that differ."""
        skipped = []
        for path in reversed(list_checkpoints(self.directory)):
            try:
                leaves, meta = read(path)
            except CorruptCheckpoint as err:
                skipped.append(str(err))
                continue
            differ = differences(meta.get("fingerprint"), self.fingerprint)
            if differ:
                raise CheckpointError(
                    f"checkpoint {path} was written by a different setup (differing in: "
                    f"{', '.join(differ)}); resume with the same settings and data, or start "
                    "a fresh directory"
                )
            tree = unflatten(path, leaves, template)
            for reason in skipped:
                warnings.warn(
                    f"{reason}; resuming from the older {os.path.basename(path)}",
                    CheckpointWarning,
                    stacklevel=3,
                )
            return tree, meta
        if skipped:
            raise CorruptCheckpoint(
                f"no intact checkpoint in {self.directory} (" + "; ".join(skipped) + "); start "
                "over with overwrite=True (--overwrite) instead of resume"
            )
        return None

