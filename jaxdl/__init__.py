"""jaxdl: the toolkit for improving deep neural networks, as pure JAX functions."""

from jaxdl import batchnorm, checks, ewa, init, losses
from jaxdl.data import normalize
from jaxdl.dropout import dropout
from jaxdl.losses import accuracy, l2_penalty, sigmoid_binary_cross_entropy, softmax_cross_entropy
from jaxdl.nn import MLP

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "accuracy",
    "batchnorm",
    "checks",
    "dropout",
    "ewa",
    "init",
    "l2_penalty",
    "losses",
    "normalize",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
]
