"""Losses and metrics on logits, all averaged over samples (optionally weighted by a mask).

    softmax cross-entropy:  J = -mean_i log softmax(z_i)[y_i]
                              = mean_i (logsumexp(z_i) - z_i[y_i])        (stable for huge logits)
    sigmoid cross-entropy:  J = mean_i max(z, 0) - z * y + log(1 + exp(-|z|))
    L2 penalty:             lambd / (2 m) * sum_l ||W_l||_F^2   (weights only; grad = lambd/m * W)

``mask`` is a (batch,) weight vector: padded rows of a partial mini-batch get weight 0.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import check_labels, check_range


def weighted_mean(values: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``sum(mask * values) / sum(mask)``, or the plain mean without a mask."""
    if mask is None:
        return jnp.mean(values)
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1)


def softmax_cross_entropy(
    logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """Mean cross-entropy of softmax(logits) against integer labels (N,) or one-hot (N, C)."""
    num_classes = logits.shape[-1]
    check_labels("labels", labels, num_classes)
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    if labels.ndim == logits.ndim:
        per_sample = -jnp.sum(labels.astype(log_probs.dtype) * log_probs, axis=-1)
    else:
        per_sample = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    return weighted_mean(per_sample, mask)


def _binary(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    logits = logits.reshape(logits.shape[0], -1)
    if logits.shape[1] != 1:
        raise ValueError(f"binary logits must have one unit, got shape {logits.shape}")
    logits = logits[:, 0].astype(jnp.promote_types(logits.dtype, jnp.float32))
    labels = jnp.reshape(labels, (-1,))
    if labels.shape != logits.shape:
        raise ValueError(f"labels shape {labels.shape} does not match {logits.shape[0]} samples")
    check_range("labels", labels, 0.0, 1.0)
    return logits, labels.astype(logits.dtype)


def sigmoid_binary_cross_entropy(
    logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """Mean binary cross-entropy of sigmoid(logits) against labels in {0, 1}."""
    z, y = _binary(logits, labels)
    per_sample = jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z)))
    return weighted_mean(per_sample, mask)


def accuracy(logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Share of correct predictions: argmax for several classes, ``z > 0`` for one unit."""
    if logits.ndim == 1 or logits.shape[-1] == 1:
        z, y = _binary(logits, labels)
        correct = (z > 0) == (y > 0.5)
    else:
        if labels.ndim == logits.ndim:
            labels = jnp.argmax(labels, axis=-1)
        correct = jnp.argmax(logits, axis=-1) == labels
    return weighted_mean(correct.astype(jnp.float32), mask)


def l2_penalty(params: Any, lambd: Any, m: Any) -> jax.Array:
    """``lambd / (2 m) * sum ||W||_F^2`` over leaves named ``W`` (not b, gamma or beta)."""
    check_range("lambd", lambd, 0.0)
    squares = [
        jnp.sum(jnp.square(leaf.astype(jnp.promote_types(leaf.dtype, jnp.float32))))
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        if getattr(path[-1], "key", None) == "W"
    ]
    return lambd / (2 * m) * sum(squares, jnp.float32(0))
