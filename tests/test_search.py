"""Search strategies: population-based training under vmap (exploit copies the right member
states, explore stays in bounds, no recompilation across intervals, the best member's schedule
replays alone, resume), Hyperband's brackets as in Li et al. (2018), TPE proposals concentrating
on a known optimum, and bad input rejected before anything compiles."""

from __future__ import annotations

import doctest
import importlib
import math
import os
import warnings

import jax
import numpy as np
import pytest

from jaxdl.nn import MLP
from jaxdl.sweep import (
    Choice,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
    brackets,
    buckets,
    engine,
    hyperband,
    plot_schedules,
    population_based_training,
    propose,
    sharding,
    state,
    tpe_search,
)
from jaxdl.sweep.spaces import sample
from jaxdl.train import Trainer

# the package exports functions named like some of these modules
pbt_module, hyperband_module, tpe_module = (
    importlib.import_module(f"jaxdl.sweep.{name}") for name in ("pbt", "hyperband", "tpe")
)

rng = np.random.default_rng(0)  # two overlapping blobs: 96 train, 32 validation samples
Y = rng.integers(0, 2, 128).astype(np.int32)
X = (rng.normal(size=(128, 2)) + 1.5 * Y[:, None]).astype(np.float32)
DATA = (X[:96], Y[:96], X[96:], Y[96:])
TRAINER = Trainer(MLP((2, 7, 2), batch_norm=True, dropout=True), batch_size=32)
SPACE = Space(learning_rate=LogUniform(1e-3, 0.3), keep_prob=Uniform(0.6, 1.0))
PBT = dict(trainer=TRAINER, population=6, interval=2, epochs=8, seed=1)


@pytest.mark.parametrize("module", [pbt_module, hyperband_module, tpe_module])
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0


# -- PBT -------------------------------------------------------------------------------------
def test_exploit_bottom_quantile_copies_from_the_top():
    scores = [0.5, 0.1, 0.9, 0.3, math.inf, 0.2, 0.7, 0.4]  # best 1, 5; worst 4 (inf), 2
    for seed in range(20):
        source = pbt_module.exploit(scores, 0.25, np.random.default_rng(seed))
        assert set(source[[4, 2]]) <= {1, 5}
        others = [0, 1, 3, 5, 6, 7]
        assert source[others].tolist() == others


def test_exploit_gathers_exactly_the_source_members_state():
    """A population of 4 whose every state leaf holds its member number: after one exploit
    with known scores the worst member holds the best member's state, the others their own."""
    configs = sample(SPACE, 0, 4)
    (bucket,), _, member_hp = buckets.make_buckets(TRAINER, configs, {}, [0] * 4, True, DATA)
    mesh = sharding.config_mesh()
    stopper = engine.EarlyStopping(engine.NEVER)
    template = buckets.state_template(bucket, stopper)
    def mark(leaf):  # member j holds j (booleans: j == 1)
        values = np.arange(4) if leaf.dtype != bool else np.arange(4) == 1
        shape = (4,) + (1,) * np.ndim(leaf)
        return np.broadcast_to(values.reshape(shape), (4, *np.shape(leaf))).astype(leaf.dtype)

    marked = jax.tree.map(mark, template)
    buckets.restore_bucket(bucket, marked, mesh)
    run = pbt_module._Population(bucket, SPACE, stopper, mesh, member_hp, TRAINER.history_keys)
    record = {"val_loss": np.asarray([[0.5, 0.1, 0.9, 0.3]]), "live": np.ones((1, 4), bool),
              "done": np.zeros((1, 4), bool)}  # fmt: skip
    run.history.lists[1]["loss"] = [0.25]
    run.exploit_explore(record, 0.25, (0.8, 1.2), 0.0, np.random.default_rng(0))
    assert run.parents == [[0, 1, 1, 3]]
    fetched = sharding.fetch(bucket.state, mesh)
    for leaf in jax.tree.leaves(fetched._replace(es=())):
        want = [0, 1, 1, 3] if leaf.dtype != bool else [False, True, True, False]
        np.testing.assert_array_equal(leaf.reshape(4, -1).T, np.tile(want, (leaf[0].size, 1)))
    # the copier's best counts from here: its early-stopping record starts afresh
    fresh = stopper.init()
    for got, kept, new in zip(fetched.es, template.es, fresh, strict=True):
        np.testing.assert_array_equal(np.asarray(got)[[0, 1, 3]], mark(kept)[[0, 1, 3]])
        assert np.asarray(got)[2] == np.asarray(new)
    assert run.history.lists[2]["loss"] == [0.25]  # the history follows the state
    for name in SPACE:  # explored: 0.8 or 1.2 times the source's value, clipped to the range
        ratio = run.hp[2][name] / member_hp[1][name]
        clipped = run.hp[2][name] in (SPACE[name].low, SPACE[name].high)
        assert clipped or np.isclose(ratio, 0.8) or np.isclose(ratio, 1.2)
    np.testing.assert_array_equal(bucket.hp["learning_rate"],
                                  np.float32([h["learning_rate"] for h in run.hp]))  # fmt: skip


