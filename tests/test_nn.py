import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import batchnorm, losses
from jaxdl.dropout import dropout
from jaxdl.nn import MLP


def _loss(model, params, state, x, y, **kw):
    logits, new_state = model.apply(params, state, x, **kw)
    return losses.softmax_cross_entropy(logits, y), new_state


def test_zeros_init_keeps_hidden_units_identical():
    model = MLP((2, 5, 3), activation="tanh", initializer="zeros")
    params, state = model.init(jax.random.key(0))
    # Give the output layer distinct weights, as a random start would; hidden stays symmetric.
    params["layers"][1]["W"] = jnp.ones((5, 3)) * jnp.arange(3.0)
    x = jax.random.normal(jax.random.key(1), (16, 2))
    y = jnp.arange(16) % 3
    for _ in range(3):
        grads = jax.grad(lambda p: _loss(model, p, state, x, y, train=True)[0])(params)
        params = jax.tree.map(lambda p, g: p - 0.5 * g, params, grads)
    w1 = np.asarray(params["layers"][0]["W"])
    np.testing.assert_array_equal(w1, np.repeat(w1[:, :1], 5, axis=1))


def test_he_init_breaks_symmetry():
    params, _ = MLP((2, 5, 3)).init(jax.random.key(0))
    w1 = np.asarray(params["layers"][0]["W"])
    assert np.unique(w1.round(6), axis=1).shape[1] == 5


def test_dropout_keeps_expected_activation_and_drop_rate():
    a = jnp.ones((200, 500))
    out = np.asarray(dropout(jax.random.key(0), a, 0.8))
    assert np.mean(out == 0) == pytest.approx(0.2, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(np.unique(out), [0.0, 1.25])


def test_dropout_is_identity_at_eval_and_needs_a_key_in_training():
    model = MLP((4, 8, 2), dropout=True)
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 4))
    plain = MLP((4, 8, 2)).apply(params, state, x, train=False)[0]
    eval_out = model.apply(params, state, x, train=False, hp={"keep_prob": 0.5})[0]
    np.testing.assert_array_equal(plain, eval_out)
    with pytest.raises(ValueError, match="pass key="):
        model.apply(params, state, x, train=True, hp={"keep_prob": 0.5})
    with pytest.raises(ValueError, match=r"keep_prob must lie in \(0.0, 1.0\]"):
        model.apply(params, state, x, train=True, key=jax.random.key(2), hp={"keep_prob": 1.5})


def test_dropout_keep_prob_is_vmappable():
    a = jnp.ones((64, 64))
    keep = jnp.array([0.25, 0.5, 1.0])
    out = jax.jit(jax.vmap(dropout, in_axes=(None, None, 0)))(jax.random.key(3), a, keep)
    zero_share = np.mean(np.asarray(out) == 0, axis=(1, 2))
    np.testing.assert_allclose(zero_share, [0.75, 0.5, 0.0], atol=0.03)


def test_batch_norm_training_output_is_standardized():
    z = jax.random.normal(jax.random.key(0), (256, 6)) * 4.0 + 3.0
    stats = batchnorm.init_stats(6)
    out, new = batchnorm.batch_norm(
        z, jnp.ones(6), jnp.zeros(6), stats, jnp.int32(0), train=True, momentum=0.9, eps=1e-8
    )
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.var(0), 1.0, rtol=1e-4)
    # gamma and beta set the new scale and shift.
    out2, _ = batchnorm.batch_norm(
        z, jnp.full(6, 2.0), jnp.full(6, -1.0), stats, jnp.int32(0),
        train=True, momentum=0.9, eps=1e-8,
    )
    np.testing.assert_allclose(out2.mean(0), -1.0, atol=1e-5)
    np.testing.assert_allclose(out2.std(0), 2.0, rtol=1e-4)


