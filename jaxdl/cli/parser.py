"""The ``jaxdl`` argument parser: the subcommands with their options and the function each
runs (the shared groups of options are in :mod:`jaxdl.cli.options`)."""

from __future__ import annotations

import argparse
from typing import Any

from jaxdl import __version__
from jaxdl.cli.data import evaluate_command, predict_command
from jaxdl.cli.errors import PROG
from jaxdl.cli.options import (
    Parser,
    add_data,
    add_hyperparameters,
    add_model,
    add_out,
    add_save_option,
    add_training,
    integer,
    layer_sizes,
    number,
)
from jaxdl.cli.sweep import sweep_command
from jaxdl.cli.tools import demo_command, gradcheck_command
from jaxdl.cli.train import train_command
from jaxdl.infra import compile_cache, parallel
from jaxdl.outputs import DEFAULT_OUT
from jaxdl.sweep.fold_results import SELECT_RULES
from jaxdl.sweep.optuna_search import PRUNERS, SAMPLERS
from jaxdl.sweep.spaces import DISTRIBUTIONS
from jaxdl.sweep.strategies import STRATEGIES


def build_parser() -> argparse.ArgumentParser:
    """The ``jaxdl`` argument parser with its subcommands; each sets ``run``, the function
    :func:`jaxdl.cli.main` calls with the parsed arguments.

    >>> args = build_parser().parse_args(["train", "--lr", "0.1", "--hidden", "8,8"])
    >>> args.command, args.learning_rate, args.hidden, args.run.__name__
    ('train', 0.1, (8, 8), 'train_command')
    """
    parser = Parser(prog=PROG, description="Improving deep neural networks, in JAX.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--no-compile-cache", action="store_true", help="do not keep compiled "
                        f"programs in {compile_cache.default_directory()} for the next run (also: "
                        f"{compile_cache.ENV_DISABLE}=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train one model and write its history and plots",
        description="Train a model (an MLP from --hidden, or a CNN or any layers model from "
        "--model) on a built-in data set or your own --data (a table, arrays or images); print a "
        "progress bar and the final loss and metrics per split; write history.json and plots "
        "into --out and, with --save, the model. On CPU a convolutional network whose "
        f"mini-batch gives each core at least {parallel.CPU_SPLIT_MIN_FLOPS / 1e6:.0f} MFLOP of "
        "forward pass is split over one CPU "
        "device per core (the start-of-run line says so); MLPs and smaller CNNs train on one "
        "device.")
    add_data(train)
    add_model(train)
    add_training(train, out=DEFAULT_OUT["train"])
    add_hyperparameters(train, ranges=False)
    g = train.add_argument_group("checkpoints and progress")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="write atomic checkpoints here (default: none)")
    g.add_argument("--checkpoint-every", type=integer(1), default=1, metavar="EPOCHS",
                   help="epochs between checkpoints")
    g.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress: a bar on a terminal or in a notebook, a line every "
                   "few epochs in a log (default: when stderr is a terminal)")
    add_save_option(train, "--save", "save the trained model in this directory")
    train.set_defaults(run=train_command)

    sweep = commands.add_parser(
        "sweep", help="train many configs at once (vmapped) and rank them",
        description="Sample a search space (ranges from flags and/or a TOML file), train every "
        "config in one vmapped program, print the best and write the table and a plot. On CPU "
        "every core is a device that trains its own share of the configs (unless "
        "JAX_NUM_CPU_DEVICES or XLA_FLAGS sets the device count). Without a range or "
        "--space it searches the default space, in the course's order of importance: "
        "learning_rate log-uniform (1e-4..1e-1 for RMSprop and the Adam family, 1e-3..1 for "
        "SGD, momentum and Nesterov); the optimizer's betas on the 1 - beta scale (beta "
        "0.8..0.999, b1 0.8..0.99, b2 0.99..0.9999), hidden_units (16 to 256, at most half the "
        "training rows) and batch_size (16 to 512, at most the training rows); then "
        "num_layers (0 to 3; 0 is a linear model) and, with a decaying --schedule, decay_rate "
        "(1e-3..1); pbt: the continuous names only. A name you set by its flag (--hidden, "
        "--batch-size, --b1 0.9, ...) is fixed instead.")
    add_data(sweep)
    add_model(sweep, searched=True)
    add_training(sweep, out=DEFAULT_OUT["sweep"], searched=True)
    add_hyperparameters(sweep, ranges=True)
    g = sweep.add_argument_group("search")
    g.add_argument("--space", metavar="FILE",
                   help="TOML file, one line per name, e.g. 'learning_rate = {distribution = "
                   "\"log_uniform\", low = 1e-4, high = 1.0}'; distributions: "
                   f"{', '.join(DISTRIBUTIONS)} (low, high) and choice (options)")
    g.add_argument("--configs", type=integer(1), metavar="N",
                   help="number of configs to sample (default 32; pbt: the population, tpe: "
                   "per round)")
    g.add_argument("--method", default="random", choices=("random", "grid"),
                   help="random samples or a grid over the ranges")
    g.add_argument("--strategy", choices=STRATEGIES,
                   help="search strategy (default: --method); --epochs is the most per config")
    g.add_argument("--min-epochs", type=integer(1), metavar="EPOCHS",
                   help="halving: epochs of the first rung (default 1)")
    g.add_argument("--eta", type=integer(2), metavar="ETA",
                   help="halving, hyperband: keep 1/ETA after each rung (default 3)")
    g.add_argument("--interval", type=integer(1), metavar="EPOCHS",
                   help="pbt: epochs between exploit/explore steps (default 2)")
    g.add_argument("--quantile", type=number, metavar="Q",
                   help="pbt: the bottom Q copy the top Q (default 0.25)")
    g.add_argument("--rounds", type=integer(1), metavar="R", help="tpe: rounds (default 3)")
    g.add_argument("--sampler", choices=SAMPLERS,
                   help="optuna: the study's sampler, seeded with --seed (default tpe)")
    g.add_argument("--pruner", choices=PRUNERS, help="optuna: the study's pruner (default median)")
    g.add_argument("--storage", metavar="STORAGE",
                   help="optuna: a journal file (e.g. study.log: resumable, shared by workers on "
                   "one machine) or an RDB URL (postgresql://...); default in memory")
    g.add_argument("--study-name", metavar="NAME",
                   help="optuna: the study in --storage, created if missing, joined if it exists")
    g.add_argument("--trials-per-batch", type=integer(1), metavar="N", dest="batch",
                   help="optuna: trials trained as one compiled sweep (default 8); --configs "
                   "is the number of trials")
    g.add_argument("--heartbeat", type=integer(1), metavar="SECONDS",
                   help="optuna: seconds between a worker's heartbeats in --storage; a trial "
                   "without one for twice as long is failed and retried once (default 30)")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="save the whole sweep here after every chunk (and metrics.jsonl)")
    g.add_argument("--resume", action="store_true", help="continue the sweep in --checkpoint-dir")
    g.add_argument("--top", type=integer(1), default=5, metavar="K", help="configs to print")
    g.add_argument("--folds", type=int, metavar="K",
                   help="rank by K-fold cross-validation: the training and validation rows "
                   "pooled and split into K folds (stratified by class, drawn from --seed), "
                   "every config trained once per fold, scored by the mean over the folds of "
                   "--monitor at the best epoch of that mean curve; the config --select picks is "
                   "then refitted on all the pooled rows for that many epochs, and that model "
                   "is --save-best's (random and grid only). Default: 5 for a --data table of at "
                   "most 400 training and validation rows (each class with 5 or more) searched "
                   "by --strategy random or grid without --checkpoint-dir or --tensorboard; "
                   "otherwise none, ranked on the validation split")
    g.add_argument("--no-folds", action="store_true",
                   help="rank on the validation split even for a small table (no --folds)")
    g.add_argument("--select", choices=tuple(SELECT_RULES), metavar="|".join(SELECT_RULES),
                   help="with folds, the config refitted: one-se, the fewest parameters among "
                   "the configs whose mean is within one standard error of the best mean (the "
                   "one-standard-error rule; the default), or best, the best mean")
    add_save_option(sweep, "--save-best",
                             "save the best config's model (its best epoch; with folds: refitted "
                             "on every training and validation row) in this directory")
    sweep.set_defaults(run=sweep_command)

    gradcheck = commands.add_parser(
        "gradcheck", help="gradient-check the built-in model",
        description="Compare backprop with two-sided finite differences (float64) on an MLP "
        "with batch norm and L2; exit status 1 when the check fails.")
    gradcheck.add_argument("--seed", type=integer(0), default=0, help="seed of params and data")
    gradcheck.add_argument("--sizes", type=layer_sizes, default=(5, 8, 6, 3),
                           metavar="NX,H1,...,NOUT", help="layer sizes")
    gradcheck.add_argument("--batch", type=integer(1), default=16, metavar="N", help="samples")
    gradcheck.add_argument("--lambd", type=number, default=0.7, metavar="LAMBDA",
                           help="L2 lambda")
    gradcheck.add_argument("--epsilon", type=number, default=1e-7,
                           help="step of the two-sided difference")
    gradcheck.add_argument("--threshold", type=number, default=1e-7,
                           help="largest relative difference that passes")
    gradcheck.set_defaults(run=gradcheck_command)

    demo = commands.add_parser(
        "demo", help="reproduce the course's experiments",
        description="Run the experiments (initialization, regularization, optimizers, batch "
        "norm, sweep, vanishing/exploding gradients, input normalization, batch size); print a "
        "summary table; write results.json and PNG plots into --out.")
    demo.add_argument("--quick", action="store_true",
                      help="fewer epochs, compiled for a fast start (same experiments)")
    add_out(demo, DEFAULT_OUT["demo"], resume=False)
    demo.add_argument("--overwrite", action="store_true",
                      help="replace jaxdl's own files of an earlier run in --out")
    demo.add_argument("--seed", type=integer(0), default=0, help="seed of every experiment")
    demo.add_argument("--only", type=lambda s: [p for p in s.split(",") if p], metavar="LIST",
                      help="experiments to run, by number or name, e.g. 1,3 or sweep "
                      "(default: all)")
    demo.add_argument("--no-plots", action="store_true", help="write no PNG files")
    demo.set_defaults(run=demo_command)
    _add_predict_and_evaluate(commands)
    for sub in commands.choices.values():  # also accepted after the command
        sub.add_argument("--no-compile-cache", action="store_true", default=argparse.SUPPRESS,
                         help="see 'jaxdl --help'")
    return parser