def test_explore_stays_in_bounds_and_moves_betas_on_their_scale():
    space = Space(learning_rate=LogUniform(1e-3, 0.1), b1=OneMinusLogUniform(0.8, 0.99),
                  keep_prob=Uniform(0.5, 1.0), act=Choice(["relu", "tanh"]))  # fmt: skip
    value = {"learning_rate": 0.09, "b1": 0.9, "keep_prob": 0.95, "act": "relu", "eps": 1e-8}
    gen = np.random.default_rng(0)
    for _ in range(200):
        new = pbt_module.explore(space, value, gen, (0.5, 3.0), 0.3)
        assert new["eps"] == 1e-8 and new["act"] in ("relu", "tanh")
        for name in ("learning_rate", "b1", "keep_prob"):
            assert space[name].low <= new[name] <= space[name].high
    new = pbt_module.explore(Space(b1=OneMinusLogUniform(0.5, 0.999)), {"b1": 0.9},
                             np.random.default_rng(1), (2.0,), 0.0)  # fmt: skip
    assert new["b1"] == pytest.approx(0.8)  # 1 - (1 - 0.9) * 2


@pytest.fixture(scope="module")
def pbt_run():
    epochs_fn, take = engine.compiled_epochs(sharding.config_mesh())
    before = (epochs_fn._cache_size(), take._cache_size())
    results = population_based_training(SPACE, DATA, **PBT)
    return results, before, (epochs_fn._cache_size(), take._cache_size())


def test_pbt_compiles_once_for_all_intervals(pbt_run):
    results, before, after = pbt_run
    assert len(results.parents) == 3  # four intervals, three exploit steps
    assert any(p != list(range(6)) for p in results.parents)  # someone was exploited
    assert after[0] - before[0] == 1  # the interval program: one trace for every interval
    assert after[1] - before[1] <= 1  # the gather on the member axis: at most one


def test_pbt_best_member_replays_its_schedule_alone(pbt_run, tmp_path):
    results, _, _ = pbt_run
    best = results.best()["config"]
    schedule = results.schedule(best)
    assert len(schedule) == 4 and len(results.lineage(best)) == 4
    got = results.retrain(DATA)
    history = results.histories[best]
    assert history["epoch"] == got.history["epoch"] == list(range(8))
    for key in ("loss", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(history[key], got.history[key], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(got.history["learning_rate"][::2],
                               [h["learning_rate"] for h in schedule], rtol=1e-6)  # fmt: skip
    assert got.best_epoch == results.best_epoch[best]
    leaves = zip(jax.tree.leaves(got.params), jax.tree.leaves(results.params[best]), strict=True)
    for a, b in leaves:
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    plot_schedules(results, tmp_path / "pbt.png")
    assert os.path.getsize(tmp_path / "pbt.png") > 1000


def test_pbt_resumes_after_an_interrupt(pbt_run, tmp_path):
    original = state.Journal.append

    def append(journal, lines):
        original(journal, lines)
        journal.stop_requested = True  # as SIGINT would, after the first interval

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state.Journal, "append", append)
        with pytest.raises(state.SweepInterrupted, match="resume=True"):
            population_based_training(SPACE, DATA, checkpoint_dir=tmp_path, **PBT)
    got = population_based_training(SPACE, DATA, checkpoint_dir=tmp_path, resume=True, **PBT)
    want = pbt_run[0]
    assert got.parents == want.parents and got.histories == want.histories
    assert got.schedules_by_slot == want.schedules_by_slot
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params), strict=True):
        np.testing.assert_array_equal(a, b)


