"""Renamed functions keep working under their old names for a while, with a warning.

A module lists its old names in ``__getattr__ = deprecated_aliases(__name__, {"old": new})``
(PEP 562): the old name is not an attribute of the module, so it stays out of ``dir()``, the API
reference and the public-namespace check, and each use warns with a ``DeprecationWarning`` that
names the replacement.
"""

from __future__ import annotations

import sys
import types
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
      >>> from jaxdl.infra.deprecation import deprecated_aliases
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


def callable_module(module: str, function: Callable[..., Any]) -> None:
    """Let the module ``module`` be called as ``function`` for one more release, with a warning.

    ``jaxdl.gradcheck`` and ``jaxdl.dropout`` name modules; earlier releases bound the names to the
    functions inside them (which hid the modules). A call of the module still runs the function
    and warns with a ``DeprecationWarning`` that names the new spelling.

    Args:
      module: the module's ``__name__`` (it must already be in ``sys.modules``).
      function: what a call of the module runs.

    Examples:
      >>> import warnings
      >>> import jax
      >>> import jaxdl.dropout
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     _ = jaxdl.dropout(jax.random.key(0), jax.numpy.ones(3), keep_prob=1.0)
      >>> print(caught[0].message)
      calling the module jaxdl.dropout is deprecated; use jaxdl.dropout.dropout(...)
    """
    target = sys.modules[module]

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            warnings.warn(
                f"calling the module {module} is deprecated; use {module}.{function.__name__}(...)",
                DeprecationWarning,
                stacklevel=2,
            )
            return function(*args, **kwargs)

    target.__class__ = CallableModule
