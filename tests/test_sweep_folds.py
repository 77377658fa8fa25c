"""K-fold cross-validation of a sweep's ranking (``jaxdl.sweep.folds``, ``jaxdl sweep --folds``):
the folds partition the rows (stratified), a fold's score is an independent ``fit`` of that
config on that fold's rows, the ranking is the mean of the fold scores, the refit is ``fit`` on
every pooled row and its saved figures are ``jaxdl evaluate``'s; a bad K is one clear error
before anything compiles, with nothing written."""

import csv
import json

import numpy as np
import pytest

from jaxdl import MLP, Trainer, cli, logs
from jaxdl.data.normalize import fit_standardizer
from jaxdl.layers import Standardized
from jaxdl.sweep import folds as folds_module
from jaxdl.sweep.buckets import split_config, trainer_for
from jaxdl.sweep.fold_results import mean_curve
from jaxdl.sweep.folds import check_folds, cross_validate, fold_ids, restandardized
from jaxdl.train import fit


@pytest.mark.parametrize("n, k", [(150, 5), (142, 5), (37, 4), (10, 10)])
@pytest.mark.parametrize("stratify", [True, False])
def test_folds_partition_the_rows(n, k, stratify):
    rng = np.random.default_rng(n)
    y = np.sort(rng.integers(0, 3, n)) if stratify else rng.normal(size=n)
    if stratify and np.bincount(y).min() < k:
        y = np.arange(n) % 2
    ids = fold_ids(y, k, seed=7, stratify=stratify)
    # every row is validated exactly once: it has one fold, and the folds are 0..k-1
    assert ids.shape == (n,) and set(ids.tolist()) == set(range(k))
    sizes = np.bincount(ids, minlength=k)
    assert sizes.sum() == n and sizes.max() - sizes.min() <= 1
    if stratify:
        for c in np.unique(y):
            counts = np.bincount(ids[y == c], minlength=k)
            assert counts.max() - counts.min() <= 1, (c, counts)
            assert counts.sum() == np.sum(y == c)
    # drawn from the seed: the same seed the same folds, another seed others
    assert np.array_equal(ids, fold_ids(y, k, seed=7, stratify=stratify))
    assert not np.array_equal(ids, fold_ids(y, k, seed=8, stratify=stratify)) or n == k


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int32)
    x = (rng.normal(size=(n, 3)) * [1.0, 20.0, 0.5] + [0.0, 100.0, -3.0]
         + 1.5 * y[:, None]).astype(np.float32)
    return x, y


CONFIGS = [{"learning_rate": 0.05, "hidden_units": 4}, {"learning_rate": 0.003, "hidden_units": 6},
           {"learning_rate": 0.02, "b1": 0.8, "hidden_units": 4}]


@pytest.fixture(scope="module")
def cv():
    x, y = _data()
    base = Trainer(Standardized(MLP((3, 4, 1)), fit_standardizer(x)), batch_size=16)
    return x, y, base, cross_validate(CONFIGS, (x, y), trainer=base, folds=3, epochs=5, seed=3)


def test_a_fold_score_is_an_independent_fit_on_that_folds_rows(cv):
    x, y, base, results = cv
    ids = fold_ids(y, 3, seed=3, stratify=True)
    assert np.array_equal(results.fold_ids, ids)
    pooled = restandardized(base, x, y)
    for i, config in enumerate(CONFIGS):
        row = results.row(i)
        for k in range(3):
            tr, va = ids != k, ids == k
            alone = fit(trainer_for(pooled, split_config(config)[0]), x[tr], y[tr],
                        validation=(x[va], y[va]), hp=results.runs[k].hp[i], epochs=5, seed=3,
                        progress=False)
            np.testing.assert_allclose(alone.history["val_loss"],
                                       results.runs[k].histories[i]["val_loss"], rtol=2e-5)
            np.testing.assert_allclose(row[f"fold{k}_val_loss"],
                                       alone.history["val_loss"][row["best_epoch"]], rtol=2e-5)


def test_the_ranking_is_the_mean_of_the_fold_scores(cv):
    _, _, _, results = cv
    table = results.table
    assert [r["config"] for r in table] == sorted(
        range(len(CONFIGS)), key=lambda i: results.row(i)["mean_val_loss"])
    for row in table:
        i = row["config"]
        curves = [run.histories[i]["val_loss"] for run in results.runs]
        mean = np.mean(curves, axis=0)
        assert row["best_epoch"] == int(np.argmin(mean))
        own = [row[f"fold{k}_val_loss"] for k in range(3)]
        assert row["mean_val_loss"] == pytest.approx(np.mean(own), rel=1e-12)
        assert row["mean_val_loss"] == pytest.approx(mean.min(), rel=1e-12)
        assert row["folds"] == 3 and row["std_val_loss"] == pytest.approx(np.std(own))
    assert results.monitor == "mean_val_loss" and results.label == "val_loss, mean of 3 folds"


