"""``jaxdl train`` takes every split's figures from one home, :mod:`jaxdl.evaluation` (through
``cli.data.figures``), for the built-in datasets as for files and saved models (issue 24: it
used to pick between two evaluations)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxdl import cli, saved
from jaxdl.data.datasets import load

TINY = ["--dataset", "moons", "--data-size", "120", "--hidden", "4", "--batch-size", "16",
        "--epochs", "2", "--seed", "3", "--no-plots", "--keep", "last"]  # fmt: skip


def test_printed_figures_are_jaxdl_evaluation_of_the_kept_parameters(tmp_path, capsys):
    code = cli.main(["train", *TINY, "--out", str(tmp_path / "o"), "--save",
                     str(tmp_path / "m")])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    written = json.load(open(tmp_path / "o" / "history.json"))
    final = written["final"]
    assert list(final) == ["train", "validation", "test"]  # in this order, printed so too
    data = load("moons", n=120, seed=3)
    model = saved.load_model(tmp_path / "m")
    for name, x, y in (("train", data.x_train, data.y_train),
                       ("validation", data.x_val, data.y_val),
                       ("test", data.x_test, data.y_test)):  # fmt: skip
        expected = model.evaluate(x, y)  # jaxdl.evaluation.evaluate of the saved model
        assert final[name]["samples"] == len(y) == expected["samples"]
        assert final[name]["loss"] == pytest.approx(expected["loss"], rel=1e-5)
        assert final[name]["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-9)
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (
        ["train"], ["validation"], ["test"])]  # fmt: skip
    assert [r[0] for r in rows] == ["train", "validation", "test"]
    for name, loss, accuracy in rows:
        assert float(loss) == pytest.approx(final[name]["loss"], abs=5e-5)
        assert float(accuracy) == pytest.approx(final[name]["accuracy"], abs=5e-5)
    # without early stopping the final parameters are kept: the history's last validation loss
    # (the compiled evaluation of the training loop) is the printed one
    assert written["kept_epoch"] == written["history"]["epoch"][-1]
    assert final["validation"]["loss"] == pytest.approx(written["history"]["val_loss"][-1],
                                                        rel=1e-5)  # fmt: skip


def test_the_same_figures_with_or_without_save(tmp_path, capsys):
    assert cli.main(["train", *TINY, "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["train", *TINY, "--out", str(tmp_path / "b"), "--save",
                     str(tmp_path / "m")]) == 0  # fmt: skip
    capsys.readouterr()
    a, b = (json.load(open(tmp_path / d / "history.json"))["final"] for d in ("a", "b"))
    assert a == b
    assert np.isfinite(a["test"]["loss"]) and set(a["test"]) >= {"samples", "loss", "accuracy"}
