"""The multilayer perceptron: a frozen, hashable config whose model is a chain of layers.

For each hidden layer l (activations are batch-first, ``x @ W``):

    z_l = a_{l-1} @ W_l + b_l            (or batch_norm(a_{l-1} @ W_l) with gamma_l, beta_l)
    a_l = g(z_l)                          (relu, leaky_relu, tanh or sigmoid)
    a_l = dropout(a_l, keep_prob)         (training only, when enabled)

and the output layer is linear, ``logits = a_{L-1} @ W_L + b_L``. With batch norm a hidden layer
has no bias: the mean subtraction cancels it and ``beta`` takes its place.

The MLP has no forward pass of its own: :attr:`MLP.layers` is the chain

    Dense(n_l, use_bias=not batch_norm) [BatchNorm] Activation(g) [Dropout] ... Dense(n_out)

of :mod:`jaxdl.layers`, and ``init``/``apply`` are that chain's (as in
:meth:`MLP.as_sequential`), with the parameters kept in the MLP's own layout
``{"layers": [{"W", "b"} or {"W", "gamma", "beta"}, ...]}`` and the state in
``{"count", "layers": [{"mean", "var"}, ...]}`` (what checkpoints and saved models hold).
The l-th weight layer is initialized from ``split(key, L)[l]`` (``L`` weight layers) and in
training the l-th dropout layer draws its mask from ``split(key, L)[l]``.

``compute_dtype="bfloat16"`` is mixed precision: each ``a @ W`` (and the two matmuls of its
gradient) rounds both operands to bfloat16 and accumulates in float32
(:func:`jaxdl.layers.dense.bf16_matmul`); parameters, batch-norm statistics, activations,
gradients and the loss stay float32.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax

from jaxdl import init
from jaxdl.checks import check_features, check_finite, check_range
from jaxdl.layers.activations import ACTIVATIONS, Activation
from jaxdl.layers.combinators import Sequential, chain_apply, chain_init
from jaxdl.layers.dense import COMPUTE_DTYPES, Dense, bf16_matmul
from jaxdl.layers.dropout import Dropout
from jaxdl.layers.norm import BatchNorm
from jaxdl.typing import HyperParam

__all__ = ["ACTIVATIONS", "COMPUTE_DTYPES", "MLP", "bf16_matmul", "from_config"]

Params = dict[str, Any]
State = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class MLP:
    """An MLP with layer ``sizes = (n_x, n_h1, ..., n_out)``; ``n_out = 1`` means binary logits.

    Args:
      sizes: the widths of the input, every hidden layer and the output (at least two).
      activation: ``"relu"``, ``"leaky_relu"``, ``"tanh"`` or ``"sigmoid"``.
      initializer: a :data:`jaxdl.init.INITIALIZERS` name for the weights, e.g. ``"he"``.
      init_scale: the standard deviation of the ``"random_normal"`` initializer.
      batch_norm: normalize every hidden layer's ``z`` (with ``gamma``, ``beta``, no bias).
      dropout: apply inverted dropout after every hidden activation while training.
      bn_momentum: the running statistics' momentum (``hp["bn_momentum"]`` overrides it).
      bn_eps: added to the variance in batch norm.
      compute_dtype: ``"float32"``, or ``"bfloat16"`` for mixed-precision matmuls.

    Raises:
      ValueError: for bad sizes, an unknown activation, initializer or compute dtype, or a
        setting out of range.

    >>> import jax
    >>> import jax.numpy as jnp
    >>> from jaxdl.nn import MLP
    >>> model = MLP((2, 8, 3))
    >>> params, state = model.init(jax.random.key(0))
    >>> model.apply(params, state, jnp.ones((4, 2)), train=False)[0].shape
    (4, 3)
    """

    sizes: tuple[int, ...]
    activation: str = "relu"
    initializer: str = "he"
    init_scale: float = 0.01
    batch_norm: bool = False
    dropout: bool = False
    bn_momentum: float = 0.9
    bn_eps: float = 1e-5
    compute_dtype: str = "float32"

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        if len(sizes) < 2 or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            raise ValueError(
                f"sizes must be at least two positive integers (inputs, ..., outputs), "
                f"got {self.sizes!r}"
            )
        object.__setattr__(self, "sizes", sizes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        check_finite("init_scale", self.init_scale)
        check_range("init_scale", self.init_scale, 0.0)
        init.get(self.initializer, self.init_scale)
        check_range("bn_momentum", self.bn_momentum, 0.0, 1.0, high_open=True)
        check_range("bn_eps", self.bn_eps, 0.0, low_open=True)
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, "
                f"got {self.compute_dtype!r}"
            )

    @property
    def hyperparameters(self) -> frozenset[str]:
        """The names of ``hp`` that :meth:`apply` reads: ``keep_prob`` with dropout,
        ``bn_momentum`` with batch norm."""
        return frozenset(
            name for name, on in (("keep_prob", self.dropout), ("bn_momentum", self.batch_norm))
            if on
        )

    def to_config(self) -> dict[str, Any]:
        """The fields as a JSON-able dict; :func:`from_config` rebuilds the model.

        >>> from jaxdl.nn import MLP, from_config
        >>> from_config(MLP((2, 3, 1), dropout=True).to_config()) == MLP((2, 3, 1), dropout=True)
        True
        """
        config = dataclasses.asdict(self)
        config["sizes"] = list(self.sizes)
        return config

    def compile_key(self, train: bool = True) -> MLP:
        """This model with the fields an epoch never reads (the initializer) set to fixed values,
        and for evaluation (``train=False``) dropout off too, so compiled programs are shared."""
        model = dataclasses.replace(self, initializer="he", init_scale=1.0)
        return model if train else dataclasses.replace(model, dropout=False)

    # Names a sweep config may set (see :meth:`with_structure`).
    STRUCTURAL = (
        "activation", "initializer", "init_scale", "batch_norm", "dropout", "bn_eps",
        "hidden_units", "num_layers",
    )  # fmt: skip

    def with_structure(self, structural: Mapping[str, Any]) -> MLP:
        """This model with a sweep config's structural values applied: fields by name, and
        ``hidden_units`` (an int for every hidden layer, or a tuple of widths) with
        ``num_layers`` (hidden layers) rebuilding the sizes between the input and output
        widths: ``(n_x, *[hidden_units] * num_layers, n_out)``.

        >>> from jaxdl.nn import MLP
        >>> MLP((2, 8, 1)).with_structure({"hidden_units": 4, "num_layers": 2}).sizes
        (2, 4, 4, 1)
        """
        unknown = sorted(set(structural) - set(self.STRUCTURAL))
        if unknown:
            raise ValueError(
                f"MLP has no structural setting(s) {unknown}; valid: {self.STRUCTURAL}"
            )
        hidden = list(self.sizes[1:-1])
        if "hidden_units" in structural or "num_layers" in structural:
            units = structural.get("hidden_units", hidden[0] if hidden else None)
            depth = structural.get("num_layers", len(hidden))
            if isinstance(units, tuple):
                if "num_layers" in structural and depth != len(units):
                    raise ValueError(
                        f"num_layers={depth} disagrees with hidden_units={units}; give one of them"
                    )
                hidden = list(units)
            else:
                if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                    raise ValueError(f"num_layers must be an int >= 0, got {depth!r}")
                if units is None and depth > 0:
                    raise ValueError(
                        "num_layers > 0 on a model without hidden layers needs hidden_units"
                    )
                hidden = [units] * depth
        fields = {k: v for k, v in structural.items() if k not in ("hidden_units", "num_layers")}
        return dataclasses.replace(
            self, sizes=(self.sizes[0], *hidden, self.sizes[-1]), **fields
        )

    @property
    def num_layers(self) -> int:
        """Number of weight layers (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    @property
    def layers(self) -> tuple[Any, ...]:
        """The chain of layers this MLP is (its forward pass).

        >>> from jaxdl.nn import MLP
        >>> [type(layer).__name__ for layer in MLP((2, 4, 1), batch_norm=True).layers]
        ['Dense', 'BatchNorm', 'Activation', 'Dense']
        """
        return _chain(self)

    def as_sequential(self) -> Sequential:
        """This MLP as a :class:`jaxdl.layers.Sequential` (the same layers; params and state in
        the Sequential's per-layer layout, see :meth:`to_layer_trees`).

        >>> import jax, jax.numpy as jnp
        >>> from jaxdl.nn import MLP
        >>> mlp = MLP((4, 8, 3))
        >>> seq = mlp.as_sequential()
        >>> seq.layers[:2]
        (Dense(units=8, use_bias=True, initializer='he', init_scale=0.01), Activation(name='relu'))
        >>> params, state = mlp.init(jax.random.key(0))
        >>> x = jnp.ones((2, 4))
        >>> bool((seq.apply(*mlp.to_layer_trees(params, state), x, train=False)[0]
        ...       == mlp.apply(params, state, x, train=False)[0]).all())
        True
        """
        return Sequential(*self.layers, input_shape=(self.sizes[0],))

    def to_layer_trees(
        self, params: Params, state: State
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``(params, state)`` in the layout of :meth:`as_sequential` (one entry per layer;
        arrays are shared, nothing is computed).

        >>> import jax
        >>> from jaxdl.nn import MLP
        >>> mlp = MLP((4, 8, 3), batch_norm=True)
        >>> params, state = mlp.to_layer_trees(*mlp.init(jax.random.key(0)))
        >>> [sorted(p) for p in params], sorted(state[1])
        ([['W'], ['beta', 'gamma'], [], ['W', 'b']], ['count', 'mean', 'var'])
        """
        new_params: list[Any] = []
        new_state: list[Any] = []
        l = -1
        for layer in self.layers:
            if isinstance(layer, Dense):
                l += 1
                weights = params["layers"][l]
                new_params.append({k: weights[k] for k in ("W", "b") if k in weights})
                new_state.append({})
            elif isinstance(layer, BatchNorm):
                weights = params["layers"][l]
                new_params.append({"gamma": weights["gamma"], "beta": weights["beta"]})
                new_state.append({**state["layers"][l], "count": state["count"]})
            else:
                new_params.append({})
                new_state.append({})
        return tuple(new_params), tuple(new_state)

    def from_layer_trees(self, params: Any, state: Any) -> tuple[Params, State]:
        """The inverse of :meth:`to_layer_trees`: ``(params, state)`` in the MLP's layout.

        >>> import jax
        >>> from jaxdl.nn import MLP
        >>> mlp = MLP((4, 8, 3), batch_norm=True)
        >>> params, state = mlp.as_sequential().init(jax.random.key(0))
        >>> params, state = mlp.from_layer_trees(params, state)
        >>> [sorted(p) for p in params["layers"]], sorted(state)
        ([['W', 'beta', 'gamma'], ['W', 'b']], ['count', 'layers'])
        """
        weights: list[Params] = []
        stats: list[Any] = []
        count = None
        for layer, p, s in zip(self.layers, params, state):
            if isinstance(layer, Dense):
                weights.append({"W": p["W"], **({"b": p["b"]} if "b" in p else {})})
            elif isinstance(layer, BatchNorm):
                weights[-1] = {**weights[-1], "gamma": p["gamma"], "beta": p["beta"]}
                stats.append({k: v for k, v in s.items() if k != "count"})
                count = s["count"] if count is None else count
        new_state = {"count": count, "layers": stats} if self.batch_norm else {}
        return {"layers": weights}, new_state

    def init(self, key: jax.Array) -> tuple[Params, State]:
        """Fresh ``(params, state)``: weights from the initializer, biases and beta 0, gamma 1
        (the layers' init; the l-th weight layer draws from ``split(key, L)[l]``)."""
        _, params, state = chain_init(self.layers, key, (self.sizes[0],))
        return self.from_layer_trees(params, state)

    def apply(
        self,
        params: Params,
        state: State,
        x: jax.Array,
        *,
        train: bool,
        key: jax.Array | None = None,
        hp: Mapping[str, HyperParam] | None = None,
        mask: jax.Array | None = None,
    ) -> tuple[jax.Array, State]:
        """Forward pass to logits; returns ``(logits, new_state)`` (the layers' apply).

        ``hp["keep_prob"]`` sets dropout (needs ``key`` when training) and ``hp["bn_momentum"]``
        may override the config's; ``mask`` (batch,) weights rows in the batch-norm statistics.
        """
        check_features("x", x, width=self.sizes[0])
        if train and self.dropout and key is None:
            raise ValueError("dropout is on and train=True: pass key=jax.random.key(...)")
        layer_params, layer_state = self.to_layer_trees(params, state)
        # One key per weight layer, as this MLP always split them: the same masks for a key.
        y, new_state = chain_apply(
            self.layers, layer_params, layer_state, x, train=train, key=key,
            hp={} if hp is None else hp, mask=mask, num_keys=self.num_layers,
        )
        if not (self.batch_norm and train):
            return y, state
        return y, self.from_layer_trees(layer_params, new_state)[1]


@functools.lru_cache(maxsize=256)
def _chain(mlp: MLP) -> tuple[Any, ...]:
    """``Dense(n_l, use_bias=not batch_norm) [BatchNorm] Activation [Dropout] ... Dense(n_out)``
    (built once per config: an MLP is hashable)."""
    dense = functools.partial(Dense, initializer=mlp.initializer, init_scale=mlp.init_scale,
                              compute_dtype=mlp.compute_dtype)
    chain: list[Any] = []
    for units in mlp.sizes[1:-1]:
        chain.append(dense(units, use_bias=not mlp.batch_norm))
        if mlp.batch_norm:
            chain.append(BatchNorm(momentum=mlp.bn_momentum, eps=mlp.bn_eps))
        chain.append(Activation(mlp.activation))
        if mlp.dropout:
            chain.append(Dropout())
    chain.append(dense(mlp.sizes[-1]))
    return tuple(chain)


def from_config(config: Mapping[str, Any]) -> MLP:
    """The :class:`MLP` of :meth:`MLP.to_config`.

    Args:
      config: a dict of :class:`MLP` fields (``sizes`` may be a list, as in JSON).

    Returns:
      The model.

    Raises:
      TypeError: for a config that is not a mapping.
      ValueError: for a key that is not an :class:`MLP` field.

    >>> from jaxdl.nn import MLP, from_config
    >>> from_config({"sizes": [2, 4, 1], "activation": "tanh"}) == MLP((2, 4, 1), activation="tanh")
    True
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict made by MLP.to_config(), got {config!r}")
    unknown = sorted(set(config) - {f.name for f in dataclasses.fields(MLP)})
    if unknown:
        raise ValueError(f"unknown MLP config key(s) {unknown}")
    return MLP(**{**config, "sizes": tuple(config["sizes"])})
