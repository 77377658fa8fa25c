""""Compiles once" claims, pinned with ``chex.assert_max_traces``: a traced function counts how
often JAX traces it, which is how often its program is compiled.

- ``fit`` (``run_epoch``) traces the epoch once for every seed, initializer and continuous
  hyperparameter value: keys and ``hp`` are traced arguments, and the initializer is no part of
  the compiled epoch.
- ``fit``'s early stopping is one program traced once, not a dozen element-wise operations
  dispatched (and each compiled) on their own after every epoch.
- ``run_init`` traces the model's random draws once per model, whatever the optimizer;
  ``run_init_members`` draws once per distinct seed and equals ``run_init`` member by member.
- a sweep traces its vmapped epochs once per bucket (configurations sharing a structure), however
  many configurations a bucket holds.
"""

from typing import Any, NamedTuple

import chex
import jax
import numpy as np
import pytest

from jaxdl import EarlyStopping, sweep, train
from jaxdl.nn import MLP
from jaxdl.sweep import loop
from jaxdl.train import compiled

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


@pytest.fixture
def traced_epoch(monkeypatch):
    """``Trainer.epoch`` that fails on its second trace (a second compiled program)."""
    chex.clear_trace_counter()
    monkeypatch.setattr(train.Trainer, "epoch", chex.assert_max_traces(train.Trainer.epoch, n=1))
    yield
    chex.clear_trace_counter()


def test_fit_compiles_the_epoch_once_across_seeds_initializers_and_hp(traced_epoch):
    # Widths no other test uses, so the epoch is not already in jit's cache.
    runs = [
        (0, "he", 0.1), (1, "he", 0.1), (2, "xavier", 0.05), (3, "random_normal", 0.2),
        (4, "glorot", 0.01),
    ]
    costs = []
    for seed, initializer, learning_rate in runs:
        trainer = train.Trainer(MLP((3, 7, 2), initializer=initializer, init_scale=0.5),
                                optimizer="momentum", batch_size=16)
        result = train.fit(trainer, X, Y, hp={"learning_rate": learning_rate}, epochs=2,
                           seed=seed, progress=False)
        costs.append(result.history["loss"][-1])
    assert len(set(costs)) == len(runs)  # really different runs, one program


def test_a_second_program_is_caught(traced_epoch):
    """The check can fail: a new batch size is a new static shape, hence a second trace."""
    trainer = train.Trainer(MLP((3, 6, 2)), optimizer="sgd", batch_size=16)
    train.fit(trainer, X, Y, hp={"learning_rate": 0.1}, epochs=1, progress=False)
    with pytest.raises(AssertionError, match="traced > 1 times"):
        train.fit(train.Trainer(MLP((3, 6, 2)), optimizer="sgd", batch_size=8), X, Y,
                  hp={"learning_rate": 0.1}, epochs=1, progress=False)


def test_fit_traces_early_stopping_once_however_many_epochs(monkeypatch):
    calls = []
    update = EarlyStopping.update

    def counted(self, *args):
        calls.append(1)
        return update(self, *args)

    monkeypatch.setattr(EarlyStopping, "update", counted)
    # a min_delta no other test uses: the program is not already in jit's cache
    stopper = EarlyStopping(monitor="loss", patience=50, min_delta=1.25e-7)
    result = train.fit(train.Trainer(MLP((3, 5, 2)), batch_size=16), X, Y,
                       hp={"learning_rate": 0.1}, epochs=6, early_stopping=stopper,
                       progress=False)
    assert result.epochs_run == 6 and result.best_epoch >= 1
    assert len(calls) == 1  # one trace; called eagerly it would run once per epoch


