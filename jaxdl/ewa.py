"""Exponentially weighted averages with bias correction, shared by optimizers and batch norm.

    v_t = beta * v_{t-1} + (1 - beta) * theta_t,      v_0 = 0
    v_hat_t = v_t / (1 - beta**t)                     (bias correction)

With bias correction the first average equals the first sample exactly; without it,
``v_1 = (1 - beta) * theta_1``. Averaging over the last ``1 / (1 - beta)`` samples is the
usual reading of ``beta``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from jaxdl.checks import check_beta
from jaxdl.typing import HyperParam, PyTree


def compute_dtype(dtype: Any) -> Any:
    """The dtype averages are formed in: at least float32 (bfloat16 moments lose the small
    increments ``(1 - beta) * x``).

    Args:
      dtype: the dtype of the values being averaged.

    Returns:
      ``dtype`` promoted to at least float32.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import ewa
      >>> ewa.compute_dtype(jnp.bfloat16)
      dtype('float32')
    """
    return jnp.result_type(dtype, jnp.float32)


def update(average: PyTree, value: PyTree, beta: HyperParam) -> PyTree:
    """One EWA step, leaf by leaf: ``v = beta * v + (1 - beta) * x``.

    Arithmetic runs in the average's dtype (at least float32); the result keeps that dtype.

    Args:
      average: the running averages ``v`` (a pytree of arrays).
      value: the new samples ``x``, a pytree of the same structure.
      beta: the decay rate in ``[0, 1)``; may be traced.

    Returns:
      The updated averages, with ``average``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import ewa
      >>> ewa.update({"w": jnp.zeros(2)}, {"w": jnp.array([1.0, 2.0])}, 0.9)["w"].tolist()
      [0.1, 0.2]
    """

    def leaf(a, x):
        b = jnp.asarray(beta, compute_dtype(a.dtype))
        return (b * a + (1 - b) * x.astype(b.dtype)).astype(a.dtype)

    return jax.tree.map(leaf, average, value)


def correction(beta: HyperParam, count: ArrayLike, dtype: Any = jnp.float32) -> jax.Array:
    """The bias-correction denominator ``1 - beta**count``.

    Args:
      beta: the decay rate in ``[0, 1)``.
      count: the number of updates so far (``>= 1``).
      dtype: the dtype of the averages it divides.

    Returns:
      ``1 - beta**count`` in at least float32.

    Examples:
      >>> from jaxdl import ewa
      >>> round(float(ewa.correction(0.9, 2)), 4)
      0.19
    """
    b = jnp.asarray(beta, compute_dtype(dtype))
    return 1 - b ** jnp.asarray(count, b.dtype)


def debias(average: PyTree, beta: HyperParam, count: ArrayLike) -> PyTree:
    """Bias-corrected averages ``v_hat = v / (1 - beta**count)``.

    Args:
      average: the running averages ``v`` (a pytree of arrays).
      beta: the decay rate in ``[0, 1)``.
      count: the number of updates that formed ``average`` (``>= 1``).

    Returns:
      The corrected averages, with ``average``'s structure and dtypes.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import ewa
      >>> v = ewa.update(jnp.zeros(()), jnp.array(5.0), 0.9)   # 0.5 after one sample
      >>> float(ewa.debias(v, 0.9, 1))                          # the first sample exactly
      5.0
    """
    return jax.tree.map(
        lambda a: (a / correction(beta, count, a.dtype)).astype(a.dtype), average
    )


def average(xs: ArrayLike, beta: HyperParam, bias_correction: bool = True) -> jax.Array:
    """All running averages ``v_1 .. v_T`` of ``xs`` along axis 0, in one ``lax.scan``.

    Args:
      xs: the samples ``theta_1 .. theta_T``, stacked on axis 0 (at least one).
      beta: the decay rate in ``[0, 1)``.
      bias_correction: divide ``v_t`` by ``1 - beta**t``.

    Returns:
      An array of ``xs``'s shape (at least float32) holding ``v_t`` (or ``v_hat_t``) at row ``t``.

    Raises:
      ValueError: for ``beta`` outside ``[0, 1)`` or an empty ``xs``.

    Examples:
      >>> from jaxdl import ewa
      >>> [round(v, 3) for v in ewa.average([1.0, 1.0, 1.0], 0.5, bias_correction=False).tolist()]
      [0.5, 0.75, 0.875]
      >>> ewa.average([1.0, 1.0, 1.0], 0.5).tolist()
      [1.0, 1.0, 1.0]
    """
    check_beta("beta", beta)
    xs = jnp.asarray(xs)
    if xs.ndim == 0 or xs.shape[0] == 0:
        raise ValueError(f"xs must have at least one sample along axis 0, got shape {xs.shape}")
    dtype = compute_dtype(xs.dtype)
    xs = xs.astype(dtype)

    def step(v, x):
        v = update(v, x, beta)
        return v, v

    _, vs = lax.scan(step, jnp.zeros(xs.shape[1:], dtype), xs)
    if not bias_correction:
        return vs
    counts = jnp.arange(1, xs.shape[0] + 1).reshape((-1,) + (1,) * (xs.ndim - 1))
    return vs / correction(beta, counts, dtype)
