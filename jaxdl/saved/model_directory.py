"""The saved model's directory: whether a path may become (or be replaced by) a saved model
(:func:`check_target`), and moving a finished temporary directory into place
(:func:`install`).
"""

from __future__ import annotations

import os
import tempfile
import warnings

from jaxdl.saved.file_format import (
    ARRAYS,
    MANIFEST,
)


def check_target(path: str, overwrite: bool) -> None:
    """``path`` may become a saved model: it does not exist, or ``overwrite`` and it is a saved
    model holding only the files jaxdl wrote (``manifest.json`` and ``arrays.npz``).

    ``overwrite`` never deletes anything else: a directory that also holds other files (notes,
    plots) is refused, and the error names them.

    >>> from jaxdl.saved.file_format import MANIFEST, check_target
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in (MANIFEST, "notes.txt"):
    ...     _ = open(os.path.join(folder, name), "w").write("{}")
    >>> check_target(folder, overwrite=True)
    Traceback (most recent call last):
    ValueError: ... holds files that jaxdl did not write (notes.txt); ...
    """
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise FileExistsError(
            f"{path} exists already; choose a new directory or pass overwrite=True (--overwrite)"
        )
    if os.path.islink(path):
        raise ValueError(f"{path} is a symlink; refusing to replace it: remove the link or "
                         "choose another directory")
    if not os.path.isfile(os.path.join(path, MANIFEST)):
        raise ValueError(f"{path} exists and is not a saved model; refusing to replace it")
    others = sorted(set(os.listdir(path)) - {MANIFEST, ARRAYS})
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise ValueError(
            f"{path} holds files that jaxdl did not write ({shown}); overwrite=True "
            f"(--overwrite) replaces only a saved model's {MANIFEST} and {ARRAYS}: move the "
            "other files out, or choose another directory"
        )


def install(tmp: str, path: str) -> None:
    """Rename the finished directory ``tmp`` to ``path``; an existing ``path`` is moved aside
    first, then its manifest and arrays are removed (anything else that appeared meanwhile is
    kept, with a warning).

    >>> from jaxdl.saved.file_format import install
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> tmp = os.path.join(root, ".m.tmp"); os.mkdir(tmp)
    >>> install(tmp, os.path.join(root, "m")); os.listdir(root)
    ['m']
    """
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    old = tempfile.mkdtemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.old-")
    os.rmdir(old)
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(old, path)
        raise
    for name in (MANIFEST, ARRAYS):
        try:
            os.remove(os.path.join(old, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(old)
    except OSError:
        warnings.warn(f"{path}: files other than a saved model's appeared while it was "
                      f"replaced; they are kept in {old}", stacklevel=3)
