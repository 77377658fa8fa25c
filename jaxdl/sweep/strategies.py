"""One entry point for every search strategy: ``search(space, data, strategy=...)``.

    random, grid   run_sweep: n configs drawn at random or on a grid, each up to ``epochs``
    halving        successive_halving: n configs, rungs from ``min_epochs`` (default 1) to
                   ``epochs``, keeping 1/eta after each
    hyperband      hyperband: brackets for R = ``epochs`` and ``eta`` (n follows from them)
    pbt            population_based_training: a population of n, exploit/explore every
                   ``interval`` epochs
    tpe            tpe_search: ``rounds`` rounds of n configs, later ones proposed by TPE
    optuna         study_search: an Optuna study (``sampler``, ``pruner``, ``storage``,
                   ``study_name``) runs n trials, ``batch`` per compiled sweep

Every option is an explicit keyword of :func:`search`; options a strategy does not read raise
``ValueError``; the rest (``hp``, ``seed``, ``patience``, ``monitor``, ``mesh``,
``checkpoint_dir``, ``resume``, ...) go to the strategy, which checks them once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jax.sharding import Mesh

from jaxdl.logs import Logger
from jaxdl.sweep.engine import run_sweep, successive_halving
from jaxdl.sweep.hyperband import hyperband
from jaxdl.sweep.options import Prune
from jaxdl.sweep.pbt import population_based_training
from jaxdl.sweep.results import SweepResults
from jaxdl.sweep.tpe import tpe_search
from jaxdl.train import Trainer

STRATEGIES = ("random", "grid", "halving", "hyperband", "pbt", "tpe", "optuna")
OWN_OPTIONS = {  # the options only some strategies read
    "random": (),
    "grid": (),
    "halving": ("min_epochs", "eta"),
    "hyperband": ("eta",),
    "pbt": ("interval", "quantile", "perturb", "resample_prob"),
    "tpe": ("rounds", "gamma", "candidates"),
    "optuna": ("sampler", "pruner", "storage", "study_name", "batch", "heartbeat"),
}
NOT_READ = {  # options of the vmapped sweep that a strategy does not read
    "pbt": ("seeds", "patience", "min_delta", "epochs_per_call", "model_fn", "compact",
            "max_members_per_call", "prune"),
    "optuna": ("seeds", "compact", "prune"),  # the study draws, pads and prunes the trials
}  # fmt: skip


def search(
    space: Mapping[str, Any],
    data: Any,
    *,
    trainer: Trainer,
    strategy: str = "random",
    n: int | None = None,
    epochs: int = 10,
    hp: Mapping[str, Any] | None = None,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    patience: int | None = None,
    monitor: str | None = None,
    mode: str | None = None,
    min_delta: float | None = None,
    mesh: Mesh | None = None,
    epochs_per_call: int | None = None,
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Logger | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    compact: bool | None = None,
    max_members_per_call: int | None = None,
    prune: Prune | None = None,
    min_epochs: int | None = None,
    eta: int | None = None,
    interval: int | None = None,
    quantile: float | None = None,
    perturb: Sequence[float] | None = None,
    resample_prob: float | None = None,
    rounds: int | None = None,
    gamma: float | None = None,
    candidates: int | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    batch: int | None = None,
    heartbeat: int | None = None,
) -> SweepResults:
    """Run ``strategy`` (one of :data:`STRATEGIES`, see the module docstring) on ``space``.

    An option left at ``None`` takes the strategy's default; one the strategy does not read
    raises ``ValueError`` (:data:`OWN_OPTIONS`, :data:`NOT_READ`).

    Args:
      space: the searched hyperparameters.
      data: a Dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the :class:`~jaxdl.train.Trainer` every config starts from.
      strategy: one of :data:`STRATEGIES`.
      n: configs (PBT: the population; hyperband sets it itself), default 16.
      epochs: the most epochs a config trains (hyperband's ``R``).
      hp, seed, seeds, patience, monitor, mode, min_delta, mesh, epochs_per_call, model_fn,
        logger, checkpoint_dir, resume, compact, max_members_per_call, prune: as in
        :func:`~jaxdl.sweep.run_sweep` (PBT reads ``hp``, ``seed``, ``monitor``, ``mode``,
        ``mesh``, ``logger``, ``checkpoint_dir`` and ``resume``).
      min_epochs, eta: halving (``min_epochs`` default 1) and hyperband.
      interval, quantile, perturb, resample_prob: PBT.
      rounds, gamma, candidates: TPE.
      sampler, pruner, storage, study_name, batch, heartbeat: Optuna.

    Returns:
      The strategy's results (:class:`~jaxdl.sweep.SweepResults` or a subclass).

    >>> from jaxdl.sweep.strategies import search
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep import LogUniform
    >>> from jaxdl.train import Trainer
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 64).astype(np.int32)
    >>> x = (rng.normal(size=(64, 2)) + 2 * y[:, None]).astype(np.float32)
    >>> res = search({"learning_rate": LogUniform(1e-3, 0.3)}, (x[:48], y[:48], x[48:], y[48:]),
    ...              trainer=Trainer(MLP((2, 4, 2)), batch_size=16), strategy="halving", n=4,
    ...              epochs=4, eta=2)
    >>> sorted(res.epochs)  # 4 configs for 1 epoch, 2 of them for 2, the best for 4
    [1, 1, 2, 4]
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    values: dict[str, Any] = {
        "hp": hp, "seed": seed, "seeds": seeds, "patience": patience, "monitor": monitor,
        "mode": mode, "min_delta": min_delta, "mesh": mesh, "epochs_per_call": epochs_per_call,
        "model_fn": model_fn, "logger": logger, "checkpoint_dir": checkpoint_dir,
        "resume": resume or None, "compact": compact,
        "max_members_per_call": max_members_per_call, "prune": prune,
        "min_epochs": min_epochs, "eta": eta, "interval": interval, "quantile": quantile,
        "perturb": perturb, "resample_prob": resample_prob, "rounds": rounds, "gamma": gamma,
        "candidates": candidates, "sampler": sampler, "pruner": pruner, "storage": storage,
        "study_name": study_name, "batch": batch, "heartbeat": heartbeat,
    }  # fmt: skip
    options = {k: v for k, v in values.items() if v is not None}
    foreign = sorted(
        k for k in options
        if (any(k in own for own in OWN_OPTIONS.values()) and k not in OWN_OPTIONS[strategy])
        or k in NOT_READ.get(strategy, ())
    )  # fmt: skip
    if foreign:
        raise ValueError(f"strategy {strategy!r} does not read {foreign}; drop them")
    if strategy == "hyperband":
        if n is not None:
            raise ValueError("hyperband sets the number of configs from epochs and eta; drop n")
        return hyperband(space, data, trainer=trainer, max_epochs=epochs, **options)
    n = 16 if n is None else n
    if strategy in ("random", "grid"):
        return run_sweep(space, data, trainer=trainer, n=n, epochs=epochs, method=strategy,
                         **options)  # fmt: skip
    if strategy == "halving":
        options.setdefault("min_epochs", 1)
        return successive_halving(space, data, trainer=trainer, n=n, max_epochs=epochs,
                                  **options)  # fmt: skip
    if strategy == "pbt":
        return population_based_training(space, data, trainer=trainer, population=n,
                                          epochs=epochs, **options)  # fmt: skip
    if strategy == "optuna":
        from jaxdl.sweep.optuna_search import study_search  # imports Optuna only when used

        return study_search(space, data, trainer=trainer, n=n, epochs=epochs, **options)
    return tpe_search(space, data, trainer=trainer, n=n, epochs=epochs, **options)