def test_initialization_draws_compile_once_per_model_whatever_the_optimizer():
    model = MLP((3, 11, 2))  # widths no other test uses
    draws_before, states_before = compiled._init_model._cache_size(), compiled._init._cache_size()
    firsts = []
    for optimizer in ("sgd", "momentum", "rmsprop", "adam"):
        ts = train.run_init(train.Trainer(model, optimizer=optimizer), jax.random.key(0),
                            {"learning_rate": 0.1})
        firsts.append(np.asarray(ts.params["layers"][0]["W"]))
    assert compiled._init_model._cache_size() - draws_before == 1  # one program for the draws
    assert compiled._init._cache_size() - states_before == 4  # an optimizer state each
    assert all(np.array_equal(firsts[0], w) for w in firsts)


@pytest.fixture
def traced_sweep_epochs(monkeypatch):
    """The sweep's vmapped epochs, allowed two traces (one per bucket of the test below)."""
    chex.clear_trace_counter()
    loop.compiled_epochs.cache_clear()  # rebuilt around the counting function
    monkeypatch.setattr(loop, "_epochs", chex.assert_max_traces(loop._epochs, n=2))
    yield
    loop.compiled_epochs.cache_clear()  # drop the programs built around it
    chex.clear_trace_counter()


@pytest.mark.slow
def test_a_sweep_compiles_once_per_bucket(traced_sweep_epochs):
    data = (X[:30], Y[:30], X[30:], Y[30:])
    space = sweep.Space(learning_rate=sweep.LogUniform(1e-3, 1.0),
                        hidden_units=sweep.Choice((5, 9)))
    results = sweep.run_sweep(space, data, trainer=train.Trainer(MLP((3, 4, 2)), optimizer="sgd",
                                                                 batch_size=16),
                              n=8, epochs=3, seed=0)
    widths = {c["hidden_units"] for c in results.configs}
    assert widths == {5, 9}  # two buckets, eight configs, three epochs each: two programs
    assert all(len(h["epoch"]) == 3 for h in results.histories)


class _ScaledSGD(NamedTuple):
    """A transformation whose state depends on ``hp`` (a traced value)."""

    lr: Any

    def init(self, params):
        return jax.tree.map(lambda p: p * 0 + self.lr, params)

    def update(self, grads, state, params=None):
        return jax.tree.map(lambda g, s: -s * g, grads, state), state


def scaled_sgd(hp):
    """An optimizer factory: ``hp -> transformation``."""
    return _ScaledSGD(hp["learning_rate"])


@pytest.mark.parametrize("optimizer", ["adam", scaled_sgd])
def test_members_start_as_one_by_one_with_one_draw_per_seed(monkeypatch, optimizer):
    trainer = train.Trainer(MLP((3, 9, 2), batch_norm=True), optimizer=optimizer)
    seeds = [4, 4, 7, 4]
    hp = {"learning_rate": np.array([0.1, 0.2, 0.3, 0.4], np.float32)}
    draws, draw = [], compiled._init_model
    monkeypatch.setattr(compiled, "_init_model", lambda *a: draws.append(a) or draw(*a))
    together = train.run_init_members(trainer, seeds, hp)
    assert len(draws) == 2  # seeds 4 and 7
    for j, seed in enumerate(seeds):
        alone = train.run_init(trainer, train.Keys.from_seed(seed).init,
                               {"learning_rate": hp["learning_rate"][j]})
        chex.assert_trees_all_equal(jax.tree.map(lambda a, j=j: a[j], together), alone)
    if optimizer is scaled_sgd:  # the state really differs per member
        assert float(together.opt_state["layers"][0]["W"][2, 0, 0]) == pytest.approx(0.3)


def test_members_need_seeds_and_one_value_per_seed():
    trainer = train.Trainer(MLP((3, 9, 2)))
    with pytest.raises(ValueError, match="seeds is empty"):
        train.run_init_members(trainer, [], {})
    with pytest.raises(ValueError, match=r"hp\['learning_rate'\] has shape \(2,\).*\(3\)"):
        train.run_init_members(trainer, [0, 1, 2], {"learning_rate": np.ones(2)})
