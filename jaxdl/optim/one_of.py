"""One optimizer out of several, chosen by an index that may be traced, so that members of a
vmapped sweep that differ only in optimizer kind (momentum for some, Adam for others) share one
compiled program.

:func:`one_of` combines ready transformations: its state holds every inner state, and its update
runs the inner update the index picks, leaving every other inner state exactly as it was. With a
concrete index only that update runs; with a traced one it is a ``lax.switch``, which ``vmap``
over a per-member index turns into every branch computed and each member's branch selected.

:func:`switch` is the same choice among optimizers of the registry by name, as a
:class:`~jaxdl.train.Trainer` optimizer factory ``hp -> transformation``: each branch is built
from the same hyperparameters (``from_name``) and the index is ``hp["optimizer_index"]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import is_concrete
from jaxdl.optim.base import (
    GradientTransformation,
    GradientTransformationLike,
    check_transformation,
)
from jaxdl.optim.registry import OPTIMIZERS, from_name
from jaxdl.typing import PyTree

#: The hyperparameter a :class:`OptimizerSwitch` reads its branch from (0 = its first name).
INDEX = "optimizer_index"


class OneOfState(NamedTuple):
    """The state of :func:`one_of`: ``inner``, the tuple of every inner optimizer's state (each
    branch's state changes only on the steps that branch is chosen).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> opt = optim.one_of(0, optim.sgd(0.1), optim.momentum(0.1))
        >>> opt.init(jnp.zeros(1)).inner[1]
        (ScaleByMomentumState(mu=Array([0.], dtype=float32)), EmptyState())
    """

    inner: tuple[PyTree, ...]


def _concrete_index(index: Any, count: int) -> int | None:
    """The index as a Python int when it is concrete (checked: an integer in ``[0, count)``),
    ``None`` when it is traced."""
    if isinstance(index, bool | np.bool_):
        raise TypeError(f"index must be an integer in [0, {count}), got {index!r}")
    if not is_concrete(index):
        return None
    value = np.asarray(index)
    if value.shape != ():
        raise ValueError(
            f"index must be a scalar (vmap over members for one index each), got shape "
            f"{value.shape}"
        )
    if not np.issubdtype(value.dtype, np.number) or value != np.round(value):
        raise TypeError(f"index must be an integer in [0, {count}), got {index!r}")
    if not 0 <= int(value) < count:
        raise ValueError(f"index must lie in [0, {count}) (one per optimizer), got {int(value)}")
    return int(value)


def one_of(index: Any, *optimizers: GradientTransformationLike) -> GradientTransformation:
    """The optimizer ``optimizers[index]``, with every optimizer's state kept::

        state = (s_0, ..., s_{n-1})
        updates, s_index = optimizers[index].update(grads, s_index, params)   (others unchanged)

    ``index`` may be a Python int, an integer-valued array or a tracer (a float32 hyperparameter
    such as ``1.0`` is rounded); a traced index outside ``[0, n)`` is clamped to it (as
    ``lax.switch`` does), a concrete one raises. Under ``vmap`` with one index per member every
    branch is computed and each member takes its own: a member equals, to float32 round-off,
    the same member trained with ``optimizers[index]`` alone. Each branch's hyperparameters are
    its own: a member whose branch is Adam ignores the momentum branch's ``beta``.

    Args:
        index: which optimizer updates (number, array or tracer).
        *optimizers: the optimizers (anything with ``init``/``update``, e.g. chains with
            clipping); their updates must have the gradients' dtypes.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation` with state :class:`OneOfState`.

    Raises:
        ValueError: with no optimizer, or a concrete index out of range.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import optim
        >>> def step(index):
        ...     opt = optim.one_of(index, optim.sgd(0.1), optim.momentum(0.1, beta=0.5))
        ...     return opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
        >>> updates, state = jax.vmap(step)(jnp.array([0, 1]))
        >>> [round(u, 6) for u in updates[:, 0].tolist()]   # -0.1 * 2, -0.1 * 0.5 * 2
        [-0.2, -0.1]
        >>> state.inner[1][0].mu[:, 0].tolist()   # only member 1's momentum moved
        [0.0, 1.0]
    """
    if not optimizers:
        raise ValueError("one_of needs at least one optimizer, e.g. one_of(i, sgd(0.1), adam(0.1))")
    for k, t in enumerate(optimizers):
        check_transformation(t, f"one_of optimizer {k}")
    count = len(optimizers)
    fixed = _concrete_index(index, count)

    def init(params: PyTree) -> OneOfState:
        return OneOfState(tuple(t.init(params) for t in optimizers))

    def branch(k: int) -> Any:
        def run(operands: tuple[PyTree, tuple[PyTree, ...], PyTree]) -> tuple[PyTree, OneOfState]:
            grads, inner, params = operands
            updates, new = optimizers[k].update(grads, inner[k], params)
            # the same types from every branch: the gradients' dtypes, each state's own
            updates = jax.tree.map(lambda u, g: jnp.asarray(u).astype(jnp.result_type(g)),
                                   updates, grads)  # fmt: skip
            new = jax.tree.map(lambda n, o: jnp.asarray(n).astype(jnp.result_type(o)),
                               new, inner[k])  # fmt: skip
            return updates, OneOfState((*inner[:k], new, *inner[k + 1:]))

        return run

    def update(
        grads: PyTree, state: OneOfState, params: PyTree = None
    ) -> tuple[PyTree, OneOfState]:
        if not isinstance(state, OneOfState) or len(state.inner) != count:
            raise ValueError(
                f"state must be the OneOfState of {count} inner states made by this one_of's "
                f"init, got {type(state).__name__}"
            )
        operands = (grads, state.inner, params)
        if fixed is not None:
            return branch(fixed)(operands)  # type: ignore[no-any-return]
        chosen = jnp.round(jnp.asarray(index)).astype(jnp.int32)
        out: tuple[PyTree, OneOfState] = jax.lax.switch(
            chosen, [branch(k) for k in range(count)], operands)
        return out

    return GradientTransformation(init, update)


@dataclasses.dataclass(frozen=True)
class OptimizerSwitch:
    """A :class:`~jaxdl.train.Trainer` optimizer factory ``hp -> transformation``: the registry
    optimizers ``names``, each built from ``hp`` (:func:`~jaxdl.optim.from_name`), combined by
    :func:`one_of` with the index ``hp["optimizer_index"]`` (absent: 0, the first name). Made by
    :func:`switch`.

    Attributes:
        names: the optimizers' registry names, in index order.

    Examples:
        >>> from jaxdl import MLP, Trainer, optim
        >>> trainer = Trainer(MLP((2, 1)), optimizer=optim.switch("momentum", "adam"))
        >>> trainer.optimizer.names, trainer.optimizer.index("momentum")
        (('momentum', 'adam'), 0)
    """

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.names, tuple) or not self.names:
            raise ValueError("switch needs at least one optimizer name, e.g. "
                             "switch('momentum', 'adam')")  # fmt: skip
        for name in self.names:
            if not isinstance(name, str) or name not in OPTIMIZERS:
                raise ValueError(f"switch: unknown optimizer {name!r}; valid names are "
                                 f"{OPTIMIZERS}")  # fmt: skip
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"switch: each optimizer once, got {self.names}")

    def index(self, name: str) -> int:
        """The index of optimizer ``name`` (what ``hp["optimizer_index"]`` holds for it).

        Raises:
            ValueError: for a name not in :attr:`names`.

        Examples:
            >>> from jaxdl import optim
            >>> optim.switch("sgd", "momentum", "adam").index("adam")
            2
        """
        if name not in self.names:
            raise ValueError(
                f"optimizer {name!r} is not one of this switch's optimizers {self.names}: "
                f"build the trainer with optim.switch({', '.join(map(repr, self.names))}, "
                f"{name!r})"
            )
        return self.names.index(name)

    def __call__(self, hp: Mapping[str, Any]) -> GradientTransformation:
        """``one_of(hp["optimizer_index"], *(from_name(n, hp) for n in names))``.

        Examples:
            >>> import jax.numpy as jnp
            >>> from jaxdl import optim
            >>> opt = optim.switch("sgd", "adam")({"learning_rate": 0.5, "optimizer_index": 0})
            >>> opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))[0].tolist()   # -0.5 * 2
            [-1.0]
        """
        branches = [from_name(name, hp) for name in self.names]
        return one_of(hp[INDEX] if INDEX in hp else 0, *branches)


def switch(*names: str) -> OptimizerSwitch:
    """Registry optimizers chosen per member by the traced hyperparameter
    ``optimizer_index``, as one :class:`~jaxdl.train.Trainer` optimizer: a sweep or
    :func:`jaxdl.sweep.optimize` given ``Trainer(model, optimizer=optim.switch("momentum",
    "adam"))`` puts configs that differ only in ``config["optimizer"]`` (one of ``names``;
    absent: the first) into one vmapped group and one compiled program, the name mapped to
    its index.

    ``update`` is ``one_of(hp["optimizer_index"], *(from_name(n, hp) for n in names))``: every
    branch is built from the same ``hp`` and reads only its own names (an Adam member ignores
    ``beta``, a momentum member ``b1``/``b2``/``eps``). Under ``vmap`` each step computes every
    branch and keeps the member's own (about the sum of their costs); the divergence guard
    selects the state leaf by leaf, as for any factory. ``fit`` with this trainer trains the
    first name (its ``hp`` has no ``optimizer_index``).

    Args:
        *names: optimizer names of :data:`jaxdl.optim.OPTIMIZERS`, each once.

    Returns:
        An :class:`OptimizerSwitch`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl import optim
        >>> choose = optim.switch("momentum", "adam")
        >>> choose.index("adam")
        1
        >>> opt = choose({"learning_rate": 0.1, "beta": 0.5, "optimizer_index": 1.0})
        >>> u, _ = opt.update(jnp.array([3.0]), opt.init(jnp.zeros(1)))
        >>> [round(v, 6) for v in u.tolist()]   # Adam's first step: -lr * sign(g)
        [-0.1]
    """
    return OptimizerSwitch(tuple(names))
