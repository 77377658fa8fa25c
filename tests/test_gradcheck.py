"""Gradient checking: correct gradients pass, a bug in one leaf is found and named, bad input."""

from __future__ import annotations

import itertools
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import losses, nn
from jaxdl.gradcheck import (
    GREAT,
    LIKELY_BUG,
    OWN_GROUP_SIZE,
    check_mlp,
    gradcheck,
    leaf_path,
    mlp_problem,
    relative_difference,
    verdict,
)

# ---------------------------------------------------------------- a hand-written tanh MLP

SIZES = (4, 5, 5, 3)  # W2 is square, so a transposed dW2 still has the right shape
M = 6
LAMBD = 0.7


def tanh_mlp_params(seed: int = 0) -> dict:
    keys = jax.random.split(jax.random.key(seed), len(SIZES) - 1)
    return {
        "layers": [
            {"W": jax.random.normal(k, (n_in, n_out)) / np.sqrt(n_in),
             "b": 0.1 * jax.random.normal(jax.random.fold_in(k, 1), (n_out,))}
            for k, n_in, n_out in zip(keys, SIZES[:-1], SIZES[1:], strict=True)
        ]
    }


X = jax.random.normal(jax.random.key(10), (M, SIZES[0]))
Y = jnp.arange(M) % SIZES[-1]


def tanh_mlp_loss(params, x, y, lambd):
    """Softmax cross-entropy of a tanh MLP plus lambd / (2m) * sum ||W||^2."""
    a = x
    for layer in params["layers"][:-1]:
        a = jnp.tanh(a @ layer["W"] + layer["b"])
    out = params["layers"][-1]
    z = a @ out["W"] + out["b"]
    cross_entropy = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), y[:, None], axis=1))
    l2 = sum(jnp.sum(layer["W"] ** 2) for layer in params["layers"])
    return cross_entropy + lambd / (2 * x.shape[0]) * l2


@partial(jax.jit, static_argnames="bug")
def tanh_mlp_backprop(params, x, y, lambd, bug=None):
    """The course's backward pass, written out; ``bug`` breaks exactly one leaf."""
    m = x.shape[0]
    layers = params["layers"]
    acts = [x]
    for layer in layers[:-1]:
        acts.append(jnp.tanh(acts[-1] @ layer["W"] + layer["b"]))
    z = acts[-1] @ layers[-1]["W"] + layers[-1]["b"]
    dz = (jax.nn.softmax(z) - jax.nn.one_hot(y, z.shape[1])) / m
    grads = [None] * len(layers)
    for l in reversed(range(len(layers))):
        W = layers[l]["W"]
        l2_term = 0.0 if (bug == "no_l2_dW1" and l == 0) else lambd / m * W
        grads[l] = {"W": acts[l].T @ dz + l2_term, "b": jnp.sum(dz, axis=0)}
        if l:
            dz = (dz @ W.T) * (1 - acts[l] ** 2)
    if bug == "scaled_dW2":
        grads[1]["W"] = 2.0 * grads[1]["W"]
    if bug == "transposed_dW2":
        grads[1]["W"] = grads[1]["W"].T
    if bug == "db3_sign":
        grads[2]["b"] = -grads[2]["b"]
    return {"layers": grads}