def test_the_refit_is_fit_on_every_pooled_row_for_the_best_epochs(cv):
    x, y, base, results = cv
    best = results.best()
    assert results.refit_epochs == best["best_epoch"] + 1
    chosen = trainer_for(restandardized(base, x, y), split_config(CONFIGS[best["config"]])[0])
    alone = fit(chosen, x, y, hp=results.runs[0].hp[best["config"]],
                epochs=results.refit_epochs, seed=3, progress=False)
    assert len(results.refit.history["loss"]) == results.refit_epochs
    for a, b in zip(np.asarray(alone.history["loss"]), results.refit.history["loss"]):
        assert a == pytest.approx(b, rel=1e-6)
    assert results.refit_trainer.model.mean.tolist() == pytest.approx(x.mean(axis=0).tolist(),
                                                                       rel=1e-5)


def test_mean_curve_over_the_epochs_every_fold_ran():
    curve, best = mean_curve([[0.9, 0.5, 0.7], [0.8, 0.6]], "min")
    assert curve.tolist() == pytest.approx([0.85, 0.55]) and best == 1
    assert mean_curve([[0.5, 0.9], [0.7, 0.8]], "max")[1] == 1
    assert mean_curve([[float("nan")], [1.0]], "min")[1] == -1


@pytest.mark.parametrize("k, words", [(0, "at least 2"), (1, "at least 2"), (2.5, "integer"),
                                      (5, "at most 4, the rows of the smallest class")])
def test_bad_k_in_the_library(k, words):
    with pytest.raises(ValueError, match="folds must") as err:
        check_folds(k, np.array([0] * 4 + [1] * 9), stratify=True)
    assert words in str(err.value)
    with pytest.raises(ValueError, match="folds must be at most 3, the training and validation"):
        check_folds(4, np.zeros(3), stratify=False)


# -- the command line ------------------------------------------------------------------------
def _csv(path, n, seed):
    x, y = _data(n, seed)
    names = np.array(["no", "yes"])[y]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        for row, label in zip(x.tolist(), names):
            w.writerow([*map(repr, row), label])
    return str(path)


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


SWEEP = ["--lr", "1e-3:1e-1", "--hidden", "4", "--batch-size", "16", "--configs", "3",
         "--epochs", "4", "--no-plots"]


def test_cli_folds_save_the_refit_and_say_what_the_score_is(tmp_path, capsys):
    train, test = _csv(tmp_path / "train.csv", 80, 0), _csv(tmp_path / "test.csv", 30, 1)
    model, out = tmp_path / "m", tmp_path / "o"
    code, printed, err = run(capsys, "sweep", "--data", train, "--test-data", test, "--folds",
                             "4", *SWEEP, "--out", out, "--save-best", model)
    assert code == 0, err
    assert "3 configs x 4 folds x 4 epochs (random)" in printed
    assert "by val_loss, mean of 4 folds" in printed and "mean_val_loss" in printed
    assert "refitted on 80 training and validation rows" in printed
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    names = lines[header].split()
    for line in lines[header + 1: header + 4]:  # one cell per column, right-aligned under it
        cells = line.split()
        assert len(cells) == len(names), (lines[header], line)
        assert line.rstrip().endswith(cells[-1]) and lines[header].endswith("status")
    rows = list(csv.DictReader(open(out / "sweep.csv")))
    assert {"mean_val_loss", "folds", "fold3_val_loss"} <= set(rows[0])
    assert "val_loss" not in rows[0] and rows[0]["folds"] == "4"
    document = json.load(open(out / "sweep.json"))
    records = logs.read_jsonl(out / "metrics.jsonl")  # config i of fold k: member 3 * k + i
    assert sorted({r["member"] for r in records}) == list(range(12))
    assert document["ranked_by"] == "val_loss, mean of 4 folds" and document["folds"] == 4
    manifest = json.load(open(model / "manifest.json"))
    hyper = manifest["hyperparameters"]
    assert hyper["ranked_by"] == "val_loss, mean of 4 folds" and hyper["folds"] == 4
    assert hyper["epochs"] == document["refit_epochs"]
    assert hyper["epochs"] == int(rows[0]["best_epoch"]) + 1
    assert hyper["cross_validation"]["mean_val_loss"] == pytest.approx(
        float(rows[0]["mean_val_loss"]))
    # no validation-split figure: the refit trained on every row but the test file's
    assert set(manifest["metrics"]) == {"train", "test"}
    assert manifest["metrics"]["train"]["samples"] == 80
    code, _, err = run(capsys, "evaluate", "--model", model, "--data", test, "--out",
                       tmp_path / "e.json")
    assert code == 0, err
    evaluated = json.load(open(tmp_path / "e.json"))
    for name in ("accuracy", "loss"):
        assert evaluated[name] == pytest.approx(manifest["metrics"]["test"][name], abs=1e-6)


