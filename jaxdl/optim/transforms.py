"""The building blocks of the optimizers: EWA-based rescalings, L2 terms and the learning rate.

Every transformation maps updates to updates of the same tree and dtype. Moments are stored in at
least float32 (float32 for bfloat16/float16/float32 params, float64 for float64 params) because a
bfloat16 average loses the small ``(1 - beta) * g`` increments; updates are computed in that dtype
and cast back to the gradient's dtype. Exponentially weighted averages come from :mod:`jaxdl.ewa`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl import ewa
from jaxdl.checks import check_beta, check_finite, check_positive, check_range
from jaxdl.ewa import compute_dtype as moment_dtype
from jaxdl.optim.base import (
    EmptyState,
    GradientTransformation,
    LearningRate,
    check_learning_rate,
    check_same_tree,
    init_empty,
    safe_increment,
    zero_count,
)
from jaxdl.typing import PyTree

_STATE = "the optimizer state (built by init(params))"


class ScaleByMomentumState(NamedTuple):
    """First moment ``mu`` (EWA of the gradients), the state of :func:`scale_by_momentum`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_momentum
        >>> scale_by_momentum(0.9).init({"w": jnp.zeros(2)})
        ScaleByMomentumState(mu={'w': Array([0., 0.], dtype=float32)})
    """

    mu: PyTree


class ScaleByRmsState(NamedTuple):
    """Second moment ``nu`` (EWA of the squared gradients), the state of :func:`scale_by_rms`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_rms
        >>> t = scale_by_rms(0.5)
        >>> _, state = t.update(jnp.array([2.0]), t.init(jnp.zeros(1)))
        >>> state.nu.tolist()   # 0.5 * 0 + 0.5 * 2**2
        [2.0]
    """

    nu: PyTree


class ScaleByAdamState(NamedTuple):
    """Step count ``count`` (int32, updates made so far) and both moments, the state of
    :func:`scale_by_adam`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_adam
        >>> t = scale_by_adam(b1=0.5, b2=0.5)
        >>> _, state = t.update(jnp.array([2.0]), t.init(jnp.zeros(1)))
        >>> int(state.count), state.mu.tolist(), state.nu.tolist()
        (1, [1.0], [2.0])
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count
    mu: PyTree
    nu: PyTree


class ScaleByScheduleState(NamedTuple):
    """Step count ``count`` (int32) at which the learning-rate schedule is evaluated next, the
    state of :func:`scale_by_learning_rate` with a schedule.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_learning_rate
        >>> from jaxdl import optim
        >>> t = scale_by_learning_rate(optim.constant(0.1))
        >>> _, state = t.update(jnp.ones(1), t.init(jnp.zeros(1)))
        >>> int(state.count)
        1
    """

    count: jax.Array  # type: ignore[assignment]  # shadows tuple.count


def _zeros_moment(params: PyTree) -> PyTree:
    return jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), moment_dtype(jnp.result_type(p))), params)


def _squares(grads: PyTree, like: PyTree) -> PyTree:
    """``g**2`` formed in the moment dtype (squaring in bfloat16 first would lose precision)."""
    return jax.tree.map(lambda g, m: jnp.square(jnp.asarray(g).astype(m.dtype)), grads, like)


def _normalized(mu: PyTree, nu: PyTree, eps: Any, grads: PyTree) -> PyTree:
    """``mu / (sqrt(nu) + eps)`` leaf by leaf, cast to the gradient's dtype."""
    return jax.tree.map(
        lambda m, n, g: (m / (jnp.sqrt(n) + eps)).astype(jnp.result_type(g)), mu, nu, grads
    )


def scale_by_momentum(beta: Any = 0.9, nesterov: bool = False) -> GradientTransformation:
    """Momentum in the EWA form: ``v = beta * v + (1 - beta) * g``; the update is ``v``, or with
    ``nesterov=True`` the look-ahead ``beta * v + (1 - beta) * g`` (using the new ``v``).

    Followed by ``W -= lr * update`` this is heavy-ball momentum ``m = beta * m + g``,
    ``W -= lr' * m`` with ``lr' = lr * (1 - beta)`` (because ``v = (1 - beta) * m``); the Nesterov
    form likewise equals optax's trace form ``W -= lr' * (g + beta * m)``, i.e.
    ``optax.sgd(lr * (1 - beta), momentum=beta, nesterov=True)``.
    No bias correction (``v`` starts at 0). State: :class:`ScaleByMomentumState`.

    Args:
        beta: EWA decay in ``[0, 1)`` (number, array or tracer).
        nesterov: static ``bool``; use the look-ahead update.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import scale_by_momentum
    >>> t = scale_by_momentum(0.5, nesterov=True)
    >>> u, s = t.update(jnp.array([2.0]), t.init(jnp.zeros(1)))
    >>> s.mu.tolist(), u.tolist()
    ([1.0], [1.5])
    """
    check_beta("beta", beta)
    if not isinstance(nesterov, bool):
        raise TypeError(f"nesterov must be True or False, got {nesterov!r}")

    def init(params: PyTree) -> ScaleByMomentumState:
        return ScaleByMomentumState(mu=_zeros_moment(params))

    def update(
        grads: PyTree, state: ScaleByMomentumState, params: PyTree = None
    ) -> tuple[PyTree, ScaleByMomentumState]:
        del params
        check_same_tree("grads", grads, state.mu, _STATE)
        mu = ewa.update(state.mu, grads, beta)
        step = ewa.update(mu, grads, beta) if nesterov else mu
        updates = jax.tree.map(lambda m, g: m.astype(jnp.result_type(g)), step, grads)
        return updates, ScaleByMomentumState(mu=mu)

    return GradientTransformation(init, update)


