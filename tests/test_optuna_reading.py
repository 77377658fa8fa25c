"""Reading an Optuna study: the fANOVA importances jaxdl reports (summary line, results JSON) are
those Optuna computes for the same trials, and the figures mark the best trial with the metric
the study is ranked by."""

from __future__ import annotations

import json

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("matplotlib")

from jaxdl.cli import main  # noqa: E402
from jaxdl.data import datasets  # noqa: E402
from jaxdl.nn import MLP  # noqa: E402
from jaxdl.sweep import LogUniform, OneMinusLogUniform  # noqa: E402
from jaxdl.sweep.optuna_search import study_search  # noqa: E402
from jaxdl.sweep.optuna_search.figures import (  # noqa: E402
    parallel_coordinates_figure,
    slice_figure,
)
from jaxdl.sweep.optuna_search.reading import importances  # noqa: E402
from jaxdl.train import Trainer  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
DATA = datasets.load("moons", n=150, seed=1)
SPACE = {"learning_rate": LogUniform(1e-3, 1.0), "beta": OneMinusLogUniform(0.8, 0.99)}


@pytest.fixture(scope="module")
def searched():
    return study_search(SPACE, DATA, trainer=Trainer(MLP((2, 8, 2)), optimizer="momentum",
                                                     batch_size=32),
                        n=8, epochs=3, batch=8, sampler="random", pruner="none",
                        monitor="val_accuracy")  # fmt: skip


def optuna_importances(trials, direction="maximize"):
    """Optuna's own fANOVA importances of ``trials`` in a new study."""
    study = optuna.create_study(direction=direction)
    study.add_trials(trials)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def test_importances_are_optunas_for_the_same_trials(searched):
    expected = optuna_importances(searched.study.trials)
    assert list(searched.importances) == list(expected)
    assert searched.importances == pytest.approx(expected, rel=1e-12)
    assert sorted(expected) == ["learning_rate", "one_minus_beta"]
    assert sum(expected.values()) == pytest.approx(1.0)
    assert importances(optuna.create_study()) == {}  # nothing to read yet


def test_best_trial_marked_with_the_ranking_metric(searched):
    study = searched.study
    best = study.best_trial
    assert best.value == max(t.value for t in study.trials)  # val_accuracy: higher is better
    label = f"best: trial {best.number}, val_accuracy {best.value:.4g}"
    for fig in (parallel_coordinates_figure(study, "val_accuracy"),
                slice_figure(study, "val_accuracy")):  # fmt: skip
        (ax,) = [a for a in fig.axes if a.get_legend() is not None]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [label]
        assert "val_accuracy" in ax.get_title()
    # the slice plot's star sits at the best trial's learning rate and value
    ax = slice_figure(study, "val_accuracy").axes[0]
    star = [c for c in ax.collections if c.get_label() == label][0]
    assert star.get_offsets().tolist() == [[best.params["learning_rate"], best.value]]
    # the parallel coordinates' thick line ends at the top of the value axis (the best)
    ax = parallel_coordinates_figure(study, "val_accuracy").axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert line.get_ydata()[-1] == pytest.approx(1.0)


def test_cli_prints_writes_and_draws_the_reading(tmp_path, capsys):
    out = tmp_path / "out"
    storage = str(tmp_path / "study.log")
    code = main(["sweep", "--dataset", "moons", "--data-size", "200", "--strategy", "optuna",
                 "--sampler", "random", "--pruner", "none", "--configs", "6",
                 "--trials-per-batch", "6", "--epochs", "2", "--lr", "1e-3:1", "--l2", "1e-4:1",
                 "--storage", storage, "--study-name", "s", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    document = json.loads((out / "sweep.json").read_text())
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(storage)))
    expected = optuna_importances(study.trials, direction="minimize")
    assert document["importances"] == pytest.approx(expected, rel=1e-12)
    shown = ", ".join(f"{k} {v:.2f}" for k, v in expected.items())
    assert f"hyperparameter importance (fANOVA): {shown}" in printed
    assert document["study"]["best_trial"]["number"] == study.best_trial.number
    assert document["study"]["best_trial"]["val_loss"] == study.best_value
    for name in ("optuna_parallel.png", "optuna_slice.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in printed
