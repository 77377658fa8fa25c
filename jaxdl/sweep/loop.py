"""The compiled loop of a sweep: ``length`` epochs of every member of a bucket in one jitted
``lax.scan``, each epoch a ``jax.vmap`` of :meth:`~jaxdl.train.Trainer.epoch` followed by the
validation and the per-member early-stopping update. Each device runs its own members
(``shard_map`` over the mesh's ``"configs"`` axis, no communication); on CPU, members whose
state outgrows the cache run in blocks (:mod:`jaxdl.sweep.blocks`).

A member that is done (early-stopped, diverged or pruned) is frozen: its ``diverged_at`` is held
at :data:`HELD` while the epoch runs, so ``Trainer.epoch`` leaves it untouched. A member that
improved keeps its parameters as its best (a ``jnp.where`` on the member axis).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from jaxdl.early_stopping import EarlyStopping, EarlyStoppingState
from jaxdl.history import epoch_values
from jaxdl.hyperparams import HyperParams
from jaxdl.sweep import blocks, sharding
from jaxdl.train import TRAIN_COMPILER_OPTIONS, Keys, Trainer, TrainState, init_shapes

__all__ = ["HELD", "SweepState", "compiled_epochs", "exploit_program", "state_shapes"]

HELD = np.iinfo(np.int32).max  # diverged_at of a frozen member during an epoch


class SweepState(NamedTuple):
    """Per-member training state (leading member axis on every leaf): the training state,
    the best epoch's ``(params, model_state)``, the early-stopping state and whether the member
    is frozen.

    >>> from jaxdl.sweep.loop import SweepState
    >>> SweepState._fields
    ('ts', 'best', 'es', 'done')
    """

    ts: TrainState
    best: tuple[Any, Any]  # (params, model_state) of the best epoch so far
    es: EarlyStoppingState
    done: jax.Array | np.ndarray  # early-stopped, diverged or pruned: frozen

    @classmethod
    def start(cls, ts: TrainState, es: EarlyStoppingState, done: Any) -> SweepState:
        """The state before the first epoch: the best so far is the initial
        ``(params, model_state)``; ``done`` False (its shape: the members')."""
        return cls(ts, (ts.params, ts.model_state), es, done)


def state_shapes(
    trainer: Trainer, hp: dict[str, np.ndarray], stopper: EarlyStopping, members: int,
    placed: jax.sharding.Sharding,
) -> SweepState:
    """The shapes, dtypes and placement of the :class:`SweepState` that
    ``Bucket.init`` puts on the devices (``members`` rows each, ``placed``), found without
    running or compiling anything, so a program taking it can compile while the members'
    initial states are still being made.

    >>> import jax, numpy as np
    >>> from jaxdl.early_stopping import EarlyStopping
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep.loop import state_shapes
    >>> from jaxdl.train import Trainer
    >>> one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    >>> shapes = state_shapes(Trainer(MLP((2, 1))), {"learning_rate": np.ones(4, np.float32)},
    ...                       EarlyStopping(3), 4, one)
    >>> shapes.ts.params["layers"][0]["W"].shape, shapes.done.shape
    ((4, 2, 1), (4,))
    """
    ts = init_shapes(trainer, {k: np.asarray(v)[0] for k, v in hp.items()})
    es = jax.tree.map(np.asarray, stopper.init())
    state = SweepState.start(ts, es, np.zeros((), bool))
    shapes: SweepState = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(  # type: ignore[no-untyped-call]
            (members, *np.shape(a)), a.dtype, sharding=placed), state)
    return shapes


def key_data(seed: int) -> np.ndarray:
    """Raw data ``(3, words)`` of ``Keys.from_seed(seed)``."""
    return np.stack([np.asarray(jax.random.key_data(k)) for k in Keys.from_seed(seed)])


def _keys(key_data: jax.Array) -> Keys:
    """Keys from raw key data ``(..., 3, words)`` (a leading member axis when per member)."""
    return Keys(*(jax.random.wrap_key_data(key_data[..., i, :]) for i in range(3)))


def _select(mask: jax.Array | np.ndarray, new: Any, old: Any) -> Any:
    """``new`` where ``mask`` (per member) is true, else ``old``, leaf by leaf."""

    def leaf(n: jax.Array, o: jax.Array) -> jax.Array:
        return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(leaf, new, old)


