"""Inverted dropout.

    d ~ Bernoulli(keep_prob)   (same shape as a),   a_out = a * d / keep_prob

Dividing by ``keep_prob`` keeps the expected activation unchanged, so nothing needs rescaling
at test time, where dropout is the identity. ``keep_prob`` is a keep (not drop) probability and
may be a traced array, one per vmapped sweep member.

The mask is ``jax.random.bernoulli(key, keep_prob, a.shape)`` bit for bit. For the usual case
(a typed threefry key, float32 activations, JAX's default partitionable threefry) the Threefry-2x32
hash behind it is written out here with its 20 rounds unrolled: XLA:CPU otherwise runs JAX's
threefry as a five-iteration loop of small kernels, which made a 128x512 mask (with its
gradient) 3.8x as expensive on two CPU cores.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from jaxdl.checks import check_keep_prob
from jaxdl.infra.deprecation import callable_module
from jaxdl.typing import HyperParam

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def dropout(key: jax.Array, a: jax.Array, keep_prob: HyperParam) -> jax.Array:
    """Inverted dropout: zero each unit with probability ``1 - keep_prob``, scale the rest up.

    ``a_out = a * d / keep_prob`` with ``d ~ Bernoulli(keep_prob)``, so ``E[a_out] = a``.

    Args:
      key: a PRNG key for the mask.
      a: the activations.
      keep_prob: the probability of keeping a unit, in ``(0, 1]``; may be traced.

    Returns:
      An array like ``a``: kept units divided by ``keep_prob``, dropped ones 0.

    Raises:
      ValueError: for a concrete ``keep_prob`` outside ``(0, 1]``.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from jaxdl.dropout import dropout
      >>> out = dropout(jax.random.key(0), jnp.ones(8), 0.5)
      >>> sorted(set(out.tolist()))   # dropped units are 0, kept ones 1 / 0.5
      [0.0, 2.0]
    """
    check_keep_prob(keep_prob)
    keep_prob = jnp.asarray(keep_prob, a.dtype)
    keep = bernoulli(key, keep_prob, a.shape)
    return jnp.where(keep, a / keep_prob, jnp.zeros_like(a))


def bernoulli(key: jax.Array, p: ArrayLike, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.bernoulli(key, p, shape)`` bit for bit: ``uniform(key, shape) < p``.

    Args:
      key: a PRNG key.
      p: the probability of ``True``, broadcastable to ``shape``.
      shape: the output shape.

    Returns:
      A boolean array of ``shape``.

    Examples:
      >>> import jax
      >>> from jaxdl.dropout import bernoulli
      >>> key = jax.random.key(3)
      >>> bool((bernoulli(key, 0.3, (64,)) == jax.random.bernoulli(key, 0.3, (64,))).all())
      True
    """
    p = jnp.asarray(p)
    if not _unrolled_applies(key, p, shape):
        return jax.random.bernoulli(key, p, shape)
    bits = _threefry_bits(jax.random.key_data(key), shape)
    # jax.random.uniform: 23 random mantissa bits under the exponent of 1.0, minus 1.
    one = lax.bitcast_convert_type(jnp.float32(1.0), jnp.uint32)
    floats = lax.bitcast_convert_type((bits >> np.uint32(9)) | one, jnp.float32) - 1.0
    return jnp.maximum(floats, 0.0) < p


def _unrolled_applies(key: jax.Array, p: jax.Array, shape: tuple[int, ...]) -> bool:
    return (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        and key.shape == ()
        and str(jax.random.key_impl(key)) == "threefry2x32"
        and bool(jax.config.jax_threefry_partitionable)  # type: ignore[attr-defined]
        and p.dtype == jnp.float32
        and int(np.prod(shape)) < 2**32
    )


def split(key: jax.Array, num: int) -> jax.Array:
    """``jax.random.split(key, num)`` bit for bit, with the hash unrolled as in :func:`bernoulli`.

    Key ``i`` is the pair of Threefry-2x32 words of the counter pair ``(0, i)`` under ``key``.

    Args:
      key: a PRNG key.
      num: how many keys.

    Returns:
      ``num`` keys, shape ``(num,)``.

    Examples:
      >>> import jax
      >>> from jaxdl.dropout import split
      >>> key = jax.random.key(7)
      >>> bool((jax.random.key_data(split(key, 3))
      ...       == jax.random.key_data(jax.random.split(key, 3))).all())
      True
    """
    if not _unrolled_applies(key, jnp.float32(0), (num,)):
        return jax.random.split(key, num)
    words = _threefry_2x32(jax.random.key_data(key), (num,))
    return jax.random.wrap_key_data(jnp.stack(words, axis=-1), impl=jax.random.key_impl(key))


def _threefry_bits(key_data: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``jax.random.bits(key, shape, uint32)`` of a threefry key: Threefry-2x32 of the counter
    pair (0, flat index) under the key, the two output words xor-ed."""
    x0, x1 = _threefry_2x32(key_data, shape)
    return x0 ^ x1


def _threefry_2x32(key_data: jax.Array, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """The two Threefry-2x32 output words of the counter pairs (0, flat index) under the key,
    its 20 rounds unrolled."""
    k0, k1 = key_data[0], key_data[1]
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0 = jnp.zeros(shape, jnp.uint32) + ks[0]
    x1 = lax.iota(jnp.uint32, int(np.prod(shape))).reshape(shape) + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r)))
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


callable_module(__name__, dropout)  # jaxdl.dropout(...) of earlier releases, with a warning
