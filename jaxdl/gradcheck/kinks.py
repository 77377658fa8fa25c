"""Kinks in gradient checking: coordinates where a finite-difference step crosses a corner.

A ReLU (or max, abs, clip) whose input lies within ``epsilon`` of its corner makes the two-sided
difference average two different slopes, so it disagrees with backprop although backprop is
right. Such a coordinate shows itself through its one-sided slopes

    forward_i  = (J(theta + eps e_i) - J(theta)) / eps
    backward_i = (J(theta) - J(theta - eps e_i)) / eps

which agree to ``O(eps)`` where ``J`` is smooth but differ by the jump in slope at a kink. A
coordinate is a kink when they differ by more than ``LIKELY_BUG`` relative to their size (and
more than the rounding noise of ``J``), and backprop's value lies between them (a valid one-sided
derivative, as JAX's ``relu'(0) = 0`` is). Backprop outside that interval is still a bug.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

LIKELY_BUG = 1e-3
MAX_CANDIDATES = 256  # per leaf: the coordinates with the largest disagreement


class Kink(NamedTuple):
    """A coordinate whose finite-difference step crosses a kink, with its one-sided slopes."""

    index: tuple[int, ...]  # type: ignore[assignment]  # shadows tuple.index
    analytic: float
    forward: float
    backward: float


def find_kinks(
    evaluate: Callable[[int, int, float], float],
    loss: float,
    analytic: np.ndarray,
    numeric: np.ndarray,
    leaf: int,
    epsilon: float,
) -> list[Kink]:
    """The kinks among the coordinates of leaf number ``leaf`` where backprop and the central
    difference disagree; ``evaluate(leaf, flat_index, step)`` is ``J`` with that coordinate moved
    by ``step``, ``loss`` is ``J`` at the unmoved point.

    >>> from jaxdl.gradcheck.kinks import find_kinks
    >>> import numpy as np
    >>> w = np.array([0.0, 1.0])           # J = relu(w0) + w1**2 has a kink at w0 = 0
    >>> def J(leaf, i, step):
    ...     v = w.copy(); v[i] += step
    ...     return max(v[0], 0.0) + v[1] ** 2
    >>> [k.index for k in find_kinks(J, J(0, 0, 0.0), np.array([0.0, 2.0]),
    ...                              np.array([0.5, 2.0]), 0, 1e-7)]
    [(0,)]
    """
    error = np.abs(analytic - numeric).ravel()
    scale = np.maximum(np.abs(analytic), np.abs(numeric)).ravel()
    candidates = np.flatnonzero((error > LIKELY_BUG * scale) & (error > 1e-12))
    candidates = candidates[np.argsort(-error[candidates], kind="stable")][:MAX_CANDIDATES]
    # float64 rounding of J, amplified by the division by epsilon (with a wide margin)
    noise = 64 * np.finfo(np.float64).eps * (1.0 + abs(loss)) / epsilon
    kinks = []
    for j in candidates.tolist():
        forward = (evaluate(leaf, j, epsilon) - loss) / epsilon
        backward = (loss - evaluate(leaf, j, -epsilon)) / epsilon
        jump = abs(forward - backward)
        if jump <= max(LIKELY_BUG * (abs(forward) + abs(backward)), noise):
            continue  # smooth here: the disagreement is backprop's
        g = float(analytic.ravel()[j])
        low, high = min(forward, backward), max(forward, backward)
        if low - noise - LIKELY_BUG * jump <= g <= high + noise + LIKELY_BUG * jump:
            index = tuple(int(i) for i in np.unravel_index(j, analytic.shape))
            kinks.append(Kink(index, g, float(forward), float(backward)))
    return kinks
