"""A sweep given no ranges searches the documented default space: the course's order of
importance, betas on the 1 - beta scale, sizes scaled to the data, flags fixing names."""

import csv
import json
import math

import numpy as np
import pytest

from jaxdl import cli
from jaxdl.cli import build_parser
from jaxdl.sweep import LogUniform, OneMinusLogUniform, sample
from jaxdl.sweep.default_space import default_space


def test_the_order_of_importance_and_the_scales():
    space = default_space("adam", 1000)
    assert list(space) == ["learning_rate", "b1", "b2", "hidden_units", "batch_size",
                           "num_layers"]
    assert space["learning_rate"] == LogUniform(1e-4, 1e-1)
    assert space["b1"] == OneMinusLogUniform(0.8, 0.99)
    assert space["b2"] == OneMinusLogUniform(0.99, 0.9999)
    assert list(default_space("momentum", 1000))[:2] == ["learning_rate", "beta"]
    assert default_space("sgd", 1000)["learning_rate"] == LogUniform(1e-3, 1.0)
    assert "decay_rate" in default_space("sgd", 1000, schedule="inverse_time")
    assert "decay_rate" not in default_space("sgd", 1000)
    # the betas are drawn on the 1 - beta scale: log10(1 - b1) uniform on [-2, log10(0.2)]
    draws = np.array([c["b1"] for c in sample({"b1": space["b1"]}, 0, 4000)])
    logs = np.log10(1 - draws)
    assert logs.min() >= -2 - 1e-9 and logs.max() <= math.log10(0.2) + 1e-9
    counts, _ = np.histogram(logs, bins=4, range=(-2, math.log10(0.2)))
    assert counts.min() > 0.8 * 1000


def test_sizes_scale_with_the_training_rows_and_flags_fix_names():
    space = default_space("adam", 72)
    assert space["batch_size"].options == (16, 32, 64)
    assert space["hidden_units"].options == (16, 32)
    assert "batch_size" not in default_space("adam", 20)  # one batch size fits: not searched
    assert default_space("adam", 5000)["hidden_units"].options == (16, 32, 64, 128, 256)
    assert list(default_space("adam", 72, mlp=False, fixed={"b2", "batch_size"})) == [
        "learning_rate", "b1"]
    with pytest.raises(ValueError, match="no default search space"):
        default_space("lbfgs", 100)


def _csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        w.writerows([[*map(repr, map(float, xi)), yi] for xi, yi in zip(x, y)])
    return str(path)


@pytest.mark.slow
def test_sweep_without_ranges_searches_the_default_space(tmp_path, capsys):
    data = _csv(tmp_path / "train.csv")
    code = cli.main(["sweep", "--data", data, "--configs", "4", "--epochs", "2", "--no-plots",
                     "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "no ranges given: searching the default space" in out
    assert "learning_rate: log-uniform 0.0001..0.1" in out
    rows = json.load(open(tmp_path / "o" / "sweep.json"))["rows"]
    assert len(rows) == 4
    n_train = 72  # 120 rows, 20% validation, 20% test
    for row in rows:
        assert 1e-4 <= row["learning_rate"] <= 1e-1
        assert 0.8 <= row["b1"] <= 0.99 and 0.99 <= row["b2"] <= 0.9999
        assert row["hidden_units"] in (16, 32) and row["num_layers"] in (0, 1, 2, 3)
        assert row["batch_size"] in (16, 32, 64) and row["batch_size"] <= n_train


def test_a_flag_fixes_its_names_out_of_the_default_space(tmp_path, capsys):
    data = _csv(tmp_path / "train.csv")
    code = cli.main(["sweep", "--data", data, "--configs", "2", "--epochs", "1", "--no-plots",
                     "--hidden", "8", "--batch-size", "32", "--optimizer", "momentum",
                     "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.load(open(tmp_path / "o" / "sweep.json"))["rows"]
    assert {k for k in rows[0] if k in ("learning_rate", "beta", "b1", "hidden_units",
                                        "batch_size", "num_layers")} == {"learning_rate", "beta"}


def test_help_documents_the_default_space():
    text = build_parser()._subparsers._group_actions[0].choices["sweep"].format_help()
    flat = " ".join(text.split())
    for words in ("default space", "order of importance", "learning_rate log-uniform",
                  "1 - beta scale", "hidden_units", "batch_size", "num_layers", "decay_rate",
                  "a sweep without ranges searches it"):
        assert words in flat, words


def test_pbt_searches_the_continuous_names_of_the_default_space(tmp_path, capsys):
    data = _csv(tmp_path / "train.csv")
    code = cli.main(["sweep", "--data", data, "--strategy", "pbt", "--configs", "4", "--epochs",
                     "2", "--no-plots", "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.load(open(tmp_path / "o" / "sweep.json"))["rows"]
    assert not {"hidden_units", "num_layers", "batch_size"} & set(rows[0])
    assert {"learning_rate", "b1", "b2"} <= set(rows[0])
