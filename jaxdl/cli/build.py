"""What ``train`` and ``sweep`` build from the command line: the dataset, the MLP, the trainer,
and the lines that describe them."""

from __future__ import annotations

import argparse
import json
import math
import re
from typing import Any

from jaxdl import layers, outputs, plots
from jaxdl.cli import data as user_data
from jaxdl.cli.errors import note
from jaxdl.cli.splits import resolve_fractions, with_split_files
from jaxdl.data.catalog import IMAGE_DATASETS
from jaxdl.data.datasets import Dataset
from jaxdl.data.datasets import load as load_builtin
from jaxdl.data.pixels import image_path_dataset, is_image_path
from jaxdl.hyperparams import check_readers
from jaxdl.infra import devices
from jaxdl.infra.untrusted import read_bytes
from jaxdl.layers.presets import PRESETS, preset
from jaxdl.layers.reshape import Reshape
from jaxdl.nn import MLP
from jaxdl.train import Trainer

#: The largest ``--model`` JSON file read: 1 MiB (a config, not weights).
MODEL_FILE_MAX_BYTES = 1 << 20
#: Default strength of each ``--augment`` name without ``=VALUE`` (crop and the smallest
#: translation: see augmentation_layers).
AUGMENT_DEFAULTS = {"flip": 0.5, "translate": 0.1, "noise": 0.1}


def load_data(args: argparse.Namespace) -> Dataset:
    """The dataset of ``--data`` (a file) or ``--dataset`` (built in, default moons); then,
    in the ``jaxdl`` command, ``--out`` is taken for the run (:func:`jaxdl.outputs.take`:
    refused when used, locked), before anything is written.

    >>> from jaxdl.cli import build_parser
    >>> data = load_data(build_parser().parse_args(["train", "--data-size", "50"]))
    >>> data.name, len(data.y_train) + len(data.y_val) + len(data.y_test)
    ('moons', 50)
    """
    if args.dataset in IMAGE_DATASETS:
        given = [flag for flag, value in (("--test-fraction", args.test_fraction is not None),
                                          ("--no-normalize", args.no_normalize)) if value]
        if given:
            raise ValueError(f"--dataset {args.dataset} comes with its published test split and "
                             f"per-channel statistics; leave out {', '.join(given)}")
    resolve_fractions(args)  # --val-data/--test-data: jaxdl.cli.splits
    data = _load_images(args)
    if data is None:
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
    data = with_split_files(args, data)
    announce_removed(outputs.take(args))
    return data


def _load_images(args: argparse.Namespace) -> Dataset | None:
    """The images of ``--data FOLDER`` or ``--data FILE.h5``
    (:func:`jaxdl.data.pixels.image_path_dataset`: ``uint8``, with per-channel statistics, or
    ``/ 255`` with ``--no-normalize``), else ``None``."""
    image_size = getattr(args, "image_size", None)
    if args.data is None or not is_image_path(args.data):
        if image_size is not None:
            raise ValueError("--image-size resizes the images of a --data folder; leave it out "
                             "for other data")
        return None
    given = [f"--{n.replace('_', '-')}" for n in ("target", "labels", "drop_missing")
             if getattr(args, n)]
    if args.task == "regression":
        given.append("--task regression")
    if given:
        raise ValueError(f"--data {args.data}: images are labelled by their class folder or "
                         f"file; leave out {', '.join(given)}")
    if args.dataset is not None or args.data_size is not None or args.noise is not None:
        raise ValueError("--data reads your images; leave out --dataset, --data-size and --noise")
    return image_path_dataset(args.data, image_size, val_fraction=args.val_fraction,
                              test_fraction=args.test_fraction, seed=args.seed,
                              normalize=not args.no_normalize)


def announce_removed(held: outputs.OutputDir | None) -> None:
    """A note naming the files ``--overwrite`` removed from ``--out`` (if any).

    >>> announce_removed(None)
    """
    if held is not None and held.removed:
        note(f"--overwrite: removed {', '.join(held.removed)} (an earlier run's)")


def build_model(args: argparse.Namespace, data: Dataset, dropout: bool) -> Any:
    """The model for ``data``: the MLP (input width from the features, 1 output unit for 2
    classes), or with ``--model`` a :class:`jaxdl.layers.Sequential` (:func:`layers_model`);
    ``--augment`` puts its layers in front (:func:`augmented`; an MLP is then built as its
    layers, :meth:`jaxdl.nn.MLP.as_sequential`); wrapped by :func:`standardized`, so it takes
    the data's raw features (uint8 images included) and its saved model keeps the statistics.

    >>> from jaxdl.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--hidden", "8", "--data-size", "50"])
    >>> build_model(args, load_data(args), dropout=False).sizes
    (2, 8, 1)
    """
    return standardized(_network(args, data, dropout), data)


