"""Hyperparameter search: sample a space, train every config at once, rank the results.

    space = Space(learning_rate=LogUniform(1e-4, 1e-1), b1=OneMinusLogUniform(0.8, 0.99))
    results = run_sweep(space, dataset, trainer=Trainer(MLP((64, 128, 10))), n=32, epochs=20,
                        patience=3)
    results.to_csv("sweep.csv"); plot_sweep(results, "sweep.png")
    finer = zoom(space, results, k=5)          # coarse to fine

Modules: ``distributions`` (``LogUniform``, ``Choice``, ...), ``spaces`` (``Space``, ``sample``,
``grid``, ``zoom``, ``read_space`` for TOML files), ``engine`` (``run_sweep``,
``successive_halving``: vmapped members, shape buckets, per-member early stopping and divergence
isolation), ``buckets`` (``split_config``, ``trainer_for``: configs grouped by structure, each
bucket's state on the devices), ``loop`` (a bucket's epochs as one compiled scan), ``chunking``
(``max_members_per_call``: a bucket too large for memory runs in chunks of its member axis),
``sharding`` (the config axis over a device mesh, across processes too) and ``results`` (the
table, CSV/JSON, ``plot_sweep``, retraining one config). Strategies beyond random and grid
search: ``hyperband`` (brackets of successive halving), ``pbt`` (population-based training under
vmap; ``lineage``: its schedules and their replay), ``tpe`` (batch-sequential tree-structured
Parzen proposals), ``optuna_search`` (an Optuna study's trials, ``batch`` per vmapped sweep,
its pruner asked after every compiled chunk); ``state`` makes every sweep durable
(``checkpoint_dir=``, ``resume=True``), with ``journal`` (the sweep directory) and
``interruption`` (Ctrl-C: stop after a chunk, resume later). ``folds`` ranks a sweep by K-fold
cross-validation (``cross_validate``) and refits the best config on every row
(``fold_results``: its table).
"""

from jaxdl.sweep import (
    buckets,
    chunking,
    distributions,
    engine,
    fold_results,
    folds,
    interruption,
    journal,
    lineage,
    loop,
    merge,
    optuna_search,
    pbt,
    results,
    sharding,
    spaces,
    state,
    strategies,
    tpe,
)
from jaxdl.sweep.buckets import split_config, trainer_for
from jaxdl.sweep.distributions import (
    DISTRIBUTIONS,
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
)
from jaxdl.sweep.engine import run_sweep, successive_halving
from jaxdl.sweep.fold_results import FoldResults
from jaxdl.sweep.folds import cross_validate
from jaxdl.sweep.hyperband import brackets, hyperband
from jaxdl.sweep.merge import GroupedResults
from jaxdl.sweep.optuna_search import OptunaRun, optimize, suggest_beta, suggest_learning_rate
from jaxdl.sweep.pbt import PBTResults, plot_schedules, population_based_training
from jaxdl.sweep.results import SweepResults, plot_sweep
from jaxdl.sweep.sharding import config_mesh
from jaxdl.sweep.spaces import Space, grid, read_space, sample, zoom
from jaxdl.sweep.state import SweepInterrupted
from jaxdl.sweep.strategies import STRATEGIES, search
from jaxdl.sweep.tpe import propose, tpe_search

__all__ = [
    "DISTRIBUTIONS",
    "STRATEGIES",
    "Choice",
    "Distribution",
    "FoldResults",
    "GroupedResults",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "OptunaRun",
    "PBTResults",
    "Space",
    "SweepInterrupted",
    "SweepResults",
    "Uniform",
    "brackets",
    "buckets",
    "chunking",
    "config_mesh",
    "cross_validate",
    "distributions",
    "engine",
    "fold_results",
    "folds",
    "grid",
    "hyperband",
    "interruption",
    "journal",
    "lineage",
    "loop",
    "merge",
    "optimize",
    "optuna_search",
    "pbt",
    "plot_schedules",
    "plot_sweep",
    "population_based_training",
    "propose",
    "read_space",
    "results",
    "run_sweep",
    "sample",
    "search",
    "sharding",
    "spaces",
    "split_config",
    "state",
    "strategies",
    "successive_halving",
    "suggest_beta",
    "suggest_learning_rate",
    "tpe",
    "tpe_search",
    "trainer_for",
    "zoom",
]
