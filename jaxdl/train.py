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

import contextlib
import dataclasses
import functools
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jaxdl import checkpoint, interrupt, losses, optim, parallel
from jaxdl.checks import check_binary_labels, check_features, check_finite, check_labels
from jaxdl.data.batches import Partition, epoch_indices, partition
from jaxdl.early_stopping import EarlyStopping
from jaxdl.hyperparams import HyperParams, hyperparams
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
    ``mesh`` (see :func:`jaxdl.parallel.data_parallel`) splits every mini-batch over its devices.
    """

    model: MLP
    optimizer: str = "adam"
    schedule: str = "constant"
    batch_size: int = 64
    drop_remainder: bool = False
    decay_interval: int = 1
    mesh: Mesh | None = None

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
        if self.mesh is not None and not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh or None, got {self.mesh!r}")

    # -- pieces ---------------------------------------------------------------------------
    def partition(self, m: int) -> Partition:
        """The epoch layout for ``m`` training samples."""
        part = partition(m, self.batch_size, self.drop_remainder)
        if self.mesh is not None:
            parallel.check_batch_size(part.batch_size, self.mesh, m)
        return part

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
    def loss_and_grads(
        self,
        params: Any,
        model_state: Any,
        batch: Batch,
        key: jax.Array,
        hp: HyperParams,
        *,
        num_examples: int,
    ) -> tuple[jax.Array, Any, Any, jax.Array]:
        """Cost of ``batch`` (data loss, plus the L2 term when ``hp`` has ``l2``) and its gradient;
        returns ``(cost, grads, new_model_state, accuracy)`` with the training-mode accuracy."""

        def objective(p):
            logits, new_state = self.model.apply(
                p, model_state, batch.x, train=True, key=key, hp=hp, mask=batch.mask
            )
            cost = self.data_loss(logits, batch.y, batch.mask)
            if "l2" in hp:
                cost = cost + losses.l2_penalty(p, hp["l2"], num_examples)
            return cost, (new_state, logits)

        (cost, (new_state, logits)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        return cost, grads, new_state, losses.accuracy(logits, batch.y, batch.mask)

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
        accuracy)`` with the batch's training-mode accuracy."""
        cost, grads, model_state, hits = self.loss_and_grads(
            params, model_state, batch, key, hp, num_examples=num_examples
        )
        updates, opt_state = self.optimizer_for(hp, steps_per_epoch).update(
            grads, opt_state, params
        )
        return optim.apply_updates(params, updates), model_state, opt_state, cost, hits

    # -- one epoch --------------------------------------------------------------------------
    def epoch_order(self, m: int, keys: Keys, epoch: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Sample indices and 0/1 mask, each ``(num_batches, batch)``, of epoch ``epoch``."""
        return epoch_indices(jax.random.fold_in(keys.data, epoch), m, self.partition(m))

    def epoch_batches(
        self, x: jax.Array, y: jax.Array, keys: Keys, epoch: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The epoch's shuffled mini-batches ``(xs, ys, mask)``, each ``(num_batches, batch, ...)``,
        with the batch axis split over ``mesh`` when there is one (the epoch itself gathers
        batch ``i`` at step ``i``)."""
        idx, mask = self.epoch_order(x.shape[0], keys, epoch)
        return parallel.shard_batch((x[idx], y[idx], mask), self.mesh, axis=1)

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
        the epoch's sample-weighted means ``loss`` and ``accuracy_mean``. A non-finite cost,
        gradient or updated parameter freezes the state at the last finite parameters (the
        optimizer's moments may hold that rejected step) and records the step in
        ``diverged_at``; a state whose ``diverged_at`` is already >= 0 is not updated at all.
        """
        m = x.shape[0]
        part = self.partition(m)
        idx, mask = self.epoch_order(m, keys, epoch)
        step_keys = jax.random.split(jax.random.fold_in(keys.dropout, epoch), part.num_batches)
        first_step = epoch * part.num_batches
        sizes = jnp.sum(mask, axis=1)

        def body(ts: TrainState, inputs):
            i, ib, mb, key = inputs
            # One batch gathered per step: no (num_batches, batch, features) copy of the epoch.
            xb, yb, mb = parallel.shard_batch((x[ib], y[ib], mb), self.mesh)
            batch = Batch(xb, yb, mb if part.padded else None)
            cost, grads, model_state, hits = self.loss_and_grads(
                ts.params, ts.model_state, batch, key, hp, num_examples=m
            )
            live = ts.diverged_at < 0
            ok = live & jnp.isfinite(cost) & _all_finite(grads)
            # A rejected step is gated by scalars inside the update kernels instead of a select
            # pass over every state leaf: zero gradients and EWA betas of 1 leave the moments
            # exactly as they were; parameters (fused with their update), counters and the
            # batch-norm statistics are selected.
            grads = jax.tree.map(lambda g: jnp.where(ok, g, jnp.zeros_like(g)), grads)
            betas = {k: jnp.where(ok, hp.get(k, optim.DEFAULTS[k]), 1.0) for k in _EWA_BETAS}
            gated = {**hp, **betas}
            updates, opt_state = self.optimizer_for(gated, part.num_batches).update(
                grads, ts.opt_state, ts.params
            )

            def keep(new, old):
                return jnp.where(ok, new, old)

            def keep_counts(new, old):
                return keep(new, old) if jnp.issubdtype(new.dtype, jnp.integer) else new

            new_params = optim.apply_updates(ts.params, updates)
            # A finite gradient can still overflow the parameters (a huge learning rate).
            ok = ok & _all_finite(new_params)
            params = jax.tree.map(keep, new_params, ts.params)
            opt_state = jax.tree.map(keep_counts, opt_state, ts.opt_state)
            model_state = jax.tree.map(keep, model_state, ts.model_state)
            diverged_at = jnp.where(live & ~ok, first_step + i, ts.diverged_at)
            return TrainState(params, model_state, opt_state, diverged_at), (cost, hits)

        steps = jnp.arange(part.num_batches, dtype=jnp.int32)
        ts, (costs, hits) = lax.scan(body, ts, (steps, idx, mask, step_keys))
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


_EWA_BETAS = ("b1", "b2", "beta")


def _all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (one fused reduction)."""
    total = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(tree))
    return jnp.isfinite(total)


def _compile_key(trainer: Trainer) -> Trainer:
    """``trainer`` with the fields an epoch or evaluation never reads set to fixed values, so
    runs that differ only in initialization share one compiled program."""
    model = dataclasses.replace(trainer.model, initializer="he", init_scale=1.0)
    return dataclasses.replace(trainer, model=model)


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def _epoch(trainer: Trainer, ts: TrainState, hp, x, y, keys: Keys, epoch):
    return trainer.epoch(ts, hp, x, y, keys, epoch)


def run_epoch(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array, keys: Keys,
    epoch: Any,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``Trainer.epoch`` compiled once per setup and data shape; ``ts`` is donated."""
    return _epoch(_compile_key(trainer), ts, hp, x, y, keys, epoch)


def lower_epoch(trainer: Trainer, *args: Any) -> jax.stages.Lowered:
    """The lowered program of :func:`run_epoch` for these arguments (to inspect its HLO)."""
    return _epoch.lower(_compile_key(trainer), *args)


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(trainer: Trainer, ts: TrainState, hp, x, y):
    return trainer.evaluate(ts, hp, x, y)


def run_evaluate(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
) -> dict[str, jax.Array]:
    """``Trainer.evaluate``, compiled once per model and data shape."""
    model = dataclasses.replace(_compile_key(trainer).model, dropout=False)
    return _evaluate(Trainer(model), ts, hp, x, y)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init(model: MLP, optimizer: str, key: jax.Array, hp) -> TrainState:
    return Trainer(model, optimizer).init(key, hp)


def run_init(trainer: Trainer, key: jax.Array, hp: HyperParams) -> TrainState:
    """``Trainer.init``, compiled once per model and optimizer."""
    return _init(trainer.model, trainer.optimizer, key, hp)


# -- fit ----------------------------------------------------------------------------------------
HISTORY_KEYS = ("epoch", "loss", "accuracy", "learning_rate", "val_loss", "val_accuracy")
MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")


class FitResult(NamedTuple):
    """Trained (or best, with early stopping) parameters and the per-epoch history.

    ``history`` maps each of :data:`HISTORY_KEYS` to a list with one float per epoch (the
    ``val_*`` lists stay empty without validation data) and ``batch_cost`` to per-step costs.
    """

    params: Any
    model_state: Any
    opt_state: Any
    history: dict[str, list]
    best_epoch: int
    epochs_run: int
    stopped_early: bool


class TrainingDiverged(RuntimeError):
    """The cost or the parameters became NaN/inf; ``result`` holds the parameters of the last
    step whose cost and parameters were finite (the best epoch's with early stopping) and the
    history; ``usable`` says whether those parameters still predict finite values."""

    def __init__(
        self, message: str, result: FitResult, epoch: int, step: int, usable: bool = True
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.step, self.usable = result, epoch, step, usable


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit`` after ``epoch``; ``result`` holds the state reached and
    ``checkpoint`` the file written (``None`` without a checkpoint directory)."""

    def __init__(
        self, message: str, result: FitResult, epoch: int, checkpoint: str | None, signal: str
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.checkpoint, self.signal = result, epoch, checkpoint, signal


def check_data(trainer: Trainer, x: Any, y: Any, name: str = "x") -> tuple[jax.Array, jax.Array]:
    """Validate a split on the host and move it to the device (float32 features)."""
    label_name = "y" if name == "x" else name.replace("x", "y", 1)
    check_features(name, x, width=trainer.model.sizes[0])
    check_finite(name, x)
    if np.shape(y)[:1] != np.shape(x)[:1]:
        raise ValueError(
            f"{name} has {np.shape(x)[0]} samples but {label_name} has "
            f"{np.shape(y)[0] if np.ndim(y) else 'no'} labels; they must match"
        )
    out = trainer.model.sizes[-1]
    if out == 1:
        check_binary_labels(label_name, y)
    else:
        check_labels(label_name, y, out)
    return jnp.asarray(x, jnp.float32), jnp.asarray(y)


def _fingerprint(
    trainer: Trainer, hp: HyperParams, seed: Any, data: tuple, validation: tuple | None,
    early_stopping: EarlyStopping | None,
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: setup, data contents, seed, early stopping."""
    return {
        # The mesh is left out: a run may resume on other devices with the same results.
        "trainer": repr(dataclasses.replace(trainer, mesh=None)),
        "hyperparameters": {k: np.asarray(v).tolist() for k, v in sorted(hp.items())},
        "seed": repr(seed),
        "data": checkpoint.content_hash(*data),
        "validation": checkpoint.content_hash(*validation) if validation else None,
        "early_stopping": repr(early_stopping),
    }


def _check_seed(seed: Any) -> int | jax.Array:
    """``seed`` as a Python int, or the typed PRNG key it is."""
    if isinstance(seed, jax.Array) and jax.dtypes.issubdtype(seed.dtype, jax.dtypes.prng_key):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or a jax.random.key, got {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative int below 2**63, got {seed}")
    return int(seed)


def _check_validation(validation: Any) -> None:
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise TypeError(
            "validation must be a pair (x_val, y_val), got "
            + (f"a sequence of {len(validation)}" if isinstance(validation, tuple | list)
               else type(validation).__name__)
        )


def fit(
    trainer: Trainer,
    x: Any,
    y: Any,
    *,
    validation: tuple[Any, Any] | None = None,
    hp: Mapping[str, Any] | None = None,
    epochs: int = 10,
    seed: int = 0,
    early_stopping: EarlyStopping | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> FitResult:
    """Train for ``epochs`` (one compiled scan each), evaluating ``validation`` after each.

    ``early_stopping`` stops when its monitored history entry stops improving and restores the
    best epoch's parameters. ``checkpoint_dir`` receives an atomic checkpoint every
    ``checkpoint_every`` epochs and at the end; the run owns the directory while it trains
    (a second run on it fails naming this one's PID), and a fresh run refuses a directory that
    already holds checkpoints unless ``overwrite=True`` deletes them. ``resume=True``
    continues from the newest intact checkpoint (warning about any damaged newer one) if its
    setup, seed and data match, and gives bit-identical results to an uninterrupted run.
    ``progress`` shows a bar (default: when stderr is a terminal).

    Raises :class:`TrainingDiverged` on a non-finite cost or parameters, and
    :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) after the epoch in which SIGINT or
    SIGTERM arrived, once its checkpoint is written.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or (
        checkpoint_every < 1
    ):
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir, the directory to resume from")
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True exclude each other: choose one")
    seed = _check_seed(seed)
    x, y = check_data(trainer, x, y)
    if validation is not None:
        _check_validation(validation)
        validation = check_data(trainer, *validation, name="x_val")
    if early_stopping is not None and early_stopping.monitor not in MONITORS:
        raise ValueError(
            f"early_stopping.monitor must be one of {MONITORS}, "
            f"got {early_stopping.monitor!r}"
        )
    if early_stopping is not None and early_stopping.monitor.startswith("val") and not validation:
        raise ValueError(f"early stopping on {early_stopping.monitor!r} needs validation data")
    hp = hyperparams(**_hp_mapping(hp))
    trainer.partition(x.shape[0])
    store = None
    if checkpoint_dir is not None:
        fingerprint = _fingerprint(trainer, hp, seed, (x, y), validation, early_stopping)
        store = checkpoint.CheckpointDir(checkpoint_dir, fingerprint)
    keys = Keys.from_seed(seed)
    x, y, validation, hp, keys = _place(trainer, (x, y, validation, hp, keys))

    ts = _place(trainer, run_init(trainer, keys.init, hp))
    es = early_stopping.init() if early_stopping else None
    best = _copy((ts.params, ts.model_state)) if early_stopping else None
    history: dict[str, list] = {k: [] for k in (*HISTORY_KEYS, "batch_cost")}
    start, stopped = 0, False
    owned = store.open(resume=resume, overwrite=overwrite) if store else contextlib.nullcontext()
    with owned, interrupt.Deferred() as stop:
        restored = store.restore((ts, es, best)) if resume else None
        if restored is not None:
            (ts, es, best), meta = restored
            ts, es, best = _place(trainer, (ts, es, best))
            history, start, stopped = meta["history"], meta["epoch"] + 1, meta["stopped"]

        def result(params_state: tuple[Any, Any]) -> FitResult:
            best_epoch = int(es.best_epoch) if es is not None else len(history["epoch"]) - 1
            return FitResult(
                *params_state, ts.opt_state, history, best_epoch, len(history["epoch"]), stopped
            )

        def kept() -> tuple[Any, Any]:
            """The best epoch's parameters with early stopping (once one was seen), else the
            latest."""
            if early_stopping is not None and int(es.best_epoch) >= 0:
                return best
            return ts.params, ts.model_state

        def save(epoch: int) -> str:
            return store.save(epoch, (ts, es, best), {"history": history, "stopped": stopped})

        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(range(start, epochs), disable=not show or start >= epochs, unit="epoch")
        for epoch in bar if not stopped else ():
            ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, epoch)
            val = run_evaluate(trainer, ts, hp, *validation) if validation is not None else {}
            host = jax.device_get((metrics, val, ts.diverged_at))
            metrics, val, diverged_at = host
            _record(history, epoch, metrics, val)
            if diverged_at >= 0:
                bar.close()
                params_state = kept()
                usable = _usable(trainer, ts._replace(params=params_state[0],
                                                      model_state=params_state[1]), hp, x, y)
                raise TrainingDiverged(
                    _diverged_message(epoch, int(diverged_at), len(metrics["cost"]), usable,
                                      early_stopping is not None and params_state is best),
                    result(params_state), epoch, int(diverged_at), usable,
                )
            if early_stopping is not None:
                old = es
                es = early_stopping.update(es, history[early_stopping.monitor][-1], epoch)
                if bool(early_stopping.improved(old, es)):
                    best = _copy((ts.params, ts.model_state))
                stopped = bool(es.stop)
            if show:
                bar.set_postfix(
                    {k: f"{history[k][-1]:.4f}" for k in HISTORY_KEYS[1:] if history[k]}
                )
            last = stopped or epoch == epochs - 1
            written = None
            if store is not None and ((epoch + 1) % checkpoint_every == 0 or last or (
                stop.requested
            )):
                written = save(epoch)
            if stop.requested and not last:
                bar.close()
                hint = (
                    f"checkpoint {written} written; resume with resume=True (CLI: --resume)"
                    if written else "no checkpoint_dir, nothing saved"
                )
                raise TrainingInterrupted(
                    f"training interrupted by {stop.requested} after epoch {epoch}; {hint}",
                    result(kept()), epoch, written, stop.requested,
                )
            if stopped:
                break
        bar.close()
        return result(best if early_stopping is not None else (ts.params, ts.model_state))


def _hp_mapping(hp: Any) -> Mapping[str, Any]:
    """``hp`` checked to be a dict of single numbers (a sweep varies them, ``fit`` does not)."""
    if hp is None:
        return {}
    if not isinstance(hp, Mapping):
        raise TypeError(f"hp must be a dict of hyperparameters, got {type(hp).__name__}")
    for name, value in hp.items():
        if np.ndim(value) != 0:
            raise ValueError(
                f"hp[{name!r}] must be a single number in fit, got shape {np.shape(value)}; "
                "to train several values at once use jaxdl.sweep.run_sweep"
            )
    return hp


def _usable(trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array) -> bool:
    """True when ``ts``'s parameters predict a finite loss on the training data."""
    return bool(np.isfinite(jax.device_get(run_evaluate(trainer, ts, hp, x, y)["loss"])))


def _diverged_message(epoch: int, step: int, steps: int, usable: bool, best: bool) -> str:
    kept = "the best epoch's parameters" if best else (
        "the parameters of the last step whose cost and parameters were finite"
    )
    state = "" if usable else (
        ", but they are already unusable (their predictions on the training data are not finite)"
    )
    return (
        f"training diverged: the cost or the parameters became NaN/inf at epoch {epoch}, step "
        f"{step - epoch * steps} of {steps} (global step {step}); {kept} are kept in "
        f"error.result{state}. Lower the learning rate or check the data's scale."
    )


def _place(trainer: Trainer, tree: Any) -> Any:
    """``tree`` on the default device, or replicated over the trainer's mesh."""
    if trainer.mesh is None:
        return jax.device_put(tree)
    return parallel.replicate(tree, trainer.mesh)


def _copy(tree: Any) -> Any:
    """Fresh device buffers (the epoch donates its input state)."""
    return jax.tree.map(jnp.copy, tree)


def _record(history: dict[str, list], epoch: int, metrics: dict, val: dict) -> None:
    history["epoch"].append(epoch)
    history["loss"].append(float(metrics["loss"]))
    history["accuracy"].append(float(metrics["accuracy_mean"]))
    history["learning_rate"].append(float(metrics["learning_rate"]))
    history["batch_cost"].append([float(c) for c in metrics["cost"]])
    if val:
        history["val_loss"].append(float(val["loss"]))
        history["val_accuracy"].append(float(val["accuracy"]))
