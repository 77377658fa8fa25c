"""The user's data through the CLI: train --data --save, predict in a fresh process, evaluate,
sweep --save-best, and a one-line error (exit 2, nothing written) for each bad input."""

import csv
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxdl import cli, evaluation, layers, logs, saved
from jaxdl.data.files import load_file

ENV = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _num(value):
    return repr(float(value))


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def _classification_rows(n=90, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 100.0, 0.01]
    y = np.where(x[:, 0] > 0.5, "high", np.where(x[:, 0] < -0.5, "low", "mid"))
    return x, y


def _capture_saves(monkeypatch):
    """Record what the training process saved (model, params, state, standardizer)."""
    seen = {}
    original = saved.save_model

    def spy(path, model, params, state, **kwargs):
        seen.update(model=model, params=params, state=state, data=kwargs.get("data"))
        return original(path, model, params, state, **kwargs)

    monkeypatch.setattr(saved, "save_model", spy)
    return seen


def _read_predictions(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.mark.slow
def test_csv_classification_end_to_end(tmp_path, monkeypatch):
    x, y = _classification_rows()
    data_csv = _write_csv(tmp_path / "train.csv", ["a", "b", "c", "kind"],
                          [[*map(_num, xi), yi] for xi, yi in zip(x, y)])
    seen = _capture_saves(monkeypatch)
    model_dir, out = str(tmp_path / "m"), str(tmp_path / "out")
    args = ["train", "--data", data_csv, "--target", "kind", "--epochs", "8", "--lr", "0.05",
            "--save", model_dir, "--out", out, "--no-plots", "--seed", "3"]
    assert cli.main(args) == 0
    history = json.load(open(os.path.join(out, "history.json")))
    assert len(logs.read_jsonl(os.path.join(out, "metrics.jsonl"))) == 8

    # predict in a fresh process; columns in another order
    new = np.random.default_rng(5).normal(size=(11, 3)) * [1.0, 100.0, 0.01]
    new_csv = _write_csv(tmp_path / "new.csv", ["c", "a", "b"],
                         [[_num(r[2]), _num(r[0]), _num(r[1])] for r in new])
    predictions = str(tmp_path / "predictions.csv")
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", "predict", "--model", model_dir, "--data", new_csv,
         "--out", predictions], capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header, rows = _read_predictions(predictions)
    assert header == ["prediction", "probability_high", "probability_low", "probability_mid"]

    # ... equal model.apply in the training process
    assert isinstance(seen["model"], layers.Standardized)  # raw features in
    logits, _ = seen["model"].apply(seen["params"], seen["state"], new, train=False)
    expected = np.asarray(jax.nn.softmax(logits))
    np.testing.assert_allclose(np.array([r[1:] for r in rows], float), expected, rtol=1e-5,
                               atol=1e-7)
    names = ("high", "low", "mid")
    assert [r[0] for r in rows] == [names[i] for i in np.argmax(expected, axis=1)]

    # evaluate on the training run's test rows gives the training run's test figures
    test_rows = load_file(data_csv, target="kind", seed=3).rows[2]
    test_csv = _write_csv(tmp_path / "test.csv", ["a", "b", "c", "kind"],
                          [[*map(_num, x[r]), y[r]] for r in test_rows])
    report = str(tmp_path / "evaluation.json")
    assert cli.main(["evaluate", "--model", model_dir, "--data", test_csv, "--out", report]) == 0
    figures = json.load(open(report))
    test = history["final"]["test"]
    assert figures["samples"] == len(test_rows) == test["samples"]
    assert figures["accuracy"] == test["accuracy"]
    assert figures["loss"] == pytest.approx(test["loss"], rel=1e-5)
    assert figures["confusion_matrix"] == test["confusion_matrix"]
    assert saved.load_model(model_dir).manifest["metrics"]["test"] == test


