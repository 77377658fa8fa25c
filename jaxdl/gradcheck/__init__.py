"""Gradient checking: backprop gradients against two-sided finite differences, in one package.

- :mod:`jaxdl.gradcheck.check`: :func:`gradcheck` and its report
- :mod:`jaxdl.gradcheck.models`: :func:`check_model` (any model) and :func:`check_mlp` (the
  built-in MLP problem); every entry point's name is importable from here
- :mod:`jaxdl.gradcheck.finite_differences`: the ``2 * n`` loss evaluations under ``vmap``
- :mod:`jaxdl.gradcheck.flat_loss`: a loss over flat parameter leaves
- :mod:`jaxdl.gradcheck.kinks`: coordinates whose step crosses a ReLU-like corner
- :mod:`jaxdl.gradcheck.float64`: float64 copies of parameters and data

Example:
  >>> import jax.numpy as jnp
  >>> import jaxdl
  >>> report = jaxdl.gradcheck.gradcheck(lambda p, x: jnp.sum(jnp.tanh(p["w"] * x)),
  ...                                    {"w": jnp.ones(3)}, jnp.arange(3.0))
  >>> report.passed
  True

Calling the package itself (``jaxdl.gradcheck(...)``, the spelling of earlier releases) still
runs :func:`gradcheck` for one more release, with a ``DeprecationWarning``.
"""

from jaxdl.gradcheck.check import (
    GREAT,
    LIKELY_BUG,
    MEMORY_BUDGET_BYTES,
    OWN_GROUP_SIZE,
    Coordinate,
    GradcheckResult,
    LeafCheck,
    gradcheck,
    leaf_path,
    relative_difference,
    verdict,
)
from jaxdl.gradcheck.models import check_mlp, check_model, mlp_problem
from jaxdl.infra.deprecation import callable_module

__all__ = [
    "GREAT",
    "LIKELY_BUG",
    "MEMORY_BUDGET_BYTES",
    "OWN_GROUP_SIZE",
    "Coordinate",
    "GradcheckResult",
    "LeafCheck",
    "check_mlp",
    "check_model",
    "gradcheck",
    "leaf_path",
    "mlp_problem",
    "relative_difference",
    "verdict",
]

callable_module(__name__, gradcheck)
