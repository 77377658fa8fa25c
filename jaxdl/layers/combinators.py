"""Composition: ``Sequential`` (a model: layers applied in order) and ``Residual`` (a layer:
``y = x + f(x)`` for a chain ``f`` that keeps the shape).

Keys: the layers that draw randomness get one key each, ``split(key, n)[i]`` for the i-th of
the ``n`` such layers, in order (at init the layers with random weights, in training the dropout
layers); layers that draw none take no key, so inserting a ``Flatten`` or an activation never
changes another layer's weights or masks. Params and state are tuples with one entry per layer
(``{}`` for a layer without any).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.layers import base
from jaxdl.layers.base import Layer, PyTree, Shape, register


def chain_init(
    layers: Sequence[Any], key: jax.Array | None, input_shape: Shape
) -> tuple[Shape, tuple[Any, ...], tuple[Any, ...]]:
    """Initialize ``layers`` in order, each on the previous one's output shape."""
    users = [base.init_draws_key(layer) for layer in layers]
    if any(users) and key is None:
        raise ValueError("initializing layers with random weights needs key=jax.random.key(...)")
    keys = iter(base.split_for(key, sum(users)))
    shape, params, state = tuple(input_shape), [], []
    for layer, uses in zip(layers, users):
        shape, p, s = layer.init(next(keys) if uses else None, shape)
        shape = tuple(int(d) for d in shape)
        params.append(p)
        state.append(s)
    return shape, tuple(params), tuple(state)


def chain_apply(
    layers: Sequence[Any],
    params: Sequence[PyTree],
    state: Sequence[PyTree],
    x: jax.Array,
    *,
    train: bool,
    key: jax.Array | None,
    hp: Mapping[str, Any] | None,
    mask: jax.Array | None,
    num_keys: int | None = None,
) -> tuple[jax.Array, tuple[Any, ...]]:
    """Apply ``layers`` in order, threading each layer's state; returns ``(y, new_state)``.

    The i-th layer that draws randomness gets ``split(key, n)[i]``, ``n`` the number of such
    layers, or ``num_keys`` (at least that many) when given: a model whose keys were always
    split ``num_keys`` ways (the MLP: one per weight layer) keeps its dropout masks."""
    if len(params) != len(layers) or len(state) != len(layers):
        raise ValueError(
            f"params and state need one entry per layer ({len(layers)}), got "
            f"{len(params)} and {len(state)}; build them with init"
        )
    users = [base.draws_key(layer, train) for layer in layers]
    if any(users) and key is None:
        names = ", ".join(type(layer).__name__ for layer, u in zip(layers, users) if u)
        raise ValueError(
            f"{names} draw(s) randomness with train={train}: pass key=jax.random.key(...)"
        )
    keys = iter(base.split_for(key, sum(users) if num_keys is None or not any(users)
                                else max(num_keys, sum(users))))
    new_state = []
    for layer, p, s, uses in zip(layers, params, state, users):
        x, s = layer.apply(p, s, x, train=train, key=next(keys) if uses else None, hp=hp, mask=mask)
        new_state.append(s)
    return x, tuple(new_state)


def _check_layers(owner: str, layers: Sequence[Any]) -> tuple[Any, ...]:
    if not layers:
        raise ValueError(f"{owner} needs at least one layer")
    for i, layer in enumerate(layers):
        base.check_layer(layer, f"{owner} layer {i}")
    return tuple(layers)


def _union_hyperparameters(layers: Sequence[Any]) -> frozenset[str]:
    return frozenset().union(*(base.hyperparameters(layer) for layer in layers))