def standardized(model: Any, data: Dataset) -> Any:
    """``model`` standardizing its raw inputs with the data's training statistics,
    :class:`jaxdl.layers.Standardized` (``model`` itself when ``data.stats`` is ``None``, with
    ``--no-normalize``): the splits are raw, so the model and the saved model standardize once.
    Regression targets are standardized too (``data.target_stats``): the loss sees
    ``(y - mu_y) / sigma_y`` and the outputs are in the targets' units.

    >>> from jaxdl.data.datasets import load
    >>> standardized(MLP((2, 1)), load("moons", n=50)).model
    MLP(sizes=(2, 1), ...)
    """
    if data.stats is None:
        return model
    return layers.Standardized(model, data.stats, targets=data.target_stats)


def _network(args: argparse.Namespace, data: Dataset, dropout: bool) -> Any:
    """The MLP or the layers model of :func:`build_model`, on standardized inputs."""
    model = getattr(args, "model", None)
    if model is not None:
        return augmented(args, layers_model(args, data))
    mlp = _mlp(args, data, dropout)
    if not getattr(args, "augment", None):
        return mlp
    if mlp.compute_dtype != "float32":
        raise ValueError("--augment builds the MLP from layers, which compute in float32; "
                         "leave out --precision")
    return augmented(args, mlp.as_sequential())


def outputs_for(data: Dataset) -> int:
    """Output units for ``data``: 1 for regression and for 2 classes (sigmoid), else one per
    class (softmax).

    >>> from jaxdl.data.datasets import load
    >>> outputs_for(load("moons", n=50)), outputs_for(load("digits", n=200))
    (1, 10)
    """
    return 1 if data.num_classes in (0, 2) else data.num_classes  # 0: regression


def _mlp(args: argparse.Namespace, data: Dataset, dropout: bool) -> MLP:
    """The MLP of ``--hidden`` or ``--sizes`` for ``data``."""
    if data.x_train.ndim != 2:
        raise ValueError(f"dataset {data.name!r} holds images of shape "
                         f"{data.x_train.shape[1:]}; the MLP takes flat features: train a "
                         "layers model with --model (e.g. --model lenet5)")
    n_x = data.x_train.shape[1]
    n_out = outputs_for(data)
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


def read_model_file(path: str) -> layers.Sequential:
    """The :class:`jaxdl.layers.Sequential` of a JSON file written from its ``to_config()``,
    read as untrusted input: a regular file of at most :data:`MODEL_FILE_MAX_BYTES`, layer types
    looked up in the registry of :func:`jaxdl.layers.from_config` (nothing a file names is
    imported).

    Raises:
      ValueError: naming the file: not JSON, not a Sequential's config, an unknown layer type or
        a layer whose fields do not fit.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> with open(path, "w") as f:
    ...     _ = f.write('{"type": "Sequential", "layers": [{"type": "Blur"}], "input_shape": [2]}')
    >>> read_model_file(path)
    Traceback (most recent call last):
    ...
    ValueError: --model ...model.json: unknown layer type 'Blur'; known types are [...]
    """
    where = f"--model {path}"
    try:
        blob = read_bytes(path, what="--model file", max_bytes=MODEL_FILE_MAX_BYTES)
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file, and not a preset ({', '.join(PRESETS)})"
                         ) from None
    try:
        config = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{where}: not a JSON file ({err})") from None
    if not isinstance(config, dict) or config.get("type") != "Sequential":
        raise ValueError(f"{where}: not a model config; expected the JSON of "
                         "jaxdl.layers.Sequential(...).to_config(), an object with "
                         '"type": "Sequential", "layers" and "input_shape"')
    try:
        model = layers.from_config(config)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
        raise ValueError(f"{where}: {err}") from None
    if not isinstance(model, layers.Sequential):  # a registered type named Sequential elsewhere
        raise ValueError(f"{where}: not a jaxdl.layers.Sequential config")
    return model


