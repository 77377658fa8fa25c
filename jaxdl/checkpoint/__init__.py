"""Checkpoints that never lose a run: verified files, one owner per directory, automatic fallback.

A checkpoint is one ``.npz`` file named ``ckpt-NNNNNN.npz`` (the epoch, six digits or more):
the pytree's leaves in flattening order (``leaf_0``, ``leaf_1``, ...), a JSON ``meta`` entry and
a ``checksum``, the SHA-256 over every other entry's name, dtype, shape and bytes. Files are
written with :func:`jaxdl.infra.atomic.atomic_write` (temporary file, fsync, rename, fsync of the
directory), so a reader sees the old file or the complete new one. Every failure to read one,
whatever the damage, is a :class:`CorruptCheckpoint`.

A run owns its directory through :class:`CheckpointDir`: an advisory lock on ``.jaxdl-lock``
(:mod:`jaxdl.infra.dirlock`: it holds the owner's PID, and the operating system drops it when that
process dies, so a stale lock is simply taken over), removal of the temporary files of a killed
write, refusal of a fresh run
into a directory that already holds checkpoints (unless ``overwrite``), and resume from the
newest checkpoint that reads back intact, warning about every newer one it had to skip.
Only names matching the exact pattern are listed, resumed from or pruned.

The file format is :mod:`jaxdl.checkpoint.file_format`, the directory
:mod:`jaxdl.checkpoint.directory`; every name of both is importable from ``jaxdl.checkpoint``.
"""

from jaxdl.checkpoint import directory, file_format
from jaxdl.checkpoint.directory import (
    LOCK,
    TEMPORARY,
    CheckpointDir,
    CheckpointWarning,
    differences,
)
from jaxdl.checkpoint.file_format import (
    CHECKSUM,
    META,
    NAME,
    PREFIX,
    CheckpointError,
    CorruptCheckpoint,
    content_hash,
    epoch_of,
    list_checkpoints,
    path_for,
    read,
    restore,
    save,
    unflatten,
)
from jaxdl.infra.deprecation import deprecated_aliases

__all__ = [
    "CHECKSUM",
    "LOCK",
    "META",
    "NAME",
    "PREFIX",
    "TEMPORARY",
    "CheckpointDir",
    "CheckpointError",
    "CheckpointWarning",
    "CorruptCheckpoint",
    "content_hash",
    "differences",
    "directory",
    "epoch_of",
    "file_format",
    "list_checkpoints",
    "path_for",
    "read",
    "restore",
    "save",
    "unflatten",
]

__getattr__ = deprecated_aliases(__name__, {"load": restore})
