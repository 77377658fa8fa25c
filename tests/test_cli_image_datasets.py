"""``jaxdl train --dataset fashion_mnist|mnist|cifar10``: the downloaded image sets from the
command, here served as small fixture files on 127.0.0.1 (test_image_recipe's server): the
download lands in the cache, a CNN preset trains on the uint8 images and the saved model predicts
the published test split as the run reported; flags that do not apply are one error line."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_image_recipe import fashion_server  # noqa: F401 - the fixture

from jaxdl import cli, saved
from jaxdl.data import load


@pytest.mark.slow
def test_train_a_preset_on_a_downloaded_image_set(fashion_server, tmp_path, capsys):  # noqa: F811
    out, model = tmp_path / "run", tmp_path / "model"
    code = cli.main(["train", "--dataset", "fashion_mnist", "--model", "lenet5", "--epochs", "3",
                     "--batch-size", "32", "--lr", "0.003", "--out", str(out),
                     "--save", str(model)])
    assert code == 0
    assert sorted(os.listdir(fashion_server / "fashion_mnist"))  # downloaded into the cache
    data = load("fashion_mnist")
    assert data.x_train.dtype == np.uint8 and data.x_test.shape[1:] == (28, 28, 1)
    predicted = saved.load_model(model).predict_classes(data.x_test, indices=True)
    accuracy = float(np.mean(predicted == data.y_test))
    assert accuracy > 0.5  # 4 classes in the fixture: chance is 0.25
    table = capsys.readouterr().out.splitlines()
    header = next(line for line in table if line.startswith("split")).split()
    test_row = next(line for line in table if line.startswith("test ")).split()
    assert float(test_row[header.index("accuracy")]) == pytest.approx(accuracy, abs=5e-5)


@pytest.mark.parametrize("flag", [["--test-fraction", "0.1"], ["--no-normalize"]])
def test_flags_that_do_not_apply_to_a_published_split(flag, tmp_path, capsys):
    code = cli.main(["train", "--dataset", "mnist", *flag, "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag[0] in err[0] and "published test split" in err[0]
    assert not (tmp_path / "run").exists()