@pytest.mark.slow
def test_npz_regression_end_to_end(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 4)) * [1.0, 10.0, 0.1, 1.0]
    y = x @ [1.0, -0.2, 5.0, 0.0] + 0.05 * rng.normal(size=80)
    np.savez(tmp_path / "r.npz", x=x, y=y)
    seen = _capture_saves(monkeypatch)
    model_dir, out = str(tmp_path / "m"), str(tmp_path / "out")
    args = ["train", "--data", str(tmp_path / "r.npz"), "--epochs", "6", "--lr", "0.02",
            "--save", model_dir, "--out", out, "--no-plots"]
    assert cli.main(args) == 0
    history = json.load(open(os.path.join(out, "history.json")))
    assert "val_mse" in history["history"]

    new = rng.normal(size=(9, 4))
    np.save(tmp_path / "new.npy", new)
    predictions = str(tmp_path / "p.csv")
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", "predict", "--model", model_dir, "--data",
         str(tmp_path / "new.npy"), "--out", predictions],
        capture_output=True, text=True, env=ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header, rows = _read_predictions(predictions)
    assert header == ["prediction"]
    outputs, _ = seen["model"].apply(seen["params"], seen["state"], new, train=False)
    np.testing.assert_allclose([float(r[0]) for r in rows], np.asarray(outputs)[:, 0],
                               rtol=1e-5, atol=1e-6)

    test_rows = load_file(tmp_path / "r.npz").rows[2]
    np.savez(tmp_path / "test.npz", x=x[test_rows], y=y[test_rows])
    report = str(tmp_path / "e.json")
    assert cli.main(["evaluate", "--model", model_dir, "--data", str(tmp_path / "test.npz"),
                     "--out", report]) == 0
    figures, test = json.load(open(report)), history["final"]["test"]
    for key in ("loss", "mse", "mae", "r2"):
        assert figures[key] == pytest.approx(test[key], rel=1e-5, abs=1e-7)


def test_sweep_save_best(tmp_path):
    x, y = _classification_rows(60)
    data_csv = _write_csv(tmp_path / "d.csv", ["a", "b", "c", "kind"],
                          [[*map(_num, xi), yi] for xi, yi in zip(x, y)])
    model_dir = str(tmp_path / "best")
    args = ["sweep", "--data", data_csv, "--lr", "0.001:0.1", "--configs", "2", "--epochs", "2",
            "--save-best", model_dir, "--out", str(tmp_path / "out"), "--no-plots",
            "--tensorboard", str(tmp_path / "tb")]
    assert cli.main(args) == 0
    best = json.load(open(tmp_path / "out" / "sweep.json"))["rows"][0]
    model = saved.load_model(model_dir)
    assert model.manifest["hyperparameters"]["learning_rate"] == pytest.approx(
        best["learning_rate"])
    assert model.manifest["hyperparameters"]["best_epoch"] == best["best_epoch"]
    assert model.class_names == ("high", "low", "mid")
    records = logs.read_jsonl(tmp_path / "out" / "metrics.jsonl")
    assert sorted({r["member"] for r in records}) == [0, 1]
    scalars = logs.read_scalars(tmp_path / "tb" / "member-001" / "train")
    assert [step for step, _ in logs.read_scalars(
        tmp_path / "tb" / "member-001" / "validation")["loss"]] == [0, 1]
    assert [v for _, v in scalars["learning_rate"]] == pytest.approx(
        [r["learning_rate"] for r in records if r["member"] == 1])


def _bad_files(tmp_path):
    """name -> (argv, file named in the error, problem)."""
    def text(name, content):
        path = tmp_path / name
        path.write_text(content)
        return str(path)

    good = _write_csv(tmp_path / "good.csv", ["a", "y"], [[i, i % 2] for i in range(20)])
    np.savez(tmp_path / "nox.npz", features=np.ones((4, 2)))
    return {
        "empty": (["--data", text("empty.csv", "")], "empty.csv", "is empty"),
        "header only": (["--data", text("h.csv", "a,y\n")], "h.csv", "no data rows"),
        "non-numeric": (["--data", text("t.csv", "a,b,y\n1,x,0\n2,3,1\n")], "t.csv",
                        "column 'b' is not numeric"),
        "ragged": (["--data", text("r.csv", "a,y\n1,0\n2\n")], "r.csv", "has 1 fields"),
        "no target": (["--data", good, "--target", "label"], "good.csv", "no column named"),
        "npz without x": (["--data", str(tmp_path / "nox.npz")], "nox.npz", "no array named 'x'"),
        "one class": (["--data", text("o.csv", "a,y\n1,1\n2,1\n3,1\n")], "o.csv",
                      "one class only"),
    }


