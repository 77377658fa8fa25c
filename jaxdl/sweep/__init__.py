"""Hyperparameter search: sample a space, train every config at once, rank the results.

    space = Space(learning_rate=LogUniform(1e-4, 1e-1), b1=OneMinusLogUniform(0.8, 0.99))
    results = run_sweep(space, dataset, trainer=Trainer(MLP((64, 128, 10))), n=32, epochs=20,
                        patience=3)
    results.to_csv("sweep.csv"); plot_sweep(results, "sweep.png")
    finer = zoom(space, results, k=5)          # coarse to fine

Modules: ``spaces`` (distributions, ``sample``, ``grid``, ``zoom``), ``engine`` (``run_sweep``,
``successive_halving``: vmapped members, shape buckets, per-member early stopping and divergence
isolation), ``sharding`` (the config axis over a device mesh, across processes too) and
``results`` (the table, CSV/JSON, ``plot_sweep``, retraining one config).
"""

from jaxdl.sweep import engine, results, sharding, spaces
from jaxdl.sweep.engine import run_sweep, split_config, successive_halving, trainer_for
from jaxdl.sweep.results import SweepResults, plot_sweep
from jaxdl.sweep.sharding import config_mesh
from jaxdl.sweep.spaces import (
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
    grid,
    sample,
    zoom,
)

__all__ = [
    "Choice",
    "Distribution",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "Space",
    "SweepResults",
    "Uniform",
    "config_mesh",
    "engine",
    "grid",
    "plot_sweep",
    "results",
    "run_sweep",
    "sample",
    "sharding",
    "spaces",
    "split_config",
    "successive_halving",
    "trainer_for",
    "zoom",
]
