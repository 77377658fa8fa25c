"""jaxdl.layers: shapes, each layer's math against numpy, gradients by finite differences,
the MLP's Sequential twin, configs and bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import MLP, losses
from jaxdl import layers as L
from jaxdl.dropout import dropout
from jaxdl.gradcheck import gradcheck


def _x(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


# ----------------------------------------------------------------------------- numpy references
def _same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _np_conv2d(x, w, b, strides, padding):
    """Cross-correlation by loops, channels last; SAME pads low = total // 2 as XLA does."""
    (kh, kw, _, cout), (sh, sw) = w.shape, strides
    if padding == "SAME":
        ph, pw = _same_pads(x.shape[1], kh, sh), _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    y = np.zeros((x.shape[0], oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y + b


def _np_pool(x, window, strides, padding, reduce):
    kh, kw = window
    sh, sw = strides
    fill = -np.inf if reduce is np.max else np.nan
    if padding == "SAME":
        ph, pw = _same_pads(x.shape[1], kh, sh), _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=fill)
    oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            y[:, i, j, :] = reduce(x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :], axis=(1, 2))
    return y


def _np_batch_norm(x, gamma, beta, eps):
    rows = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mu, var = rows.mean(0), rows.var(0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, mu, var


# ------------------------------------------------------------------------------------- shapes
def test_sequential_cnn_shapes_params_and_state():
    model = L.Sequential(
        L.Conv(4, (3, 3)), L.BatchNorm(), L.Relu(), L.MaxPool((2, 2)),
        L.Conv(6, (3, 3), strides=2, padding="VALID"), L.AvgPool((2, 2), padding="SAME"),
        L.Flatten(), L.Dense(10), input_shape=(8, 8, 1),
    )
    assert model.output_shape == (10,)
    params, state = model.init(jax.random.key(0))
    assert params[0]["W"].shape == (3, 3, 1, 4) and params[4]["W"].shape == (3, 3, 4, 6)
    assert params[-1]["W"].shape == (6, 10)  # 8 -> pool 4 -> VALID stride 2: 1 -> pool SAME 1
    assert set(state[1]) == {"mean", "var", "count"} and state[1]["mean"].shape == (4,)
    assert model.num_params == sum(p.size for p in jax.tree.leaves(params))
    y, new_state = model.apply(params, state, _x((5, 8, 8, 1)), train=True)
    assert y.shape == (5, 10) and int(new_state[1]["count"]) == 1
    assert model.hyperparameters == frozenset({"bn_momentum"})


@pytest.mark.parametrize(
    "kernel, strides, padding, n, expected",
    [((3,), 1, "SAME", 9, (9, 5)), ((3,), 2, "SAME", 9, (5, 5)), ((4,), 2, "VALID", 9, (3, 5)),
     ((3, 2), (2, 1), "VALID", 7, (3, 6, 5)), ((3, 3), 2, "SAME", 7, (4, 4, 5))],
)
def test_conv_output_shapes(kernel, strides, padding, n, expected):
    conv = L.Conv(5, kernel, strides=strides, padding=padding)
    shape = (n, 2) if len(kernel) == 1 else (n, n, 2)
    out_shape, params, _ = conv.init(jax.random.key(0), shape)
    assert out_shape == expected
    assert conv.apply(params, {}, _x((3, *shape)), train=False)[0].shape == (3, *expected)


# --------------------------------------------------------------------------------- layer math
def test_dense_is_x_at_w_plus_b_with_he_init():
    _, params, _ = L.Dense(3).init(jax.random.key(0), (4,))
    np.testing.assert_array_equal(
        params["W"], jax.random.normal(jax.random.key(0), (4, 3)) * np.sqrt(2 / 4)
    )
    params = {"W": params["W"], "b": jnp.arange(3.0)}
    x = _x((2, 4))
    y, _ = L.Dense(3).apply(params, {}, x, train=False)
    np.testing.assert_allclose(y, np.asarray(x) @ np.asarray(params["W"]) + np.arange(3.0),
                               rtol=1e-6)
    assert "b" not in L.Dense(3, use_bias=False).init(jax.random.key(0), (4,))[1]


@pytest.mark.parametrize("strides, padding", [((1, 1), "SAME"), ((2, 2), "SAME"),
                                              ((1, 2), "VALID"), ((2, 1), "SAME")])
def test_conv2d_matches_a_numpy_loop(strides, padding):
    conv = L.Conv(3, (3, 2), strides=strides, padding=padding)
    _, params, _ = conv.init(jax.random.key(0), (6, 5, 2))
    params["b"] = jnp.array([0.5, -1.0, 2.0])
    x = _x((2, 6, 5, 2), seed=1)
    y, _ = conv.apply(params, {}, x, train=False)
    expected = _np_conv2d(np.asarray(x, np.float64), np.asarray(params["W"], np.float64),
                          np.asarray(params["b"]), strides, padding)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_conv1d_matches_scipy_correlate():
    signal = pytest.importorskip("scipy.signal")
    conv = L.Conv(2, (3,), padding="VALID", use_bias=False)
    _, params, _ = conv.init(jax.random.key(0), (7, 2))
    x = _x((1, 7, 2), seed=2)
    y, _ = conv.apply(params, {}, x, train=False)
    w = np.asarray(params["W"], np.float64)
    for o in range(2):
        expected = sum(
            signal.correlate(np.asarray(x[0, :, c], np.float64), w[:, c, o], mode="valid")
            for c in range(2)
        )
        np.testing.assert_allclose(y[0, :, o], expected, rtol=1e-5, atol=1e-6)


def test_conv_he_fan_in_is_receptive_field_times_channels():
    _, params, _ = L.Conv(64, (3, 3)).init(jax.random.key(0), (8, 8, 16))
    assert float(jnp.std(params["W"])) == pytest.approx(np.sqrt(2 / (9 * 16)), rel=0.03)


@pytest.mark.parametrize("window, strides, padding", [((2, 2), None, "VALID"),
                                                      ((3, 3), (2, 2), "SAME"),
                                                      ((2, 3), (1, 2), "VALID")])
def test_pooling_matches_numpy(window, strides, padding):
    x = np.asarray(_x((2, 7, 6, 3), seed=3), np.float64)
    for layer, reduce in ((L.MaxPool(window, strides, padding), np.max),
                          (L.AvgPool(window, strides, padding), np.nanmean)):
        y, _ = layer.apply({}, {}, jnp.asarray(x, jnp.float32), train=False)
        expected = _np_pool(x, window, strides or window, padding, reduce)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
        assert layer.init(None, x.shape[1:])[0] == expected.shape[1:]


def test_pool1d():
    x = jnp.arange(8.0).reshape(1, 8, 1)
    np.testing.assert_array_equal(L.MaxPool((2,)).apply({}, {}, x, train=False)[0].ravel(),
                                  [1, 3, 5, 7])
    np.testing.assert_array_equal(L.AvgPool((4,)).apply({}, {}, x, train=False)[0].ravel(),
                                  [1.5, 5.5])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 3, 2)])