# -- Hyperband -------------------------------------------------------------------------------
def test_hyperband_brackets_match_the_paper():
    plan = brackets(81, 3)  # Li et al. (2018), Table 1
    assert [(b.s, b.n, b.r) for b in plan] == [
        (4, 81, 1), (3, 34, 3), (2, 15, 9), (1, 8, 27), (0, 5, 81)]  # fmt: skip
    assert plan[0].rungs == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    assert plan[1].rungs == [(34, 3), (11, 9), (3, 27), (1, 81)]
    assert plan[2].rungs == [(15, 9), (5, 27), (1, 81)]
    assert [(b.n, b.r) for b in brackets(27, 3)] == [(27, 1), (12, 3), (6, 9), (4, 27)]
    assert [(b.n, b.r) for b in brackets(10, 2)] == [(8, 1.25), (6, 2.5), (4, 5), (4, 10)]


@pytest.mark.slow
def test_hyperband_runs_every_bracket(tmp_path):
    results = hyperband(SPACE, DATA, trainer=TRAINER, max_epochs=4, eta=2, seed=2,
                        checkpoint_dir=tmp_path)  # fmt: skip
    assert results.groups == ["bracket 2"] * 4 + ["bracket 1"] * 3 + ["bracket 0"] * 3
    firsts = {g: min(e for e, gg in zip(results.epochs, results.groups) if gg == g)
              for g in set(results.groups)}  # fmt: skip
    assert firsts == {"bracket 2": 1, "bracket 1": 2, "bracket 0": 4}
    assert max(results.epochs) == 4
    assert results.table[0]["group"] in results.groups
    assert sorted(os.listdir(tmp_path)) == ["bracket-0", "bracket-1", "bracket-2"]


# -- TPE -------------------------------------------------------------------------------------
def test_tpe_concentrates_near_the_optimum_of_a_quadratic_in_log_lr():
    space = Space(learning_rate=LogUniform(1e-5, 1.0), keep_prob=Uniform(0.5, 1.0))

    def cost(c):
        return (math.log10(c["learning_rate"]) + 2.5) ** 2 + 3 * (c["keep_prob"] - 0.8) ** 2

    spread = []
    for seed in range(4):
        tried = sample(space, seed, 10)
        scores = [cost(c) for c in tried]
        for r in range(1, 5):
            new = propose(space, tried, scores, 10, seed * 10 + r)
            tried, scores = tried + new, scores + [cost(c) for c in new]
        spread.append(np.median([abs(math.log10(c["learning_rate"]) + 2.5) for c in new]))
    # random search: median distance 1.25 decades; the last TPE round is far closer
    assert np.mean(spread) < 0.5, spread


