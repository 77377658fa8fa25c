"""The multilayer perceptron: a frozen, hashable config plus pure ``init`` and ``apply``.

For each hidden layer l (activations are batch-first, ``x @ W``):

    z_l = a_{l-1} @ W_l + b_l            (or batch_norm(a_{l-1} @ W_l) with gamma_l, beta_l)
    a_l = g(z_l)                          (relu, leaky_relu, tanh or sigmoid)
    a_l = dropout(a_l, keep_prob)         (training only, when enabled)

and the output layer is linear, ``logits = a_{L-1} @ W_L + b_L``. With batch norm a hidden layer
has no bias: the mean subtraction cancels it and ``beta`` takes its place.

``compute_dtype="bfloat16"`` is mixed precision: each ``a @ W`` (and the two matmuls of its
gradient) rounds both operands to bfloat16 and accumulates in float32; parameters, batch-norm
statistics, activations, gradients and the loss stay float32.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import batchnorm, init
from jaxdl.checks import check_features, check_finite, check_range
from jaxdl.dropout import dropout, split
from jaxdl.typing import HyperParam

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "leaky_relu": functools.partial(jax.nn.leaky_relu, negative_slope=0.01),
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
}

COMPUTE_DTYPES = ("float32", "bfloat16")

Params = dict[str, Any]


@jax.custom_vjp
def bf16_matmul(a: jax.Array, w: jax.Array) -> jax.Array:
    """``r(a) @ r(w)`` in float32, with ``r`` rounding to bfloat16. Its gradients are
    ``r(g) @ r(w).T`` and ``r(a).T @ r(g)`` (``g`` the float32 output cotangent), so every matmul
    of training runs on bfloat16 operands with float32 accumulation."""
    return _dot_bf16(a, w)


def _dot_bf16(a: jax.Array, w: jax.Array) -> jax.Array:
    a, w = a.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
    # XLA:CPU has no batched bfloat16 x bfloat16 -> float32 dot (a vmapped sweep needs one).
    # There the rounded operands are multiplied in float32, which gives the same numbers:
    # a product of two bfloat16 values is exact in float32.
    return jax.lax.platform_dependent(
        a,
        w,
        cpu=lambda a, w: jnp.matmul(a.astype(jnp.float32), w.astype(jnp.float32)),
        default=lambda a, w: jnp.matmul(a, w, preferred_element_type=jnp.float32),
    )


def _bf16_matmul_fwd(a: jax.Array, w: jax.Array):
    return _dot_bf16(a, w), (a.astype(jnp.bfloat16), w.astype(jnp.bfloat16))


def _bf16_matmul_bwd(residuals, g: jax.Array):
    a, w = residuals
    return _dot_bf16(g, w.T), _dot_bf16(a.T, g)


bf16_matmul.defvjp(_bf16_matmul_fwd, _bf16_matmul_bwd)
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

    def init(self, key: jax.Array) -> tuple[Params, State]:
        """Fresh ``(params, state)``: weights from the initializer, biases and beta 0, gamma 1."""
        weight_init = init.get(self.initializer, self.init_scale)
        keys = jax.random.split(key, self.num_layers)
        layers, stats = [], []
        for l, (k, n_in, n_out) in enumerate(zip(keys, self.sizes[:-1], self.sizes[1:])):
            layer = {"W": weight_init(k, (n_in, n_out), jnp.float32)}
            if self.batch_norm and l < self.num_layers - 1:
                layer["gamma"] = jnp.ones((n_out,), jnp.float32)
                layer["beta"] = jnp.zeros((n_out,), jnp.float32)
                stats.append(batchnorm.init_stats(n_out))
            else:
                layer["b"] = jnp.zeros((n_out,), jnp.float32)
            layers.append(layer)
        state = {"count": jnp.zeros((), jnp.int32), "layers": stats} if self.batch_norm else {}
        return {"layers": layers}, state

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
        """Forward pass to logits; returns ``(logits, new_state)``.

        ``hp["keep_prob"]`` sets dropout (needs ``key`` when training) and ``hp["bn_momentum"]``
        may override the config's; ``mask`` (batch,) weights rows in the batch-norm statistics.
        """
        check_features("x", x, width=self.sizes[0])
        hp = {} if hp is None else hp
        keys = None  # one dropout key per layer, when dropout is on and training
        if train and self.dropout:
            if key is None:
                raise ValueError("dropout is on and train=True: pass key=jax.random.key(...)")
            keys = split(key, self.num_layers)
        momentum = hp.get("bn_momentum", self.bn_momentum)
        act = ACTIVATIONS[self.activation]
        a = x
        new_stats: list[batchnorm.Stats] = []
        for l, layer in enumerate(params["layers"]):
            z = self._matmul(a, layer["W"])
            if l == self.num_layers - 1:
                return z + layer["b"], self._next_state(state, new_stats, train)
            if self.batch_norm:
                z, stats = batchnorm.batch_norm(
                    z, layer["gamma"], layer["beta"], state["layers"][l], state["count"],
                    train=train, momentum=momentum, eps=self.bn_eps, mask=mask,
                )
                new_stats.append(stats)
            else:
                z = z + layer["b"]
            a = act(z)
            if keys is not None:
                a = dropout(keys[l], a, hp.get("keep_prob", 1.0))
        raise AssertionError("unreachable: the output layer returns")

    def _matmul(self, a: jax.Array, w: jax.Array) -> jax.Array:
        """``a @ w``, with bfloat16 operands and a float32 result under mixed precision."""
        if self.compute_dtype == "float32":
            return a @ w
        return bf16_matmul(a.astype(jnp.float32), w.astype(jnp.float32))

    def _next_state(self, state: State, new_stats: list[batchnorm.Stats], train: bool) -> State:
        if not (self.batch_norm and train):
            return state
        return {"count": state["count"] + 1, "layers": new_stats}


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