def test_batch_norm_matches_numpy_in_training_and_at_test_time(shape):
    bn = L.BatchNorm(momentum=0.8, eps=1e-3)
    _, params, state = bn.init(None, shape[1:])
    units = shape[-1]
    params = {"gamma": jnp.linspace(0.5, 2.0, units), "beta": jnp.linspace(-1.0, 1.0, units)}
    gamma, beta = np.asarray(params["gamma"]), np.asarray(params["beta"])
    avg_mu, avg_var = np.zeros(units), np.zeros(units)
    for step in range(1, 4):
        x = _x(shape, seed=step) * step + step
        y, state = bn.apply(params, state, x, train=True)
        expected, mu, var = _np_batch_norm(np.asarray(x), gamma, beta, 1e-3)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
        avg_mu, avg_var = 0.8 * avg_mu + 0.2 * mu, 0.8 * avg_var + 0.2 * var
        assert int(state["count"]) == step
    np.testing.assert_allclose(state["mean"], avg_mu, rtol=1e-5)
    x = _x(shape, seed=9)
    y, eval_state = bn.apply(params, state, x, train=False)
    corr = 1 - 0.8**3
    expected = gamma * (np.asarray(x) - avg_mu / corr) / np.sqrt(avg_var / corr + 1e-3) + beta
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    assert eval_state is state


