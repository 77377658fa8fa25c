"""The data summary of ``jaxdl train`` and ``jaxdl sweep`` (``describe_data``) names the files
the validation and test splits were read from (``--val-data``, ``--test-data``)."""

import csv

import numpy as np

from jaxdl import cli
from jaxdl.cli.describe import describe, describe_data
from jaxdl.data.datasets import load
from jaxdl.nn import MLP


def _csv(path, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "label"])
        for row in x:
            w.writerow([repr(float(row[0])), repr(float(row[1])),
                        "yes" if row[0] + row[1] > 0 else "no"])
    return str(path)


def test_describe_data_names_each_file_after_its_split_count():
    data = load("moons", n=50)
    assert describe_data(data) == "moons: 30 train / 10 validation / 10 test samples"
    assert describe_data(data, "folder/val.csv", "other/held_out.csv") == (
        "moons: 30 train / 10 validation (val.csv) / 10 test (held_out.csv) samples")
    assert describe_data(data, val_data="v.csv") == (
        "moons: 30 train / 10 validation (v.csv) / 10 test samples")
    assert describe(data, MLP((2, 4, 1)), test_data="t.csv").startswith(
        "moons: 30 train / 10 validation / 10 test (t.csv) samples; MLP 2-4-1")


def test_train_and_sweep_print_the_split_files(tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", 40, 0)
    val = _csv(tmp_path / "my_val.csv", 12, 1)
    test = _csv(tmp_path / "my_test.csv", 9, 2)
    small = ["--hidden", "4", "--batch-size", "16", "--epochs", "1", "--no-plots"]
    code = cli.main(["train", "--data", train, "--val-data", val, "--test-data", test, *small,
                     "--out", str(tmp_path / "t")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "train.csv: 40 train / 12 validation (my_val.csv) / 9 test (my_test.csv) samples" in out
    code = cli.main(["sweep", "--data", train, "--test-data", test, "--lr", "1e-3:1e-2",
                     "--configs", "2", *small, "--out", str(tmp_path / "s")])
    out, err = capsys.readouterr()
    assert code == 0, err
    # --val-fraction 0.2 of train.csv is the validation split: no file named for it
    assert "train.csv: 32 train / 8 validation / 9 test (my_test.csv) samples" in out
