"""The dropout mask is ``jax.random.bernoulli``'s, bit for bit, on every path of
``jaxdl.dropout.bernoulli`` (unrolled threefry or the fallback)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.dropout import bernoulli, dropout, split


@pytest.mark.parametrize("shape", [(), (1,), (5,), (7, 5, 3), (128, 512)])
@pytest.mark.parametrize("p", [0.0, 0.123, 0.5, 0.8, 0.999, 1.0])
def test_mask_equals_jax_bernoulli(shape, p):
    for seed in (0, 7):
        key = jax.random.key(seed)
        expected = jax.random.bernoulli(key, jnp.float32(p), shape)
        np.testing.assert_array_equal(bernoulli(key, jnp.float32(p), shape), expected)


def test_mask_equals_jax_bernoulli_under_jit_and_vmap():
    keys = jax.random.split(jax.random.key(3), 4)
    probs = jnp.array([0.1, 0.5, 0.8, 0.95], jnp.float32)
    expected = jax.vmap(lambda k, p: jax.random.bernoulli(k, p, (64, 33)))(keys, probs)
    got = jax.jit(jax.vmap(lambda k, p: bernoulli(k, p, (64, 33))))(keys, probs)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("num", [1, 2, 3, 7, 64])
def test_split_equals_jax_split(num):
    for seed in range(4):
        key = jax.random.fold_in(jax.random.key(seed), 12345)
        np.testing.assert_array_equal(jax.random.key_data(split(key, num)),
                                      jax.random.key_data(jax.random.split(key, num)))


def test_split_equals_jax_split_under_jit_and_vmap_and_for_raw_keys():
    keys = jax.random.split(jax.random.key(5), 4)
    expected = jax.vmap(lambda k: jax.random.key_data(jax.random.split(k, 3)))(keys)
    got = jax.jit(jax.vmap(lambda k: jax.random.key_data(split(k, 3))))(keys)
    np.testing.assert_array_equal(got, expected)
    raw = jax.random.PRNGKey(2)  # a raw uint32 key takes jax.random.split itself
    np.testing.assert_array_equal(split(raw, 3), jax.random.split(raw, 3))


def test_other_keys_and_dtypes_take_jax_bernoulli():
    raw = jax.random.PRNGKey(1)
    np.testing.assert_array_equal(
        bernoulli(raw, jnp.float32(0.3), (40,)), jax.random.bernoulli(raw, 0.3, (40,))
    )
    rbg = jax.random.key(2, impl="rbg")
    np.testing.assert_array_equal(
        bernoulli(rbg, jnp.float32(0.3), (40,)), jax.random.bernoulli(rbg, 0.3, (40,))
    )
    key = jax.random.key(4)
    half = jnp.bfloat16(0.3)
    np.testing.assert_array_equal(
        bernoulli(key, half, (40,)), jax.random.bernoulli(key, half, (40,))
    )


def test_dropout_uses_the_mask_and_rescales():
    key, a = jax.random.key(5), jnp.arange(1.0, 61.0).reshape(6, 10)
    keep = jax.random.bernoulli(key, jnp.float32(0.75), a.shape)
    np.testing.assert_allclose(dropout(key, a, 0.75), np.where(keep, a / 0.75, 0.0), rtol=1e-6)
