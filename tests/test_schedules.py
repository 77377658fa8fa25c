"""jaxdl.optim schedules: closed forms, the course's numbers, optax oracles, use inside optimizers,
tracing, and bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl import optim

T = np.arange(0, 60)


def values(schedule, ts=T):
    return np.asarray(jax.vmap(schedule)(jnp.asarray(ts)), np.float64)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay_closed_form(staircase):
    ratio = np.floor(T / 7) if staircase else T / 7
    want = 0.3 / (1 + 0.5 * ratio)
    got = values(optim.inverse_time_decay(0.3, 0.5, transition_steps=7, staircase=staircase))
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_closed_form_and_optax(staircase):
    ratio = np.floor(T / 5) if staircase else T / 5
    got = values(optim.exponential_decay(0.2, 0.95, transition_steps=5, staircase=staircase))
    np.testing.assert_allclose(got, 0.2 * 0.95**ratio, rtol=1e-6)
    oracle = optax.exponential_decay(0.2, transition_steps=5, decay_rate=0.95, staircase=staircase)
    np.testing.assert_allclose(got, values(oracle), rtol=1e-6)


def test_inverse_sqrt_decay_closed_form():
    got = values(optim.inverse_sqrt_decay(0.1, 2.0, transition_steps=4))
    np.testing.assert_allclose(got, 0.1 * 2.0 / np.sqrt(1 + T / 4), rtol=1e-6)


def test_piecewise_constant_closed_form_and_optax():
    boundaries = {20: 0.5, 10: 0.1, 40: 0.2}
    got = values(optim.piecewise_constant(1.0, boundaries))
    want = np.where(T >= 10, 0.1, 1.0) * np.where(T >= 20, 0.5, 1.0) * np.where(T >= 40, 0.2, 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, values(optax.piecewise_constant_schedule(1.0, boundaries)))


def test_constant():
    np.testing.assert_allclose(values(optim.constant(0.25)), np.full(len(T), 0.25))


def test_course_numbers():
    # update_lr(0.5, epoch_num=2, decay_rate=1) = 0.5 / (1 + 1 * 2)
    np.testing.assert_allclose(optim.inverse_time_decay(0.5, 1.0)(2), 0.5 / 3, rtol=1e-7)
    # fixed-interval scheduling: lr0 / (1 + decay_rate * floor(epoch / 1000))
    epochs = np.array([0, 10, 999, 1000, 1001, 1999, 2000, 2500, 9999])
    schedule = optim.inverse_time_decay(0.5, 0.3, transition_steps=1000, staircase=True)
    want = 0.5 / (1 + 0.3 * np.floor(epochs / 1000))
    np.testing.assert_allclose(values(schedule, epochs), want, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    init=st.floats(1e-4, 1.0),
    rate=st.floats(0.01, 0.99),
    steps=st.integers(1, 50),
    t=st.integers(0, 10_000),
)
def test_decays_never_increase_and_staircase_holds_within_an_interval(init, rate, steps, t):
    for make in (optim.inverse_time_decay, optim.exponential_decay):
        smooth = make(init, rate, steps)
        assert float(smooth(t + 1)) <= float(smooth(t))
        stair = make(init, rate, steps, staircase=True)
        start = (t // steps) * steps
        assert float(stair(t)) == float(stair(start))
        assert float(stair(start)) == pytest.approx(float(smooth(start)), rel=1e-5)
    sqrt = optim.inverse_sqrt_decay(init, rate, steps)
    assert float(sqrt(t + 1)) <= float(sqrt(t))


def test_sgd_with_schedule_uses_count_of_updates_made():
    schedule = optim.exponential_decay(0.1, 0.5, transition_steps=2)
    opt = optim.sgd(schedule)
    oracle = optax.sgd(optax.exponential_decay(0.1, transition_steps=2, decay_rate=0.5))
    g = jnp.array([1.0, -2.0])
    state, oracle_state = opt.init(g), oracle.init(g)
    for t in range(6):
        u, state = opt.update(g, state)
        np.testing.assert_allclose(u, -0.1 * 0.5 ** (t / 2) * g, rtol=1e-6)
        u_oracle, oracle_state = oracle.update(g, oracle_state)
        np.testing.assert_allclose(u, u_oracle, rtol=1e-6)
        np.testing.assert_allclose(
            optim.current_learning_rate(schedule, state[0].count), 0.1 * 0.5 ** ((t + 1) / 2)
        )
    assert state[0].count.dtype == jnp.int32


def test_traced_decay_rate_under_jit_and_vmap():
    rates = jnp.array([0.0, 0.5, 2.0])

    @jax.jit
    def lr_at(rate, t):
        return optim.inverse_time_decay(0.4, rate, transition_steps=3)(t)

    swept = jax.vmap(lr_at, in_axes=(0, None))(rates, 9)
    for i, rate in enumerate([0.0, 0.5, 2.0]):
        assert float(swept[i]) == float(lr_at(rates[i], 9))
        assert float(swept[i]) == pytest.approx(0.4 / (1 + rate * 3), rel=1e-6)


def test_adam_with_a_schedule_from_a_hyperparameter_dict():
    hp = {"learning_rate": optim.inverse_time_decay(0.1, 1.0), "b1": 0.0, "b2": 0.0}
    opt = optim.from_name("adam", hp)
    state, g = opt.init(jnp.zeros(2)), jnp.array([2.0, -3.0])
    for t in range(3):
        u, state = opt.update(g, state)
        # b1 = b2 = 0: the step is lr(t) * sign(g) up to eps
        np.testing.assert_allclose(u, -0.1 / (1 + t) * jnp.sign(g), rtol=1e-6)


BAD = [
    (lambda: optim.inverse_time_decay(0.0, 1.0), ValueError, "init_value"),
    (lambda: optim.inverse_time_decay(0.1, -1.0), ValueError, "decay_rate"),
    (lambda: optim.inverse_time_decay(0.1, math.inf), ValueError, "decay_rate"),
    (
        lambda: optim.inverse_time_decay(0.1, 1.0, 0),
        ValueError,
        "transition_steps",
    ),
    (lambda: optim.inverse_time_decay(0.1, 1.0, staircase="yes"), TypeError, "staircase"),
    (lambda: optim.exponential_decay(0.1, 0.0), ValueError, "decay_rate"),
    (lambda: optim.exponential_decay(0.1, 1.5), ValueError, "decay_rate"),
    (lambda: optim.exponential_decay(math.nan, 0.9), ValueError, "init_value"),
    (lambda: optim.inverse_sqrt_decay(0.1, 0.0), ValueError, "k"),
    (
        lambda: optim.inverse_sqrt_decay(0.1, 1.0, -2),
        ValueError,
        "transition_steps",
    ),
    (lambda: optim.piecewise_constant(0.1, [(10, 0.5)]), TypeError, "boundaries_and_scales"),
    (lambda: optim.piecewise_constant(0.1, {-1: 0.5}), ValueError, "non-negative int"),
    (lambda: optim.piecewise_constant(0.1, {2.5: 0.5}), ValueError, "non-negative int"),
    (lambda: optim.piecewise_constant(0.1, {10: -0.5}), ValueError, r"boundaries_and_scales\[10\]"),
    (lambda: optim.constant(0.0), ValueError, "value"),
    (lambda: optim.adam("inverse_time_decay"), TypeError, "schedule"),
]


@pytest.mark.parametrize("make,error,match", BAD)
def test_bad_schedule_arguments_raise_naming_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()
