"""Gradient clipping: rescale the whole update when its global norm is too large, or clip each
entry to a range. Both are stateless and keep each leaf's dtype; the thresholds may be traced
(one value per member of a vmapped sweep)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import check_positive
from jaxdl.optim.base import EmptyState, GradientTransformation, init_empty
from jaxdl.typing import PyTree


def global_norm(tree: PyTree) -> jax.Array:
    """``sqrt(sum over every leaf and entry of u**2)``, accumulated in at least float32.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import global_norm
    >>> float(global_norm({"a": jnp.array([3.0]), "b": jnp.array([[4.0]])}))
    5.0
    """
    squares = [
        jnp.sum(jnp.square(jnp.asarray(u).astype(jnp.result_type(u, jnp.float32))))
        for u in jax.tree.leaves(tree)
    ]
    return jnp.sqrt(sum(squares, jnp.zeros([], jnp.float32)))


def clip_by_global_norm(max_norm: Any) -> GradientTransformation:
    """Rescale the updates so that their global norm is at most ``max_norm``::

        n = sqrt(sum_leaves sum(u**2))
        u <- u * max_norm / max(n, max_norm)      (u unchanged when n <= max_norm)

    The direction is kept; only the length shrinks. Same result as
    ``optax.clip_by_global_norm(max_norm)``.

    Args:
        max_norm: positive threshold (number, array or tracer).

    Returns:
        A stateless :class:`~jaxdl.optim.GradientTransformation` (state :class:`EmptyState`).

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import clip_by_global_norm
    >>> t = clip_by_global_norm(1.0)
    >>> u, _ = t.update({"w": jnp.array([3.0, 4.0])}, t.init(None))
    >>> [round(v, 6) for v in u["w"].tolist()]
    [0.6, 0.8]
    """
    check_positive("max_norm", max_norm)

    def update(
        updates: PyTree, state: EmptyState, params: PyTree = None
    ) -> tuple[PyTree, EmptyState]:
        del params
        norm = global_norm(updates)
        limit = jnp.asarray(max_norm, norm.dtype)
        factor = limit / jnp.maximum(norm, limit)

        def leaf(u: jax.Array) -> jax.Array:
            u = jnp.asarray(u)
            dtype = jnp.result_type(u.dtype, jnp.float32)
            return (u.astype(dtype) * factor.astype(dtype)).astype(u.dtype)

        return jax.tree.map(leaf, updates), state

    return GradientTransformation(init_empty, update)


def clip(max_delta: Any) -> GradientTransformation:
    """Clip every entry of the updates to ``[-max_delta, max_delta]`` (clipping by value)::

        u <- min(max(u, -max_delta), max_delta)

    Unlike :func:`clip_by_global_norm` this changes the direction of the update. Same result as
    ``optax.clip(max_delta)``.

    Args:
        max_delta: positive bound (number, array or tracer).

    Returns:
        A stateless :class:`~jaxdl.optim.GradientTransformation` (state :class:`EmptyState`).

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import clip
    >>> t = clip(0.5)
    >>> u, _ = t.update(jnp.array([-2.0, 0.25, 3.0]), t.init(None))
    >>> u.tolist()
    [-0.5, 0.25, 0.5]
    """
    check_positive("max_delta", max_delta)

    def update(
        updates: PyTree, state: EmptyState, params: PyTree = None
    ) -> tuple[PyTree, EmptyState]:
        del params

        def leaf(u: jax.Array) -> jax.Array:
            u = jnp.asarray(u)
            bound = jnp.asarray(max_delta, u.dtype)
            return jnp.clip(u, -bound, bound)

        return jax.tree.map(leaf, updates), state

    return GradientTransformation(init_empty, update)
