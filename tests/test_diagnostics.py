"""Per-layer gradient norms: hand-written backprop, finite differences, float64 range, bad input."""

import jax
import numpy as np
import pytest

from jaxdl.diagnostics import gradient_norms
from jaxdl.nn import MLP
from jaxdl.train import Trainer

ACT = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a**2),
}


def _backprop(params, x, y, activation):
    """The course's backward pass in numpy float64: dZ_L = (yhat - y) / m, dW_l = A_{l-1}^T dZ_l,
    db_l = sum_i dZ_l, dZ_{l-1} = dZ_l W_l^T * g'(Z_{l-1}); sigmoid output for one unit, softmax
    otherwise."""
    g, dg = ACT[activation]
    layers = [
        {k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params["layers"]
    ]
    x = np.asarray(x, np.float64)
    m = len(x)
    a, cache = x, []
    for layer in layers[:-1]:
        z = a @ layer["W"] + layer["b"]
        cache.append((a, z, g(z)))
        a = g(z)
    logits = a @ layers[-1]["W"] + layers[-1]["b"]
    if logits.shape[1] == 1:
        dz = (1.0 / (1.0 + np.exp(-logits)) - y[:, None]) / m
    else:
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = (p - np.eye(logits.shape[1])[y]) / m
    grads = [None] * len(layers)
    grads[-1] = (a.T @ dz, dz.sum(axis=0))
    for l in range(len(layers) - 2, -1, -1):
        a_prev, z, a_l = cache[l]
        dz = (dz @ layers[l + 1]["W"].T) * dg(z, a_l)
        grads[l] = (a_prev.T @ dz, dz.sum(axis=0))
    return grads


@pytest.mark.parametrize(
    "sizes,activation", [((3, 4, 1), "relu"), ((3, 5, 4, 3), "tanh")]
)
def test_norms_match_hand_backprop(sizes, activation):
    model = MLP(sizes, activation=activation)
    params, state = model.init(jax.random.key(1))
    # Non-zero biases, so that the bias path of the backward pass is exercised too.
    for i, layer in enumerate(params["layers"]):
        layer["b"] = layer["b"] + 0.1 * (i + 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, sizes[0])).astype(np.float32)
    y = rng.integers(0, max(2, sizes[-1]), size=12).astype(np.int32)
    expected = _backprop(params, x, y, activation)
    w = gradient_norms(model, params, state, x, y)
    b = gradient_norms(model, params, state, x, y, leaf="b")
    assert w.dtype == np.float64 and w.shape == (model.num_layers,)
    np.testing.assert_allclose(w, [np.linalg.norm(dw) for dw, _ in expected], rtol=1e-5)
    np.testing.assert_allclose(b, [np.linalg.norm(db) for _, db in expected], rtol=1e-5)


def test_batch_norm_norms_match_finite_differences():
    model = MLP((2, 3, 2), batch_norm=True)
    params, state = model.init(jax.random.key(2))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2)).astype(np.float32)
    y = np.array([0, 1, 1, 0, 1, 0], np.int32)
    w = gradient_norms(model, params, state, x, y)
    gamma = gradient_norms(model, params, state, x, y, leaf="gamma")
    b = gradient_norms(model, params, state, x, y, leaf="b")
    assert np.isnan(b[0]) and np.isfinite(b[1])  # hidden batch-norm layers have no bias
    assert np.isfinite(gamma[0]) and np.isnan(gamma[1])  # the output layer has no gamma

    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
        x64 = np.asarray(x, np.float64)

        def cost(p):
            logits, _ = model.apply(p, state, x64, train=True)
            logits = np.asarray(logits, np.float64)
            logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            return -np.mean(logp[np.arange(len(y)), y])

        def numeric(layer, name, eps=1e-6):
            grad = np.zeros_like(p64["layers"][layer][name])
            for index in np.ndindex(grad.shape):
                for sign in (1, -1):
                    q = jax.tree.map(np.copy, p64)
                    q["layers"][layer][name][index] += sign * eps
                    grad[index] += sign * cost(q) / (2 * eps)
            return np.linalg.norm(grad)

        np.testing.assert_allclose(w, [numeric(0, "W"), numeric(1, "W")], rtol=1e-5)
        np.testing.assert_allclose(gamma[0], numeric(0, "gamma"), rtol=1e-5)


def test_float64_keeps_gradients_that_float32_flushes_to_zero():
    # 30 layers of 8 units with weights * 0.01: every layer scales the signal by about
    # 0.01 * sqrt(8 / 2) = 0.02, so the gradients are near 0.02**29 ~ 1e-49, below float32's
    # smallest normal number (1e-38).
    sizes = (2, *[8] * 29, 1)
    probe = MLP(sizes)
    params, state = MLP(sizes, initializer="random_normal", init_scale=0.01).init(
        jax.random.key(0)
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    trainer = Trainer(probe)
    float32 = jax.grad(
        lambda p: trainer.data_loss(probe.apply(p, state, x, train=True)[0], y, None)
    )(params)
    assert not np.any(np.asarray(float32["layers"][0]["W"]))
    w = gradient_norms(probe, params, state, x, y)
    assert np.all(w > 1e-60) and np.all(w < 1e-40)
    # The same net at He scale has gradients of order one.
    he = gradient_norms(probe, *probe.init(jax.random.key(0)), x, y)
    assert np.all(he > 1e-4) and np.all(he < 1e2)


def test_bad_input():
    model = MLP((2, 3, 1))
    params, state = model.init(jax.random.key(0))
    x, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1], np.int32)
    with pytest.raises(ValueError, match="leaf must be one of"):
        gradient_norms(model, params, state, x, y, leaf="c")
    with pytest.raises(ValueError, match="one entry per layer"):
        gradient_norms(MLP((2, 3, 3, 1)), params, state, x, y)
    with pytest.raises(ValueError, match="features"):
        gradient_norms(model, params, state, np.zeros((4, 5), np.float32), y)
    with pytest.raises(ValueError, match="0/1 labels"):
        gradient_norms(model, params, state, x, np.array([0, 1, 2, 1]))
