"""The jaxdl command end to end on tiny configs, its exit codes and its one-line errors."""

import csv
import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from jaxdl import cli, plots
from jaxdl.history import without_timing

# 60 moons: 36 train / 12 validation / 12 test samples; one compiled epoch shared by the tests.
TINY = ["--data-size", "60", "--hidden", "4", "--batch-size", "16"]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jaxdl") and "error:" in lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_console_script_is_main():
    (entry,) = [e for e in metadata.entry_points(group="console_scripts") if e.name == "jaxdl"]
    assert entry.value == "jaxdl.cli:main"
    assert entry.load() is cli.main


def test_exit_status_of_a_real_process():
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl.cli", "train", "--dataset", "imagenet"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert_usage_error(done.returncode, done.stderr, "--dataset", "imagenet", "moons")


@pytest.mark.parametrize("argv", [[], ["train"], ["sweep"], ["gradcheck"], ["demo"]])
def test_help_everywhere(capsys, argv):
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0
    assert out.startswith("usage: jaxdl")


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert_usage_error(code, err, "COMMAND")


def test_train_end_to_end(tmp_path, capsys):
    out = tmp_path / "out"
    code, text, _ = run(capsys, "train", *TINY, "--epochs", "4", "--lr", "0.05",
                        "--out", str(out))
    assert code == 0
    assert "MLP 2-4-1 relu" in text
    for split in ("train", "validation", "test"):
        assert any(line.startswith(split) for line in text.splitlines())
    document = json.loads((out / "history.json").read_text())
    assert document["sizes"] == [2, 4, 1]
    assert document["epochs_run"] == 4
    assert document["history"]["epoch"] == [0, 1, 2, 3]
    assert len(document["history"]["val_loss"]) == 4
    assert document["hyperparameters"] == {"learning_rate": 0.05, "l2": 1.0}  # --l2's default
    assert 0.0 <= document["final"]["test"]["accuracy"] <= 1.0
    # The training cost goes down over the 4 epochs of Adam.
    assert document["history"]["loss"][-1] < document["history"]["loss"][0]
    for png in ("curves.png", "boundary.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_reports_its_device_and_runs_in_bf16(tmp_path, capsys):
    code, text, _ = run(capsys, "train", *TINY, "--epochs", "2", "--device", "cpu",
                        "--precision", "bf16", "--out", str(tmp_path), "--no-plots")
    assert code == 0
    assert text.splitlines()[0].startswith("backend cpu")
    assert "bfloat16 matmuls" in text.splitlines()[0]


def test_train_resume_equals_uninterrupted_run(tmp_path, capsys):
    common = ["train", *TINY, "--lr", "0.05", "--no-plots"]
    ckpt = str(tmp_path / "ckpt")
    assert run(capsys, *common, "--epochs", "2", "--checkpoint-dir", ckpt,
               "--out", str(tmp_path / "a"))[0] == 0
    assert run(capsys, *common, "--epochs", "4", "--checkpoint-dir", ckpt, "--resume",
               "--out", str(tmp_path / "a"))[0] == 0
    assert run(capsys, *common, "--epochs", "4", "--out", str(tmp_path / "b"))[0] == 0
    resumed = json.loads((tmp_path / "a" / "history.json").read_text())
    straight = json.loads((tmp_path / "b" / "history.json").read_text())
    assert without_timing(resumed["history"]) == without_timing(straight["history"])
    assert resumed["final"] == straight["final"]


def test_train_early_stopping(tmp_path, capsys):
    # With a learning rate of 1e-12 the validation loss cannot improve by 0.01, so patience 1
    # stops the run after its second epoch.
    code, text, _ = run(capsys, "train", *TINY, "--lr", "1e-12", "--optimizer", "sgd",
                        "--epochs", "20", "--patience", "1", "--min-delta", "0.01",
                        "--no-plots", "--out", str(tmp_path))
    assert code == 0
    document = json.loads((tmp_path / "history.json").read_text())
    assert document["stopped_early"] and document["epochs_run"] == 2
    assert "stopped early" in text


def test_train_divergence_exits_1(tmp_path, capsys):
    code, _, err = run(capsys, "train", *TINY, "--optimizer", "sgd", "--lr", "1e38",
                       "--epochs", "3", "--no-plots", "--out", str(tmp_path))
    assert code == 1
    assert err.count("\n") == 1 and "training diverged" in err and "--lr" in err


def test_train_without_matplotlib_skips_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plots, "available", lambda: False)
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", str(tmp_path))
    assert code == 0
    assert "pip install jaxdl[plot]" in err
    assert sorted(os.listdir(tmp_path)) == ["history.json", "metrics.jsonl"]


def test_plot_functions_name_the_extra_when_matplotlib_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(plots.MissingMatplotlib, match=r"pip install jaxdl\[plot\]"):
        plots.lines(str(tmp_path / "x.png"), [plots.Panel("t", {"a": [1.0, 2.0]})])


