"""The options of the ``jaxdl`` command: value types, the help formatter, and the groups of
flags that ``train`` and ``sweep`` share (data, model, device, training, hyperparameters, your
data, saved model)."""

from __future__ import annotations

import argparse
from typing import Any

from jaxdl import logs
from jaxdl.cli.values import (
    AUGMENTATIONS,
    augmentations,
    fraction,
    image_size,
    integer,
    layer_sizes,
    number,
    value_or_range,
)
from jaxdl.data.catalog import IMAGE_DATASETS
from jaxdl.data.datasets import DATASETS, TASKS
from jaxdl.hyperparams import TABLE as HYPERPARAMETERS
from jaxdl.infra import devices
from jaxdl.init import INITIALIZERS
from jaxdl.layers.presets import PRESETS
from jaxdl.nn import ACTIVATIONS
from jaxdl.optim import OPTIMIZERS, registry
from jaxdl.train import SCHEDULES

# The most samples --data-size generates (10 million points: 80 MB of float32 pairs).
MAX_DATA_SIZE = 10_000_000

# Defaults shared by train and sweep (the same as Trainer's and fit's optimizer).
OPTIMIZER, EPOCHS = "adam", 100
#: ``jaxdl train``'s L2 penalty without ``--l2``: ``1 / (2 m) sum ||W||^2``, scikit-learn's
#: ``C = 1`` of ``LogisticRegression`` in the units of ``--l2`` (``--l2 0``: no penalty).
TRAIN_L2 = 1.0

# hyperparameter flags: (flag, hp name, help, distribution of a LOW:HIGH range); the optimizers'
# come from their registry (jaxdl.optim.registry.HYPERPARAMETERS), in its order.
_OPTIMIZER_HELP = {
    "learning_rate": "learning rate",
    "beta": "momentum / RMSprop beta",
    "b1": "Adam beta1",
    "b2": "Adam beta2",
    "eps": "epsilon of RMSprop / Adam",
    "weight_decay": "AdamW decoupled weight decay",
}
HP_FLAGS = (
    *((p.flag, p.name, _OPTIMIZER_HELP.get(p.name, p.description), p.scale)
      for p in registry.HYPERPARAMETERS.values()),
    ("--l2", "l2", "L2 lambda in lambda / (2m) sum ||W||^2", "log_uniform"),
    ("--keep-prob", "keep_prob", "dropout keep probability (turns dropout on)", "uniform"),
    ("--decay-rate", "decay_rate", "decay rate of --schedule", "log_uniform"),
)


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default: ``(default: X)`` is appended unless the help
    text already names it; flags (off by default) and options without a value are left as
    they are.

    >>> p = argparse.ArgumentParser(prog="demo", formatter_class=HelpFormatter)
    >>> _ = p.add_argument("--epochs", type=int, default=100, help="passes")
    >>> "passes (default: 100)" in p.format_help()
    True
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None
                or isinstance(default, bool) or default is argparse.SUPPRESS):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".strip()


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) and every default in ``--help``.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     try:
    ...         Parser(prog="jaxdl").parse_args(["--nope"])
    ...     except SystemExit as done:
    ...         print(done.code)
    2
    >>> err.getvalue()
    "jaxdl: error: unrecognized arguments: --nope (see 'jaxdl --help')\\n"
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        # One form for every error: "jaxdl: error: ..." (the subcommand is in the help hint).
        self.exit(2, f"{self.prog.split()[0]}: error: {message} (see '{self.prog} --help')\n")


# -- shared options -----------------------------------------------------------------------------
def add_data(p: argparse.ArgumentParser) -> None:
    """The ``data`` group (a built-in dataset), then ``--data`` for a file of yours and logs.

    >>> p = Parser(prog="jaxdl")
    >>> add_data(p)
    >>> p.parse_args(["--dataset", "circles"]).dataset
    'circles'
    """
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS + IMAGE_DATASETS, metavar="NAME",
                   help=f"built-in dataset: {', '.join(DATASETS)} (default moons), or "
                   f"{', '.join(IMAGE_DATASETS)}, downloaded once into the cache "
                   "($JAXDL_DATA_DIR) with their published test split")
    g.add_argument("--data-size", type=integer(1, MAX_DATA_SIZE), metavar="N",
                   help="number of samples (generated sets; a random subset of digits; at most "
                   f"{MAX_DATA_SIZE:,}); default: the dataset's own size")
    g.add_argument("--noise", type=number,
                   help="noise level of a generated dataset (default: the dataset's own)")
    g.add_argument("--no-normalize", action="store_true",
                   help="keep raw features and regression targets (default: standardize "
                        "both with training statistics)")
    add_file_options(p)


