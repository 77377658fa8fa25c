"""The lines ``train`` and ``sweep`` print about what they train: the data's splits (and the
files they came from) and the network."""

from __future__ import annotations

import os
from typing import Any

from jaxdl.data.datasets import Dataset
from jaxdl.layers.standardize import unwrap
from jaxdl.nn import MLP


def describe_data(data: Dataset, val_data: Any = None, test_data: Any = None) -> str:
    """``"<name>: N train / N validation / N test samples"``, each split read from a file of
    its own (``--val-data``, ``--test-data``) followed by that file's name (the base name, as
    ``<name>`` is the training file's).

    Args:
      data: the dataset.
      val_data: the file the validation split was read from, or None.
      test_data: the file the test split was read from, or None.

    >>> from jaxdl.data.datasets import load
    >>> from jaxdl.cli.describe import describe_data
    >>> describe_data(load("moons", n=50))
    'moons: 30 train / 10 validation / 10 test samples'
    >>> describe_data(load("moons", n=50), test_data="test.csv")
    'moons: 30 train / 10 validation / 10 test (test.csv) samples'
    """
    counts = []
    for split, y, path in (("train", data.y_train, None), ("validation", data.y_val, val_data),
                           ("test", data.y_test, test_data)):
        source = "" if path is None else f" ({os.path.basename(os.fspath(path))})"
        counts.append(f"{len(y)} {split}{source}")
    return f"{data.name}: {' / '.join(counts)} samples"


def describe(data: Dataset, model: Any, val_data: Any = None, test_data: Any = None) -> str:
    """:func:`describe_data` (with the files of ``--val-data`` and ``--test-data``) and the
    network (:func:`describe_model`).

    >>> from jaxdl.data.datasets import load
    >>> from jaxdl.cli.describe import describe
    >>> from jaxdl.nn import MLP
    >>> describe(load("moons", n=50), MLP((2, 8, 1), batch_norm=True))
    'moons: 30 train / 10 validation / 10 test samples; MLP 2-8-1 relu (he, batch norm)'
    """
    return f"{describe_data(data, val_data, test_data)}; {describe_model(model)}"


def describe_model(model: Any) -> str:
    """The MLP's sizes, activation, initializer and extras, or a layers model's layers, input
    shape and parameter count (of the model inside a :class:`jaxdl.layers.Standardized`).

    >>> from jaxdl import layers
    >>> from jaxdl.cli.describe import describe_model
    >>> describe_model(layers.Sequential(layers.Dense(3), layers.Relu(), input_shape=(2,)))
    'Sequential (2,) -> Dense Activation(relu) -> (3,), 9 parameters'
    """
    model = unwrap(model)
    if isinstance(model, MLP):
        sizes = "-".join(map(str, model.sizes))
        return (f"MLP {sizes} {model.activation} ({model.initializer}"
                f"{', batch norm' if model.batch_norm else ''}"
                f"{', dropout' if model.dropout else ''})")
    names = " ".join(type(layer).__name__ + (f"({layer.name})" if isinstance(
        getattr(layer, "name", None), str) else "") for layer in model.layers)
    return (f"{type(model).__name__} {model.input_shape} -> {names} -> {model.output_shape}, "
            f"{model.num_params:,} parameters")