def _epochs(
    trainer: Trainer,
    stopper: EarlyStopping,
    shared: bool,
    length: int,
    cpu: bool,
    state: SweepState,
    hp: HyperParams,
    key_data: jax.Array,
    data: tuple[jax.Array, jax.Array, jax.Array, jax.Array],
    start: jax.Array,
    end: jax.Array,
) -> tuple[SweepState, dict[str, jax.Array]]:
    """``length`` epochs from ``start`` (those >= ``end`` change nothing) for every member of
    ``state`` (a device's own under ``shard_map``), in cache-sized blocks of members on a CPU
    (:mod:`jaxdl.sweep.blocks`).

    ``start`` is one epoch for all, or a pair ``(clock, own)`` for members that started at
    different times: the shared ``clock`` epoch picks the data order and dropout masks (one
    gather and first-layer matmul for all members, as with one epoch), the per-member ``own``
    epochs are what each member's early stopping, ``end`` and logged learning rate count."""
    pair = isinstance(start, tuple)  # (clock, own epoch per member)
    per = 0 if pair else None
    block = blocks.block_size(state.done.shape[0], blocks.member_bytes(state), cpu)
    x, y, x_val, y_val = data
    names = [m.name for m in trainer.metric_list]
    epoch_fn = jax.vmap(trainer.epoch, in_axes=(0, 0, None, None, None if shared else 0, None))
    evaluate = jax.vmap(trainer.evaluate, in_axes=(0, 0, None, None))
    update = jax.vmap(stopper.update, in_axes=(0, 0, per))
    num_batches = trainer.partition(x.shape[0]).num_batches

    def member_rate(h: HyperParams, e: jax.Array) -> jax.Array:
        return trainer.logged_learning_rate(h, num_batches, e * num_batches)

    rate = jax.vmap(member_rate)

    def one(
        state: SweepState, clock: jax.Array, epoch: jax.Array, hp: HyperParams, keys: Keys
    ) -> tuple[SweepState, dict[str, jax.Array]]:
        live = ~state.done & (epoch < end)
        # Trainer.epoch leaves a member with diverged_at >= 0 untouched: mark the frozen ones
        # so, and put their true value back afterwards
        held = state.ts._replace(diverged_at=jnp.where(live, state.ts.diverged_at, HELD))
        ts, metrics = epoch_fn(held, hp, x, y, keys, clock)
        if pair and "learning_rate" in metrics:  # the rate of each member's own epoch
            metrics = {**metrics, "learning_rate": rate(hp, epoch)}
        ts = ts._replace(diverged_at=jnp.where(live, ts.diverged_at, state.ts.diverged_at))
        val = evaluate(ts, hp, x_val, y_val)
        values = epoch_values(metrics, val, names)
        diverged = live & (ts.diverged_at >= 0)
        counted = live & ~diverged
        es = _select(counted, update(state.es, values[stopper.monitor], epoch), state.es)
        improved = es.best_epoch != state.es.best_epoch
        best = _select(improved, (ts.params, ts.model_state), state.best)
        stopped = counted & es.stop
        record = {
            **values,
            "live": live,
            "diverged": diverged,
            "stopped": stopped,
            "done": state.done | diverged | stopped,
        }
        return SweepState(ts, best, es, record["done"]), record

    steps = jnp.arange(length, dtype=jnp.int32)
    clock = start[0] if pair else start

    def run(
        members: tuple[SweepState, HyperParams, Any, Any],  # key data (None when shared), own
        shared_keys: jax.Array,
    ) -> tuple[SweepState, dict[str, jax.Array]]:
        state, hp, key_data, own = members
        keys = _keys(shared_keys if shared else key_data)
        first = own if pair else start
        scanned: tuple[SweepState, dict[str, jax.Array]] = lax.scan(
            lambda s, k: one(s, clock + k, first + k, hp, keys), state, steps)
        return scanned

    out: tuple[SweepState, dict[str, jax.Array]] = blocks.in_blocks(
        run, block, (state, hp, None if shared else key_data, start[1] if pair else None),
        key_data)
    return out


