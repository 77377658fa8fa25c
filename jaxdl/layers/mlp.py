"""The built-in :class:`jaxdl.nn.MLP` as a :class:`Sequential` of layers, with its params and
state moved into the Sequential's structure.

For hidden layer l the MLP computes ``dropout(g(bn(a @ W)))`` (or ``g(a @ W + b)`` without batch
norm) and the output layer is linear; the twin is

    Dense(n_l, use_bias=not batch_norm) [BatchNorm] Activation(g) [Dropout] ... Dense(n_out)

Its key order matches the MLP's: at init the l-th ``Dense`` gets ``split(key, L)[l]`` (``L``
weight layers, as in ``MLP.init``); in training the l-th ``Dropout`` gets
``split(key, L - 1)[l]``, which under JAX's partitionable threefry (the default) is the MLP's
``split(key, L)[l]``, so both draw the same masks.
"""

from __future__ import annotations

from typing import Any

from jaxdl.layers.activations import Activation
from jaxdl.layers.base import PyTree
from jaxdl.layers.combinators import Sequential
from jaxdl.layers.dense import Dense
from jaxdl.layers.dropout import Dropout
from jaxdl.layers.norm import BatchNorm
from jaxdl.nn import MLP


def from_mlp(mlp: MLP) -> Sequential:
    """The Sequential that computes what ``mlp`` computes (float32 only).

    >>> from jaxdl.layers import from_mlp
    >>> from jaxdl import MLP
    >>> from_mlp(MLP((4, 8, 3))).layers
    (Dense(units=8, use_bias=True, initializer='he', init_scale=0.01), Activation(name='relu'), \
Dense(units=3, use_bias=True, initializer='he', init_scale=0.01))
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"from_mlp needs a jaxdl.MLP, got {type(mlp).__name__}")
    if mlp.compute_dtype != "float32":
        raise ValueError(
            f"layers compute in float32; got an MLP with compute_dtype={mlp.compute_dtype!r}"
        )
    layers: list[Any] = []
    for units in mlp.sizes[1:-1]:
        dense = Dense(units, use_bias=not mlp.batch_norm, initializer=mlp.initializer,
                      init_scale=mlp.init_scale)
        layers.append(dense)
        if mlp.batch_norm:
            layers.append(BatchNorm(momentum=mlp.bn_momentum, eps=mlp.bn_eps))
        layers.append(Activation(mlp.activation))
        if mlp.dropout:
            layers.append(Dropout())
    layers.append(Dense(mlp.sizes[-1], initializer=mlp.initializer, init_scale=mlp.init_scale))
    return Sequential(*layers, input_shape=(mlp.sizes[0],))


def mlp_params_to_layers(mlp: MLP, params: PyTree, state: PyTree) -> tuple[tuple, tuple]:
    """``(params, state)`` of ``mlp`` rearranged for ``from_mlp(mlp)`` (arrays are shared).

    >>> import jax
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.layers import mlp_params_to_layers
    >>> mlp = MLP((4, 8, 3), batch_norm=True)
    >>> params, state = mlp_params_to_layers(mlp, *mlp.init(jax.random.key(0)))
    >>> [sorted(p) for p in params], sorted(state[1])
    ([['W'], ['beta', 'gamma'], [], ['W', 'b']], ['count', 'mean', 'var'])
    """
    model = from_mlp(mlp)
    new_params: list[PyTree] = []
    new_state: list[PyTree] = []
    hidden = iter(range(mlp.num_layers))
    for layer in model.layers:
        if isinstance(layer, Dense):
            l = next(hidden)
            mlp_layer = params["layers"][l]
            new_params.append({k: mlp_layer[k] for k in ("W", "b") if k in mlp_layer})
            new_state.append({})
        elif isinstance(layer, BatchNorm):
            mlp_layer = params["layers"][l]
            new_params.append({"gamma": mlp_layer["gamma"], "beta": mlp_layer["beta"]})
            new_state.append({**state["layers"][l], "count": state["count"]})
        else:
            new_params.append({})
            new_state.append({})
    return tuple(new_params), tuple(new_state)
