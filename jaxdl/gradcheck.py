"""Gradient checking: backprop gradients against two-sided finite differences.

For every parameter coordinate ``i`` the numeric gradient is

    g_approx_i = (J(theta + eps * e_i) - J(theta - eps * e_i)) / (2 * eps)

and it is compared with the analytic gradient ``g = grad_fn(params, *args)`` by the relative
difference

    ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)

over all parameters (the verdict) and over each leaf on its own (to locate a bug). Everything is
computed in float64 (x64 is switched on for the check only). The ``2 * n`` loss evaluations run
under ``vmap`` in chunks sized to a memory budget. Every leaf of at least ``OWN_GROUP_SIZE``
entries is perturbed in its own compiled loop while the other leaves stay unbatched, so layers
upstream of it are computed once per chunk, not once per lane; the smaller leaves (biases, batch
norm scales, scalars) are perturbed together as one flat vector, in one more compiled loop.

Bands (the usual rule of thumb): below 1e-7 great; 1e-7 to 1e-3 worth a look; above 1e-3 most
likely a bug. A leaf is reported as failing when its own relative difference exceeds
``max(threshold, 1e-3)`` (the "likely bug" band, or the caller's threshold when that is looser)
and its error ``||g_leaf - g_approx_leaf||_2`` is above the noise floor
``1e-7 * (||g||_2 + ||g_approx||_2)`` of the whole gradient. The floor keeps a leaf whose true
gradient is zero (a bias cancelled by batch norm's mean subtraction, say), whose relative
difference is rounding noise over rounding noise, from being named. NaN always fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

from jaxdl import losses, nn
from jaxdl.checks import check_positive, check_positive_int, is_concrete
from jaxdl.float64 import as_float64, to_float64
from jaxdl.kinks import Kink, find_kinks
from jaxdl.train import Trainer, check_data, trainer_hyperparams
from jaxdl.typing import PyTree

GREAT = 1e-7
LIKELY_BUG = 1e-3
WORST_COORDINATES = 5
MEMORY_BUDGET_BYTES = 16 * 2**20
OWN_GROUP_SIZE = 1024



class Coordinate(NamedTuple):
    """One parameter coordinate of a leaf with both gradient estimates."""

    index: tuple[int, ...]
    analytic: float
    numeric: float


@dataclass(frozen=True)
class LeafCheck:
    """Relative difference of one leaf; ``worst`` lists its largest errors when it fails.

    ``failed``: difference above ``max(threshold, 1e-3)`` and error above the noise floor.
    """

    shape: tuple[int, ...]
    difference: float
    failed: bool
    worst: tuple[Coordinate, ...]
    kinks: tuple[Kink, ...] = ()


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`; ``str(result)`` is a readable report."""

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
    """The rule-of-thumb reading of a relative difference."""
    if difference < GREAT:
        return "great: below 1e-7, backprop agrees with the finite differences"
    if difference <= LIKELY_BUG:
        return "check: between 1e-7 and 1e-3, inspect the leaves with the largest difference"
    return "likely a bug: above 1e-3, backprop disagrees with the finite differences"


def relative_difference(g: Any, g_approx: Any) -> float:
    """``||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)``; 0 when both are zero, NaN stays NaN."""
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
    paths = _check_params(params)

    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(as_float64, params)
        args = jax.tree_util.tree_map(to_float64, args)
        spec, leaves, arrays = _split(loss_fn, params, args)
        analytic = _checked_loss_grad(spec, leaves, arrays, with_grad=grad_fn is None)
        if grad_fn is not None:
            analytic = _check_grad(grad_fn(params, *args), params, paths)
        eps = jnp.float64(epsilon)
        numeric = _numeric_gradient(leaves, arrays, eps, spec=spec, chunk_size=chunk_size)
        analytic = [np.asarray(g, dtype=np.float64) for g in analytic]
        numeric = [np.asarray(g, dtype=np.float64) for g in numeric]
        kinks = _kinks(spec, leaves, arrays, analytic, numeric, float(epsilon), threshold)
    # Kink coordinates count as agreeing: the central difference is meaningless there.
    agreed = [n.copy() for n in numeric]
    for k, found in kinks.items():
        for kink in found:
            agreed[k][kink.index] = analytic[k][kink.index]

    g_all = np.concatenate([g.ravel() for g in analytic])
    g_approx_all = np.concatenate([g.ravel() for g in agreed])
    difference = relative_difference(g_all, g_approx_all)
    noise_floor = GREAT * (np.linalg.norm(g_all) + np.linalg.norm(g_approx_all))
    bar = _failing_bar(threshold)
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
        analytic=treedef.unflatten(analytic),
        numeric=treedef.unflatten(numeric),
    )


def leaf_path(path: tuple[Any, ...]) -> str:
    """Readable name of a key path: ``{"layers": [{"W": ...}, ...]}`` gives ``layers[1].W``."""
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


def _failing_bar(threshold: float) -> float:
    return max(float(threshold), LIKELY_BUG)


def _check_params(params: PyTree) -> list[str]:
    """Paths of the leaves; every leaf must be a concrete real floating-point array."""
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


