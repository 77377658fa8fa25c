"""The CLI's help, shared defaults, sweep header, progress lines and bug reports."""

from __future__ import annotations

import argparse
import re

import pytest

from jaxdl import cli
from jaxdl.data import datasets
from jaxdl.infra.progress import Progress
from jaxdl.nn import MLP
from jaxdl.train import Trainer, fit

TINY = ["--data-size", "60", "--hidden", "4", "--batch-size", "16"]


def subparsers():
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


@pytest.mark.parametrize("command", ["train", "sweep", "gradcheck", "demo"])
def test_help_shows_every_default_and_no_garbled_text(capsys, command):
    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    flat = " ".join(text.split())
    for action in subparsers()[command]._actions:
        default = action.default
        if not action.option_strings or default is None or isinstance(default, bool):
            continue
        if default is argparse.SUPPRESS:
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        expanded = " ".join(cli.HelpFormatter("jaxdl")._expand_help(action).split())
        assert "default" in expanded and shown in expanded, (action.option_strings, expanded)
        assert expanded in flat
    assert "None" not in text and "%(" not in text and "%%" not in text
    assert not re.search(r"\(default: \)", flat)
    for line in text.splitlines():
        assert len(line) <= 100, line


def test_hyperparameter_help_names_the_table_defaults(capsys):
    cli.main(["train", "--help"])
    flat = " ".join(capsys.readouterr().out.split())
    assert "Adam beta1 (default: 0.9)" in flat
    assert "(default: 1.0, scikit-learn's C = 1; 0 for none)" in flat  # --l2 (train)


def test_train_and_sweep_share_defaults():
    commands = subparsers()
    train, sweep = (commands[c].parse_args([]) for c in ("train", "sweep"))
    assert (train.optimizer, train.epochs) == (sweep.optimizer, sweep.epochs) == (
        cli.OPTIMIZER, cli.EPOCHS)
    assert Trainer(MLP((2, 1))).optimizer == cli.OPTIMIZER


def test_sweep_header_says_what_varies():
    trainer = Trainer(MLP((2, 4, 1)), optimizer="adam")
    configs = [
        {"optimizer": "adam", "hidden_units": 4, "learning_rate": 0.1},
        {"optimizer": "momentum", "hidden_units": 8, "learning_rate": 0.01},
        {"optimizer": "adam", "hidden_units": 8, "learning_rate": 0.02},
    ]
    header = cli.sweep_header(configs, trainer, {"l2": 0.1})
    assert header.startswith("3 configs; optimizers adam | momentum; MLP 2-4-1 | 2-8-1 relu")
    assert "searched: learning_rate" in header and "fixed: l2=0.1" in header
    # One optimizer and one width: said once, and the searched names only.
    header = cli.sweep_header([{"learning_rate": 0.1}, {"learning_rate": 0.2}], trainer, {})
    assert header == "2 configs; optimizer adam; MLP 2-4-1 relu (he); searched: learning_rate"


def test_sweep_prints_the_header(tmp_path, capsys):
    code = cli.main(["sweep", *TINY, "--lr", "1e-3:0.3", "--configs", "2", "--epochs", "1",
                     "--no-plots", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 configs; optimizer adam; MLP 2-4-1 relu (he); searched: learning_rate" in out
    assert re.search(r"^2 configs x 1 epochs\b.* in [0-9.]+ s", out, re.M), out


def test_progress_in_a_log_prints_lines(capsys):
    data = datasets.load("moons", n=60, seed=0)
    fit(Trainer(MLP((2, 4, 1)), batch_size=16), data.x_train, data.y_train, epochs=4,
        progress=True)
    err = capsys.readouterr().err  # not a terminal here: lines, not a bar
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/4", "epoch 2/4", "epoch 3/4",
                                                      "epoch 4/4"]
    assert "loss" in lines[0]


def test_progress_bar_counts_epochs_after_a_resume(monkeypatch):
    import io

    stream = io.StringIO()
    stream.isatty = lambda: True  # a terminal: a bar
    progress = Progress(10, initial=6, stream=stream)
    assert progress.bar is not None and progress.bar.n == 6 and progress.bar.total == 10
    progress.update(6, {"loss": 0.5})
    assert progress.bar.n == 7
    progress.close()
    assert "7/10" in stream.getvalue()


def test_progress_off_writes_nothing(capsys):
    progress = Progress(3, show=False)
    progress.update(0, {"loss": 1.0})
    progress.close()
    assert capsys.readouterr().err == ""


def test_a_bug_prints_a_traceback_and_exits_1(tmp_path, capsys, monkeypatch):
    def broken(args):
        return {}["missing"]  # a KeyError inside jaxdl

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), "train", broken))
    code = cli.main(["train", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" in err and "KeyError" in err
    assert "bug in jaxdl" in err and "report" in err


def test_a_type_error_from_a_wrong_call_is_a_bug(tmp_path, capsys, monkeypatch):
    def broken(args):
        return len(1, 2)  # a TypeError raised by Python, not by a check of jaxdl

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), "train", broken))
    assert cli.main(["train", "--out", str(tmp_path)]) == 1
    assert "bug in jaxdl" in capsys.readouterr().err


def test_bad_input_stays_one_line_exit_2(tmp_path, capsys):
    code = cli.main(["train", *TINY, "--optimizer", "sgd", "--b1", "0.9", "--out",
                     str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("jaxdl: error:")


def _with_run(parser, command, run):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    action.choices[command].set_defaults(run=run)
    return parser
