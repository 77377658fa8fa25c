"""The divergence guard: an optimizer wrapper that skips a rejected step (as
``optax.apply_if_finite`` does), keeping the parameters and the whole optimizer state, counters
included, exactly as they were.

A step is rejected when the caller's ``ok`` is false (in training: a non-finite cost or gradient,
or a state that already diverged) or when the updated parameters are not finite (a finite
gradient times a huge learning rate). The wrapper's state is the inner optimizer's, unchanged,
so a checkpoint does not know whether a guard ran.

Two ways to skip a step:

* any optimizer: every leaf of its state is selected, ``where(ok, new, old)``;
* the fast path, for an optimizer whose floating-point state is only EWAs (the built-in ones,
  :data:`jaxdl.optim.REGISTRY`'s ``state_decays``): the gradient is zeroed and those decays
  are set to 1 by the scalar ``ok`` *inside* the update kernels, ``v = 1 * v + 0 * 0 = v``, so
  the moments stay as they were without a select pass over every state leaf; only the integer
  counters are selected. A step rejected only because the new parameters overflowed keeps the
  EWA of its (finite) gradient in the moments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.optim.base import GradientTransformationLike, apply_updates, check_transformation
from jaxdl.typing import PyTree


def all_finite(tree: PyTree) -> jax.Array:
    """True when every leaf of ``tree`` is finite, as one fused reduction:
    ``isfinite(sum of every leaf)`` (a sum is finite only when every term is).

    Args:
        tree: a pytree of arrays.

    Returns:
        A boolean scalar.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim.guard import all_finite
        >>> bool(all_finite({"w": jnp.ones(3)})), bool(all_finite([jnp.array([1.0, jnp.inf])]))
        (True, False)
    """
    total = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(tree))
    return jnp.isfinite(total)


class GuardedTransformation(NamedTuple):
    """A gradient transformation that skips rejected steps (made by :func:`guard`).

    Attributes:
        init: ``init(params) -> state``, the inner optimizer's state.
        update: ``update(grads, state, params=None, ok=None) -> (updates, state)``: the inner
            update, or zero updates and ``state`` unchanged when the step is rejected
            (``ok`` false, or, when ``ok`` is ``None``, a non-finite gradient or update).
        step: ``step(grads, state, params, ok) -> (params, state, ok)``: the update applied,
            or ``params`` and ``state`` unchanged when ``ok`` is false or the new parameters are
            not finite; the returned ``ok`` says whether the step was taken.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> opt = optim.guard(optim.sgd(0.1))
        >>> params = {"w": jnp.ones(2)}
        >>> new, state, ok = opt.step({"w": jnp.array([1.0, jnp.nan])}, opt.init(params),
        ...                           params, jnp.asarray(True))
        >>> new["w"].tolist(), bool(ok)  # a NaN gradient: the step is not taken
        ([1.0, 1.0], False)
    """

    init: Callable[[PyTree], PyTree]
    update: Callable[..., tuple[PyTree, PyTree]]
    step: Callable[..., tuple[PyTree, PyTree, jax.Array]]


def guard(
    inner: GradientTransformationLike,
    decays: Mapping[str, Any] | None = None,
    rebuild: Callable[[Mapping[str, Any]], GradientTransformationLike] | None = None,
) -> GuardedTransformation:
    """Wrap ``inner`` so that a rejected step changes neither the parameters nor the state.

    Without ``decays``, a rejected step's state is selected leaf by leaf (any optimizer). With
    ``decays`` (the fast path), ``inner``'s floating-point state must be EWAs whose decays are
    these hyperparameters (name -> value): a rejected step runs ``rebuild(gated)``'s update,
    ``gated`` being ``decays`` with every value replaced by ``where(ok, value, 1.0)``, on zero
    gradients, and only the integer leaves of the state are selected.

    Args:
        inner: the optimizer (anything with ``init``/``update``).
        decays: the EWA decays of ``inner``'s state, by name; ``None``: no fast path.
        rebuild: ``gated -> transformation``, ``inner`` built with the decays replaced by
            ``gated``'s values; needed when ``decays`` is not empty.

    Returns:
        A :class:`GuardedTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> opt = optim.guard(optim.momentum(0.1, beta=0.5))
        >>> params = jnp.array([1.0])
        >>> state = opt.init(params)
        >>> params, state, ok = opt.step(jnp.array([2.0]), state, params, jnp.asarray(True))
        >>> round(float(params[0]), 6), bool(ok)
        (0.9, True)
        >>> kept = opt.step(jnp.array([jnp.nan]), state, params, jnp.asarray(True))
        >>> bool(kept[0][0] == params[0]), kept[1][0].mu.tolist(), bool(kept[2])  # unchanged
        (True, [1.0], False)
    """
    check_transformation(inner, "inner")
    if decays and rebuild is None:
        raise ValueError("guard: decays need rebuild, the optimizer built from the gated decays")
    fast = decays is not None

    def propose(
        grads: PyTree, state: PyTree, params: PyTree, ok: jax.Array
    ) -> tuple[PyTree, PyTree]:
        if not isinstance(ok, jax.core.Tracer):  # a concrete verdict (eager): no gating needed
            if not bool(ok):
                return jax.tree.map(jnp.zeros_like, grads), state
            return inner.update(grads, state, params)
        grads = jax.tree.map(lambda g: jnp.where(ok, g, jnp.zeros_like(g)), grads)
        if fast and decays:
            assert rebuild is not None
            gated = {k: jnp.where(ok, v, 1.0) for k, v in decays.items()}
            return rebuild(gated).update(grads, state, params)
        return inner.update(grads, state, params)

    def keep_state(ok: jax.Array, new: PyTree, old: PyTree) -> PyTree:
        def leaf(n: jax.Array, o: jax.Array) -> jax.Array:
            if fast and not jnp.issubdtype(n.dtype, jnp.integer):
                return n
            return jnp.where(ok, n, o)

        return jax.tree.map(leaf, new, old)

    def update(
        grads: PyTree, state: PyTree, params: PyTree = None, ok: Any = None
    ) -> tuple[PyTree, PyTree]:
        if ok is None:
            ok = all_finite(grads)
        ok = jnp.asarray(ok)
        updates, new_state = propose(grads, state, params, ok)
        ok = ok & all_finite(updates)
        updates = jax.tree.map(lambda u: jnp.where(ok, u, jnp.zeros_like(u)), updates)
        return updates, jax.tree.map(lambda n, o: jnp.where(ok, n, o), new_state, state)

    def step(
        grads: PyTree, state: PyTree, params: PyTree, ok: Any
    ) -> tuple[PyTree, PyTree, jax.Array]:
        ok = jnp.asarray(ok)
        updates, new_state = propose(grads, state, params, ok)
        new_params = apply_updates(params, updates)
        ok = ok & all_finite(new_params)
        params = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new_params, params)
        return params, keep_state(ok, new_state, state), ok

    return GuardedTransformation(inner.init, update, step)