def scale_by_rms(beta: Any = 0.9, eps: Any = 1e-8) -> GradientTransformation:
    """RMSprop scaling: ``s = beta * s + (1 - beta) * g**2``; the update is ``g / (sqrt(s) + eps)``
    (``eps`` outside the square root). No bias correction. State: :class:`ScaleByRmsState`.

    Args:
        beta: EWA decay in ``[0, 1)`` (number, array or tracer).
        eps: added to ``sqrt(s)`` (> 0).

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_rms
        >>> t = scale_by_rms(0.75)
        >>> u, _ = t.update(jnp.array([4.0, -1.0]), t.init(jnp.zeros(2)))
        >>> [round(v, 6) for v in u.tolist()]   # g / (0.5 * |g|)
        [2.0, -2.0]
    """
    check_beta("beta", beta)
    check_positive("eps", eps)

    def init(params: PyTree) -> ScaleByRmsState:
        return ScaleByRmsState(nu=_zeros_moment(params))

    def update(
        grads: PyTree, state: ScaleByRmsState, params: PyTree = None
    ) -> tuple[PyTree, ScaleByRmsState]:
        del params
        check_same_tree("grads", grads, state.nu, _STATE)
        nu = ewa.update(state.nu, _squares(grads, state.nu), beta)
        moment_grads = jax.tree.map(lambda g, n: jnp.asarray(g).astype(n.dtype), grads, nu)
        return _normalized(moment_grads, nu, eps, grads), ScaleByRmsState(nu=nu)

    return GradientTransformation(init, update)