@functools.cache
def compiled_epochs(mesh: Mesh) -> tuple[Any, Any]:
    """``epochs`` and ``take`` (select members) jitted with the member axis sharded over
    ``mesh``; one compile per bucket shape. Each device runs its own members (``shard_map``),
    in cache-sized blocks on CPU."""
    members, everywhere = sharding.members(mesh), sharding.replicated(mesh)
    cpu = all(d.platform == "cpu" for d in mesh.devices.flat)
    # PartitionSpec.__init__ has no annotations in the installed jax
    member, whole = P(sharding.AXIS), P()  # type: ignore[no-untyped-call]

    def local(
        trainer: Trainer, stopper: EarlyStopping, shared: bool, length: int, *inputs: Any
    ) -> tuple[SweepState, dict[str, jax.Array]]:
        # inputs: (state, hp, key_data, data, start, end) of _epochs (start: one or a pair)
        run = functools.partial(_epochs, trainer, stopper, shared, length, cpu)
        if mesh.size == 1:  # nothing to split (shard_map would only add to the compile time)
            return run(*inputs)
        sharded: tuple[SweepState, dict[str, jax.Array]] = jax.shard_map(
            run,
            mesh=mesh,
            in_specs=(member, member, whole if shared else member, whole,
                      (whole, member) if isinstance(inputs[4], tuple) else whole, whole),
            # PartitionSpec.__init__ has no annotations in the installed jax
            out_specs=(member, P(None, sharding.AXIS)),  # type: ignore[no-untyped-call]
            check_vma=False,
        )(*inputs)
        return sharded

    epochs = jax.jit(
        local,
        static_argnums=(0, 1, 2, 3),
        donate_argnums=4,
        out_shardings=(members, everywhere),
        compiler_options=TRAIN_COMPILER_OPTIONS,
    )
    take = jax.jit(
        lambda tree, index: jax.tree.map(lambda a: a[index], tree), out_shardings=members
    )
    return epochs, take


@functools.cache
def exploit_program(mesh: Mesh) -> Any:
    """``exploit(stopper, state, index, fresh)`` jitted with the member axis sharded over
    ``mesh``: every member takes the state of member ``index[j]`` (a gather on the member axis),
    and a member marked ``fresh`` (it copied another's state) starts its own record there: its
    early-stopping state is ``stopper.init()`` and its best parameters are the ones it copied
    (population-based training: a member's best counts from its last exploit, the epochs
    trained with its own hyperparameters).

    >>> import numpy as np
    >>> import jax
    >>> from jaxdl.early_stopping import EarlyStoppingState
    >>> from jaxdl.train.state import TrainState
    >>> from jaxdl.sweep.loop import SweepState, exploit_program
    >>> from jaxdl.early_stopping import EarlyStopping
    >>> from jaxdl.sweep.sharding import config_mesh
    >>> stopper = EarlyStopping()
    >>> es = stopper.update(EarlyStoppingState(*(np.repeat(np.asarray(v)[None], 2, 0)
    ...                                         for v in stopper.init())), np.float32([.5, .2]), 3)
    >>> ts = TrainState(np.float32([1, 2]), np.float32([0, 0]), (), np.int32([-1, -1]))
    >>> state = SweepState(ts, (np.float32([7, 9]), np.float32([0, 0])), es, np.zeros(2, bool))
    >>> new = exploit_program(config_mesh(jax.devices()[:1]))(
    ...     stopper, state, np.int32([1, 1]), np.asarray([True, False]))
    >>> new.es.best_epoch.tolist(), new.best[0].tolist()  # member 0 restarts from member 1's
    ([-1, 3], [2.0, 9.0])
    """

    def exploit(
        stopper: EarlyStopping, state: SweepState, index: jax.Array, fresh: jax.Array
    ) -> SweepState:
        state = jax.tree.map(lambda a: a[index], state)
        init = stopper.init()
        es = EarlyStoppingState(*(jnp.where(fresh, i, e) for i, e in zip(init, state.es)))
        best = _select(fresh, (state.ts.params, state.ts.model_state), state.best)
        return state._replace(es=es, best=best)

    return jax.jit(exploit, static_argnums=0, out_shardings=sharding.members(mesh))
