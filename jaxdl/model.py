"""The model protocol every part of jaxdl trains, and an adapter for a pair of plain functions.

A model is any (hashable) object with

    params, state = model.init(key)
    outputs, state = model.apply(params, state, x, *, train, key=None, hp=None, mask=None)

``hp`` is the flat dict of traced float32 hyperparameters (``hp["keep_prob"]``, ...), ``mask`` an
optional (batch,) 0/1 row weight (padded rows of a partial mini-batch have weight 0) and ``key``
the step's dropout key. :class:`jaxdl.nn.MLP` is the built-in implementation;
:class:`Model` adapts two functions. Optional attributes: ``hyperparameters`` (the names of
``hp`` the model reads) and ``to_config()`` with a module-level ``from_config``.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax

from jaxdl.infra.deprecation import deprecated_aliases
from jaxdl.typing import PyTree

APPLY_OPTIONS = ("train", "key", "hp", "mask")


@runtime_checkable
class ModelLike(Protocol):
    """Anything with ``init(key) -> (params, state)`` and
    ``apply(params, state, x, *, train, key, hp, mask) -> (outputs, state)``.

    ``isinstance(obj, ModelLike)`` checks that both attributes exist; :func:`check_protocol`
    also requires them to be callable and the model hashable.

    Examples:
        >>> from jaxdl.model import ModelLike
        >>> from jaxdl.nn import MLP
        >>> isinstance(MLP((2, 1)), ModelLike), isinstance(object(), ModelLike)
        (True, False)
    """

    def init(self, key: jax.Array) -> tuple[PyTree, PyTree]: ...

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
    ) -> tuple[jax.Array, PyTree]: ...


@dataclasses.dataclass(frozen=True)
class Model:
    """A model from two functions.

    Stateless (default): ``init_fn(key) -> params`` and ``apply_fn(params, x, **options) ->
    outputs``, where ``options`` are those of ``train``, ``key``, ``hp`` and ``mask`` that
    ``apply_fn`` names in its signature (all of them if it takes ``**kwargs``); the state is
    ``{}``. With ``stateful=True`` the functions follow the protocol exactly: ``init_fn(key) ->
    (params, state)`` and ``apply_fn(params, state, x, *, train, key, hp, mask) -> (outputs,
    state)``. ``hyperparameters`` names the entries of ``hp`` that ``apply_fn`` reads (names
    beyond :mod:`jaxdl.hyperparams` are then accepted in ``hp`` and sweep configs).

    Two Models are equal when they hold the same function objects: use module-level functions
    (a fresh ``functools.partial`` or lambda per call is a new model, and compiles anew).

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl.model import Model
    >>> linear = Model(lambda key: {"w": jnp.ones((3, 1))}, lambda p, x: x @ p["w"])
    >>> params, state = linear.init(jax.random.key(0))
    >>> linear.apply(params, state, jnp.ones((2, 3)), train=False)[0].tolist()
    [[3.0], [3.0]]
    """

    init_fn: Callable[..., Any]
    apply_fn: Callable[..., Any]
    stateful: bool = False
    hyperparameters: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("init_fn", "apply_fn"):
            if not callable(getattr(self, name)):
                raise TypeError(
                    f"Model {name} must be a function, got {type(getattr(self, name)).__name__}"
                )
        if not isinstance(self.stateful, bool):
            raise TypeError(f"Model stateful must be True or False, got {self.stateful!r}")
        names = self.hyperparameters
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError(
                f"Model hyperparameters must be a set of names, got {self.hyperparameters!r}"
            )
        object.__setattr__(self, "hyperparameters", frozenset(names))

    def init(self, key: jax.Array) -> tuple[PyTree, PyTree]:
        """``(params, state)``; the state is ``{}`` for a stateless model."""
        out = self.init_fn(key)
        if not self.stateful:
            return out, {}
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"init_fn {display_name(self.init_fn)} of a stateful Model must return "
                f"(params, state), got {type(out).__name__}"
            )
        return out

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
        """``(outputs, state)`` of ``apply_fn``."""
        options = {"train": train, "key": key, "hp": hp, "mask": mask}
        if self.stateful:
            out = self.apply_fn(params, state, x, **options)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(
                    f"apply_fn {display_name(self.apply_fn)} of a stateful Model must return "
                    f"(outputs, state), got {type(out).__name__}"
                )
            return out
        accepted = _accepted_options(self.apply_fn)
        chosen = {k: v for k, v in options.items() if k in accepted}
        return self.apply_fn(params, x, **chosen), state


def _accepted_options(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names of :data:`APPLY_OPTIONS` that ``fn`` takes as keywords."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return APPLY_OPTIONS
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return tuple(n for n in APPLY_OPTIONS if n in names)


def display_name(obj: Any) -> str:
    """The name of ``obj`` in error messages: its ``__qualname__`` (a function, a class), else
    its type's name (an instance).

    >>> from jaxdl.model import display_name
    >>> display_name(len), display_name(3)
    ('len', 'int')
    """
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def describe(model: Any) -> str:
    """A short name of ``model`` for error messages.

    Args:
        model: any model.

    Returns:
        ``Model(init_fn, apply_fn)`` with the functions' names for a :class:`Model`, else the
        model's type name.

    Examples:
        >>> from jaxdl.model import Model, describe
        >>> from jaxdl.nn import MLP
        >>> def init(key): return {}
        >>> def apply(params, x): return x
        >>> describe(Model(init, apply)), describe(MLP((2, 1)))
        ('Model(init, apply)', 'MLP')
    """
    if isinstance(model, Model):
        return f"Model({display_name(model.init_fn)}, {display_name(model.apply_fn)})"
    return type(model).__name__


def check_protocol(model: Any, name: str = "model") -> None:
    """Raise ``TypeError`` unless ``model`` has callable ``init`` and ``apply`` and is hashable.

    Args:
        model: the object to check.
        name: what to call it in the error message.

    Raises:
        TypeError: naming what is missing, or why the model is not hashable.

    Examples:
        >>> from jaxdl.model import check_protocol
        >>> from jaxdl.nn import MLP
        >>> check_protocol(MLP((2, 1)))
        >>> check_protocol(lambda x: x, "trainer model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: trainer model must have init(key) -> (params, state) and apply(...) ...
    """
    missing = [m for m in ("init", "apply") if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(
            f"{name} must have init(key) -> (params, state) and apply(params, state, x, *, train, "
            f"key, hp, mask) -> (outputs, state); {type(model).__name__} has no "
            f"{' or '.join(missing)}. Wrap plain functions with jaxdl.Model(init_fn, apply_fn)"
        )
    try:
        hash(model)
    except TypeError as err:
        raise TypeError(
            f"{name} must be hashable (a frozen dataclass), {type(model).__name__} is not: {err}"
        ) from err
    names: Any = getattr(model, "hyperparameters", frozenset())
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{name}.hyperparameters must be a set of names, got {names!r}")


# check_model was renamed: jaxdl.gradcheck.check_model is the gradient check of a model.
__getattr__ = deprecated_aliases(__name__, {"check_model": check_protocol})
