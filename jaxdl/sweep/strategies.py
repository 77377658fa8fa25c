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

Options a strategy does not read raise ``ValueError``; the rest (``hp``, ``seed``,
``patience``, ``monitor``, ``mesh``, ``checkpoint_dir``, ``resume``, ...) go to the strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxdl.sweep.engine import run_sweep, successive_halving
from jaxdl.sweep.hyperband import hyperband
from jaxdl.sweep.pbt import population_based_training
from jaxdl.sweep.results import SweepResults
from jaxdl.sweep.tpe import tpe_search

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


def search(
    space: Mapping[str, Any],
    data: Any,
    *,
    trainer: Any,
    strategy: str = "random",
    n: int | None = None,
    epochs: int = 10,
    **options: Any,
) -> SweepResults:
    """Run ``strategy`` (one of :data:`STRATEGIES`, see the module docstring) on ``space``.

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
    foreign = sorted(
        k for k in options
        if any(k in own for own in OWN_OPTIONS.values()) and k not in OWN_OPTIONS[strategy]
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
