"""The optional packages that reading images needs (Pillow for image files, h5py for HDF5
files): :func:`require_package` imports one or raises :class:`MissingPackage`, which says how to
install it.
"""

from __future__ import annotations

from typing import Any

INSTALL_HINT = "pip install 'jaxdl[images]'"


class MissingPackage(ImportError, ValueError):
    """An optional package (Pillow, h5py) that reading images needs is not installed; an
    ``ImportError`` and a ``ValueError`` (the command reports it as one line).

    Examples:
      >>> from jaxdl.data.images import MissingPackage
      >>> issubclass(MissingPackage, ImportError) and issubclass(MissingPackage, ValueError)
      True
    """


def require_package(module: str, package: str, purpose: str) -> Any:
    """The module ``module`` (of the package ``package``), imported; :class:`MissingPackage`
    when it is not installed (``purpose`` says what needs it)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackage(f"{purpose} needs {package}, which is not installed; install it "
                             f"with `{INSTALL_HINT}` (or: pip install {package})") from None
