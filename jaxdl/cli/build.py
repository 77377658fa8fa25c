"""What ``train`` and ``sweep`` build from the command line: the dataset, the MLP, the trainer,
and the lines that describe them."""

from __future__ import annotations

import argparse
import re
from typing import Any

from jaxdl import devices, outputs, plots
from jaxdl.cli import data as user_data
from jaxdl.cli.errors import note
from jaxdl.data.datasets import Dataset
from jaxdl.data.datasets import load as load_builtin
from jaxdl.hyperparams import check_readers
from jaxdl.nn import MLP
from jaxdl.train import Trainer


def load_data(args: argparse.Namespace) -> Dataset:
    """The dataset of ``--data`` (a file) or ``--dataset`` (built in, default moons); then,
    in the ``jaxdl`` command, ``--out`` is taken for the run (:func:`jaxdl.outputs.take`:
    refused when used, locked), before anything is written.

    >>> from jaxdl.cli import build_parser
    >>> data = load_data(build_parser().parse_args(["train", "--data-size", "50"]))
    >>> data.name, len(data.y_train) + len(data.y_val) + len(data.y_test)
    ('moons', 50)
    """
    data = user_data.load(args)
    if data is None:
        try:
            data = load_builtin(args.dataset or "moons", seed=args.seed, n=args.data_size,
                                noise=args.noise, normalize=not args.no_normalize,
                                val_fraction=args.val_fraction,
                                test_fraction=args.test_fraction)
        except ValueError as err:  # name the flags, not the function's arguments
            text = re.sub(r"^n must", "--data-size must", str(err))
            text = re.sub(r"^noise must", "--noise must", text)
            raise ValueError(text.replace("leave noise=None", "leave out --noise")) from err
    announce_removed(outputs.take(args))
    return data


def announce_removed(held: outputs.OutputDir | None) -> None:
    """A note naming the files ``--overwrite`` removed from ``--out`` (if any).

    >>> announce_removed(None)
    """
    if held is not None and held.removed:
        note(f"--overwrite: removed {', '.join(held.removed)} (an earlier run's)")


def build_model(args: argparse.Namespace, data: Dataset, dropout: bool) -> MLP:
    """The MLP for ``data``: input width from the features, 1 output unit for 2 classes.

    >>> from jaxdl.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--hidden", "8", "--data-size", "50"])
    >>> build_model(args, load_data(args), dropout=False).sizes
    (2, 8, 1)
    """
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


def build_trainer(args: argparse.Namespace, model: MLP, hp_names: Any,
                  task: str = "classification") -> Trainer:
    """The trainer of the command line (regression trains on the mean squared error), with the
    hyperparameters set (``hp_names``) checked against who reads them (the same rule as ``fit``
    and sweeps), before any data is used.

    >>> from jaxdl.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--optimizer", "momentum"])
    >>> build_trainer(args, MLP((2, 4, 1)), {"learning_rate", "beta"}).optimizer
    'momentum'
    """
    loss = "mean_squared_error" if task == "regression" else None
    trainer = Trainer(model, optimizer=args.optimizer, schedule=args.schedule,
                      batch_size=args.batch_size, decay_interval=args.decay_interval, loss=loss)
    if hp_names is not None:
        check_readers(hp_names, trainer.optimizer, trainer.schedule, trainer.model)
    monitor = getattr(args, "monitor", None)
    if monitor is not None and monitor not in trainer.monitors:
        raise ValueError(f"--monitor {monitor!r} is not recorded by this {task} model; choose "
                         f"one of {', '.join(trainer.monitors)}")
    return trainer


def plots_wanted(args: argparse.Namespace) -> bool:
    """False with ``--no-plots`` or (with a note) when matplotlib is missing.

    >>> plots_wanted(argparse.Namespace(no_plots=True))
    False
    """
    if args.no_plots:
        return False
    if not plots.available():
        note(f"plots skipped: matplotlib is not installed ({plots.INSTALL_HINT})")
        return False
    return True


def describe_data(data: Dataset) -> str:
    """``"<name>: N train / N validation / N test samples"``.

    >>> from jaxdl.data.datasets import load
    >>> describe_data(load("moons", n=50))
    'moons: 30 train / 10 validation / 10 test samples'
    """
    return (f"{data.name}: {len(data.y_train)} train / {len(data.y_val)} validation / "
            f"{len(data.y_test)} test samples")


def describe(data: Dataset, model: MLP) -> str:
    """:func:`describe_data` and the network: sizes, activation, initializer and extras.

    >>> from jaxdl.data.datasets import load
    >>> describe(load("moons", n=50), MLP((2, 8, 1), batch_norm=True))
    'moons: 30 train / 10 validation / 10 test samples; MLP 2-8-1 relu (he, batch norm)'
    """
    sizes = "-".join(map(str, model.sizes))
    return (
        f"{describe_data(data)}; MLP {sizes} {model.activation} ({model.initializer}"
        f"{', batch norm' if model.batch_norm else ''}{', dropout' if model.dropout else ''})"
    )
