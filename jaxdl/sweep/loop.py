"""The compiled loop of a sweep: ``length`` epochs of every member of a bucket in one jitted
``lax.scan``, each epoch a ``jax.vmap`` of :meth:`~jaxdl.train.Trainer.epoch` followed by the
validation and the per-member early-stopping update.

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

from jaxdl.early_stopping import EarlyStopping, EarlyStoppingState
from jaxdl.sweep import sharding
from jaxdl.train import Keys, Trainer, TrainState

HELD = np.iinfo(np.int32).max  # diverged_at of a frozen member during an epoch


class SweepState(NamedTuple):
    """Per-member training state (leading member axis on every leaf): the training state,
    the best epoch's ``(params, model_state)``, the early-stopping state and whether the member
    is frozen.

    >>> SweepState._fields
    ('ts', 'best', 'es', 'done')
    """

    ts: TrainState
    best: tuple[Any, Any]  # (params, model_state) of the best epoch so far
    es: EarlyStoppingState
    done: jax.Array | np.ndarray  # early-stopped, diverged or pruned: frozen


def _key_data(seed: int) -> np.ndarray:
    """Raw data ``(3, words)`` of ``Keys.from_seed(seed)``."""
    return np.stack([np.asarray(jax.random.key_data(k)) for k in Keys.from_seed(seed)])


def _keys(key_data: jax.Array) -> Keys:
    """Keys from raw key data ``(..., 3, words)`` (a leading member axis when per member)."""
    return Keys(*(jax.random.wrap_key_data(key_data[..., i, :]) for i in range(3)))


def _select(mask: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``mask`` (per member) is true, else ``old``, leaf by leaf."""

    def leaf(n, o):
        return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(leaf, new, old)


def _epochs(
    trainer: Trainer,
    stopper: EarlyStopping,
    shared: bool,
    length: int,
    state: SweepState,
    hp,
    key_data,
    data,
    start,
    end,
):
    """``length`` epochs from ``start`` (those >= ``end`` change nothing) for every member."""
    x, y, x_val, y_val = data
    names = [m.name for m in trainer.metric_list]
    keys = _keys(key_data)
    epoch_fn = jax.vmap(trainer.epoch, in_axes=(0, 0, None, None, None if shared else 0, None))
    evaluate = jax.vmap(trainer.evaluate, in_axes=(0, 0, None, None))
    update = jax.vmap(stopper.update, in_axes=(0, 0, None))

    def one(state: SweepState, epoch):
        live = ~state.done & (epoch < end)
        # Trainer.epoch leaves a member with diverged_at >= 0 untouched: mark the frozen ones
        # so, and put their true value back afterwards
        held = state.ts._replace(diverged_at=jnp.where(live, state.ts.diverged_at, HELD))
        ts, metrics = epoch_fn(held, hp, x, y, keys, epoch)
        ts = ts._replace(diverged_at=jnp.where(live, ts.diverged_at, state.ts.diverged_at))
        val = evaluate(ts, hp, x_val, y_val)
        values = {"loss": metrics["loss"], "val_loss": val["loss"]}
        for name in names:
            values[name], values[f"val_{name}"] = metrics[f"{name}_mean"], val[name]
        diverged = live & (ts.diverged_at >= 0)
        counted = live & ~diverged
        es = _select(counted, update(state.es, values[stopper.monitor], epoch), state.es)
        improved = es.best_epoch != state.es.best_epoch
        best = _select(improved, (ts.params, ts.model_state), state.best)
        stopped = counted & es.stop
        record = {
            **values,
            "learning_rate": metrics["learning_rate"],
            "live": live,
            "diverged": diverged,
            "stopped": stopped,
            "done": state.done | diverged | stopped,
        }
        return SweepState(ts, best, es, record["done"]), record

    return lax.scan(one, state, start + jnp.arange(length, dtype=jnp.int32))


@functools.cache
def _compiled(mesh: Mesh) -> tuple[Any, Any]:
    """``epochs`` and ``take`` (select members) jitted with the member axis sharded over
    ``mesh``; one compile per bucket shape."""
    members, everywhere = sharding.members(mesh), sharding.replicated(mesh)
    epochs = jax.jit(
        _epochs, static_argnums=(0, 1, 2, 3), donate_argnums=4, out_shardings=(members, everywhere)
    )
    take = jax.jit(
        lambda tree, index: jax.tree.map(lambda a: a[index], tree), out_shardings=members
    )
    return epochs, take


