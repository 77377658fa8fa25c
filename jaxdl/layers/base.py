"""What every layer shares: the layer protocol, key bookkeeping and the config round trip.

A layer is a frozen (hashable) dataclass with two pure functions:

    init(key, input_shape) -> (output_shape, params, state)      input_shape excludes the batch
    apply(params, state, x, *, train, key=None, hp=None, mask=None) -> (y, new_state)

``params`` are trained by gradient descent, ``state`` is everything else a layer carries between
steps (batch-norm running statistics); both are pytrees, ``{}`` when a layer has none.
Randomness comes only from ``key``: a layer says whether its ``init`` draws from a key
(``init_draws_key``) and whether ``apply`` does (``draws_key(train)``), so a container hands keys
only to the layers that use them. ``hp`` is the flat dict of traced float32 hyperparameters; a
layer names the entries it reads in ``hyperparameters``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import jax

from jaxdl.dropout import split
from jaxdl.typing import PyTree as PyTree  # the layer modules import it from here

Shape = tuple[int, ...]

_REGISTRY: dict[str, Any] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` rebuildable by :func:`from_config` under its class name,
    so a model holding your own layer saves and loads (``save_model`` / ``load_model``).

    A layer of your own subclasses :class:`Layer` as a frozen (hashable) dataclass of
    JSON-able fields, with ``init(key, input_shape) -> (output_shape, params, state)`` and
    ``apply(params, state, x, *, train, key=None, hp=None, mask=None) -> (y, state)``.

    >>> import dataclasses, jax, jax.numpy as jnp
    >>> from jaxdl import layers
    >>> @layers.register
    ... @dataclasses.dataclass(frozen=True)
    ... class Scale(layers.Layer):
    ...     factor: float = 2.0
    ...     def init(self, key, input_shape):
    ...         return tuple(input_shape), {}, {}
    ...     def apply(self, params, state, x, *, train, key=None, hp=None, mask=None):
    ...         return self.factor * x, state
    >>> model = layers.Sequential(Scale(3.0), layers.Dense(1), input_shape=(2,))
    >>> layers.from_config(model.to_config()) == model
    True
    """
    _REGISTRY[cls.__name__] = cls
    return cls


class Layer:
    """Base of the built-in layers: no randomness, no hyperparameters, a dataclass config.

    >>> from jaxdl.layers import Layer
    >>> from jaxdl import layers
    >>> isinstance(layers.Dense(3), Layer), layers.Dense(3).init_draws_key
    (True, True)
    """

    init_draws_key: ClassVar[bool] = False

    @property
    def hyperparameters(self) -> frozenset[str]:
        """Names of ``hp`` entries this layer reads."""
        return frozenset()

    def draws_key(self, train: bool) -> bool:
        """Whether ``apply`` needs a PRNG key in this mode."""
        del train
        return False

    def init(self, key: jax.Array | None, input_shape: Shape) -> tuple[Shape, PyTree, PyTree]:
        """``(output_shape, params, state)`` for inputs of ``input_shape`` (no batch axis)."""
        raise NotImplementedError

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
        """``(y, new_state)``."""
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """A JSON-able dict that :func:`jaxdl.layers.from_config` turns back into this layer."""
        fields = {
            f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(cast(Any, self))
        }
        return {"type": type(self).__name__, **fields}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Layer:
        return cls(**fields)


def _encode(value: Any) -> Any:
    if hasattr(value, "to_config"):
        return value.to_config()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping) and "type" in value:
        return from_config(value)
    if isinstance(value, list | tuple):
        return tuple(_decode(v) for v in value)
    return value


def from_config(config: Mapping[str, Any]) -> Any:
    """Rebuild a layer or a ``Sequential`` from its ``to_config()`` dict (JSON round trip safe).

    >>> from jaxdl import layers
    >>> layers.from_config(layers.Dense(3).to_config()) == layers.Dense(3)
    True
    """
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(
            f"config must be a dict with a 'type' entry (from to_config()), got {config!r}"
        )
    name = config["type"]
    if name not in _REGISTRY:
        raise ValueError(f"unknown layer type {name!r}; known types are {sorted(_REGISTRY)}")
    cls = _REGISTRY[name]
    fields = {k: _decode(v) for k, v in config.items() if k != "type"}
    try:
        return cls._from_fields(fields)
    except TypeError as err:
        raise ValueError(f"config for {name} does not fit its fields: {err}") from err


