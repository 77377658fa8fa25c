"""Gradient checking: backprop gradients against two-sided finite differences.

For every parameter coordinate ``i`` the numeric gradient is

    g_approx_i = (J(theta + eps * e_i) - J(theta - eps * e_i)) / (2 * eps)

and it is compared with the analytic gradient ``g = grad_fn(params, *args)`` by the relative
difference

    ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)

over all parameters (the verdict) and over each leaf on its own (to locate a bug). Everything is
computed in float64 (x64 is switched on for the check only). The ``2 * n`` loss evaluations run
under ``vmap`` in chunks sized to a memory budget (see :mod:`jaxdl.gradcheck.finite_differences`);
coordinates whose step crosses a ReLU-like corner are found by :mod:`jaxdl.gradcheck.kinks`.

Bands (the usual rule of thumb): below 1e-7 great; 1e-7 to 1e-3 worth a look; above 1e-3 most
likely a bug. A leaf is reported as failing when its own relative difference exceeds
``max(threshold, 1e-3)`` (the "likely bug" band, or the caller's threshold when that is looser)
and its error ``||g_leaf - g_approx_leaf||_2`` is above the noise floor
``1e-7 * (||g||_2 + ||g_approx||_2)`` of the whole gradient. The floor keeps a leaf whose true
gradient is zero (a bias cancelled by batch norm's mean subtraction, say), whose relative
difference is rounding noise over rounding noise, from being named. NaN always fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import check_positive, check_positive_int
from jaxdl.gradcheck.finite_differences import MEMORY_BUDGET_BYTES as MEMORY_BUDGET_BYTES
from jaxdl.gradcheck.finite_differences import OWN_GROUP_SIZE as OWN_GROUP_SIZE
from jaxdl.gradcheck.finite_differences import (
    checked_loss_grad,
    grad_leaves,
    leaf_kinks,
    numeric_gradient,
    param_paths,
    split_loss,
)
from jaxdl.gradcheck.finite_differences import leaf_path as leaf_path
from jaxdl.gradcheck.float64 import as_float64, to_float64
from jaxdl.gradcheck.kinks import Kink
from jaxdl.typing import PyTree

GREAT = 1e-7
LIKELY_BUG = 1e-3
WORST_COORDINATES = 5


class Coordinate(NamedTuple):
    """One parameter coordinate of a leaf with both gradient estimates.

    >>> from jaxdl.gradcheck import Coordinate
    >>> Coordinate(index=(0, 1), analytic=0.5, numeric=0.25).numeric
    0.25
    """

    index: tuple[int, ...]  # type: ignore[assignment]  # shadows tuple.index
    analytic: float
    numeric: float


@dataclass(frozen=True)
class LeafCheck:
    """Relative difference of one leaf; ``worst`` lists its largest errors when it fails.

    ``failed``: difference above ``max(threshold, 1e-3)`` and error above the noise floor.

    >>> from jaxdl.gradcheck import check_mlp
    >>> check_mlp(sizes=(2, 3, 2), batch=4).per_leaf["layers[0].W"].failed
    False
    """

    shape: tuple[int, ...]
    difference: float
    failed: bool
    worst: tuple[Coordinate, ...]
    kinks: tuple[Kink, ...] = ()


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`; ``str(result)`` is a readable report.

    >>> from jaxdl.gradcheck import check_mlp
    >>> result = check_mlp(sizes=(2, 3, 2), batch=4)
    >>> result.passed, result.num_params, result.failing
    (True, 20, ())
    """

    difference: float
    per_leaf: dict[str, LeafCheck]
    passed: bool
    threshold: float
    epsilon: float
    num_params: int
    analytic: PyTree
    numeric: PyTree

    @property
    def kinks(self) -> dict[str, tuple[Kink, ...]]:
        """Coordinates whose finite-difference step crosses a kink (excluded from the verdict)."""
        return {path: leaf.kinks for path, leaf in self.per_leaf.items() if leaf.kinks}

    @property
    def failing(self) -> tuple[str, ...]:
        """Paths of the leaves whose own relative difference is above the failing bar."""
        return tuple(path for path, leaf in self.per_leaf.items() if leaf.failed)

    def __str__(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        lines = [
            f"gradient check {status}: relative difference {self.difference:.3e} "
            f"(threshold {self.threshold:.0e}) over {self.num_params} parameters, "
            f"epsilon {self.epsilon:.0e}",
            verdict(self.difference),
        ]
        width = max(len("leaf"), *(len(path) for path in self.per_leaf))
        shapes = {path: str(leaf.shape) for path, leaf in self.per_leaf.items()}
        shape_width = max(len("shape"), *(len(s) for s in shapes.values()))
        lines.append(f"  {'leaf':<{width}}  {'shape':<{shape_width}}  difference")
        for path, leaf in self.per_leaf.items():
            mark = "  FAIL" if leaf.failed else ""
            if not leaf.failed and leaf.difference > _failing_bar(self.threshold):
                mark = "  (error below the noise floor: gradient ~ 0)"
            lines.append(
                f"  {path:<{width}}  {shapes[path]:<{shape_width}}  {leaf.difference:.3e}{mark}"
            )
        if self.failing:
            bar = _failing_bar(self.threshold)
            lines.append(f"failing leaves (own difference above {bar:.0e}): "
                         + ", ".join(self.failing))
            for path in self.failing:
                lines.append(f"  {path}: worst coordinates")
                for c in self.per_leaf[path].worst:
                    index = "[" + ", ".join(map(str, c.index)) + "]"
                    lines.append(
                        f"    {index:<12} backprop {c.analytic: .6e}  numeric {c.numeric: .6e}"
                    )
        if self.kinks:
            count = sum(len(k) for k in self.kinks.values())
            lines.append(
                f"{count} coordinate(s) where the +/-epsilon step crosses a kink (a ReLU-like "
                "corner within epsilon; backprop gives one side's slope), left out of the verdict:"
            )
            for path, kinks in self.kinks.items():
                for k in kinks[:WORST_COORDINATES]:
                    index = path + "[" + ", ".join(map(str, k.index)) + "]"
                    lines.append(f"    {index:<20} backprop {k.analytic: .6e}  one-sided slopes "
                                 f"{k.backward: .6e} / {k.forward: .6e}")
        return "\n".join(lines)


def verdict(difference: float) -> str:
    """The rule-of-thumb reading of a relative difference.

    >>> from jaxdl.gradcheck import verdict
    >>> verdict(2e-5)
    'check: between 1e-7 and 1e-3, inspect the leaves with the largest difference'
    """
    if difference < GREAT:
        return "great: below 1e-7, backprop agrees with the finite differences"
    if difference <= LIKELY_BUG:
        return "check: between 1e-7 and 1e-3, inspect the leaves with the largest difference"
    return "likely a bug: above 1e-3, backprop disagrees with the finite differences"


def relative_difference(g: Any, g_approx: Any) -> float:
    """``||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)``; 0 when both are zero, NaN stays NaN.

    >>> from jaxdl.gradcheck import relative_difference
    >>> relative_difference([3.0, 0.0], [0.0, 4.0]), relative_difference([0.0], [0.0])
    (0.7142857142857143, 0.0)
    """
    g = np.ravel(np.asarray(g, dtype=np.float64))
    g_approx = np.ravel(np.asarray(g_approx, dtype=np.float64))
    denominator = np.linalg.norm(g) + np.linalg.norm(g_approx)
    return float(np.linalg.norm(g - g_approx) / denominator) if denominator != 0 else 0.0


def gradcheck(
    loss_fn: Callable[..., Any],
    params: PyTree,
    *args: Any,
    grad_fn: Callable[..., PyTree] | None = None,
    epsilon: float = 1e-7,
    threshold: float = 1e-7,
    chunk_size: int | None = None,
) -> GradcheckResult:
    """Compare ``grad_fn(params, *args)`` (default ``jax.grad(loss_fn)``) with finite differences.

    ``loss_fn(params, *args)`` must return a deterministic scalar (switch dropout off; include the
    L2 term if the gradient should include it). Params and floating ``args`` are cast to float64.
    ``chunk_size`` fixes how many coordinates are evaluated per ``vmap`` call (default: as many as
    keep a chunk's intermediates within about 16 MiB). ``passed`` is ``difference < threshold``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.gradcheck import gradcheck
    >>> result = gradcheck(lambda p, x: jnp.sum(jnp.tanh(p["w"] * x)), {"w": jnp.ones(3)},
    ...                    jnp.arange(3.0))
    >>> result.passed, result.difference < 1e-7
    (True, True)
    >>> gradcheck(lambda p: jnp.sum(p ** 2), jnp.ones(2), grad_fn=lambda p: 3 * p).failing
    ('params',)
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(params, *args), got {loss_fn!r}")
    if grad_fn is not None and not callable(grad_fn):
        raise TypeError(f"grad_fn must be callable as grad_fn(params, *args), got {grad_fn!r}")
    for name, value in (("epsilon", epsilon), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"{name} must be a positive float, got {value!r}")
        check_positive(name, value)
    if chunk_size is not None:
        check_positive_int("chunk_size", chunk_size)
    paths = param_paths(params)

    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(as_float64, params)
        args = jax.tree_util.tree_map(to_float64, args)
        spec, leaves, arrays = split_loss(loss_fn, params, args)
        if grad_fn is None:
            grads = checked_loss_grad(spec, leaves, arrays, with_grad=True)
        else:
            checked_loss_grad(spec, leaves, arrays, with_grad=False)
            grads = grad_leaves(grad_fn(params, *args), params, paths)
        eps = jnp.float64(epsilon)
        differences = numeric_gradient(leaves, arrays, eps, spec=spec, chunk_size=chunk_size)
        analytic = [np.asarray(g, dtype=np.float64) for g in grads]
        numeric = [np.asarray(g, dtype=np.float64) for g in differences]
        bar = _failing_bar(threshold)
        failing = [k for k, (g, n) in enumerate(zip(analytic, numeric, strict=True))
                   if not relative_difference(g, n) <= bar]
        kinks = leaf_kinks(spec, leaves, arrays, analytic, numeric, failing, float(epsilon))
    # Kink coordinates count as agreeing: the central difference is meaningless there.
    agreed = [n.copy() for n in numeric]
    for k, found in kinks.items():
        for kink in found:
            agreed[k][kink.index] = analytic[k][kink.index]

    g_all = np.concatenate([g.ravel() for g in analytic])
    g_approx_all = np.concatenate([g.ravel() for g in agreed])
    difference = relative_difference(g_all, g_approx_all)
    noise_floor = GREAT * (np.linalg.norm(g_all) + np.linalg.norm(g_approx_all))
    per_leaf = {}
    for k, (path, g, g_approx) in enumerate(zip(paths, analytic, agreed, strict=True)):
        leaf_difference = relative_difference(g, g_approx)
        # NaN fails; an error below the noise floor cannot be told from rounding noise
        failed = not (leaf_difference <= bar or np.linalg.norm(g - g_approx) <= noise_floor)
        per_leaf[path] = LeafCheck(
            shape=g.shape,
            difference=leaf_difference,
            failed=failed,
            worst=_worst_coordinates(g, g_approx) if failed else (),
            kinks=tuple(kinks.get(k, ())),
        )
    treedef = jax.tree_util.tree_structure(params)
    return GradcheckResult(
        difference=difference,
        per_leaf=per_leaf,
        passed=difference < threshold,
        threshold=float(threshold),
        epsilon=float(epsilon),
        num_params=sum(g.size for g in analytic),
        analytic=jax.tree_util.tree_unflatten(treedef, analytic),
        numeric=jax.tree_util.tree_unflatten(treedef, numeric),
    )


def _failing_bar(threshold: float) -> float:
    return max(float(threshold), LIKELY_BUG)


def _worst_coordinates(g: np.ndarray, g_approx: np.ndarray) -> tuple[Coordinate, ...]:
    """The coordinates with the largest ``|g - g_approx|``, largest first (NaN counts as inf)."""
    error = np.nan_to_num(np.abs(g - g_approx).ravel(), nan=np.inf)
    order = np.argsort(-error, kind="stable")[:WORST_COORDINATES]
    return tuple(
        Coordinate(
            index=tuple(int(i) for i in np.unravel_index(j, g.shape)),
            analytic=float(g.ravel()[j]),
            numeric=float(g_approx.ravel()[j]),
        )
        for j in order
    )
