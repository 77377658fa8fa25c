"""Reading files that a user, or anyone who can edit them, hands to jaxdl.

A file is untrusted input: jaxdl reads only *regular* files (never a FIFO, a device such as
``/dev/zero``, a socket or a directory), never follows a symlink it did not expect, and never
reads past a size limit. The check happens on the open descriptor (``fstat`` after ``open`` with
``O_NONBLOCK``), so a file swapped between a check and the read cannot slip through, and opening a
FIFO does not block.
"""

from __future__ import annotations

import os
import stat

#: The largest file jaxdl reads unless a caller says otherwise: 4 GiB.
DEFAULT_MAX_BYTES = 4 << 30


class UntrustedFileError(ValueError):
    """A file that jaxdl refuses to read: not a regular file, a symlink where none may be, or too
    large. The message names the path and what is wrong.

    >>> issubclass(UntrustedFileError, ValueError)   # the CLI prints it as one error line
    True
    """


def open_regular(
    path: str | os.PathLike,
    *,
    what: str = "file",
    max_bytes: int = DEFAULT_MAX_BYTES,
    follow_symlinks: bool = True,
) -> int:
    """Open ``path`` for reading and return its descriptor, if it is a regular file of at most
    ``max_bytes`` bytes.

    Args:
      path: the file.
      what: how error messages name it (``"--data file"``, ``"manifest"``).
      max_bytes: the size limit.
      follow_symlinks: ``False`` refuses a symlink at ``path`` itself (``O_NOFOLLOW``).

    Returns:
      An open file descriptor (the caller closes it, e.g. with ``os.fdopen``).

    Raises:
      FileNotFoundError: ``path`` does not exist.
      UntrustedFileError: anything that is not a regular file, or is too large.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.infra.untrusted import open_regular, UntrustedFileError
      >>> try:
      ...     open_regular(tempfile.gettempdir(), what="--data file")
      ... except UntrustedFileError as err:
      ...     print(str(err).split(":")[0])
      --data file ... is not a regular file
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    name = os.fspath(path)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise
    except OSError as err:
        if not follow_symlinks and os.path.islink(name):
            raise UntrustedFileError(f"{what} {name!r} is a symlink; jaxdl reads only the file "
                                     "itself (replace the link by a copy)") from None
        if os.path.isdir(name):
            raise UntrustedFileError(f"{what} {name!r} is not a regular file: it is a "
                                     "directory") from None
        raise UntrustedFileError(f"{what} {name!r} cannot be opened: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _kind(info.st_mode)
            raise UntrustedFileError(f"{what} {name!r} is not a regular file: it is {kind}; "
                                     "jaxdl reads only regular files")
        if info.st_size > max_bytes:
            raise UntrustedFileError(f"{what} {name!r} has {info.st_size} bytes, more than the "
                                     f"limit of {max_bytes}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(
    path: str | os.PathLike,
    *,
    what: str = "file",
    max_bytes: int = DEFAULT_MAX_BYTES,
    follow_symlinks: bool = True,
) -> bytes:
    """The content of the regular file ``path`` (see :func:`open_regular` for the checks).

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.infra.untrusted import read_bytes
      >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
      >>> _ = open(p, "w").write("1,2")
      >>> read_bytes(p)
      b'1,2'
    """
    fd = open_regular(path, what=what, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after the check
        raise UntrustedFileError(f"{what} {os.fspath(path)!r} is larger than the limit of "
                                 f"{max_bytes} bytes")
    return data


def check_regular(path: str | os.PathLike, *, what: str = "file",
                  max_bytes: int = DEFAULT_MAX_BYTES, follow_symlinks: bool = True) -> None:
    """Raise as :func:`open_regular` would if ``path`` is not a readable regular file within the
    limit; for readers (``numpy.load``, h5py) that open the path themselves."""
    os.close(open_regular(path, what=what, max_bytes=max_bytes, follow_symlinks=follow_symlinks))


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not an ordinary file"