def test_running_stats_converge_and_are_used_at_eval():
    model = MLP((3, 4, 2), batch_norm=True, bn_momentum=0.9)
    params, state = model.init(jax.random.key(0))
    data = jax.random.normal(jax.random.key(1), (4000, 3)) * 2.0 + 1.0
    z_all = data @ params["layers"][0]["W"]
    step = jax.jit(lambda s, x: model.apply(params, s, x, train=True)[1])
    for i in range(100):
        state = step(state, data[(i % 40) * 100 : (i % 40 + 1) * 100])
    running = batchnorm.running_stats(state["layers"][0], state["count"], 0.9)
    np.testing.assert_allclose(running["mean"], z_all.mean(0), atol=0.15)
    np.testing.assert_allclose(running["var"], z_all.var(0), rtol=0.15)
    # Eval normalizes with the running statistics, not the batch's.
    x = data[:5]
    logits = model.apply(params, state, x, train=False)[0]
    z = x @ params["layers"][0]["W"]
    h = jax.nn.relu((z - running["mean"]) / jnp.sqrt(running["var"] + 1e-5))
    expected = h @ params["layers"][1]["W"] + params["layers"][1]["b"]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


def test_first_batch_is_not_pulled_towards_the_prior():
    model = MLP((2, 3, 2), batch_norm=True)
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (50, 2)) + 10.0
    _, state = model.apply(params, state, x, train=True)
    running = batchnorm.running_stats(state["layers"][0], state["count"], 0.9)
    current = batchnorm.batch_stats(x @ params["layers"][0]["W"])
    np.testing.assert_allclose(running["mean"], current["mean"], rtol=1e-5)


def test_masked_rows_do_not_change_batch_norm():
    model = MLP((3, 4, 2), batch_norm=True)
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 3))
    padded = jnp.concatenate([x, 100.0 * jnp.ones((2, 3))])
    mask = jnp.array([1.0] * 6 + [0.0] * 2)
    out, s1 = model.apply(params, state, x, train=True)
    out_p, s2 = model.apply(params, state, padded, train=True, mask=mask)
    np.testing.assert_allclose(out_p[:6], out, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), s1, s2)


def test_bn_layers_have_no_bias():
    params, state = MLP((3, 4, 4, 2), batch_norm=True).init(jax.random.key(0))
    assert [sorted(layer) for layer in params["layers"]] == [
        ["W", "beta", "gamma"], ["W", "beta", "gamma"], ["W", "b"],
    ]
    assert len(state["layers"]) == 2


def test_apply_under_jit_and_vmap_matches_members():
    model = MLP((3, 8, 2), batch_norm=True, dropout=True)
    keys = jax.random.split(jax.random.key(0), 4)
    params, state = jax.vmap(model.init)(keys)
    x = jax.random.normal(jax.random.key(1), (10, 3))
    keep = jnp.array([0.5, 0.7, 0.9, 1.0])

    def run(p, s, k, kp):
        return model.apply(p, s, x, train=True, key=k, hp={"keep_prob": kp})

    out, new_state = jax.jit(jax.vmap(run))(params, state, keys, keep)
    for i in range(4):
        member = jax.tree.map(lambda a, i=i: a[i], (params, state))
        o, s = run(*member, keys[i], keep[i])
        np.testing.assert_allclose(out[i], o, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            new_state["layers"][0]["mean"][i], s["layers"][0]["mean"], rtol=1e-5, atol=1e-7
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sizes": (3,)}, "at least two positive integers"),
        ({"sizes": (3, 0, 2)}, "at least two positive integers"),
        ({"sizes": (3, 2), "activation": "swish"}, "unknown activation 'swish'"),
        ({"sizes": (3, 2), "initializer": "magic"}, "unknown initializer 'magic'"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_bad_input_shapes_are_explained():
    model = MLP((3, 2))
    params, state = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="model expects 3"):
        model.apply(params, state, jnp.ones((4, 5)), train=False)
    with pytest.raises(ValueError, match="must be 2-D"):
        model.apply(params, state, jnp.ones(3), train=False)


def test_config_is_hashable_for_static_args():
    assert hash(MLP((3, 4, 2))) == hash(MLP([3, 4, 2]))
