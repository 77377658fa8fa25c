"""One epoch as a single ``lax.scan`` of :func:`jaxdl.train.step.train_step` over its
mini-batches: the body of :meth:`jaxdl.train.Trainer.epoch`.

A step whose cost, gradient or updated parameters are not finite changes nothing and records its
global step in ``diverged_at``; from then on every step is rejected, so the state stays at the
last finite parameters (the divergence guard, :func:`jaxdl.optim.guard`). The epoch knows no
optimizer: the trainer gives it the guarded one.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh

from jaxdl.data.batches import Partition
from jaxdl.hyperparams import HyperParams
from jaxdl.infra import parallel
from jaxdl.train.state import Batch, Keys, TrainState
from jaxdl.train.step import StepSetup, train_step

__all__ = ["scan_epoch"]


class EpochSetup(StepSetup, Protocol):
    """What the epoch needs of its setup besides the step's (a
    :class:`~jaxdl.train.Trainer` has it)."""

    @property
    def mesh(self) -> Mesh | None:
        """The devices each mini-batch is split over (``None``: one device)."""

    def partition(self, m: int) -> Partition:
        """The epoch layout for ``m`` samples."""

    def epoch_order(self, m: int, keys: Keys, epoch: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Sample indices and 0/1 mask of epoch ``epoch``."""

    def logged_learning_rate(
        self, hp: HyperParams, steps_per_epoch: int, step: jax.Array
    ) -> jax.Array:
        """The learning rate at ``step`` for the history."""


def scan_epoch(
    trainer: EpochSetup,
    ts: TrainState,
    hp: HyperParams,
    x: jax.Array,
    y: jax.Array,
    keys: Keys,
    epoch: jax.Array,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """:meth:`Trainer.epoch <jaxdl.train.Trainer.epoch>`: shuffle, partition and scan the
    trainer's step over every mini-batch of epoch ``epoch``, masking non-finite steps.

    Returns the new state and the per-step ``cost`` and metrics, each of shape
    ``(num_batches,)``, with their sample-weighted means ``loss`` and ``<metric>_mean`` and the
    epoch's ``learning_rate``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.train.epoch import scan_epoch
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> from jaxdl.train import Keys, Trainer
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts, metrics = scan_epoch(trainer, trainer.init(keys.init, hp), hp, x, y, keys,
    ...                          jnp.asarray(0))
    >>> metrics["cost"].shape, int(ts.diverged_at)
    ((2,), -1)
    """
    m = x.shape[0]
    part = trainer.partition(m)
    idx, mask = trainer.epoch_order(m, keys, epoch)
    step_keys = jax.random.split(jax.random.fold_in(keys.dropout, epoch), part.num_batches)
    first_step = epoch * part.num_batches
    sizes = jnp.sum(mask, axis=1)

    def body(ts: TrainState, inputs: Any) -> tuple[TrainState, tuple[Any, Any]]:
        i, ib, mb, key = inputs
        # One batch gathered per step: no (num_batches, batch, features) copy of the epoch.
        xb, yb, mb = parallel.shard_batch((x[ib], y[ib], mb), trainer.mesh)
        batch = Batch(xb, yb, mb if part.padded else None)
        ts, out = train_step(trainer, ts, batch, key, hp, num_examples=m,
                             steps_per_epoch=part.num_batches, step=first_step + i)
        return ts, (out.cost, out.metrics)

    steps = jnp.arange(part.num_batches, dtype=jnp.int32)
    ts, (costs, per_step) = lax.scan(body, ts, (steps, idx, mask, step_keys))
    total = jnp.sum(sizes)
    metrics = {"cost": costs, **per_step, "loss": jnp.sum(costs * sizes) / total}
    for name, values in per_step.items():
        metrics[f"{name}_mean"] = jnp.sum(values * sizes) / total
    metrics["learning_rate"] = trainer.logged_learning_rate(hp, part.num_batches, first_step)
    return ts, metrics