def leaf_at(tree, path):
    """The leaf of ``tree`` whose readable path is ``path``."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return np.asarray(next(leaf for p, leaf in flat if leaf_path(p) == path))


def test_hand_written_backprop_with_l2_passes():
    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=tanh_mlp_backprop)
    assert result.passed and result.difference < GREAT
    assert result.failing == ()
    assert result.num_params == sum(a * b + b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True))
    assert all(leaf.difference < GREAT and leaf.worst == () for leaf in result.per_leaf.values())
    assert "PASSED" in str(result) and "great" in str(result)


def test_default_grad_fn_is_jax_grad_in_float64():
    params = tanh_mlp_params(1)
    result = gradcheck(tanh_mlp_loss, params, X, Y, LAMBD)
    assert result.passed and result.difference < GREAT
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        expected = jax.jit(jax.grad(tanh_mlp_loss))(p64, X.astype(jnp.float64), Y, LAMBD)
    for got, want in zip(jax.tree.leaves(result.analytic), jax.tree.leaves(expected), strict=True):
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "bug, leaf",
    [
        ("scaled_dW2", "layers[1].W"),
        ("transposed_dW2", "layers[1].W"),
        ("no_l2_dW1", "layers[0].W"),
        ("db3_sign", "layers[2].b"),
    ],
)
def test_bug_in_one_leaf_fails_and_names_only_that_leaf(bug, leaf):
    def grad_fn(params, x, y, lambd):
        return tanh_mlp_backprop(params, x, y, lambd, bug=bug)

    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn)
    assert not result.passed
    assert result.difference > LIKELY_BUG
    assert result.failing == (leaf,)
    assert result.per_leaf[leaf].difference > LIKELY_BUG
    others = [c.difference for path, c in result.per_leaf.items() if path != leaf]
    assert max(others) < GREAT
    worst = result.per_leaf[leaf].worst
    size = int(np.prod(result.per_leaf[leaf].shape))
    assert len(worst) == min(5, size)
    errors = [abs(c.analytic - c.numeric) for c in worst]
    assert errors == sorted(errors, reverse=True)
    analytic, numeric = leaf_at(result.analytic, leaf), leaf_at(result.numeric, leaf)
    assert errors[0] == pytest.approx(np.max(np.abs(analytic - numeric)))
    assert worst[0].analytic == analytic[worst[0].index]
    text = str(result)
    assert "FAILED" in text and "likely a bug" in text
    assert f"failing leaves (own difference above 1e-03): {leaf}" in text


def test_scaled_leaf_reports_the_scale_in_worst_coordinates():
    def grad_fn(params, x, y, lambd):
        return tanh_mlp_backprop(params, x, y, lambd, bug="scaled_dW2")

    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn)
    for c in result.per_leaf["layers[1].W"].worst:
        assert c.analytic == pytest.approx(2 * c.numeric, rel=1e-6)
    # a relative difference of g = 2 g_approx is |2 - 1| / (2 + 1)
    assert result.per_leaf["layers[1].W"].difference == pytest.approx(1 / 3, rel=1e-6)


def test_nan_in_one_leaf_fails_that_leaf():
    @jax.jit
    def grad_fn(params, x, y, lambd):
        grads = tanh_mlp_backprop(params, x, y, lambd)
        grads["layers"][2]["b"] = grads["layers"][2]["b"].at[1].set(jnp.nan)
        return grads

    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn)
    assert not result.passed
    assert result.failing == ("layers[2].b",)
    assert result.per_leaf["layers[2].b"].worst[0].index == (1,)


def test_zero_gradient_leaf_is_noise_not_a_failure():
    def loss(p, x):  # b is cancelled by the mean subtraction: its gradient is exactly 0
        z = x @ p["W"] + p["b"]
        return jnp.mean(jnp.tanh(z - jnp.mean(z, axis=0)) ** 2)

    params = {"W": jax.random.normal(jax.random.key(1), (3, 4)), "b": jnp.arange(4.0) / 4}
    x = jax.random.normal(jax.random.key(2), (6, 3))
    result = gradcheck(loss, params, x)
    assert result.passed and result.failing == ()
    b_error = np.linalg.norm(result.analytic["b"] - result.numeric["b"])
    assert b_error < 1e-7 * np.linalg.norm(result.analytic["W"])
    assert "noise floor" in str(result)
    broken = gradcheck(loss, params, x, grad_fn=lambda p, x: {"W": p["W"], "b": p["b"]})
    assert set(broken.failing) == {"W", "b"}


def test_small_error_lands_in_the_check_band_and_no_leaf_fails():
    def grad_fn(params, x, y, lambd):
        grads = tanh_mlp_backprop(params, x, y, lambd)
        grads["layers"][0]["W"] = grads["layers"][0]["W"] * (1 + 1e-5)
        return grads

    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn)
    assert GREAT < result.difference < LIKELY_BUG
    assert not result.passed and result.failing == ()
    assert "check:" in str(result)
    loose = gradcheck(
        tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn, threshold=1e-4
    )
    assert loose.passed and loose.difference == result.difference


def test_numeric_gradient_matches_closed_form_on_any_chunking():
    def loss(p):
        return jnp.sum(jnp.sin(p["a"])) + p["s"] ** 3 + jnp.sum(p["a"]) * p["s"]

    params = {"a": jnp.linspace(-1.0, 1.0, 7), "s": jnp.asarray(0.5)}
    a, s = np.asarray(params["a"], np.float64), 0.5
    expected_a = np.cos(a) + s
    expected_s = 3 * s**2 + a.sum()
    numerics = [gradcheck(loss, params, chunk_size=c).numeric for c in (1, 3, None)]
    for numeric in numerics:
        np.testing.assert_allclose(numeric["a"], expected_a, rtol=1e-8)
        np.testing.assert_allclose(numeric["s"], expected_s, rtol=1e-8)
        np.testing.assert_allclose(numeric["a"], numerics[0]["a"], rtol=1e-12)


def test_large_leaf_gets_its_own_chunked_loop():
    # 1280 entries: at least OWN_GROUP_SIZE, so W is perturbed in its own loop, b with the rest
    x = jax.random.normal(jax.random.key(5), (2, 32))

    def loss(p, x):
        return jnp.sum(jnp.tanh(x @ p["W"] + p["b"])) + jnp.sum(p["b"] ** 2)

    params = {"W": jax.random.normal(jax.random.key(6), (32, 40)) / 6, "b": jnp.ones(40) / 4}
    assert params["W"].size >= OWN_GROUP_SIZE > params["b"].size
    result = gradcheck(loss, params, x, chunk_size=100)  # 13 chunks of 99, 7 padded lanes
    assert result.passed and result.difference < GREAT
    for name in ("W", "b"):
        g, g_approx = result.analytic[name], result.numeric[name]
        np.testing.assert_allclose(g_approx, g, rtol=1e-6, atol=1e-7)  # FD rounding ~ 1e-8


def test_relative_difference_and_bands():
    assert relative_difference([3.0, 4.0], [0.0, 0.0]) == pytest.approx(1.0)
    assert relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    assert np.isnan(relative_difference([1.0, np.nan], [1.0, 2.0]))
    # ||(1, 0)|| / (||(2, 0)|| + ||(1, 0)||)
    assert relative_difference([2.0, 0.0], [1.0, 0.0]) == pytest.approx(1 / 3)
    assert verdict(1e-9).startswith("great")
    assert verdict(1e-5).startswith("check")
    assert verdict(1e-2).startswith("likely a bug")


def test_overall_difference_is_over_all_parameters():
    def grad_fn(params, x, y, lambd):
        return tanh_mlp_backprop(params, x, y, lambd, bug="scaled_dW2")

    result = gradcheck(tanh_mlp_loss, tanh_mlp_params(), X, Y, LAMBD, grad_fn=grad_fn)
    g = np.concatenate([np.ravel(v) for v in jax.tree.leaves(result.analytic)])
    g_approx = np.concatenate([np.ravel(v) for v in jax.tree.leaves(result.numeric)])
    expected = np.linalg.norm(g - g_approx) / (np.linalg.norm(g) + np.linalg.norm(g_approx))
    assert result.difference == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- the built-in MLP


def test_builtin_mlp_with_batch_norm_and_l2_passes():
    result = check_mlp(seed=0)
    assert result.passed and result.difference < GREAT, str(result)
    assert set(result.per_leaf) == {
        "layers[0].W", "layers[0].gamma", "layers[0].beta",
        "layers[1].W", "layers[1].gamma", "layers[1].beta",
        "layers[2].W", "layers[2].b",
    }
    assert "PASSED" in str(result)


def test_builtin_mlp_without_l2_in_grad_fn_fails_in_the_weights_only():
    loss_fn, params, args = mlp_problem(seed=0)
    model, state, x, y, lambd = args

    @partial(jax.jit, static_argnums=1)
    def grad_without_l2(params, model, state, x, y, lambd):
        def cross_entropy(p):
            logits, _ = model.apply(p, state, x, train=True)
            return losses.softmax_cross_entropy(logits, y)

        return jax.grad(cross_entropy)(params)

    result = gradcheck(loss_fn, params, *args, grad_fn=grad_without_l2)
    assert not result.passed
    assert set(result.failing) == {"layers[0].W", "layers[1].W", "layers[2].W"}


def test_builtin_mlp_wrong_gamma_gradient_is_named():
    loss_fn, params, args = mlp_problem(seed=0)

    @partial(jax.jit, static_argnums=1)
    def grad_fn(params, *args):
        grads = jax.grad(loss_fn)(params, *args)
        grads["layers"][1]["gamma"] = 0.5 * grads["layers"][1]["gamma"]
        return grads

    result = gradcheck(loss_fn, params, *args, grad_fn=grad_fn)
    assert result.failing == ("layers[1].gamma",)


def test_dropout_left_on_is_refused():
    model = nn.MLP(sizes=(4, 6, 3), dropout=True)
    params, _ = model.init(jax.random.key(0))
    seeds = itertools.count()

    def loss(params, x, y):
        key = jax.random.key(next(seeds))  # a fresh mask on every call
        logits, _ = model.apply(params, {}, x, train=True, key=key, hp={"keep_prob": 0.5})
        return losses.softmax_cross_entropy(logits, y)

    with pytest.raises(ValueError, match="not deterministic.*switch dropout off"):
        gradcheck(loss, params, X, Y)


def test_unkeyed_numpy_mask_is_refused():
    rng = np.random.default_rng(0)

    def loss(w, x):
        keep = rng.random(x.shape) < 0.5  # a new NumPy mask on every call
        return jnp.sum(jnp.tanh(jnp.where(keep, x, 0.0) @ w))

    with pytest.raises(ValueError, match="not deterministic"):
        gradcheck(loss, jnp.ones((4, 2)), X)


def test_randomness_that_does_not_change_the_loss_is_accepted():
    seeds = itertools.count()

    def loss(w):
        jax.random.key(next(seeds))  # different traces, same value
        return jnp.sum(jnp.sin(w))

    result = gradcheck(loss, jnp.linspace(0.0, 1.0, 3))
    assert result.passed
    np.testing.assert_allclose(result.analytic, np.cos(np.linspace(0.0, 1.0, 3)), rtol=1e-6)


# ---------------------------------------------------------------- pytrees and dtypes


class Pair(NamedTuple):
    a: jax.Array
    b: jax.Array


def nested_loss(params, x):
    enc = params["enc"]
    h = jnp.tanh(x @ enc[0]["W"]) * enc[1].a + enc[1].b
    cube = params["blocks"][0]
    return jnp.sum(h**2) * params["scale"] + jnp.sum(jnp.sin(cube)) + jnp.sum(params["odd key"])


def nested_params():
    k = jax.random.split(jax.random.key(3), 4)
    return {
        "enc": [{"W": jax.random.normal(k[0], (3, 2))}, Pair(jnp.asarray(0.7), jnp.ones(2))],
        "scale": jnp.asarray(1.3),
        "blocks": (jax.random.normal(k[1], (2, 2, 2)),),
        "odd key": jax.random.normal(k[2], (2,)),
    }


def test_nested_pytrees_and_leaves_of_any_shape():
    x = jax.random.normal(jax.random.key(4), (4, 3))
    result = gradcheck(nested_loss, nested_params(), x)
    assert result.passed and result.difference < GREAT
    assert set(result.per_leaf) == {
        "enc[0].W", "enc[1].a", "enc[1].b", "scale", "blocks[0]", "['odd key']"
    }
    assert result.per_leaf["scale"].shape == ()
    assert result.per_leaf["blocks[0]"].shape == (2, 2, 2)
    assert isinstance(result.numeric["enc"][1], Pair)

    @jax.jit
    def grad_fn(params, x):
        grads = jax.grad(nested_loss)(params, x)
        return {**grads, "scale": grads["scale"] + 1.0}

    broken = gradcheck(nested_loss, nested_params(), x, grad_fn=grad_fn)
    assert broken.failing == ("scale",)
    assert broken.per_leaf["scale"].worst[0].index == ()
    assert "scale: worst coordinates" in str(broken)


def test_a_bare_scalar_parameter():
    result = gradcheck(lambda w: jnp.cos(w) * w, 0.4)
    assert result.passed
    assert list(result.per_leaf) == ["params"]
    assert float(result.numeric) == pytest.approx(-np.sin(0.4) * 0.4 + np.cos(0.4), rel=1e-8)


def test_leaf_path_names():
    tree = {"layers": [{"W": 0.0}, {"W": 0.0}], "p": Pair(0.0, (0.0,)), "x-y": {3: 0.0}}
    paths = [leaf_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    assert paths == ["layers[0].W", "layers[1].W", "p.a", "p.b[0]", "['x-y'][3]"]
    assert leaf_path(()) == "params"


def test_float64_only_inside_the_check():
    seen = []

    def loss(params, x, n):
        seen.append((params["w"].dtype, x.dtype, n.dtype))
        return jnp.sum(jnp.tanh(x @ params["w"])) * n

    params = {"w": jnp.ones((3, 2), jnp.float32)}
    x = jnp.ones((4, 3), jnp.float32)
    n = jnp.asarray(2, jnp.int32)
    before = jax.config.jax_enable_x64
    result = gradcheck(loss, params, x, n)
    assert result.passed
    assert jax.config.jax_enable_x64 == before
    assert params["w"].dtype == jnp.float32 and jnp.ones(2).dtype == jnp.float32
    assert seen and all(s == (jnp.float64, jnp.float64, jnp.int32) for s in seen)


# ---------------------------------------------------------------- bad input


def test_non_scalar_loss_is_rejected():
    with pytest.raises(ValueError, match="scalar"):
        gradcheck(lambda p: p["w"] ** 2, {"w": jnp.ones(3)})


def test_integer_leaves_are_rejected():
    with pytest.raises(TypeError, match=r"params leaf steps has dtype int32.*floating"):
        gradcheck(lambda p: jnp.sum(p["w"]), {"w": jnp.ones(3), "steps": jnp.asarray(1)})


@pytest.mark.parametrize("epsilon", [0.0, -1e-7, float("nan")])
def test_epsilon_must_be_positive(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        gradcheck(lambda p: jnp.sum(p**2), jnp.ones(2), epsilon=epsilon)


def test_threshold_and_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="threshold"):
        gradcheck(lambda p: jnp.sum(p**2), jnp.ones(2), threshold=0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        gradcheck(lambda p: jnp.sum(p**2), jnp.ones(2), chunk_size=0)


def test_grad_fn_tree_must_match_params():
    params = {"a": jnp.ones(2), "b": jnp.ones((2, 3))}

    def loss(p):
        return jnp.sum(p["a"]) + jnp.sum(p["b"] ** 2)

    with pytest.raises(ValueError, match="structure of params"):
        gradcheck(loss, params, grad_fn=lambda p: {"a": p["a"]})
    with pytest.raises(ValueError, match=r"shape \(3, 2\) for params leaf b"):
        gradcheck(loss, params, grad_fn=lambda p: {"a": p["a"], "b": p["b"].T})


def test_other_bad_input():
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        gradcheck("loss", jnp.ones(2))
    with pytest.raises(TypeError, match="grad_fn must be callable"):
        gradcheck(jnp.sum, jnp.ones(2), grad_fn=3)
    with pytest.raises(ValueError, match="no leaves"):
        gradcheck(lambda p: 0.0, {})
    with pytest.raises(ValueError, match="finite loss"):
        gradcheck(lambda p: jnp.sum(jnp.log(p)), -jnp.ones(2))
