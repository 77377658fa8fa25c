"""jaxdl.optim: oracle agreement with optax, EWA, vmapped sweeps, dtypes, pytrees, properties,
the ill-conditioned quadratic and bad input."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import lax

from jaxdl import ewa, optim

FEW = settings(max_examples=20, deadline=None)


def run(opt, loss, params, steps, apply=optim.apply_updates):
    """``steps`` gradient steps of ``opt`` on ``loss`` in one ``lax.scan``; final params."""

    def step(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (apply(p, updates), s), None

    (params, _), _ = lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def assert_trees_close(a, b, rtol, atol=0.0):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol, atol)


# ---------------------------------------------------------------- problems


def _quadratic_problem():
    k = jax.random.split(jax.random.key(0), 3)
    m = jax.random.normal(k[0], (6, 6))
    a = m @ m.T / 6 + 0.1 * jnp.eye(6)
    b = jax.random.normal(k[1], (6,))

    def loss(p):
        w = jnp.concatenate([p["w"], p["v"].ravel()])
        return 0.5 * w @ a @ w - b @ w

    params = {"w": jax.random.normal(k[2], (2,)), "v": jnp.ones((2, 2))}
    return loss, params


def _mlp_problem():
    k = jax.random.split(jax.random.key(1), 4)
    x = jax.random.normal(k[0], (16, 3))
    y = jnp.sin(x @ jnp.array([1.0, -2.0, 0.5]))

    def loss(p):
        h = jnp.tanh(x @ p["W1"] + p["b1"])
        return jnp.mean((h @ p["W2"] + p["b2"] - y[:, None]) ** 2)

    params = {
        "W1": 0.5 * jax.random.normal(k[1], (3, 8)),
        "b1": jnp.zeros(8),
        "W2": 0.5 * jax.random.normal(k[2], (8, 1)),
        "b2": jnp.zeros(1),
    }
    return loss, params


PROBLEMS = {"quadratic": _quadratic_problem, "mlp": _mlp_problem}

# (ours, optax oracle) with the same hyperparameters
LR, BETA = 0.05, 0.8
PAIRS = {
    "sgd": (optim.sgd(LR), optax.sgd(LR)),
    "momentum": (optim.momentum(LR, beta=BETA), optax.sgd(LR * (1 - BETA), momentum=BETA)),
    "rmsprop": (
        optim.rmsprop(0.01, beta=BETA, eps=1e-6),
        optax.rmsprop(0.01, decay=BETA, eps=1e-6, eps_in_sqrt=False),
    ),
    "adam": (optim.adam(LR, b1=0.8, b2=0.95, eps=1e-7), optax.adam(LR, b1=0.8, b2=0.95, eps=1e-7)),
    "adamw": (
        optim.adamw(LR, b1=0.8, b2=0.95, eps=1e-7, weight_decay=0.1),
        optax.adamw(LR, b1=0.8, b2=0.95, eps=1e-7, weight_decay=0.1),
    ),
}


def run_side_by_side(ours, oracle, loss, params, steps):
    """Follow ``ours`` for ``steps`` steps; at each step feed the same gradient and params to both
    optimizers and record both updates (feeding both the same inputs keeps float32 round-off from
    being amplified by the chaotic sign-like steps of RMSprop/Adam on tiny gradients)."""

    def step(carry, _):
        p, s_ours, s_oracle = carry
        g = jax.grad(loss)(p)
        u_ours, s_ours = ours.update(g, s_ours, p)
        u_oracle, s_oracle = oracle.update(g, s_oracle, p)
        return (optim.apply_updates(p, u_ours), s_ours, s_oracle), (u_ours, u_oracle)

    carry = (params, ours.init(params), oracle.init(params))
    (final, _, _), (u_ours, u_oracle) = lax.scan(step, carry, None, length=steps)
    return final, u_ours, u_oracle


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("name", PAIRS)
def test_agrees_with_optax_for_100_steps(name, problem):
    loss, params = PROBLEMS[problem]()
    ours, oracle = PAIRS[name]
    final, u_ours, u_oracle = run_side_by_side(ours, oracle, loss, params, 100)
    assert float(loss(final)) < 0.7 * float(loss(params))  # the run actually optimizes
    assert_trees_close(u_ours, u_oracle, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", PAIRS)
def test_free_running_trajectories_agree_on_the_quadratic(name):
    loss, params = _quadratic_problem()
    ours, oracle = PAIRS[name]
    got = run(ours, loss, params, 100)
    want = run(oracle, loss, params, 100, optax.apply_updates)
    assert_trees_close(got, want, rtol=1e-5, atol=1e-6)


def test_momentum_is_heavy_ball_with_scaled_learning_rate():
    """v = beta v + (1 - beta) g, W -= lr v  ==  m = beta m + g, W -= lr (1 - beta) m."""
    lr, beta = 0.1, 0.9
    gs = jax.random.normal(jax.random.key(2), (5, 3))
    opt = optim.momentum(lr, beta)
    state, w_ours = opt.init(jnp.zeros(3)), np.zeros(3)
    m, w_ball = np.zeros(3), np.zeros(3)
    for g in gs:
        u, state = opt.update(g, state)
        w_ours = w_ours + np.asarray(u)
        m = beta * m + np.asarray(g, np.float64)
        w_ball = w_ball - lr * (1 - beta) * m
    np.testing.assert_allclose(w_ours, w_ball, rtol=1e-5)


def test_adam_first_step_and_count():
    """t = 1: v_hat = g, s_hat = g**2, so the step is -lr * g / (|g| + eps)."""
    g = jnp.array([3.0, -0.5, 0.0])
    opt = optim.adam(0.1, eps=1e-3)
    u, state = opt.update(g, opt.init(jnp.zeros(3)))
    np.testing.assert_allclose(u, -0.1 * g / (jnp.abs(g) + 1e-3), rtol=1e-6)
    assert state[0].count.dtype == jnp.int32 and int(state[0].count) == 1


def test_coupled_l2_is_the_gradient_of_the_course_penalty():
    """add_l2(lambd / m) before sgd gives the gradient of J + lambd / (2m) * ||W||**2."""
    loss, params = _mlp_problem()
    lambd, m, lr = 0.7, 16, 0.1

    def penalized(p):
        return loss(p) + lambd / (2 * m) * sum(jnp.sum(w**2) for w in jax.tree.leaves(p))

    opt = optim.chain(optim.add_l2(lambd / m), optim.sgd(lr))
    updates, _ = opt.update(jax.grad(loss)(params), opt.init(params), params)
    want = jax.tree.map(lambda g: -lr * g, jax.grad(penalized)(params))
    assert_trees_close(updates, want, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- EWA


def test_ewa_average_first_value_and_closed_form():
    xs = jnp.array([[2.0, -1.0], [4.0, 0.5], [1.0, 3.0], [0.0, -2.0]])
    beta = 0.9
    corrected = ewa.average(xs, beta)
    raw = ewa.average(xs, beta, bias_correction=False)
    np.testing.assert_array_equal(corrected[0], xs[0])  # exactly the first sample
    np.testing.assert_allclose(raw[0], (1 - beta) * xs[0], rtol=1e-6)
    v = np.zeros(2)
    for t, x in enumerate(np.asarray(xs, np.float64), start=1):
        v = beta * v + (1 - beta) * x
        np.testing.assert_allclose(raw[t - 1], v, rtol=1e-5)
        np.testing.assert_allclose(corrected[t - 1], v / (1 - beta**t), rtol=1e-5)


def test_ewa_average_rejects_bad_beta():
    with pytest.raises(ValueError, match="beta"):
        ewa.average(jnp.ones(3), 1.0)


# ---------------------------------------------------------------- sweeps, dtypes, trees


@jax.jit
def _sweep_member(hp):
    loss, params = _quadratic_problem()
    return run(optim.from_name("adam", hp), loss, params, 20)["w"]


def test_vmap_over_learning_rates_and_betas_equals_separate_runs():
    hps = {"learning_rate": jnp.array([0.01, 0.05, 0.2]), "b1": jnp.array([0.5, 0.9, 0.95])}
    swept = jax.jit(jax.vmap(_sweep_member))(hps)
    for i in range(3):
        single = _sweep_member(jax.tree.map(lambda v, i=i: v[i], hps))
        np.testing.assert_array_equal(swept[i], single)
    assert not np.allclose(swept[0], swept[2])  # the members really differ


def test_vmap_over_momentum_beta_is_exact():
    g = jax.random.normal(jax.random.key(3), (7, 4))

    def final(lr, beta):
        opt = optim.momentum(lr, beta)
        w, s = jnp.zeros(4), opt.init(jnp.zeros(4))
        for gi in g:
            u, s = opt.update(gi, s)
            w = optim.apply_updates(w, u)
        return w

    lrs, betas = jnp.array([0.1, 0.3]), jnp.array([0.0, 0.9])
    swept = jax.jit(jax.vmap(final))(lrs, betas)
    for i in range(2):
        np.testing.assert_array_equal(swept[i], jax.jit(final)(lrs[i], betas[i]))


def _adam_numpy(w0, grads, lr, b1, b2, eps):
    """Adam in float64 numpy, the formulas of the docstring."""
    w, v, s = np.array(w0, np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        w = w - lr * (v / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    return w


_GRADS = np.random.default_rng(0).normal(size=(10, 3))


@jax.jit
def _adam_on_grads(w0, grads):
    opt = optim.adam(0.1, 0.9, 0.99, 1e-8)

    def step(carry, g):
        w, s = carry
        u, s = opt.update(g.astype(w.dtype), s, w)
        return (optim.apply_updates(w, u), s), None

    (w, state), _ = lax.scan(step, (w0, opt.init(w0)), grads)
    return w, state


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_dtypes_under_jit(dtype):
    with jax.enable_x64(dtype == "float64"):
        w0 = jnp.asarray([1.0, -2.0, 0.5], dtype)
        w, state = _adam_on_grads(w0, jnp.asarray(_GRADS, dtype))
        moments = jnp.result_type(dtype, jnp.float32)
        assert w.dtype == jnp.dtype(dtype)
        assert state[0].mu.dtype == moments and state[0].nu.dtype == moments
        grads = np.asarray(jnp.asarray(_GRADS, dtype), np.float64)  # the gradients as rounded
        exact = _adam_numpy(np.asarray(w0, np.float64), grads, 0.1, 0.9, 0.99, 1e-8)
        rtol = {"float64": 1e-12, "float32": 1e-5, "bfloat16": 2e-2}[dtype]
        np.testing.assert_allclose(np.asarray(w, np.float64), exact, rtol=rtol, atol=rtol)
        opt = optim.rmsprop(0.1)
        u, _ = opt.update(w0, opt.init(w0))
        assert u.dtype == jnp.dtype(dtype)


class Pair(NamedTuple):
    left: jax.Array
    right: list


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_any_pytree_matches_leafwise_runs(name):
    leaves = jax.random.normal(jax.random.key(4), (4, 3))
    tree = {"a": leaves[0], "nested": [Pair(leaves[1], [leaves[2]]), (leaves[3][:2],)]}
    grads = jax.tree.map(lambda x: jnp.cos(3 * x), tree)
    opt = optim.from_name(name, {"learning_rate": 0.1, "weight_decay": 0.05})

    def two_steps(params, g):
        state = opt.init(params)
        u, state = opt.update(g, state, params)
        params = optim.apply_updates(params, u)
        u, state = opt.update(g, state, params)
        return optim.apply_updates(params, u)

    whole = two_steps(tree, grads)
    assert jax.tree.structure(whole) == jax.tree.structure(tree)
    for leaf, g, got in zip(*map(jax.tree.leaves, (tree, grads, whole)), strict=True):
        np.testing.assert_allclose(got, two_steps(leaf, g), rtol=1e-6)


# ---------------------------------------------------------------- properties

_ADAM_BOUND_STEPS = 8


def _adam_step_bound(t, b1, b2):
    """Cauchy-Schwarz: |v_hat| <= sqrt(sum_i a_i**2 / c_i) * sqrt(s_hat) with the EWA weights
    a_i, c_i of v_hat, s_hat; this is the largest possible |step| / lr at step t."""
    ages = np.arange(t)
    a = (1 - b1) * b1**ages / (1 - b1**t)
    c = (1 - b2) * b2**ages / (1 - b2**t)
    return math.sqrt(np.sum(a**2 / c))


@FEW
@given(
    grads=st.lists(
        st.lists(st.floats(-1e3, 1e3, width=32), min_size=3, max_size=3),
        min_size=_ADAM_BOUND_STEPS,
        max_size=_ADAM_BOUND_STEPS,
    ),
    lr=st.floats(1e-3, 1.0),
)
def test_adam_step_is_bounded_by_about_lr(grads, lr):
    opt = optim.adam(lr)
    state = opt.init(jnp.zeros(3))
    for t, g in enumerate(jnp.asarray(grads, jnp.float32), start=1):
        u, state = opt.update(g, state)
        bound = _adam_step_bound(t, 0.9, 0.999)
        assert bound <= 1.03  # "about lr" over the first steps
        assert np.all(np.abs(np.asarray(u)) <= lr * bound * (1 + 1e-5))
    assert np.all(np.abs(np.asarray(u)) < lr * 1.03)


@FEW
@given(
    name=st.sampled_from(optim.OPTIMIZERS),
    params=st.lists(st.floats(-10, 10, width=32), min_size=4, max_size=4),
    lr=st.floats(1e-4, 1.0),
    beta=st.floats(0.0, 0.999),
)
def test_zero_gradients_give_zero_updates(name, params, lr, beta):
    params = {"w": jnp.asarray(params[:3]), "b": jnp.asarray(params[3:])}
    hp = {"learning_rate": lr, "beta": beta, "b1": beta, "b2": beta, "weight_decay": 0.1}
    opt = optim.from_name(name, hp)
    state = opt.init(params)
    zeros = jax.tree.map(jnp.zeros_like, params)
    for _ in range(3):
        updates, state = opt.update(zeros, state, params)
        # adamw's decoupled decay still shrinks the weights: exactly -lr * wd * W
        want = jax.tree.map(lambda p: -lr * 0.1 * p if name == "adamw" else 0 * p, params)
        assert_trees_close(updates, want, rtol=1e-6, atol=0.0)


def test_step_count_saturates_instead_of_wrapping():
    top = np.iinfo(np.int32).max
    assert int(optim.safe_increment(jnp.int32(top))) == top
    assert int(optim.safe_increment(jnp.int32(top - 1))) == top
    state = optim.scale_by_adam().init(jnp.zeros(2))._replace(count=jnp.int32(top))
    u, state = optim.scale_by_adam().update(jnp.ones(2), state)
    assert int(state.count) == top and np.all(np.isfinite(u))


def test_current_learning_rate():
    sched = optim.inverse_time_decay(0.5, 1.0)
    np.testing.assert_allclose(optim.current_learning_rate(sched, 2), 0.5 / 3, rtol=1e-6)
    np.testing.assert_allclose(optim.current_learning_rate(0.3, 7), 0.3, rtol=1e-7)


# ---------------------------------------------------------------- the course's picture


def _load_plot_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "plot_optimizers.py"
    spec = importlib.util.spec_from_file_location("plot_optimizers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ill_conditioned_quadratic_gd_oscillates_momentum_and_adam_converge(tmp_path):
    script = _load_plot_script()
    paths = {name: script.trajectory(opt) for name, opt in script.optimizers().items()}
    (gd, gd_ws), (mom, mom_ws), (adam, adam_ws) = paths.items()
    assert "gradient descent" in gd and "momentum" in mom and "Adam" in adam
    steep = np.asarray(gd_ws[1:, 1])
    assert np.all(np.sign(steep[1:]) == -np.sign(steep[:-1]))  # zig-zags across the valley
    gd_loss = float(script.loss(gd_ws[-1]))
    assert gd_loss > 1e-4
    for ws in (mom_ws, adam_ws):
        assert float(script.loss(ws[-1])) < 1e-3 * gd_loss
    out = tmp_path / "opt.png"
    script.main(["--out", str(out), "--steps", "20"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- bad input

BAD = [
    (lambda: optim.sgd(0.0), ValueError, "learning_rate"),
    (lambda: optim.sgd(-0.1), ValueError, "learning_rate"),
    (lambda: optim.adam(float("nan")), ValueError, "learning_rate"),
    (lambda: optim.sgd(float("inf")), ValueError, "learning_rate"),
    (lambda: optim.sgd(jnp.array([0.1, -1.0])), ValueError, "learning_rate"),
    (lambda: optim.sgd("0.1"), TypeError, "schedule"),
    (lambda: optim.momentum(0.1, beta=1.0), ValueError, "beta"),
    (lambda: optim.momentum(0.1, beta=-0.1), ValueError, "beta"),
    (lambda: optim.rmsprop(0.1, beta=1.5), ValueError, "beta"),
    (lambda: optim.rmsprop(0.1, eps=0.0), ValueError, "eps"),
    (lambda: optim.adam(0.1, b1=1.0), ValueError, "b1"),
    (lambda: optim.adam(0.1, b2=-0.5), ValueError, "b2"),
    (lambda: optim.adam(0.1, eps=-1e-8), ValueError, "eps"),
    (lambda: optim.adamw(0.1, weight_decay=-1.0), ValueError, "weight_decay"),
    (lambda: optim.add_l2(float("nan")), ValueError, "lambd"),
    (lambda: optim.from_name("lion", {}), ValueError, "sgd"),
    (lambda: optim.from_name(3, {}), TypeError, "name"),
    (lambda: optim.from_name("adam", [0.1]), TypeError, "hp"),
    (lambda: optim.from_name("adam", {"learning_rate": "fast"}), TypeError, "learning_rate"),
    (lambda: optim.chain(optim.sgd(0.1), "adam"), TypeError, "chain argument 1"),
]


@pytest.mark.parametrize("make,error,match", BAD)
def test_bad_hyperparameters_raise_naming_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_grads_tree_must_match_state(name):
    params = {"W": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    opt = optim.from_name(name, {})
    state = opt.init(params)
    extra = {**params, "c": jnp.zeros(1)}
    with pytest.raises(ValueError, match="grads must have the same tree structure"):
        opt.update(extra, state, params)
    with pytest.raises(ValueError, match="grads must have the same tree structure"):
        jax.jit(opt.update)(extra, state, params)  # the check is static: works under jit
    with pytest.raises(ValueError, match=r"grads\['W'\] has shape \(3,\)"):
        opt.update({"W": jnp.zeros(3), "b": jnp.zeros(2)}, state, params)


def test_params_required_and_matching_for_l2():
    opt = optim.adamw(0.1)
    params = [jnp.zeros(2)]
    state = opt.init(params)
    with pytest.raises(ValueError, match="needs params"):
        opt.update(params, state)
    with pytest.raises(ValueError, match="updates must have the same tree structure"):
        optim.apply_updates(params, (jnp.zeros(2),))


def test_checks_are_skipped_for_tracers():
    """Inside jit the hyperparameters are unknown; construction must still work."""

    @jax.jit
    def step(lr, b2):
        opt = optim.adam(lr, b2=b2)
        u, _ = opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
        return u

    np.testing.assert_allclose(step(0.1, 0.99), -0.1 * jnp.ones(2), rtol=1e-6)