def test_batch_norm_before_any_step_uses_mean_0_var_1_and_hp_overrides_momentum():
    bn = L.BatchNorm(momentum=0.5)
    _, params, state = bn.init(None, (2,))
    x = _x((3, 2))
    np.testing.assert_allclose(bn.apply(params, state, x, train=False)[0],
                               x / np.sqrt(1 + 1e-5), rtol=1e-6)
    _, s1 = bn.apply(params, state, x, train=True, hp={"bn_momentum": jnp.float32(0.9)})
    np.testing.assert_allclose(s1["mean"], 0.1 * np.asarray(x).mean(0), rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (5, 2, 2, 3)])
def test_batch_norm_mask_ignores_padded_rows(shape):
    bn = L.BatchNorm()
    _, params, state = bn.init(None, shape[1:])
    x = _x(shape)
    padded = jnp.concatenate([x, 100.0 * jnp.ones((3, *shape[1:]))])
    mask = jnp.array([1.0] * shape[0] + [0.0] * 3)
    y_pad, s_pad = bn.apply(params, state, padded, train=True, mask=mask)
    y, s = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(y_pad[: shape[0]], y, rtol=1e-5, atol=1e-6)
    for k in ("mean", "var"):
        np.testing.assert_allclose(s_pad[k], s[k], rtol=1e-5, atol=1e-7)


def test_dropout_layer_is_jaxdl_dropout_and_identity_at_eval():
    x = _x((4, 50))
    key = jax.random.key(3)
    y, _ = L.Dropout().apply({}, {}, x, train=True, key=key, hp={"keep_prob": 0.6})
    np.testing.assert_array_equal(y, dropout(key, x, 0.6))
    y_fixed, _ = L.Dropout(0.6).apply({}, {}, x, train=True, key=key)
    np.testing.assert_array_equal(y_fixed, y)
    np.testing.assert_array_equal(L.Dropout().apply({}, {}, x, train=False)[0], x)
    # keep_prob traced: one value per vmapped member
    keep = jnp.array([0.5, 1.0])
    ys = jax.jit(jax.vmap(lambda k: L.Dropout().apply(
        {}, {}, x, train=True, key=key, hp={"keep_prob": k})[0]))(keep)
    np.testing.assert_array_equal(ys[1], x)
    assert set(np.unique(np.asarray(ys[0] / x).round(4))) <= {0.0, 2.0}
    assert L.Dropout().hyperparameters == {"keep_prob"} and L.Dropout(0.5).hyperparameters == set()


def test_activations_and_flatten():
    x = _x((2, 3, 4))
    for name, fn in (("relu", jax.nn.relu), ("tanh", jnp.tanh), ("sigmoid", jax.nn.sigmoid)):
        np.testing.assert_array_equal(L.Activation(name).apply({}, {}, x, train=False)[0], fn(x))
    assert L.Relu() == L.Activation("relu") and L.Tanh().name == "tanh"
    assert L.Sigmoid().name == "sigmoid" and L.LeakyRelu().name == "leaky_relu"
    y, _ = L.Flatten().apply({}, {}, x, train=False)
    np.testing.assert_array_equal(y, np.asarray(x).reshape(2, 12))


def test_residual_adds_its_input():
    block = L.Residual(L.Dense(4), L.Relu(), L.Dense(4))
    shape, params, state = block.init(jax.random.key(0), (4,))
    x = _x((3, 4))
    inner, _ = L.Sequential(L.Dense(4), L.Relu(), L.Dense(4), input_shape=(4,)).apply(
        params, state, x, train=False)
    np.testing.assert_allclose(block.apply(params, state, x, train=False)[0], x + inner,
                               rtol=1e-6)
    assert shape == (4,) and block.init_draws_key and not block.draws_key(True)
    assert L.Residual(L.Dropout()).draws_key(True)


# -------------------------------------------------------------------- keys, gradients, twin
def test_keys_go_only_to_layers_that_draw():
    key = jax.random.key(5)
    plain = L.Sequential(L.Dense(3), L.Dropout(), input_shape=(2,))
    extra = L.Sequential(L.Dense(3), L.Relu(), L.Flatten(), L.Dropout(), input_shape=(2,))
    p1, s1 = plain.init(key)
    p2, s2 = extra.init(key)
    np.testing.assert_array_equal(p1[0]["W"], p2[0]["W"])
    x = jnp.abs(_x((4, 2)))
    p1[0]["b"] = p2[0]["b"] = jnp.ones(3)  # positive pre-activations: relu is the identity
    p1[0]["W"] = p2[0]["W"] = jnp.abs(p1[0]["W"])
    hp = {"keep_prob": 0.5}
    y1, _ = plain.apply(p1, s1, x, train=True, key=key, hp=hp)
    y2, _ = extra.apply(p2, s2, x, train=True, key=key, hp=hp)
    np.testing.assert_array_equal(y1 == 0, y2 == 0)


