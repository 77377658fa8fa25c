"""jaxdl: the toolkit for improving deep neural networks, as pure JAX functions.

The course's outline, one idea per module:

- ``init``: zeros, random, Xavier, Glorot and He initialization
- ``data.normalize``: input standardization with training statistics
- ``nn``, ``dropout``, ``batchnorm``: the MLP, inverted dropout, batch normalization
- ``model``: the model protocol (``init``/``apply``) and ``Model``, the adapter for two functions
- ``layers``: Dense, Conv, BatchNorm, Dropout, pooling, Residual and Sequential for your own model
- ``losses``, ``metrics``: cross-entropies, MSE, Huber, the L2 penalty; accuracy, MSE, MAE, R^2
- ``ewa``: exponentially weighted averages with bias correction
- ``optim``: momentum, RMSprop, Adam, AdamW and learning-rate decay schedules
- ``data.batches``, ``train``, ``early_stopping``, ``checkpoint``: mini-batch training
- ``gradcheck``: gradient checking with two-sided differences
- ``sweep``: hyperparameter search, every configuration of a bucket trained at once under ``vmap``
- ``data``: built-in datasets, splits, normalization and mini-batches; your files (``load_file``)
- ``saved``, ``logs``: saved models (``save_model``, ``load_model``), per-epoch logs
"""

from jaxdl.infra import interrupt  # noqa: F401 - first: the jaxdl command's Ctrl-C before JAX loads

# isort: split
from jaxdl import (
    batchnorm,
    checkpoint,
    checks,
    data,
    dropout,
    ewa,
    gradcheck,
    hyperparams,
    init,
    layers,
    logs,
    losses,
    metrics,
    nn,
    optim,
    sweep,
    train,
)
from jaxdl.data import normalize
from jaxdl.early_stopping import EarlyStopping
from jaxdl.layers.standardize import Standardized
from jaxdl.losses import accuracy, l2_penalty, sigmoid_binary_cross_entropy, softmax_cross_entropy
from jaxdl.metrics import Metric
from jaxdl.model import Model, ModelLike
from jaxdl.nn import MLP
from jaxdl.saved import SavedModel, load_model, save_model
from jaxdl.train import FitResult, Trainer, TrainingDiverged, TrainingInterrupted, fit

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "EarlyStopping",
    "Metric",
    "Model",
    "ModelLike",
    "FitResult",
    "SavedModel",
    "Standardized",
    "Trainer",
    "TrainingDiverged",
    "TrainingInterrupted",
    "accuracy",
    "batchnorm",
    "checkpoint",
    "checks",
    "data",
    "dropout",
    "ewa",
    "fit",
    "gradcheck",
    "hyperparams",
    "init",
    "l2_penalty",
    "layers",
    "load_model",
    "logs",
    "losses",
    "metrics",
    "nn",
    "normalize",
    "optim",
    "save_model",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
    "sweep",
    "train",
]
