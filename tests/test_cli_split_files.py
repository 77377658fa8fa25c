"""--val-data/--test-data files and split fractions of 0: every row of --data trains when
another file is the test split; the files are read in the training split's form (columns in
any order, its one-hot encoding and class names, its standardizer); a missing validation split
is an error where something needs it."""

import csv
import json

import numpy as np
import pytest

from jaxdl import cli, saved


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(code, err, *words):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("jaxdl: error:"), err
    for word in words:
        assert word in lines[0], (word, lines[0])


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * [1.0, 50.0] + [0.0, 100.0]
    colour = rng.choice(["red", "green", "blue"], size=n)
    y = np.where(x[:, 0] + (colour == "red") > 0.3, "yes", "no")
    return x, colour, y


def _csv(path, n, seed, order=("a", "colour", "b", "label")):
    x, colour, y = _rows(n, seed)
    cells = {"a": x[:, 0], "b": x[:, 1], "colour": colour, "label": y}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(order)
        for i in range(n):
            w.writerow([repr(float(cells[k][i])) if k in "ab" else cells[k][i] for k in order])
    return str(path)


TRAIN = ["--hidden", "4", "--batch-size", "16", "--epochs", "2", "--no-plots"]


@pytest.mark.slow
def test_test_fraction_0_with_test_data_trains_on_all_rows(tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", 50, 0)
    test = _csv(tmp_path / "test.csv", 17, 1, order=("label", "b", "colour", "a"))
    model = tmp_path / "m"
    code, out, err = run(capsys, "train", "--data", train, "--test-fraction", "0",
                         "--test-data", test, "--val-fraction", "0", *TRAIN,
                         "--out", tmp_path / "o", "--save", model)
    assert code == 0, err
    assert "train.csv: 50 train / 0 validation / 17 test (test.csv) samples" in out
    history = json.load(open(tmp_path / "o" / "history.json"))
    assert set(history["final"]) == {"train", "test"}
    assert history["final"]["train"]["samples"] == 50
    assert history["monitor"] == "loss" and history["history"]["val_loss"] == []
    # the test figures are the saved model's on test.csv (its own columns order, raw values)
    code, _, err = run(capsys, "evaluate", "--model", model, "--data", test, "--out",
                       tmp_path / "e.json")
    assert code == 0, err
    evaluated = json.load(open(tmp_path / "e.json"))
    assert history["final"]["test"]["samples"] == 17
    for key in ("loss", "accuracy"):
        assert history["final"]["test"][key] == pytest.approx(evaluated[key], rel=1e-5)


@pytest.mark.slow
def test_test_data_alone_sets_its_fraction_to_0_and_val_data_is_the_validation_split(
        tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", 60, 0)
    val = _csv(tmp_path / "val.csv", 15, 2)
    test = _csv(tmp_path / "test.csv", 11, 1)
    code, out, err = run(capsys, "train", "--data", train, "--test-data", test, "--val-data",
                         val, *TRAIN, "--patience", "5", "--out", tmp_path / "o",
                         "--save", tmp_path / "m")
    assert code == 0, err
    assert "train.csv: 60 train / 15 validation (val.csv) / 11 test (test.csv) samples" in out
    history = json.load(open(tmp_path / "o" / "history.json"))
    # the validation split is val.csv: its loss at the kept epoch is the saved model's there
    model = saved.load_model(tmp_path / "m")
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "m", "--data", val, "--out",
                       tmp_path / "v.json")
    assert code == 0, err
    assert json.load(open(tmp_path / "v.json"))["loss"] == pytest.approx(
        history["final"]["validation"]["loss"], rel=1e-5)
    # the standardizer is the training rows' (all 60 of train.csv), not val.csv's or test.csv's
    x, _, _ = _rows(60, 0)
    stats = model.manifest["standardizer"]  # columns a, colour (one-hot, 3), b
    np.testing.assert_allclose([stats["mean"][0], stats["mean"][-1]], x.mean(0), rtol=1e-5)
    np.testing.assert_allclose([stats["std"][0], stats["std"][-1]], x.std(0), rtol=1e-4)


def test_sweep_with_val_data(tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", 60, 0)
    val = _csv(tmp_path / "val.csv", 20, 2)
    code, out, err = run(capsys, "sweep", "--data", train, "--val-data", val, "--test-fraction",
                         "0", "--lr", "1e-3:1e-1", "--configs", "2", *TRAIN, "--out",
                         tmp_path / "o")
    assert code == 0, err
    assert "train.csv: 60 train / 20 validation (val.csv) / 0 test samples" in out


@pytest.mark.parametrize("argv,words", [
    (["train", "--test-data", "{d}/test.csv"], ["--test-data", "give --data FILE"]),
    (["train", "--data", "{d}/train.csv", "--test-data", "{d}/test.csv", "--test-fraction",
      "0.2"], ["--test-fraction 0.2", "leave out --test-fraction"]),
    (["train", "--data", "{d}/train.csv", "--val-fraction", "0", "--patience", "3"],
     ["--patience", "no validation split", "--val-data"]),
    (["train", "--data", "{d}/train.csv", "--val-fraction", "0", "--patience", "3",
      "--monitor", "val_accuracy"], ["--monitor val_accuracy", "validation data"]),
    (["sweep", "--data", "{d}/train.csv", "--val-fraction", "0", "--lr", "1e-3:1e-1",
      "--no-folds"], ["validation split", "--val-data"]),  # a small table's default folds
                                                            # need no validation split
    (["train", "--data", "{d}/train.csv", "--val-data", "{d}/other.csv"],
     ["--val-data", "other.csv"]),
    (["train", "--data", "{d}/train.csv", "--test-data", "{d}/newclass.csv"],
     ["--test-data", "maybe"]),
    (["train", "--data", "{d}/train.csv", "--val-fraction", "1"], ["--val-fraction", "[0, 1)"]),
])
def test_bad_split_flags_are_one_line_errors(tmp_path, capsys, argv, words):
    _csv(tmp_path / "train.csv", 40, 0)
    _csv(tmp_path / "test.csv", 10, 1)
    (tmp_path / "other.csv").write_text("a,b,label\n1,2,yes\n")
    (tmp_path / "newclass.csv").write_text("a,colour,b,label\n1,red,2,maybe\n")
    argv = [a.format(d=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv, *TRAIN, "--out", tmp_path / "o")
    one_error(code, err, *words)
    assert not (tmp_path / "o" / "history.json").exists()
