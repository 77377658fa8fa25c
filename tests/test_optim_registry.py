"""The optimizer registry: one entry per optimizer, everything else derived from it. Nadam was
added as one entry (plus the Nesterov option of the Adam scaling) and is checked here against
optax, through the hyperparameter checks, the CLI and a training run."""

from __future__ import annotations

import inspect
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from jaxdl import MLP, Trainer, fit, optim
from jaxdl.cli import build_parser
from jaxdl.hyperparams import DISPLAY, TABLE, check_readers
from jaxdl.optim import registry


def _quadratic_run(opt, steps=15):
    k = jax.random.split(jax.random.key(2), 3)
    m = jax.random.normal(k[0], (4, 4))
    a, b = m @ m.T + 0.5 * jnp.eye(4), jax.random.normal(k[1], (4,))
    loss = lambda w: 0.5 * w @ a @ w - b @ w  # noqa: E731

    def step(carry, _):
        w, s = carry
        u, s = opt.update(jax.grad(loss)(w), s, w)
        return (w + u, s), None

    w0 = jax.random.normal(k[2], (4,))
    return lax.scan(step, (w0, opt.init(w0)), None, length=steps)[0][0]


@pytest.mark.parametrize(("b1", "b2", "eps"), [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
def test_nadam_matches_optax(b1, b2, eps):
    """Equal to float64 round-off in float64; in float32 the 15 steps drift apart by what Adam
    against optax.adam drifts (about 5e-6 here)."""
    hp = {"learning_rate": 0.05, "b1": b1, "b2": b2, "eps": eps}
    oracle = optax.nadam(0.05, b1=b1, b2=b2, eps=eps)
    with jax.enable_x64(True):
        np.testing.assert_allclose(_quadratic_run(optim.from_name("nadam", hp)),
                                   _quadratic_run(oracle), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_quadratic_run(optim.from_name("nadam", hp)),
                               _quadratic_run(oracle), rtol=2e-5, atol=2e-5)


def test_nadam_differs_from_adam_and_its_b1_vmaps():
    def final(b1):
        return _quadratic_run(optim.from_name("nadam", {"learning_rate": 0.05, "b1": b1}))

    adam = _quadratic_run(optim.from_name("adam", {"learning_rate": 0.05}))
    assert not np.allclose(final(0.9), adam)
    vmapped = jax.vmap(final)(jnp.array([0.5, 0.9]))
    np.testing.assert_allclose(vmapped[1], final(0.9), rtol=1e-5, atol=1e-7)


def test_every_entry_is_consistent():
    for name, spec in registry.REGISTRY.items():
        assert spec.name == name and spec.display and spec.formula
        assert set(spec.reads) <= set(registry.HYPERPARAMETERS), name
        assert set(spec.state_decays) <= set(spec.reads), name
        params = inspect.signature(spec.build).parameters
        assert list(params)[0] == "learning_rate" and set(spec.reads) <= set(params), name
    read = {n for o in registry.OPTIMIZERS for n in registry.reads(o)}
    assert read == set(registry.HYPERPARAMETERS), "a listed hyperparameter nobody reads"


def test_the_hyperparameter_table_derives_from_the_registry():
    for name, p in registry.HYPERPARAMETERS.items():
        row = TABLE[name]
        assert (row.default, row.low, row.high) == (p.default, p.low, p.high)
        assert row.readers == registry.readers(name)
    assert "nadam" in TABLE["b1"].readers
    assert DISPLAY["nadam"] == "Nadam"


def test_reader_checks_know_the_new_optimizer():
    check_readers({"learning_rate", "b1", "b2", "eps"}, "nadam", "constant",
                              MLP((2, 1)))
    with pytest.raises(ValueError, match=r"not read by optimizer 'nadam' \(Nadam uses b1/b2/eps\)"):
        check_readers({"beta"}, "nadam", "constant", MLP((2, 1)))


def test_the_cli_offers_every_registered_optimizer():
    parser = build_parser()
    for command in ("train", "sweep"):
        for name in registry.OPTIMIZERS:
            assert parser.parse_args([command, "--optimizer", name]).optimizer == name
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions
                 if "--optimizer" in a.option_strings)
    assert tuple(train.choices) == registry.OPTIMIZERS


def test_the_docs_table_lists_every_optimizer():
    table = registry.markdown_table()
    for name in registry.OPTIMIZERS:
        assert f"| `{name}` |" in table


def test_training_with_the_new_optimizer_by_name_equals_its_transformation():
    """By name, fit takes the registry's guarded fast path (state decays gated to 1 on a
    rejected step); given as a transformation, the general path. Both give the same weights."""
    x = jax.random.normal(jax.random.key(0), (64, 3))
    y = (x[:, 0] > 0).astype(jnp.int32)
    model = MLP((3, 8, 2))
    hp = {"learning_rate": 0.01, "b1": 0.8}
    by_name = fit(Trainer(model, optimizer="nadam", batch_size=16), x, y, hp=hp, epochs=3,
                  progress=False)
    given = optim.from_name("nadam", hp)
    as_object = fit(Trainer(model, optimizer=given, batch_size=16), x, y, hp=hp, epochs=3,
                    progress=False)
    for a, b in zip(jax.tree.leaves(by_name.params), jax.tree.leaves(as_object.params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_docs_show_the_registry_table_verbatim():
    page = Path(__file__).resolve().parents[1] / "docs" / "topics" / "optimization.md"
    assert registry.markdown_table() in page.read_text(), (
        "docs/topics/optimization.md: paste jaxdl.optim.registry.markdown_table() over its table"
    )


def test_schedules_come_from_the_registry():
    from jaxdl.hyperparams import SCHEDULE_RANGES
    from jaxdl.train import SCHEDULES

    assert SCHEDULES == tuple(registry.SCHEDULES)
    assert TABLE["decay_rate"].readers == registry.schedule_readers()
    assert set(SCHEDULE_RANGES) == set(registry.schedule_readers())
    rate = Trainer(MLP((2, 1)), schedule="inverse_time").learning_rate(
        {"learning_rate": 0.1, "decay_rate": 1.0}, 2)
    assert float(rate(4)) == pytest.approx(0.1 / 3)  # t = floor(4 / 2) = 2 decay intervals