def add_file_options(p: argparse.ArgumentParser) -> None:
    """``--data`` and what goes with it, ``--tensorboard``.

    >>> p = Parser(prog="jaxdl")
    >>> add_file_options(p)
    >>> p.parse_args(["--data", "table.csv", "--test-data", "test.csv"]).test_data
    'test.csv'
    """
    g = p.add_argument_group("your data (instead of --dataset)")
    g.add_argument("--data", metavar="PATH",
                   help=".csv (header row), .npz (x, y or x_train ... y_test), .npy features, "
                   "a folder of images (one subfolder per class) or an .h5 file (the course's "
                   "layout)")
    g.add_argument("--target", metavar="NAME", help="target column of a CSV (default: the last)")
    g.add_argument("--labels", metavar="PATH", help="labels of .npy features (.npy, .csv, .txt)")
    g.add_argument("--task", choices=TASKS,
                   help="default: integer or text labels classify, other numbers regress")
    g.add_argument("--drop-missing", action="store_true",
                   help="drop rows with a missing value (default: an error)")
    for short, name in (("val", "validation"), ("test", "test")):
        g.add_argument(f"--{short}-fraction", type=fraction, metavar="F",
                       help=f"share of the rows in the {name} split, 0 for none (default 0.2; "
                       f"0 with --{short}-data)")
        g.add_argument(f"--{short}-data", metavar="PATH",
                       help=f"the {name} split from a file of its own, with the columns of "
                       "--data (encodings and standardizer stay the training split's)")
    g = p.add_argument_group("logs")
    g.add_argument("--tensorboard", metavar="DIR",
                   help="write TensorBoard event files here: the runs train/ and validation/ "
                   "with the same tags (loss, accuracy, ...), so their curves overlay; a sweep "
                   f"one folder per member (needs {logs.INSTALL_HINT})")


def add_save_option(p: argparse.ArgumentParser, flag: str, text: str) -> None:
    """``--save DIR`` (train) or ``--save-best DIR`` (sweep), with ``--overwrite``.

    >>> p = Parser(prog="jaxdl")
    >>> add_save_option(p, "--save-best", "save the best model")
    >>> p.parse_args(["--save-best", "model"]).save
    'model'
    """
    g = p.add_argument_group("saved model")
    g.add_argument(flag, dest="save", metavar="DIR", help=text)
    g.add_argument("--overwrite", action="store_true",
                   help="replace jaxdl's own files of an earlier run in --out and an existing "
                   "saved model in that directory"
                   + ("; without --resume, also delete the checkpoints already in "
                      "--checkpoint-dir and start over" if flag == "--save" else ""))


#: The MLP's hidden layers and the mini-batch size when no flag sets them.
HIDDEN, BATCH_SIZE = (16, 16), 64
_SEARCHED = "; a sweep without ranges searches it"


def add_model(p: argparse.ArgumentParser, searched: bool = False) -> None:
    """The ``model`` group (layer sizes or ``--model``, activation, initializer, batch norm,
    augmentation, image size) and ``device``.

    >>> p = Parser(prog="jaxdl")
    >>> add_model(p)
    >>> p.parse_args(["--hidden", "8"]).hidden
    (8,)
    >>> p.parse_args(["--model", "lenet5", "--augment", "flip,noise=0.05"]).augment
    (('flip', None), ('noise', 0.05))
    """
    g = p.add_argument_group("model")
    sizes = g.add_mutually_exclusive_group()
    sizes.add_argument("--hidden", type=layer_sizes, default=None if searched else HIDDEN,
                       metavar="H1,H2,...", help="hidden layer sizes, '' for none"
                       + (f" (default: 16,16{_SEARCHED})" if searched else ""))
    sizes.add_argument("--sizes", type=layer_sizes, metavar="NX,H1,...,NOUT",
                       help="all layer sizes, checked against the dataset (instead of --hidden)")
    sizes.add_argument("--model", metavar="NAME|FILE",
                       help="a layers model instead of the MLP: a preset ("
                       f"{', '.join(PRESETS)}; input shape and outputs from the data) or a JSON "
                       "file written from jaxdl.layers.Sequential.to_config(); flat features "
                       "with as many values as its image input shape are read as that image")
    g.add_argument("--augment", type=augmentations, metavar="LIST",
                   help="augmentation layers put in front of the model, used in training only: "
                   "flip, crop, translate, noise, each with an optional =VALUE ("
                   + "; ".join(f"{k}: {v}" for k, v in AUGMENTATIONS.items())
                   + "), e.g. flip,crop=4; flip, crop and translate need images")
    g.add_argument("--image-size", type=image_size, metavar="H,W",
                   help="resize the images of a --data folder to this height and width "
                   "(needed when their sizes differ)")
    g.add_argument("--activation", default="relu", choices=tuple(ACTIVATIONS),
                   help="activation of the MLP's hidden layers")
    g.add_argument("--init", default="he", choices=INITIALIZERS,
                   help="weight initializer of the MLP")
    g.add_argument("--init-scale", type=number, default=0.01, metavar="STD",
                   help="standard deviation of --init random_normal")
    g.add_argument("--batch-norm", action="store_true",
                   help="batch norm in the MLP's hidden layers")
    g = p.add_argument_group("device")
    g.add_argument("--device", choices=devices.DEVICES,
                   help="train on the CPU or the GPU(s) (default: whatever JAX picks); several "
                   "devices split each mini-batch (train; on CPU only a CNN's large enough "
                   "batch) or the configs (sweep)")
    g.add_argument("--precision", choices=tuple(devices.PRECISIONS),
                   help="bf16: bfloat16 matmuls with float32 accumulation (default: fp32)")