@pytest.mark.parametrize("case", ["empty", "header only", "non-numeric", "ragged", "no target",
                                  "npz without x", "one class"])
def test_bad_data_files(tmp_path, capsys, case):
    argv, file, problem = _bad_files(tmp_path)[case]
    out = tmp_path / "out"
    code = cli.main(["train", *argv, "--out", str(out), "--save", str(tmp_path / "m"),
                     "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("jaxdl: error: ")
    assert file in err and problem in err
    assert not out.exists() and not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from jaxdl.nn import MLP

    path = tmp_path_factory.mktemp("saved") / "m"
    model = MLP((2, 3, 1))
    params, state = model.init(jax.random.key(0))
    saved.save_model(path, model, params, state, class_names=("no", "yes"),
                     feature_names=("a", "b"), target="y")
    return str(path)


def test_tampered_manifest_is_a_one_line_error(tmp_path, capsys, saved_model):
    import shutil

    model_dir = tmp_path / "m"
    shutil.copytree(saved_model, model_dir)
    manifest = json.load(open(model_dir / "manifest.json"))
    manifest["feature_names"] = ["a", "c"]
    json.dump(manifest, open(model_dir / "manifest.json", "w"))
    data = _write_csv(tmp_path / "new.csv", ["a", "c"], [[1, 2]])
    out = tmp_path / "p.csv"
    code = cli.main(["predict", "--model", str(model_dir), "--data", data, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "manifest.json" in err and "checksum mismatch" in err
    assert not out.exists()


def test_predict_with_wrong_columns(tmp_path, capsys, saved_model):
    data = _write_csv(tmp_path / "new.csv", ["a", "z"], [[1, 2]])
    out = tmp_path / "p.csv"
    code = cli.main(["predict", "--model", saved_model, "--data", data, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "new.csv" in err and "lacks the model's feature column(s) b" in err
    assert "not trained on: z" in err and not out.exists()


def test_evaluate_prints_and_writes_figures(tmp_path, capsys, saved_model):
    data = _write_csv(tmp_path / "t.csv", ["b", "a", "y"], [[1, 2, "yes"], [0, -1, "no"]])
    report = tmp_path / "e.json"
    assert cli.main(["evaluate", "--model", saved_model, "--data", data, "--out",
                     str(report)]) == 0
    printed = capsys.readouterr().out
    figures = json.load(open(report))
    model = saved.load_model(saved_model)
    expected = evaluation.evaluate("classification", model.outputs([[2, 1], [-1, 0]]), [1, 0], 2)
    assert figures.pop("confusion_matrix") == expected.pop("confusion_matrix")
    assert {k: figures[k] for k in expected} == pytest.approx(expected)
    assert "confusion matrix" in printed and f"{figures['loss']:.4f}" in printed


def test_tensorboard_flag_without_tensorboardx(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(logs, "tensorboard_available", lambda: False)
    out = tmp_path / "out"
    code = cli.main(["train", "--epochs", "1", "--tensorboard", str(tmp_path / "tb"),
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "pip install" in err and "tensorboard" in err
    assert not out.exists() and not (tmp_path / "tb").exists()


def test_file_flags_without_data_are_errors(capsys):
    assert cli.main(["train", "--target", "y"]) == 2
    assert "--target only apply to --data" in capsys.readouterr().err


def test_resume_continues_the_metrics_log(tmp_path):
    common = ["train", "--data-size", "60", "--out", str(tmp_path / "out"), "--no-plots",
              "--checkpoint-dir", str(tmp_path / "ckpt")]
    assert cli.main([*common, "--epochs", "2"]) == 0
    assert cli.main([*common, "--epochs", "4", "--resume"]) == 0
    records = logs.read_jsonl(tmp_path / "out" / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [0, 1, 2, 3]
