"""One epoch as a single ``lax.scan`` over its mini-batches, with divergence masking: the body of
:meth:`jaxdl.train.Trainer.epoch`.

A step whose cost, gradient or updated parameters are not finite changes nothing and records its
global step in ``diverged_at``; from then on every step is masked out, so the state stays at the
last finite parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxdl import optim
from jaxdl.hyperparams import HyperParams
from jaxdl.infra import parallel
from jaxdl.train.state import Batch, Keys, TrainState

if TYPE_CHECKING:
    from jaxdl.train.trainer import Trainer

# The EWA decay rates of the built-in optimizers: 1.0 leaves a moment as it was.


def scan_epoch(
    trainer: Trainer,
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

    def body(ts: TrainState, inputs):
        i, ib, mb, key = inputs
        # One batch gathered per step: no (num_batches, batch, features) copy of the epoch.
        xb, yb, mb = parallel.shard_batch((x[ib], y[ib], mb), trainer.mesh)
        batch = Batch(xb, yb, mb if part.padded else None)
        cost, grads, model_state, hits = trainer.loss_and_grads(
            ts.params, ts.model_state, batch, key, hp, num_examples=m
        )
        live = ts.diverged_at < 0
        ok = live & jnp.isfinite(cost) & _all_finite(grads)
        grads = jax.tree.map(lambda g: jnp.where(ok, g, jnp.zeros_like(g)), grads)

        def keep(new, old):
            return jnp.where(ok, new, old)

        if isinstance(trainer.optimizer, str):
            # A built-in optimizer's rejected step is gated by scalars inside the update
            # kernels instead of a select pass over every state leaf: zero gradients and EWA
            # decays of 1 (the registry's state_decays) leave its moments exactly as they were;
            # parameters (fused with their update), counters and the batch-norm statistics are
            # selected.
            decays = optim.REGISTRY[trainer.optimizer].state_decays
            betas = {k: jnp.where(ok, hp.get(k, optim.DEFAULTS[k]), 1.0) for k in decays}
            gated = {**hp, **betas}
            updates, opt_state = trainer.optimizer_for(gated, part.num_batches).update(
                grads, ts.opt_state, ts.params
            )

            def keep_state(new, old):
                return keep(new, old) if jnp.issubdtype(new.dtype, jnp.integer) else new

        else:
            # Any other optimizer: its state is selected leaf by leaf, whatever it holds.
            updates, opt_state = trainer.optimizer_for(hp, part.num_batches).update(
                grads, ts.opt_state, ts.params
            )
            keep_state = keep
        new_params = optim.apply_updates(ts.params, updates)
        # A finite gradient can still overflow the parameters (a huge learning rate).
        ok = ok & _all_finite(new_params)
        params = jax.tree.map(keep, new_params, ts.params)
        opt_state = jax.tree.map(keep_state, opt_state, ts.opt_state)
        model_state = jax.tree.map(keep, model_state, ts.model_state)
        diverged_at = jnp.where(live & ~ok, first_step + i, ts.diverged_at)
        return TrainState(params, model_state, opt_state, diverged_at), (cost, hits)

    steps = jnp.arange(part.num_batches, dtype=jnp.int32)
    ts, (costs, per_step) = lax.scan(body, ts, (steps, idx, mask, step_keys))
    total = jnp.sum(sizes)
    metrics = {"cost": costs, **per_step, "loss": jnp.sum(costs * sizes) / total}
    for name, values in per_step.items():
        metrics[f"{name}_mean"] = jnp.sum(values * sizes) / total
    metrics["learning_rate"] = trainer.logged_learning_rate(hp, part.num_batches, first_step)
    return ts, metrics


def _all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (one fused reduction)."""
    total = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(tree))
    return jnp.isfinite(total)
