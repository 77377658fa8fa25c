"""Renamed functions keep working under their old names for a while, with a warning.

A module lists its old names in ``__getattr__ = deprecated_aliases(__name__, {"old": new})``
(PEP 562): the old name is not an attribute of the module, so it stays out of ``dir()``, the API
reference and the public-namespace check, and each use warns with a ``DeprecationWarning`` that
names the replacement.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def deprecated_aliases(module: str, renamed: Mapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves old names of renamed objects with a warning.

    Args:
      module: the module's ``__name__``.
      renamed: old name -> the object that replaces it.

    Returns:
      A function ``__getattr__(name)`` for the module.

    Examples:
      >>> import warnings
      >>> from jaxdl.deprecation import deprecated_aliases
      >>> getattr_ = deprecated_aliases("mymodule", {"old": len})
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     getattr_("old") is len
      True
      >>> print(caught[0].message)
      mymodule.old is deprecated; use mymodule.len
    """

    def __getattr__(name: str) -> Any:
        if name in renamed:
            new = renamed[name]
            warnings.warn(
                f"{module}.{name} is deprecated; use {module}.{new.__name__}",
                DeprecationWarning,
                stacklevel=2,
            )
            return new
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
