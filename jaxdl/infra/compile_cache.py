"""Compile once per machine: JAX's persistent XLA compilation cache, in the user's cache folder.

:func:`enable` points ``jax_compilation_cache_dir`` at ``$XDG_CACHE_HOME/jaxdl/xla`` (or
``~/.cache/jaxdl/xla``) and lowers the thresholds that keep small programs out of the cache
(``jax_persistent_cache_min_compile_time_secs`` = 0, ``jax_persistent_cache_min_entry_size_bytes``
= -1), so a second process that compiles the same programs reads the executables from disk
instead of compiling them again.

- The ``jaxdl`` command turns the cache on by default; importing the library does not.
  ``jaxdl --no-compile-cache ...`` or the environment variable ``JAXDL_NO_COMPILE_CACHE=1``
  turn it off.
- The folder (and the ``jaxdl`` folder above it when created here) is made with user-only
  permissions (``0o700``); an existing one is set to ``0o700``. A cached executable is code that
  will run, so a folder owned by another user, or that others may write, is refused
  (``PermissionError``).
- Several processes may share the folder. JAX 0.10.2 writes entries in place
  (``LRUCache.put`` is a plain ``write_bytes``), so a reader could see half an entry, and a process
  killed while writing leaves a truncated one that JAX never replaces. Where JAX's internal hook
  is available this module installs :class:`AtomicFileCache` instead: every entry is written to a
  temporary file and renamed into place (readers see all of it or nothing), and an entry is
  rewritten after every miss, so a damaged one heals on the next run. Without the hook JAX's own
  cache is used.
- A damaged entry never breaks a run: JAX catches the read error, warns and compiles again.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import jax

from jaxdl.infra.atomic import atomic_write

ENV_DISABLE = "JAXDL_NO_COMPILE_CACHE"
_SUFFIX = "-cache"  # JAX's file name for an entry: f"{key}-cache"


def default_directory() -> Path:
    """``$XDG_CACHE_HOME/jaxdl/xla``, or ``~/.cache/jaxdl/xla`` when that variable is unset.

    >>> default_directory().parts[-2:]
    ('jaxdl', 'xla')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxdl" / "xla"


def disabled_by_environment() -> bool:
    """True when ``JAXDL_NO_COMPILE_CACHE`` is set to anything but ``""``/``"0"``/``"false"``."""
    return os.environ.get(ENV_DISABLE, "").strip().lower() not in ("", "0", "false", "no")


def _private_directory(path: Path, also: Path | None = None) -> None:
    """Create ``path`` (mode ``0o700``) and check that only this user can use it."""
    for folder in (also, path):
        if folder is None:
            continue
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"compile cache {path} is not a directory")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise PermissionError(
            f"compile cache folder {path} belongs to another user; cached executables there "
            "could run someone else's code. Pass another directory or set "
            f"{ENV_DISABLE}=1"
        )
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise PermissionError(
            f"compile cache folder {path} is writable by other users (mode "
            f"{oct(stat.S_IMODE(info.st_mode))}); cached executables there could run someone "
            f"else's code. Use a private folder or set {ENV_DISABLE}=1"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


class AtomicFileCache:
    """A cache folder of ``{key}-cache`` files (JAX's layout) written atomically.

    ``put`` writes to a temporary file and renames it over the entry (``os.replace``), even when
    the entry exists, so an entry that failed to load (and was therefore compiled again) is
    replaced by a good one. No size limit and no eviction, as JAX's default.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._path = Path(path)

    def get(self, key: str) -> bytes | None:
        """The stored bytes of ``key``, or ``None`` when absent."""
        if not key:
            raise ValueError("key cannot be empty")
        try:
            return (self._path / f"{key}{_SUFFIX}").read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` atomically."""
        if not key:
            raise ValueError("key cannot be empty")
        atomic_write(self._path / f"{key}{_SUFFIX}", lambda f: f.write(value), mode="wb")


def _install(path: Path) -> bool:
    """Make JAX read and write through :class:`AtomicFileCache`; False when JAX lacks the hook."""
    try:
        from jax._src import compilation_cache as cc
    except ImportError:
        return False
    hooks = ("_cache", "_cache_initialized", "_cache_initialized_mutex")
    if not all(hasattr(cc, name) for name in hooks):
        return False
    with cc._cache_initialized_mutex:
        cc._cache = AtomicFileCache(path)  # type: ignore[assignment]  # duck-typed CacheInterface
        cc._cache_initialized = True
    return True


def enable(directory: str | os.PathLike | None = None) -> str | None:
    """Turn on the persistent compilation cache for this process.

    Call it before the first compilation you want cached (the ``jaxdl`` command does so first).

    Args:
        directory: the cache folder; ``None`` for :func:`default_directory`. Created with mode
            ``0o700``; an existing one must belong to this user, must not be writable by others,
            and is set to ``0o700``.

    Returns:
        The folder in use, or ``None`` when ``JAXDL_NO_COMPILE_CACHE`` turns the cache off.

    >>> import os, tempfile
    >>> from unittest import mock
    >>> folder = os.path.join(tempfile.mkdtemp(), "xla")
    >>> with mock.patch.dict(os.environ, {"JAXDL_NO_COMPILE_CACHE": ""}):
    ...     enable(folder) == folder, oct(os.stat(folder).st_mode & 0o777)
    (True, '0o700')
    >>> disable()
    """
    if disabled_by_environment():
        return None
    default = directory is None
    path = default_directory() if directory is None else Path(os.fspath(directory))
    path = path.expanduser().absolute()
    _private_directory(path, also=path.parent if default else None)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    _reset()
    _install(path)
    return str(path)


def _reset() -> None:
    from jax.experimental.compilation_cache import compilation_cache as cc

    cc.reset_cache()


def disable() -> None:
    """Turn the persistent cache off for this process (later compilations are not cached)."""
    jax.config.update("jax_compilation_cache_dir", None)
    _reset()


def enable_for_command(turned_off: bool) -> str | None:
    """What the ``jaxdl`` command calls: :func:`enable` unless ``turned_off`` (its
    ``--no-compile-cache`` flag) or the environment variable says no. A cache that cannot be set
    up (read-only home, a folder of another user) prints one note and the command runs without.
    """
    if turned_off:
        return None
    try:
        return enable()
    except OSError as err:
        print(
            f"jaxdl: note: compile cache off: {err} (set {ENV_DISABLE}=1 to silence)",
            file=sys.stderr,
        )
        return None