def _small_cnn():
    return L.Sequential(
        L.Conv(3, (3, 3)), L.BatchNorm(), L.Tanh(), L.Residual(L.Conv(3, (2, 2)), L.Sigmoid()),
        L.MaxPool((2, 2)), L.AvgPool((2, 2), strides=(1, 1), padding="SAME"), L.Flatten(),
        L.Dense(4, initializer="glorot"), L.LeakyRelu(), L.Dense(3), input_shape=(4, 4, 2),
    )


def test_gradients_match_finite_differences():
    model = _small_cnn()
    params, state = model.init(jax.random.key(0))
    x, y = _x((6, 4, 4, 2), seed=1), jnp.arange(6) % 3
    mask = jnp.array([1.0, 1, 1, 1, 1, 0])

    def loss(p, x):
        logits, _ = model.apply(p, state, x, train=True, mask=mask)
        return losses.softmax_cross_entropy(logits, y, mask)

    result = gradcheck(loss, params, x)
    assert result.passed, str(result)


def _twin_loss(model, params, state, x, y, **kw):
    logits, new_state = model.apply(params, state, x, **kw)
    return losses.softmax_cross_entropy(logits, y), (logits, new_state)


@pytest.mark.skipif(not jax.config.jax_threefry_partitionable,
                    reason="the dropout key twin needs partitionable threefry (the default)")
@pytest.mark.parametrize("batch_norm, dropout_on", [(True, True), (False, True), (True, False)])
def test_sequential_twin_of_the_mlp_gives_equal_outputs_and_gradients(batch_norm, dropout_on):
    """``mlp.as_sequential()`` matches ``MLP``'s key order exactly: the same init key gives the
    same weights (asserted), and in training the same key gives the same dropout masks. Params
    and state are moved into the Sequential's structure by ``mlp.to_layer_trees`` (asserted
    equal to the Sequential's own init), then both models train three steps side by side;
    outputs, gradients and batch-norm state are equal, in training and at test time (the MLP's
    forward pass is the Sequential's layers)."""
    mlp = MLP((5, 8, 6, 3), batch_norm=batch_norm, dropout=dropout_on, bn_momentum=0.8)
    seq = mlp.as_sequential()
    assert seq.hyperparameters == ({"bn_momentum"} if batch_norm else set()) | (
        {"keep_prob"} if dropout_on else set())
    p_mlp, s_mlp = mlp.init(jax.random.key(0))
    p_seq, s_seq = mlp.to_layer_trees(p_mlp, s_mlp)
    own = seq.init(jax.random.key(0))
    jax.tree.map(np.testing.assert_array_equal, (p_seq, s_seq), own)
    x, y = _x((16, 5), seed=1), jnp.arange(16) % 3
    hp = {"keep_prob": jnp.float32(0.7)}
    grad = jax.jit(jax.grad(_twin_loss, argnums=1, has_aux=True), static_argnums=0,
                   static_argnames="train")
    for step in range(3):
        key = jax.random.key(10 + step)
        g_mlp, (out_mlp, s_mlp) = grad(mlp, p_mlp, s_mlp, x, y, train=True, key=key, hp=hp)
        g_seq, (out_seq, s_seq) = grad(seq, p_seq, s_seq, x, y, train=True, key=key, hp=hp)
        np.testing.assert_array_equal(out_seq, out_mlp)
        mapped_g, mapped_s = mlp.to_layer_trees(g_mlp, s_mlp)
        jax.tree.map(np.testing.assert_array_equal,
                     (g_seq, s_seq), (mapped_g, mapped_s))
        p_mlp = jax.tree.map(lambda p, g: p - 0.1 * g, p_mlp, g_mlp)
        p_seq = jax.tree.map(lambda p, g: p - 0.1 * g, p_seq, g_seq)
    out_mlp, _ = mlp.apply(p_mlp, s_mlp, x, train=False)
    out_seq, _ = seq.apply(p_seq, s_seq, x, train=False)
    np.testing.assert_array_equal(out_seq, out_mlp)
    g_mlp, _ = grad(mlp, p_mlp, s_mlp, x, y, train=False)
    g_seq, _ = grad(seq, p_seq, s_seq, x, y, train=False)
    jax.tree.map(np.testing.assert_array_equal,
                 g_seq, mlp.to_layer_trees(g_mlp, s_mlp)[0])


