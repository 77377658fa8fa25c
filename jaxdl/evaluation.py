"""Figures of a trained model on labelled data, the same for ``jaxdl train`` and
``jaxdl evaluate``, and the compiled evaluation of a model's splits, its ``P(class 1)`` and its
decision-boundary panel (shared by the CLI and the demo; formerly ``jaxdl.scoring``).

Classification (integer labels ``y``):

    loss      = cross-entropy of softmax(z) (sigmoid(z) for one output unit)
    accuracy  = mean(argmax z == y)           (z > 0 for one output unit)
    confusion = C[i][j], the number of samples of class i predicted as class j

Regression (float targets ``y``, outputs ``yhat``):

    mse = mean((yhat - y)^2),   mae = mean(|yhat - y|),
    r2 = 1 - sum((yhat - y)^2) / sum((y - mean(y))^2)       (jaxdl.losses / jaxdl.metrics)
    loss = mean_k mean_i (yhat_ik - y_ik)^2 / sigma_k^2      (= mse without target statistics)

in the targets' units, but ``loss``: with the training targets' standard deviations ``sigma_k``
(a model that standardizes its targets, ``Standardized(..., targets=...)``) it is the mean
squared error on standardized targets, the number the Trainer minimizes and records as
``loss``/``val_loss``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import losses, metrics, plots
from jaxdl.train.state import TrainState
from jaxdl.train.trainer import Trainer


def probabilities(outputs: Any) -> np.ndarray:
    """Class probabilities ``(n, classes)``: softmax of the logits, or ``(1 - p, p)`` with
    ``p = sigmoid(z)`` for one output unit.

    >>> import numpy as np
    >>> from jaxdl.evaluation import probabilities
    >>> probabilities(np.array([[0.0]])).tolist()
    [[0.5, 0.5]]
    """
    z = jnp.asarray(outputs, jnp.float32)
    if z.ndim == 1 or z.shape[-1] == 1:
        p = jax.nn.sigmoid(z.reshape(-1))
        return np.asarray(jnp.stack([1.0 - p, p], axis=1))
    return np.asarray(jax.nn.softmax(z, axis=-1))


def classes(outputs: Any) -> np.ndarray:
    """Predicted class indices: ``argmax z``, or ``z > 0`` for one output unit."""
    z = np.asarray(outputs)
    if z.ndim == 1 or z.shape[-1] == 1:
        return (z.reshape(-1) > 0).astype(np.int32)
    return np.argmax(z, axis=-1).astype(np.int32)


def values(outputs: Any) -> np.ndarray:
    """Regression predictions: ``(n,)`` for one output unit, ``(n, k)`` for several."""
    z = np.asarray(outputs, np.float32)
    return z.reshape(-1) if z.ndim == 2 and z.shape[1] == 1 else z


def classification(outputs: Any, y: Any, num_classes: int) -> dict[str, Any]:
    """``loss``, ``accuracy`` and ``confusion_matrix`` of logits against class indices.

    >>> import numpy as np
    >>> from jaxdl.evaluation import classification
    >>> r = classification(np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]), np.array([0, 1, 1]), 2)
    >>> round(r["accuracy"], 4), r["confusion_matrix"]
    (0.6667, [[1, 0], [1, 1]])
    """
    z = jnp.asarray(outputs, jnp.float32)
    labels = jnp.asarray(np.asarray(y, np.int32))
    if z.ndim == 2 and z.shape[1] == 1:
        loss = losses.sigmoid_binary_cross_entropy(z, labels)
    else:
        loss = losses.softmax_cross_entropy(z, labels)
    predicted = classes(outputs)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (np.asarray(y, np.int64), predicted), 1)
    return {
        "loss": float(loss),
        "accuracy": float(np.mean(predicted == np.asarray(y))),
        "confusion_matrix": confusion.tolist(),
    }


def regression(outputs: Any, y: Any, target_stats: Any = None) -> dict[str, float]:
    """``loss``, ``mse``, ``mae`` and ``r2`` of predictions against targets
    (:mod:`jaxdl.metrics`), all in the targets' units but ``loss``: the mean squared error of
    the targets standardized with ``target_stats`` (the training targets' ``mean`` and ``std``,
    :func:`jaxdl.losses.standardized_pair`), or ``mse`` without them.

    >>> import numpy as np
    >>> from jaxdl.evaluation import regression
    >>> from jaxdl.data.normalize import Standardizer
    >>> r = regression(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 4.0]))
    >>> round(r["mse"], 4), round(r["r2"], 4), round(r["loss"], 4)
    (0.3333, 0.7857, 0.3333)
    >>> scaled = regression(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 4.0]),
    ...                     Standardizer(mean=np.array([2.0]), std=np.array([2.0])))
    >>> round(scaled["mse"], 4), round(scaled["loss"], 4)   # loss = mse / 2^2
    (0.3333, 0.0833)
    """
    z = jnp.asarray(outputs, jnp.float32)
    target = jnp.asarray(np.asarray(y, np.float32))
    mse = float(losses.mean_squared_error(z, target))
    loss = mse
    if target_stats is not None:
        pair = losses.standardized_pair(losses.LOSSES["mean_squared_error"], z, target,
                                        target_stats)
        loss = float(losses.mean_squared_error(*pair))
    return {"loss": loss, "mse": mse, "mae": float(metrics.mae(z, target)),
            "r2": float(metrics.r2(z, target))}


def evaluate(task: str, outputs: Any, y: Any, num_classes: int = 0,
             target_stats: Any = None) -> dict[str, Any]:
    """:func:`classification` or :func:`regression` (with the training targets' statistics
    ``target_stats``, when the model standardizes its targets) by ``task``, plus the sample
    count."""
    if task == "classification":
        figures = classification(outputs, y, num_classes)
    elif task == "regression":
        figures = regression(outputs, y, target_stats)
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    return {"samples": int(len(np.asarray(y))), **figures}


# -- compiled evaluation of a model's splits (inference mode) ---------------------------------
def inference_trainer(model: Any) -> Trainer:
    """The trainer evaluation compiles for: ``Trainer(model).evaluator()``, the model in its
    evaluation form (initializer and dropout settings normalized), so every initializer variant
    of a model shares one compiled evaluation.

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.evaluation import inference_trainer
    >>> inference_trainer(MLP((2, 1))) == inference_trainer(MLP((2, 1), initializer="xavier"))
    True
    """
    return Trainer(model).evaluator()


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(trainer: Trainer, params: Any, state: Any, splits: dict) -> dict:
    ts = TrainState(params, state, None, jnp.asarray(-1, jnp.int32))
    return {name: trainer.evaluate(ts, {}, x, y) for name, (x, y) in splits.items()}


def evaluate_splits(
    model: Any, params: Any, state: Any, splits: Mapping[str, tuple[Any, Any]]
) -> dict[str, dict[str, float]]:
    """Loss (no L2 term) and the trainer's default metrics (accuracy for classification) of
    every split ``name -> (x, y)`` in inference mode (dropout off, batch-norm running
    statistics), all splits in one compiled call (:meth:`jaxdl.train.Trainer.evaluate`).

    Returns ``{split: {"loss": float, "accuracy": float}}``.

    >>> import jax
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.evaluation import evaluate_splits
    >>> model = MLP((2, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> x, y = np.zeros((4, 2), np.float32), np.array([0, 1, 1, 0])
    >>> evaluate_splits(model, params, state, {"train": (x, y)})["train"]["accuracy"]
    0.5
    """
    arrays = {
        name: (jnp.asarray(x, jnp.float32), jnp.asarray(y)) for name, (x, y) in splits.items()
    }
    found = jax.device_get(_evaluate(inference_trainer(model), params, state, arrays))
    return {name: {k: float(v) for k, v in split.items()} for name, split in found.items()}


@functools.partial(jax.jit, static_argnums=0)
def _probability(trainer: Trainer, params: Any, state: Any, x: jax.Array) -> jax.Array:
    logits, _ = trainer.model.apply(params, state, x, train=False)
    return jax.nn.sigmoid(logits[:, 0])


def probability(model: Any, params: Any, state: Any, x: Any) -> np.ndarray:
    """``P(class 1) = sigmoid(logit)`` of a one-output model at the points ``x`` (inference
    mode).

    >>> import jax
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.evaluation import probability
    >>> model = MLP((2, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> probability(model, params, state, np.zeros((3, 2))).tolist()
    [0.5, 0.5, 0.5]
    """
    x = jnp.asarray(x, jnp.float32)
    return np.asarray(_probability(inference_trainer(model), params, state, x))


def boundary(
    title: str, model: Any, result: Any, data: Any, note: str | None = None
) -> plots.Boundary:
    """A decision-boundary panel of a fitted one-output model (``result`` has ``params`` and
    ``model_state``) over the training points of ``data`` (``x_train``, ``y_train``); ``note``
    is printed inside the panel."""

    def predict(grid: np.ndarray) -> np.ndarray:
        return probability(model, result.params, result.model_state, grid)

    return plots.Boundary(title, predict, data.x_train, data.y_train, note=note)
