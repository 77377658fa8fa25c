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

from jaxdl.checks import check_beta

PyTree = Any


def compute_dtype(dtype: Any) -> Any:
    """Averages are formed in at least float32 (bfloat16 moments lose the small increments)."""
    return jnp.result_type(dtype, jnp.float32)


def update(average: PyTree, value: PyTree, beta: Any) -> PyTree:
    """One EWA step, leaf by leaf: ``beta * average + (1 - beta) * value``.

    Arithmetic runs in the average's dtype (at least float32); the result keeps that dtype.
    """

    def leaf(a, x):
        b = jnp.asarray(beta, compute_dtype(a.dtype))
        return (b * a + (1 - b) * x.astype(b.dtype)).astype(a.dtype)

    return jax.tree.map(leaf, average, value)


def correction(beta: Any, count: Any, dtype: Any = jnp.float32) -> jax.Array:
    """The bias-correction denominator ``1 - beta**count`` (``count`` >= 1)."""
    b = jnp.asarray(beta, compute_dtype(dtype))
    return 1 - b ** jnp.asarray(count, b.dtype)


def debias(average: PyTree, beta: Any, count: Any) -> PyTree:
    """Bias-corrected ``average / (1 - beta**count)``; ``count`` is the number of updates."""
    return jax.tree.map(
        lambda a: (a / correction(beta, count, a.dtype)).astype(a.dtype), average
    )


def average(xs: jax.Array, beta: Any, bias_correction: bool = True) -> jax.Array:
    """All running averages ``v_1 .. v_T`` of ``xs`` along axis 0, in one ``lax.scan``."""
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
