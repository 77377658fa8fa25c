"""The numeric side of gradient checking: two-sided finite differences over every parameter
coordinate of a loss over flat leaves (:mod:`jaxdl.gradcheck.flat_loss`).

For every coordinate ``i`` of the parameters ``theta``

    g_approx_i = (J(theta + eps * e_i) - J(theta - eps * e_i)) / (2 * eps)

The ``2 * n`` loss evaluations run under ``vmap`` in chunks sized so a chunk's intermediates fit
``MEMORY_BUDGET_BYTES``. Every leaf of at least ``OWN_GROUP_SIZE`` entries is perturbed in its
own compiled loop while the other leaves stay unbatched, so layers upstream of it are computed
once per chunk, not once per lane; the smaller leaves (biases, batch norm scales, scalars) are
perturbed together as one flat vector, in one more compiled loop.

Where backprop and the central difference disagree, :func:`leaf_kinks` looks for steps across
a kink with the one-sided slopes of :mod:`jaxdl.gradcheck.kinks`.
:func:`jaxdl.gradcheck.gradcheck` is the entry point. The names of
:mod:`jaxdl.gradcheck.flat_loss` are importable from here too.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl.gradcheck.flat_loss import Spec as Spec
from jaxdl.gradcheck.flat_loss import checked_loss_grad as checked_loss_grad
from jaxdl.gradcheck.flat_loss import grad_leaves as grad_leaves
from jaxdl.gradcheck.flat_loss import leaf_path as leaf_path
from jaxdl.gradcheck.flat_loss import loss_of_leaves as loss_of_leaves
from jaxdl.gradcheck.flat_loss import loss_value as loss_value
from jaxdl.gradcheck.flat_loss import param_paths as param_paths
from jaxdl.gradcheck.flat_loss import split_loss as split_loss
from jaxdl.gradcheck.kinks import Kink, find_kinks

MEMORY_BUDGET_BYTES = 16 * 2**20
OWN_GROUP_SIZE = 1024


def jaxpr_bytes(jaxpr: Any) -> int:
    """Bytes of every value a jaxpr produces, sub-jaxprs included (no buffer reuse assumed).

    >>> from jaxdl.gradcheck.finite_differences import jaxpr_bytes
    >>> import jax, jax.numpy as jnp
    >>> jaxpr_bytes(jax.make_jaxpr(lambda x: jnp.sum(x * 2.0))(jnp.ones(10)).jaxpr)
    44
    """
    total = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            aval = var.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += math.prod(aval.shape) * getattr(aval.dtype, "itemsize", 8)
    for sub in jex.core.subjaxprs(jaxpr):
        total += jaxpr_bytes(sub)
    return total


@partial(jax.jit, static_argnames=("spec", "chunk_size"))
def numeric_gradient(
    leaves: list[jax.Array],
    arrays: list[jax.Array],
    epsilon: jax.Array,
    *,
    spec: Spec,
    chunk_size: int | None,
) -> list[jax.Array]:
    """Numeric gradient of every leaf, one group of leaves at a time.

    A group is flattened to one vector and its coordinates are perturbed in ``vmap`` chunks of
    ``chunk_size`` lanes (``None``: sized so a chunk's intermediates fit
    ``MEMORY_BUDGET_BYTES``). Leaves outside the group stay unbatched, so work upstream of the
    group is shared by all lanes.

    Args:
      leaves: the parameter leaves (see :func:`split_loss`).
      arrays: the array arguments.
      epsilon: the step of the two-sided difference.
      spec: the static rest of the loss.
      chunk_size: coordinates per ``vmap`` call, or ``None`` for the memory budget.

    Returns:
      One array per leaf, of its shape: the central differences.

    >>> from jaxdl.gradcheck.flat_loss import split_loss
    >>> from jaxdl.gradcheck.finite_differences import numeric_gradient
    >>> import jax.numpy as jnp
    >>> spec, leaves, arrays = split_loss(lambda p, x: jnp.sum(p ** 2 * x), jnp.ones(3),
    ...                                   (jnp.arange(3.0),))
    >>> [round(g, 3) for g in numeric_gradient(leaves, arrays, jnp.asarray(1e-2), spec=spec,
    ...                                        chunk_size=2)[0].tolist()]
    [0.0, 2.0, 4.0]
    """
    if chunk_size is None:
        jaxpr = jax.make_jaxpr(partial(loss_of_leaves, spec))(leaves, arrays).jaxpr
        chunk_size = max(1, MEMORY_BUDGET_BYTES // (2 * jaxpr_bytes(jaxpr) + 1))

    def group_gradient(group: list[int]) -> list[jax.Array]:
        flat = jnp.concatenate([leaves[k].ravel() for k in group])
        splits = np.cumsum([leaves[k].size for k in group])[:-1].tolist()

        def unflatten(vector: jax.Array) -> list[jax.Array]:
            pieces = jnp.split(vector, splits)
            return [piece.reshape(leaves[k].shape) for piece, k in zip(pieces, group, strict=True)]

        def loss_at(i: jax.Array, step: jax.Array) -> jax.Array:
            # theta + step * e_i as one elementwise pass (fuses better than a scatter)
            basis = jnp.arange(flat.size) == i
            moved = dict(zip(group, unflatten(flat + jnp.where(basis, step, 0.0)), strict=True))
            return loss_of_leaves(spec, [moved.get(k, leaf) for k, leaf in enumerate(leaves)],
                                  arrays)

        def central(i: jax.Array) -> jax.Array:
            return (loss_at(i, epsilon) - loss_at(i, -epsilon)) / (2 * epsilon)

        n_chunks = -(-flat.size // chunk_size)
        if n_chunks == 1:
            return unflatten(jax.vmap(central)(jnp.arange(flat.size)))
        # equal chunks (the last coordinate repeats as padding): one compiled loop body
        lanes = -(-flat.size // n_chunks)
        coords = jnp.minimum(jnp.arange(n_chunks * lanes), flat.size - 1)
        values = lax.map(jax.vmap(central), coords.reshape(n_chunks, lanes))
        return unflatten(values.ravel()[: flat.size])

    small = [k for k, leaf in enumerate(leaves) if leaf.size < OWN_GROUP_SIZE]
    groups = [[k] for k, leaf in enumerate(leaves) if leaf.size >= OWN_GROUP_SIZE]
    numeric: dict[int, jax.Array] = {}
    for group in groups + ([small] if small else []):
        numeric.update(zip(group, group_gradient(group), strict=True))
    return [numeric[k] for k in range(len(leaves))]


def leaf_kinks(
    spec: Spec,
    leaves: list[jax.Array],
    arrays: list[jax.Array],
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    failing: list[int],
    epsilon: float,
) -> dict[int, list[Kink]]:
    """Kinks (see :mod:`jaxdl.gradcheck.kinks`) in the leaves numbered ``failing``, by leaf
    number; the one-sided slopes come from the compiled loss, one coordinate at a time.

    >>> from jaxdl.gradcheck.flat_loss import split_loss
    >>> from jaxdl.gradcheck.finite_differences import leaf_kinks
    >>> import jax, jax.numpy as jnp, numpy as np
    >>> spec, leaves, arrays = split_loss(lambda p: jnp.sum(jax.nn.relu(p)),
    ...                                   jnp.array([0.0, 1.0]), ())
    >>> found = leaf_kinks(spec, leaves, arrays, [np.array([0.0, 1.0])],
    ...                    [np.array([0.5, 1.0])], [0], 1e-3)
    >>> [k.index for k in found[0]]
    [(0,)]
    """
    if not failing:
        return {}
    host = [np.asarray(leaf) for leaf in leaves]

    def evaluate(k: int, j: int, step: float) -> float:
        moved = host[k].copy()
        moved.flat[j] += step
        new = [jnp.asarray(moved) if i == k else leaf for i, leaf in enumerate(leaves)]
        return float(loss_value(new, arrays, spec=spec, with_grad=False)[0])

    loss = float(loss_value(leaves, arrays, spec=spec, with_grad=False)[0])
    found = {k: find_kinks(evaluate, loss, analytic[k], numeric[k], k, epsilon) for k in failing}
    return {k: v for k, v in found.items() if v}