def test_sweep_end_to_end(tmp_path, capsys):
    code, text, _ = run(capsys, "sweep", *TINY, "--optimizer", "momentum", "--lr", "1e-3:0.3",
                        "--beta", "0.9:0.99",
                        "--configs", "6", "--epochs", "3", "--top", "3", "--out", str(tmp_path))
    assert code == 0
    lines = text.splitlines()
    assert any("6 configs x 3 epochs" in line for line in lines)
    ranked = [line.split() for line in lines if line.startswith("   ")]
    assert [row[0] for row in ranked] == ["1", "2", "3"]
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    lr = np.array([float(r["learning_rate"]) for r in rows])
    beta = np.array([float(r["beta"]) for r in rows])
    assert np.all((lr >= 1e-3) & (lr <= 0.3)) and np.all((beta >= 0.9) & (beta <= 0.99))
    assert {r["status"] for r in rows} == {"ok"}
    val = [float(r["val_loss"]) for r in rows]
    assert val == sorted(val)  # best first
    # The printed best config is the first row of the table.
    assert float(ranked[0][2]) == pytest.approx(lr[0], rel=1e-3)
    assert json.loads((tmp_path / "sweep.json").read_text())["monitor"] == "val_loss"
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_space_from_toml_with_fixed_flags(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text(
        'learning_rate = { distribution = "log_uniform", low = 0.01, high = 0.5 }\n'
        "[l2]\ndistribution = \"uniform\"\nlow = 0.0\nhigh = 2.0\n"
    )
    code, _, _ = run(capsys, "sweep", *TINY, "--space", str(space), "--optimizer", "momentum",
                     "--beta", "0.95",
                     "--configs", "4", "--epochs", "2", "--no-plots", "--out", str(tmp_path))
    assert code == 0
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {"learning_rate", "l2"} <= set(rows[0]) and "beta" not in rows[0]
    assert all(0.01 <= float(r["learning_rate"]) <= 0.5 for r in rows)
    assert all(0.0 <= float(r["l2"]) <= 2.0 for r in rows)


def test_read_space_rejects_bad_files(tmp_path):
    cases = {
        "missing.toml": (None, "cannot read sweep file"),
        "broken.toml": ("learning_rate = {", "invalid TOML"),
        "empty.toml": ("", "defines no hyperparameter"),
        "scalar.toml": ("learning_rate = 0.1", "must be a table with a 'distribution'"),
        "unknown.toml": ('lr = { distribution = "normal", low = 0, high = 1 }',
                         "unknown distribution 'normal'"),
        "keys.toml": ('lr = { distribution = "uniform", low = 0 }', "takes 'low' and 'high'"),
        "order.toml": ('lr = { distribution = "log_uniform", low = 1, high = 0.1 }',
                       "low < high"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(ValueError, match=message):
            cli.read_space(str(path))


def test_gradcheck_passes_and_fails_with_exit_codes(capsys):
    code, text, _ = run(capsys, "gradcheck", "--sizes", "3,4,2", "--batch", "6")
    assert code == 0 and "gradient check PASSED" in text and "layers[0].W" in text
    code, text, _ = run(capsys, "gradcheck", "--sizes", "3,4,2", "--batch", "6",
                        "--threshold", "1e-30")
    assert code == 1 and "gradient check FAILED" in text


@pytest.mark.parametrize(
    "argv,words",
    [
        (["train", "--dataset", "imagenet"], ["--dataset", "invalid choice", "moons"]),
        (["sweep", "--optimizer", "lion", "--lr", "1e-3:1"], ["--optimizer", "adam"]),
        (["train", "--activation", "gelu"], ["--activation"]),
        (["train", "--hidden", "16,x"], ["--hidden", "16,x"]),
        (["train", "--hidden", "16,0"], ["--hidden", "positive"]),
        (["train", "--sizes", "3,4,1"], ["does not fit", "'moons'", "2 input features"]),
        (["train", "--dataset", "digits", "--sizes", "64,8,1"], ["end with 10"]),
        (["train", "--hidden", "4", "--sizes", "2,4,1"], ["not allowed with"]),
        (["train", "--epochs", "-3"], ["--epochs", ">= 1", "-3"]),
        (["train", "--batch-size", "0"], ["--batch-size"]),
        (["train", "--data-size", "-5"], ["--data-size"]),
        (["train", "--seed", "-1"], ["--seed", ">= 0"]),
        (["sweep", "--configs", "-4", "--lr", "1e-3:1"], ["--configs"]),
        (["train", "--lr", "fast"], ["--lr", "'fast'"]),
        (["train", "--lr", "nan"], ["--lr", "finite"]),
        (["train", "--lr", "-0.1"], ["learning_rate"]),
        (["train", "--keep-prob", "1.5"], ["keep_prob"]),
        (["train", "--schedule", "exponential"], ["--decay-rate"]),
        (["train", "--resume"], ["--checkpoint-dir"]),
        (["train", "--device", "gpu"], ["sees no GPU", 'pip install -e ".[cuda]"']),
        (["train", "--precision", "fp8"], ["--precision", "invalid choice"]),
        (["train", "--dataset", "digits", "--data-size", "5000"], ["--data-size must be <= 1797"]),
        (["sweep", "--optimizer", "sgd", "--lr", "0.1", "--hidden", "4", "--batch-size", "8"],
         ["nothing to search", "default space"]),
        (["sweep", "--space", "/nonexistent/space.toml"], ["cannot read sweep file"]),
        (["sweep", "--lr", "1:1e-3"], ["low < high"]),
        (["sweep", "--beta", "0:0.99"], ["OneMinusLogUniform"]),
        (["demo", "--only", "9"], ["unknown experiment '9'"]),
        (["frobnicate"], ["invalid choice", "frobnicate"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    code, _, err = run(capsys, *argv, "--out", str(tmp_path)) if argv[0] in (
        "train", "sweep", "demo") else run(capsys, *argv)
    assert_usage_error(code, err, *words)
