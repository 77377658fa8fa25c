"""Training: a jitted step, a whole epoch as one ``lax.scan`` over mini-batches, and ``fit``.

The cost of a mini-batch is the course's

    J = (1 / b) * sum_i loss(yhat_i, y_i) + lambd / (2 m) * sum_l ||W_l||_F^2

with ``b`` the real (unmasked) samples of the batch and ``m`` the training-set size, so the L2
gradient is ``lambd / m * W`` whatever the batch size. The loss is the Trainer's ``loss`` (a name
of :data:`jaxdl.losses.LOSSES` or a callable); by default softmax cross-entropy for several
output units, sigmoid cross-entropy for one.

The model is anything with ``init``/``apply`` (:class:`jaxdl.model.ModelLike`), the optimizer a
name, a gradient transformation (anything with ``init``/``update``) or a factory ``hp ->
transformation`` called inside ``jit`` with the traced hyperparameters.

Keys: ``fit(seed)`` splits ``jax.random.key(seed)`` into an init key, a data key (epoch ``e``
shuffles with ``fold_in(data_key, e)``) and a dropout key (step keys from
``fold_in(dropout_key, e)``). Everything an epoch draws depends only on these keys and ``e``,
which makes runs reproducible and resumes exact, and lets a sweep share batches between members.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh

from jaxdl import checkpoint, interrupt, logs, losses, optim, parallel
from jaxdl import metrics as metrics_lib
from jaxdl.checks import check_finite, check_positive_int
from jaxdl.data.batches import Partition, epoch_indices, partition
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import HISTORY_KEYS, MONITORS  # noqa: F401 - the default setup's names
from jaxdl.hyperparams import DEFAULTS, OPTIONAL, HyperParams, check_for, hyperparams
from jaxdl.model import check_model
from jaxdl.progress import Progress
from jaxdl.shapes import check_data, check_optimizer

# Initialization runs once per run: compiled without LLVM's optimizations it compiles ~7x faster
# (the random draws of a 64-128-128-10 MLP: 1.5 s -> 0.2 s) and runs in milliseconds either way.
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}

SCHEDULES = ("constant", "inverse_time", "exponential", "inverse_sqrt")


class TrainState(NamedTuple):
    """Everything that changes during training; ``diverged_at`` is the global step at which the
    cost first became non-finite (-1 while finite; from then on nothing is updated).

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> int(Trainer(MLP((2, 1))).init(jax.random.key(0), hyperparams()).diverged_at)
    -1
    """

    params: Any
    model_state: Any
    opt_state: Any
    diverged_at: jax.Array


class Keys(NamedTuple):
    """The three independent random streams of a run.

    >>> [k.shape for k in Keys.from_seed(0)]
    [(), (), ()]
    """

    init: jax.Array
    data: jax.Array
    dropout: jax.Array

    @classmethod
    def from_seed(cls, seed: int | jax.Array) -> Keys:
        """Split one seed (an int or a key) into the init, data and dropout keys."""
        key = jax.random.key(seed) if isinstance(seed, int) else seed
        return cls(*jax.random.split(key, 3))


class Batch(NamedTuple):
    """A mini-batch: features, labels and 0/1 row weights (``None``: all rows are real).

    >>> Batch(jnp.ones((2, 3)), jnp.array([0, 1])).mask is None
    True
    """

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

    ``model``: any :class:`jaxdl.model.ModelLike`. ``optimizer``: a name of
    :data:`jaxdl.optim.OPTIMIZERS` (built from ``hp``), a gradient transformation (anything with
    ``init``/``update``, used as is; ``schedule`` must stay ``constant``), or a factory
    ``hp -> transformation`` called inside ``jit`` with the traced ``hp`` (its
    ``learning_rate`` is the schedule when ``schedule`` is not ``constant``), so sweeps over its
    hyperparameters still ``vmap``. ``loss``: a name of :data:`jaxdl.losses.LOSSES`, a callable
    ``(outputs, y, mask) -> scalar``, or ``None`` (cross-entropy chosen from the output width).
    ``metrics``: names of :data:`jaxdl.metrics.METRICS`, :class:`jaxdl.metrics.Metric` objects or
    callables; ``None`` takes the loss's defaults (accuracy for cross-entropy, MSE and MAE for
    regression). The history has ``loss``, ``val_loss`` and each metric with its ``val_`` twin.

    >>> from jaxdl.nn import MLP
    >>> Trainer(MLP((2, 3)), metrics=["accuracy", "mse"]).history_keys[:4]
    ('epoch', 'loss', 'accuracy', 'mse')
    """

    model: Any
    optimizer: str | Any = "adam"
    schedule: str = "constant"
    batch_size: int = 64
    drop_remainder: bool = False
    decay_interval: int = 1
    mesh: Mesh | None = None
    loss: str | Callable[..., jax.Array] | None = None
    metrics: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        check_model(self.model)
        _optimizer_kind(self.optimizer)
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"
            )
        if self.schedule != "constant" and _optimizer_kind(self.optimizer) == "transformation":
            raise ValueError(
                f"schedule={self.schedule!r} sets the learning rate, which a ready-made "
                "transformation does not take; pass a factory hp -> transformation (it gets the "
                "schedule as hp['learning_rate']) or keep schedule='constant'"
            )
        losses.check_loss(self.loss)
        for name in ("optimizer", "loss"):
            try:
                hash(getattr(self, name))
            except TypeError as err:
                raise TypeError(
                    f"{name} must be hashable (the Trainer is a static jit argument): "
                    f"{type(getattr(self, name)).__name__} is not; use a function, a NamedTuple "
                    "or a frozen dataclass"
                ) from err
        if self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics))
            metrics_lib.resolve_all(self.metrics)
        for name in ("batch_size", "decay_interval"):
            check_positive_int(name, getattr(self, name))
        if self.mesh is not None and not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh or None, got {self.mesh!r}")

    # -- pieces ---------------------------------------------------------------------------
    @property
    def metric_list(self) -> tuple[metrics_lib.Metric, ...]:
        """The recorded metrics (``metrics``, or the loss's defaults)."""
        names = losses.default_metrics(self.loss) if self.metrics is None else self.metrics
        return metrics_lib.resolve_all(names)

    @property
    def history_keys(self) -> tuple[str, ...]:
        """``epoch``, ``loss``, the metrics, ``learning_rate``, ``val_loss``, ``val_`` metrics."""
        names = tuple(m.name for m in self.metric_list)
        return ("epoch", "loss", *names, "learning_rate", "val_loss", *(f"val_{n}" for n in names))

    @property
    def monitors(self) -> tuple[str, ...]:
        """History entries early stopping and sweeps may monitor."""
        return tuple(k for k in self.history_keys if k not in ("epoch", "learning_rate"))

    def check_monitor(self, monitor: str, mode: str | None = None) -> str:
        """The mode of ``monitor`` (``mode`` if given, else the metric's own); raises
        ``ValueError`` for a monitor the history does not have or whose mode is unknown."""
        if monitor not in self.monitors:
            raise ValueError(
                f"monitor must be one of {self.monitors} (the entries this trainer records; "
                f"add metrics with Trainer(metrics=...)), got {monitor!r}"
            )
        mode = mode if mode is not None else metrics_lib.mode_of(monitor, self.metric_list)
        if mode not in metrics_lib.MODES:
            raise ValueError(
                f"the direction of monitor {monitor!r} is unknown: pass mode='min' or 'max' "
                "(or give the metric one with jaxdl.metrics.Metric(name, fn, mode))"
            )
        return mode

    def compile_key(self) -> Trainer:
        """This trainer with the model's fields that an epoch or evaluation never reads set to
        fixed values (the model's ``compile_key()``, when it has one), so runs that differ only
        in initialization share one compiled program."""
        normalize = getattr(self.model, "compile_key", None)
        return dataclasses.replace(self, model=normalize()) if callable(normalize) else self

    def evaluator(self) -> Trainer:
        """The trainer evaluation compiles for: the model in its evaluation form (the model's
        ``compile_key(train=False)``, when it has one), the loss and metrics; nothing else."""
        normalize = getattr(self.model, "compile_key", None)
        model = normalize(train=False) if callable(normalize) else self.model
        return Trainer(model, loss=self.loss, metrics=self.metrics)

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
        kind = _optimizer_kind(self.optimizer)
        if kind == "name":
            return optim.from_name(
                self.optimizer, {**hp, "learning_rate": self.learning_rate(hp, steps_per_epoch)}
            )
        if kind == "transformation":
            return self.optimizer
        lr = hp["learning_rate"]
        if self.schedule != "constant":
            lr = self.learning_rate(hp, steps_per_epoch)
        transformation = self.optimizer({**hp, "learning_rate": lr})
        if not all(callable(getattr(transformation, m, None)) for m in ("init", "update")):
            raise TypeError(
                f"optimizer factory {_name(self.optimizer)} must return an object with init and "
                f"update, it returned {type(transformation).__name__}"
            )
        return transformation

    def data_loss(self, logits: jax.Array, y: jax.Array, mask: jax.Array | None) -> jax.Array:
        """The Trainer's loss of ``logits`` (the model's outputs) against ``y``; by default
        sigmoid cross-entropy for one output unit, softmax cross-entropy otherwise."""
        loss = losses.resolve(self.loss, logits.shape)
        value = loss.fn(logits, y, mask)
        if jnp.shape(value) != ():
            raise TypeError(
                f"loss {loss.name} must return a scalar, it returned shape {jnp.shape(value)} "
                f"for outputs of shape {logits.shape}; reduce over the samples (mean)"
            )
        return value

    def metric_values(
        self, logits: jax.Array, y: jax.Array, mask: jax.Array | None = None
    ) -> dict[str, jax.Array]:
        """Each metric of :attr:`metric_list` on ``logits`` against ``y``."""
        values = {}
        for m in self.metric_list:
            value = m.fn(logits, y, mask)
            if jnp.shape(value) != ():
                raise TypeError(
                    f"metric {m.name} must return a scalar, it returned shape {jnp.shape(value)}"
                )
            values[m.name] = value
        return values

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
        returns ``(cost, grads, new_model_state, metrics)`` with the training-mode metrics."""

        def objective(p):
            logits, new_state = self.model.apply(
                p, model_state, batch.x, train=True, key=key, hp=hp, mask=batch.mask
            )
            cost = self.data_loss(logits, batch.y, batch.mask)
            if "l2" in hp:
                cost = cost + losses.l2_penalty(p, hp["l2"], num_examples)
            return cost, (new_state, logits)

        (cost, (new_state, logits)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        return cost, grads, new_state, self.metric_values(logits, batch.y, batch.mask)

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
        metrics)`` with the batch's training-mode metrics."""
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

        Returns the new state and per-step ``cost`` and each metric (shape (num_batches,),
        e.g. ``accuracy``) plus the epoch's sample-weighted means ``loss`` and ``<metric>_mean``.
        A non-finite cost, gradient or updated parameter freezes the state at the last finite
        parameters (a built-in optimizer's moments may hold that rejected step) and records
        the step in ``diverged_at``; a state whose ``diverged_at`` is already >= 0 is not updated
        at all (for any optimizer: the built-in names gate their moments by scalars, any other
        optimizer's state is selected leaf by leaf).
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
            grads = jax.tree.map(lambda g: jnp.where(ok, g, jnp.zeros_like(g)), grads)

            def keep(new, old):
                return jnp.where(ok, new, old)

            if isinstance(self.optimizer, str):
                # A built-in optimizer's rejected step is gated by scalars inside the update
                # kernels instead of a select pass over every state leaf: zero gradients and EWA
                # betas of 1 leave its moments exactly as they were; parameters (fused with
                # their update), counters and the batch-norm statistics are selected.
                betas = {k: jnp.where(ok, hp.get(k, optim.DEFAULTS[k]), 1.0) for k in _EWA_BETAS}
                gated = {**hp, **betas}
                updates, opt_state = self.optimizer_for(gated, part.num_batches).update(
                    grads, ts.opt_state, ts.params
                )

                def keep_state(new, old):
                    return keep(new, old) if jnp.issubdtype(new.dtype, jnp.integer) else new

            else:
                # Any other optimizer: its state is selected leaf by leaf, whatever it holds.
                updates, opt_state = self.optimizer_for(hp, part.num_batches).update(
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
        metrics["learning_rate"] = self.logged_learning_rate(hp, part.num_batches, first_step)
        return ts, metrics

    def logged_learning_rate(
        self, hp: HyperParams, steps_per_epoch: int, step: jax.Array
    ) -> jax.Array:
        """The learning rate at ``step`` for the history: the schedule's value, or NaN for a
        ready-made transformation (whose learning rate the trainer does not know)."""
        if _optimizer_kind(self.optimizer) == "transformation":
            return jnp.asarray(jnp.nan, jnp.float32)
        return self.learning_rate(hp, steps_per_epoch)(step)

    def evaluate(
        self, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
    ) -> dict[str, jax.Array]:
        """Loss (without the L2 term) and the metrics, with dropout off and batch-norm running
        stats."""
        logits, _ = self.model.apply(ts.params, ts.model_state, x, train=False, hp=hp)
        return {"loss": self.data_loss(logits, y, None), **self.metric_values(logits, y)}


_EWA_BETAS = ("b1", "b2", "beta")


def _optimizer_kind(optimizer: Any) -> str:
    """``name``, ``transformation`` (has ``init`` and ``update``) or ``factory`` (a callable
    ``hp -> transformation``); anything else raises ``TypeError``."""
    if isinstance(optimizer, str):
        if optimizer not in optim.OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; choose one of {', '.join(optim.OPTIMIZERS)}"
            )
        return "name"
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None)):
        return "transformation"
    if callable(optimizer) and not hasattr(optimizer, "init") and not hasattr(optimizer, "update"):
        return "factory"
    raise TypeError(
        f"optimizer must be a name ({', '.join(optim.OPTIMIZERS)}), an object with init(params) "
        f"and update(grads, state, params), or a factory hp -> such an object; got "
        f"{_name(optimizer)}, which has no callable init/update"
    )


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _all_finite(tree: Any) -> jax.Array:
    """True when every leaf of ``tree`` is finite (one fused reduction)."""
    total = sum(jnp.sum(leaf.astype(jnp.float32)) for leaf in jax.tree.leaves(tree))
    return jnp.isfinite(total)


