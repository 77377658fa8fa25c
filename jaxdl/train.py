"""Training: a jitted step, a whole epoch as one ``lax.scan`` over mini-batches, and ``fit``.

The cost of a mini-batch is the course's

    J = (1 / b) * sum_i loss(yhat_i, y_i) + lambd / (2 m) * sum_l ||W_l||_F^2

with ``b`` the real (unmasked) samples of the batch and ``m`` the training-set size, so the L2
gradient is ``lambd / m * W`` whatever the batch size. Softmax cross-entropy for several output
units, sigmoid cross-entropy for one.

Keys: ``fit(seed)`` splits ``jax.random.key(seed)`` into an init key, a data key (epoch ``e``
shuffles with ``fold_in(data_key, e)``) and a dropout key (step keys from
``fold_in(dropout_key, e)``). Everything an epoch draws depends only on these keys and ``e``,
which makes runs reproducible and resumes exact, and lets a sweep share batches between members.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import losses, optim
from jaxdl.data.batches import Partition, epoch_indices, partition
from jaxdl.hyperparams import HyperParams
from jaxdl.nn import MLP

SCHEDULES = ("constant", "inverse_time", "exponential", "inverse_sqrt")


class TrainState(NamedTuple):
    """Everything that changes during training; ``diverged_at`` is the global step at which the
    cost first became non-finite (-1 while finite; from then on nothing is updated)."""

    params: Any
    model_state: Any
    opt_state: Any
    diverged_at: jax.Array


class Keys(NamedTuple):
    """The three independent random streams of a run."""

    init: jax.Array
    data: jax.Array
    dropout: jax.Array

    @classmethod
    def from_seed(cls, seed: int | jax.Array) -> Keys:
        """Split one seed (an int or a key) into the init, data and dropout keys."""
        key = jax.random.key(seed) if isinstance(seed, int) else seed
        return cls(*jax.random.split(key, 3))


class Batch(NamedTuple):
    """A mini-batch: features, labels and 0/1 row weights (``None``: all rows are real)."""

    x: jax.Array
    y: jax.Array
    mask: jax.Array | None = None


@dataclasses.dataclass(frozen=True)
class Trainer:
    """The static part of training (what shapes and compiles depend on).

    ``schedule`` decays the learning rate once per ``decay_interval`` epochs using
    ``hp["decay_rate"]``: ``inverse_time`` is ``lr0 / (1 + decay_rate * epoch)``,
    ``exponential`` is ``lr0 * decay_rate ** epoch``, ``inverse_sqrt`` is ``lr0 / sqrt(1 + epoch)``.
    """

    model: MLP
    optimizer: str = "adam"
    schedule: str = "constant"
    batch_size: int = 64
    drop_remainder: bool = False
    decay_interval: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.model, MLP):
            raise TypeError(f"model must be a jaxdl.MLP, got {type(self.model).__name__}")
        if self.optimizer not in optim.OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(optim.OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"
            )
        for name in ("batch_size", "decay_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    # -- pieces ---------------------------------------------------------------------------
    def partition(self, m: int) -> Partition:
        """The epoch layout for ``m`` training samples."""
        return partition(m, self.batch_size, self.drop_remainder)

    def learning_rate(self, hp: Mapping[str, Any], steps_per_epoch: int) -> optim.Schedule:
        """The learning rate as a function of the step count."""
        lr0 = hp["learning_rate"]
        if self.schedule == "constant":
            return lambda count: jnp.asarray(lr0, jnp.float32)
        steps = steps_per_epoch * self.decay_interval
        if self.schedule == "inverse_sqrt":
            return optim.inverse_sqrt_decay(lr0, 1.0, steps)
        if "decay_rate" not in hp:
            raise ValueError(f"schedule {self.schedule!r} needs the hyperparameter decay_rate")
        make = {"inverse_time": optim.inverse_time_decay, "exponential": optim.exponential_decay}
        return make[self.schedule](lr0, hp["decay_rate"], steps, staircase=True)

    def optimizer_for(self, hp: Mapping[str, Any], steps_per_epoch: int = 1):
        """The gradient transformation, built from (possibly traced) ``hp``."""
        return optim.from_name(
            self.optimizer, {**hp, "learning_rate": self.learning_rate(hp, steps_per_epoch)}
        )

    def data_loss(self, logits: jax.Array, y: jax.Array, mask: jax.Array | None) -> jax.Array:
        """Sigmoid cross-entropy for one output unit, softmax cross-entropy otherwise."""
        if self.model.sizes[-1] == 1:
            return losses.sigmoid_binary_cross_entropy(logits, y, mask)
        return losses.softmax_cross_entropy(logits, y, mask)

    def init(self, key: jax.Array, hp: Mapping[str, Any]) -> TrainState:
        """Fresh parameters, batch-norm state and optimizer state."""
        params, model_state = self.model.init(key)
        opt_state = self.optimizer_for(hp).init(params)
        return TrainState(params, model_state, opt_state, jnp.asarray(-1, jnp.int32))

    # -- one step ---------------------------------------------------------------------------
    def train_step(
        self,
        params: Any,
        model_state: Any,
        opt_state: Any,
        batch: Batch,
        key: jax.Array,
        hp: HyperParams,
        *,
        num_examples: int,
        steps_per_epoch: int = 1,
    ) -> tuple[Any, Any, Any, jax.Array, jax.Array]:
        """One gradient step on ``batch``; returns ``(params, model_state, opt_state, cost,
        correct)`` where ``correct`` counts the right training predictions in the batch."""

        def objective(p):
            logits, new_state = self.model.apply(
                p, model_state, batch.x, train=True, key=key, hp=hp, mask=batch.mask
            )
            cost = self.data_loss(logits, batch.y, batch.mask)
            cost = cost + losses.l2_penalty(p, hp["l2"], num_examples)
            return cost, (new_state, logits)

        (cost, (new_state, logits)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = self.optimizer_for(hp, steps_per_epoch).update(
            grads, opt_state, params
        )
        params = optim.apply_updates(params, updates)
        hits = losses.accuracy(logits, batch.y, batch.mask)
        return params, new_state, opt_state, cost, hits

    # -- one epoch --------------------------------------------------------------------------
    def epoch(
        self,
        ts: TrainState,
        hp: HyperParams,
        x: jax.Array,
        y: jax.Array,
        keys: Keys,
        epoch: jax.Array,
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        """Shuffle, partition and scan ``train_step`` over every mini-batch of the epoch.

        Returns the new state and per-step ``cost`` and ``accuracy`` (shape (num_batches,)) plus
        the epoch's sample-weighted means ``loss`` and ``accuracy_mean``. A non-finite cost
        freezes the state at the last finite parameters and records the step in ``diverged_at``.
        """
        m = x.shape[0]
        part = self.partition(m)
        idx, mask = epoch_indices(jax.random.fold_in(keys.data, epoch), m, part)
        step_keys = jax.random.split(jax.random.fold_in(keys.dropout, epoch), part.num_batches)
        first_step = epoch * part.num_batches
        sizes = jnp.sum(mask, axis=1)

        def body(ts: TrainState, inputs):
            i, xb, yb, mb, key = inputs
            batch = Batch(xb, yb, mb if part.padded else None)
            params, model_state, opt_state, cost, hits = self.train_step(
                ts.params, ts.model_state, ts.opt_state, batch, key, hp,
                num_examples=m, steps_per_epoch=part.num_batches,
            )
            live = ts.diverged_at < 0
            ok = live & jnp.isfinite(cost) & _all_finite(params)
            new = TrainState(params, model_state, opt_state, ts.diverged_at)
            ts = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, ts)
            ts = ts._replace(diverged_at=jnp.where(live & ~ok, first_step + i, ts.diverged_at))
            return ts, (cost, hits)

        steps = jnp.arange(part.num_batches, dtype=jnp.int32)
        ts, (costs, hits) = lax.scan(body, ts, (steps, x[idx], y[idx], mask, step_keys))
        total = jnp.sum(sizes)
        metrics = {
            "cost": costs,
            "accuracy": hits,
            "loss": jnp.sum(costs * sizes) / total,
            "accuracy_mean": jnp.sum(hits * sizes) / total,
            "learning_rate": self.learning_rate(hp, part.num_batches)(first_step),
        }
        return ts, metrics

    def evaluate(
        self, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
    ) -> dict[str, jax.Array]:
        """Loss (without the L2 term) and accuracy with dropout off and batch-norm running stats."""
        logits, _ = self.model.apply(ts.params, ts.model_state, x, train=False, hp=hp)
        return {"loss": self.data_loss(logits, y, None), "accuracy": losses.accuracy(logits, y)}


def _all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (one fused reduction)."""
    total = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(tree))
    return jnp.isfinite(total)


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def run_epoch(trainer: Trainer, ts: TrainState, hp, x, y, keys: Keys, epoch):
    """``Trainer.epoch`` compiled once per trainer and data shape; ``ts`` is donated."""
    return trainer.epoch(ts, hp, x, y, keys, epoch)


@functools.partial(jax.jit, static_argnums=0)
def run_evaluate(trainer: Trainer, ts: TrainState, hp, x, y):
    """``Trainer.evaluate``, compiled."""
    return trainer.evaluate(ts, hp, x, y)


@functools.partial(jax.jit, static_argnums=0)
def run_init(trainer: Trainer, key: jax.Array, hp) -> TrainState:
    """``Trainer.init``, compiled."""
    return trainer.init(key, hp)
