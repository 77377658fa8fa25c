"""``jaxdl train``: train one model, print its figures per split, write its history, plots and
(with ``--save``) the saved model."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import jax

from jaxdl import plots
from jaxdl.cli import data as user_data
from jaxdl.cli.build import build_model, build_trainer, load_data, plots_wanted
from jaxdl.cli.describe import describe
from jaxdl.cli.options import HP_FLAGS
from jaxdl.cli.splits import check_validation
from jaxdl.cli.tables import wrote_line
from jaxdl.data.datasets import Dataset
from jaxdl.early_stopping import NEVER, EarlyStopping
from jaxdl.hyperparams import check as check_hyperparameters
from jaxdl.infra import devices, parallel
from jaxdl.infra.atomic import check_writable, write_json
from jaxdl.layers.standardize import unwrap
from jaxdl.nn import MLP
from jaxdl.train import prepare_fit, run_fit


def train_command(args: argparse.Namespace) -> int:
    """``jaxdl train``: check the input, train with :func:`jaxdl.train.fit`, print the figures
    per split and write ``history.json``, ``metrics.jsonl``, the plots and the saved model.

    Returns:
      The exit status, 0 (failures raise; :func:`jaxdl.cli.main` reports them).

    >>> from jaxdl.cli import build_parser
    >>> train_command(build_parser().parse_args(["train", "--resume"]))
    Traceback (most recent call last):
    ...
    ValueError: --resume needs --checkpoint-dir, the directory to resume from
    """
    if args.resume and not args.checkpoint_dir:
        raise ValueError("--resume needs --checkpoint-dir, the directory to resume from")
    hp = {name: getattr(args, name) for _, name, _, _ in HP_FLAGS
          if getattr(args, name) is not None}
    checked = check_hyperparameters(hp)  # names and float32 ranges, once, before the data loads
    devs = devices.select(args.device)
    data = load_data(args)
    user_data.check_outputs(args)
    model = build_model(args, data, dropout="keep_prob" in hp)
    # who reads each name: checked once, by prepare_fit below (hp_names None here)
    trainer = build_trainer(args, model, None, data.task)
    if devs[0].platform == "cpu":  # one CPU device per core: split where a CNN's batch pays
        batch = trainer.partition(len(data.y_train)).batch_size
        devs = parallel.cpu_split(model, data.x_train.shape[1:], batch, devs)
    trainer = parallel.data_parallel(trainer, devs)
    monitor = check_validation(args, data)
    validation = (data.x_val, data.y_val) if len(data.y_val) else None
    stopper = keep_stopper(args, monitor, validation is not None)
    with jax.default_device(devs[0]):
        setup = prepare_fit(
            trainer, data.x_train, data.y_train, validation=validation, hp=checked,
            epochs=args.epochs, seed=args.seed, early_stopping=stopper,
            checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
            resume=args.resume, overwrite=args.overwrite and not args.resume,
            progress=args.progress,
        )  # fmt: skip
    want_plots = plots_wanted(args)
    check_writable(args.out)
    if args.checkpoint_dir:
        check_writable(args.checkpoint_dir)
    print(devices.describe(devs, getattr(model, "compute_dtype", "float32")))
    print(describe(data, model, args.val_data, args.test_data))
    start = time.perf_counter()
    logger = user_data.logger(args)
    with jax.default_device(devs[0]):
        try:
            result = run_fit(setup.with_logger(logger))
        finally:
            logger.close()
        seconds = time.perf_counter() - start
        # every split's figures from one home (jaxdl.evaluation), on the parameters kept
        splits = user_data.figures(model, result.params, result.model_state, data)
    print(f"{args.optimizer}, {result.epochs_run} epochs"
          f"{' (stopped early)' if result.stopped_early else ''}, {seconds:.1f} s; "
          + best_line(result, stopper is not None))
    print(user_data.format_figures(splits, data.task))

    # the epoch whose parameters are kept (and saved): the best with early stopping, else the last
    last = result.history["epoch"][-1] if result.history["epoch"] else -1
    kept_epoch = result.best_epoch if stopper is not None else last
    written = [os.path.join(args.out, "history.json"), os.path.join(args.out, "metrics.jsonl")]
    write_json(written[0], {
        "command": "train",
        "arguments": {k: v for k, v in vars(args).items() if k != "run"},
        "sizes": list(model.sizes) if isinstance(unwrap(model), MLP) else None,
        "model": None if isinstance(unwrap(model), MLP) else unwrap(model).to_config(),
        "hyperparameters": hp,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "monitor": result.monitor,
        "kept_epoch": kept_epoch,
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
                    "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                    "monitor": result.monitor, "kept_epoch": kept_epoch}
        written.append(user_data.save(args, model, result.params, result.model_state, data,
                                     training, splits))
    print(wrote_line(written, args.tensorboard, args.checkpoint_dir))
    return 0


def keep_stopper(args: argparse.Namespace, monitor: str, validated: bool) -> EarlyStopping | None:
    """The early stopping of ``jaxdl train``: ``--patience`` stops and keeps the best epoch's
    parameters; without it, ``--keep best`` (the default with a validation split) trains every
    epoch and keeps the best epoch's (a patience of :data:`NEVER`, which no run reaches, the
    same for every ``--epochs`` so that ``--resume`` with more epochs matches the checkpoint),
    and ``--keep last`` (the default without one) keeps the last epoch's (no stopper).

    >>> args = argparse.Namespace(patience=None, min_delta=0.0, keep=None, epochs=20)
    >>> keep_stopper(args, "val_loss", validated=True).patience == NEVER
    True
    >>> keep_stopper(args, "loss", validated=False) is None
    True
    """
    if args.patience is not None:
        if args.keep == "last":
            raise ValueError("--patience keeps the best epoch's parameters; drop --keep last, "
                             "or drop --patience to train every epoch and keep the last")
        return EarlyStopping(args.patience, args.min_delta, monitor)
    if (args.keep or ("best" if validated else "last")) == "last":
        return None
    return EarlyStopping(NEVER, args.min_delta, monitor)


def best_line(result: Any, restored: bool) -> str:
    """Where the monitored best was, beside the epochs run, and which parameters were kept.

    >>> from jaxdl.train import FitResult
    >>> history = {"epoch": [0, 1, 2], "val_loss": [0.5, 0.25, 0.375]}
    >>> best_line(FitResult(None, None, None, history, 1, 3, False, "val_loss"), False)
    'best val_loss 0.25 at epoch 1 (epochs 0-2; final parameters kept)'
    """
    kept = "best epoch's parameters kept" if restored else "final parameters kept"
    if result.best_epoch < 0:
        return f"no finite {result.monitor} ({kept})"
    at = result.history["epoch"].index(result.best_epoch)
    value = result.history[result.monitor][at]
    return (f"best {result.monitor} {value:.4g} at epoch {result.best_epoch} "
            f"(epochs 0-{result.epochs_run - 1}; {kept})")


def _train_plots(out: str, model: Any, result: Any, data: Dataset) -> list[str]:
    """``curves.png`` (cost and accuracy or MSE per epoch) and, for two input features,
    ``boundary.png``."""
    from jaxdl.evaluation import boundary

    history = result.history
    metric = "accuracy" if data.task == "classification" else "mse"
    def curves(key: str) -> dict[str, Any]:  # validation only where there is some
        found = {"train": history[key], "validation": history.get(f"val_{key}")}
        return {name: values for name, values in found.items() if values}

    panels = [plots.Panel("cost", curves("loss"), logy=True),
              plots.Panel(metric, curves(metric), ylabel=metric)]
    written = [plots.lines(os.path.join(out, "curves.png"), panels)]
    if (isinstance(unwrap(model), MLP) and data.x_train.shape[1] == 2 and model.sizes[-1] == 1
            and data.task == "classification"):
        panel = boundary("decision boundary (training set)", model, result, data)
        written.append(plots.boundaries(os.path.join(out, "boundary.png"), [panel]))
    return written
