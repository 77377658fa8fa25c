"""The loss of a gradient check over flat leaves, compiled once, and checked fit for checking.

``loss_fn(params, *args)`` is split (:func:`split_loss`) into a hashable ``spec`` (the function,
the tree structures and the non-array arguments), the parameter leaves and the array arguments,
so a later check of the same ``loss_fn`` and shapes reuses the compiled code
(:func:`loss_value`); :func:`param_paths` and :func:`grad_leaves` check and name the leaves, and
:func:`checked_loss_grad` makes sure the loss is a finite, deterministic scalar.
:mod:`jaxdl.gradcheck.finite_differences` differentiates it numerically.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, overload

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

from jaxdl.checks import is_concrete
from jaxdl.typing import PyTree

# (loss_fn, params treedef, args treedef, one _Static or None per args leaf): hashable, static
Spec = tuple[Any, ...]


class _Static:
    """Hashable stand-in for a non-array argument leaf: by value when hashable, else identity."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        try:
            return hash((type(self.value), self.value))
        except TypeError:
            return id(self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Static) or type(self.value) is not type(other.value):
            return False
        if self.value is other.value:
            return True
        try:
            return hash(self.value) == hash(other.value) and bool(self.value == other.value)
        except TypeError:
            return False


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray))


def leaf_path(path: tuple[Any, ...]) -> str:
    """Readable name of a key path: ``{"layers": [{"W": ...}, ...]}`` gives ``layers[1].W``.

    >>> import jax
    >>> params = {"layers": [{"W": 0.0}, {"W": 1.0}]}
    >>> [leaf_path(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    ['layers[0].W', 'layers[1].W']
    """
    text = ""
    for key in path:
        if isinstance(key, DictKey):
            name = key.key
            if isinstance(name, str) and name.isidentifier():
                text += f".{name}"
            else:
                text += f"[{name!r}]"
        elif isinstance(key, SequenceKey):
            text += f"[{key.idx}]"
        elif isinstance(key, GetAttrKey):
            text += f".{key.name}"
        else:
            text += str(key)
    return text.lstrip(".") or "params"


def param_paths(params: PyTree) -> list[str]:
    """Paths of the leaves (:func:`leaf_path`); every leaf must be a concrete real
    floating-point array.

    >>> import jax.numpy as jnp
    >>> param_paths({"W": jnp.ones((2, 2)), "b": jnp.zeros(2)})
    ['W', 'b']
    >>> param_paths({"n": jnp.arange(3)})
    Traceback (most recent call last):
    ...
    TypeError: params leaf n has dtype int32; gradient checking needs real ...
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("params has no leaves; pass the pytree of arrays to check")
    paths = []
    for path, leaf in flat:
        name = leaf_path(path)
        if not is_concrete(leaf):
            raise TypeError(f"params leaf {name} is traced; call gradcheck outside jit/vmap")
        dtype = np.asarray(leaf).dtype if not hasattr(leaf, "dtype") else leaf.dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"params leaf {name} has dtype {dtype}; gradient checking needs real "
                "floating-point parameters (cast with .astype(float), or pass integer data "
                "through *args)"
            )
        paths.append(name)
    return paths


def grad_leaves(grads: PyTree, params: PyTree, paths: list[str]) -> list[jax.Array]:
    """Leaves of ``grads`` after checking that they mirror ``params`` leaf by leaf.

    >>> import jax.numpy as jnp
    >>> grad_leaves({"W": jnp.ones(3)}, {"W": jnp.zeros(2)}, ["W"])
    Traceback (most recent call last):
    ...
    ValueError: grad_fn returned shape (3,) for params leaf W, expected (2,)
    """
    expected = jax.tree_util.tree_structure(params)
    got = jax.tree_util.tree_structure(grads)
    if got != expected:  # type: ignore[operator]  # PyTreeDef is untyped in the stubs
        raise ValueError(
            f"grad_fn must return a pytree with the structure of params; expected {expected}, "
            f"got {got}"
        )
    leaves = jax.tree_util.tree_leaves(grads)
    for path, g, p in zip(paths, leaves, jax.tree_util.tree_leaves(params), strict=True):
        if np.shape(g) != np.shape(p):
            raise ValueError(
                f"grad_fn returned shape {np.shape(g)} for params leaf {path}, "
                f"expected {np.shape(p)}"
            )
    return leaves


def split_loss(
    loss_fn: Callable[..., Any], params: PyTree, args: tuple[Any, ...]
) -> tuple[Spec, list[jax.Array], list[jax.Array]]:
    """``(spec, param leaves, array arg leaves)`` for the compiled evaluators.

    Array leaves of ``args`` are traced; the others (models, Python numbers) go into the static
    ``spec``, so a later check of the same ``loss_fn`` and shapes reuses the compiled code.

    Args:
      loss_fn: the loss, called as ``loss_fn(params, *args)``.
      params: the parameter pytree.
      args: the other arguments of ``loss_fn``.

    Returns:
      The static ``spec``, the leaves of ``params`` and the array leaves of ``args``.

    >>> import jax.numpy as jnp
    >>> spec, leaves, arrays = split_loss(lambda p, x, k: k * jnp.sum(p["w"] * x),
    ...                                   {"w": jnp.ones(2)}, (jnp.arange(2.0), 3))
    >>> len(leaves), len(arrays), spec[3][1].value  # the 3 is static
    (1, 1, 3)
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    arg_leaves, argdef = jax.tree_util.tree_flatten(args)
    arrays = [leaf for leaf in arg_leaves if _is_array(leaf)]
    static = tuple(None if _is_array(leaf) else _Static(leaf) for leaf in arg_leaves)
    return (loss_fn, treedef, argdef, static), leaves, arrays


