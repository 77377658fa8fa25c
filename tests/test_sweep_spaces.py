"""jaxdl.sweep.spaces: sampling distributions (closed forms), reproducibility, grids, zoom and
bad input. Nothing here compiles a training program."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from jaxdl.sweep import (
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
    grid,
    sample,
    zoom,
)

N = 4000


def column(space, name, n=N, seed=0):
    return np.asarray([c[name] for c in sample(space, seed, n)])


def assert_uniform(t, low, high):
    """Quartiles and mean of ``t`` match U[low, high] within sampling error."""
    assert t.min() >= low and t.max() <= high
    q = np.quantile(t, [0.25, 0.5, 0.75])
    expected = low + (high - low) * np.asarray([0.25, 0.5, 0.75])
    np.testing.assert_allclose(q, expected, atol=0.03 * (high - low))


def test_log_uniform_is_uniform_in_log10():
    lr = column(Space(lr=LogUniform(1e-4, 1e-1)), "lr")
    assert_uniform(np.log10(lr), -4.0, -1.0)
    # as many draws per decade: each of the three decades holds about a third
    counts = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0] / N
    np.testing.assert_allclose(counts, 1 / 3, atol=0.03)


def test_one_minus_log_uniform_for_betas():
    beta = column(Space(b=OneMinusLogUniform(0.9, 0.999)), "b")
    assert beta.min() >= 0.9 and beta.max() <= 0.999
    assert_uniform(np.log10(1 - beta), -3.0, -1.0)
    # r = log10(1 - beta) is uniform on [-3, -1], so P(beta > 0.99) = P(r < -2) = 1/2
    assert abs(np.mean(beta > 0.99) - 0.5) < 0.03


def test_uniform_int_uniform_and_choice_frequencies():
    space = Space(
        keep=Uniform(0.5, 1.0), layers=IntUniform(1, 4), units=Choice([16, 32, 64, [8, 8]])
    )
    configs = sample(space, 3, N)
    keep = np.asarray([c["keep"] for c in configs])
    assert_uniform(keep, 0.5, 1.0)
    layers = [c["layers"] for c in configs]
    assert all(isinstance(v, int) for v in layers)
    freq = np.bincount(layers, minlength=5)[1:] / N
    np.testing.assert_allclose(freq, 0.25, atol=0.03)
    units = [c["units"] for c in configs]
    assert set(units) == {16, 32, 64, (8, 8)}  # lists become hashable tuples
    for option in (16, 32, 64, (8, 8)):
        assert abs(units.count(option) / N - 0.25) < 0.03


def test_sampling_is_reproducible_from_the_key():
    space = Space(lr=LogUniform(1e-4, 1e-1), b1=OneMinusLogUniform(0.8, 0.99))
    a = sample(space, jax.random.key(7), 16)
    assert a == sample(space, jax.random.key(7), 16)
    assert a == sample(space, 7, 16)  # an int seed means jax.random.key(seed)
    assert a != sample(space, 8, 16)
    # each dimension draws from its own stream: adding one leaves the others unchanged
    wider = sample(Space(lr=space["lr"], b1=space["b1"], l2=LogUniform(1e-6, 1e-2)), 7, 16)
    assert [{k: c[k] for k in ("lr", "b1")} for c in wider] == a
    assert len({c["lr"] for c in a}) == 16 and all(isinstance(c["lr"], float) for c in a)


def test_grid_is_evenly_spaced_on_each_scale():
    space = Space(
        lr=LogUniform(1e-4, 1e-1), b=OneMinusLogUniform(0.9, 0.999), opt=Choice(["a", "b"])
    )
    points = sample(space, 0, 40, method="grid")
    # k points per continuous axis with 2 * k * k <= 40: k = 4
    assert len(points) == 32
    lrs = sorted({p["lr"] for p in points})
    np.testing.assert_allclose(lrs, [1e-4, 1e-3, 1e-2, 1e-1], rtol=1e-12)
    betas = sorted({p["b"] for p in points})
    np.testing.assert_allclose(np.log10(1 - np.asarray(betas)), [-1, -5 / 3, -7 / 3, -3])
    assert {p["opt"] for p in points} == {"a", "b"}
    # the full cartesian product, each point once
    assert len({tuple(p.values()) for p in points}) == 32


def test_grid_limits_discrete_axes_to_their_support():
    points = grid(Space(n=IntUniform(1, 2), units=Choice([8, 16, 32])), 100)
    assert sorted((p["n"], p["units"]) for p in points) == [
        (n, u) for n in (1, 2) for u in (8, 16, 32)
    ]
    one = grid(Space(lr=Uniform(0.0, 1.0)), 1)
    assert one == [{"lr": 0.5}]  # a single point sits in the middle
    # k = 1: the middle of an IntUniform, every option of a Choice
    assert [p["n"] for p in grid(Space(n=IntUniform(1, 3), units=Choice([8, 16, 32])), 5)] == [
        2
    ] * 3
    with pytest.raises(ValueError, match="smallest grid of this space has 6 points"):
        grid(Space(opt=Choice(["sgd", "adam"]), units=Choice([8, 16, 32])), 5)


def test_zoom_narrows_around_the_best():
    space = Space(
        lr=LogUniform(1e-5, 1e0),
        b=OneMinusLogUniform(0.5, 0.9999),
        keep=Uniform(0.2, 1.0),
        layers=IntUniform(1, 10),
        opt=Choice(["sgd", "adam", "rmsprop"]),
    )
    best = [
        {"lr": 1e-3, "b": 0.99, "keep": 0.8, "layers": 3, "opt": "adam"},
        {"lr": 1e-2, "b": 0.999, "keep": 0.7, "layers": 4, "opt": "rmsprop"},
        {"lr": 0.5, "b": 0.6, "keep": 0.3, "layers": 9, "opt": "sgd"},  # 3rd: outside k=2
    ]
    fine = zoom(space, best, k=2, margin=0.1)
    # padded by 10% of the old width on the sampling scale: 0.5 decades for lr
    assert isinstance(fine["lr"], LogUniform)
    assert (fine["lr"].low, fine["lr"].high) == pytest.approx((10**-3.5, 10**-1.5))
    lo, hi = fine["b"].low, fine["b"].high
    assert math.log10(1 - hi) == pytest.approx(-3 - 0.1 * (math.log10(0.5) + 4))
    assert math.log10(1 - lo) == pytest.approx(-2 + 0.1 * (math.log10(0.5) + 4))
    assert isinstance(fine["keep"], Uniform)
    assert (fine["keep"].low, fine["keep"].high) == pytest.approx((0.62, 0.88))
    assert fine["layers"] == IntUniform(2, 5)
    assert fine["opt"] == Choice(["adam", "rmsprop"])  # only the options the best used
    for config in sample(fine, 0, 200):
        assert 10**-3.5 <= config["lr"] <= 10**-1.5
        assert config["opt"] in ("adam", "rmsprop")


def test_zoom_stays_inside_the_old_range():
    space = Space(lr=LogUniform(1e-4, 1e-1), keep=Uniform(0.5, 1.0), n=IntUniform(1, 3))
    fine = zoom(space, [{"lr": 1e-1, "keep": 1.0, "n": 3}], k=1, margin=0.2)
    assert fine["lr"].high == 1e-1 and fine["lr"].low == pytest.approx(10**-1.6)
    assert (fine["keep"].low, fine["keep"].high) == (pytest.approx(0.9), 1.0)
    assert fine["n"] == IntUniform(2, 3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Space({}), "search space is empty"),
        (lambda: LogUniform(1e-1, 1e-4), "low < high"),
        (lambda: LogUniform(0.1, 0.1), "low < high"),
        (lambda: LogUniform(0.0, 1.0), "0 < low < high"),
        (lambda: LogUniform(-1.0, 1.0), "0 < low < high"),
        (lambda: Uniform(1.0, 0.0), "low < high"),
        (lambda: Uniform(0.0, math.inf), "must be finite"),
        (lambda: OneMinusLogUniform(0.9, 1.0), r"OneMinusLogUniform.high must lie in \(0.0, 1.0\)"),
        (lambda: OneMinusLogUniform(0.0, 0.9), r"OneMinusLogUniform.low must lie in \(0.0, 1.0\)"),
        (lambda: OneMinusLogUniform(0.99, 0.9), "low < high"),
        (lambda: IntUniform(3, 3), "low < high"),
        (lambda: Choice([]), "at least one option"),
        (lambda: Choice([1, 1]), "distinct"),
        (lambda: sample(Space(lr=Uniform(0.0, 1.0)), 0, 0), "n .* must be >= 1"),
        (lambda: sample(Space(lr=Uniform(0.0, 1.0)), 0, 4, method="sobol"), "method must be"),
        (lambda: zoom(Space(lr=Uniform(0.0, 1.0)), [{"lr": 0.5}], 1, margin=0.0), "margin"),
        (lambda: zoom(Space(lr=Uniform(0.0, 1.0)), [{"b": 0.5}], 1), "do not hold"),
        (lambda: zoom(Space(lr=Uniform(0.0, 1.0)), [], 1), "at least one result"),
    ],
)
def test_bad_input_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: LogUniform("1e-3", 1.0),
        lambda: IntUniform(1.5, 3),
        lambda: Choice(3),
        lambda: Choice("abc"),
        lambda: sample(Space(lr=Uniform(0.0, 1.0)), 0, 2.0),
        lambda: Space({1: Uniform(0.0, 1.0)}),
        lambda: Space(lr=0.1),
    ],
)
def test_bad_input_type_errors(make):
    with pytest.raises(TypeError):
        make()
