"""Atomic file writes: nothing jaxdl writes to disk is ever seen half-written.

The content goes to a temporary file in the destination's directory, is flushed and synced, gets
the permissions of an ordinary new file (``0o666`` less the umask), and is then renamed over the
destination with ``os.replace``, which is atomic on POSIX and Windows, and the directory is
synced so the rename survives a power cut. On any error the temporary
file is removed and the destination is left as it was.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from jaxdl.infra.untrusted import UntrustedFileError


def umask() -> int:
    """The process's umask (read without changing it), for files made with the usual
    permissions ``0o666 & ~umask()``.

    >>> from jaxdl.infra.atomic import umask
    >>> 0 <= umask() <= 0o777
    True
    """
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_directory(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the platform can sync a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], Any], mode: str = "w") -> str:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it to ``path``.

    Args:
      path: the destination; missing folders are created.
      write: writes the whole content to the open file it is given.
      mode: ``"w"`` (text, no newline translation) or ``"wb"`` (bytes).

    Returns:
      ``path`` as a string.

    Raises:
      ValueError: for another ``mode``; whatever ``write`` raises (``path`` is left as it was).

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.infra.atomic import atomic_write
      >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
      >>> _ = atomic_write(path, lambda f: f.write("hello"))
      >>> open(path).read()
      'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        f: IO[Any] = os.fdopen(fd, "w", newline="") if mode == "w" else os.fdopen(fd, "wb")
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
        fsync_directory(folder)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and err.filename is None:  # e.g. ENOSPC: name the file
            raise OSError(err.errno, f"cannot write {path}: {err.strerror}", path) from err
        raise
    return path


def check_writable(folder: str | os.PathLike, probe_bytes: int = 1 << 16) -> str:
    """Create ``folder`` if needed and prove that ``probe_bytes`` can be written and synced
    there (the probe file is removed); raises ``OSError`` naming ``folder`` otherwise, so a
    read-only or full output directory is found before training, not after.

    >>> from jaxdl.infra.atomic import check_writable
    >>> import tempfile
    >>> check_writable(tempfile.mkdtemp()).startswith("/")
    True
    """
    folder = os.path.abspath(os.fspath(folder))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-probe-")
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(probe_bytes))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise OSError(err.errno, f"cannot write to {folder}: {err.strerror}", folder) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return folder


def open_nofollow(path: str | os.PathLike, mode: str = "a", *, what: str = "file",
                  exclusive: bool = False) -> int:
    """Open ``path`` for writing without following a symlink at ``path`` itself
    (``O_NOFOLLOW``), so a link planted where jaxdl writes a log or a lock can never make it
    truncate or append to the link's target.

    Args:
      path: the file (created with mode ``0o666`` less the umask when missing).
      mode: ``"a"`` (append), ``"w"`` (truncate), ``"r+"`` (read and write, keep the content).
      what: how the error names the file (``"metrics log"``, ``"lock file"``).
      exclusive: ``O_EXCL``: the file must not exist yet.

    Returns:
      An open file descriptor (the caller closes it).

    Raises:
      UntrustedFileError: ``path`` is a symlink (a ``ValueError`` naming it).
      OSError: anything else, e.g. ``FileExistsError`` with ``exclusive``.

    >>> from jaxdl.infra.atomic import open_nofollow
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.symlink(os.path.join(folder, "target"), os.path.join(folder, "metrics.jsonl"))
    >>> open_nofollow(os.path.join(folder, "metrics.jsonl"), what="metrics log")
    Traceback (most recent call last):
    jaxdl.infra.untrusted.UntrustedFileError: metrics log ... is a symlink; ...
    """
    flags = {"a": os.O_WRONLY | os.O_APPEND, "w": os.O_WRONLY | os.O_TRUNC,
             "r+": os.O_RDWR}.get(mode)
    if flags is None:
        raise ValueError(f"mode must be 'a', 'w' or 'r+', got {mode!r}")
    flags |= os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if exclusive:
        flags |= os.O_EXCL
    name = os.fspath(path)
    try:
        return os.open(name, flags, 0o666)
    except OSError as err:
        if os.path.islink(name) and not isinstance(err, FileExistsError):
            raise UntrustedFileError(
                f"{what} {name!r} is a symlink; jaxdl does not write through links (remove the "
                "link, or choose another directory)") from None
        raise


def jsonable(value: Any) -> Any:
    """JSON-ready copy: numpy values to Python, tuples and arrays to lists, NaN/inf to ``None``.

    >>> import numpy as np
    >>> from jaxdl.infra.atomic import jsonable
    >>> jsonable({"a": np.float32(0.5), "b": (1, float("nan"))})
    {'a': 0.5, 'b': [1, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, document: Any) -> str:
    """Write ``document`` as JSON atomically; non-finite numbers become ``null``.

    Numpy scalars and arrays become plain numbers and lists, tuples become lists.

    Args:
      path: the destination.
      document: dicts, lists, tuples, numbers, strings, numpy values.

    Returns:
      ``path`` as a string.

    Examples:
      >>> import json, math, os, tempfile
      >>> from jaxdl.infra.atomic import write_json
      >>> path = write_json(os.path.join(tempfile.mkdtemp(), "r.json"), {"cost": [1.5, math.nan]})
      >>> json.load(open(path))
      {'cost': [1.5, None]}
    """
    text = json.dumps(jsonable(document), indent=1)
    return atomic_write(path, lambda f: f.write(text + "\n"))
