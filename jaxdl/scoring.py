"""Scoring a trained MLP on the host: loss and accuracy per split, P(class 1) on points, and a
decision-boundary panel. Shared by the CLI and the demo.

>>> import jax
>>> from jaxdl.nn import MLP
>>> model = MLP((2, 1))
>>> params, state = model.init(jax.random.key(0))
>>> x, y = np.zeros((4, 2), np.float32), np.array([0, 1, 1, 0])
>>> evaluate_splits(model, params, state, {"train": (x, y)})["train"]["accuracy"]
0.5
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import plots
from jaxdl.nn import MLP
from jaxdl.train import Trainer, TrainState


def inference_trainer(model: MLP) -> Trainer:
    """A trainer used for inference only. The forward pass does not depend on how the weights
    were initialized, so every initializer variant of a model shares one compiled evaluation."""
    return Trainer(dataclasses.replace(model, initializer="he", init_scale=0.01))


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(trainer: Trainer, params: Any, state: Any, splits: dict) -> dict:
    ts = TrainState(params, state, None, jnp.asarray(-1, jnp.int32))
    return {name: trainer.evaluate(ts, {}, x, y) for name, (x, y) in splits.items()}


def evaluate_splits(
    model: MLP, params: Any, state: Any, splits: Mapping[str, tuple[Any, Any]]
) -> dict[str, dict[str, float]]:
    """Loss (no L2 term) and accuracy of every split ``name -> (x, y)`` in inference mode
    (dropout off, batch-norm running statistics), all splits in one compiled call.

    Returns ``{split: {"loss": float, "accuracy": float}}``.
    """
    arrays = {
        name: (jnp.asarray(x, jnp.float32), jnp.asarray(y)) for name, (x, y) in splits.items()
    }
    values = jax.device_get(_evaluate(inference_trainer(model), params, state, arrays))
    return {name: {k: float(v) for k, v in split.items()} for name, split in values.items()}


@functools.partial(jax.jit, static_argnums=0)
def _probability(trainer: Trainer, params: Any, state: Any, x: jax.Array) -> jax.Array:
    logits, _ = trainer.model.apply(params, state, x, train=False)
    return jax.nn.sigmoid(logits[:, 0])


def probability(model: MLP, params: Any, state: Any, x: Any) -> np.ndarray:
    """``P(class 1) = sigmoid(logit)`` of a one-output model at the points ``x`` (inference
    mode).

    >>> model = MLP((2, 1))
    >>> params, state = model.init(jax.random.key(0))
    >>> probability(model, params, state, np.zeros((3, 2))).tolist()
    [0.5, 0.5, 0.5]
    """
    x = jnp.asarray(x, jnp.float32)
    return np.asarray(_probability(inference_trainer(model), params, state, x))


def boundary(
    title: str, model: MLP, result: Any, data: Any, note: str | None = None
) -> plots.Boundary:
    """A decision-boundary panel of a fitted one-output model (``result`` has ``params`` and
    ``model_state``) over the training points of ``data`` (``x_train``, ``y_train``); ``note``
    is printed inside the panel."""

    def predict(grid: np.ndarray) -> np.ndarray:
        return probability(model, result.params, result.model_state, grid)

    return plots.Boundary(title, predict, data.x_train, data.y_train, note=note)