def check_layer(layer: Any, where: str) -> None:
    """``layer`` must have ``init`` and ``apply`` (and be hashable, for ``jit``)."""
    if getattr(layer, "is_model", False):
        raise TypeError(
            f"{where}: a {type(layer).__name__} is a model, not a layer; splat its layers "
            f"instead, e.g. Sequential(*block.layers, ...), or wrap them in Residual(...)"
        )
    if isinstance(layer, type) or not (callable(getattr(layer, "init", None))
                                       and callable(getattr(layer, "apply", None))):
        hint = f"; did you mean {layer.__name__}()?" if isinstance(layer, type) else ""
        raise TypeError(
            f"{where}: expected a layer with init(key, input_shape) and apply(...), "
            f"got {layer!r}{hint}"
        )
    try:
        hash(layer)
    except TypeError as err:
        raise TypeError(
            f"{where}: layer {layer!r} is not hashable; make it a frozen dataclass"
        ) from err


def init_draws_key(layer: Any) -> bool:
    """Whether ``layer.init`` draws from its key (False for layers that do not say)."""
    return bool(getattr(layer, "init_draws_key", False))


def draws_key(layer: Any, train: bool) -> bool:
    """Whether ``layer.apply`` draws from its key in this mode (False for layers that do not
    say)."""
    method = getattr(layer, "draws_key", None)
    return bool(method(train)) if callable(method) else False


def hyperparameters(layer: Any) -> frozenset[str]:
    """The ``hp`` names ``layer`` reads (none for layers that do not say)."""
    return frozenset(getattr(layer, "hyperparameters", frozenset()))


def split_for(key: jax.Array | None, users: int) -> list[jax.Array | None]:
    """``users`` keys split from ``key`` (the i-th user gets ``split(key, users)[i]``)."""
    if users == 0:
        return []
    if key is None:
        raise ValueError(f"{users} layer(s) draw randomness: pass key=jax.random.key(...)")
    return list(split(key, users))


def check_int_tuple(name: str, value: Any, length: int | None = None) -> tuple[int, ...]:
    """``value`` as a tuple of positive ints (an int is one entry); ``length`` if given."""
    items = (value,) if isinstance(value, int) else tuple(value)
    if not items or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in items):
        raise ValueError(f"{name} must be positive integers, got {value!r}")
    if length is not None and len(items) != length:
        if len(items) == 1:
            return items * length
        raise ValueError(f"{name} must have {length} entries, got {value!r}")
    return items


def check_padding(padding: Any) -> str:
    """``"SAME"`` or ``"VALID"`` (any case)."""
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()


def check_conv_padding(padding: Any, spatial_dims: int) -> str | tuple[tuple[int, int], ...]:
    """``"SAME"`` / ``"VALID"`` (any case), or explicit zero padding: one ``(low, high)`` pair
    of non-negative ints per spatial axis (a single pair is used for every axis).

    >>> from jaxdl.layers.base import check_conv_padding
    >>> check_conv_padding("same", 2), check_conv_padding([[1, 2]], 2)
    ('SAME', ((1, 2), (1, 2)))
    """
    hint = (
        f"padding must be 'SAME', 'VALID' or one (low, high) pair of non-negative ints per "
        f"spatial axis ({spatial_dims}), e.g. {((1, 1),) * spatial_dims}; got {padding!r}"
    )
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(hint)
        return padding.upper()
    try:
        pairs = tuple(tuple(pair) for pair in padding)
    except TypeError as err:
        raise ValueError(hint) from err
    if not pairs or any(
        len(pair) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in pair)
        for pair in pairs
    ):
        raise ValueError(hint)
    if len(pairs) == 1:
        pairs = pairs * spatial_dims
    if len(pairs) != spatial_dims:
        raise ValueError(hint)
    return tuple((int(lo), int(hi)) for lo, hi in pairs)