def test_tpe_falls_back_to_random_and_says_so():
    space = Space(learning_rate=LogUniform(1e-3, 1.0))
    tried = sample(space, 0, 3)
    with pytest.warns(UserWarning, match="at least 2 finished configs.*at random"):
        got = propose(space, tried, [0.3, math.inf, math.nan], 4, seed=7)
    assert got == sample(space, 7, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        propose(space, tried, [0.3, 0.1, math.nan], 4, seed=7)


def test_tpe_search_rounds():
    results = tpe_search(SPACE, DATA, trainer=TRAINER, n=3, rounds=2, epochs=2, seed=0)
    assert results.groups == ["round 0"] * 3 + ["round 1"] * 3
    assert results.configs[:3] == sample(SPACE, 0, 3)
    assert results.configs[3:] != results.configs[:3]
    assert results.epochs_trained == 12


# -- bad input -------------------------------------------------------------------------------
@pytest.fixture
def nothing_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before the input was checked")

    monkeypatch.setattr(engine, "compiled_epochs", boom)
    monkeypatch.setattr(buckets, "run_init_members", boom)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"population": 1}, ValueError, "population must be >= 2"),
        ({"quantile": 0.0}, ValueError, r"quantile must lie in \(0, 0.5\]"),
        ({"quantile": 0.6}, ValueError, r"quantile must lie in \(0, 0.5\]"),
        ({"interval": 0}, ValueError, "interval must be >= 1"),
        ({"perturb": ()}, ValueError, "perturb must be"),
        ({"perturb": (0.8, -1)}, ValueError, "perturb must be"),
        ({"resample_prob": 1.5}, ValueError, "resample_prob"),
        ({"space": {"hidden_units": Choice([4, 8])}}, ValueError, "continuous hyperparameters"),
        ({"monitor": "f1"}, ValueError, "monitor must be one of"),
        ({"resume": True}, ValueError, "resume=True needs checkpoint_dir"),
    ],
)
def test_pbt_bad_input(nothing_compiles, kwargs, error, message):
    kwargs = {"space": SPACE, **PBT, **kwargs}
    with pytest.raises(error, match=message):
        population_based_training(kwargs.pop("space"), DATA, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eta": 1}, "eta must be an integer >= 2"),
        ({"eta": 2.5}, "eta must be an integer >= 2"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"n": 4}, "drop n and method"),
    ],
)
def test_hyperband_bad_input(nothing_compiles, kwargs, message):
    kwargs = {"max_epochs": 9, **kwargs}
    with pytest.raises(ValueError, match=message):
        hyperband(SPACE, DATA, trainer=TRAINER, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rounds": 0}, "rounds must be"), ({"gamma": 1.0}, "gamma must lie"),
     ({"n": 0}, ">= 1"), ({"method": "grid"}, "drop method")],
)  # fmt: skip
def test_tpe_bad_input(nothing_compiles, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tpe_search(SPACE, DATA, trainer=TRAINER, **kwargs)


# -- CLI -------------------------------------------------------------------------------------
CLI_TINY = ["--dataset", "moons", "--data-size", "120", "--hidden", "4", "--batch-size", "32",
            "--lr", "1e-3:0.3", "--epochs", "4", "--no-plots"]  # fmt: skip


@pytest.mark.slow
def test_cli_strategies_checkpoint_and_resume(tmp_path, capsys):
    from jaxdl import cli

    args = ["sweep", *CLI_TINY, "--strategy", "halving", "--eta", "2", "--configs", "4",
            "--checkpoint-dir", str(tmp_path / "state")]  # fmt: skip
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    first = (tmp_path / "a" / "sweep.csv").read_text()
    assert "halving" in capsys.readouterr().out
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 2  # the directory is taken
    assert "--resume" in capsys.readouterr().err
    assert cli.main([*args, "--resume", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "sweep.csv").read_text() == first
    assert (tmp_path / "state" / "metrics.jsonl").exists()
    capsys.readouterr()
    bad = ["sweep", *CLI_TINY, "--strategy", "hyperband", "--configs", "4", "--out", str(tmp_path)]
    assert cli.main(bad) == 2
    assert "drop --configs" in capsys.readouterr().err


# -- compaction ------------------------------------------------------------------------------
@pytest.mark.slow
def test_compaction_of_stopped_members_changes_no_result():
    space = Space(learning_rate=LogUniform(1e-3, 1.0), keep_prob=Uniform(0.6, 1.0))
    kwargs = dict(trainer=TRAINER, n=8, epochs=12, seed=1, patience=2)
    epochs_fn = engine.compiled_epochs(sharding.config_mesh())[0]
    jax.clear_caches()  # another test in this process may have compiled the 4-member program
    full = engine.run_sweep(space, DATA, compact=False, **kwargs)
    before = epochs_fn._cache_size()
    compacted = engine.run_sweep(space, DATA, **kwargs)  # compact=True is the default
    assert epochs_fn._cache_size() - before == 1  # 8 members, then the 4 still training
    assert sum(len(h["epoch"]) < 12 for h in full.histories) >= 4  # stopped early: compacted
    assert compacted.histories == full.histories and compacted.status == full.status
    assert compacted.epochs == full.epochs and compacted.best_epoch == full.best_epoch
    leaves = jax.tree.leaves((compacted.params, compacted.model_state))
    for a, b in zip(leaves, jax.tree.leaves((full.params, full.model_state)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [buckets.bucket_size(n, sharding.config_mesh()) for n in (1, 3, 4, 5, 9)] == [
        1, 4, 4, 8, 16]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"strategy": "bayes"}, "strategy must be one of"),
     ({"strategy": "random", "eta": 3}, r"'random' does not read \['eta'\]"),
     ({"strategy": "pbt", "rounds": 2}, r"'pbt' does not read \['rounds'\]"),
     ({"strategy": "hyperband", "n": 8}, "drop n")],
)  # fmt: skip
def test_search_rejects_settings_its_strategy_does_not_read(nothing_compiles, kwargs, message):
    from jaxdl.sweep import search

    with pytest.raises(ValueError, match=message):
        search(SPACE, DATA, trainer=TRAINER, **kwargs)
