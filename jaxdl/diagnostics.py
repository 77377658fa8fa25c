"""Per-layer gradient norms: the vanishing / exploding gradients diagnostic.

For the training cost ``J`` (the loss of :meth:`jaxdl.train.Trainer.data_loss`, by default the
mean cross-entropy: sigmoid for one output unit, softmax otherwise; no L2 term) on a batch
``(x, y)`` in training mode, layer ``l`` (each dict of the parameter tree that holds a ``W``,
``b``, ``gamma`` or ``beta``, in tree order: the MLP's ``params["layers"]``) gets

    ||dJ/dW_l||_F          (leaf="W", the default)
    ||dJ/db_l||_2 = ||sum_i dJ/dz_l,i||_2   (leaf="b": the backward signal reaching layer l)

With ReLU and zero biases, ``dW_l = a_{l-1}^T dz_l`` where the forward activations shrink or grow
by about ``s * sqrt(n / 2)`` per layer and the backward signal ``dz_l`` by the same factor, so
every ``||dW_l||`` sits near ``(s * sqrt(n / 2)) ** (L - 1)``: tiny for small weights, huge for
large ones, order one for He (``s = sqrt(2 / n)``); ``||db_l||`` shows the geometric decay
(or growth) of the backward signal towards the input.

Everything is computed in float64 (range about 1e-308 to 1e+308, against 1e-38 to 1e+38 in
float32) and the norms are taken as ``max|g| * ||g / max|g|||``, so the tiny and huge gradients
of deep nets keep their real size instead of flushing to 0 or overflowing to inf.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.gradcheck.float64 import to_float64
from jaxdl.shapes import check_data
from jaxdl.train import Trainer

LEAVES = ("W", "b", "gamma", "beta")


def gradient_norms(
    model: Any,
    params: Any,
    state: Any,
    x: Any,
    y: Any,
    *,
    leaf: str = "W",
    hp: Mapping[str, Any] | None = None,
    key: jax.Array | None = None,
    loss: Any = None,
) -> np.ndarray:
    """Per-layer norms ``||dJ/d leaf_l||`` (float64 array, one entry per layer dict).

    ``J`` is the data cost (``loss``, as in ``Trainer(model, loss=loss)``) of ``model`` on
    ``(x, y)`` in training mode (batch statistics for batch norm; dropout needs ``key`` and
    ``hp["keep_prob"]``). Layers without ``leaf`` (the hidden layers of a batch-norm MLP have no
    ``b``) get NaN.
    """
    if leaf not in LEAVES:
        raise ValueError(f"leaf must be one of {LEAVES}, got {leaf!r}")
    trainer = Trainer(model, loss=loss)
    x, y = check_data(trainer, x, y)
    expected = jax.eval_shape(model.init, jax.random.key(0))[0]
    same_tree = jax.tree.structure(params) == jax.tree.structure(expected)  # type: ignore[operator]
    if not same_tree or not _layers(params):
        raise ValueError(
            "params do not match the model (one entry per layer, as model.init(key) gives); "
            "pass the params returned by model.init"
        )
    with jax.enable_x64(True):
        params64, state64, x64 = jax.tree.map(to_float64, (params, state, x))
        grads = jax.device_get(_gradients(trainer, params64, state64, x64, y, dict(hp or {}), key))
    return np.array([_norm(layer[leaf]) if leaf in layer else np.nan for layer in _layers(grads)])


def _layers(tree: Any) -> list[Mapping[str, Any]]:
    """The dicts of ``tree`` holding a parameter named in :data:`LEAVES`, in tree order."""
    if isinstance(tree, Mapping):
        if any(name in tree for name in LEAVES):
            return [tree]
        return [layer for k in sorted(tree) for layer in _layers(tree[k])]
    if isinstance(tree, list | tuple):
        return [layer for item in tree for layer in _layers(item)]
    return []


@functools.partial(jax.jit, static_argnums=0)
def _gradients(trainer: Trainer, params, state, x, y, hp, key):
    """``dJ/dparams`` of the data cost in training mode."""

    def cost(p):
        logits, _ = trainer.model.apply(p, state, x, train=True, key=key, hp=hp)
        return trainer.data_loss(logits, y, None)

    return jax.grad(cost)(params)


def _norm(g: Any) -> float:
    """``||g||_2`` computed as ``a * ||g / a||`` with ``a = max |g|``, free of under/overflow."""
    g = np.abs(np.asarray(g, np.float64)).ravel()
    scale = g.max(initial=0.0)
    if not 0.0 < scale < np.inf:
        return float(scale)
    return float(scale * np.linalg.norm(g / scale))
