"""Inverted dropout.

    d ~ Bernoulli(keep_prob)   (same shape as a),   a_out = a * d / keep_prob

Dividing by ``keep_prob`` keeps the expected activation unchanged, so nothing needs rescaling
at test time, where dropout is the identity. ``keep_prob`` is a keep (not drop) probability and
may be a traced array, one per vmapped sweep member.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import check_keep_prob


def dropout(key: jax.Array, a: jax.Array, keep_prob: Any) -> jax.Array:
    """Zero each unit of ``a`` with probability ``1 - keep_prob`` and scale the rest up."""
    check_keep_prob(keep_prob)
    keep_prob = jnp.asarray(keep_prob, a.dtype)
    keep = jax.random.bernoulli(key, keep_prob, a.shape)
    return jnp.where(keep, a / keep_prob, jnp.zeros_like(a))
