"""The optimizer interface: gradient transformations, chaining, step counts and applying updates.

An optimizer is a :class:`GradientTransformation`, a pair of pure functions

    state = init(params)
    updates, state = update(grads, state, params=None)

and ``apply_updates(params, updates)`` computes ``params + updates``. Optimizers are short
``chain``s of transformations ending in ``scale_by_learning_rate``, which negates, so the final
step is a plain addition.

Hyperparameters may be Python floats, JAX arrays or tracers (one value per member of a vmapped
sweep); the learning rate may also be a schedule, a function of the step count. Construction does
only cheap, trace-safe work: checks on concrete values (skipped for tracers) and closures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import check_positive
from jaxdl.typing import PyTree

Schedule = Callable[[jax.Array], jax.Array]
LearningRate = float | jax.Array | Schedule

_INT32_MAX = np.iinfo(np.int32).max


class GradientTransformation(NamedTuple):
    """An optimizer or one step of one: a pair of pure functions.

    ``init(params) -> state`` builds the state for a parameter tree, and
    ``update(grads, state, params=None) -> (updates, state)`` maps gradients to updates.

    Attributes:
        init: ``init(params) -> state``.
        update: ``update(grads, state, params=None) -> (updates, state)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> def init(params):
        ...     return optim.EmptyState()
        >>> def update(grads, state, params=None):
        ...     return 2 * grads, state
        >>> double = optim.GradientTransformation(init, update)
        >>> updates, state = double.update(jnp.array([1.0, -3.0]), double.init(None))
        >>> updates.tolist(), state
        ([2.0, -6.0], EmptyState())
    """

    init: Callable[[PyTree], PyTree]
    update: Callable[..., tuple[PyTree, PyTree]]


@runtime_checkable
class GradientTransformationLike(Protocol):
    """Anything with ``init`` and ``update`` in the optax convention (duck typed): a jaxdl
    :class:`GradientTransformation`, an ``optax.GradientTransformation`` or a user's own object.

    ``isinstance(obj, GradientTransformationLike)`` checks that both attributes exist; use
    :func:`check_transformation` for a clear error that also requires them to be callable.

    Examples:
        >>> from jaxdl import optim
        >>> isinstance(optim.sgd(0.1), optim.GradientTransformationLike)
        True
        >>> isinstance("sgd", optim.GradientTransformationLike)
        False
    """

    def init(self, params: PyTree) -> PyTree:
        """The initial state for ``params``."""

    def update(
        self, updates: PyTree, state: PyTree, params: PyTree = None
    ) -> tuple[PyTree, PyTree]:
        """``(new_updates, new_state)``."""


def check_transformation(obj: Any, name: str = "optimizer") -> None:
    """Raise ``TypeError`` unless ``obj`` has callable ``init`` and ``update`` attributes.

    >>> from jaxdl.optim.base import GradientTransformation, check_transformation, init_empty
    >>> check_transformation(GradientTransformation(init_empty, lambda u, s, p=None: (u, s)))
    >>> check_transformation("adam", "chain argument 0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: chain argument 0 must be a gradient transformation with callable init(params) ...
    """
    missing = [a for a in ("init", "update") if not callable(getattr(obj, a, None))]
    if missing:
        raise TypeError(
            f"{name} must be a gradient transformation with callable init(params) and "
            "update(updates, state, params=None) (a jaxdl.optim or optax transformation), "
            f"got {type(obj).__name__} {obj!r:.60} without callable {' and '.join(missing)}"
            + ("; call it to build one, e.g. optax.adam(1e-3)" if callable(obj) else "")
        )


class EmptyState(NamedTuple):
    """State of a transformation that keeps nothing between steps.

    Examples:
        >>> from jaxdl import optim
        >>> optim.sgd(0.1).init({"w": 1.0})
        (EmptyState(),)
    """


def init_empty(params: PyTree) -> EmptyState:
    """``init`` of a stateless transformation."""
    del params
    return EmptyState()


def zero_count() -> jax.Array:
    """A fresh step count: int32 zero."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1`` that saturates at the int32 maximum instead of wrapping to negative.

    Args:
        count: a step count (converted to int32).

    Returns:
        ``min(count + 1, 2**31 - 1)`` as an int32 scalar.

    Examples:
        >>> from jaxdl import optim
        >>> int(optim.safe_increment(5)), int(optim.safe_increment(2**31 - 1))
        (6, 2147483647)
    """
    count = jnp.asarray(count, jnp.int32)
    return jnp.where(count < _INT32_MAX, count + 1, _INT32_MAX).astype(jnp.int32)


def check_same_tree(name: str, tree: PyTree, reference: PyTree, reference_name: str) -> None:
    """Raise ``ValueError`` unless ``tree`` has the structure and leaf shapes of ``reference``.

    Structures and shapes are static, so this check also runs under ``jit`` and ``vmap``.
    """
    got, expected = jax.tree.structure(tree), jax.tree.structure(reference)
    if got != expected:  # type: ignore[operator]  # PyTreeDef is untyped in the stubs
        raise ValueError(
            f"{name} must have the same tree structure as {reference_name}; "
            f"expected {expected}, got {got}"
        )
    pairs = zip(jax.tree_util.tree_leaves_with_path(tree), jax.tree.leaves(reference), strict=True)
    for (path, leaf), ref in pairs:
        if jnp.shape(leaf) != jnp.shape(ref):
            raise ValueError(
                f"{name}{jax.tree_util.keystr(path)} has shape {jnp.shape(leaf)}, "
                f"expected {jnp.shape(ref)} as in {reference_name}"
            )


def check_learning_rate(learning_rate: Any, name: str = "learning_rate") -> None:
    """A learning rate is a positive finite number/array (checked when concrete) or a schedule."""
    if callable(learning_rate):
        return
    if isinstance(learning_rate, str | bytes) or learning_rate is None:
        raise TypeError(
            f"{name} must be a positive number, a JAX array or a schedule "
            f"(a function of the step count), got {learning_rate!r}"
        )
    check_positive(name, learning_rate)


def current_learning_rate(learning_rate: LearningRate, count: Any) -> jax.Array:
    """The learning rate used by the update after ``count`` updates: ``schedule(count)`` or the
    constant itself (handy for logging the learning rate in a training history).

    Args:
        learning_rate: a number, an array or a schedule ``lr(t)``.
        count: the number of updates already made.

    Returns:
        The rate as a JAX array.

    Examples:
        >>> from jaxdl import optim
        >>> decay = optim.inverse_time_decay(0.1, decay_rate=1.0)
        >>> round(float(optim.current_learning_rate(decay, 3)), 6)
        0.025
        >>> round(float(optim.current_learning_rate(0.1, 3)), 6)
        0.1
    """
    if callable(learning_rate):
        return jnp.asarray(learning_rate(jnp.asarray(count, jnp.int32)))
    return jnp.asarray(learning_rate)


def chain(*transforms: GradientTransformationLike) -> GradientTransformation:
    """Compose transformations left to right: ``u <- t_k(...t_1(grads))``.

    Any object with ``init``/``update`` is accepted (duck typed, as in optax), so optax
    transformations mix with jaxdl's, and the result drops into ``optax.chain`` in turn.

    Args:
        *transforms: the transformations, applied in order.

    Returns:
        A :class:`GradientTransformation` whose state is the tuple of the inner states.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.chain(optim.clip(0.5), optim.sgd(0.1))
    >>> updates, _ = opt.update({"w": jnp.array([2.0, -0.1])}, opt.init({"w": jnp.zeros(2)}))
    >>> [round(v, 6) for v in updates["w"].tolist()]
    [-0.05, 0.01]
    """
    for i, t in enumerate(transforms):
        check_transformation(t, f"chain argument {i}")

    def init(params: PyTree) -> tuple[PyTree, ...]:
        return tuple(t.init(params) for t in transforms)

    def update(
        grads: PyTree, state: tuple[PyTree, ...], params: PyTree = None
    ) -> tuple[PyTree, tuple[PyTree, ...]]:
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError(
                f"state must be the tuple of {len(transforms)} inner states made by this chain's "
                f"init, got {type(state).__name__}"
            )
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """``params + updates`` leaf by leaf, the sum computed in at least float32 and cast back to
    each parameter's dtype.

    Args:
        params: the parameters (a pytree of arrays).
        updates: the updates of an optimizer, a pytree of the same structure and shapes.

    Returns:
        The new parameters, with each leaf in its parameter's dtype.

    Raises:
        ValueError: if ``updates`` differs from ``params`` in structure or shapes.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> params = {"w": jnp.array([1.0, 2.0], jnp.bfloat16)}
        >>> new = optim.apply_updates(params, {"w": jnp.array([0.5, -0.5])})
        >>> new["w"].tolist(), new["w"].dtype
        ([1.5, 1.5], dtype(bfloat16))
    """
    check_same_tree("updates", updates, params, "params")

    def leaf(p: jax.Array, u: jax.Array) -> jax.Array:
        p, u = jnp.asarray(p), jnp.asarray(u)
        dtype = jnp.result_type(p.dtype, u.dtype, jnp.float32)
        return (p.astype(dtype) + u.astype(dtype)).astype(p.dtype)

    return jax.tree.map(leaf, params, updates)
