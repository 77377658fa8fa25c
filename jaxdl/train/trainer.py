"""The Trainer: the static part of training (model, optimizer, schedule, batch size, loss,
metrics) and its pieces: the learning rate, the optimizer built from ``hp``, the cost and its
gradient, one step, one epoch and the evaluation.

The cost of a mini-batch is the course's

    J = (1 / b) * sum_i loss(yhat_i, y_i) + lambd / (2 m) * sum_l ||W_l||_F^2

with ``b`` the real (unmasked) samples of the batch and ``m`` the training-set size, so the L2
gradient is ``lambd / m * W`` whatever the batch size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jaxdl import history, losses, optim
from jaxdl import metrics as metrics_lib
from jaxdl.checks import check_finite, check_positive_int
from jaxdl.data.batches import Partition, epoch_indices, partition
from jaxdl.hyperparams import NAMES, Checked, HyperParams, arrays, hyperparams
from jaxdl.infra import parallel
from jaxdl.model import check_protocol, display_name
from jaxdl.train import step as step_lib
from jaxdl.train.epoch import scan_epoch
from jaxdl.train.state import Batch, Keys, TrainState

SCHEDULES = tuple(optim.registry.SCHEDULES)


@dataclasses.dataclass(frozen=True)
class Trainer:
    """The static part of training (what shapes and compiles depend on).

    ``schedule`` decays the learning rate once per ``decay_interval`` epochs using
    ``hp["decay_rate"]``: ``inverse_time`` is ``lr0 / (1 + decay_rate * epoch)``,
    ``exponential`` is ``lr0 * decay_rate ** epoch``, ``inverse_sqrt`` is ``lr0 / sqrt(1 + epoch)``.
    ``mesh`` (see :func:`jaxdl.infra.parallel.data_parallel`) splits every mini-batch over its
    devices.

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

    >>> from jaxdl.train import Trainer
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
        check_protocol(self.model)
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
        return history.history_keys([m.name for m in self.metric_list])

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
        spec = optim.registry.SCHEDULES[self.schedule]
        if spec.decay_range is not None and "decay_rate" not in hp:
            raise ValueError(f"schedule {self.schedule!r} needs the hyperparameter decay_rate")
        return spec.build(hp["learning_rate"], hp.get("decay_rate"),
                          steps_per_epoch * self.decay_interval)

    def optimizer_for(
        self, hp: Mapping[str, Any], steps_per_epoch: int = 1
    ) -> optim.GradientTransformationLike:
        """The gradient transformation, built from (possibly traced) ``hp``."""
        kind, optimizer = _optimizer_kind(self.optimizer), self.optimizer
        if isinstance(optimizer, str):  # kind "name"
            return optim.from_name(
                optimizer, {**hp, "learning_rate": self.learning_rate(hp, steps_per_epoch)}
            )
        if kind == "transformation":
            return cast(optim.GradientTransformationLike, optimizer)
        lr = hp["learning_rate"]
        if self.schedule != "constant":
            lr = self.learning_rate(hp, steps_per_epoch)
        transformation: optim.GradientTransformationLike = optimizer({**hp, "learning_rate": lr})
        if not all(callable(getattr(transformation, m, None)) for m in ("init", "update")):
            raise TypeError(
                f"optimizer factory {display_name(self.optimizer)} must return an object with "
                f"init and update, it returned {type(transformation).__name__}"
            )
        return transformation

    def data_loss(self, logits: jax.Array, y: jax.Array, mask: jax.Array | None) -> jax.Array:
        """The Trainer's loss of ``logits`` (the model's outputs) against ``y``; by default
        sigmoid cross-entropy for one output unit, softmax cross-entropy otherwise. A model
        with ``target_stats`` (regression targets standardized inside it) is scored on
        standardized outputs and targets (:func:`jaxdl.losses.standardized_pair`)."""
        loss = losses.resolve(self.loss, logits.shape)
        scale = getattr(self.model, "target_stats", None)
        value = loss.fn(*losses.standardized_pair(loss, logits, y, scale), mask)
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
        return self.start(params, model_state, hp)

    def start(self, params: Any, model_state: Any, hp: Mapping[str, Any]) -> TrainState:
        """The training state of ``params`` and ``model_state`` with a fresh optimizer state."""
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
    ) -> tuple[jax.Array, Any, Any, dict[str, jax.Array]]:
        """Cost of ``batch`` (data loss, plus the L2 term when ``hp`` has ``l2``) and its gradient;
        returns ``(cost, grads, new_model_state, metrics)`` with the training-mode metrics."""

        def objective(p: Any) -> tuple[jax.Array, tuple[Any, jax.Array]]:
            logits, new_state = self.model.apply(
                p, model_state, batch.x, train=True, key=key, hp=hp, mask=batch.mask
            )
            cost = self.data_loss(logits, batch.y, batch.mask)
            if "l2" in hp:
                cost = cost + losses.l2_penalty(p, hp["l2"], num_examples)
            return cost, (new_state, logits)

        (cost, (new_state, logits)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        return cost, grads, new_state, self.metric_values(logits, batch.y, batch.mask)

    def guarded_optimizer(
        self, hp: Mapping[str, Any], steps_per_epoch: int = 1
    ) -> optim.GuardedTransformation:
        """:meth:`optimizer_for` wrapped in the divergence guard (:func:`jaxdl.optim.guard`):
        a built-in optimizer takes the guard's fast path (its registry ``state_decays`` gated
        inside the update kernels), any other optimizer's state is selected leaf by leaf."""
        inner = self.optimizer_for(hp, steps_per_epoch)
        if not isinstance(self.optimizer, str):
            return optim.guard(inner)
        names = optim.REGISTRY[self.optimizer].state_decays
        return optim.guard(
            inner,
            decays={k: hp.get(k, optim.DEFAULTS[k]) for k in names},
            rebuild=lambda gated: self.optimizer_for({**hp, **gated}, steps_per_epoch),
        )

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
    ) -> tuple[Any, Any, Any, jax.Array, dict[str, jax.Array]]:
        """One gradient step on ``batch``: :func:`jaxdl.train.step.train_step`, the step the
        epoch scans, on a live state; returns ``(params, model_state, opt_state, cost,
        metrics)`` with the batch's training-mode metrics. A step whose cost, gradient or new
        parameters are not finite returns the state unchanged."""
        ts = TrainState(params, model_state, opt_state, jnp.asarray(-1, jnp.int32))
        ts, out = step_lib.train_step(
            self, ts, batch, key, hp, num_examples=num_examples, steps_per_epoch=steps_per_epoch
        )
        return ts.params, ts.model_state, ts.opt_state, out.cost, out.metrics

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
        batches: tuple[jax.Array, jax.Array, jax.Array] = parallel.shard_batch(
            (x[idx], y[idx], mask), self.mesh, axis=1)
        return batches

    def epoch(
        self,
        ts: TrainState,
        hp: HyperParams,
        x: jax.Array,
        y: jax.Array,
        keys: Keys,
        epoch: jax.Array,
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        """Shuffle, partition and scan :func:`jaxdl.train.step.train_step` over every
        mini-batch of the epoch.

        Returns the new state and per-step ``cost`` and each metric (shape (num_batches,),
        e.g. ``accuracy``) plus the epoch's sample-weighted means ``loss`` and ``<metric>_mean``.
        A non-finite cost, gradient or updated parameter freezes the state at the last finite
        parameters (a built-in optimizer's moments may hold the EWA of a step rejected only for
        overflowing parameters) and records the step in ``diverged_at``; a state whose
        ``diverged_at`` is already >= 0 is not updated at all (:meth:`guarded_optimizer`). The
        scan itself is :func:`jaxdl.train.epoch.scan_epoch`.
        """
        return scan_epoch(self, ts, hp, x, y, keys, epoch)

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
        f"{display_name(optimizer)}, which has no callable init/update"
    )


def trainer_hyperparams(trainer: Trainer, values: Mapping[str, Any]) -> HyperParams:
    """:func:`jaxdl.hyperparams.hyperparams` of ``values``, plus the names the model declares in
    its ``hyperparameters`` beyond that table (checked finite, float32).

    >>> from jaxdl.train import Trainer, trainer_hyperparams
    >>> from jaxdl.nn import MLP
    >>> hp = trainer_hyperparams(Trainer(MLP((2, 1))), {"learning_rate": 0.5})
    >>> float(hp["learning_rate"]), hp["learning_rate"].dtype
    (0.5, dtype('float32'))
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"hp must be a dict of hyperparameters, got {values!r}")
    own = set(getattr(trainer.model, "hyperparameters", ())) - set(NAMES)
    extra = {k: v for k, v in values.items() if k in own}
    for name, value in extra.items():
        check_finite(name, value)
    table = {k: v for k, v in values.items() if k not in own}
    # values hyperparams.check accepted (Checked) are not checked again
    hp = arrays(Checked(table)) if isinstance(values, Checked) else hyperparams(**table)
    return {**hp, **{k: jnp.asarray(v, jnp.float32) for k, v in extra.items()}}


