"""jaxdl sweep --strategy optuna: a study on a journal file, created by one run and joined by
the next, each batch of trials one compiled sweep."""

import pytest

from jaxdl.cli import main

optuna = pytest.importorskip("optuna")

ARGS = ["sweep", "--dataset", "moons", "--strategy", "optuna", "--configs", "3",
        "--trials-per-batch", "3", "--epochs", "2", "--lr", "1e-3:1", "--no-plots",
        "--pruner", "none"]


def test_two_runs_share_one_study(tmp_path, capsys):
    storage = str(tmp_path / "study.log")
    for run in range(2):
        code = main([*ARGS, "--storage", storage, "--study-name", "s", "--out",
                     str(tmp_path / f"out{run}")])
        assert code == 0, capsys.readouterr().err
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="s",
                              storage=JournalStorage(JournalFileBackend(storage)))
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    rates = [t.params["learning_rate"] for t in study.trials]
    assert len(set(rates)) == 6, "the second run redrew the first run's trials"
    table = (tmp_path / "out1" / "sweep.csv").read_text().splitlines()
    assert len(table) == 1 + 3


def test_options_of_other_strategies_are_refused(capsys):
    assert main([*ARGS, "--interval", "2"]) == 2
    assert "does not read ['interval']" in capsys.readouterr().err
