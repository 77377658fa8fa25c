"""A study's figures (PNG, matplotlib): every complete trial in parallel coordinates, and a slice
plot of the ranking metric against the learning rate; in both the best trial is marked and
labelled with the metric it is ranked by. matplotlib is optional (``pip install jaxdl[plot]``).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from jaxdl import plots
from jaxdl.sweep.optuna_search.space import require_optuna

BEST = "#d62728"  # the best trial's colour


def _complete(study: Any) -> list[Any]:
    optuna = require_optuna()
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def _best_label(best: Any, metric: str) -> str:
    return f"best: trial {best.number}, {metric} {best.value:.4g}"


def _coordinate(dist: Any, value: Any) -> float:
    """A parameter value on its axis: log10 for a log distribution, the position for a
    categorical one."""
    if hasattr(dist, "choices"):
        return float(dist.choices.index(value))
    return math.log10(value) if getattr(dist, "log", False) else float(value)


def _tick(dist: Any, value: float) -> str:
    if hasattr(dist, "choices"):
        return str(dist.choices[int(round(value))])
    return f"{10 ** value:.3g}" if getattr(dist, "log", False) else f"{value:.3g}"


def plot_parallel_coordinates(study: Any, path: str | os.PathLike, metric: str) -> str:
    """Save :func:`parallel_coordinates_figure` to ``path``; returns ``path``.

    Examples:
      >>> import optuna, os, tempfile
      >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
      >>> study = optuna.create_study()
      >>> study.optimize(lambda t: t.suggest_float("learning_rate", 1e-3, 1, log=True),
      ...                n_trials=5)
      >>> path = os.path.join(tempfile.mkdtemp(), "parallel.png")
      >>> plot_parallel_coordinates(study, path, "val_loss") == path
      True
    """
    return plots.save(parallel_coordinates_figure(study, metric), path)


def parallel_coordinates_figure(study: Any, metric: str) -> Any:
    """Every complete trial of ``study`` as a line through one axis per parameter (log axes for
    log-scale parameters) and a last axis of its value, ``metric``; coloured by the value, the
    best trial drawn thick and labelled ``best: trial N, <metric> <value>``.

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    trials = _complete(study)
    if not trials:
        raise ValueError("the study has no complete trial to draw")
    dists: dict[str, Any] = {}
    for trial in trials:
        dists.update({k: v for k, v in trial.distributions.items() if k not in dists})
    names = sorted(dists)
    columns = np.full((len(trials), len(names) + 1), np.nan)
    for r, trial in enumerate(trials):
        for c, name in enumerate(names):
            if name in trial.params:
                columns[r, c] = _coordinate(dists[name], trial.params[name])
        columns[r, -1] = trial.value
    low, high = np.nanmin(columns, axis=0), np.nanmax(columns, axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (columns - low) / span
    fig, (ax,) = plots.figure(1, width=max(6.0, 1.6 * (len(names) + 1)), height=4.2)
    values = columns[:, -1]
    norm = _norm(values, minimize=study.direction.name == "MINIMIZE")
    x = np.arange(len(names) + 1)
    best = study.best_trial
    for r, trial in enumerate(trials):
        if trial.number == best.number:
            continue
        ax.plot(x, scaled[r], color=_colour(norm(values[r])), alpha=0.7, linewidth=1.2)
    b = [t.number for t in trials].index(best.number)
    ax.plot(x, scaled[b], color=BEST, linewidth=3, marker="o", zorder=5,
            label=_best_label(best, metric))  # fmt: skip
    for c in range(len(names) + 1):
        ax.axvline(c, color="0.6", linewidth=0.8, zorder=0)
        dist = dists[names[c]] if c < len(names) else None
        top = _tick(dist, high[c]) if dist is not None else f"{high[c]:.4g}"
        bottom = _tick(dist, low[c]) if dist is not None else f"{low[c]:.4g}"
        ax.text(c, 1.03, top, ha="center", va="bottom", fontsize="small")
        ax.text(c, -0.03, bottom, ha="center", va="top", fontsize="small")
    ax.set_xticks(x, [*names, metric])
    ax.tick_params(axis="x", pad=14)
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    ax.set_title(f"{study.study_name}: {len(trials)} complete trials, ranked by {metric} "
                 f"({'lower' if study.direction.name == 'MINIMIZE' else 'higher'} is better)",
                 fontsize="medium")  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return fig


def _norm(values: np.ndarray, minimize: bool) -> Any:
    """``value -> [0, 1]``, 1 for the best value (lowest when ``minimize``)."""
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low if high > low else 1.0
    return (lambda v: (high - v) / span) if minimize else (lambda v: (v - low) / span)


def _colour(share: float) -> Any:
    from matplotlib import colormaps

    return colormaps["viridis"](0.15 + 0.7 * share)


def plot_slice(study: Any, path: str | os.PathLike, metric: str,
               param: str = "learning_rate") -> str:  # fmt: skip
    """Save :func:`slice_figure` to ``path``; returns ``path``.

    Examples:
      Any parameter of the study, here a validation accuracy (maximized) against Adam's
      ``beta1``:

      >>> import optuna, os, tempfile
      >>> from jaxdl.sweep.optuna_search.figures import plot_slice
      >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
      >>> study = optuna.create_study(direction="maximize")
      >>> study.optimize(lambda t: 1 - abs(t.suggest_float("beta1", 0.5, 0.99) - 0.9), n_trials=4)
      >>> os.path.basename(plot_slice(study, os.path.join(tempfile.mkdtemp(), "beta1.png"),
      ...                             "val_accuracy", param="beta1"))
      'beta1.png'
    """
    return plots.save(slice_figure(study, metric, param), path)


def slice_figure(study: Any, metric: str, param: str = "learning_rate") -> Any:
    """``metric`` of every complete trial against ``param`` (a log axis for a log-scale
    parameter), coloured by trial number, the best trial starred and labelled ``best: trial N,
    <metric> <value>``.

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    trials = [t for t in _complete(study) if param in t.params]
    if not trials:
        raise ValueError(f"no complete trial of the study has the parameter {param!r}")
    x = np.array([t.params[param] for t in trials], dtype=float)
    y = np.array([t.value for t in trials], dtype=float)
    fig, (ax,) = plots.figure(1, width=6.0, height=4.2)
    points = ax.scatter(x, y, c=[t.number for t in trials], cmap="viridis", s=36,
                        edgecolors="0.3", linewidths=0.5)  # fmt: skip
    fig.colorbar(points, ax=ax, label="trial number")
    best = study.best_trial
    if param in best.params:
        ax.scatter([best.params[param]], [best.value], marker="*", s=320, color=BEST,
                   edgecolors="black", zorder=5, label=_best_label(best, metric))  # fmt: skip
        ax.legend(loc="best")
    if getattr(trials[0].distributions[param], "log", False):
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(f"{study.study_name}: {metric} against {param} ({len(trials)} complete trials)",
                 fontsize="medium")  # fmt: skip
    ax.grid(True, alpha=0.3)
    return fig


def plot_study(study: Any, folder: str | os.PathLike, metric: str) -> list[str]:
    """``optuna_parallel.png`` (every trial) and ``optuna_slice.png`` (``metric`` against the
    learning rate, where the study has one) in ``folder``; the paths written (none without a
    complete trial or for several objectives).

    >>> import optuna, tempfile
    >>> plot_study(optuna.create_study(), tempfile.mkdtemp(), "val_loss")
    []
    """
    if study is None or len(study.directions) != 1 or not _complete(study):
        return []
    written = [plot_parallel_coordinates(study, os.path.join(folder, "optuna_parallel.png"),
                                         metric)]  # fmt: skip
    if any("learning_rate" in t.params for t in _complete(study)):
        written.append(plot_slice(study, os.path.join(folder, "optuna_slice.png"), metric))
    return written
