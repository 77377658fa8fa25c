"""Type aliases shared by jaxdl's signatures (one home each).

- ``PyTree``: params, model state, optimizer state, gradients: nested dicts, lists, tuples and
  NamedTuples of arrays. JAX gives pytrees no static type, so this is ``Any`` under a name that
  says what is expected.
- ``HyperParam``: a hyperparameter value a sweep may vary: a Python float, a numpy or JAX array
  (one value per vmapped member) or a tracer inside ``jit``; ``jax.typing.ArrayLike``.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from jax.typing import ArrayLike

PyTree: TypeAlias = Any
HyperParam: TypeAlias = ArrayLike

__all__ = ["ArrayLike", "HyperParam", "PyTree"]
