"""Figures of a trained model on labelled data, the same for ``jaxdl train`` and
``jaxdl evaluate``.

Classification (integer labels ``y``):

    loss      = cross-entropy of softmax(z) (sigmoid(z) for one output unit)
    accuracy  = mean(argmax z == y)           (z > 0 for one output unit)
    confusion = C[i][j], the number of samples of class i predicted as class j

Regression (float targets ``y``, outputs ``yhat``):

    loss = mse = mean((yhat - y)^2),   mae = mean(|yhat - y|),
    r2 = 1 - sum((yhat - y)^2) / sum((y - mean(y))^2)       (jaxdl.losses / jaxdl.metrics)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import losses, metrics


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


def regression(outputs: Any, y: Any) -> dict[str, float]:
    """``loss`` (= ``mse``), ``mse``, ``mae`` and ``r2`` of predictions against targets
    (:mod:`jaxdl.metrics`).

    >>> import numpy as np
    >>> from jaxdl.evaluation import regression
    >>> r = regression(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 4.0]))
    >>> round(r["mse"], 4), round(r["r2"], 4)
    (0.3333, 0.7857)
    """
    z = jnp.asarray(outputs, jnp.float32)
    target = jnp.asarray(np.asarray(y, np.float32))
    mse = float(losses.mean_squared_error(z, target))
    return {"loss": mse, "mse": mse, "mae": float(metrics.mae(z, target)),
            "r2": float(metrics.r2(z, target))}


def evaluate(task: str, outputs: Any, y: Any, num_classes: int = 0) -> dict[str, Any]:
    """:func:`classification` or :func:`regression` by ``task``, plus the sample count."""
    if task == "classification":
        figures = classification(outputs, y, num_classes)
    elif task == "regression":
        figures = regression(outputs, y)
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    return {"samples": int(len(np.asarray(y))), **figures}
