"""One Optuna trial's way through jaxdl: asked with its config (:func:`ask_trials`, a bad
``space_fn`` failing every trial asked), described by its table row (:func:`describe_trial`)
and valued by the study's objectives (:func:`objective_values`)."""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from jaxdl.sweep.optuna_search.heartbeat import Heartbeat
from jaxdl.sweep.optuna_search.space import require_optuna
from jaxdl.sweep.results import SweepResults, count_params

__all__ = ["PARAM_COUNT", "WORKER", "ask_trials", "describe_trial", "objective_values",
           "param_count"]  # fmt: skip

PARAM_COUNT = "param_count"  # an objective: the member's number of parameters
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # each trial's user attribute "worker"


def param_count(results: SweepResults, i: int) -> float:
    """Member ``i``'s number of parameters (the ``"param_count"`` objective).

    >>> from types import SimpleNamespace
    >>> from jaxdl.sweep.optuna_search.trials import param_count
    >>> import numpy as np
    >>> param_count(SimpleNamespace(params=[{"W": np.zeros((3, 2)), "b": np.zeros(2)}]), 0)
    8.0
    """
    return float(count_params(results.params[i]))


def objective_values(results: SweepResults, i: int, objectives: list[Any]) -> list[float] | None:
    """Member ``i``'s objective values at its best epoch (``None``: no finite monitor)."""
    row = results.row(i)
    if not math.isfinite(row[results.monitor]):
        return None
    out = []
    for objective in objectives:
        if callable(objective):
            out.append(float(objective(results, i)))
        elif objective == PARAM_COUNT:
            out.append(param_count(results, i))
        else:
            out.append(float(row[objective]))
    return out


def describe_trial(trial: Any, results: SweepResults, i: int) -> None:
    """The member's table row as the trial's user attributes (its finite metrics at the best
    epoch, ``status``, ``best_epoch``, ``epochs_run``)."""
    row = results.row(i)
    for key in ("status", "best_epoch", "epochs_run", *results.metrics):
        value = row[key]
        if isinstance(value, str) or math.isfinite(value):
            trial.set_user_attr(key, value)


def _known_distributions(study: Any) -> dict[str, Any]:
    """Each parameter's distribution in ``study``'s trials so far (the last one seen)."""
    return {name: dist for trial in study.get_trials(deepcopy=False)
            for name, dist in trial.distributions.items()}  # fmt: skip


def _check_distributions(study: Any, trial: Any, known: dict[str, Any]) -> None:
    """A parameter suggested with another distribution than the study's earlier trials is an
    error (the study holds another search: a name reused)."""
    for name, dist in trial.distributions.items():
        if known.setdefault(name, dist) != dist:
            raise ValueError(
                f"study_name {study.study_name!r} already holds trials with {name!r} drawn "
                f"from {known[name]}, but space_fn draws it from {dist}: give this search "
                "another study name (--study-name) or the study's own space"
            )


def ask_trials(study: Any, space_fn: Callable[[Any], Mapping[str, Any]], count: int):
    """``count`` trials and their configs; on a bad ``space_fn`` (it raises, returns a non-dict
    or draws a parameter from another distribution than the study's earlier trials) every
    trial asked is told FAIL and the error names ``space_fn``."""
    optuna = require_optuna()
    trials, configs = [], []
    known = _known_distributions(study)
    try:
        for _ in range(count):
            with warnings.catch_warnings():  # jaxdl records the heartbeats (.heartbeat)
                warnings.filterwarnings("ignore", "Heartbeat of storage is supposed")
                trial = study.ask()
            trials.append(trial)
            Heartbeat.once(study, trial)  # dead from now on: failed when it goes stale
            try:
                trial.set_user_attr("worker", WORKER)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # taken for dead already (a stalled worker): trained, never told
            try:
                config = space_fn(trial)
            except Exception as err:  # noqa: BLE001 - user code, reported with the trial
                raise ValueError(
                    f"space_fn raised {type(err).__name__} on trial {trial.number}: {err}"
                ) from err
            if not isinstance(config, Mapping):
                raise ValueError(
                    f"space_fn must return a dict of hyperparameters (a config), got "
                    f"{type(config).__name__} on trial {trial.number}"
                )
            _check_distributions(study, trial, known)
            configs.append(dict(config))
    except BaseException:
        for trial in trials:
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        raise
    return trials, configs
