import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import losses


def test_softmax_cross_entropy_is_minus_log_softmax_at_label():
    logits = jax.random.normal(jax.random.key(0), (6, 4))
    labels = jnp.array([0, 3, 2, 1, 1, 0])
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(6), labels]))
    assert losses.softmax_cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-5)
    one_hot = jax.nn.one_hot(labels, 4)
    assert losses.softmax_cross_entropy(logits, one_hot) == pytest.approx(expected, rel=1e-5)


def test_softmax_cross_entropy_finite_for_huge_logits():
    logits = jnp.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    value = losses.softmax_cross_entropy(logits, jnp.array([0, 2]))
    # Sample 0 is right with certainty (loss 0); sample 1 is off by 1e4.
    assert value == pytest.approx(1e4 / 2, rel=1e-6)
    grad = jax.grad(losses.softmax_cross_entropy)(logits, jnp.array([0, 2]))
    assert np.all(np.isfinite(grad))


def test_mask_drops_padded_rows():
    logits = jax.random.normal(jax.random.key(1), (5, 3))
    labels = jnp.array([0, 1, 2, 0, 1])
    mask = jnp.array([1.0, 1.0, 1.0, 0.0, 0.0])
    full = losses.softmax_cross_entropy(logits[:3], labels[:3])
    masked = losses.softmax_cross_entropy(logits, labels, mask)
    assert masked == pytest.approx(float(full), rel=1e-6)


def test_sigmoid_binary_cross_entropy_matches_formula_and_is_stable():
    z = jnp.array([[-3.0], [0.5], [2.0], [800.0]])
    y = jnp.array([0, 1, 1, 0])
    s = 1 / (1 + np.exp(-np.asarray(z[:3, 0], np.float64)))
    yy = np.array([0, 1, 1])
    part = -(yy * np.log(s) + (1 - yy) * np.log(1 - s))
    expected = (part.sum() + 800.0) / 4
    assert losses.sigmoid_binary_cross_entropy(z, y) == pytest.approx(expected, rel=1e-5)


def test_accuracy_multiclass_and_binary():
    logits = jnp.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert losses.accuracy(logits, jnp.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert losses.accuracy(jnp.array([[1.0], [-1.0]]), jnp.array([1, 1])) == pytest.approx(0.5)


def test_l2_penalty_and_gradient_match_formula():
    params = {
        "layers": [
            {"W": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)},
            {"W": jnp.ones((3, 1)), "gamma": jnp.full(1, 5.0)},
        ]
    }
    lambd, m = 0.7, 10
    expected = lambd / (2 * m) * (np.sum(np.arange(6.0) ** 2) + 3.0)
    assert losses.l2_penalty(params, lambd, m) == pytest.approx(expected, rel=1e-6)
    grads = jax.grad(losses.l2_penalty)(params, lambd, m)
    np.testing.assert_allclose(grads["layers"][0]["W"], lambd / m * params["layers"][0]["W"])
    assert not np.any(grads["layers"][0]["b"]) and not np.any(grads["layers"][1]["gamma"])


def test_bad_labels_are_explained():
    logits = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        losses.softmax_cross_entropy(logits, jnp.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integer class labels"):
        losses.softmax_cross_entropy(logits, jnp.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="lambd must lie in"):
        losses.l2_penalty({"W": jnp.ones(2)}, -1.0, 3)


def test_losses_jit_and_vmap():
    logits = jax.random.normal(jax.random.key(2), (3, 5, 4))
    labels = jnp.zeros((3, 5), jnp.int32)
    batched = jax.jit(jax.vmap(losses.softmax_cross_entropy))(logits, labels)
    for i in range(3):
        assert batched[i] == pytest.approx(
            float(losses.softmax_cross_entropy(logits[i], labels[i]))
        )
