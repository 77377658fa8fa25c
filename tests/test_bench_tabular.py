"""scripts/bench_tabular.py: the commands are a user's (every default, the sweep's default space,
the held-out file as --test-data), each jaxdl row's score is what ``jaxdl evaluate`` measures on
the held-out rows and equals the figure the saved model reports, and the table says what was
run."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))

import bench_tabular  # noqa: E402

pytest.importorskip("sklearn")


def test_commands_are_the_users_defaults():
    sweep = bench_tabular.jaxdl_command("sweep", "train.csv", "test.csv", "m", "o")
    assert sweep == ["sweep", "--data", "train.csv", "--test-data", "test.csv", "--save-best",
                     "m", "--out", "o", "--no-plots"]  # no range flag: the default space
    train = bench_tabular.jaxdl_command("train", "train.csv", "test.csv", "m", "o")
    assert train == ["train", "--data", "train.csv", "--test-data", "test.csv", "--save", "m",
                     "--out", "o", "--no-plots"]
    assert "--test-data" not in bench_tabular.jaxdl_command("train_60", "a", "b", "m", "o")


def test_splits_are_stratified_80_20_with_text_labels():
    x, y, names, task = bench_tabular.table("iris")
    assert task == "classification" and set(y) == {"setosa", "versicolor", "virginica"}
    train, test = bench_tabular.split(y, task, seed=0)
    assert len(test) == 30 and sorted(np.unique(y[test], return_counts=True)[1]) == [10] * 3
    assert not set(train) & set(test) and len(train) + len(test) == len(y)
    assert bench_tabular.split(y, task, seed=1)[1].tolist() != test.tolist()
    _, y, _, task = bench_tabular.table("diabetes")
    assert task == "regression" and y.dtype == np.float64


@pytest.mark.slow
def test_quick_run_scores_are_evaluate_s_and_the_saved_models_own(tmp_path):
    saved = []
    result = bench_tabular.run(["iris"], [0], quick=True, save=saved.append)["iris"]
    assert saved and saved[-1]["iris"] is result
    for row in bench_tabular.ROWS:
        assert len(result[row]["scores"]) == 1 and 0 <= result[row]["scores"][0] <= 1, row
    assert result["linear"]["scores"][0] > 0.9  # the oracle row itself is sane
    for row in ("train", "sweep"):
        # the manifest's test figure was measured on test.csv, the rows evaluate scores
        assert result[row]["reported"][0] == pytest.approx(result[row]["scores"][0], abs=1e-6)
        assert "/ 30 test (test.csv) samples" in result[row]["summary"][0]
    # without --test-data, 20% of train.csv is an internal test split (60% trains)
    assert result["train_60"]["summary"][0].startswith("train.csv: 72 train / 24 validation / "
                                                       "24 test samples")
    hp = result["sweep"]["hyperparameters"][0]
    # iris is a small table: the default sweep ranks by 5-fold cross-validation
    assert hp["ranked_by"] == "val_loss, mean of 5 folds"
    assert {"learning_rate", "b1", "b2"} <= set(hp)
    assert bench_tabular.mismatches({"iris": result}) == []
    assert "| iris (150 rows, 4 features) | accuracy |" in bench_tabular.report({"iris": result})


def _entry(**scores):
    return {"task": "classification", "metric": "accuracy", "rows": 10, "features": 2,
            **{row: {"scores": s, "wall_s": [1.0] * len(s), "reported": s}
               for row, s in scores.items()}}


def test_report_bar_and_mismatches():
    met = _entry(train=[0.9, 1.0], sweep=[1.0, 1.0], train_60=[0.8, 0.8], linear=[0.9, 0.9],
                 mlp=[0.95, 1.0])
    table = bench_tabular.report({"a": met})
    assert "| a (10 rows, 2 features) | accuracy | 0.950 +- 0.050 | 1.000 +- 0.000 |" in table
    assert "train >= linear; sweep >= max(linear, mlp)" in table
    missed = _entry(train=[0.8], sweep=[0.9], linear=[0.85], mlp=[0.95])
    assert bench_tabular.bar(missed) == "train < linear; sweep < max(linear, mlp)"
    assert bench_tabular.mismatches({"a": met}) == []
    missed["sweep"]["reported"] = [0.5]
    assert bench_tabular.mismatches({"b": missed}) == [
        "b sweep seed 0: manifest 0.5000, evaluate 0.9000"]


def test_report_merges_earlier_runs(tmp_path, capsys):
    paths = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"sets": {name: _entry(train=[0.5], linear=[0.6])}}))
        paths.append(str(path))
    assert bench_tabular.main(["--report", *paths]) == 0
    out = capsys.readouterr().out
    assert "| a (10 rows" in out and "| b (10 rows" in out and "train < linear" in out


def test_unknown_set_or_row_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        bench_tabular.main(["--sets", "titanic"])
    assert stop.value.code == 2 and "unknown set(s) titanic" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench_tabular.main(["--rows", "forest"])
    assert "unknown row(s) forest" in capsys.readouterr().err


def test_mismatches_name_the_split_seed_and_first_seed_picks_the_seeds(monkeypatch):
    missed = _entry(sweep=[0.9], linear=[0.85])
    missed["seeds"] = [5]
    missed["sweep"]["reported"] = [0.5]
    assert bench_tabular.mismatches({"b": missed}) == [
        "b sweep seed 5: manifest 0.5000, evaluate 0.9000"]
    asked = {}
    monkeypatch.setattr(bench_tabular, "run", lambda sets, seeds, **kw: asked.update(
        seeds=seeds) or {})
    monkeypatch.setattr(bench_tabular, "report", lambda results: "")
    bench_tabular.main(["--first-seed", "3", "--seeds", "5", "--sets", "iris"])
    assert asked["seeds"] == [3, 4, 5, 6, 7]
