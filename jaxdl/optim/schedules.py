"""Learning-rate decay schedules: functions ``lr(t)`` of the step count ``t``.

``t`` counts updates already made (0 on the first update). ``transition_steps`` sets how many
steps make one "epoch" of the decay: with ``transition_steps`` = mini-batches per epoch, the
ratio ``t / transition_steps`` is the (0-based) epoch number of the course's formulas, and with
``staircase=True`` its floor is used, so the rate changes only every ``transition_steps`` steps
(the course's "fixed interval" scheduling).

Values (``init_value``, ``decay_rate``, ``k``, scales, the cosine schedules' values and step
counts) may be traced; ``staircase`` and the boundaries of :func:`piecewise_constant` are static
Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.checks import check_finite, check_float32, check_positive, check_range, is_concrete
from jaxdl.optim.base import Schedule


def _epochs(count: Any, transition_steps: Any, staircase: bool) -> jax.Array:
    """``t / transition_steps`` as a float, floored when ``staircase``."""
    ratio = jnp.asarray(count, jnp.result_type(float)) / transition_steps
    return jnp.floor(ratio) if staircase else ratio


def _check_common(init_value: Any, transition_steps: Any, staircase: bool = False) -> None:
    check_positive("init_value", init_value)
    check_float32("init_value", init_value, positive=True)
    check_positive("transition_steps", transition_steps)
    if not isinstance(staircase, bool):
        raise TypeError(f"staircase must be True or False, got {staircase!r}")


def constant(value: Any) -> Schedule:
    """A constant rate, ``lr(t) = value``.

    Args:
      value: the learning rate (> 0).

    Returns:
      The schedule ``t -> lr(t)``.

    Examples:
      >>> from jaxdl import optim
      >>> round(float(optim.constant(0.1)(1000)), 6)
      0.1
    """
    check_positive("value", value)

    def schedule(count: Any) -> jax.Array:
        del count
        return jnp.asarray(value, jnp.result_type(float))

    return schedule


def inverse_time_decay(
    init_value: Any, decay_rate: Any, transition_steps: Any = 1, staircase: bool = False
) -> Schedule:
    """The course's decay ``lr(t) = init_value / (1 + decay_rate * t / transition_steps)``.

    With ``staircase`` the ratio is floored:
    ``init_value / (1 + decay_rate * floor(t / transition_steps))``.

    Args:
      init_value: the rate at ``t = 0`` (> 0).
      decay_rate: the decay per epoch (>= 0).
      transition_steps: steps per decay "epoch" (> 0), e.g. mini-batches per epoch.
      staircase: change the rate only every ``transition_steps`` steps.

    Returns:
      The schedule ``t -> lr(t)``.

    Examples:
      >>> from jaxdl import optim
      >>> lr = optim.inverse_time_decay(0.2, decay_rate=1.0, transition_steps=10, staircase=True)
      >>> [round(float(lr(t)), 4) for t in (0, 9, 10, 20)]
      [0.2, 0.2, 0.1, 0.0667]
    """
    _check_common(init_value, transition_steps, staircase)
    check_finite("decay_rate", decay_rate)
    check_range("decay_rate", decay_rate, 0.0)
    check_float32("decay_rate", decay_rate)

    def schedule(count: Any) -> jax.Array:
        epochs = _epochs(count, transition_steps, staircase)
        rate: jax.Array = init_value / (1 + decay_rate * epochs)
        return rate

    return schedule


def exponential_decay(
    init_value: Any, decay_rate: Any, transition_steps: Any = 1, staircase: bool = False
) -> Schedule:
    """``lr(t) = init_value * decay_rate ** (t / transition_steps)`` (the exponent floored when
    ``staircase``), ``0 < decay_rate <= 1``.

    Args:
      init_value: the rate at ``t = 0`` (> 0).
      decay_rate: the factor per epoch, in ``(0, 1]``.
      transition_steps: steps per decay "epoch" (> 0), e.g. mini-batches per epoch.
      staircase: change the rate only every ``transition_steps`` steps.

    Returns:
      The schedule ``t -> lr(t)``.

    Examples:
      >>> from jaxdl import optim
      >>> lr = optim.exponential_decay(1.0, decay_rate=0.5, transition_steps=2)
      >>> [round(float(lr(t)), 4) for t in (0, 1, 2, 4)]
      [1.0, 0.7071, 0.5, 0.25]
    """
    _check_common(init_value, transition_steps, staircase)
    check_range("decay_rate", decay_rate, 0.0, 1.0, low_open=True)

    def schedule(count: Any) -> jax.Array:
        rate: jax.Array = init_value * decay_rate ** _epochs(count, transition_steps, staircase)
        return rate

    return schedule


def inverse_sqrt_decay(init_value: Any, k: Any, transition_steps: Any = 1) -> Schedule:
    """``lr(t) = init_value * k / sqrt(1 + t / transition_steps)``.

    Args:
      init_value: the base rate (> 0).
      k: a constant factor (> 0).
      transition_steps: steps per decay "epoch" (> 0).

    Returns:
      The schedule ``t -> lr(t)``.

    Examples:
      >>> from jaxdl import optim
      >>> lr = optim.inverse_sqrt_decay(0.1, k=1.0)
      >>> [round(float(lr(t)), 4) for t in (0, 3, 8)]
      [0.1, 0.05, 0.0333]
    """
    _check_common(init_value, transition_steps)
    check_positive("k", k)

    def schedule(count: Any) -> jax.Array:
        rate: jax.Array = init_value * k / jnp.sqrt(1 + _epochs(count, transition_steps, False))
        return rate

    return schedule


def piecewise_constant(init_value: Any, boundaries_and_scales: Mapping[int, Any]) -> Schedule:
    """Hand-set discrete decay: ``lr(t) = init_value * prod(scale_b for boundary b <= t)``.

    Args:
      init_value: the rate before the first boundary (> 0).
      boundaries_and_scales: maps step counts (non-negative Python ints) to positive factors,
        e.g. ``{1000: 0.1, 2000: 0.1}`` divides the rate by 10 at step 1000 and again at 2000.

    Returns:
      The schedule ``t -> lr(t)``.

    Raises:
      TypeError: when ``boundaries_and_scales`` is not a mapping.
      ValueError: for a negative or non-integer boundary, or a scale <= 0.

    Examples:
      >>> from jaxdl import optim
      >>> lr = optim.piecewise_constant(1.0, {10: 0.1, 20: 0.1})
      >>> [round(float(lr(t)), 4) for t in (0, 10, 25)]
      [1.0, 0.1, 0.01]
    """
    check_positive("init_value", init_value)
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(
            "boundaries_and_scales must be a mapping {step: scale}, "
            f"got {type(boundaries_and_scales).__name__}"
        )
    for boundary, scale in boundaries_and_scales.items():
        if isinstance(boundary, bool) or not isinstance(boundary, int) or boundary < 0:
            raise ValueError(
                f"boundaries_and_scales keys must be non-negative int step counts, got {boundary!r}"
            )
        check_positive(f"boundaries_and_scales[{boundary}]", scale)
    steps = sorted(boundaries_and_scales)

    def schedule(count: Any) -> jax.Array:
        count = jnp.asarray(count)
        value = jnp.asarray(init_value, jnp.result_type(float))
        for boundary in steps:
            value = jnp.where(count >= boundary, value * boundaries_and_scales[boundary], value)
        return value

    return schedule


def _half_cosine(progress: jax.Array) -> jax.Array:
    """``0.5 * (1 + cos(pi * progress))``: 1 at progress 0, 0 at progress 1."""
    return 0.5 * (1 + jnp.cos(jnp.pi * progress))


def cosine_decay_schedule(init_value: Any, decay_steps: Any, alpha: Any = 0.0) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps`` steps::

        lr(t) = init_value * ((1 - alpha) * 0.5 * (1 + cos(pi * min(t, T) / T)) + alpha)

    with ``T = decay_steps``, so ``lr(t) = alpha * init_value`` after step ``T``. Same values as
    ``optax.cosine_decay_schedule(init_value, decay_steps, alpha)``.

    Args:
        init_value: positive starting rate (may be traced).
        decay_steps: positive length ``T`` of the decay in steps (may be traced).
        alpha: final rate as a fraction of ``init_value``, in ``[0, 1]`` (may be traced).

    Returns:
        The schedule ``lr(t)``.

    >>> from jaxdl.optim import cosine_decay_schedule
    >>> lr = cosine_decay_schedule(1.0, 10, alpha=0.1)
    >>> [round(float(lr(t)), 4) for t in (0, 5, 10, 20)]
    [1.0, 0.55, 0.1, 0.1]
    """
    check_positive("init_value", init_value)
    check_positive("decay_steps", decay_steps)
    check_range("alpha", alpha, 0.0, 1.0)

    def schedule(count: Any) -> jax.Array:
        t = jnp.minimum(jnp.asarray(count, jnp.result_type(float)), decay_steps)
        rate: jax.Array = init_value * ((1 - alpha) * _half_cosine(t / decay_steps) + alpha)
        return rate

    return schedule