def layers_model(args: argparse.Namespace, data: Dataset) -> layers.Sequential:
    """The ``--model`` preset (built for the data's example shape and :func:`outputs_for`) or
    JSON file, fitted to ``data``: flat features with as many values as the model's image input
    shape get a leading ``Reshape`` (images with as many values as a flat input shape a leading
    ``Flatten``); the output must have :func:`outputs_for` units (2 also fits 2 classes).

    >>> from jaxdl.cli import build_parser
    >>> args = build_parser().parse_args(["train", "--dataset", "digits", "--model",
    ...                                   "digits_cnn"])
    >>> model = layers_model(args, load_data(args))
    >>> model.input_shape, model.layers[0], model.output_shape
    ((64,), Reshape(shape=(8, 8, 1)), (10,))
    """
    where = f"--model {args.model}"
    for flag, given in (("--batch-norm", args.batch_norm), ("--sizes", args.sizes),
                        ("--precision", args.precision not in (None, "fp32"))):
        if given:
            raise ValueError(f"{flag} applies to the MLP; {where} is a layers model (leave "
                             f"{flag} out)")
    shape = tuple(data.x_train.shape[1:])
    outputs = outputs_for(data)
    if args.model in PRESETS:
        return preset(args.model, shape, outputs)
    model = read_model_file(args.model)
    wanted = model.input_shape
    if wanted != shape:
        if math.prod(wanted) != math.prod(shape) or 1 not in (len(wanted), len(shape)):
            raise ValueError(f"{where}: the model takes inputs of shape {wanted} but the examples "
                             f"of dataset {data.name!r} have shape {shape}")
        first = Reshape(wanted) if len(shape) == 1 else layers.Flatten()
        model = layers.Sequential(first, *model.layers, input_shape=shape)
    fits = [(1,), (2,)] if data.num_classes == 2 else [(outputs,)]
    if model.output_shape not in fits:
        need = "1 or 2" if len(fits) == 2 else str(outputs)
        raise ValueError(f"{where}: the model has outputs of shape {model.output_shape} but "
                         f"dataset {data.name!r} needs {need} output units ("
                         + (f"{data.num_classes} classes" if data.task == "classification"
                            else "regression") + "); change its last Dense layer")
    return model


def augmentation_layers(augment: Any, image_shape: tuple[int, ...]) -> list[Any]:
    """The layers of ``--augment`` for examples of ``image_shape``: ``flip`` RandomFlip(p=0.5),
    ``crop`` RandomCrop(pad = max(1, round(min(H, W) / 8)), 4 for 32x32), ``translate``
    RandomTranslation(f, f) with f = max(0.1, 1 / min(H, W)) (shifts of at least one pixel),
    ``noise`` GaussianNoise(0.1); ``name=VALUE`` sets p, pad, both factors or std.

    >>> augmentation_layers((("flip", None), ("crop", None)), (28, 28, 1))
    [RandomFlip(p=0.5), RandomCrop(pad=4)]
    """
    found: list[Any] = []
    for name, value in augment:
        if name != "noise" and len(image_shape) not in (2, 3):
            raise ValueError(f"--augment {name} needs images, (height, width, channels) "
                             f"examples; the model's inputs have shape {image_shape} (flat "
                             "features: use --model with an image input shape)")
        try:
            if name == "crop":
                pad = max(1, round(min(image_shape[:-1]) / 8)) if value is None else value
                if pad != int(pad):
                    raise ValueError(f"pad must be a whole number of pixels, got {pad}")
                found.append(layers.RandomCrop(int(pad)))
                continue
            strength = AUGMENT_DEFAULTS[name] if value is None else value
            if name == "translate" and value is None:
                strength = max(strength, 1 / min(image_shape[:-1]))
            if name == "flip":
                found.append(layers.RandomFlip(strength))
            elif name == "noise":
                found.append(layers.GaussianNoise(strength))
            else:
                found.append(layers.RandomTranslation(strength, strength))
        except (ValueError, TypeError) as err:
            raise ValueError(f"--augment {name}={value:g}: {err}") from None
    return found


def augmented(args: argparse.Namespace, model: layers.Sequential) -> layers.Sequential:
    """``model`` with the ``--augment`` layers in front (after a leading ``Reshape``, so they
    see images)."""
    augment = getattr(args, "augment", None)
    if not augment:
        return model
    head = 1 if isinstance(model.layers[0], Reshape) else 0
    image = model.layers[0].shape if head else model.input_shape
    added = augmentation_layers(augment, tuple(image))
    return layers.Sequential(*model.layers[:head], *added, *model.layers[head:],
                             input_shape=model.input_shape)


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
