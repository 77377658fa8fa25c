"""Cached, checksummed downloads of public data files (standard library only).

:func:`fetch_file` downloads ``url`` once into a cache folder and returns the local path; every
later call finds the file there and only checks it. The cache folder is, in order of precedence, the
``cache_dir`` argument, ``$JAXDL_DATA_DIR``, or ``$XDG_CACHE_HOME/jaxdl/datasets``
(``~/.cache/jaxdl/datasets`` when ``XDG_CACHE_HOME`` is unset).

- The bytes go to ``<filename>.part`` next to the destination, which is renamed to ``<filename>``
  (``os.replace``, then the folder is synced) only after its SHA-256 matched the published sum:
  a half-written or wrong file never has the final name.
- An interrupted download (a dropped connection, a timeout, a killed process) leaves the
  ``.part`` file; the next attempt asks the server for the rest (an HTTP ``Range`` request) and
  starts again from the first byte when the server does not support ranges. A dropped
  connection is retried (``retries`` times) within one call.
- Every network operation has a timeout, and a download larger than ``max_bytes`` is refused.
- Only ``http`` and ``https`` URLs are fetched; only regular files are read from the cache.
- A failure is one :class:`DownloadError` (an ``OSError``) naming the URL, the file name and
  where to put the file by hand; a wrong checksum is a :class:`ChecksumError`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from types import ModuleType
from typing import Any

from jaxdl.infra.atomic import fsync_directory, open_nofollow
from jaxdl.infra.untrusted import DEFAULT_MAX_BYTES, UntrustedFileError, open_regular

fcntl: ModuleType | None
try:  # POSIX; elsewhere two processes downloading one file at once are not kept apart.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["ENV_VAR", "ChecksumError", "DownloadError", "fetch_file", "resolve_cache_dir",
           "sha256_of"]

#: The environment variable that names the cache folder.
ENV_VAR = "JAXDL_DATA_DIR"
#: Bytes read from the network at a time.
CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


class DownloadError(OSError):
    """A file that could not be downloaded (no network, an HTTP error, too large, interrupted
    too often). The message names the URL, the file and where to put it by hand.

    Examples:
      >>> from jaxdl.data.download import DownloadError
      >>> issubclass(DownloadError, OSError)
      True
    """


class ChecksumError(DownloadError):
    """A downloaded file whose SHA-256 differs from the published one (it is deleted).

    Examples:
      >>> from jaxdl.data.download import ChecksumError, DownloadError
      >>> issubclass(ChecksumError, DownloadError)
      True
    """


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> str:
    """The folder that holds downloaded data files (it is not created here).

    ``cache_dir`` if given, else ``$JAXDL_DATA_DIR``, else ``$XDG_CACHE_HOME/jaxdl/datasets``
    (``~/.cache/jaxdl/datasets`` when ``XDG_CACHE_HOME`` is unset).

    Args:
      cache_dir: an explicit folder, or ``None``.

    Returns:
      The folder as an absolute path.

    Examples:
      >>> import os
      >>> from jaxdl.data.download import resolve_cache_dir
      >>> resolve_cache_dir("/data/jaxdl")
      '/data/jaxdl'
      >>> os.path.isabs(resolve_cache_dir())
      True
    """
    if cache_dir is not None:
        folder = os.fspath(cache_dir)
    elif os.environ.get(ENV_VAR):
        folder = os.environ[ENV_VAR]
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "jaxdl", "datasets")
    return os.path.abspath(os.path.expanduser(folder))


def sha256_of(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The SHA-256 of the regular file ``path`` as 64 hex digits, read in chunks.

    Examples:
      >>> import hashlib, os, tempfile
      >>> from jaxdl.data.download import sha256_of
      >>> path = os.path.join(tempfile.mkdtemp(), "a.bin")
      >>> _ = open(path, "wb").write(b"abc")
      >>> sha256_of(path) == hashlib.sha256(b"abc").hexdigest()
      True
    """
    digest = hashlib.sha256()
    fd = open_regular(path, what="data file", max_bytes=max_bytes)
    with os.fdopen(fd, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_args(url: str, filename: str, sha256: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    if not _NAME.fullmatch(filename):
        raise ValueError(f"filename must be a plain file name (letters, digits, '._+-', no "
                         f"folders), got {filename!r}")
    sha = sha256.lower()
    if not _SHA256.fullmatch(sha):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return sha


def _by_hand(url: str, target: str, sha256: str) -> str:
    return f"download it by hand and save it as {target} (its SHA-256 must be {sha256})"


class _Restart(Exception):
    """The server ignored or refused the range: download again from the first byte."""


def _open_part(part: str) -> int:
    """Open (or create) the partial file for reading and appending, refusing a symlink or
    anything but a regular file, and lock it against a second download of the same file."""
    try:
        fd = open_nofollow(part, "r+", what="partial download")
    except UntrustedFileError:
        raise
    except OSError as err:
        raise DownloadError(f"cannot write the partial download {part}: {err.strerror}; remove "
                            "it and try again") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DownloadError(f"the partial download {part} is not a regular file; remove it and "
                            "try again")
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DownloadError(f"another process is downloading {part} right now; wait for it "
                                "to finish and run again") from None
    return fd


def _hash_prefix(fd: int) -> tuple[Any, int]:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    size = 0
    while block := os.read(fd, CHUNK):
        digest.update(block)
        size += len(block)
    return digest, size


def _transfer(url: str, fd: int, timeout: float, max_bytes: int,
              progress: Callable[[int, int | None], None] | None) -> Any:
    """Append the rest of ``url`` to the open partial file ``fd``; the SHA-256 of the whole.

    Raises ``_Restart`` when the partial file must be dropped, the network errors otherwise.
    """
    digest, have = _hash_prefix(fd)
    headers = {"User-Agent": "jaxdl", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - scheme checked
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the range starts at or past the end: start again
            err.close()
            raise _Restart from None
        raise
    with response:
        status = response.status
        if have and status == 206:
            first = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not first or int(first.group(1)) != have:
                raise _Restart
        elif status != 200:
            raise DownloadError(f"unexpected HTTP status {status} from {url}")
        elif have:  # the server sent the whole file again
            os.ftruncate(fd, 0)
            digest, have = hashlib.sha256(), 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            os.ftruncate(fd, 0)
            raise DownloadError(f"{url} has {total} bytes, more than the limit of {max_bytes}")
        os.lseek(fd, have, os.SEEK_SET)
        while block := response.read(CHUNK):
            have += len(block)
            if have > max_bytes:
                os.ftruncate(fd, 0)
                raise DownloadError(f"{url} sent more than the limit of {max_bytes} bytes")
            digest.update(block)
            os.write(fd, block)
            if progress is not None:
                progress(have, total)
        if total is not None and have < total:
            raise http.client.IncompleteRead(b"", total - have)
    os.fsync(fd)
    return digest


def fetch_file(
    url: str,
    filename: str,
    sha256: str,
    cache_dir: str | os.PathLike | None = None,
    *,
    timeout: float = 60.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    retries: int = 3,
    progress: Callable[[int, int | None], None] | None = None,
) -> str:
    """Download ``url`` as ``filename`` into the cache folder, once, and return its path.

    A file already cached under ``filename`` with the right SHA-256 is returned without any
    network access. Otherwise the file is downloaded to ``filename + ".part"`` (continuing a
    partial download with an HTTP ``Range`` request where the server allows it), checked against
    ``sha256`` and only then renamed to ``filename``.

    Args:
      url: an ``http://`` or ``https://`` address.
      filename: the name in the cache folder (no folders).
      sha256: the published SHA-256 of the file, 64 hex digits.
      cache_dir: the cache folder (see :func:`resolve_cache_dir`); created when missing.
      timeout: seconds to wait for the connection and for each read.
      max_bytes: the largest download accepted.
      retries: further attempts after a dropped connection or a timeout.
      progress: called as ``progress(bytes_so_far, total_or_None)`` after each chunk.

    Returns:
      The path of the checked file.

    Raises:
      ValueError: a bad ``url``, ``filename`` or ``sha256``.
      DownloadError: no network, an HTTP error, a file over ``max_bytes``; the message says where
        to put the file by hand.
      ChecksumError: the downloaded file has another SHA-256 (it is deleted).
      jaxdl.infra.untrusted.UntrustedFileError: the cached path is not a regular file.

    Examples:
      >>> import hashlib, os, tempfile
      >>> from jaxdl.data.download import fetch_file
      >>> folder = tempfile.mkdtemp()
      >>> _ = open(os.path.join(folder, "a.txt"), "wb").write(b"cached")
      >>> path = fetch_file("https://example.org/a.txt", "a.txt",
      ...              hashlib.sha256(b"cached").hexdigest(), folder)  # no network needed
      >>> path == os.path.join(folder, "a.txt")
      True
    """
    sha = _check_args(url, filename, sha256)
    folder = resolve_cache_dir(cache_dir)
    target = os.path.join(folder, filename)
    if os.path.lexists(target):
        too_big = os.path.isfile(target) and os.path.getsize(target) > max_bytes
        if not too_big and sha256_of(target, max_bytes=max_bytes) == sha:
            return target
        # A stale or damaged copy: download again; the good file replaces it atomically.
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise DownloadError(f"cannot create the data folder {folder}: {err.strerror}; "
                            + _by_hand(url, target, sha)) from None
    part = target + ".part"
    fd = _open_part(part)
    try:
        digest = _download(url, fd, timeout, max_bytes, retries, progress, target, sha)
        got = digest.hexdigest()
        if got != sha:
            os.ftruncate(fd, 0)
            raise ChecksumError(f"{url} downloaded with SHA-256 {got}, not the published "
                                f"{sha}: the file is damaged or has changed; deleted it. Try "
                                "again, or " + _by_hand(url, target, sha))
        os.replace(part, target)
        fsync_directory(folder)
    finally:
        os.close(fd)
        if os.path.isfile(part) and os.path.getsize(part) == 0:
            os.remove(part)
    return target


def _download(url: str, fd: int, timeout: float, max_bytes: int, retries: int,
              progress: Callable[[int, int | None], None] | None, target: str,
              sha: str) -> Any:
    """:func:`_transfer` with retries; every failure becomes one :class:`DownloadError`."""
    failures = 0
    while True:
        try:
            return _transfer(url, fd, timeout, max_bytes, progress)
        except _Restart:
            os.ftruncate(fd, 0)
            failures += 1
            reason = "the server refused to continue the partial download"
        except DownloadError as err:
            raise DownloadError(f"{err}; " + _by_hand(url, target, sha)) from None
        except urllib.error.HTTPError as err:
            raise DownloadError(f"cannot download {url}: HTTP {err.code} {err.reason}; "
                                + _by_hand(url, target, sha)) from None
        except urllib.error.URLError as err:  # refused, no route, no DNS: do not retry
            raise DownloadError(f"cannot download {url} ({err.reason}); you may be offline; "
                                + _by_hand(url, target, sha)) from None
        except (http.client.HTTPException, ConnectionError, TimeoutError) as err:
            failures += 1  # dropped mid-way: the partial file is kept and continued
            reason = f"the connection broke ({type(err).__name__}: {err})"
        if failures > retries:
            raise DownloadError(f"cannot download {url}: {reason}, {failures} times; run again "
                                "to continue, or " + _by_hand(url, target, sha))