def scale_by_adam(
    b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, nesterov: bool = False
) -> GradientTransformation:
    """Adam scaling with bias correction, the step count ``t`` starting at 1::

        v = b1 * v + (1 - b1) * g            v_hat = v / (1 - b1**t)
        s = b2 * s + (1 - b2) * g**2         s_hat = s / (1 - b2**t)
        update = v_hat / (sqrt(s_hat) + eps)

    With ``nesterov=True`` (Nadam, Dozat 2016, as ``optax.nadam``) the first moment looks one
    step ahead: ``v_hat = b1 * v / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t)``.

    State: :class:`ScaleByAdamState` (``count`` = t after the update, saturating at int32 max).

    Args:
        b1: EWA decay of the gradients in ``[0, 1)`` (number, array or tracer).
        b2: EWA decay of the squared gradients in ``[0, 1)``.
        eps: added to ``sqrt(s_hat)`` (> 0).
        nesterov: static ``bool``; the Nadam look-ahead of the first moment.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_adam
        >>> t = scale_by_adam(b1=0.5, b2=0.5)
        >>> state = t.init(jnp.zeros(1))
        >>> u1, state = t.update(jnp.array([2.0]), state)   # v_hat = 1 / 0.5, s_hat = 2 / 0.5
        >>> u2, state = t.update(jnp.array([-2.0]), state)  # v_hat = -0.5 / 0.75, s_hat = 3 / 0.75
        >>> [round(u, 6) for u in u1.tolist() + u2.tolist()]
        [1.0, -0.333333]
    """
    check_beta("b1", b1)
    check_beta("b2", b2)
    check_positive("eps", eps)

    def init(params: PyTree) -> ScaleByAdamState:
        zeros = _zeros_moment(params)
        return ScaleByAdamState(count=zero_count(), mu=zeros, nu=zeros)

    def update(
        grads: PyTree, state: ScaleByAdamState, params: PyTree = None
    ) -> tuple[PyTree, ScaleByAdamState]:
        del params
        check_same_tree("grads", grads, state.mu, _STATE)
        count = safe_increment(state.count)
        mu = ewa.update(state.mu, grads, b1)
        nu = ewa.update(state.nu, _squares(grads, state.nu), b2)
        mu_hat = ewa.debias(mu, b1, count)
        if nesterov:
            ahead = ewa.debias(mu, b1, safe_increment(count))
            now = ewa.debias(jax.tree.map(lambda g, m: g.astype(m.dtype), grads, mu), b1, count)
            mu_hat = jax.tree.map(lambda a, g: b1 * a + (1 - b1) * g, ahead, now)
        updates = _normalized(mu_hat, ewa.debias(nu, b2, count), eps, grads)
        return updates, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def add_l2(lambd: Any) -> GradientTransformation:
    """Add the L2 term ``lambd * W`` to the updates: ``u = u + lambd * W`` (every leaf of params).

    Placed before the rescaling (on the raw gradient) this is coupled L2 regularization, the
    gradient of ``lambd / 2 * ||W||**2``; the course's cost ``lambd / (2 m) * sum ||W||_F**2``
    corresponds to ``add_l2(lambd / m)``. Placed after the rescaling (as in :func:`adamw`) it is
    decoupled weight decay. Needs ``params`` in ``update``. State: :class:`EmptyState`.

    Args:
        lambd: the L2 strength (>= 0; number, array or tracer).

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import add_l2
        >>> t = add_l2(0.1)
        >>> params = {"W": jnp.array([2.0, -4.0])}
        >>> u, _ = t.update({"W": jnp.array([1.0, 1.0])}, t.init(params), params)
        >>> [round(v, 6) for v in u["W"].tolist()]
        [1.2, 0.6]
    """
    check_finite("lambd", lambd)
    check_range("lambd", lambd, 0.0)

    def update(
        updates: PyTree, state: EmptyState, params: PyTree = None
    ) -> tuple[PyTree, EmptyState]:
        if params is None:
            raise ValueError(
                "add_l2 (L2 / weight decay) needs params: call update(grads, state, params)"
            )
        check_same_tree("params", params, updates, "grads")

        def leaf(u: jax.Array, p: jax.Array) -> jax.Array:
            u, p = jnp.asarray(u), jnp.asarray(p)
            dtype = jnp.result_type(u.dtype, jnp.float32)
            decayed: jax.Array = u.astype(dtype) + lambd * p.astype(dtype)
            return decayed.astype(u.dtype)

        return jax.tree.map(leaf, updates, params), state

    return GradientTransformation(init_empty, update)


def scale_by_learning_rate(learning_rate: LearningRate) -> GradientTransformation:
    """The final step: ``updates = -lr * u``, so that ``apply_updates`` adds them (``W -= lr * u``).

    ``learning_rate`` is a positive number/array or a schedule ``lr(t)``, evaluated at
    ``t`` = the number of updates already made (0 on the first update); a schedule keeps that count
    in :class:`ScaleByScheduleState`, a constant keeps :class:`EmptyState`.

    Args:
        learning_rate: number, array, tracer or schedule ``lr(t)``.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import scale_by_learning_rate
        >>> from jaxdl import optim
        >>> t = scale_by_learning_rate(optim.inverse_time_decay(0.1, decay_rate=1.0))
        >>> state = t.init(jnp.zeros(1))
        >>> u1, state = t.update(jnp.array([2.0]), state)   # lr(0) = 0.1
        >>> u2, state = t.update(jnp.array([2.0]), state)   # lr(1) = 0.05
        >>> [round(u, 6) for u in u1.tolist() + u2.tolist()]
        [-0.2, -0.1]
    """
    check_learning_rate(learning_rate)

    def scaled(updates: PyTree, lr: Any) -> PyTree:
        def leaf(u: jax.Array) -> jax.Array:
            u = jnp.asarray(u)
            dtype = jnp.result_type(u.dtype, jnp.float32)
            return (-jnp.asarray(lr, dtype) * u.astype(dtype)).astype(u.dtype)

        return jax.tree.map(leaf, updates)

    if callable(learning_rate):

        def init(params: PyTree) -> ScaleByScheduleState:
            del params
            return ScaleByScheduleState(count=zero_count())

        def update(
            updates: PyTree, state: ScaleByScheduleState, params: PyTree = None
        ) -> tuple[PyTree, ScaleByScheduleState]:
            del params
            lr = learning_rate(state.count)
            return scaled(updates, lr), ScaleByScheduleState(count=safe_increment(state.count))

        return GradientTransformation(init, update)

    def update_constant(
        updates: PyTree, state: EmptyState, params: PyTree = None
    ) -> tuple[PyTree, EmptyState]:
        del params
        return scaled(updates, learning_rate), state

    return GradientTransformation(init_empty, update_constant)