def loss_of_leaves(spec: Spec, leaves: list[jax.Array], arrays: list[jax.Array]) -> jax.Array:
    """``loss_fn(params, *args)`` rebuilt from flat leaves, traced arrays and static leaves.

    >>> import jax.numpy as jnp
    >>> spec, leaves, arrays = split_loss(lambda p, x: jnp.sum(p * x), jnp.ones(2),
    ...                                   (jnp.arange(2.0),))
    >>> float(loss_of_leaves(spec, [jnp.full(2, 2.0)], arrays))
    2.0
    """
    loss_fn, treedef, argdef, static = spec
    it = iter(arrays)
    arg_leaves = [next(it) if s is None else s.value for s in static]
    params = jax.tree_util.tree_unflatten(treedef, leaves)
    return loss_fn(params, *jax.tree_util.tree_unflatten(argdef, arg_leaves))


@partial(jax.jit, static_argnames=("spec", "with_grad"))
def loss_value(
    leaves: list[jax.Array], arrays: list[jax.Array], *, spec: Spec, with_grad: bool
) -> tuple[jax.Array, list[jax.Array] | None]:
    """``(loss, jax.grad(loss_fn) over the param leaves or None)``, compiled once per ``spec``.

    >>> import jax.numpy as jnp
    >>> spec, leaves, arrays = split_loss(lambda p, x: jnp.sum(p ** 2 * x), jnp.ones(2),
    ...                                   (jnp.arange(2.0),))
    >>> value, grads = loss_value(leaves, arrays, spec=spec, with_grad=True)
    >>> float(value), grads[0].tolist()
    (1.0, [0.0, 2.0])
    """
    if with_grad:
        return jax.value_and_grad(partial(loss_of_leaves, spec))(leaves, arrays)
    return loss_of_leaves(spec, leaves, arrays), None


@overload
def checked_loss_grad(
    spec: Spec, leaves: list[jax.Array], arrays: list[jax.Array], with_grad: Literal[True]
) -> list[jax.Array]: ...


@overload
def checked_loss_grad(
    spec: Spec, leaves: list[jax.Array], arrays: list[jax.Array], with_grad: Literal[False]
) -> None: ...


def checked_loss_grad(
    spec: Spec, leaves: list[jax.Array], arrays: list[jax.Array], with_grad: bool
) -> list[jax.Array] | None:
    """``jax.grad(loss_fn)`` leaves (or None) once the loss is found fit for checking.

    The loss must be a finite scalar, the same on two evaluations at the same point. Randomness
    drawn in Python (a new key or a NumPy mask on every call) shows up as two different traces,
    each of which is evaluated; identical traces are evaluated twice by the cached compiled loss
    (which also catches random host callbacks).

    Raises:
      ValueError: for a loss that is not a scalar, not finite or not deterministic.

    >>> import jax.numpy as jnp, numpy as np
    >>> spec, leaves, arrays = split_loss(lambda p: jnp.sum(p * np.random.rand()), jnp.ones(2),
    ...                                   ())
    >>> checked_loss_grad(spec, leaves, arrays, with_grad=True)
    Traceback (most recent call last):
    ...
    ValueError: loss_fn is not deterministic: ...
    """
    traces = [jax.make_jaxpr(partial(loss_of_leaves, spec))(leaves, arrays) for _ in range(2)]
    shapes = [np.shape(aval) for aval in traces[0].out_avals]
    if shapes != [()]:
        raise ValueError(
            f"loss_fn must return a scalar loss, got shape(s) {shapes}; "
            "average over the samples (e.g. jnp.mean)"
        )
    grads = None
    if _same_trace(*traces):
        values = []
        for _ in traces:
            value, grads = loss_value(leaves, arrays, spec=spec, with_grad=with_grad)
            values.append(float(value))
    else:
        inputs = jax.tree_util.tree_leaves((leaves, arrays))
        values = [float(jax.jit(jex.core.jaxpr_as_fun(t))(*inputs)[0]) for t in traces]
    if not math.isfinite(values[0]):
        raise ValueError(f"loss_fn(params) is {values[0]}; gradient checking needs a finite loss")
    if not math.isclose(values[0], values[1], rel_tol=1e-12, abs_tol=0.0):
        raise ValueError(
            f"loss_fn is not deterministic: two evaluations at the same parameters gave "
            f"{values[0]!r} and {values[1]!r}; switch dropout off (keep_prob=1 or train without "
            "dropout) and give every random op a fixed key before checking gradients"
        )
    if with_grad and grads is None:
        grads = loss_value(leaves, arrays, spec=spec, with_grad=True)[1]
    return grads


def _same_trace(a: Any, b: Any) -> bool:
    """Two closed jaxprs with the same equations and equal constants."""
    if str(a.jaxpr) != str(b.jaxpr) or len(a.consts) != len(b.consts):
        return False
    return all(np.array_equal(_raw(x), _raw(y)) for x, y in zip(a.consts, b.consts, strict=True))


def _raw(value: Any) -> np.ndarray:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    return np.asarray(value)
