"""Models written with flax.linen, flax.nnx or equinox, as jaxdl models.

Each adapter turns a model of that library into an object with the jaxdl model protocol,

    params, state = model.init(key)
    outputs, state = model.apply(params, state, x, *, train, key=None, hp=None, mask=None)

so ``jaxdl.fit``, early stopping, checkpoints and sweeps train it. None of these libraries is a
dependency of jaxdl, and jaxdl never imports them: an adapter uses the library the user's own
code has already imported to build the model (:func:`user_library`). The models' own dropout
rates are fixed inside them (the adapters read no ``hp``) and ``mask`` is not used, so batch
statistics of a partial last mini-batch include its padded rows (``Trainer(drop_remainder=True)``
avoids those).

    model = LinenModel(MyLinenNet(), input_shape=(64,))          # __call__(x, train)
    model = NnxModel(lambda rngs: MyNnxNet(rngs=rngs))           # nnx.Dropout/BatchNorm inside
    model = EqxModel(lambda key: MyEqxNet(key))                  # __call__(x, state, *, key,
                                                                 #          inference) per example
    jaxdl.fit(jaxdl.Trainer(model), x, y)

A saved model that holds an adapted model is loaded with ``load_model(path, model=...)``: the
wrapped module is code of the user's, which a file never names for import.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def user_library(name: str) -> Any:
    """The module ``name`` (``"flax.nnx"``, ``"equinox"``) as the user's code imported it; jaxdl
    imports neither. A model built with it means it is loaded.

    >>> import math
    >>> user_library("math") is math
    True
    """
    module = sys.modules.get(name)
    if module is None:
        raise ImportError(f"{name} is not imported: build the model with it first "
                          f"(import {name}); jaxdl does not import it for you")
    return module


@dataclasses.dataclass(frozen=True)
class LinenModel:
    """A ``flax.linen`` module whose ``__call__(x, train)`` gets the batch; ``"params"`` are the
    params, every other collection (``"batch_stats"``) is the state; dropout draws from the
    ``"dropout"`` rng.

    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as nn
    >>> from jaxdl.adapters import LinenModel
    >>> class Net(nn.Module):
    ...     @nn.compact
    ...     def __call__(self, x, train):
    ...         return nn.Dense(3)(x)
    >>> model = LinenModel(Net(), input_shape=(4,))
    >>> params, state = model.init(jax.random.key(0))
    >>> model.apply(params, state, jnp.ones((2, 4)), train=False)[0].shape
    (2, 3)
    """

    module: Any
    input_shape: tuple[int, ...]

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        variables = dict(self.module.init(key, jnp.zeros((1, *self.input_shape)), train=False))
        return variables.pop("params"), variables

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        variables = {"params": params, **state}
        if not (train and state):
            rngs = {"dropout": key} if train and key is not None else None
            return self.module.apply(variables, x, train=train, rngs=rngs), state
        rngs = {"dropout": key} if key is not None else None
        y, updates = self.module.apply(variables, x, train=True, rngs=rngs, mutable=list(state))
        return y, {**state, **updates}


@dataclasses.dataclass(frozen=True, eq=False)
class NnxModel:
    """A ``flax.nnx`` module built by ``make(rngs)``; ``nnx.Param`` are the params, everything
    else (batch statistics, rng counters) the state. ``train``/``eval`` modes are set with
    ``module.train()``/``module.eval()`` and dropout reseeded from ``key`` every step.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from jaxdl.adapters import NnxModel
    >>> model = NnxModel(lambda rngs: nnx.Linear(4, 3, rngs=rngs))
    >>> params, state = model.init(jax.random.key(0))
    >>> model.apply(params, state, jnp.ones((2, 4)), train=False)[0].shape
    (2, 3)
    """

    make: Callable[[Any], Any]
    graphdef: Any = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        nnx = user_library("flax.nnx")

        abstract = nnx.eval_shape(lambda: self.make(nnx.Rngs(0)))
        object.__setattr__(self, "graphdef", nnx.split(abstract, nnx.Param, ...)[0])

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        nnx = user_library("flax.nnx")

        parts: Any = nnx.split(self.make(nnx.Rngs(key)), nnx.Param, ...)
        return parts[1], parts[2]

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        nnx = user_library("flax.nnx")

        # fresh Variable objects at this trace level (nnx refuses to mutate outer-trace ones)
        params, state = jax.tree.map(lambda a: a, (params, state))
        module = nnx.merge(self.graphdef, params, state)
        module.train() if train else module.eval()
        if key is not None:
            nnx.reseed(module, dropout=key)
        y = module(x)
        parts: Any = nnx.split(module, nnx.Param, ...)
        return y, (parts[2] if train else state)


def _inexact(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array | jax.ShapeDtypeStruct) and jnp.issubdtype(
        leaf.dtype, jnp.inexact
    )


@dataclasses.dataclass(frozen=True, eq=False)
class EqxModel:
    """An equinox module built by ``make(key)`` that maps ONE example,
    ``__call__(x, state, *, key, inference) -> (y, state)`` (equinox's stateful convention;
    ``eqx.nn.BatchNorm(..., axis_name="batch")`` works). Its floating arrays are the params, the
    ``eqx.nn.State`` the state; the batch is ``vmap``-ed with axis name ``"batch"``.

    >>> import jax, jax.numpy as jnp
    >>> import equinox as eqx
    >>> from jaxdl.adapters import EqxModel
    >>> class Net(eqx.Module):
    ...     linear: eqx.nn.Linear
    ...     def __init__(self, key):
    ...         self.linear = eqx.nn.Linear(4, 3, key=key)
    ...     def __call__(self, x, state, *, key, inference):
    ...         return self.linear(x), state
    >>> model = EqxModel(Net)
    >>> params, state = model.init(jax.random.key(0))
    >>> model.apply(params, state, jnp.ones((2, 4)), train=False)[0].shape
    (2, 3)
    """

    make: Callable[[jax.Array], Any]
    static: Any = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        eqx = user_library("equinox")

        abstract, _ = eqx.filter_eval_shape(eqx.nn.make_with_state(self.make), jax.random.key(0))
        object.__setattr__(self, "static", eqx.partition(abstract, _inexact)[1])

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        eqx = user_library("equinox")

        module, state = eqx.nn.make_with_state(self.make)(key)
        return eqx.partition(module, _inexact)[0], state

    def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
        eqx = user_library("equinox")

        module = eqx.combine(params, self.static)
        keys = jax.random.split(key, len(x)) if key is not None else None

        def one(xi, st, ki):
            return module(xi, st, key=ki, inference=not train)

        key_axis = None if keys is None else 0
        batched = jax.vmap(one, axis_name="batch", in_axes=(0, None, key_axis), out_axes=(0, None))
        y, new_state = batched(x, state, keys)
        return y, (new_state if train else state)
