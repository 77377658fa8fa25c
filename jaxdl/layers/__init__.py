"""Layers in the pure ``(params, state)`` style, composed into models with :class:`Sequential`.

Each layer is a frozen dataclass with ``init(key, input_shape) -> (output_shape, params, state)``
and ``apply(params, state, x, *, train, key=None, hp=None, mask=None) -> (y, state)``
(``jax.example_libraries.stax`` with explicit state and keys). ``Sequential(*layers,
input_shape=...)`` is a model: ``init(key) -> (params, state)``, usable with ``jaxdl.fit``.

- ``Dense``: ``x @ W + b``;  ``Conv``: 1-D/2-D channels-last convolution (strides, SAME/VALID or
  explicit padding, dilation, groups; a weight gradient that stays fast inside ``lax.scan``)
- ``BatchNorm``: over the batch (and space, for feature maps), running EWA, padded rows masked
- ``Dropout``: inverted, traced ``hp["keep_prob"]``
- ``Activation(name)``, ``Relu()``, ``LeakyRelu()``, ``Tanh()``, ``Sigmoid()``, ``Flatten()``,
  ``Reshape(shape)``
- ``MaxPool``, ``AvgPool``;  ``Residual(*layers)``: ``x + f(x)``
- ``Standardized(model, data.stats)``: a model that standardizes its raw inputs with the
  training statistics (which a saved model keeps)
- ``RandomFlip``, ``RandomCrop``, ``RandomTranslation``, ``GaussianNoise``: data augmentation in
  training only, keyed per example (``augment``); ``mixup`` for a step of your own
- ``register``: a layer class of your own, so ``from_config`` and saved models rebuild it
- ``from_config(model.to_config())`` rebuilds any layer or model;  ``summary(model)`` /
  ``Sequential.summary()``: output shapes and parameter counts. The built-in
  :class:`jaxdl.nn.MLP` is a chain of these layers (``MLP(...).layers``, ``.as_sequential()``).
"""

from typing import Any

from jaxdl.layers.activations import Activation, LeakyRelu, Relu, Sigmoid, Tanh
from jaxdl.layers.augment import GaussianNoise, RandomCrop, RandomFlip, RandomTranslation, mixup
from jaxdl.layers.base import Layer, from_config, register
from jaxdl.layers.combinators import Residual, Sequential, summary
from jaxdl.layers.conv import Conv
from jaxdl.layers.dense import Dense
from jaxdl.layers.dropout import Dropout
from jaxdl.layers.flatten import Flatten
from jaxdl.layers.norm import BatchNorm
from jaxdl.layers.pool import AvgPool, MaxPool
from jaxdl.layers.reshape import Reshape
from jaxdl.layers.standardize import Standardized

__all__ = [
    "Activation",
    "AvgPool",
    "BatchNorm",
    "Conv",
    "Dense",
    "Dropout",
    "Flatten",
    "GaussianNoise",
    "Layer",
    "LeakyRelu",
    "MaxPool",
    "RandomCrop",
    "RandomFlip",
    "RandomTranslation",
    "Relu",
    "Reshape",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Standardized",
    "Tanh",
    "from_config",
    "mixup",
    "register",
    "summary",
]


def __getattr__(name: str) -> Any:  # PEP 562: old names, for one release
    """``from_mlp`` and ``mlp_params_to_layers`` (deprecated; they warn when called)."""
    if name in ("from_mlp", "mlp_params_to_layers"):
        from jaxdl.layers import mlp

        return getattr(mlp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
