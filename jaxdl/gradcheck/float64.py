"""Float64 copies of arrays for the checks that need double precision (gradient checking,
gradient norms of deep nets at initialization)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def as_float64(leaf: Any) -> jax.Array:
    """``leaf`` as a float64 array, cast on the host (an eager device cast would compile once
    per shape). Call it under ``jax.enable_x64(True)``.

    >>> import jax
    >>> import numpy as np
    >>> from jaxdl.gradcheck.float64 import as_float64
    >>> with jax.enable_x64(True):
    ...     print(as_float64(np.float32(0.5)).dtype)
    float64
    """
    return jnp.asarray(np.asarray(leaf, dtype=np.float64))


def to_float64(leaf: Any) -> Any:
    """Floating arrays and Python floats to float64 (see :func:`as_float64`); other leaves
    (integers, objects) unchanged.

    >>> import jax
    >>> import numpy as np
    >>> from jaxdl.gradcheck.float64 import to_float64
    >>> with jax.enable_x64(True):
    ...     print(to_float64(np.ones(2, np.float32)).dtype, to_float64(np.arange(2)).dtype)
    float64 int64
    """
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:  # a Python number, or an object that is no array (a model)
        return as_float64(leaf) if isinstance(leaf, float) else leaf
    if jnp.issubdtype(dtype, jnp.floating):
        return as_float64(leaf)
    return leaf
