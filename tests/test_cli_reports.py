"""What train, sweep and evaluate print and write say what happened: tables aligned at any
magnitude (and read back equal to the figures written), TensorBoard train/validation as two
runs with the same tags, a closing "wrote" line naming every output, and an interrupted sweep
saying where its table is."""

import csv
import json
import os
import signal

import numpy as np
import pytest

from jaxdl import cli, logs
from jaxdl.cli.tables import format_figures, render
from jaxdl.sweep import state

TINY = ["--hidden", "4", "--batch-size", "16", "--no-plots"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _regression_csv(path, scale, n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (1.0 + x[:, 0] + 0.5 * x[:, 1] ** 2) * scale
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "y"])
        w.writerows([[repr(float(a)), repr(float(b)), repr(float(t))] for (a, b), t in zip(x, y)])
    return str(path)


def _table(out, first):
    """The lines of the printed table whose header starts with ``first``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    end = start + 1
    while end < len(lines) and lines[end].strip() and not lines[end].startswith(("wrote",
                                                                                 "confusion")):
        end += 1
    return lines[start:end]


def _same(cell, value):
    """A printed cell equals ``value`` to the digits shown (4 decimals, or 5 significant
    digits in scientific notation)."""
    if "e" in cell:
        return float(cell) == pytest.approx(value, rel=1e-4)
    return abs(float(cell) - value) <= 5.1e-5


def _columns_line_up(table):
    """Every row has one cell per header name, each right-aligned column ending where its
    header ends (the first column is left-aligned), cells apart by at least one space."""
    header = table[0]
    names = header.split()
    ends = [header.index(n) + len(n) for n in names]
    for line in table[1:]:
        cells = line.split()
        assert len(cells) == len(names), (table, line)
        at = 0
        for j, cell in enumerate(cells):
            at = line.index(cell, at)
            if j:
                assert at + len(cell) == ends[j], (table, line, cell)
            at += len(cell)
    return [dict(zip(names, line.split())) for line in table[1:]]


def test_render_and_figures_at_1e9_and_1e_9():
    splits = {"train": {"loss": 5970589184.0, "mae": 60899.4727, "r2": 0.0112},
              "test": {"loss": 3e-18, "mae": 1.5e-9, "r2": -0.25}}
    rows = _columns_line_up(format_figures(splits, "regression").splitlines())
    for row, name in zip(rows, splits):
        for key, value in splits[name].items():
            assert _same(row[key], value)
    assert render(["a", "b"], [["x", 1e300], ["y", -1e-300]]).splitlines()[1].endswith(
        "1.0000e+300")


@pytest.mark.slow
@pytest.mark.parametrize("scale", [1e9, 1e-9])
def test_train_sweep_and_evaluate_tables_align_at_any_magnitude(tmp_path, capsys, scale):
    data = _regression_csv(tmp_path / "reg.csv", scale)
    model = tmp_path / "m"
    code, out, err = run(capsys, "train", "--data", data, "--task", "regression", *TINY,
                         "--epochs", "2", "--out", tmp_path / "t", "--save", model)
    assert code == 0, err
    rows = _columns_line_up(_table(out, "split"))
    final = json.load(open(tmp_path / "t" / "history.json"))["final"]
    for row in rows:
        for key in ("loss", "mae", "r2"):
            assert _same(row[key], final[row["split"]][key])
    code, out, err = run(capsys, "evaluate", "--model", model, "--data", data, "--out",
                         tmp_path / "e.json")
    assert code == 0, err
    (row,) = _columns_line_up(_table(out, "split"))
    written = json.load(open(tmp_path / "e.json"))
    assert _same(row["loss"], written["loss"]) and _same(row["mae"], written["mae"])
    code, out, err = run(capsys, "sweep", "--data", data, "--task", "regression", *TINY,
                         "--lr", "1e-3:1e-1", "--configs", "3", "--epochs", "2", "--no-folds",
                         "--out", tmp_path / "s")
    assert code == 0, err
    rows = _columns_line_up(_table(out, "rank"))
    table = {r["config"]: r for r in json.load(open(tmp_path / "s" / "sweep.json"))["rows"]}
    assert len(rows) == 3
    for row in rows:
        written = table[int(row["config"])]
        assert _same(row["val_loss"], written["val_loss"])
        assert _same(row["val_mse"], written["val_mse"])


def _files(folder):
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, n)) and not n.startswith("."))


def _wrote(out):
    (line,) = [line for line in out.splitlines() if line.startswith("wrote ")]
    return line


@pytest.mark.slow
def test_train_writes_two_tensorboard_runs_and_names_every_output(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    tb, ckpt, out, model = (tmp_path / n for n in ("tb", "c", "o", "m"))
    code, stdout, err = run(capsys, "train", "--data-size", "60", *TINY, "--epochs", "3",
                            "--out", out, "--tensorboard", tb, "--checkpoint-dir", ckpt,
                            "--save", model)
    assert code == 0, err
    history = json.load(open(out / "history.json"))["history"]
    assert sorted(os.listdir(tb)) == ["train", "validation"]
    train, validation = logs.read_scalars(tb / "train"), logs.read_scalars(tb / "validation")
    for tag in ("loss", "accuracy"):  # one tag, two runs: TensorBoard overlays them
        assert [s for s, _ in train[tag]] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in train[tag]], history[tag], rtol=1e-6)
        np.testing.assert_allclose([v for _, v in validation[tag]], history[f"val_{tag}"],
                                   rtol=1e-6)
    assert not [t for t in (*train, *validation) if t.startswith("val_")]
    line = _wrote(stdout)
    for path in [*_files(out), str(model), str(tb), str(ckpt)]:
        assert path in line, (path, line)


@pytest.mark.slow
def test_sweep_names_every_output(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    tb, ckpt, out, model = (tmp_path / n for n in ("tb", "c", "o", "m"))
    code, stdout, err = run(capsys, "sweep", "--data-size", "60", *TINY, "--lr", "1e-3:1e-1",
                            "--configs", "2", "--epochs", "2", "--out", out, "--tensorboard",
                            tb, "--checkpoint-dir", ckpt, "--save-best", model)
    assert code == 0, err
    line = _wrote(stdout)
    for path in [*_files(out), str(model), str(tb), str(ckpt)]:
        assert path in line, (path, line)
    assert logs.read_scalars(tb / "member-001" / "validation")["loss"]


def test_an_interrupted_sweep_says_where_its_table_is(tmp_path, capsys, monkeypatch):
    original, calls = state.Journal.append, []

    def append(journal, lines):  # SIGINT arrives during the first chunk
        original(journal, lines)
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(state.Journal, "append", append)
    out, ckpt = tmp_path / "o", tmp_path / "c"
    code, _, err = run(capsys, "sweep", "--data-size", "60", *TINY, "--lr", "1e-3:1e-1",
                       "--configs", "3", "--epochs", "4", "--out", out, "--checkpoint-dir", ckpt)
    assert code == 130, err
    table = ckpt / "sweep.csv"
    assert table.is_file() and not (out / "sweep.csv").exists()
    assert f"the table so far is {table} (in the checkpoint directory" in err, err
    with open(table) as f:
        assert len(list(csv.DictReader(f))) == 3
