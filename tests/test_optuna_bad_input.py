"""Bad input to an Optuna study, through ``jaxdl sweep --strategy optuna`` and
``study_search``: a storage that cannot be opened, a joined study of the other direction or of
another space, ``--trials-per-batch 0``: one ``jaxdl: error:`` line naming the argument, exit 2,
nothing compiled and nothing written."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from jaxdl.cli import main  # noqa: E402
from jaxdl.data import datasets  # noqa: E402
from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import LogUniform, optuna_search  # noqa: E402
from jaxdl.sweep.optuna_search import study_search  # noqa: E402
from jaxdl.train import Trainer  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
ARGS = ["sweep", "--dataset", "moons", "--strategy", "optuna", "--configs", "2",
        "--trials-per-batch", "2", "--epochs", "1", "--lr", "1e-3:1", "--no-plots",
        "--pruner", "none", "--study-name", "s"]  # fmt: skip


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may compile on bad input")

    monkeypatch.setattr(optuna_search.core, "run_sweep", refuse)


def refused(tmp_path, capsys, *args: str) -> str:
    out = tmp_path / "out"
    assert main([*ARGS, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdl: error: ") and err.count("\n") == 1, err
    assert not out.exists()
    return err


def journal(path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


@pytest.mark.parametrize("storage", ["postgresql://nobody@127.0.0.1:1/none",
                                     "sqlite:////no/such/folder/study.db",
                                     "no/such/folder/study.log", "nosuchdb://x"])
def test_storage_that_cannot_be_opened(tmp_path, capsys, no_training, storage):
    err = refused(tmp_path, capsys, "--storage", storage)
    assert f"storage {storage!r} cannot be opened" in err


def test_joined_study_of_the_other_direction(tmp_path, capsys, no_training):
    path = tmp_path / "study.log"
    optuna.create_study(study_name="s", storage=journal(path), direction="minimize")
    err = refused(tmp_path, capsys, "--storage", str(path), "--monitor", "val_accuracy")
    assert "study_name 's' in the storage is a minimize study" in err
    assert "--study-name" in err
    assert optuna.load_study(study_name="s", storage=journal(path)).trials == []


def test_joined_study_of_another_space(tmp_path, capsys, no_training):
    path = tmp_path / "study.log"
    study = optuna.create_study(study_name="s", storage=journal(path))
    study.enqueue_trial({"learning_rate": 0.1})
    trial = study.ask()
    trial.suggest_float("learning_rate", 1e-2, 1.0, log=True)
    study.tell(trial, 0.5)
    err = refused(tmp_path, capsys, "--storage", str(path))
    assert "holds trials with 'learning_rate' drawn from FloatDistribution(high=1.0, log=True, " \
           "low=0.01" in err  # fmt: skip
    assert "low=0.001" in err and "--study-name" in err
    assert len(optuna.load_study(study_name="s", storage=journal(path)).trials) == 1


def test_optimize_refuses_a_space_that_draws_a_parameter_from_another_distribution(no_training):
    from jaxdl.sweep.optuna_search import optimize

    study = optuna.create_study()
    trial = study.ask()
    trial.suggest_float("learning_rate", 1e-2, 1.0, log=True)
    study.tell(trial, 0.5)
    data = datasets.load("moons", n=40, seed=0)

    def space(trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True)}

    with pytest.raises(ValueError, match="holds trials with 'learning_rate' drawn from"):
        optimize(study, space, data, trainer=Trainer(MLP((2, 4, 2))), n_trials=2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]  # told, not running


def test_trials_per_batch_zero(tmp_path, capsys):
    err = refused(tmp_path, capsys, "--trials-per-batch", "0")
    assert "--trials-per-batch" in err


def test_heartbeat_checked(tmp_path, no_training):
    data = datasets.load("moons", n=40, seed=0)
    with pytest.raises(ValueError, match="heartbeat must be a positive whole number"):
        study_search({"learning_rate": LogUniform(1e-3, 1.0)}, data,
                     trainer=Trainer(MLP((2, 4, 2))), n=2, epochs=1,
                     storage=str(tmp_path / "s.log"), heartbeat=0)  # fmt: skip
