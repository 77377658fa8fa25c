"""jaxdl.optim with optax in both directions, gradient clipping, Nesterov momentum and cosine
schedules, each against optax as the oracle, with traced (vmapped) hyperparameters."""

from __future__ import annotations

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from jaxdl import optim

STEPS = 12


def _problem():
    k = jax.random.split(jax.random.key(7), 3)
    m = jax.random.normal(k[0], (5, 5))
    a = m @ m.T + 0.5 * jnp.eye(5)
    b = 3 * jax.random.normal(k[1], (5,))

    def loss(p):
        w = jnp.concatenate([p["w"], p["b"]])
        return 0.5 * w @ a @ w - b @ w

    return loss, {"w": jax.random.normal(k[2], (3,)), "b": jnp.ones(2)}


def _run(opt, steps=STEPS):
    """``steps`` gradient steps of ``opt`` on the quadratic; the final params."""
    loss, params = _problem()

    def step(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, updates), s), None

    (params, _), _ = lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def _close(a, b, rtol=2e-5, atol=1e-6):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def _grads(scale):
    k = jax.random.split(jax.random.key(3), 2)
    w, b = jax.random.normal(k[0], (4, 3)), jax.random.normal(k[1], (3,))
    return {"w": scale * w, "b": scale * b}


# ---------------------------------------------------------------- optax in both directions


def test_optax_transform_inside_jaxdl_chain():
    ours = optim.chain(optax.clip_by_global_norm(1.0), optim.adam(0.05))
    oracle = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.05))
    _close(_run(ours), _run(oracle))


def test_jaxdl_transform_inside_optax_chain():
    ours = optax.chain(optim.clip_by_global_norm(1.0), optax.adam(0.05))
    mixed = optax.chain(optax.clip_by_global_norm(1.0), optim.adam(0.05))
    oracle = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.05))
    _close(_run(ours), _run(oracle))
    _close(_run(mixed), _run(oracle))


def test_mixed_chain_under_jit_and_vmap_over_learning_rate():
    loss, params = _problem()
    grads = jax.grad(loss)(params)

    def first_update(lr):
        opt = optim.chain(optax.clip(0.5), optim.sgd(lr))
        return opt.update(grads, opt.init(params), params)[0]

    lrs = jnp.array([0.1, 0.01])
    got = jax.jit(jax.vmap(first_update))(lrs)
    for i, lr in enumerate([0.1, 0.01]):
        want = jax.tree.map(lambda g, lr=lr: -lr * jnp.clip(g, -0.5, 0.5), grads)
        _close(jax.tree.map(lambda x, i=i: x[i], got), want, rtol=1e-6)


def test_protocol_recognises_both_libraries():
    assert isinstance(optim.adam(0.1), optim.GradientTransformationLike)
    assert isinstance(optax.adam(0.1), optim.GradientTransformationLike)
    assert not isinstance(object(), optim.GradientTransformationLike)


class _NoUpdate:
    def init(self, params):
        return ()


@pytest.mark.parametrize("bad", ["adam", optax.adam, _NoUpdate(), None])
def test_chain_rejects_object_without_init_update_naming_position(bad):
    with pytest.raises(TypeError, match=r"chain argument 1 must be a gradient transformation"):
        optim.chain(optim.clip(1.0), bad)


def test_chain_accepts_a_plain_user_object():
    class Halve:
        def init(self, params):
            return ()

        def update(self, updates, state, params=None):
            return jax.tree.map(lambda u: u / 2, updates), state

    opt = optim.chain(Halve(), optim.sgd(1.0))
    updates, _ = opt.update(jnp.array([4.0]), opt.init(jnp.zeros(1)))
    assert updates.tolist() == [-2.0]


# ---------------------------------------------------------------- clipping


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])  # below, around and above the threshold
def test_clip_by_global_norm_matches_optax(scale):
    grads = _grads(scale)
    ours, _ = optim.clip_by_global_norm(1.5).update(grads, optim.EmptyState())
    want, _ = optax.clip_by_global_norm(1.5).update(grads, optax.EmptyState())
    _close(ours, want, rtol=1e-6)
    assert float(optim.global_norm(ours)) <= 1.5 * (1 + 1e-6)
    if scale == 0.01:
        _close(ours, grads, rtol=0)  # untouched below the threshold


def test_clip_matches_optax():
    grads = _grads(1.0)
    ours, _ = optim.clip(0.3).update(grads, optim.EmptyState())
    want, _ = optax.clip(0.3).update(grads, optax.EmptyState())
    _close(ours, want, rtol=0)
    assert max(float(jnp.max(jnp.abs(u))) for u in jax.tree.leaves(ours)) == pytest.approx(0.3)


def test_clipping_thresholds_vmap():
    grads = _grads(1.0)
    values = jnp.array([0.1, 1.0, 1e3], jnp.float32)

    def clipped(make, value):
        return make(value).update(grads, optim.EmptyState())[0]

    for ours, oracle in [
        (optim.clip_by_global_norm, optax.clip_by_global_norm),
        (optim.clip, optax.clip),
    ]:
        got = jax.vmap(lambda v, ours=ours: clipped(ours, v))(values)
        for i, v in enumerate(values.tolist()):
            want, _ = oracle(v).update(grads, optax.EmptyState())
            _close(jax.tree.map(lambda x, i=i: x[i], got), want, rtol=1e-6)


