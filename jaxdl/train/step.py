"""The one training step: the cost of a mini-batch, its gradient and the guarded optimizer
update. The scanned epoch (and through it ``fit``, every sweep strategy and PBT),
:meth:`Trainer.train_step <jaxdl.train.Trainer.train_step>`, the tests and the benchmarks all
run this function.

A step whose cost or gradient is not finite, whose updated parameters are not finite, or whose
state has already diverged (``diverged_at >= 0``) changes nothing: the divergence guard
(:func:`jaxdl.optim.guard`, built by ``Trainer.guarded_optimizer``) keeps the parameters and the
optimizer state, the batch-norm statistics are kept here, and ``diverged_at`` records the global
step at which the state first diverged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp

from jaxdl.hyperparams import HyperParams
from jaxdl.optim.guard import GuardedTransformation, all_finite
from jaxdl.train.state import Batch, TrainState

__all__ = ["StepOutput", "train_step"]


class StepSetup(Protocol):
    """What the step needs of its setup (a :class:`~jaxdl.train.Trainer` has it)."""

    def loss_and_grads(
        self, params: Any, model_state: Any, batch: Batch, key: jax.Array, hp: HyperParams, *,
        num_examples: int,
    ) -> tuple[jax.Array, Any, Any, dict[str, jax.Array]]:
        """``(cost, grads, new_model_state, metrics)`` of ``batch``."""

    def guarded_optimizer(
        self, hp: Mapping[str, Any], steps_per_epoch: int = 1
    ) -> GuardedTransformation:
        """The optimizer, wrapped in the divergence guard."""


class StepOutput(NamedTuple):
    """What a step reports: the batch's ``cost`` (with the L2 term), its training-mode
    ``metrics`` and ``diverged``, true when this step diverged a state that was still live.

    >>> from jaxdl.train.step import StepOutput
    >>> StepOutput._fields
    ('cost', 'metrics', 'diverged')
    """

    cost: jax.Array
    metrics: dict[str, jax.Array]
    diverged: jax.Array


def train_step(
    trainer: StepSetup,
    ts: TrainState,
    batch: Batch,
    key: jax.Array,
    hp: HyperParams,
    *,
    num_examples: int,
    steps_per_epoch: int = 1,
    step: Any = 0,
) -> tuple[TrainState, StepOutput]:
    """One guarded gradient step of ``trainer`` on ``batch``.

    ``ok = (diverged_at < 0) & isfinite(cost) & isfinite(grads)``; the guarded optimizer
    applies the update when ``ok`` and the new parameters are finite, and keeps parameters,
    optimizer state and batch-norm statistics otherwise. ``diverged_at`` becomes ``step`` (the
    global step count) when a live state is rejected.

    Args:
        trainer: the :class:`~jaxdl.train.Trainer`.
        ts: the training state.
        batch: the mini-batch (its ``mask`` marks the real rows of a padded batch).
        key: the step's dropout key.
        hp: the hyperparameters (possibly traced).
        num_examples: the training-set size ``m`` of the L2 term ``lambd / (2 m) ||W||^2``.
        steps_per_epoch: optimizer steps per epoch (for the learning-rate schedule).
        step: the global step index recorded in ``diverged_at``.

    Returns:
        ``(new_state, StepOutput(cost, metrics, diverged))``.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl.nn import MLP
        >>> from jaxdl.hyperparams import hyperparams
        >>> from jaxdl.train import Batch, Trainer
        >>> from jaxdl.train.step import train_step
        >>> trainer, hp = Trainer(MLP((2, 1)), optimizer="sgd"), hyperparams(learning_rate=0.1)
        >>> ts = trainer.init(jax.random.key(0), hp)
        >>> batch = Batch(jnp.ones((4, 2)), jnp.array([0, 1, 1, 1]))
        >>> new, out = train_step(trainer, ts, batch, jax.random.key(1), hp, num_examples=4)
        >>> bool(out.diverged), int(new.diverged_at), out.cost.shape
        (False, -1, ())
        >>> bad = Batch(jnp.full((4, 2), jnp.nan), batch.y)
        >>> kept, out = train_step(trainer, new, bad, jax.random.key(1), hp, num_examples=4, step=7)
        >>> bool(out.diverged), int(kept.diverged_at), bool((kept.params["layers"][0]["W"]
        ...                                                  == new.params["layers"][0]["W"]).all())
        (True, 7, True)
    """
    cost, grads, model_state, metrics = trainer.loss_and_grads(
        ts.params, ts.model_state, batch, key, hp, num_examples=num_examples
    )
    live = ts.diverged_at < 0
    ok = live & jnp.isfinite(cost) & all_finite(grads)
    optimizer = trainer.guarded_optimizer(hp, steps_per_epoch)
    params, opt_state, ok = optimizer.step(grads, ts.opt_state, ts.params, ok)
    model_state = jax.tree.map(lambda n, o: jnp.where(ok, n, o), model_state, ts.model_state)
    diverged = live & ~ok
    diverged_at = jnp.where(diverged, step, ts.diverged_at)
    return TrainState(params, model_state, opt_state, diverged_at), StepOutput(
        cost, metrics, diverged
    )