@pytest.fixture
def nothing_compiles(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("compiled before --folds was checked")

    monkeypatch.setattr(folds_module, "run_sweep", boom)
    monkeypatch.setattr(folds_module, "fit", boom)


@pytest.mark.parametrize("k, words", [("0", "at least 2"), ("1", "at least 2"),
                                      ("40", "the rows of the smallest class")])
def test_cli_bad_k_is_one_error_naming_folds(tmp_path, capsys, nothing_compiles, k, words):
    train = _csv(tmp_path / "train.csv", 50, 0)
    code, _, err = run(capsys, "sweep", "--data", train, "--folds", k, *SWEEP,
                       "--out", tmp_path / "o", "--save-best", tmp_path / "m")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("jaxdl: error: --folds"), err
    assert words in lines[0]
    assert not (tmp_path / "m").exists() and not (tmp_path / "o" / "sweep.csv").exists()


def test_cli_folds_refused_with_other_strategies(tmp_path, capsys, nothing_compiles):
    train = _csv(tmp_path / "train.csv", 50, 0)
    code, _, err = run(capsys, "sweep", "--data", train, "--folds", "3", "--strategy",
                       "hyperband", "--lr", "1e-3:1e-1", "--epochs", "3",
                       "--out", tmp_path / "o")
    assert code == 2 and "jaxdl: error: --folds cross-validates the plain sweep" in err, err


def test_cli_small_tables_cross_validate_by_default(tmp_path, capsys):
    small = _csv(tmp_path / "small.csv", 60, 0)
    base = ["--lr", "1e-3:1e-1", "--hidden", "4", "--batch-size", "16", "--configs", "2",
            "--epochs", "2", "--no-plots"]
    code, printed, err = run(capsys, "sweep", "--data", small, *base, "--out", tmp_path / "a")
    assert code == 0, err
    assert "a small table (48 training and validation rows): ranking by 5-fold" in printed
    assert "2 configs x 5 folds x 2 epochs" in printed
    code, printed, err = run(capsys, "sweep", "--data", small, *base, "--no-folds",
                             "--out", tmp_path / "b")
    assert code == 0, err
    assert "folds" not in printed and "best 2 by val_loss:" in printed
    large = _csv(tmp_path / "large.csv", 520, 1)  # 416 training and validation rows
    code, printed, err = run(capsys, "sweep", "--data", large, *base, "--out", tmp_path / "c")
    assert code == 0, err
    assert "folds" not in printed and "best 2 by val_loss:" in printed
    code, _, err = run(capsys, "sweep", "--data", small, *base, "--folds", "3", "--no-folds",
                       "--out", tmp_path / "d")
    assert code == 2 and "--folds and --no-folds contradict" in err


def _fake_folds(values, sizes, select="one-se"):
    """FoldResults over hand-made fold curves: ``values[i]`` config i's val_loss per fold (one
    epoch), ``sizes[i]`` its number of parameters."""
    from types import SimpleNamespace

    from jaxdl.early_stopping import EarlyStopping
    from jaxdl.sweep.fold_results import FoldResults

    k = len(values[0])
    runs = [SimpleNamespace(
        histories=[{"val_loss": [v[fold]]} for v in values], status=["ok"] * len(values),
        params=[{"W": np.zeros(n)} for n in sizes], monitor="val_loss",
        stopper=EarlyStopping(3), metrics=("val_loss",)) for fold in range(k)]
    return FoldResults(configs=[{} for _ in values], runs=runs, fold_ids=np.arange(k), seed=0,
                       select=select)


def test_one_se_rule_takes_the_fewest_parameters_within_one_standard_error():
    # config 0: the best mean 0.45, fold std 0.0408 -> se = std / sqrt(K - 1) = 0.0289;
    # config 1 (0.47, 10 parameters) lies within 0.4789, config 2 (0.50, 1 parameter) not
    values = [[0.40, 0.50, 0.45], [0.46, 0.47, 0.48], [0.50, 0.50, 0.50]]
    results = _fake_folds(values, [100, 10, 1])
    se = np.std(values[0]) / np.sqrt(2)
    assert results.threshold() == pytest.approx(0.45 + se)
    assert results.best()["config"] == 1 and results.best()["parameters"] == 10
    assert "config 1 by the one-standard-error rule" in results.choice()
    assert _fake_folds(values, [100, 10, 1], select="best").best()["config"] == 0
    # the bound is the best config's own spread: with equal folds, only the best is within
    assert _fake_folds([[0.45] * 3, [0.46] * 3], [100, 10]).best()["config"] == 0
    # equal sizes within the bound: the better mean
    assert _fake_folds(values, [10, 10, 1]).best()["config"] == 0
    with pytest.raises(ValueError, match="select must be one of 'one-se', 'best'"):
        _fake_folds(values, [1, 1, 1], select="simplest")


def test_the_library_default_chooses_by_the_one_se_rule(cv):
    _, _, _, results = cv
    rows = results.top(len(CONFIGS))
    bound = rows[0]["mean_val_loss"] + rows[0]["std_val_loss"] / np.sqrt(3 - 1)
    near = [r for r in rows if r["mean_val_loss"] <= bound]
    expected = min(near, key=lambda r: (r["parameters"], r["mean_val_loss"]))
    assert results.select == "one-se" and results.best()["config"] == expected["config"]
    for row in rows:  # the parameter count is the config's model's
        assert row["parameters"] == 3 * row["hidden_units"] + row["hidden_units"] + \
            row["hidden_units"] + 1


def test_cli_select_says_what_it_chose_and_needs_folds(tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", 60, 0)
    space = ["--lr", "1e-3:1e-1", "--batch-size", "16", "--configs", "3", "--epochs", "3",
             "--no-plots"]
    code, printed, err = run(capsys, "sweep", "--data", train, *space, "--folds", "3",
                             "--out", tmp_path / "a")
    assert code == 0, err
    document = json.load(open(tmp_path / "a" / "sweep.json"))
    chosen = next(r for r in document["rows"] if r["config"] == document["chosen"])
    assert document["select"] == "one-se"
    assert f"chosen: config {chosen['config']} by the one-standard-error rule: the fewest " \
           f"parameters ({chosen['parameters']})" in printed
    code, printed, err = run(capsys, "sweep", "--data", train, *space, "--folds", "3",
                             "--select", "best", "--out", tmp_path / "b")
    assert code == 0, err
    document = json.load(open(tmp_path / "b" / "sweep.json"))
    assert document["chosen"] == document["rows"][0]["config"]
    assert f"chosen: config {document['chosen']}, the best val_loss, mean of 3 folds" in printed
    code, _, err = run(capsys, "sweep", "--data", train, *space, "--no-folds", "--select",
                       "best", "--out", tmp_path / "c")
    assert code == 2 and "jaxdl: error: --select chooses among cross-validated configs" in err


@pytest.mark.parametrize("select, label", [("best", "best mean_val_loss"),
                                           ("one-se", "chosen: one-se rule on mean_val_loss")])
def test_sweep_plot_stars_the_chosen_config_and_shapes_each_optimizer(monkeypatch, tmp_path,
                                                                      select, label):
    pytest.importorskip("matplotlib")
    from jaxdl import plots
    from jaxdl.sweep.results import plot_sweep

    values = [[0.40, 0.50, 0.45], [0.46, 0.47, 0.48], [0.50, 0.50, 0.50]]
    results = _fake_folds(values, [100, 10, 1], select=select)
    for config, (rate, kind) in zip(results.configs, [(0.1, "adam"), (0.01, "momentum"),
                                                      (0.001, "adam")]):
        config.update(learning_rate=rate, optimizer=kind)
    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path, dpi=100: figures.append(fig))
    plot_sweep(results, tmp_path / "sweep.png")
    (ax,) = figures[0].axes
    chosen = results.best()
    star = [c for c in ax.collections if len(c.get_offsets()) == 1
            and c.get_sizes()[0] > 100]
    assert len(star) == 1
    assert star[0].get_offsets()[0].tolist() == pytest.approx(
        [chosen["learning_rate"], chosen["mean_val_loss"]])
    assert chosen["config"] == (0 if select == "best" else 1)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ok", "adam", "momentum", label]
    assert "3 configs: mean_val_loss" in figures[0]._suptitle.get_text()