def test_sequential_jits_and_vmaps_over_hyperparameters():
    model = L.Sequential(L.Dense(8), L.BatchNorm(), L.Relu(), L.Dropout(), L.Dense(2),
                         input_shape=(3,))
    params, state = model.init(jax.random.key(0))
    x = _x((10, 3))
    hp = {"keep_prob": jnp.array([0.5, 1.0]), "bn_momentum": jnp.array([0.9, 0.99])}
    run = jax.jit(jax.vmap(lambda h: model.apply(params, state, x, train=True,
                                                 key=jax.random.key(1), hp=h)))
    ys, states = run(hp)
    assert ys.shape == (2, 10, 2)
    np.testing.assert_allclose(states[1]["mean"][1] / states[1]["mean"][0], 0.1, rtol=1e-5)
    assert hash(model) == hash(L.Sequential(*model.layers, input_shape=(3,)))


# ------------------------------------------------------------------------------- config, errors
def test_config_round_trips_through_json():
    model = _small_cnn()
    config = json.loads(json.dumps(model.to_config()))
    rebuilt = L.from_config(config)
    assert rebuilt == model and hash(rebuilt) == hash(model)
    params, state = model.init(jax.random.key(0))
    x = _x((2, 4, 4, 2))
    np.testing.assert_array_equal(rebuilt.apply(params, state, x, train=False)[0],
                                  model.apply(params, state, x, train=False)[0])
    for layer in (L.Dropout(0.5), L.Conv(2, (3,), strides=2), L.MaxPool((3, 3), (1, 1), "SAME")):
        assert L.from_config(json.loads(json.dumps(layer.to_config()))) == layer


def test_bad_input_is_named():
    model = L.Sequential(L.Dense(3), L.Dropout(), input_shape=(4,))
    params, state = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 4\)"):
        model.apply(params, state, jnp.ones((2, 5)), train=False)
    with pytest.raises(ValueError, match="Dropout draw.*pass key="):
        model.apply(params, state, jnp.ones((2, 4)), train=True)
    with pytest.raises(ValueError, match="mask must have shape"):
        model.apply(params, state, jnp.ones((2, 4)), train=False, mask=jnp.ones(3))
    with pytest.raises(TypeError, match=r"did you mean Flatten\(\)"):
        L.Sequential(L.Flatten, input_shape=(4,))
    with pytest.raises(TypeError, match="is a model, not a layer"):
        L.Sequential(model, input_shape=(4,))
    with pytest.raises(ValueError, match="Residual's layers map shape"):
        L.Sequential(L.Residual(L.Dense(3)), input_shape=(4,))
    with pytest.raises(ValueError, match="2-D Conv needs inputs"):
        L.Sequential(L.Conv(3), input_shape=(64,))
    with pytest.raises(ValueError, match="larger than its input"):
        L.Sequential(L.Conv(3, (5, 5), padding="VALID"), input_shape=(3, 3, 1))
    with pytest.raises(ValueError, match="units must be a positive int"):
        L.Dense(0)
    with pytest.raises(ValueError, match="padding must be"):
        L.MaxPool(padding="full")
    with pytest.raises(ValueError, match="keep_prob must lie"):
        L.Dropout(0.0)
    with pytest.raises(ValueError, match="unknown activation"):
        L.Activation("gelu")
    with pytest.raises(ValueError, match="unknown layer type"):
        L.from_config({"type": "Transformer"})
    with pytest.raises(ValueError, match="does not fit its fields"):
        L.from_config({"type": "Dense", "units": 3, "colour": "red"})
    with pytest.raises(ValueError, match="needs at least one layer"):
        L.Sequential(input_shape=(4,))
