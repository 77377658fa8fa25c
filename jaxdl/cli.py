"""The ``jaxdl`` command: ``train``, ``sweep``, ``gradcheck``, ``demo``, ``predict``, ``evaluate``.

    jaxdl train --dataset moons --hidden 16,16 --optimizer adam --lr 0.01 --epochs 200
    jaxdl sweep --dataset moons --optimizer momentum --lr 1e-4:1 --beta 0.9:0.999 --configs 32
    jaxdl sweep --space space.toml --epochs 30
    jaxdl gradcheck
    jaxdl demo --quick --out jaxdl-out
    jaxdl train --data table.csv --target label --save model
    jaxdl predict --model model --data new.csv --out predictions.csv
    jaxdl evaluate --model model --data test.csv

Layer sizes given with ``--hidden`` are the hidden layers; the input width and the output layer
come from the dataset (one sigmoid unit for two classes, a softmax unit per class otherwise).
Exit status (each failure is reported as one ``jaxdl: error: ...`` line on stderr):

- 0: done
- 1: the run failed (training diverged, every sweep config diverged, a gradient check failed),
  or jaxdl hit a bug (the traceback is printed with a request to report it)
- 2: bad command line or input (including an unusable checkpoint directory)
- 3: a file or directory could not be read or written (the message names the path)
- 130: interrupted by SIGINT or SIGTERM (``train`` first checkpoints the finished epoch and
  says how to resume)
"""

from __future__ import annotations

import argparse
import contextlib
import linecache
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxdl import __version__, cli_data, compile_cache, devices, parallel, plots
from jaxdl.atomic import check_writable, write_json
from jaxdl.data.datasets import DATASETS, Dataset, load
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import MONITORS
from jaxdl.hyperparams import TABLE as HYPERPARAMETERS
from jaxdl.hyperparams import check as check_hyperparameters
from jaxdl.hyperparams import check_readers
from jaxdl.init import INITIALIZERS
from jaxdl.nn import ACTIVATIONS, MLP
from jaxdl.optim import OPTIMIZERS
from jaxdl.sweep.spaces import DISTRIBUTIONS, distribution, read_space
from jaxdl.train import SCHEDULES, Trainer, TrainingDiverged, TrainingInterrupted, fit

PROG = "jaxdl"
EXIT_FAILED, EXIT_USAGE, EXIT_IO, EXIT_INTERRUPTED = 1, 2, 3, 130
# Defaults shared by train and sweep (the same as Trainer's and fit's optimizer).
OPTIMIZER, EPOCHS = "adam", 100


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default: ``(default: X)`` is appended unless the help
    text already names it; flags (off by default) and options without a value are left as
    they are."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None
                or isinstance(default, bool) or default is argparse.SUPPRESS):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".strip()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) and every default in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- value parsers (argparse ``type=``) ---------------------------------------------------------
