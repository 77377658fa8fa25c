"""The divergence guard (jaxdl.optim.guard) and the one training step (jaxdl.train.step)."""

from __future__ import annotations

import ast
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import optim
from jaxdl.hyperparams import hyperparams
from jaxdl.nn import MLP
from jaxdl.train import Batch, Keys, Trainer, run_epoch, run_init
from jaxdl.train.step import train_step

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"w": jnp.array([[0.5, -1.0], [2.0, 0.25]]), "b": jnp.array([0.1, -0.2])}
GRADS = {"w": jnp.array([[0.3, -0.1], [0.2, 0.4]]), "b": jnp.array([-0.5, 0.05])}
HP = {"learning_rate": 0.1, "beta": 0.8, "b1": 0.7, "b2": 0.9, "eps": 1e-6,
      "weight_decay": 0.01}


def _bits(tree):
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def _guards(name):
    """The fast path (decays gated) and the leaf-wise select of optimizer ``name``."""
    inner = optim.from_name(name, HP)
    decays = {k: HP[k] for k in optim.REGISTRY[name].state_decays}
    fast = optim.guard(inner, decays=decays,
                       rebuild=lambda gated: optim.from_name(name, {**HP, **gated}))
    return fast, optim.guard(inner)


def _warm(opt, steps=2):
    """Parameters and a state with non-zero moments and counters."""
    params, state = PARAMS, opt.init(PARAMS)
    for _ in range(steps):
        params, state, _ = opt.step(GRADS, state, params, jnp.asarray(True))
    return params, state


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
def test_accepted_step_is_the_plain_update(name):
    inner = optim.from_name(name, HP)
    for opt in _guards(name):
        params, state = _warm(opt)

        @jax.jit
        def both(params, state, opt=opt):
            updates, want_state = inner.update(GRADS, state, params)
            got = opt.step(GRADS, state, params, jnp.asarray(True))
            return got, (optim.apply_updates(params, updates), want_state)

        (new, got_state, ok), (want, want_state) = both(params, state)
        assert bool(ok)
        assert _bits(new) == _bits(want)
        assert _bits(got_state) == _bits(want_state)


@pytest.mark.parametrize("name", optim.OPTIMIZERS)
@pytest.mark.parametrize("why", ["not ok", "nan gradient", "overflow"])
def test_rejected_step_keeps_parameters_and_state_exactly(name, why):
    for opt in _guards(name):
        params, state = _warm(opt)
        grads, ok = GRADS, jnp.asarray(why != "not ok")
        if why == "nan gradient":  # the caller's ok says so, as the step's finite check does
            grads, ok = jax.tree.map(lambda g: g * jnp.nan, GRADS), jnp.asarray(False)
        if why == "overflow":
            params = jax.tree.map(lambda p: p * 3e38, params)
        new, kept, taken = jax.jit(opt.step)(grads, state, params, ok)  # ok traced: fast path
        assert not bool(taken)
        eager = opt.step(grads, state, params, ok)  # ok concrete
        assert _bits(eager[:2]) == _bits((params, state)) or why == "overflow"
        assert _bits(new) == _bits(params)
        counters = [leaf for leaf in jax.tree.leaves(state) if leaf.dtype == jnp.int32]
        kept_counters = [leaf for leaf in jax.tree.leaves(kept) if leaf.dtype == jnp.int32]
        assert _bits(kept_counters) == _bits(counters)
        if why != "overflow" or opt is _guards(name)[1]:
            # the fast path keeps the EWA of an overflowing step's finite gradient
            assert _bits(kept) == _bits(state)


def test_fast_path_overflow_keeps_the_finite_gradient_in_the_moments():
    fast, select = _guards("adam")
    params, state = _warm(fast)
    big = jax.tree.map(lambda p: p * 3e38, params)
    _, kept_fast, _ = jax.jit(fast.step)(GRADS, state, big, jnp.asarray(True))
    _, kept_select, _ = jax.jit(select.step)(GRADS, state, big, jnp.asarray(True))
    assert int(kept_fast[0].count) == int(state[0].count)
    assert _bits(kept_select) == _bits(state)
    assert _bits(kept_fast[0].mu) != _bits(state[0].mu)


