"""Batch normalization of pre-activations ``z`` (batch, units), or (batch, ..., units) for a
feature map (the statistics then run over the batch and every position).

Training, with the mini-batch statistics (rows weighted by ``mask``; padding has weight 0):

    mu = mean(z),   var = mean((z - mu)**2),   z_norm = (z - mu) / sqrt(var + eps)
    out = gamma * z_norm + beta

and its gradient in closed form (one pass; ``w`` the row weights, ``n = sum(w)``, sums over
all rows):

    dbeta = sum(dout),   dgamma = sum(dout * z_norm)
    dz = gamma / sqrt(var + eps) * (dout - w * (dbeta + z_norm * dgamma) / n)

Running statistics are exponentially weighted averages of the batch ``mu`` and ``var``
(``jaxdl.ewa``; ``momentum`` is the EWA's beta) and are read bias-corrected,
``avg / (1 - momentum**count)``, so the first batches are not pulled towards a 0/1 prior.
At test time ``out = gamma * (z - running_mu) / sqrt(running_var + eps) + beta``.
Under ``jax.vmap`` every member keeps its own statistics.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jaxdl import ewa
from jaxdl.typing import HyperParam

Stats = dict[str, jax.Array]


def init_stats(units: int) -> Stats:
    """Zeroed (biased) running averages of the mean and the variance.

    Args:
      units: the number of units normalized.

    Returns:
      ``{"mean": zeros(units), "var": zeros(units)}`` in float32.

    Examples:
      >>> from jaxdl import batchnorm
      >>> batchnorm.init_stats(2)["var"].tolist()
      [0.0, 0.0]
    """
    return {"mean": jnp.zeros((units,), jnp.float32), "var": jnp.zeros((units,), jnp.float32)}


def batch_stats(z: jax.Array, mask: jax.Array | None = None) -> Stats:
    """Per-unit mean and (population) variance over the batch, weighted by ``mask``.

    ``mu = sum(w z) / sum(w)``, ``var = sum(w (z - mu)**2) / sum(w)``, in at least float32.

    Args:
      z: pre-activations ``(batch, units)`` or ``(batch, ..., units)``.
      mask: optional ``(batch,)`` 0/1 row weights; rows with 0 (padding) are ignored.

    Returns:
      ``{"mean": mu, "var": var}``, each ``(units,)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import batchnorm
      >>> z = jnp.array([[1.0], [3.0], [100.0]])
      >>> stats = batchnorm.batch_stats(z, mask=jnp.array([1.0, 1.0, 0.0]))
      >>> stats["mean"].tolist(), stats["var"].tolist()
      ([2.0], [1.0])
    """
    z = z.astype(jnp.promote_types(z.dtype, jnp.float32))
    weights = jnp.ones(z.shape[:1], z.dtype) if mask is None else mask.astype(z.dtype)
    mean, var, _ = _weighted_stats(z, weights)
    return {"mean": mean, "var": var}


def running_stats(stats: Stats, count: jax.Array, momentum: HyperParam) -> Stats:
    """Bias-corrected running statistics ``avg / (1 - momentum**count)``.

    Args:
      stats: the (biased) running averages ``{"mean", "var"}``.
      count: the number of training batches averaged in.
      momentum: the EWA's beta in ``[0, 1)``.

    Returns:
      The corrected ``{"mean", "var"}``; before any update, mean 0 and variance 1.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import batchnorm
      >>> stats = {"mean": jnp.array([0.2]), "var": jnp.array([0.4])}   # one update, beta 0.9
      >>> [round(v, 4) for v in batchnorm.running_stats(stats, 1, 0.9)["mean"].tolist()]
      [2.0]
    """
    debiased = ewa.debias(stats, momentum, jnp.maximum(count, 1))
    trained = count > 0
    return {
        "mean": jnp.where(trained, debiased["mean"], 0.0),
        "var": jnp.where(trained, debiased["var"], 1.0),
    }


def normalize(
    z: jax.Array, stats: Stats, gamma: jax.Array, beta: jax.Array, eps: float
) -> jax.Array:
    """``gamma * (z - mean) / sqrt(var + eps) + beta``.

    Args:
      z: pre-activations ``(batch, units)``.
      stats: the ``{"mean", "var"}`` to normalize with.
      gamma: the learned scale ``(units,)``.
      beta: the learned shift ``(units,)``.
      eps: added to the variance for numerical stability.

    Returns:
      The normalized, scaled and shifted ``z``, in ``z``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import batchnorm
      >>> stats = {"mean": jnp.array([2.0]), "var": jnp.array([4.0])}
      >>> batchnorm.normalize(jnp.array([[4.0]]), stats, jnp.ones(1), jnp.zeros(1), 0.0).tolist()
      [[1.0]]
    """
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
    momentum: HyperParam,
    eps: float,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, Stats]:
    """Batch norm of ``z`` with the updated running statistics (unchanged at evaluation).

    Training normalizes with the batch's own statistics and folds them into the running
    averages (``ewa.update`` with ``momentum``); evaluation normalizes with the bias-corrected
    running statistics.

    Args:
      z: pre-activations ``(batch, units)`` or ``(batch, ..., units)`` (a feature map).
      gamma: the learned scale ``(units,)``.
      beta: the learned shift ``(units,)``.
      stats: the running averages ``{"mean", "var"}`` (see :func:`init_stats`).
      count: the number of training batches already averaged into ``stats``.
      train: use batch statistics (True) or the running ones (False).
      momentum: the running averages' beta in ``[0, 1)``; may be traced.
      eps: added to the variance for numerical stability.
      mask: optional ``(batch,)`` 0/1 row weights (padding rows have 0).

    Returns:
      ``(out, new_stats)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdl import batchnorm
      >>> z = jnp.array([[1.0], [3.0]])
      >>> out, stats = batchnorm.batch_norm(z, jnp.ones(1), jnp.zeros(1), batchnorm.init_stats(1),
      ...                                   jnp.array(0), train=True, momentum=0.9, eps=0.0)
      >>> out.tolist(), [round(m, 4) for m in stats["mean"].tolist()]
      ([[-1.0], [1.0]], [0.2])
    """
    if not train:
        return normalize(z, running_stats(stats, count, momentum), gamma, beta, eps), stats
    weights = jnp.ones(z.shape[:1], jnp.float32) if mask is None else mask.astype(jnp.float32)
    out, mean, var = _train_norm(z, weights, gamma, beta, eps)
    current = {"mean": mean, "var": var}
    return out, ewa.update(stats, jax.lax.stop_gradient(current), momentum)


def _weighted_stats(z: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(mean, var, n)`` over every axis but the last, rows weighted by ``weights`` (batch,)."""
    axes = tuple(range(z.ndim - 1))
    w = weights.reshape((-1,) + (1,) * (z.ndim - 1))
    n = jnp.maximum(jnp.sum(weights), 1) * math.prod(z.shape[1:-1])
    mean = jnp.sum(w * z, axes) / n
    var = jnp.sum(w * jnp.square(z - mean), axes) / n
    return mean, var, n


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _train_norm(
    z: jax.Array, weights: jax.Array, gamma: jax.Array, beta: jax.Array, eps: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(gamma * z_norm + beta, mean, var)`` with the batch's own statistics; its gradient is
    the closed form of the module docstring (the statistics are outputs for the running
    averages only: their cotangents are ignored, the caller stops their gradient)."""
    return _train_norm_forward(z, weights, gamma, beta, eps)[0]


def _train_norm_forward(
    z: jax.Array, weights: jax.Array, gamma: jax.Array, beta: jax.Array, eps: float
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], tuple[jax.Array, ...]]:
    z32 = z.astype(jnp.promote_types(z.dtype, jnp.float32))
    mean, var, n = _weighted_stats(z32, weights)
    inv = jax.lax.rsqrt(var + eps)
    z_norm = (z32 - mean) * inv
    out = (gamma * z_norm + beta).astype(z.dtype)
    return (out, mean, var), (z_norm, inv, gamma, weights, n)


def _train_norm_backward(
    eps: float,
    residuals: tuple[jax.Array, ...],
    cotangents: tuple[jax.Array, jax.Array, jax.Array],
) -> tuple[jax.Array, ...]:
    z_norm, inv, gamma, weights, n = residuals
    dout = cotangents[0].astype(z_norm.dtype)
    axes = tuple(range(z_norm.ndim - 1))
    dbeta = jnp.sum(dout, axes)
    dgamma = jnp.sum(dout * z_norm, axes)
    w = weights.reshape((-1,) + (1,) * (z_norm.ndim - 1))
    dz = gamma * inv * (dout - w * (dbeta + z_norm * dgamma) / n)
    return dz.astype(cotangents[0].dtype), jnp.zeros_like(weights), dgamma, dbeta


_train_norm.defvjp(_train_norm_forward, _train_norm_backward)