def _int(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    """``"16,16"`` -> ``(16, 16)``; an empty string means no hidden layer."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 16,16, got {text!r}"
        ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def _value_or_range(text: str) -> float | tuple[float, float]:
    """``"0.01"`` (a fixed value) or ``"LOW:HIGH"`` (a range to search)."""
    if ":" not in text:
        return _float(text)
    low, _, high = text.partition(":")
    return _float(low), _float(high)


# -- shared options -----------------------------------------------------------------------------
def _add_data(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS, help="built-in dataset (default moons)")
    g.add_argument("--data-size", type=_int(1), metavar="N",
                   help="number of samples (generated sets; a random subset of digits); "
                   "default: the dataset's own size")
    g.add_argument("--noise", type=_float,
                   help="noise level of a generated dataset (default: the dataset's own)")
    g.add_argument("--no-normalize", action="store_true",
                   help="keep raw features (default: standardize with training statistics)")
    cli_data.add_file_options(p)


def _add_model(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    sizes = g.add_mutually_exclusive_group()
    sizes.add_argument("--hidden", type=_sizes, default=(16, 16), metavar="H1,H2,...",
                       help="hidden layer sizes, '' for none")
    sizes.add_argument("--sizes", type=_sizes, metavar="NX,H1,...,NOUT",
                       help="all layer sizes, checked against the dataset (instead of --hidden)")
    g.add_argument("--activation", default="relu", choices=tuple(ACTIVATIONS),
                   help="activation of the hidden layers")
    g.add_argument("--init", default="he", choices=INITIALIZERS, help="weight initializer")
    g.add_argument("--init-scale", type=_float, default=0.01, metavar="STD",
                   help="standard deviation of --init random_normal")
    g.add_argument("--batch-norm", action="store_true", help="batch norm in hidden layers")
    g = p.add_argument_group("device")
    g.add_argument("--device", choices=devices.DEVICES,
                   help="train on the CPU or the GPU(s) (default: whatever JAX picks); several "
                   "devices split each mini-batch (train) or the configs (sweep)")
    g.add_argument("--precision", choices=tuple(devices.PRECISIONS),
                   help="bf16: bfloat16 matmuls with float32 accumulation (default: fp32)")


def _add_training(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default=OPTIMIZER, choices=OPTIMIZERS, help="update rule")
    g.add_argument("--schedule", default="constant", choices=SCHEDULES,
                   help="learning-rate decay per --decay-interval epochs")
    g.add_argument("--decay-interval", type=_int(1), default=1, metavar="EPOCHS",
                   help="epochs per step of the --schedule")
    g.add_argument("--batch-size", type=_int(1), default=64, metavar="B",
                   help="mini-batch size")
    g.add_argument("--epochs", type=_int(1), default=EPOCHS, metavar="N",
                   help="passes over the training set")
    g.add_argument("--seed", type=_int(0), default=0,
                   help="seed of the data split, initialization, batches and dropout")
    g.add_argument("--patience", type=_int(1), metavar="EPOCHS",
                   help="early stopping: stop after this many epochs without improvement "
                   "(default: no early stopping)")
    g.add_argument("--monitor", default="val_loss", choices=MONITORS,
                   help="metric watched by early stopping / ranking")
    g.add_argument("--min-delta", type=_float, default=0.0, metavar="DELTA",
                   help="early stopping: the smallest change that counts as improvement")
    g.add_argument("--out", default="jaxdl-out", metavar="DIR", help="output directory")
    g.add_argument("--no-plots", action="store_true", help="write no PNG files")


# hyperparameter flags: (flag, hp name, help, distribution of a LOW:HIGH range)
HP_FLAGS = (
    ("--lr", "learning_rate", "learning rate", "log_uniform"),
    ("--beta", "beta", "momentum / RMSprop beta", "one_minus_log_uniform"),
    ("--b1", "b1", "Adam beta1", "one_minus_log_uniform"),
    ("--b2", "b2", "Adam beta2", "one_minus_log_uniform"),
    ("--eps", "eps", "epsilon of RMSprop / Adam", "log_uniform"),
    ("--weight-decay", "weight_decay", "AdamW decoupled weight decay", "log_uniform"),
    ("--l2", "l2", "L2 lambda in lambda / (2m) sum ||W||^2", "log_uniform"),
    ("--keep-prob", "keep_prob", "dropout keep probability (turns dropout on)", "uniform"),
    ("--decay-rate", "decay_rate", "decay rate of --schedule", "log_uniform"),
)


def _add_hyperparameters(p: argparse.ArgumentParser, ranges: bool) -> None:
    g = p.add_argument_group(
        "hyperparameters" + (" (VALUE for all configs, or LOW:HIGH to search)" if ranges else "")
    )
    for flag, name, text, dist in HP_FLAGS:
        metavar = "VALUE|LOW:HIGH" if ranges else "VALUE"
        scale = {"log_uniform": "a log scale",
                 "one_minus_log_uniform": f"a log scale of 1 - {name}",
                 "uniform": "a linear scale"}[dist]
        g.add_argument(flag, dest=name, metavar=metavar,
                       type=_value_or_range if ranges else _float,
                       help=f"{text}" + (f"; LOW:HIGH is sampled on {scale}" if ranges else "")
                       + f" (default: {_hp_default(name)})")


def _hp_default(name: str) -> str:
    default = HYPERPARAMETERS[name].default
    if default is not None:
        return f"{default:g}"
    return {"l2": "none, no L2 term", "decay_rate": "none"}.get(name, "none")


# -- helpers ------------------------------------------------------------------------------------
def _note(message: str) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


def _load(args: argparse.Namespace) -> Dataset:
    from_file = cli_data.load(args)
    if from_file is not None:
        return from_file
    try:
        return load(args.dataset or "moons", seed=args.seed, n=args.data_size, noise=args.noise,
                    normalize=not args.no_normalize, val_fraction=args.val_fraction,
                    test_fraction=args.test_fraction)
    except ValueError as err:  # name the flags, not the function's arguments
        text = re.sub(r"^n must", "--data-size must", str(err))
        text = re.sub(r"^noise must", "--noise must", text)
        raise ValueError(text.replace("leave noise=None", "leave out --noise")) from err


def _model(args: argparse.Namespace, data: Dataset, dropout: bool) -> MLP:
    """The MLP for ``data``: input width from the features, 1 output unit for 2 classes."""
    n_x = data.x_train.shape[1]
    n_out = 1 if data.num_classes in (0, 2) else data.num_classes  # 0: regression
    if args.sizes is not None:
        sizes = args.sizes
        if len(sizes) < 2 or sizes[0] != n_x or sizes[-1] != n_out:
            raise ValueError(
                f"--sizes {','.join(map(str, sizes))} does not fit dataset {data.name!r}: it has "
                f"{n_x} input features and {data.num_classes} classes, so the sizes must start "
                f"with {n_x} and end with {n_out}"
            )
    else:
        sizes = (n_x, *args.hidden, n_out)
    return MLP(sizes, activation=args.activation, initializer=args.init,
               init_scale=args.init_scale, batch_norm=args.batch_norm, dropout=dropout,
               compute_dtype=devices.compute_dtype(args.precision))


def _trainer(args: argparse.Namespace, model: MLP, hp_names: Any,
             task: str = "classification") -> Trainer:
    """The trainer of the command line (regression trains on the mean squared error), with the
    hyperparameters set (``hp_names``) checked against who reads them (the same rule as ``fit``
    and sweeps), before any data is used."""
    loss = "mean_squared_error" if task == "regression" else None
    trainer = Trainer(model, optimizer=args.optimizer, schedule=args.schedule,
                      batch_size=args.batch_size, decay_interval=args.decay_interval, loss=loss)
    if hp_names is not None:
        check_readers(hp_names, trainer.optimizer, trainer.schedule, trainer.model)
    return trainer


def _plots_wanted(args: argparse.Namespace) -> bool:
    if args.no_plots:
        return False
    if not plots.available():
        _note(f"plots skipped: matplotlib is not installed ({plots.INSTALL_HINT})")
        return False
    return True


def _describe_data(data: Dataset) -> str:
    return (f"{data.name}: {len(data.y_train)} train / {len(data.y_val)} validation / "
            f"{len(data.y_test)} test samples")


def _describe(data: Dataset, model: MLP) -> str:
    sizes = "-".join(map(str, model.sizes))
    return (
        f"{_describe_data(data)}; MLP {sizes} {model.activation} ({model.initializer}"
        f"{', batch norm' if model.batch_norm else ''}{', dropout' if model.dropout else ''})"
    )


# -- train --------------------------------------------------------------------------------------
def _train(args: argparse.Namespace) -> int:
    from jaxdl.scoring import evaluate_splits as evaluate

    if args.resume and not args.checkpoint_dir:
        raise ValueError("--resume needs --checkpoint-dir, the directory to resume from")
    hp = {name: getattr(args, name) for _, name, _, _ in HP_FLAGS
          if getattr(args, name) is not None}
    check_hyperparameters(hp)
    devs = devices.select(args.device)
    data = _load(args)
    cli_data.check_outputs(args)
    model = _model(args, data, dropout="keep_prob" in hp)
    trainer = parallel.data_parallel(_trainer(args, model, hp, data.task), devs)
    stopper = None
    if args.patience is not None:
        stopper = EarlyStopping(args.patience, args.min_delta, args.monitor)
    want_plots = _plots_wanted(args)
    check_writable(args.out)
    if args.checkpoint_dir:
        check_writable(args.checkpoint_dir)
    print(devices.describe(devs, model.compute_dtype))
    print(_describe(data, model))
    start = time.perf_counter()
    logger = cli_data.logger(args)
    with jax.default_device(devs[0]):
        try:
            result = fit(
                trainer, data.x_train, data.y_train, validation=(data.x_val, data.y_val), hp=hp,
                epochs=args.epochs, seed=args.seed, early_stopping=stopper,
                checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                resume=args.resume, overwrite=args.overwrite and not args.resume,
                progress=args.progress, logger=logger,
            )
        finally:
            logger.close()
        seconds = time.perf_counter() - start
        if args.data is not None or args.save:
            splits = cli_data.figures(model, result.params, result.model_state, data)
        else:
            splits = evaluate(model, result.params, result.model_state, {
                "train": (data.x_train, data.y_train),
                "validation": (data.x_val, data.y_val),
                "test": (data.x_test, data.y_test),
            })
    stop = " (stopped early)" if result.stopped_early else ""
    print(f"{args.optimizer}, {result.epochs_run} epochs{stop}, best epoch {result.best_epoch}, "
          f"{seconds:.1f} s")
    print(cli_data.format_figures(splits, data.task))

    written = [os.path.join(args.out, "history.json"), os.path.join(args.out, "metrics.jsonl")]
    write_json(written[0], {
        "command": "train",
        "arguments": {k: v for k, v in vars(args).items() if k != "run"},
        "sizes": list(model.sizes),
        "hyperparameters": hp,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": result.stopped_early,
        "final": splits,
        "seconds": seconds,
    })
    if want_plots:
        written += _train_plots(args.out, model, result, data)
    if args.save:
        training = {**hp, "optimizer": args.optimizer, "schedule": args.schedule,
                    "batch_size": args.batch_size, "epochs": args.epochs,
                    "epochs_run": result.epochs_run, "best_epoch": result.best_epoch}
        written.append(cli_data.save(args, model, result.params, result.model_state, data,
                                     training, splits))
    print("wrote " + ", ".join(written))
    return 0


def _train_plots(out: str, model: MLP, result: Any, data: Dataset) -> list[str]:
    from jaxdl.scoring import boundary

    history = result.history
    metric = "accuracy" if data.task == "classification" else "mse"
    panels = [
        plots.Panel("cost", {"train": history["loss"], "validation": history["val_loss"]},
                    logy=True),
        plots.Panel(metric, {"train": history[metric], "validation": history[f"val_{metric}"]},
                    ylabel=metric),
    ]
    written = [plots.lines(os.path.join(out, "curves.png"), panels)]
    if data.x_train.shape[1] == 2 and model.sizes[-1] == 1 and data.task == "classification":
        panel = boundary("decision boundary (training set)", model, result, data)
        written.append(plots.boundaries(os.path.join(out, "boundary.png"), [panel]))
    return written


# -- sweep --------------------------------------------------------------------------------------
def _sweep(args: argparse.Namespace) -> int:
    from jaxdl.sweep import config_mesh, plot_sweep, sample

    space = read_space(args.space) if args.space else {}
    fixed = {}
    for flag, name, _, kind in HP_FLAGS:
        value = getattr(args, name)
        if isinstance(value, tuple):
            space[name] = distribution(kind, {"low": value[0], "high": value[1]}, flag)
        elif value is not None:
            fixed[name] = value
    if not space:
        raise ValueError(
            "the search space is empty: give a range such as --lr 1e-4:1 or --beta 0.9:0.999, "
            "or --space FILE"
        )
    devs = devices.select(args.device)
    data = _load(args)
    cli_data.check_outputs(args)
    model = _model(args, data, dropout="keep_prob" in space or "keep_prob" in fixed)
    # Structural names in a TOML space change the trainer per config: run_sweep checks those.
    checked = None if set(space) - set(HYPERPARAMETERS) else {*fixed, *space}
    trainer = _trainer(args, model, checked, data.task)
    want_plots = _plots_wanted(args)
    check_writable(args.out)
    if args.checkpoint_dir:
        check_writable(args.checkpoint_dir)
    method = "grid" if (args.strategy or args.method) == "grid" else "random"
    configs = sample(space, args.seed, _header_count(args), method)  # the first ones drawn
    print(devices.describe(devs, model.compute_dtype, split="configs split"))
    print(_describe_data(data))
    print(sweep_header(configs, trainer, fixed))
    start = time.perf_counter()
    logger = cli_data.logger(args)
    try:
        results = _search(args, space, data, trainer, fixed, config_mesh(devs), logger)
    finally:
        logger.close()
    if results is None:
        return 130
    seconds = time.perf_counter() - start
    table = results.table
    print(f"{len(table)} configs x {args.epochs} epochs ({args.strategy or args.method}) in "
          f"{seconds:.1f} s; "
          f"best {min(args.top, len(table))} by {results.monitor}:")
    names = list(space)
    header = f"{'rank':>4} {'config':>6}  " + " ".join(f"{n:>13}" for n in names)
    second = "val_accuracy" if data.task == "classification" else "val_mse"
    label = "val_acc" if data.task == "classification" else "val_mse"
    print(header + f" {'val_loss':>9} {label:>8} {'epoch':>6}  status")
    for rank, row in enumerate(table[: args.top], 1):
        values = " ".join(f"{_fmt(row[n]):>13}" for n in names)
        print(f"{rank:>4} {row['config']:>6}  {values} {row['val_loss']:>9.4f} "
              f"{row[second]:>8.4f} {row['best_epoch']:>6}  {row['status']}")
    written = [os.path.join(args.out, "sweep.csv"), os.path.join(args.out, "sweep.json"),
               os.path.join(args.out, "metrics.jsonl")]
    results.to_csv(written[0])
    results.to_json(written[1])
    if args.save:
        written.append(_save_best(args, results, data))
    if want_plots and any(n in space for n in ("learning_rate", "b1", "b2", "beta")):
        written.append(os.path.join(args.out, "sweep.png"))
        plot_sweep(results, written[-1])
    if want_plots and args.strategy == "pbt":
        from jaxdl.sweep import plot_schedules

        written.append(os.path.join(args.out, "pbt.png"))
        plot_schedules(results, written[-1])
    print("wrote " + ", ".join(written))
    if table and not any(_trained(row, results.monitor) for row in table):
        print(f"{PROG}: error: every one of the {len(table)} configs diverged or ended with a "
              f"non-finite {results.monitor}; lower the learning-rate range (the table is "
              "written)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _trained(row: dict[str, Any], monitor: str) -> bool:
    """A sweep row that neither diverged nor ended with a non-finite monitored value."""
    value = row.get(monitor)
    return row["status"] != "diverged" and isinstance(value, float) and math.isfinite(value)


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def sweep_header(configs: Sequence[dict[str, Any]], trainer: Trainer,
                 fixed: dict[str, Any]) -> str:
    """One line saying what a sweep trains: the optimizer(s) and network widths the configs
    really use (every distinct value, not the first config's), the searched names and the
    fixed ones."""
    from jaxdl.sweep import split_config, trainer_for

    trainers = [trainer_for(trainer, split_config(c)[0]) for c in configs]
    optimizers = _distinct([t.optimizer for t in trainers])
    widths = _distinct(["-".join(map(str, t.model.sizes)) for t in trainers])
    shown = widths if len(widths) <= 4 else [*widths[:3], f"... ({len(widths)} in all)"]
    model = trainer.model
    parts = [
        f"{len(configs)} configs",
        ("optimizers " if len(optimizers) > 1 else "optimizer ") + " | ".join(optimizers),
        f"MLP {' | '.join(shown)} {model.activation} ({model.initializer})",
    ]
    names = _distinct([name for c in configs for name in c])
    others = [n for n in names if n not in ("optimizer", "hidden_units", "num_layers")]
    varied = [n for n in others if len(_distinct([c.get(n) for c in configs])) > 1]
    if varied:
        parts.append("searched: " + ", ".join(varied))
    same = {**{n: configs[0][n] for n in others if n not in varied}, **fixed}
    if same:
        parts.append("fixed: " + ", ".join(f"{k}={_fmt(v)}" for k, v in same.items()))
    return "; ".join(parts)


def _save_best(args: argparse.Namespace, results: Any, data: Dataset) -> str:
    """Save the best config's model at its best epoch, with its figures on every split."""
    i = results.best()["config"]
    model = results.trainers[i].model
    splits = cli_data.figures(model, results.params[i], results.model_state[i], data)
    print(f"best config {i}: test " + ", ".join(
        f"{k} {v:.4f}" for k, v in splits["test"].items() if isinstance(v, float)))
    training = {**results.hp[i], **results.configs[i], "optimizer": results.trainers[i].optimizer,
                "epochs": results.epochs[i], "best_epoch": results.best_epoch[i]}
    return cli_data.save(args, model, results.params[i], results.model_state[i], data, training,
                         splits)


def _header_count(args: argparse.Namespace) -> int:
    """How many configs the strategy draws first (hyperband: all its brackets')."""
    if args.strategy == "hyperband":
        from jaxdl.sweep import brackets

        return sum(b.n for b in brackets(args.epochs, args.eta or 3))
    return args.configs or 32


SEARCH_FLAGS = ("min_epochs", "eta", "interval", "quantile", "rounds")


def _search(args: argparse.Namespace, space, data, trainer, fixed, mesh, logger) -> Any:
    """Run ``--strategy`` (default: ``--method``) with the per-epoch ``logger``; ``None`` after
    Ctrl-C (state saved)."""
    from jaxdl.sweep import SweepInterrupted
    from jaxdl.sweep.strategies import search

    strategy = args.strategy or args.method
    options = {k: getattr(args, k) for k in SEARCH_FLAGS if getattr(args, k) is not None}
    if strategy != "pbt":
        options.update(patience=args.patience, min_delta=args.min_delta)
    elif args.patience is not None:
        raise ValueError("--strategy pbt trains every member to the end; drop --patience")
    if args.checkpoint_dir is not None:
        options.update(checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    elif args.resume:
        raise ValueError("--resume needs --checkpoint-dir, the sweep directory to resume")
    if strategy != "hyperband":
        options["n"] = args.configs or 32
    elif args.configs is not None:
        raise ValueError("--strategy hyperband sets the number of configs; drop --configs")
    options["logger"] = logger
    try:
        return search(space, data, trainer=trainer, strategy=strategy, epochs=args.epochs,
                      seed=args.seed, hp=fixed, monitor=args.monitor, mesh=mesh, **options)
    except SweepInterrupted as stop:
        print(str(stop), file=sys.stderr)
        return None


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- gradcheck ----------------------------------------------------------------------------------
def _gradcheck(args: argparse.Namespace) -> int:
    from jaxdl.gradcheck import check_mlp

    result = check_mlp(args.seed, sizes=args.sizes, batch=args.batch, lambd=args.lambd,
                       epsilon=args.epsilon, threshold=args.threshold)
    print(result)
    return 0 if result.passed else 1


# -- demo ---------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace) -> int:
    from jaxdl import demo

    want_plots = _plots_wanted(args)
    results = demo.run(
        args.out, quick=args.quick, seed=args.seed, only=args.only, plots=want_plots,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(demo.format_table(results))
    pngs = sum(len([p for p in e["plots"] if p.endswith(".png")]) for e in results["experiments"])
    print(f"wrote {os.path.join(args.out, 'results.json')}"
          + (f" and {pngs} plots" if want_plots else ""))
    return 0


# -- the parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``jaxdl`` argument parser with its subcommands."""
    parser = _Parser(prog=PROG, description="Improving deep neural networks, in JAX.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--no-compile-cache", action="store_true", help="do not keep compiled "
                        f"programs in {compile_cache.default_directory()} for the next run (also: "
                        f"{compile_cache.ENV_DISABLE}=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train one model and write its history and plots",
        description="Train an MLP on a built-in dataset; print a progress bar and the final "
        "loss/accuracy per split; write history.json and plots into --out.")
    _add_data(train)
    _add_model(train)
    _add_training(train)
    _add_hyperparameters(train, ranges=False)
    g = train.add_argument_group("checkpoints and progress")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="write atomic checkpoints here (default: none)")
    g.add_argument("--checkpoint-every", type=_int(1), default=1, metavar="EPOCHS",
                   help="epochs between checkpoints")
    g.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show progress: a bar on a terminal or in a notebook, a line every "
                   "few epochs in a log (default: when stderr is a terminal)")
    cli_data.add_save_option(train, "--save", "save the trained model in this directory")
    train.set_defaults(run=_train)

    sweep = commands.add_parser(
        "sweep", help="train many configs at once (vmapped) and rank them",
        description="Sample a search space (ranges from flags and/or a TOML file), train every "
        "config in one vmapped program, print the best and write the table and a plot.")
    _add_data(sweep)
    _add_model(sweep)
    _add_training(sweep)
    _add_hyperparameters(sweep, ranges=True)
    g = sweep.add_argument_group("search")
    g.add_argument("--space", metavar="FILE",
                   help="TOML file, one line per name, e.g. 'learning_rate = {distribution = "
                   "\"log_uniform\", low = 1e-4, high = 1.0}'; distributions: "
                   f"{', '.join(DISTRIBUTIONS)} (low, high) and choice (options)")
    g.add_argument("--configs", type=_int(1), metavar="N",
                   help="number of configs to sample (default 32; pbt: the population, tpe: "
                   "per round)")
    g.add_argument("--method", default="random", choices=("random", "grid"),
                   help="random samples or a grid over the ranges")
    g.add_argument("--strategy", choices=("random", "grid", "halving", "hyperband", "pbt", "tpe"),
                   help="search strategy (default: --method); --epochs is the most per config")
    g.add_argument("--min-epochs", type=_int(1), metavar="EPOCHS",
                   help="halving: epochs of the first rung (default 1)")
    g.add_argument("--eta", type=_int(2), metavar="ETA",
                   help="halving, hyperband: keep 1/ETA after each rung (default 3)")
    g.add_argument("--interval", type=_int(1), metavar="EPOCHS",
                   help="pbt: epochs between exploit/explore steps (default 2)")
    g.add_argument("--quantile", type=_float, metavar="Q",
                   help="pbt: the bottom Q copy the top Q (default 0.25)")
    g.add_argument("--rounds", type=_int(1), metavar="R", help="tpe: rounds (default 3)")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help="save the whole sweep here after every chunk (and metrics.jsonl)")
    g.add_argument("--resume", action="store_true", help="continue the sweep in --checkpoint-dir")
    g.add_argument("--top", type=_int(1), default=5, metavar="K", help="configs to print")
    cli_data.add_save_option(sweep, "--save-best",
                             "save the best config's model (its best epoch) in this directory")
    sweep.set_defaults(run=_sweep)

    gradcheck = commands.add_parser(
        "gradcheck", help="gradient-check the built-in model",
        description="Compare backprop with two-sided finite differences (float64) on an MLP "
        "with batch norm and L2; exit status 1 when the check fails.")
    gradcheck.add_argument("--seed", type=_int(0), default=0, help="seed of params and data")
    gradcheck.add_argument("--sizes", type=_sizes, default=(5, 8, 6, 3),
                           metavar="NX,H1,...,NOUT", help="layer sizes")
    gradcheck.add_argument("--batch", type=_int(1), default=16, metavar="N", help="samples")
    gradcheck.add_argument("--lambd", type=_float, default=0.7, metavar="LAMBDA",
                           help="L2 lambda")
    gradcheck.add_argument("--epsilon", type=_float, default=1e-7,
                           help="step of the two-sided difference")
    gradcheck.add_argument("--threshold", type=_float, default=1e-7,
                           help="largest relative difference that passes")
    gradcheck.set_defaults(run=_gradcheck)

    demo = commands.add_parser(
        "demo", help="reproduce the course's experiments",
        description="Run the experiments (initialization, regularization, optimizers, batch "
        "norm, sweep, vanishing/exploding gradients, input normalization, batch size); print a "
        "summary table; write results.json and PNG plots into --out.")
    demo.add_argument("--quick", action="store_true",
                      help="fewer epochs, compiled for a fast start (same experiments)")
    demo.add_argument("--out", default="jaxdl-out", metavar="DIR", help="output directory")
    demo.add_argument("--seed", type=_int(0), default=0, help="seed of every experiment")
    demo.add_argument("--only", type=lambda s: [p for p in s.split(",") if p], metavar="LIST",
                      help="experiments to run, by number or name, e.g. 1,3 or sweep "
                      "(default: all)")
    demo.add_argument("--no-plots", action="store_true", help="write no PNG files")
    demo.set_defaults(run=_demo)
    cli_data.add_commands(commands)
    for sub in commands.choices.values():  # also accepted after the command
        sub.add_argument("--no-compile-cache", action="store_true", default=argparse.SUPPRESS,
                         help="see 'jaxdl --help'")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jaxdl`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    compile_cache.enable_for_command(turned_off=args.no_compile_cache)
    with _terminate_as_interrupt(), warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except TrainingDiverged as err:
            return _error(f"training diverged: the cost became NaN/inf at epoch {err.epoch} "
                          f"(global step {err.step}); lower --lr or check the scale of the data",
                          EXIT_FAILED)
        except TrainingInterrupted as err:
            hint = (f"checkpoint {err.checkpoint} written; rerun the same command with --resume "
                    "to continue" if err.checkpoint else "nothing saved (no --checkpoint-dir)")
            return _error(f"interrupted by {err.signal} after epoch {err.epoch}; {hint}",
                          EXIT_INTERRUPTED, "")
        except KeyboardInterrupt:
            return _error("interrupted; nothing saved", EXIT_INTERRUPTED, "")
        except OSError as err:
            text = err.strerror or str(err)
            if err.filename and str(err.filename) not in text:
                text += f": {err.filename}"
            return _error(text, EXIT_IO)
        except (ValueError, TypeError) as err:
            if not _input_error(err):
                return _report_bug(err)
            return _error(str(err), EXIT_USAGE)
        except Exception as err:  # noqa: BLE001 - a bug: show it, never hide it as bad input
            return _report_bug(err)


def _error(message: str, code: int, kind: str = "error: ") -> int:
    print(f"{PROG}: {kind}{message}", file=sys.stderr)
    return code


def _show_warning(message: Any, category: Any, *rest: Any, **kwargs: Any) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM acts like Ctrl-C for the whole command (``fit`` defers both to an epoch end)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _input_error(err: BaseException) -> bool:
    """True for a bad-input error: a ``raise`` statement of jaxdl's own checks raised it.
    An exception raised inside JAX, NumPy or Python itself (a wrong call, a bad index) is a
    bug, even when it is a ``ValueError`` or ``TypeError``."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    package = os.path.dirname(os.path.abspath(__file__))
    inside = os.path.abspath(filename).startswith(package + os.sep)
    return inside and linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise")


def _report_bug(err: BaseException) -> int:
    """Print the traceback and a request to report it; exit status 1."""
    traceback.print_exception(err, file=sys.stderr)
    print(f"{PROG}: internal error ({type(err).__name__}): this is a bug in jaxdl, not in your "
          f"input; please report it (an issue in the jaxdl repository) with the command line, "
          f"`jaxdl --version` and the traceback above",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
