"""optim.one_of / optim.switch: one optimizer out of several chosen by a (traced) index.

Each member trained through the switch equals the same member trained with its plain optimizer
(eagerly, under jit, under vmap with mixed kinds, through fit), the branches not chosen keep
their state, and schedules, clipping and the divergence guard keep working."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import MLP, Trainer, fit, optim

PARAMS = {"W": jnp.array([[0.5, -1.0], [2.0, 0.25]]), "b": jnp.array([0.1, -0.2])}
HP = {"learning_rate": 0.05, "beta": 0.8, "b1": 0.7, "b2": 0.99, "eps": 1e-8}
NAMES = ("momentum", "adam", "rmsprop")


def grads_at(t):
    """A deterministic gradient sequence (differs per step and per leaf)."""
    return {"W": jnp.array([[1.0, -2.0], [0.5, 3.0]]) * jnp.sin(t + 1.0),
            "b": jnp.array([-1.5, 0.25]) * jnp.cos(2.0 * t)}  # fmt: skip


def run(opt, steps=5, params=PARAMS):
    state = opt.init(params)
    for t in range(steps):
        updates, state = opt.update(grads_at(t), state, params)
        params = optim.apply_updates(params, updates)
    return params, state


def close(a, b, rtol=1e-6, atol=1e-7):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.parametrize("k", range(3))
def test_each_branch_equals_its_plain_optimizer_and_others_keep_their_state(k):
    branches = [optim.from_name(n, HP) for n in NAMES]
    plain_params, plain_state = run(branches[k])
    for index in (k, jnp.asarray(k), jnp.asarray(float(k), jnp.float32)):
        params, state = run(optim.one_of(index, *branches))
        close(params, plain_params)
        close(state.inner[k], plain_state)
        for j in range(3):  # the branches not chosen: exactly their initial state
            if j != k:
                assert jax.tree.all(jax.tree.map(
                    lambda a, b: bool(jnp.array_equal(a, b)), state.inner[j],
                    branches[j].init(PARAMS)))  # fmt: skip


def test_traced_index_under_jit_equals_the_plain_optimizer():
    branches = [optim.from_name(n, HP) for n in NAMES]

    @jax.jit
    def train(index):
        return run(optim.one_of(index, *branches))[0]

    for k in range(3):
        close(train(jnp.asarray(k)), run(branches[k])[0])


def test_vmap_with_mixed_kinds_equals_each_member_alone():
    """Members 0..5 with indices 0, 1, 2, 1, 0, 2 and their own learning rates: each member's
    parameters and chosen state equal its plain optimizer's run; the other branches' states
    stay at init (a select over the branches, each member keeping its own)."""
    indices = jnp.array([0, 1, 2, 1, 0, 2])
    rates = jnp.array([0.1, 0.01, 0.02, 0.05, 0.3, 0.001])

    def member(index, lr):
        hp = {**HP, "learning_rate": lr}
        return run(optim.one_of(index, *[optim.from_name(n, hp) for n in NAMES]))

    params, state = jax.jit(jax.vmap(member))(indices, rates)
    for i, (k, lr) in enumerate(zip(indices.tolist(), rates.tolist())):
        plain = optim.from_name(NAMES[k], {**HP, "learning_rate": lr})
        plain_params, plain_state = run(plain)
        close(jax.tree.map(lambda a, i=i: a[i], params), plain_params)
        close(jax.tree.map(lambda a, i=i: a[i], state.inner[k]), plain_state)
        for j in range(3):
            if j != k:
                fresh = optim.from_name(NAMES[j], HP).init(PARAMS)
                mine = jax.tree.map(lambda a, i=i: a[i], state.inner[j])
                for a, b in zip(jax.tree.leaves(mine), jax.tree.leaves(fresh), strict=True):
                    np.testing.assert_array_equal(a, b)


def test_schedules_and_clipping_inside_each_branch():
    decay = optim.inverse_time_decay(0.1, decay_rate=0.5)
    branches = [optim.chain(optim.clip_by_global_norm(0.5), optim.momentum(decay, beta=0.9)),
                optim.chain(optim.clip_by_global_norm(0.5), optim.adam(decay))]  # fmt: skip
    for k in range(2):
        close(run(optim.one_of(jnp.asarray(k), *branches))[0], run(branches[k])[0])
    # clipping around the switch: the same as around the plain optimizer
    outer = optim.chain(optim.clip(0.3), optim.one_of(1, *branches))
    close(run(outer)[0], run(optim.chain(optim.clip(0.3), branches[1]))[0])


def test_guard_keeps_a_rejected_members_state_and_steps_the_others():
    guarded_params = {"w": jnp.ones(3)}

    def member(index, bad):
        opt = optim.guard(optim.one_of(index, optim.momentum(0.1, 0.5), optim.adam(0.1)))
        state = opt.init(guarded_params)
        grads = {"w": jnp.where(bad, jnp.nan, 2.0) * jnp.ones(3)}
        return opt.step(grads, state, guarded_params, jnp.asarray(True))

    params, state, ok = jax.vmap(member)(jnp.array([0, 1, 1]), jnp.array([False, True, False]))
    assert ok.tolist() == [True, False, True]
    np.testing.assert_allclose(params["w"][:, 0], [0.9, 1.0, 0.9], rtol=1e-6)
    assert state.inner[1][0].count.tolist() == [0, 0, 1]  # Adam's count: only member 2's moved
    assert state.inner[0][0].mu["w"][:, 0].tolist() == [1.0, 0.0, 0.0]


def test_bad_index_and_bad_names_raise_clearly():
    two = (optim.sgd(0.1), optim.adam(0.1))
    with pytest.raises(ValueError, match=r"index must lie in \[0, 2\)"):
        optim.one_of(2, *two)
    with pytest.raises(TypeError, match="index must be an integer"):
        optim.one_of(0.5, *two)
    with pytest.raises(TypeError, match="index must be an integer"):
        optim.one_of(True, *two)
    with pytest.raises(ValueError, match="at least one optimizer"):
        optim.one_of(0)
    with pytest.raises(TypeError, match="one_of optimizer 1 must be a gradient transformation"):
        optim.one_of(0, optim.sgd(0.1), "adam")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        optim.switch("momentum", "adamm")
    with pytest.raises(ValueError, match="each optimizer once"):
        optim.switch("adam", "adam")
    with pytest.raises(ValueError, match="not one of this switch's optimizers"):
        optim.switch("momentum", "adam").index("sgd")
    with pytest.raises(ValueError, match="OneOfState of 2 inner states"):
        optim.one_of(0, *two).update(jnp.ones(1), optim.sgd(0.1).init(None))


def test_switch_is_a_hashable_trainer_factory_reading_optimizer_index():
    choose = optim.switch("momentum", "adam")
    assert hash(choose) == hash(optim.switch("momentum", "adam"))
    for name in choose.names:
        hp = {**HP, "optimizer_index": jnp.float32(choose.index(name))}
        close(run(choose(hp))[0], run(optim.from_name(name, HP))[0])
    close(run(choose(HP))[0], run(optim.from_name("momentum", HP))[0])  # absent: the first


X = np.random.default_rng(0).normal(size=(96, 3)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)


@pytest.mark.parametrize("names", [("momentum", "adam"), ("adam", "momentum")])
@pytest.mark.parametrize("schedule", ["constant", "inverse_time"])
def test_fit_through_the_switch_equals_fit_of_the_plain_optimizer(names, schedule):
    """``fit`` of a switch trainer trains its first name: the same history and parameters as
    ``fit`` of that optimizer by name (with a learning-rate schedule too)."""
    hp = {"learning_rate": 0.05, **({"decay_rate": 0.3} if schedule != "constant" else {})}
    model = MLP((3, 5, 2))
    results = [
        fit(Trainer(model, optimizer=opt, schedule=schedule, batch_size=32), X, Y,
            validation=(X, Y), hp=hp, epochs=4, progress=False, seed=3)
        for opt in (optim.switch(*names), names[0])
    ]  # fmt: skip
    for key in ("loss", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(results[0].history[key], results[1].history[key], rtol=2e-6)
    close(results[0].params, results[1].params, rtol=2e-6, atol=1e-6)