def warmup_cosine_decay_schedule(
    init_value: Any, peak_value: Any, warmup_steps: Any, decay_steps: Any, end_value: Any = 0.0
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps`` steps, then cosine
    decay to ``end_value``; ``decay_steps`` is the total length, warmup included (as in optax)::

        lr(t) = init_value + (peak_value - init_value) * t / W                 for t < W
        lr(t) = end_value + (peak_value - end_value)
                * 0.5 * (1 + cos(pi * min(t - W, D - W) / (D - W)))           for t >= W

    with ``W = warmup_steps``, ``D = decay_steps``; ``end_value`` after step ``D``. Same values as
    ``optax.warmup_cosine_decay_schedule(init_value, peak_value, W, D, end_value)``.

    Args:
        init_value: rate at step 0, ``>= 0`` (may be traced).
        peak_value: rate at step ``W``, ``> 0`` (may be traced).
        warmup_steps: ``W >= 0`` (0: no warmup; may be traced).
        decay_steps: ``D > W``, the step at which ``end_value`` is reached (may be traced).
        end_value: final rate, ``>= 0`` (may be traced).

    Returns:
        The schedule ``lr(t)``.

    >>> from jaxdl.optim import warmup_cosine_decay_schedule
    >>> lr = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=14)
    >>> [round(float(lr(t)), 4) for t in (0, 2, 4, 9, 14, 30)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    for name, value in (("init_value", init_value), ("end_value", end_value)):
        check_finite(name, value)
        check_range(name, value, 0.0)
    check_positive("peak_value", peak_value)
    check_finite("warmup_steps", warmup_steps)
    check_range("warmup_steps", warmup_steps, 0.0)
    check_positive("decay_steps", decay_steps)
    if is_concrete(warmup_steps) and is_concrete(decay_steps):
        if not float(decay_steps) > float(warmup_steps):
            raise ValueError(
                f"decay_steps ({decay_steps}) must be larger than warmup_steps ({warmup_steps}): "
                "it is the total length of the schedule, warmup included"
            )

    def schedule(count: Any) -> jax.Array:
        t = jnp.asarray(count, jnp.result_type(float))
        warm = init_value + (peak_value - init_value) * t / jnp.maximum(warmup_steps, 1)
        length = decay_steps - warmup_steps
        progress = jnp.clip(t - warmup_steps, 0, length) / length
        decayed = end_value + (peak_value - end_value) * _half_cosine(progress)
        return jnp.where(t < warmup_steps, warm, decayed)

    return schedule