@register
class Residual(Layer):
    """``y = x + f(x)``, ``f`` the chain of ``layers``; ``f`` must keep the shape.

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl.layers import Dense, Residual
    >>> block = Residual(Dense(4), Dense(4))
    >>> shape, params, state = block.init(jax.random.key(0), (4,))
    >>> block.apply(params, state, jnp.ones((2, 4)), train=False)[0].shape
    (2, 4)
    """

    layers: tuple[Any, ...]

    def __init__(self, *layers: Any) -> None:
        object.__setattr__(self, "layers", _check_layers("Residual", layers))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Residual is immutable; cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return type(other) is Residual and other.layers == self.layers

    def __hash__(self) -> int:
        return hash((Residual, self.layers))

    def __repr__(self) -> str:
        return f"Residual({', '.join(map(repr, self.layers))})"

    @property
    def init_draws_key(self) -> bool:  # type: ignore[override]
        """Whether any inner layer draws random weights."""
        return any(base.init_draws_key(layer) for layer in self.layers)

    def draws_key(self, train: bool) -> bool:
        """Whether any inner layer draws randomness in this mode."""
        return any(base.draws_key(layer, train) for layer in self.layers)

    @property
    def hyperparameters(self) -> frozenset[str]:
        """The union over the inner layers."""
        return _union_hyperparameters(self.layers)

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """The inner chain's params and state; its output shape must equal ``input_shape``."""
        shape, params, state = chain_init(self.layers, key, input_shape)
        if shape != tuple(input_shape):
            raise ValueError(
                f"Residual's layers map shape {tuple(input_shape)} to {shape}; x + f(x) needs "
                "them equal (keep the width, or use padding='SAME' and the same channels)"
            )
        return shape, params, state

    def apply(
        self,
        params: PyTree,
        state: PyTree,
        x: jax.Array,
        *,
        train: bool,
        key: jax.Array | None = None,
        hp: Mapping[str, Any] | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[jax.Array, PyTree]:
        """``x + f(x)`` with the inner layers' new state."""
        y, state = chain_apply(
            self.layers, params, state, x, train=train, key=key, hp=hp, mask=mask
        )
        return x + y, state

    def to_config(self) -> dict[str, Any]:
        """``{"type": "Residual", "layers": [...]}``."""
        return {"type": "Residual", "layers": [layer.to_config() for layer in self.layers]}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Residual:
        return cls(*fields.pop("layers"), **fields)


@register
class Sequential:
    """A model made of ``layers`` applied in order to inputs of shape ``(batch, *input_shape)``:
    ``init(key) -> (params, state)`` and ``apply(params, state, x, *, train, key, hp, mask)
    -> (outputs, state)`` (the jaxdl model protocol).

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl.layers import Dense, Relu, Sequential
    >>> model = Sequential(Dense(16), Relu(), Dense(3), input_shape=(4,))
    >>> params, state = model.init(jax.random.key(0))
    >>> model.apply(params, state, jnp.ones((2, 4)), train=False)[0].shape
    (2, 3)
    """

    is_model = True
    layers: tuple[Any, ...]
    input_shape: Shape
    output_shape: Shape

    def __init__(self, *layers: Any, input_shape: Sequence[int]) -> None:
        layers = _check_layers("Sequential", layers)
        try:
            shape = tuple(int(d) for d in input_shape)
        except TypeError as err:
            raise TypeError(
                f"input_shape must be a tuple of ints (one example's shape, without the batch "
                f"axis), got {input_shape!r}"
            ) from err
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"input_shape must be positive ints, got {input_shape!r}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "output_shape", self._infer_output_shape())

    def _infer_output_shape(self) -> Shape:
        """Shape inference without computing anything (``jax.eval_shape`` of ``init``)."""
        found: list[Shape] = []

        def init(key: jax.Array) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
            shape, params, state = chain_init(self.layers, key, self.input_shape)
            found.append(shape)
            return params, state

        jax.eval_shape(init, jax.random.key(0))
        return found[0]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Sequential is immutable; cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return (type(other) is Sequential and other.layers == self.layers
                and other.input_shape == self.input_shape)

    def __hash__(self) -> int:
        return hash((Sequential, self.layers, self.input_shape))

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, self.layers))
        return f"Sequential({inner}, input_shape={self.input_shape})"

    @property
    def hyperparameters(self) -> frozenset[str]:
        """Names of ``hp`` any layer reads (``keep_prob``, ``bn_momentum``)."""
        return _union_hyperparameters(self.layers)

    def init(self, key: jax.Array) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Fresh ``(params, state)``, one entry per layer."""
        _, params, state = chain_init(self.layers, key, self.input_shape)
        return params, state

    def apply(
        self,
        params: PyTree,
        state: PyTree,
        x: jax.Array,
        *,
        train: bool,
        key: jax.Array | None = None,
        hp: Mapping[str, Any] | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[jax.Array, tuple[Any, ...]]:
        """Outputs ``(batch, *output_shape)`` and the new state (unchanged when not training).

        ``key`` is needed when ``train=True`` and a layer draws randomness (dropout); ``hp``
        holds the traced hyperparameters the layers read; ``mask`` (batch,) weights rows in
        batch-norm statistics (0 for padding).
        """
        shape = np.shape(x)
        if tuple(shape[1:]) != self.input_shape or len(shape) < 2 or shape[0] == 0:
            raise ValueError(
                f"x must have shape (batch, {', '.join(map(str, self.input_shape))}) for this "
                f"model's input_shape={self.input_shape}, got {tuple(shape)}"
            )
        if mask is not None and np.shape(mask) != shape[:1]:
            raise ValueError(f"mask must have shape ({shape[0]},), got {np.shape(mask)}")
        return chain_apply(self.layers, params, state, x, train=train, key=key, hp=hp, mask=mask)

    @property
    def num_params(self) -> int:
        """Number of trainable scalars."""
        params, _ = jax.eval_shape(self.init, jax.random.key(0))
        return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))

    def to_config(self) -> dict[str, Any]:
        """``{"type": "Sequential", "layers": [...], "input_shape": [...]}`` (JSON-able)."""
        return {
            "type": "Sequential",
            "layers": [layer.to_config() for layer in self.layers],
            "input_shape": list(self.input_shape),
        }

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Sequential:
        return cls(*fields.pop("layers"), **fields)

    def summary(self) -> None:
        """Print :func:`summary`'s table: each layer's output shape and parameter count, and
        the totals (as Keras' ``model.summary()``).

        >>> from jaxdl.layers import Dense, Relu, Sequential
        >>> Sequential(Dense(16), Relu(), Dense(3), input_shape=(4,)).summary()
        Layer                 Output shape        Params
        ------------------------------------------------
        0 Dense               (16,)                   80
        1 Activation(relu)    (16,)                    0
        2 Dense               (3,)                    51
        ------------------------------------------------
        Input shape (4,)
        Trainable params: 131
        Non-trainable state: 0
        """
        print(summary(self))


def _label(layer: Any) -> str:
    """The layer's class name, with its ``name`` field when it has one (``Activation(relu)``)."""
    name = getattr(layer, "name", None)
    return type(layer).__name__ + (f"({name})" if isinstance(name, str) else "")


def summary(model: Any, input_shape: Sequence[int] | None = None) -> str:
    """A table of the layers of ``model`` (a :class:`Sequential`, or a layer or list of layers
    with ``input_shape``): output shape (without the batch axis) and number of trainable
    parameters per layer, then the totals and the non-trainable state (batch-norm running
    statistics). Nothing is computed: the shapes come from ``jax.eval_shape`` of ``init``.

    >>> from jaxdl.layers import BatchNorm, Conv, Flatten, summary
    >>> print(summary([Conv(4, (3,)), BatchNorm(), Flatten()], input_shape=(8, 2)))
    Layer          Output shape        Params
    -----------------------------------------
    0 Conv         (8, 4)                  28
    1 BatchNorm    (8, 4)                   8
    2 Flatten      (32,)                    0
    -----------------------------------------
    Input shape (8, 2)
    Trainable params: 36
    Non-trainable state: 9
    """
    if isinstance(model, Sequential):
        layers, shape = model.layers, model.input_shape
        if input_shape is not None and tuple(input_shape) != shape:
            raise ValueError(
                f"input_shape {tuple(input_shape)} differs from the model's {shape}; leave it out"
            )
    else:
        layers = _check_layers("summary", list(model) if isinstance(model, Sequence)
                               else [model])
        if input_shape is None:
            raise ValueError("summary of layers needs input_shape=(...) (one example's shape)")
        shape = tuple(int(d) for d in input_shape)
    found: list[Shape] = []

    def init(key: jax.Array) -> tuple[list[Any], list[Any]]:
        current: Shape = shape
        params: list[Any] = []
        state: list[Any] = []
        for layer in layers:
            current, p, s = layer.init(key if base.init_draws_key(layer) else None, current)
            current = tuple(int(d) for d in current)
            found.append(current)
            params.append(p)
            state.append(s)
        return params, state

    params, state = jax.eval_shape(init, jax.random.key(0))

    def count(tree: Any) -> int:
        return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))

    names = [f"{i} {_label(layer)}" for i, layer in enumerate(layers)]
    shapes = [str(s) for s in found]
    counts = [f"{count(p):,}" for p in params]
    width = max(len(n) for n in ["Layer", *names]) + 4
    shape_width = max(len(s) for s in ["Output shape", *shapes]) + 4
    count_width = max(len(c) for c in ["Params", *counts]) + 4
    rule = "-" * (width + shape_width + count_width)
    lines = [f"{'Layer':<{width}}{'Output shape':<{shape_width}}{'Params':>{count_width}}", rule]
    lines += [f"{n:<{width}}{s:<{shape_width}}{c:>{count_width}}"
              for n, s, c in zip(names, shapes, counts)]
    lines += [
        rule,
        f"Input shape {shape}",
        f"Trainable params: {count(params):,}",
        f"Non-trainable state: {count(state):,}",
    ]
    return "\n".join(lines)


__all__ = ["Residual", "Sequential", "chain_apply", "chain_init", "summary"]
