"""One live owner per run directory: an advisory lock on ``.jaxdl-lock`` inside it.

The lock file holds the owner's PID and host. The lock is an ``flock`` on an open descriptor,
so the operating system drops it when the owner closes it or dies: a stale lock left by a killed
run is simply taken over, never deleted by hand. Checkpoint directories
(:class:`jaxdl.checkpoint.CheckpointDir`) and sweep directories
(:class:`jaxdl.sweep.journal.Journal`) take it before they touch any file. Where ``fcntl`` is
missing (not POSIX) directories are not locked.

The lock file is opened without following a symlink (``O_NOFOLLOW``): a ``.jaxdl-lock`` that is
a link is an error naming it, and the file it points to is never truncated. A lock file that
was removed or replaced while this process waited is taken again, so two runs never hold locks
on two different files of one path.
"""

from __future__ import annotations

import os
import socket
from types import ModuleType

from jaxdl.infra.atomic import open_nofollow

fcntl: ModuleType | None
try:  # POSIX; elsewhere a directory is not locked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

LOCK = ".jaxdl-lock"


class DirectoryInUse(ValueError):
    """Another live process (or another open handle in this one) owns the directory."""


def acquire(directory: str, what: str = "directory") -> int | None:
    """Lock ``directory`` (which must exist) for this process; returns the descriptor to pass
    to :func:`release`, or ``None`` where locking is unavailable.

    Args:
      directory: the run directory.
      what: how the error names the directory (``"checkpoint directory"``, ...).

    Returns:
      The lock's file descriptor.

    Raises:
      DirectoryInUse: the lock is held, naming the owner's PID and the lock file.
      jaxdl.infra.untrusted.UntrustedFileError: the lock file is a symlink (a ``ValueError``).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> fd = acquire(folder)
    >>> try:
    ...     acquire(folder)
    ... except DirectoryInUse as err:
    ...     print("refused")
    refused
    >>> release(fd)
    >>> release(acquire(folder))
    """
    if fcntl is None:  # pragma: no cover
        return None
    path = os.path.join(directory, LOCK)
    while True:
        fd = open_nofollow(path, "r+", what=f"lock file of the {what}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            owner = _read_text(path) or "unknown"
            raise DirectoryInUse(
                f"{what} {directory} is in use by another run (PID {owner}, lock {path}); wait "
                "for it to finish or choose another directory"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # removed by its owner (release(remove=True)) after we opened it: again
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
    return fd


def release(fd: int | None, directory: str | None = None) -> None:
    """Drop the lock taken by :func:`acquire`.

    Args:
      fd: the descriptor :func:`acquire` returned (``None``: nothing to do).
      directory: also remove the lock file of this directory, while still holding it (an
        output directory keeps no trace of the lock); without it the file stays, unlocked.
    """
    if fd is None:
        return
    if directory is not None:
        path = os.path.join(directory, LOCK)
        try:
            if _same_file(fd, path):
                os.remove(path)
        except OSError:
            pass
    os.close(fd)  # closing the descriptor drops the flock


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        here, there = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
