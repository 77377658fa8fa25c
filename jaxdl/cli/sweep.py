"""``jaxdl sweep``: sample a search space, train every config (vmapped), print the best and
write the table, the plots and (with ``--save-best``) the best model."""

from __future__ import annotations

import argparse
import dataclasses
import glob
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from jaxdl.cli import data as user_data
from jaxdl.cli.build import build_model, build_trainer, load_data, plots_wanted
from jaxdl.cli.describe import describe_data, describe_model
from jaxdl.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, PROG
from jaxdl.cli.options import BATCH_SIZE, HIDDEN, HP_FLAGS
from jaxdl.cli.sweep_folds import (
    check_fold_args,
    default_folds,
    fold_table,
    run_folds,
    save_refit,
)
from jaxdl.cli.tables import render, wrote_line
from jaxdl.data.datasets import Dataset
from jaxdl.hyperparams import TABLE as HYPERPARAMETERS
from jaxdl.infra import devices
from jaxdl.infra.atomic import check_writable
from jaxdl.layers.standardize import unwrap
from jaxdl.nn import MLP
from jaxdl.optim import switch
from jaxdl.optim.registry import HYPERPARAMETERS as OPTIMIZER_HYPERPARAMETERS
from jaxdl.optim.registry import OPTIMIZERS, reads
from jaxdl.sweep.distributions import Choice
from jaxdl.sweep.spaces import distribution, read_space
from jaxdl.train import Trainer