def test_clip_by_global_norm_keeps_dtypes():
    grads = {"h": jnp.full((3,), 100.0, jnp.bfloat16), "f": jnp.ones(2, jnp.float32)}
    out, _ = optim.clip_by_global_norm(1.0).update(grads, optim.EmptyState())
    assert out["h"].dtype == jnp.bfloat16 and out["f"].dtype == jnp.float32
    assert float(optim.global_norm(out)) == pytest.approx(1.0, rel=1e-2)


@pytest.mark.parametrize("make", [optim.clip_by_global_norm, optim.clip])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_clipping_rejects_bad_threshold(make, value):
    with pytest.raises(ValueError, match=r"max_(norm|delta)"):
        make(value)


# ---------------------------------------------------------------- Nesterov


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_nesterov_matches_optax_trace_form(beta):
    lr = 0.05
    oracle = optax.sgd(lr * (1 - beta), momentum=beta, nesterov=True)
    _close(_run(optim.nesterov(lr, beta)), _run(oracle))
    _close(_run(optim.momentum(lr, beta, nesterov=True)), _run(oracle))
    _close(_run(optim.from_name("nesterov", {"learning_rate": lr, "beta": beta})), _run(oracle))


def test_nesterov_differs_from_heavy_ball():
    a, b = _run(optim.nesterov(0.05, 0.9)), _run(optim.momentum(0.05, 0.9))
    assert not np.allclose(np.asarray(a["w"]), np.asarray(b["w"]))


def test_nesterov_beta_vmaps():
    betas = jnp.array([0.5, 0.9, 0.99], jnp.float32)
    got = jax.vmap(lambda b: _run(optim.nesterov(0.05, b), steps=5))(betas)
    for i, beta in enumerate(betas.tolist()):
        want = _run(optax.sgd(0.05 * (1 - beta), momentum=beta, nesterov=True), steps=5)
        _close(jax.tree.map(lambda x, i=i: x[i], got), want)


def test_nesterov_flag_must_be_bool():
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        optim.momentum(0.1, 0.9, nesterov="yes")


# ---------------------------------------------------------------- cosine schedules

COUNTS = jnp.arange(0, 130, dtype=jnp.int32)


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cosine_decay_matches_optax(alpha):
    ours = jax.vmap(optim.cosine_decay_schedule(0.3, 100, alpha))(COUNTS)
    want = jax.vmap(optax.cosine_decay_schedule(0.3, 100, alpha))(COUNTS)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("init", "warmup", "end"), [(0.0, 10, 0.0), (0.01, 25, 1e-3), (0.1, 0, 0.0)]
)
def test_warmup_cosine_matches_optax(init, warmup, end):
    ours = jax.vmap(optim.warmup_cosine_decay_schedule(init, 0.5, warmup, 100, end))(COUNTS)
    want = jax.vmap(optax.warmup_cosine_decay_schedule(init, 0.5, warmup, 100, end))(COUNTS)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-7)


def test_warmup_cosine_values_vmap():
    peaks = jnp.array([0.1, 1.0], jnp.float32)
    ends = jnp.array([0.0, 0.01], jnp.float32)

    def values(peak, end):
        return jax.vmap(optim.warmup_cosine_decay_schedule(0.0, peak, 10, 60, end))(COUNTS)

    got = jax.jit(jax.vmap(values))(peaks, ends)
    for i in range(2):
        oracle = optax.warmup_cosine_decay_schedule(0.0, float(peaks[i]), 10, 60, float(ends[i]))
        np.testing.assert_allclose(got[i], jax.vmap(oracle)(COUNTS), rtol=1e-5, atol=1e-7)


def test_cosine_schedule_as_learning_rate_matches_optax():
    ours = optim.adam(optim.warmup_cosine_decay_schedule(0.0, 0.1, 3, STEPS, 0.01))
    oracle = optax.adam(optax.warmup_cosine_decay_schedule(0.0, 0.1, 3, STEPS, 0.01))
    _close(_run(ours), _run(oracle))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup_steps": 100, "decay_steps": 100}, "decay_steps .* larger than warmup_steps"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"peak_value": 0.0}, "peak_value"),
        ({"init_value": -0.1}, "init_value"),
        ({"end_value": float("nan")}, "end_value"),
    ],
)
def test_warmup_cosine_rejects_bad_input(kwargs, match):
    args = {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 5, "decay_steps": 100}
    with pytest.raises(ValueError, match=match):
        optim.warmup_cosine_decay_schedule(**{**args, **kwargs})


@pytest.mark.parametrize(("args", "match"), [((1.0, 0), "decay_steps"), ((1.0, 10, 1.5), "alpha")])
def test_cosine_decay_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        optim.cosine_decay_schedule(*args)


# ---------------------------------------------------------------- docstring examples


@pytest.mark.parametrize(
    "module", ["base", "clipping", "schedules", "aliases", "transforms"]
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"jaxdl.optim.{module}"))
    assert result.failed == 0 and result.attempted > 0
