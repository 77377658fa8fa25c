"""Define-by-run spaces for Optuna studies: a learning rate on a log scale, a ``beta`` on the
``1 - beta`` scale, and a jaxdl search space turned into a ``space_fn``. Optuna is optional
(``pip install 'jaxdl[optuna]'``): it is imported inside these functions only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jaxdl.data.images import MissingPackage

INSTALL_HINT = "pip install 'jaxdl[optuna]'"


def require_optuna() -> Any:
    """The ``optuna`` module, or :class:`~jaxdl.data.images.MissingPackage` (an ``ImportError``
    and a ``ValueError``) with the install hint.

    Returns:
      The imported ``optuna`` package.

    Examples:
      >>> require_optuna().__name__
      'optuna'
    """
    try:
        import optuna
    except ImportError as err:
        raise MissingPackage(
            f"Optuna studies need the optuna package: {INSTALL_HINT} ({err})"
        ) from err
    return optuna


def suggest_learning_rate(
    trial: Any, low: float = 1e-4, high: float = 1.0, name: str = "learning_rate"
) -> float:
    """A learning rate drawn on a log scale: ``trial.suggest_float(name, low, high, log=True)``.

    Args:
      trial: an ``optuna.trial.Trial``.
      low, high: the range, ``0 < low < high``.
      name: the parameter's name in the study.

    Returns:
      The learning rate.

    Examples:
      >>> import optuna
      >>> trial = optuna.create_study().ask()
      >>> 1e-3 <= suggest_learning_rate(trial, 1e-3, 1e-1) <= 1e-1
      True
    """
    if not 0 < low < high:
        raise ValueError(f"learning rate range must satisfy 0 < low < high, got {low}, {high}")
    return float(trial.suggest_float(name, low, high, log=True))


def suggest_beta(trial: Any, name: str = "beta", low: float = 0.8, high: float = 0.999) -> float:
    """A momentum-like ``beta`` on the ``1 - beta`` scale: ``1 - beta`` is drawn log-uniformly
    from ``[1 - high, 1 - low]`` as the parameter ``one_minus_<name>``, so 0.9, 0.99 and 0.999
    are equally likely decades.

    Args:
      trial: an ``optuna.trial.Trial``.
      name: the hyperparameter (``beta``, ``b1``, ``b2``, ...); the study records
        ``one_minus_<name>``.
      low, high: the range of ``beta``, ``0 < low < high < 1``.

    Returns:
      ``beta = 1 - (1 - beta)``.

    Examples:
      >>> import optuna
      >>> trial = optuna.create_study().ask()
      >>> beta = suggest_beta(trial, "b1", 0.9, 0.999)
      >>> 0.9 <= beta <= 0.999, abs(1 - beta - trial.params["one_minus_b1"]) < 1e-12
      (True, True)
    """
    if not 0 < low < high < 1:
        raise ValueError(f"beta range must satisfy 0 < low < high < 1, got {low}, {high}")
    return 1.0 - float(trial.suggest_float(f"one_minus_{name}", 1.0 - high, 1.0 - low, log=True))


def space_to_suggestions(space: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """A define-by-run ``space_fn`` for :func:`optimize` from a jaxdl search space (a dict of
    :mod:`jaxdl.sweep.distributions`): ``LogUniform`` -> ``suggest_float(log=True)``,
    ``Uniform`` -> ``suggest_float``, ``OneMinusLogUniform`` -> :func:`suggest_beta`,
    ``IntUniform`` -> ``suggest_int``, ``Choice`` -> ``suggest_categorical`` (over the options'
    positions, so lists such as hidden widths work).

    >>> import optuna
    >>> from jaxdl.sweep import LogUniform, OneMinusLogUniform
    >>> space_fn = space_to_suggestions({"learning_rate": LogUniform(1e-3, 1.0),
    ...                                  "beta": OneMinusLogUniform(0.9, 0.999)})
    >>> config = space_fn(optuna.create_study().ask())
    >>> sorted(config), 1e-3 <= config["learning_rate"] <= 1.0
    (['beta', 'learning_rate'], True)
    """
    from jaxdl.sweep.distributions import (
        Choice,
        IntUniform,
        LogUniform,
        OneMinusLogUniform,
        Uniform,
    )

    kinds = (LogUniform, Uniform, OneMinusLogUniform, IntUniform, Choice)
    for name, dist in space.items():
        if not isinstance(dist, kinds):
            raise TypeError(f"space[{name!r}] is {type(dist).__name__}; an Optuna study takes "
                            "LogUniform, Uniform, OneMinusLogUniform, IntUniform or Choice")

    def suggest(trial: Any) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name, dist in space.items():
            if isinstance(dist, LogUniform):
                config[name] = float(trial.suggest_float(name, dist.low, dist.high, log=True))
            elif isinstance(dist, OneMinusLogUniform):
                config[name] = suggest_beta(trial, name, dist.low, dist.high)
            elif isinstance(dist, Uniform):
                config[name] = float(trial.suggest_float(name, dist.low, dist.high))
            elif isinstance(dist, IntUniform):
                config[name] = int(trial.suggest_int(name, dist.low, dist.high))
            else:
                pick = trial.suggest_categorical(name, list(range(len(dist.options))))
                config[name] = dist.options[pick]
        return config

    return suggest
