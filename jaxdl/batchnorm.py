"""Batch normalization of pre-activations ``z`` (batch, units).

Training, with the mini-batch statistics (rows weighted by ``mask``; padding has weight 0):

    mu = mean(z),   var = mean((z - mu)**2),   z_norm = (z - mu) / sqrt(var + eps)
    out = gamma * z_norm + beta

Running statistics are exponentially weighted averages of the batch ``mu`` and ``var``
(``jaxdl.ewa``; ``momentum`` is the EWA's beta) and are read bias-corrected,
``avg / (1 - momentum**count)``, so the first batches are not pulled towards a 0/1 prior.
At test time ``out = gamma * (z - running_mu) / sqrt(running_var + eps) + beta``.
Under ``jax.vmap`` every member keeps its own statistics.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import ewa

Stats = dict[str, jax.Array]


def init_stats(units: int) -> Stats:
    """Zeroed (biased) running averages of the mean and the variance."""
    return {"mean": jnp.zeros((units,), jnp.float32), "var": jnp.zeros((units,), jnp.float32)}


def batch_stats(z: jax.Array, mask: jax.Array | None = None) -> Stats:
    """Per-unit mean and (population) variance over the batch, in float32, weighted by ``mask``."""
    z = z.astype(jnp.promote_types(z.dtype, jnp.float32))
    w = jnp.ones(z.shape[:1], z.dtype) if mask is None else mask.astype(z.dtype)
    total = jnp.maximum(jnp.sum(w), 1)
    mean = jnp.einsum("b,bu->u", w, z) / total
    var = jnp.einsum("b,bu->u", w, jnp.square(z - mean)) / total
    return {"mean": mean, "var": var}


def running_stats(stats: Stats, count: jax.Array, momentum: Any) -> Stats:
    """Bias-corrected running statistics; before any update, mean 0 and variance 1."""
    debiased = ewa.debias(stats, momentum, jnp.maximum(count, 1))
    trained = count > 0
    return {
        "mean": jnp.where(trained, debiased["mean"], 0.0),
        "var": jnp.where(trained, debiased["var"], 1.0),
    }


def normalize(
    z: jax.Array, stats: Stats, gamma: jax.Array, beta: jax.Array, eps: float
) -> jax.Array:
    """``gamma * (z - mean) / sqrt(var + eps) + beta``."""
    z_norm = (z - stats["mean"]) * jax.lax.rsqrt(stats["var"] + eps)
    return (gamma * z_norm + beta).astype(z.dtype)


def batch_norm(
    z: jax.Array,
    gamma: jax.Array,
    beta: jax.Array,
    stats: Stats,
    count: jax.Array,
    *,
    train: bool,
    momentum: Any,
    eps: float,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, Stats]:
    """Normalize ``z`` and return it with the updated running statistics (unchanged at eval)."""
    if not train:
        return normalize(z, running_stats(stats, count, momentum), gamma, beta, eps), stats
    current = batch_stats(z, mask)
    new_stats = ewa.update(stats, jax.lax.stop_gradient(current), momentum)
    return normalize(z, current, gamma, beta, eps), new_stats
