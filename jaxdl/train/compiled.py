"""The compiled programs of training: one epoch, the evaluation and the initial state, each
jitted once per setup and data shape (the :class:`~jaxdl.train.Trainer` is a static argument,
the hyperparameters, keys and data are traced).

XLA options: the epochs (here and in sweeps) are compiled with ``TRAIN_COMPILER_OPTIONS``
(512-bit vectors on CPU), the initial state with ``INIT_COMPILER_OPTIONS`` (no LLVM
optimization). Results therefore differ in the last bits from the same function under a plain
``jax.jit``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.hyperparams import HyperParams
from jaxdl.train.state import Keys, TrainState
from jaxdl.train.trainer import Trainer

# Initialization runs once per run: compiled without LLVM's optimizations it compiles ~7x faster
# (the random draws of a 64-128-128-10 MLP: 1.5 s -> 0.2 s) and runs in milliseconds either way.
# The float arithmetic of the draws (normal samples from uniform bits) is then compiled
# differently, so a weight may differ in its last bit (~6e-8) from ``model.init(key)`` run under
# a default ``jax.jit``: ``run_init`` is the initial state ``fit`` uses, bit for bit.
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}

# XLA:CPU vectorizes element-wise kernels for 256-bit registers unless told otherwise. With
# 512-bit vectors on an AVX-512 CPU the training step's element-wise work (dropout's Threefry
# hash above all, Adam, batch norm) runs faster: the benchmark epoch 1.99 ms per step against
# 2.21 ms on two Zen cores (docs/benchmarks.md). LLVM falls back to the widest vectors the CPU
# has; other backends ignore the option. Training programs only (epochs, sweep epochs).
TRAIN_COMPILER_OPTIONS = {"xla_cpu_prefer_vector_width": 512}


@functools.partial(
    jax.jit, static_argnums=0, donate_argnums=1, compiler_options=TRAIN_COMPILER_OPTIONS
)
def _epoch(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array, keys: Keys,
    epoch: Any,
) -> tuple[TrainState, dict[str, jax.Array]]:
    return trainer.epoch(ts, hp, x, y, keys, epoch)


def run_epoch(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array, keys: Keys,
    epoch: Any,
) -> tuple[TrainState, dict[str, jax.Array]]:
    """``Trainer.epoch`` compiled once per setup and data shape; ``ts`` is donated.

    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.train.state import Keys
    >>> from jaxdl.train.compiled import run_init, run_epoch
    >>> from jaxdl.nn import MLP
    >>> import jax.numpy as jnp
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, 0)
    >>> metrics["cost"].shape
    (2,)
    """
    out: tuple[TrainState, dict[str, jax.Array]] = _epoch(
        trainer.compile_key(), ts, hp, x, y, keys, epoch)
    return out


def lower_epoch(trainer: Trainer, *args: Any) -> jax.stages.Lowered:
    """The lowered program of :func:`run_epoch` for these arguments (to inspect its HLO).

    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.train.state import Keys
    >>> from jaxdl.train.compiled import run_init, lower_epoch
    >>> from jaxdl.nn import MLP
    >>> import jax.numpy as jnp
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> "stablehlo.while" in lower_epoch(trainer, ts, hp, x, y, keys, 0).as_text()
    True
    """
    return _epoch.lower(trainer.compile_key(), *args)


@functools.partial(jax.jit, static_argnums=0)
def _evaluate(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
) -> dict[str, jax.Array]:
    return trainer.evaluate(ts, hp, x, y)


def run_evaluate(
    trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array
) -> dict[str, jax.Array]:
    """``Trainer.evaluate``, compiled once per model (in evaluation form), loss, metrics and
    data shape.

    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.train.state import Keys
    >>> from jaxdl.train.compiled import run_init, run_evaluate
    >>> from jaxdl.nn import MLP
    >>> import jax.numpy as jnp
    >>> from jaxdl.hyperparams import hyperparams
    >>> trainer, hp, keys = Trainer(MLP((2, 1)), batch_size=4), hyperparams(), Keys.from_seed(0)
    >>> x, y = jnp.ones((8, 2)), jnp.array([0, 1] * 4)
    >>> ts = run_init(trainer, keys.init, hp)
    >>> sorted(run_evaluate(trainer, ts, hp, x, y))
    ['accuracy', 'loss']
    """
    metrics: dict[str, jax.Array] = _evaluate(trainer.evaluator(), ts, hp, x, y)
    return metrics


@functools.partial(jax.jit, static_argnums=0, compiler_options=INIT_COMPILER_OPTIONS)
def _init_model(model: Any, key: jax.Array) -> tuple[Any, Any]:
    params_state: tuple[Any, Any] = model.init(key)
    return params_state


@functools.partial(jax.jit, static_argnums=(0, 1, 2), compiler_options=INIT_COMPILER_OPTIONS)
def _init(
    model: Any, optimizer: Any, schedule: str, params: Any, state: Any, hp: Mapping[str, Any]
) -> TrainState:
    return Trainer(model, optimizer, schedule).start(params, state, hp)


def run_init(trainer: Trainer, key: jax.Array, hp: HyperParams) -> TrainState:
    """``Trainer.init``: the model's random draws compiled once per model (whatever the
    optimizer), the optimizer state once per model and optimizer (and schedule, which may shape
    the state of an optimizer factory's transformation).

    >>> import jax
    >>> from jaxdl.train.compiled import run_init
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> ts = run_init(Trainer(MLP((2, 1))), jax.random.key(0), hyperparams())
    >>> ts.params["layers"][0]["W"].shape
    (2, 1)
    """
    schedule = _init_schedule(trainer)
    params, model_state = _init_model(trainer.model, key)
    ts: TrainState = _init(trainer.model, trainer.optimizer, schedule, params, model_state, hp)
    return ts


def init_shapes(trainer: Trainer, hp: HyperParams) -> TrainState:
    """The shapes and dtypes of :func:`run_init`'s state (``jax.ShapeDtypeStruct`` leaves),
    found without compiling or running anything.

    >>> from jaxdl.train.compiled import init_shapes
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> init_shapes(Trainer(MLP((2, 1))), hyperparams()).params["layers"][0]["W"].shape
    (2, 1)
    """
    key = jax.eval_shape(jax.random.key, 0)
    params, model_state = _init_model.eval_shape(  # type: ignore[no-untyped-call]
        trainer.model, key)
    ts: TrainState = _init.eval_shape(  # type: ignore[no-untyped-call]
        trainer.model, trainer.optimizer, _init_schedule(trainer), params, model_state, hp)
    return ts


def _init_schedule(trainer: Trainer) -> str:
    """The schedule as the optimizer state's program sees it: only an optimizer factory's
    transformation can depend on it."""
    return "constant" if isinstance(trainer.optimizer, str) else trainer.schedule


@functools.partial(jax.jit, static_argnums=(0, 1, 2), compiler_options=INIT_COMPILER_OPTIONS)
def _init_members(
    model: Any, optimizer: Any, schedule: str, params: Any, state: Any, index: jax.Array,
    hp: Mapping[str, Any],
) -> TrainState:
    def pick(tree: Any) -> Any:
        return jax.tree.map(lambda a: a[index], tree)

    ts: TrainState = jax.vmap(Trainer(model, optimizer, schedule).start)(
        pick(params), pick(state), hp)
    return ts


def run_init_members(
    trainer: Trainer, seeds: Sequence[int], hp: Mapping[str, Any]
) -> TrainState:
    """:func:`run_init` of many members at once, stacked on a leading member axis: member ``j``
    is ``run_init(trainer, Keys.from_seed(seeds[j]).init, {k: v[j] for k, v in hp.items()})``.
    The model's random draws run once per distinct seed, the optimizer states in one vmapped
    call.

    Args:
      trainer: the setup every member shares.
      seeds: one seed per member.
      hp: per-member hyperparameters, each an array with one entry per member.

    Returns:
      The members' :class:`TrainState`, every leaf with the member axis first.

    Raises:
      ValueError: for no seeds, or an ``hp`` entry without one value per seed.

    >>> import numpy as np
    >>> from jaxdl.train.compiled import run_init_members
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> ts = run_init_members(Trainer(MLP((2, 1))), [0, 0, 1], {"learning_rate": np.ones(3)})
    >>> ts.params["layers"][0]["W"].shape
    (3, 2, 1)
    """
    if len(seeds) == 0:
        raise ValueError("seeds is empty; pass one seed per member")
    hp = {k: np.asarray(v) for k, v in hp.items()}
    for name, values in hp.items():
        if values.shape[:1] != (len(seeds),):
            raise ValueError(f"hp[{name!r}] has shape {values.shape}; give one value per seed "
                             f"({len(seeds)})")
    position = {s: i for i, s in enumerate(dict.fromkeys(seeds))}  # distinct seeds, in order
    drawn = jax.device_get([_init_model(trainer.model, Keys.from_seed(s).init) for s in position])
    params, model_state = jax.tree.map(lambda *a: np.stack(a), *drawn)
    index = np.asarray([position[s] for s in seeds], np.int32)
    schedule = _init_schedule(trainer)
    ts: TrainState = _init_members(
        trainer.model, trainer.optimizer, schedule, params, model_state, index, hp)
    return ts
