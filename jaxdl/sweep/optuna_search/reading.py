"""Reading a study: which hyperparameters mattered, and the study's table with them.

:func:`importances` is Optuna's fANOVA importance of each parameter for the study's finished
trials (the share of the objective's variance a random forest fitted on the trials attributes to
that parameter alone; they sum to 1). :class:`StudyResults` is what ``search(...,
strategy="optuna")`` returns: the sweep table of this worker's trials, with the ``study`` (all
workers' trials) and its importances, printed by :meth:`~StudyResults.summary`, written to the
results JSON and drawn by :meth:`~StudyResults.plot` (:mod:`.figures`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from jaxdl.infra.atomic import write_json
from jaxdl.sweep.merge import GroupedResults
from jaxdl.sweep.optuna_search.space import require_optuna


def importances(study: Any, seed: int = 0) -> dict[str, float]:
    """Optuna's fANOVA importances of ``study``'s parameters over its complete trials,
    largest first: ``optuna.importance.get_param_importances(study,
    evaluator=FanovaImportanceEvaluator(seed=seed))``; ``{}`` with fewer than two complete
    trials or several objectives.

    Args:
      study: an ``optuna.Study``.
      seed: the seed of fANOVA's random forest.

    Returns:
      ``{parameter: importance}``, the importances summing to 1.

    Examples:
      >>> import optuna
      >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
      >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
      >>> study.optimize(lambda t: 10 * t.suggest_float("a", 0, 1) + t.suggest_float("b", 0, 1),
      ...                n_trials=20)
      >>> found = importances(study)
      >>> list(found), round(sum(found.values()), 6), found["a"] > 0.9
      (['a', 'b'], 1.0, True)
    """
    optuna = require_optuna()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(study.directions) != 1 or len(complete) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {name: float(value) for name, value in found.items()}


@dataclasses.dataclass
class StudyResults(GroupedResults):
    """A study search's table (this call's trials, batch by batch) with the ``study`` and its
    fANOVA ``importances`` (see the module docstring)."""

    study: Any = None
    importances: dict[str, float] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """One line: the study's trials and the importances, largest first.

        >>> StudyResults([], [], [], [], [], [], [], [], [], [], None, groups=[],
        ...              importances={"learning_rate": 0.8, "beta": 0.2}).summary()
        'hyperparameter importance (fANOVA): learning_rate 0.80, beta 0.20'
        """
        if not self.importances:
            return "hyperparameter importance: needs two or more complete trials"
        shown = ", ".join(f"{k} {v:.2f}" for k, v in self.importances.items())
        return f"hyperparameter importance (fANOVA): {shown}"

    def to_json(self, path: str | os.PathLike) -> None:
        """Write ``{"monitor", "mode", "rows", "importances", "study"}`` as JSON: the table,
        the fANOVA importances and the study's name, trial count and best trial."""
        study: dict[str, Any] = {}
        if self.study is not None:
            study = {"name": self.study.study_name, "trials": len(self.study.trials)}
            if self.importances:  # single-objective with complete trials
                best = self.study.best_trial
                study["best_trial"] = {"number": best.number, self.monitor: best.value,
                                       "params": best.params}  # fmt: skip
        write_json(path, {"monitor": self.monitor, "mode": self.stopper.mode, "rows": self.table,
                          "importances": self.importances, "study": study})  # fmt: skip

    def plot(self, folder: str | os.PathLike) -> list[str]:
        """Draw the study's figures into ``folder`` (:func:`.figures.plot_study`); the paths."""
        from jaxdl.sweep.optuna_search.figures import plot_study

        return plot_study(self.study, folder, self.monitor)
