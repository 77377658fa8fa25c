"""Pooling by reshape and batch norm's closed-form gradient against their plain JAX oracles:
the same values and the same gradients (``jax.grad``) to float32 round-off, 1-D and 2-D,
padded (masked) rows, under ``jax.vmap``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxdl import batchnorm
from jaxdl.layers import AvgPool, BatchNorm, MaxPool


def reduce_window_pool(x, window, strides, kind):
    """The oracle: ``lax.reduce_window`` max or mean with VALID padding."""
    dims, steps = (1, *window, 1), (1, *strides, 1)
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, dims, steps, "VALID")
    return lax.reduce_window(x, 0.0, lax.add, dims, steps, "VALID") / np.prod(window)


POOL_CASES = [
    ((2, 8, 3), (2,)),          # 1-D
    ((2, 9, 3), (3,)),          # 1-D, window 3
    ((2, 8, 8, 3), (2, 2)),     # 2-D
    ((2, 7, 9, 2), (2, 3)),     # 2-D, a remainder cropped on both axes
]


@pytest.mark.parametrize("pool_cls,kind", [(MaxPool, "max"), (AvgPool, "avg")])
@pytest.mark.parametrize("shape,window", POOL_CASES)
def test_tiled_pooling_matches_reduce_window(pool_cls, kind, shape, window):
    x = jax.random.normal(jax.random.key(0), shape)   # continuous: no tied maxima
    layer = pool_cls(window)
    pooled = reduce_window_pool(x, window, window, kind)
    tangent = jax.random.normal(jax.random.key(1), pooled.shape)

    def ours(x):
        return jnp.sum(layer.apply({}, {}, x, train=True)[0] * tangent)

    def oracle(x):
        return jnp.sum(reduce_window_pool(x, window, window, kind) * tangent)

    np.testing.assert_allclose(layer.apply({}, {}, x, train=True)[0],
                               reduce_window_pool(x, window, window, kind), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(ours)(x), jax.grad(oracle)(x), rtol=1e-6, atol=1e-7)
    members = jnp.stack([x, 2 * x + 1])
    np.testing.assert_allclose(jax.vmap(jax.grad(ours))(members),
                               jax.vmap(jax.grad(oracle))(members), rtol=1e-6, atol=1e-7)


def test_tiled_max_pool_is_used_and_overlapping_windows_are_not():
    """Non-overlapping VALID windows compile without reduce-window; strided overlapping ones
    keep it (and still agree with the oracle)."""
    x = jax.random.normal(jax.random.key(2), (2, 8, 8, 3))
    tiled = jax.jit(lambda x: MaxPool((2, 2)).apply({}, {}, x, train=True)[0]).lower(x).as_text()
    assert "reduce_window" not in tiled
    overlapping = MaxPool((3, 3), strides=(2, 2))
    np.testing.assert_allclose(overlapping.apply({}, {}, x, train=True)[0],
                               lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1),
                                                 (1, 2, 2, 1), "VALID"))


def plain_batch_norm(z, gamma, beta, mask, eps):
    """The oracle: batch norm written out, differentiated by JAX."""
    w = mask.reshape((-1,) + (1,) * (z.ndim - 1))
    axes = tuple(range(z.ndim - 1))
    n = jnp.sum(mask) * np.prod(z.shape[1:-1])
    mean = jnp.sum(w * z, axes) / n
    var = jnp.sum(w * (z - mean) ** 2, axes) / n
    return gamma * (z - mean) / jnp.sqrt(var + eps) + beta


@pytest.mark.parametrize("shape", [(6, 4), (5, 7, 3), (4, 5, 6, 3)])
@pytest.mark.parametrize("masked", [False, True])
def test_batch_norm_closed_form_gradient_matches_autodiff(shape, masked):
    keys = jax.random.split(jax.random.key(3), 4)
    z = 3 * jax.random.normal(keys[0], shape) + 1
    gamma = jax.random.normal(keys[1], shape[-1:]) + 1
    beta = jax.random.normal(keys[2], shape[-1:])
    tangent = jax.random.normal(keys[3], shape)
    mask = jnp.ones(shape[:1]).at[-2:].set(0.0) if masked else jnp.ones(shape[:1])

    def ours(z, gamma, beta):
        out, _ = batchnorm.batch_norm(z, gamma, beta, batchnorm.init_stats(shape[-1]),
                                      jnp.array(0), train=True, momentum=0.9, eps=1e-3,
                                      mask=mask if masked else None)
        return jnp.sum(out * tangent)

    def oracle(z, gamma, beta):
        return jnp.sum(plain_batch_norm(z, gamma, beta, mask, 1e-3) * tangent)

    np.testing.assert_allclose(ours(z, gamma, beta), oracle(z, gamma, beta), rtol=1e-5)
    for got, want in zip(jax.grad(ours, (0, 1, 2))(z, gamma, beta),
                         jax.grad(oracle, (0, 1, 2))(z, gamma, beta)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    # members with their own gamma (a sweep's vmap)
    gammas = jnp.stack([gamma, 2 * gamma])
    got = jax.vmap(jax.grad(ours, (0, 1)), (None, 0, None))(z, gammas, beta)
    want = jax.vmap(jax.grad(oracle, (0, 1)), (None, 0, None))(z, gammas, beta)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_batch_norm_layer_statistics_over_a_feature_map_ignore_masked_examples():
    layer = BatchNorm(momentum=0.0)
    x = jax.random.normal(jax.random.key(4), (4, 3, 3, 2))
    garbage = x.at[-1].set(1e6)
    _, params, state = layer.init(None, (3, 3, 2))
    mask = jnp.array([1.0, 1.0, 1.0, 0.0])
    _, new = layer.apply(params, state, garbage, train=True, mask=mask)
    rows = np.asarray(x[:3]).reshape(-1, 2)
    np.testing.assert_allclose(new["mean"], rows.mean(0), rtol=1e-5)
    np.testing.assert_allclose(new["var"], rows.var(0), rtol=1e-5)