def _checked_loss_grad(
    spec: tuple[Any, ...], leaves: list[jax.Array], arrays: list[jax.Array], with_grad: bool
) -> list[jax.Array] | None:
    """``jax.grad(loss_fn)`` leaves (or None) once the loss is found fit for checking.

    The loss must be a finite scalar, the same on two evaluations at the same point. Randomness
    drawn in Python (a new key or a NumPy mask on every call) shows up as two different traces,
    each of which is evaluated; identical traces are evaluated twice by the cached compiled loss
    (which also catches random host callbacks).
    """
    traces = [jax.make_jaxpr(partial(_loss, spec))(leaves, arrays) for _ in range(2)]
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
            value, grads = _value(leaves, arrays, spec=spec, with_grad=with_grad)
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
        grads = _value(leaves, arrays, spec=spec, with_grad=True)[1]
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


def _check_grad(grads: PyTree, params: PyTree, paths: list[str]) -> list[jax.Array]:
    """Leaves of ``grads`` after checking that they mirror ``params`` leaf by leaf."""
    expected = jax.tree_util.tree_structure(params)
    got = jax.tree_util.tree_structure(grads)
    if got != expected:
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


def _jaxpr_bytes(jaxpr: Any) -> int:
    """Bytes of every value a jaxpr produces, sub-jaxprs included (no buffer reuse assumed)."""
    total = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            aval = var.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += math.prod(aval.shape) * getattr(aval.dtype, "itemsize", 8)
    for sub in jex.core.subjaxprs(jaxpr):
        total += _jaxpr_bytes(sub)
    return total


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


def _split(
    loss_fn: Callable[..., Any], params: PyTree, args: tuple[Any, ...]
) -> tuple[tuple[Any, ...], list[jax.Array], list[jax.Array]]:
    """``(spec, param leaves, array arg leaves)`` for the compiled evaluators.

    Array leaves of ``args`` are traced; the others (models, Python numbers) go into the static
    ``spec``, so a later check of the same ``loss_fn`` and shapes reuses the compiled code.
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    arg_leaves, argdef = jax.tree_util.tree_flatten(args)
    arrays = [leaf for leaf in arg_leaves if _is_array(leaf)]
    static = tuple(None if _is_array(leaf) else _Static(leaf) for leaf in arg_leaves)
    return (loss_fn, treedef, argdef, static), leaves, arrays


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray))


def _loss(spec: tuple[Any, ...], leaves: list[jax.Array], arrays: list[jax.Array]) -> jax.Array:
    """``loss_fn(params, *args)`` rebuilt from flat leaves, traced arrays and static leaves."""
    loss_fn, treedef, argdef, static = spec
    it = iter(arrays)
    arg_leaves = [next(it) if s is None else s.value for s in static]
    return loss_fn(treedef.unflatten(leaves), *argdef.unflatten(arg_leaves))


@partial(jax.jit, static_argnames=("spec", "with_grad"))
def _value(
    leaves: list[jax.Array], arrays: list[jax.Array], *, spec: tuple[Any, ...], with_grad: bool
) -> tuple[jax.Array, list[jax.Array] | None]:
    """``(loss, jax.grad(loss_fn) over the param leaves or None)``, compiled once per ``spec``."""
    if with_grad:
        return jax.value_and_grad(partial(_loss, spec))(leaves, arrays)
    return _loss(spec, leaves, arrays), None


@partial(jax.jit, static_argnames=("spec", "chunk_size"))
def _numeric_gradient(
    leaves: list[jax.Array],
    arrays: list[jax.Array],
    epsilon: jax.Array,
    *,
    spec: tuple[Any, ...],
    chunk_size: int | None,
) -> list[jax.Array]:
    """Numeric gradient of every leaf, one group of leaves at a time.

    A group is flattened to one vector and its coordinates are perturbed in ``vmap`` chunks of
    ``chunk_size`` lanes (``None``: sized so a chunk's intermediates fit
    ``MEMORY_BUDGET_BYTES``). Leaves outside the group stay unbatched, so work upstream of the
    group is shared by all lanes.
    """
    if chunk_size is None:
        jaxpr = jax.make_jaxpr(partial(_loss, spec))(leaves, arrays).jaxpr
        chunk_size = max(1, MEMORY_BUDGET_BYTES // (2 * _jaxpr_bytes(jaxpr) + 1))

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
            return _loss(spec, [moved.get(k, leaf) for k, leaf in enumerate(leaves)], arrays)

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
    numeric = {}
    for group in groups + ([small] if small else []):
        numeric.update(zip(group, group_gradient(group), strict=True))
    return [numeric[k] for k in range(len(leaves))]


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


def _mlp_loss(
    params: PyTree, model: Any, state: PyTree, x: jax.Array, y: jax.Array, lambd: jax.Array
) -> jax.Array:
    """Cross-entropy of the MLP in train mode (batch statistics of ``x``) plus the L2 penalty."""
    logits, _ = model.apply(params, state, x, train=True)
    return losses.softmax_cross_entropy(logits, y) + losses.l2_penalty(params, lambd, x.shape[0])


def mlp_problem(
    seed: int = 0,
    *,
    sizes: tuple[int, ...] = (5, 8, 6, 3),
    batch: int = 16,
    lambd: float = 0.7,
) -> tuple[Callable[..., jax.Array], PyTree, tuple[Any, ...]]:
    """``(loss_fn, params, args)`` of the built-in MLP with every feature a check can cover.

    Batch norm in train mode on a fixed random batch, L2 with ``lambd``, dropout off (a random
    mask makes J ill-defined); the loss is softmax cross-entropy plus
    ``lambd / (2 m) * sum ||W||_F^2``. Data, labels and weights are random from ``seed``.
    """
    model = nn.MLP(sizes=tuple(sizes), batch_norm=True, dropout=False)
    k_init, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params, state = model.init(k_init)
    x = jax.random.normal(k_x, (batch, sizes[0]))
    y = jax.random.randint(k_y, (batch,), 0, sizes[-1])
    return _mlp_loss, params, (model, state, x, y, jnp.asarray(lambd))


def check_mlp(
    seed: int = 0,
    *,
    sizes: tuple[int, ...] = (5, 8, 6, 3),
    batch: int = 16,
    lambd: float = 0.7,
    epsilon: float = 1e-7,
    threshold: float = 1e-7,
) -> GradcheckResult:
    """Gradient check of :func:`mlp_problem` (the MLP with L2 and batch norm, dropout off)."""
    loss_fn, params, args = mlp_problem(seed, sizes=sizes, batch=batch, lambd=lambd)
    return gradcheck(loss_fn, params, *args, epsilon=epsilon, threshold=threshold)


def _model_loss(
    params: PyTree, trainer: Any, state: PyTree, x: jax.Array, y: jax.Array, hp: Any, lambd: Any
) -> jax.Array:
    """The trainer's data loss of its model in train mode, plus the L2 penalty when given."""
    outputs, _ = trainer.model.apply(params, state, x, train=True, hp=hp)
    cost = trainer.data_loss(outputs, y, None)
    return cost if lambd is None else cost + losses.l2_penalty(params, lambd, x.shape[0])


