"""The command line reads the registries instead of restating them: hyperparameter flags,
--strategy and --monitor; and every parser error has one form, 'jaxdl: error: ...'."""

import subprocess
import sys

import pytest

from jaxdl.cli import build_parser, main
from jaxdl.cli.options import HP_FLAGS
from jaxdl.optim import registry
from jaxdl.sweep.strategies import STRATEGIES


def _action(command: str, flag: str):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if flag in a.option_strings)


def test_every_optimizer_hyperparameter_has_its_registry_flag():
    flags = {name: (flag, scale) for flag, name, _, scale in HP_FLAGS}
    for name, p in registry.HYPERPARAMETERS.items():
        assert flags[name] == (p.flag, p.scale)
    args = build_parser().parse_args(["sweep", "--b2", "0.99:0.9999"])
    assert args.b2 == (0.99, 0.9999)


def test_strategy_choices_are_the_registry():
    assert tuple(_action("sweep", "--strategy").choices) == STRATEGIES


def test_monitor_is_checked_against_what_the_task_records(capsys, tmp_path):
    code = main(["train", "--dataset", "moons", "--monitor", "val_acc", "--epochs", "1",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--monitor 'val_acc'" in err and "val_accuracy" in err
    assert not (tmp_path / "o").exists()


def test_a_regression_monitor_is_accepted(tmp_path):
    x = "\n".join(f"{i / 10},{(i % 7) / 3},{i / 5 + 0.5}" for i in range(60))
    data = tmp_path / "reg.csv"
    data.write_text("a,b,y\n" + x + "\n")
    code = main(["train", "--data", str(data), "--task", "regression", "--monitor", "val_mse",
                 "--patience", "2", "--epochs", "3", "--hidden", "4", "--no-plots",
                 "--out", str(tmp_path / "o")])
    assert code == 0


@pytest.mark.parametrize("argv", [["train", "--hidden", "x"], ["sweep", "--nope"], ["--nope"]])
def test_parser_errors_have_one_form(argv):
    done = subprocess.run([sys.executable, "-m", "jaxdl.cli", *argv], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("jaxdl: error: ") and done.stderr.count("\n") == 1


def test_data_size_has_a_bound(capsys):
    assert main(["train", "--data-size", "1000000000"]) == 2
    assert "--data-size: must be an integer from 1 to 10000000" in capsys.readouterr().err


def test_a_hyperparameter_from_both_the_space_file_and_a_flag_is_refused(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('learning_rate = { distribution = "log_uniform", low = 1e-4, high = 1.0 }\n')
    code = main(["sweep", "--space", str(space), "--lr", "1e-3:1e-2", "--out",
                 str(tmp_path / "o")])
    assert code == 2 and "learning_rate is given both in --space" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