def _compile_key(trainer: Trainer) -> Trainer:
    """See :meth:`Trainer.compile_key`."""
    return trainer.compile_key()


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def _epoch(trainer: Trainer, ts: TrainState, hp, x, y, keys: Keys, epoch):
    return trainer.epoch(ts, hp, x, y, keys, epoch)


def run_epoch(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array, keys: Keys,
    epoch: Any,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``Trainer.epoch`` compiled once per setup and data shape; ``ts`` is donated.

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, 0)
    >>> metrics["cost"].shape
    (2,)
    """
    return _epoch(_compile_key(trainer), ts, hp, x, y, keys, epoch)


def lower_epoch(trainer: Trainer, *args: Any) -> jax.stages.Lowered:
    """The lowered program of :func:`run_epoch` for these arguments (to inspect its HLO).

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> "stablehlo.while" in lower_epoch(trainer, ts, hp, x, y, keys, 0).as_text()
    True
    """
    return _epoch.lower(_compile_key(trainer), *args)


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(trainer: Trainer, ts: TrainState, hp, x, y):
    return trainer.evaluate(ts, hp, x, y)


def run_evaluate(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
) -> dict[str, jax.Array]:
    """``Trainer.evaluate``, compiled once per model (in evaluation form), loss, metrics and
    data shape.

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> sorted(run_evaluate(trainer, ts, hp, x, y))
    ['accuracy', 'loss']
    """
    return _evaluate(trainer.evaluator(), ts, hp, x, y)


@functools.partial(jax.jit, static_argnums=(0, 1, 2), compiler_options=INIT_COMPILER_OPTIONS)
def _init(model: Any, optimizer: Any, schedule: str, key: jax.Array, hp) -> TrainState:
    return Trainer(model, optimizer, schedule).init(key, hp)


def run_init(trainer: Trainer, key: jax.Array, hp: HyperParams) -> TrainState:
    """``Trainer.init``, compiled once per model and optimizer (and schedule, which may shape
    the state of an optimizer factory's transformation).

    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> ts = run_init(Trainer(MLP((2, 1))), jax.random.key(0), hyperparams())
    >>> ts.params["layers"][0]["W"].shape
    (2, 1)
    """
    schedule = "constant" if isinstance(trainer.optimizer, str) else trainer.schedule
    return _init(trainer.model, trainer.optimizer, schedule, key, hp)


# -- fit ----------------------------------------------------------------------------------------
class FitResult(NamedTuple):
    """Trained (or best, with early stopping) parameters and the per-epoch history.

    ``history`` maps each of the trainer's ``history_keys`` (:data:`HISTORY_KEYS` for the default
    classification setup) to a list with one float per epoch (the ``val_*`` lists stay empty
    without validation data) and ``batch_cost`` to per-step costs.

    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> result = fit(Trainer(MLP((2, 1))), x, y, epochs=2, progress=False)
    >>> result.epochs_run, len(result.history["batch_cost"][0])
    (2, 1)
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
    history; ``usable`` says whether those parameters still predict finite values.

    >>> issubclass(TrainingDiverged, RuntimeError)
    True
    """

    def __init__(
        self, message: str, result: FitResult, epoch: int, step: int, usable: bool = True
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.step, self.usable = result, epoch, step, usable


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit`` after ``epoch``; ``result`` holds the state reached and
    ``checkpoint`` the file written (``None`` without a checkpoint directory). A
    ``KeyboardInterrupt``, so code that stops on Ctrl-C keeps doing so.

    >>> issubclass(TrainingInterrupted, KeyboardInterrupt)
    True
    """

    def __init__(
        self, message: str, result: FitResult, epoch: int, checkpoint: str | None, signal: str
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.checkpoint, self.signal = result, epoch, checkpoint, signal


def _fingerprint(
    trainer: Trainer, hp: HyperParams, seed: Any, data: tuple, validation: tuple | None,
    early_stopping: EarlyStopping | None,
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: setup, data contents, seed, early stopping."""
    # The mesh is left out: a run may resume on other devices with the same results. Memory
    # addresses in the repr of functions (a user's model, loss or optimizer) differ between
    # processes, so they are dropped.
    setup = repr(dataclasses.replace(trainer, mesh=None))
    return {
        "trainer": re.sub(r" at 0x[0-9a-fA-F]+", "", setup),
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


def _check_scalar_hp(hp: Any) -> Any:
    """``hp`` (a dict, checked by the caller) with single numbers only: a sweep varies them."""
    if isinstance(hp, Mapping):
        for name, value in hp.items():
            if np.ndim(value) != 0:
                raise ValueError(
                    f"hp[{name!r}] must be a single number in fit, got shape "
                    f"{np.shape(value)}; to train several values at once use "
                    "jaxdl.sweep.run_sweep"
                )
    return hp


def trainer_hyperparams(trainer: Trainer, values: Mapping[str, Any]) -> HyperParams:
    """:func:`jaxdl.hyperparams.hyperparams` of ``values``, plus the names the model declares in
    its ``hyperparameters`` beyond that table (checked finite, float32).

    >>> from jaxdl.nn import MLP
    >>> hp = trainer_hyperparams(Trainer(MLP((2, 1))), {"learning_rate": 0.5})
    >>> float(hp["learning_rate"]), hp["learning_rate"].dtype
    (0.5, dtype('float32'))
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"hp must be a dict of hyperparameters, got {values!r}")
    own = set(getattr(trainer.model, "hyperparameters", ())) - set(DEFAULTS) - set(OPTIONAL)
    extra = {k: v for k, v in values.items() if k in own}
    for name, value in extra.items():
        check_finite(name, value)
    hp = hyperparams(**{k: v for k, v in values.items() if k not in own})
    return {**hp, **{k: jnp.asarray(v, jnp.float32) for k, v in extra.items()}}


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
    logger: logs.Logger | None = None,
    callbacks: Any = (),
) -> FitResult:
    """Train for ``epochs`` (one compiled scan each), evaluating ``validation`` after each.

    ``early_stopping`` stops when its monitored history entry stops improving and restores the
    best epoch's parameters. ``checkpoint_dir`` receives an atomic checkpoint every
    ``checkpoint_every`` epochs and at the end; the run owns the directory while it trains
    (a second run on it fails naming this one's PID), and a fresh run refuses a directory that
    already holds checkpoints unless ``overwrite=True`` deletes them. ``resume=True``
    continues from the newest intact checkpoint (warning about any damaged newer one) if its
    setup, seed and data match, and gives bit-identical results to an uninterrupted run.
    ``progress`` shows a bar on a terminal or in a notebook, a line every few epochs in a log
    (default: when stderr is a terminal). ``logger`` (see :mod:`jaxdl.logs`) gets each epoch's
    values and each of ``callbacks`` is called as ``callback(epoch, history)`` on the host after
    every epoch.

    Raises :class:`TrainingDiverged` on a non-finite cost or parameters, and
    :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) after the epoch in which SIGINT or
    SIGTERM arrived, once its checkpoint is written.

    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> trainer = Trainer(MLP((2, 1)))
    >>> result = fit(trainer, x, y, hp={"learning_rate": 0.1}, epochs=3, progress=False)
    >>> len(result.history["loss"]), result.history["loss"][-1] < result.history["loss"][0]
    (3, True)
    """
    check_for(trainer, hp or {})  # names nothing reads, ranges: before anything compiles
    logs.check_logger(logger)
    callbacks = logs.check_callbacks(callbacks)
    check_positive_int("epochs", epochs)
    check_positive_int("checkpoint_every", checkpoint_every)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir, the directory to resume from")
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True exclude each other: choose one")
    seed = _check_seed(seed)
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(
                f"early_stopping must be a jaxdl.EarlyStopping, got {type(early_stopping).__name__}"
            )
        trainer.check_monitor(early_stopping.monitor, early_stopping.mode)
    hp = trainer_hyperparams(trainer, _check_scalar_hp(hp or {}))
    x, y = check_data(trainer, x, y, hp=hp)
    if validation is not None:
        _check_validation(validation)
        validation = check_data(trainer, *validation, name="x_val", hp=hp)
    check_optimizer(trainer, hp)
    if early_stopping is not None and early_stopping.monitor.startswith("val") and not validation:
        raise ValueError(f"early stopping on {early_stopping.monitor!r} needs validation data")
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
    history: dict[str, list] = {k: [] for k in (*trainer.history_keys, "batch_cost")}
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

        bar = Progress(epochs, initial=start, show=progress if start < epochs else False)
        for epoch in range(start, epochs) if not stopped else ():
            ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, epoch)
            val = run_evaluate(trainer, ts, hp, *validation) if validation is not None else {}
            host = jax.device_get((metrics, val, ts.diverged_at))
            metrics, val, diverged_at = host
            _record(history, epoch, metrics, val, trainer.metric_list)
            logs.after_epoch(logger, (), epoch, history)
            if diverged_at >= 0:
                bar.close()
                params, model_state = kept()
                usable = _usable(trainer, ts._replace(params=params, model_state=model_state),
                                 hp, x, y)
                best_kept = early_stopping is not None and int(es.best_epoch) >= 0
                raise TrainingDiverged(
                    _diverged_message(epoch, int(diverged_at), len(metrics["cost"]), usable,
                                      best_kept),
                    result((params, model_state)), epoch, int(diverged_at), usable,
                )
            if early_stopping is not None:
                old = es
                es = early_stopping.update(es, history[early_stopping.monitor][-1], epoch)
                if bool(early_stopping.improved(old, es)):
                    best = _copy((ts.params, ts.model_state))
                stopped = bool(es.stop)
            bar.update(
                epoch, {k: history[k][-1] for k in trainer.history_keys[1:] if history[k]}
            )
            last = stopped or epoch == epochs - 1
            written = None
            if store is not None and (
                (epoch + 1) % checkpoint_every == 0 or last or stop.requested
            ):
                written = save(epoch)
            logs.after_epoch(None, callbacks, epoch, history)
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


def _record(
    history: dict[str, list], epoch: int, metrics: dict, val: dict, metric_list: Sequence[Any]
) -> None:
    history["epoch"].append(epoch)
    history["loss"].append(float(metrics["loss"]))
    for m in metric_list:
        history[m.name].append(float(metrics[f"{m.name}_mean"]))
    history["learning_rate"].append(float(metrics["learning_rate"]))
    history["batch_cost"].append([float(c) for c in metrics["cost"]])
    if val:
        history["val_loss"].append(float(val["loss"]))
        for m in metric_list:
            history[f"val_{m.name}"].append(float(val[m.name]))