def test_update_matches_optax_apply_if_finite():
    optax = pytest.importorskip("optax")
    ours = optim.guard(optim.adam(0.1))
    theirs = optax.apply_if_finite(optax.adam(0.1), max_consecutive_errors=100)
    s_ours, s_theirs = ours.init(PARAMS), theirs.init(PARAMS)
    nan = jax.tree.map(lambda g: g * jnp.nan, GRADS)
    for grads in (GRADS, nan, GRADS, nan, nan, GRADS):
        u_ours, s_ours = ours.update(grads, s_ours, PARAMS)
        u_theirs, s_theirs = theirs.update(grads, s_theirs, PARAMS)
        for a, b in zip(jax.tree.leaves(u_ours), jax.tree.leaves(u_theirs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=0)
        assert int(s_ours[0].count) == int(s_theirs.inner_state[0].count)
        np.testing.assert_allclose(s_ours[0].mu["w"], s_theirs.inner_state[0].mu["w"], rtol=1e-5)


def test_update_rejects_a_non_finite_update_and_takes_ok():
    opt = optim.guard(optim.sgd(1e38))
    state = opt.init(PARAMS)
    big = jax.tree.map(lambda g: g * 1e10, GRADS)
    updates, _ = opt.update(big, state, PARAMS)
    assert all(not np.any(leaf) for leaf in jax.tree.leaves(updates))
    updates, _ = opt.update(GRADS, state, PARAMS, ok=False)
    assert all(not np.any(leaf) for leaf in jax.tree.leaves(updates))


def test_decays_without_rebuild_is_an_error():
    with pytest.raises(ValueError, match="rebuild"):
        optim.guard(optim.adam(0.1), decays={"b1": 0.9})
    with pytest.raises(TypeError, match="inner must be a gradient transformation"):
        optim.guard("adam")


def test_guarded_optimizer_takes_the_fast_path_for_names_only():
    hp = hyperparams(learning_rate=0.1)
    params = {"w": jnp.ones(3)}
    # A rejected overflow step: the fast path keeps the finite gradient's EWA, select does not.
    for optimizer, moved in (("momentum", True), (lambda h: optim.momentum(h["learning_rate"]),
                                                   False)):
        guarded = Trainer(MLP((2, 1)), optimizer=optimizer).guarded_optimizer(hp)
        state = guarded.init(params)
        _, kept, ok = jax.jit(guarded.step)({"w": jnp.full(3, 1e38)}, state,
                                            {"w": jnp.full(3, 3e38)}, jnp.asarray(True))
        assert not bool(ok)
        assert bool(jnp.any(kept[0].mu["w"] != state[0].mu["w"])) is moved


def _data(m=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(m, 3)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray((x[:, 0] > 0).astype(np.int32))


def test_the_epoch_is_a_scan_of_train_step():
    trainer = Trainer(MLP((3, 5, 2), batch_norm=True, dropout=True), batch_size=16)
    hp, keys = hyperparams(learning_rate=0.05, keep_prob=0.8), Keys.from_seed(3)
    x, y = _data()
    ts = run_init(trainer, keys.init, hp)
    ts_epoch, metrics = jax.jit(trainer.epoch, static_argnums=())(ts, hp, x, y, keys,
                                                                   jnp.asarray(1))
    part = trainer.partition(x.shape[0])
    idx, mask = trainer.epoch_order(x.shape[0], keys, jnp.asarray(1))
    step_keys = jax.random.split(jax.random.fold_in(keys.dropout, 1), part.num_batches)
    step = jax.jit(lambda ts, b, k, i: train_step(
        trainer, ts, b, k, hp, num_examples=40, steps_per_epoch=part.num_batches, step=i))
    costs = []
    for i in range(part.num_batches):
        batch = Batch(x[idx[i]], y[idx[i]], mask[i] if part.padded else None)
        ts, out = step(ts, batch, step_keys[i], part.num_batches + i)
        costs.append(out.cost)
    np.testing.assert_allclose(metrics["cost"], np.array(costs), rtol=1e-5)
    for a, b in zip(jax.tree.leaves(ts_epoch), jax.tree.leaves(ts), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_diverging_epoch_records_the_step_and_keeps_the_last_finite_state():
    trainer = Trainer(MLP((3, 2)), optimizer="sgd", batch_size=10)
    hp, keys = hyperparams(learning_rate=0.1), Keys.from_seed(0)
    x, y = _data()
    x = x.at[13, 1].set(jnp.inf)  # the batch holding row 13 has an infinite cost
    ts0 = run_init(trainer, keys.init, hp)
    before = _bits(ts0.params)
    ts, _ = run_epoch(trainer, ts0, hp, x, y, keys, 2)
    assert int(ts.diverged_at) >= 2 * 4  # a global step of epoch 2
    step = int(ts.diverged_at) - 8
    assert 0 <= step < 4
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(ts.params))
    if step == 0:
        assert _bits(ts.params) == before


def test_train_step_reports_a_rejected_step_and_train_step_method_agrees():
    trainer = Trainer(MLP((3, 2)), optimizer="adam")
    hp = hyperparams(learning_rate=0.01)
    ts = trainer.init(jax.random.key(0), hp)
    x, y = _data(8)
    bad = Batch(x.at[0, 0].set(jnp.inf), y)
    new, out = train_step(trainer, ts, bad, jax.random.key(1), hp, num_examples=8, step=5)
    assert bool(out.diverged) and int(new.diverged_at) == 5
    assert _bits(new.params) == _bits(ts.params) and _bits(new.opt_state) == _bits(ts.opt_state)
    again, out = train_step(trainer, new, Batch(x, y), jax.random.key(1), hp, num_examples=8)
    assert not bool(out.diverged) and int(again.diverged_at) == 5  # a diverged state stays
    assert _bits(again.params) == _bits(ts.params)
    good, out = train_step(trainer, ts, Batch(x, y), jax.random.key(1), hp, num_examples=8)
    legacy = trainer.train_step(*ts[:3], Batch(x, y), jax.random.key(1), hp, num_examples=8)
    assert _bits(legacy[:3]) == _bits((good.params, good.model_state, good.opt_state))
    assert _bits(legacy[3]) == _bits(out.cost)


def _source_imports(path: Path) -> set[str]:
    """Every module ``path`` names in an import, TYPE_CHECKING blocks included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


@pytest.mark.parametrize("module", ["epoch", "step"])
def test_epoch_and_step_know_no_trainer_and_no_optimizer_by_name(module):
    path = ROOT / "jaxdl" / "train" / f"{module}.py"
    assert not any(n.startswith("jaxdl.train.trainer") for n in _source_imports(path))
    source = path.read_text()
    for name in ("REGISTRY", "state_decays", "DEFAULTS", "isinstance(trainer.optimizer",
                 "from_name", "optimizer_for"):
        assert name not in source, name