#: ``jaxdl train --keep``: the best epoch's parameters (by the monitor) or the last epoch's.
KEEP = ("best", "last")


def add_training(p: argparse.ArgumentParser, out: str = "jaxdl-out",
                 searched: bool = False) -> None:
    """The ``training`` group: optimizer, schedule, batches, epochs, early stopping, output
    (``--out``, default ``out``).

    >>> p = Parser(prog="jaxdl")
    >>> add_training(p, out="jaxdl-out/train")
    >>> args = p.parse_args([])
    >>> args.optimizer, args.epochs, args.out
    ('adam', 100, 'jaxdl-out/train')
    """
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default=OPTIMIZER, choices=OPTIMIZERS, help="update rule")
    g.add_argument("--schedule", default="constant", choices=SCHEDULES,
                   help="learning-rate decay per --decay-interval epochs")
    g.add_argument("--decay-interval", type=integer(1), default=1, metavar="EPOCHS",
                   help="epochs per step of the --schedule")
    g.add_argument("--batch-size", type=integer(1), default=None if searched else BATCH_SIZE,
                   metavar="B", help="mini-batch size"
                   + (f" (default: {BATCH_SIZE}{_SEARCHED})" if searched else ""))
    g.add_argument("--epochs", type=integer(1), default=EPOCHS, metavar="N",
                   help="passes over the training set")
    g.add_argument("--seed", type=integer(0), default=0,
                   help="seed of the data split, initialization, batches and dropout")
    g.add_argument("--patience", type=integer(1), metavar="EPOCHS",
                   help="early stopping: stop after this many epochs without improvement "
                   "(default: no early stopping)")
    g.add_argument("--monitor", metavar="NAME",
                   help="the history entry early stopping and rankings watch (default: val_loss; "
                   "loss without validation data): val_loss, loss, "
                   "or a metric the task records, with or without val_ (classification: "
                   "accuracy; regression: mse, mae)")
    g.add_argument("--min-delta", type=number, default=0.0, metavar="DELTA",
                   help="early stopping: the smallest change that counts as improvement")
    if not searched:
        g.add_argument("--keep", choices=KEEP, metavar="best|last",
                       help="whose parameters are kept, reported and saved: the best epoch's by "
                       "--monitor (the default with a validation split) or the last epoch's "
                       "(the default without one)")
    add_out(g, out)
    g.add_argument("--no-plots", action="store_true", help="write no PNG files")


def add_out(g: Any, default: str, resume: bool = True) -> None:
    """``--out DIR`` (see :mod:`jaxdl.outputs`); ``resume``: the command has ``--resume``.

    >>> p = Parser(prog="jaxdl")
    >>> add_out(p, "jaxdl-out")
    >>> p.parse_args(["--out", "runs"]).out
    'runs'
    """
    g.add_argument("--out", default=default, metavar="DIR",
                   help="output directory, held by one run at a time; one that holds an earlier "
                   "run's files is refused unless --overwrite"
                   + (" or --resume" if resume else ""))


def add_hyperparameters(p: argparse.ArgumentParser, ranges: bool) -> None:
    """One flag per entry of :data:`HP_FLAGS`: a value (train) or a value or range (sweep).

    >>> p = Parser(prog="jaxdl")
    >>> add_hyperparameters(p, ranges=True)
    >>> p.parse_args(["--lr", "1e-4:1"]).learning_rate
    (0.0001, 1.0)
    >>> add_hyperparameters(train := Parser(prog="jaxdl train"), ranges=False)
    >>> train.parse_args([]).l2, p.parse_args([]).l2  # train's L2 default; a sweep's: none
    (1.0, None)
    """
    g = p.add_argument_group(
        "hyperparameters" + (" (VALUE for all configs, or LOW:HIGH to search)" if ranges else "")
    )
    for flag, name, text, dist in HP_FLAGS:
        metavar = "VALUE|LOW:HIGH" if ranges else "VALUE"
        scale = {"log_uniform": "a log scale",
                 "one_minus_log_uniform": f"a log scale of 1 - {name}",
                 "uniform": "a linear scale"}[dist]
        default = TRAIN_L2 if name == "l2" and not ranges else None
        shown = (f"{TRAIN_L2}, scikit-learn's C = 1; 0 for none" if default is not None
                 else hp_default(name))
        g.add_argument(flag, dest=name, metavar=metavar, default=default,
                       type=value_or_range if ranges else number,
                       help=f"{text}" + (f"; LOW:HIGH is sampled on {scale}" if ranges else "")
                       + f" (default: {shown})")


def hp_default(name: str) -> str:
    """The default of a hyperparameter as ``--help`` shows it.

    >>> hp_default("b1"), hp_default("l2")
    ('0.9', 'none, no L2 term')
    """
    default = HYPERPARAMETERS[name].default
    if default is not None:
        return f"{default:g}"
    return {"l2": "none, no L2 term", "decay_rate": "none"}.get(name, "none")