def check_model(
    model: Any,
    x: Any,
    y: Any,
    *,
    loss: Any = None,
    params: PyTree | None = None,
    state: PyTree | None = None,
    hp: dict[str, Any] | None = None,
    lambd: float | None = None,
    seed: int = 0,
    epsilon: float = 1e-7,
    threshold: float = 1e-7,
) -> GradcheckResult:
    """Gradient check of any model (:class:`jaxdl.model.ModelLike`) on a batch ``(x, y)``:

        J(params) = loss(model.apply(params, state, x, train=True, hp=hp)[0], y)
                    [+ lambd / (2 m) * sum ||W||_F^2]

    with ``loss`` as in ``Trainer(model, loss=loss)`` (default: cross-entropy by the output
    width). ``params``/``state`` default to ``model.init(jax.random.key(seed))``. The model must
    be deterministic in train mode (switch dropout off). :func:`check_mlp` is the built-in case.

    >>> import jax.numpy as jnp, numpy as np
    >>> from jaxdl.model import Model
    >>> linear = Model(lambda key: {"W": jnp.ones((2, 1))}, lambda p, x: x @ p["W"])
    >>> x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    >>> check_model(linear, x, np.array([0.5, 1.0]), loss="mean_squared_error").passed
    True
    """
    trainer = Trainer(model, loss=loss, metrics=())
    hp = trainer_hyperparams(trainer, hp or {})
    x, y = check_data(trainer, x, y, hp=hp)
    if params is None or state is None:
        fresh_params, fresh_state = model.init(jax.random.key(seed))
        params = fresh_params if params is None else params
        state = fresh_state if state is None else state
    l2 = None if lambd is None else jnp.asarray(lambd)
    return gradcheck(
        _model_loss, params, trainer, state, x, y, hp, l2, epsilon=epsilon, threshold=threshold
    )


def _kinks(
    spec: tuple[Any, ...],
    leaves: list[jax.Array],
    arrays: list[jax.Array],
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    epsilon: float,
    threshold: float,
) -> dict[int, list[Kink]]:
    """Kinks (see :mod:`jaxdl.kinks`) in each leaf whose own difference is above the failing
    bar; one-sided slopes come from the compiled loss, one coordinate at a time."""
    failing = [
        k for k, (g, n) in enumerate(zip(analytic, numeric, strict=True))
        if not relative_difference(g, n) <= _failing_bar(threshold)
    ]
    if not failing:
        return {}
    host = [np.asarray(leaf) for leaf in leaves]

    def evaluate(k: int, j: int, step: float) -> float:
        moved = host[k].copy()
        moved.flat[j] += step
        new = [jnp.asarray(moved) if i == k else leaf for i, leaf in enumerate(leaves)]
        return float(_value(new, arrays, spec=spec, with_grad=False)[0])

    loss = float(_value(leaves, arrays, spec=spec, with_grad=False)[0])
    found = {k: find_kinks(evaluate, loss, analytic[k], numeric[k], k, epsilon) for k in failing}
    return {k: v for k, v in found.items() if v}
