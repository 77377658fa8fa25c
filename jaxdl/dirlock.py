"""One live owner per run directory: an advisory lock on ``.jaxdl-lock`` inside it.

The lock file holds the owner's PID and host. The lock is an ``flock`` on an open descriptor,
so the operating system drops it when the owner closes it or dies: a stale lock left by a killed
run is simply taken over, never deleted by hand. Checkpoint directories
(:class:`jaxdl.checkpoint.CheckpointDir`) and sweep directories
(:class:`jaxdl.sweep.journal.Journal`) take it before they touch any file. Where ``fcntl`` is
missing (not POSIX) directories are not locked.
"""

from __future__ import annotations

import os
import socket
from types import ModuleType

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
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        owner = _read_text(path) or "unknown"
        raise DirectoryInUse(
            f"{what} {directory} is in use by another run (PID {owner}, lock {path}); wait "
            "for it to finish or choose another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
    return fd


def release(fd: int | None) -> None:
    """Drop the lock taken by :func:`acquire` (the lock file stays, unlocked)."""
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


def _read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""