def _add_predict_and_evaluate(commands: Any) -> None:
    """The ``predict`` and ``evaluate`` subcommands."""
    predict = commands.add_parser(
        "predict", help="predict new rows with a saved model",
        description="Standardize the features of --data with the saved statistics and write "
        "one row per sample: the predicted class and each class's probability, or the value.")
    _model_and_data(predict)
    predict.add_argument("--out", default="predictions.csv", metavar="FILE",
                         help="CSV file to write (default predictions.csv)")
    predict.set_defaults(run=predict_command)
    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on labelled data",
        description="Loss and accuracy with the confusion matrix (classification) or loss = "
        "MSE, MAE and R^2 (regression) of a saved model on --data; printed and written as JSON.")
    _model_and_data(evaluate)
    evaluate.add_argument("--out", default="evaluation.json", metavar="FILE",
                          help="JSON file to write (default evaluation.json)")
    evaluate.set_defaults(run=evaluate_command)


def _model_and_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="DIR", help="a saved model directory")
    p.add_argument("--id-column", metavar="NAME",
                   help="a row-id column of a --data CSV: not a feature; predict writes it "
                   "first, as it is, so the predictions join back to their rows")
    p.add_argument("--data", required=True, metavar="PATH",
                   help=".csv with the model's feature columns (evaluate: and its target "
                   "column), .npz with x (and y), .npy features, a folder of images (one "
                   "subfolder per class) or an .h5 file of images")
    p.add_argument("--labels", metavar="PATH", help="labels of .npy features (evaluate)")