def sweep_command(args: argparse.Namespace) -> int:
    """``jaxdl sweep``: build the space from the range flags and ``--space``, run the search
    strategy, print the best configs and write ``sweep.csv``, ``sweep.json``, the plots and the
    best model.

    Returns:
      The exit status: 0, 1 when every config diverged, 130 when interrupted (state saved).

    Without a range or ``--space`` the space is
    :func:`jaxdl.sweep.default_space.default_space` (printed), less the names set by a flag.

    >>> from jaxdl.cli import build_parser
    >>> sweep_command(build_parser().parse_args(["sweep", "--lr", "0.01", "--resume"]))
    Traceback (most recent call last):
    ...
    ValueError: --resume needs --checkpoint-dir, the sweep directory to resume
    """
    from jaxdl.sweep import config_mesh, plot_sweep, sample

    if args.resume and not args.checkpoint_dir:
        raise ValueError("--resume needs --checkpoint-dir, the sweep directory to resume")
    space = read_space(args.space) if args.space else {}
    fixed = {}
    for flag, name, _, kind in HP_FLAGS:
        value = getattr(args, name)
        if value is not None and name in space:
            raise ValueError(f"{name} is given both in --space {args.space} and by {flag}; "
                             "keep one of them")
        if isinstance(value, tuple):
            space[name] = distribution(kind, {"low": value[0], "high": value[1]}, flag)
        elif value is not None:
            fixed[name] = value
    searched = not space
    devs = devices.select(args.device)
    data = load_data(args)
    user_data.check_outputs(args)
    folds = default_folds(args, data)  # --folds, or 5 for a small table (sweep_folds)
    if folds is not None and args.folds is None:
        args.folds = folds
        print(f"a small table ({len(data.y_train) + len(data.y_val)} training and validation "
              f"rows): ranking by {folds}-fold cross-validation (--no-folds: on the validation "
              "split)")
    if folds is not None:
        check_fold_args(args, data)  # before anything compiles
    elif args.select is not None:
        raise ValueError("--select chooses among cross-validated configs and this sweep has no "
                         "folds; give --folds K or drop --select")
    elif not len(data.y_val):
        raise ValueError("a sweep ranks its configs on the validation split, and there is none: "
                         "give --val-data FILE or a --val-fraction above 0")
    if searched:
        space = _default_space(args, data, fixed)
    args.hidden = HIDDEN if args.hidden is None else args.hidden
    args.batch_size = BATCH_SIZE if args.batch_size is None else args.batch_size
    model = build_model(args, data, dropout="keep_prob" in space or "keep_prob" in fixed)
    # Structural names in a TOML space change the trainer per config: run_sweep checks those.
    checked = None if set(space) - set(HYPERPARAMETERS) else {*fixed, *space}
    plain = build_trainer(args, model, checked, data.task)
    trainer = one_program(plain, space, fixed)  # optimizer kinds in one program
    want_plots = plots_wanted(args)
    check_writable(args.out)
    if args.checkpoint_dir:
        check_writable(args.checkpoint_dir)
    method = "grid" if (args.strategy or args.method) == "grid" else "random"
    configs = sample(space, args.seed, _header_count(args), method)  # the first ones drawn
    print(devices.describe(devs, getattr(model, "compute_dtype", "float32"),
                           split="configs split"))
    print(describe_data(data, args.val_data, args.test_data))
    print(sweep_header(configs, trainer, fixed))
    start = time.perf_counter()
    logger = user_data.logger(args)
    try:
        if folds is not None:
            results = run_folds(args, space, data, trainer, fixed, config_mesh(devs), logger)
        else:
            results = _search(args, space, data, trainer, fixed, config_mesh(devs), logger,
                              plain)
    finally:
        logger.close()
    if results is None:
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - start
    table = results.table
    names = list(space)
    if folds is not None:
        print(f"{len(table)} configs x {folds} folds x {args.epochs} epochs "
              f"({args.strategy or args.method}) in {seconds:.1f} s; best "
              f"{min(args.top, len(table))} by {results.label} (each at the best epoch of its "
              "mean fold curve):")
        print(fold_table(table[: args.top], names, data.task, results.metric))
        print("chosen: " + results.choice())
    else:
        print(f"{len(table)} configs x {args.epochs} epochs ({args.strategy or args.method}) "
              f"in {seconds:.1f} s; best {min(args.top, len(table))} by {results.monitor}:")
        print(ranking_table(table[: args.top], names, data.task))
    if hasattr(results, "importances"):  # an Optuna study: its fANOVA importances
        print(results.summary())
    pbt = "since_epoch" in (table[0] if table else {})
    if pbt:
        print("each row: its best epoch since it last copied a member (epoch 'since', from "
              "member 'from'; '-': never), trained with the values shown; sweep.json holds each "
              "schedule")
    written = [os.path.join(args.out, "sweep.csv"), os.path.join(args.out, "sweep.json"),
               os.path.join(args.out, "metrics.jsonl")]
    results.to_csv(written[0])
    results.to_json(written[1])
    if args.save and folds is not None and results.refit is not None:
        written.append(save_refit(args, results, data))
    elif args.save and folds is None:
        written.append(_save_best(args, results, data))
    if want_plots and any(n in space for n in ("learning_rate", "b1", "b2", "beta")):
        written.append(os.path.join(args.out, "sweep.png"))
        plot_sweep(results, written[-1])
    if want_plots and hasattr(results, "importances"):
        written += results.plot(args.out)  # the study's parallel coordinates and slice plot
    if want_plots and args.strategy == "pbt":
        from jaxdl.sweep import plot_schedules

        written.append(os.path.join(args.out, "pbt.png"))
        plot_schedules(results, written[-1])
    print(wrote_line(written, args.tensorboard, args.checkpoint_dir))
    if table and not any(_trained(row, results.monitor) for row in table):
        print(f"{PROG}: error: every one of the {len(table)} configs diverged or ended with a "
              f"non-finite {results.monitor}; lower the learning-rate range (the table is "
              "written)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def ranking_table(rows: Sequence[dict[str, Any]], names: Sequence[str], task: str) -> str:
    """The ranked sweep rows as a table aligned for any magnitude (:mod:`jaxdl.cli.tables`):
    rank, config, the searched values, ``val_loss``, ``val_acc`` (or ``val_mse``), the best
    epoch, the PBT lineage when there is one, and the status.

    >>> rows = [{"config": 3, "learning_rate": 0.01, "val_loss": 4.2e9, "val_mse": 4.2e9,
    ...          "best_epoch": 7, "status": "ok"}]
    >>> print(ranking_table(rows, ["learning_rate"], "regression"))
    rank  config  learning_rate    val_loss     val_mse  epoch  status
       1       3           0.01  4.2000e+09  4.2000e+09      7      ok
    """
    second = "val_accuracy" if task == "classification" else "val_mse"
    label = "val_acc" if task == "classification" else "val_mse"
    pbt = "since_epoch" in (rows[0] if rows else {})
    header = ["rank", "config", *names, "val_loss", label, "epoch",
              *(["since", "from"] if pbt else []), "status"]
    lines = []
    for rank, row in enumerate(rows, 1):
        lineage = []
        if pbt:
            copied = "-" if row["copied_from"] == row["config"] else row.get("copied_from")
            lineage = [row["since_epoch"], copied]
        lines.append([rank, row["config"], *(_fmt(row[n]) for n in names), row["val_loss"],
                      row[second], row["best_epoch"], *lineage, row["status"]])
    return render(header, lines, left=0)


def _default_space(args: argparse.Namespace, data: Dataset, fixed: dict[str, Any]
                   ) -> dict[str, Any]:
    """The default space for this command line and data (printed), less the names a flag
    fixes."""
    from jaxdl.sweep.default_space import default_space, describe

    given = set(fixed)
    if args.hidden is not None:
        given |= {"hidden_units", "num_layers"}
    if args.batch_size is not None:
        given.add("batch_size")
    if (args.strategy or args.method) == "pbt":  # it explores continuous names only
        given |= {"hidden_units", "num_layers", "batch_size"}
    mlp = args.model is None and args.sizes is None and not args.augment
    space = default_space(args.optimizer, len(data.y_train), mlp=mlp, schedule=args.schedule,
                          fixed=given)
    if not space:
        raise ValueError("nothing to search: every name of the default space is set by a flag; "
                         "give a range such as --lr 1e-4:1e-1, or --space FILE")
    print("no ranges given: searching the default space (see jaxdl sweep --help)\n  "
          + describe(space).replace("\n", "\n  "))
    return space


def one_program(trainer: Trainer, space: Any, fixed: Any) -> Trainer:
    """``trainer`` with ``optim.switch(*names)`` as its optimizer when ``space`` chooses among
    two or more registry optimizers ``names`` (``optimizer = {distribution = "choice",
    options = ["momentum", "adam"]}``), so configs that differ only in optimizer kind train in
    one compiled program (each member with its own optimizer, to float32 round-off; its results,
    table row and saved model name that optimizer). ``trainer`` itself otherwise, and also when
    an optimizer hyperparameter of the space or the flags is read by some of the names only
    (``beta`` with momentum and Adam): such a config is refused as before, naming the fix.

    >>> space = {"optimizer": Choice(["momentum", "adam"])}
    >>> one_program(Trainer(MLP((2, 1))), space, {"learning_rate": 0.1}).optimizer.names
    ('momentum', 'adam')
    >>> one_program(Trainer(MLP((2, 1))), space, {"beta": 0.9}).optimizer
    'adam'
    """
    choice = space.get("optimizer")
    if not isinstance(choice, Choice):
        return trainer
    names = _distinct(choice.options)
    if len(names) < 2 or not all(isinstance(n, str) and n in OPTIMIZERS for n in names):
        return trainer
    given = [n for n in (*space, *fixed) if n in OPTIMIZER_HYPERPARAMETERS]
    if any(n not in reads(o) for n in given for o in names):
        return trainer
    return dataclasses.replace(trainer, optimizer=switch(*names))


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
    fixed ones.

    >>> trainer = Trainer(MLP((2, 4, 1)), optimizer="adam")
    >>> sweep_header([{"learning_rate": 0.1}, {"learning_rate": 0.2}], trainer, {"l2": 0.1})
    '2 configs; optimizer adam; MLP 2-4-1 relu (he); searched: learning_rate; fixed: l2=0.1'
    """
    from jaxdl.sweep import split_config, trainer_for

    trainers = [trainer_for(trainer, split_config(c)[0]) for c in configs]
    optimizers = _distinct([t.optimizer for t in trainers])
    model = unwrap(trainer.model)  # the network inside a Standardized model
    if isinstance(model, MLP):
        widths = _distinct(["-".join(map(str, unwrap(t.model).sizes)) for t in trainers])
        shown = widths if len(widths) <= 4 else [*widths[:3], f"... ({len(widths)} in all)"]
        network = f"MLP {' | '.join(shown)} {model.activation} ({model.initializer})"
    else:
        network = describe_model(model)
    parts = [
        f"{len(configs)} configs",
        ("optimizers " if len(optimizers) > 1 else "optimizer ") + " | ".join(optimizers),
        network,
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
    splits = user_data.figures(model, results.params[i], results.model_state[i], data)
    print(f"best config {i} by {results.monitor}: test " + ", ".join(
        f"{k} {v:.4f}" for k, v in splits["test"].items() if isinstance(v, float)))
    training = {**results.hp[i], **results.configs[i], "optimizer": results.trainers[i].optimizer,
                "epochs": results.epochs[i], "best_epoch": results.best_epoch[i],
                "ranked_by": results.monitor}
    if hasattr(results, "provenance"):  # PBT: the schedule and lineage that produced the weights
        training["pbt"] = results.provenance(i)
    return user_data.save(args, model, results.params[i], results.model_state[i], data, training,
                         splits)


def _header_count(args: argparse.Namespace) -> int:
    """How many configs the strategy draws first (hyperband: all its brackets')."""
    if args.strategy == "hyperband":
        from jaxdl.sweep import brackets

        return sum(b.n for b in brackets(args.epochs, args.eta or 3))
    return args.configs or 32


SEARCH_FLAGS = ("min_epochs", "eta", "interval", "quantile", "rounds", "sampler", "pruner",
                "storage", "study_name", "batch", "heartbeat")


def _search(args: argparse.Namespace, space, data, trainer, fixed, mesh, logger,
            plain=None) -> Any:
    """Run ``--strategy`` (default: ``--method``) with the per-epoch ``logger``; ``None`` after
    Ctrl-C (state saved). ``--resume`` of a sweep whose checkpoint was written with one program
    per optimizer kind (before :func:`one_program`) resumes it with the ``plain`` trainer."""
    from jaxdl.checkpoint import CheckpointError
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

    def run(trainer: Trainer) -> Any:
        return search(space, data, trainer=trainer, strategy=strategy, epochs=args.epochs,
                      seed=args.seed, hp=fixed, monitor=args.monitor or "val_loss", mesh=mesh,
                      **options)

    try:
        try:
            return run(trainer)
        except CheckpointError as err:  # refused before anything trained
            if not args.resume or plain in (None, trainer) or "different trainer;" not in str(err):
                raise
            try:
                resumed = run(plain)
            except CheckpointError:
                raise err from None  # another change too: the switch's message stands
            print("resumed a sweep started with one compiled program per optimizer kind, "
                  "as it was started")
            return resumed
    except SweepInterrupted as stop:
        print(f"{stop}; {_table_so_far(stop.directory, args.out)}", file=sys.stderr)
        return None


def _table_so_far(directory: str, out: str) -> str:
    """Where an interrupted sweep's table so far is: ``sweep.csv`` in its checkpoint directory
    (or the newest one in a strategy's sub-folder), not in ``--out``.

    >>> import tempfile
    >>> _table_so_far(tempfile.mkdtemp(), "out")
    'no table yet (--out out gets sweep.csv when the sweep finishes)'
    """
    from jaxdl.sweep.state import TABLE_FILE

    found = glob.glob(os.path.join(glob.escape(directory), TABLE_FILE)) or glob.glob(
        os.path.join(glob.escape(directory), "*", TABLE_FILE))
    if not found:
        return f"no table yet (--out {out} gets {TABLE_FILE} when the sweep finishes)"
    newest = max(found, key=os.path.getmtime)
    return (f"the table so far is {newest} (in the checkpoint directory; --out {out} gets "
            f"{TABLE_FILE} when the sweep finishes)")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
