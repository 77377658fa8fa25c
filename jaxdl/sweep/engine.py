"""Training many configs at once: vmapped members, shape buckets, per-member early stopping.

A config is a dict of hyperparameters. Names of :mod:`jaxdl.hyperparams` (learning rate, betas,
``l2``, ``keep_prob``, ``decay_rate``, ...) are *continuous*: they become float32 arrays with a
leading member axis and are traced, so members that differ only there share one program. The
other names are *structural* and change the :class:`~jaxdl.train.Trainer`: its fields
``optimizer``, ``schedule``, ``batch_size``, ``drop_remainder``, ``decay_interval``, and the
model. With ``model_fn`` (any function ``structural_config -> model``) every other name is the
user's: the model is ``model_fn({name: value, ...})`` and continuous names (those of the table,
plus the ones the base model declares in ``hyperparameters``) stay traced, reaching the model
through ``hp`` and the optimizer through a factory. Without it the base model's own
``with_structure`` applies them (the built-in :class:`~jaxdl.nn.MLP`: ``activation``,
``initializer``, ``init_scale``, ``batch_norm``, ``dropout``, ``bn_eps``, ``hidden_units`` and
``num_layers``). Configs with equal structure form a *bucket*, which compiles once and runs
``jax.vmap(Trainer.epoch)`` over its members.

By default every member uses the same :class:`~jaxdl.train.Keys` (``seed``): the same initial
parameters, batches and dropout masks (common random numbers), so configs are compared on equal
terms, the data gather and the first layer's matmul are shared, and member ``i`` equals
``fit(trainer_i, ..., hp=hp_i, seed=seed, early_stopping=...)``. ``seeds`` gives each member its
own.

One compiled call per bucket and ``epochs_per_call`` epochs (a ``lax.scan``) trains every
member, evaluates it on the validation set and updates its early-stopping state
(:class:`~jaxdl.early_stopping.EarlyStopping` on ``monitor``); a member that improved stores its
parameters as its best (a ``jnp.where`` on the member axis). A member whose monitor has not
improved for ``patience`` epochs is frozen, as is one whose cost became non-finite (``diverged``):
``Trainer.epoch`` masks the updates of a member whose ``diverged_at`` is set, so a frozen member
has it set while the epoch runs. The others go on. Without ``patience`` nobody stops early, but
the best epoch's parameters are still the ones kept. Initial states come from the compiled
single-model ``run_init`` (bitwise those of ``fit``), stacked on the member axis.

:func:`successive_halving` trains all members for ``min_epochs``, keeps the best
``ceil(n / eta)``, trains those up to ``min_epochs * eta`` epochs in total, and so on up to
``max_epochs``; surviving members continue where they were, so their results equal a run of
their final length. :func:`run_sweep` is the single-rung case.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh

from jaxdl import logs
from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import EarlyStopping, EarlyStoppingState
from jaxdl.history import MONITORS  # noqa: F401 - the default setup's names
from jaxdl.hyperparams import DEFAULTS, OPTIONAL, check_for
from jaxdl.model import check_model, describe
from jaxdl.nn import MLP
from jaxdl.shapes import check_arrays, check_optimizer
from jaxdl.sweep import chunking, sharding, state
from jaxdl.sweep.results import SweepResults, score
from jaxdl.sweep.spaces import Space, as_space, check_count, sample
from jaxdl.train import Keys, Trainer, TrainState, check_data, run_init, trainer_hyperparams

TRAINER_FIELDS = ("optimizer", "schedule", "batch_size", "drop_remainder", "decay_interval")
STRUCTURAL = TRAINER_FIELDS + MLP.STRUCTURAL  # the names known without a model_fn
CONTINUOUS = tuple(DEFAULTS) + tuple(OPTIONAL)
NEVER = 2**30  # patience of a sweep without early stopping
HELD = np.iinfo(np.int32).max  # diverged_at of a frozen member during an epoch

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# -- configs ----------------------------------------------------------------------------------
def split_config(
    config: Mapping[str, Any], *, model_fn: Any = None, continuous: Sequence[str] = CONTINUOUS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(structural, continuous)`` parts of one config. Names in ``continuous`` are continuous;
    with ``model_fn`` every other name is structural, without it unknown names (not in
    :data:`STRUCTURAL`) raise ``ValueError``."""
    if not isinstance(config, Mapping):
        raise TypeError(f"a config must be a dict of hyperparameters, got {config!r}")
    unknown = sorted(set(config) - set(STRUCTURAL) - set(continuous))
    if unknown and model_fn is None:
        raise ValueError(
            f"unknown hyperparameter(s) {unknown}; continuous names are {sorted(continuous)}, "
            f"structural names are {sorted(STRUCTURAL)} (pass model_fn=config -> model to sweep "
            "structural settings of your own model)"
        )
    structural = {k: v for k, v in config.items() if k not in continuous}
    return structural, {k: v for k, v in config.items() if k in continuous}


def trainer_for(base: Trainer, structural: Mapping[str, Any], model_fn: Any = None) -> Trainer:
    """``base`` with the structural values of a config applied: the trainer fields of
    :data:`TRAINER_FIELDS` directly, the rest through ``model_fn(rest) -> model`` or, without
    it, the base model's ``with_structure(rest)`` (the MLP's ``hidden_units``, ...)."""
    trainer_kw = {k: v for k, v in structural.items() if k in TRAINER_FIELDS}
    model_kw = {k: v for k, v in structural.items() if k not in TRAINER_FIELDS}
    if model_fn is not None:
        try:
            model = model_fn(dict(model_kw))
        except Exception as err:  # noqa: BLE001 - user code; reported with what it was given
            raise ValueError(
                f"model_fn {getattr(model_fn, '__qualname__', model_fn)!r} raised "
                f"{type(err).__name__} on the structural config {model_kw}: {err}"
            ) from err
        check_model(model, name=f"model_fn({model_kw}) result")
    elif model_kw:
        with_structure = getattr(base.model, "with_structure", None)
        if not callable(with_structure):
            raise ValueError(
                f"structural setting(s) {sorted(model_kw)} need model_fn=config -> model: "
                f"{describe(base.model)} has no with_structure"
            )
        model = with_structure(model_kw)
    else:
        model = base.model
    return dataclasses.replace(base, model=model, **trainer_kw)


def continuous_names(trainer: Trainer) -> tuple[str, ...]:
    """The table's hyperparameter names plus those the trainer's model declares."""
    own = getattr(trainer.model, "hyperparameters", ())
    return CONTINUOUS + tuple(sorted(set(own) - set(CONTINUOUS)))


def _configs(space_or_configs: Any, n: int | None, seed: int, method: str) -> list[dict]:
    if isinstance(space_or_configs, Mapping):
        space = as_space(space_or_configs)
        if n is None:
            raise ValueError("sampling a search space needs n, the number of configs")
        return sample(space, seed, n, method)
    if not isinstance(space_or_configs, Sequence) or isinstance(space_or_configs, str):
        raise TypeError(
            "space_or_configs must be a Space (name -> distribution) or a list of config dicts, "
            f"got {space_or_configs!r}"
        )
    configs = [dict(c) if isinstance(c, Mapping) else c for c in space_or_configs]
    check_count(len(configs))
    return configs


def _data(trainer: Trainer, data: Any) -> Data:
    """The four arrays on the host (float32 features), checked without a model: each bucket's
    model is checked against them, with its hyperparameters, in :func:`_buckets`."""
    if hasattr(data, "x_train"):
        parts = (data.x_train, data.y_train, data.x_val, data.y_val)
    elif isinstance(data, tuple | list) and len(data) == 4:
        parts = tuple(data)
    else:
        raise TypeError(
            "data must be a jaxdl Dataset or a tuple (x_train, y_train, x_val, y_val), "
            f"got {type(data).__name__}"
        )
    x, y = check_arrays(parts[0], parts[1])
    x_val, y_val = check_arrays(parts[2], parts[3], name="x_val")
    trainer.partition(x.shape[0])
    return tuple(np.asarray(a) for a in (x, y, x_val, y_val))


# -- the compiled step ------------------------------------------------------------------------
class SweepState(NamedTuple):
    """Per-member training state (leading member axis on every leaf)."""

    ts: TrainState
    best: tuple[Any, Any]  # (params, model_state) of the best epoch so far
    es: EarlyStoppingState
    done: jax.Array  # early-stopped, diverged or pruned: frozen


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


# -- buckets ----------------------------------------------------------------------------------
@dataclasses.dataclass
class _Bucket:
    """Members sharing one trainer: host copies of their inputs and the device state."""

    trainer: Trainer
    ids: np.ndarray  # global config indices of the members
    hp: dict[str, np.ndarray]  # (members,) float32 per name
    seeds: list[int]  # per member
    shared: bool  # one set of keys for every member
    state: SweepState | None = None
    device_inputs: tuple[Any, Any] | None = None
    epoch: int = 0
    size: int | None = None  # members on the devices after compaction (None: padded to the mesh)

    def padding(self, mesh: Mesh) -> np.ndarray:
        """Member positions on the devices: each member, then repeats up to the bucket size."""
        if self.size is None:
            return sharding.pad_index(len(self.ids), mesh)
        return np.arange(self.size) % len(self.ids)

    def place(self, mesh: Mesh) -> None:
        """Pad to the mesh and put the hyperparameters and raw key data on the devices."""
        index = self.padding(mesh)
        members = sharding.members(mesh)
        hp = sharding.put({k: v[index] for k, v in self.hp.items()}, members)
        if self.shared:
            keys = sharding.put(_key_data(self.seeds[0]), sharding.replicated(mesh))
        else:
            keys = sharding.put(np.stack([_key_data(self.seeds[i]) for i in index]), members)
        self.device_inputs = (hp, keys)

    def init(self, stopper: EarlyStopping, mesh: Mesh) -> None:
        """Initial states from the compiled single-model ``run_init`` (bitwise those of
        ``fit``), stacked on the host, padded and put on the mesh."""
        keys = {s: Keys.from_seed(s).init for s in set(self.seeds)}
        states = jax.device_get(
            [
                run_init(self.trainer, keys[seed], {k: v[j] for k, v in self.hp.items()})
                for j, seed in enumerate(self.seeds)
            ]
        )
        ts = jax.tree.map(lambda *leaves: np.stack(leaves), *states)
        n = len(self.ids)
        es = jax.tree.map(
            lambda a: np.broadcast_to(np.asarray(a), (n, *np.shape(a))), stopper.init()
        )
        state = SweepState(ts, (ts.params, ts.model_state), es, np.zeros((n,), bool))
        index = self.padding(mesh)
        self.state = sharding.put(jax.tree.map(lambda a: a[index], state), sharding.members(mesh))

    def keep(self, mask: Sequence[bool], mesh: Mesh) -> bool:
        """Keep only the members where ``mask`` is true; False when none is left."""
        positions = np.flatnonzero(mask)
        if len(positions) == 0:
            return False
        if len(positions) < len(self.ids):
            self._gather(positions, None, mesh)
        return True

    def compact(self, live: np.ndarray, mesh: Mesh) -> bool:
        """Gather the ``live`` members into a smaller program when :func:`bucket_size` of
        their count is below the current size; True when it did."""
        positions = np.flatnonzero(live)
        size = bucket_size(len(positions), mesh)
        if len(positions) == 0 or size >= len(self.padding(mesh)):
            return False
        self._gather(positions, size, mesh)
        return True

    def _gather(self, positions: np.ndarray, size: int | None, mesh: Mesh) -> None:
        """The members at ``positions`` only, on ``size`` device rows (a gather on the member
        axis inside the device arrays)."""
        self.ids = self.ids[positions]
        self.hp = {k: v[positions] for k, v in self.hp.items()}
        self.seeds = [self.seeds[i] for i in positions]
        self.size = size
        index = positions[self.padding(mesh)]
        take = _compiled(mesh)[1]
        self.state = take(self.state, sharding.put(index, sharding.replicated(mesh)))
        self.place(mesh)


def bucket_size(n: int, mesh: Mesh) -> int:
    """Device rows for ``n`` members after compaction: ``n`` rounded up to a power of two, then
    to a multiple of the mesh's devices, so a sweep compiles for a few sizes only."""
    return sharding.padded_count(1 << max(n - 1, 0).bit_length(), mesh)


def _key_data(seed: int) -> np.ndarray:
    """Raw data ``(3, words)`` of ``Keys.from_seed(seed)``."""
    return np.stack([np.asarray(jax.random.key_data(k)) for k in Keys.from_seed(seed)])


def _buckets(
    trainer: Trainer,
    configs: list[dict],
    hp: Mapping[str, Any],
    seeds: list[int],
    shared: bool,
    data: Data,
    model_fn: Any = None,
) -> tuple[list[_Bucket], list[Trainer], list[dict[str, float]]]:
    """Validate every config (before anything compiles: the shapes of each new model's
    outputs are checked on the data by ``jax.eval_shape``) and group them by structure; also
    return each member's trainer and hyperparameters."""
    groups: dict[tuple, list[int]] = {}
    trainers, values, given = [], [], []
    checked = set()
    for i, config in enumerate(configs):
        try:
            structural, continuous = split_config(
                config, model_fn=model_fn, continuous=continuous_names(trainer)
            )
            member_trainer = trainer_for(trainer, structural, model_fn)
            member_trainer.partition(len(data[0]))
            check_for(member_trainer, {**hp, **continuous})  # nothing set that nobody reads
            member_hp = trainer_hyperparams(member_trainer, {**hp, **continuous})
            if member_trainer not in checked:
                check_data(member_trainer, data[0], data[1], hp=member_hp)
                check_data(member_trainer, data[2], data[3], name="x_val", hp=member_hp)
                check_optimizer(member_trainer, member_hp)
                checked.add(member_trainer)
        except (TypeError, ValueError) as err:
            raise type(err)(f"config {i} {config}: {err}") from err
        trainers.append(member_trainer)
        values.append({k: np.float32(v) for k, v in member_hp.items()})
        given.append({**hp, **continuous})
        groups.setdefault((member_trainer, tuple(sorted(member_hp))), []).append(i)
    buckets = []
    for (member_trainer, names), ids in groups.items():
        stacked = {k: np.asarray([values[i][k] for i in ids], np.float32) for k in names}
        member_seeds = [seeds[i] for i in ids]
        buckets.append(_Bucket(member_trainer, np.asarray(ids), stacked, member_seeds, shared))
    # Only the names set (the defaults fill in the rest), so fit(hp=...) accepts them.
    member_hp = [{k: float(v[k]) for k in g} for v, g in zip(values, given)]
    return buckets, trainers, member_hp


def _seeds(seed: Any, seeds: Sequence[int] | None, n: int) -> list[int]:
    """One seed per member: ``seed`` for all, or ``seeds``."""
    member_seeds = [seed] * n if seeds is None else list(seeds)
    if len(member_seeds) != n:
        raise ValueError(f"seeds must give one seed per config ({n}), got {len(member_seeds)}")
    for i, s in enumerate(member_seeds):
        check_positive_int(f"seeds[{i}]", s, minimum=0)
    return [int(s) for s in member_seeds]


def _check_settings(epochs: Any, patience: Any, epochs_per_call: Any) -> None:
    check_positive_int("epochs", epochs)
    check_positive_int("epochs_per_call", epochs_per_call)
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)):
        raise TypeError(f"patience must be an int or None, got {patience!r}")


class _History:
    """Per-member history lists, filled from the per-epoch records of the compiled step."""

    def __init__(self, n: int, keys: Sequence[str], logger: Any = None) -> None:
        self.KEYS = ("epoch", *(k for k in keys if k != "epoch"))
        self.lists = [{k: [] for k in self.KEYS} for _ in range(n)]
        self.status = ["ok"] * n
        self.logger = logger

    def add(self, bucket: _Bucket, start: int, record: dict[str, np.ndarray]) -> None:
        for step in range(record["live"].shape[0]):
            for j, i in enumerate(bucket.ids):
                if not record["live"][step, j]:
                    continue
                entry = self.lists[i]
                entry["epoch"].append(start + step)
                for k in self.KEYS[1:]:
                    entry[k].append(float(record[k][step, j]))
                if self.logger is not None:
                    self.logger.log_epoch(start + step, logs.last_epoch(entry), member=int(i))
                if record["diverged"][step, j]:
                    self.status[i] = "diverged"
                elif record["stopped"][step, j]:
                    self.status[i] = "early-stopped"


def _train(
    bucket: _Bucket,
    data: Any,
    until: int,
    stopper: EarlyStopping,
    epochs_per_call: int,
    mesh: Mesh,
    history: _History,
    after_chunk: Any = None,
    max_members_per_call: int | None = None,
) -> None:
    """Train ``bucket`` up to epoch ``until`` (exclusive) or until every member is frozen;
    ``after_chunk(bucket, start, record)`` runs after each compiled chunk. A bucket too large
    for memory runs in slices of its member axis (:mod:`jaxdl.sweep.chunking`)."""
    epochs = chunking.chunked(_compiled(mesh)[0], mesh, max_members_per_call)
    done = False
    while bucket.epoch < until and not done:
        if bucket.state is None:
            bucket.init(stopper, mesh)
        hp, keys = bucket.device_inputs  # new after a compaction
        bucket.state, record = epochs(
            bucket.trainer,
            stopper,
            bucket.shared,
            epochs_per_call,
            bucket.state,
            hp,
            keys,
            data,
            np.int32(bucket.epoch),
            np.int32(until),
        )
        record = jax.tree.map(np.asarray, record)
        history.add(bucket, bucket.epoch, record)
        start, bucket.epoch = bucket.epoch, min(bucket.epoch + epochs_per_call, until)
        done = bool(np.all(record["done"][-1]))
        if after_chunk is not None:
            after_chunk(bucket, start, record)


def _collect(bucket: _Bucket, mesh: Mesh, outcome: dict[int, dict[str, Any]]) -> None:
    """Copy each member's best parameters and early-stopping result to the host."""
    state = bucket.state
    (params, model_state), best, best_epoch = sharding.fetch(
        (state.best, state.es.best, state.es.best_epoch), mesh
    )
    for j, i in enumerate(bucket.ids.tolist()):
        outcome[i] = {
            "params": jax.tree.map(lambda a, j=j: a[j], params),
            "model_state": jax.tree.map(lambda a, j=j: a[j], model_state),
            "best": float(best[j]),
            "best_epoch": int(best_epoch[j]),
        }


def successive_halving(
    space_or_configs: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    data: Any,
    *,
    trainer: Trainer,
    min_epochs: int,
    max_epochs: int,
    eta: int = 3,
    **options: Any,
) -> SweepResults:
    """Rungs of ``min_epochs * eta**k`` total epochs (capped at ``max_epochs``); after each rung
    only the best ``ceil(live / eta)`` members by their best ``monitor`` value go on, the rest
    are marked ``pruned``. Other options as in :func:`run_sweep`."""
    check_positive_int("eta", eta, minimum=2)
    check_positive_int("min_epochs", min_epochs)
    check_positive_int("max_epochs", max_epochs)
    if min_epochs > max_epochs:
        raise ValueError(f"min_epochs ({min_epochs}) must be <= max_epochs ({max_epochs})")
    rungs = [min_epochs]
    while rungs[-1] < max_epochs:
        rungs.append(min(rungs[-1] * eta, max_epochs))
    return _sweep(space_or_configs, data, trainer=trainer, rungs=rungs, eta=eta, **options)


def run_sweep(
    space_or_configs: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    data: Any,
    *,
    trainer: Trainer,
    epochs: int = 10,
    **options: Any,
) -> SweepResults:
    """Train every config for up to ``epochs`` epochs; see the module docstring.

    ``space_or_configs``: a :class:`Space` (sampled with ``sample(space, seed, n, method)``) or
    a list of configs. ``data``: a :class:`~jaxdl.data.datasets.Dataset` or
    ``(x_train, y_train, x_val, y_val)``. Options: ``hp`` (values shared by every config),
    ``seed`` (shared keys) or ``seeds`` (one per config), ``patience``, ``monitor`` (any
    history entry of the trainer: ``val_loss``, ``loss`` and each metric with its ``val_``
    twin), ``mode`` (``min``/``max``; default: the metric's own), ``min_delta``, ``n``,
    ``method``, ``mesh`` (default: every device), ``epochs_per_call``, ``model_fn`` (a function
    ``structural_config -> model`` for the structural names of your own model), ``logger`` (see
    :mod:`jaxdl.logs`: every live member's values after each epoch, then each member's
    hyperparameters and best-epoch metrics), ``checkpoint_dir`` (the whole sweep saved atomically
    after every chunk, a ``metrics.jsonl`` log) and ``resume`` (continue from it, bit for bit;
    see :mod:`jaxdl.sweep.state`), ``compact`` (default true: stopped members leave the vmapped
    program), ``max_members_per_call`` (members per compiled call; default: chosen from the
    compiled program's memory, see :mod:`jaxdl.sweep.chunking`).
    """
    return _sweep(space_or_configs, data, trainer=trainer, rungs=[epochs], eta=1, **options)


def _sweep(
    space_or_configs: Any,
    data: Any,
    *,
    trainer: Trainer,
    rungs: list[int],
    eta: int,
    hp: Mapping[str, Any] | None = None,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    patience: int | None = None,
    monitor: str = "val_loss",
    mode: str | None = None,
    min_delta: float = 0.0,
    n: int | None = None,
    method: str = "random",
    mesh: Mesh | None = None,
    epochs_per_call: int = 1,
    model_fn: Any = None,
    logger: Any = None,
    checkpoint_dir: Any = None,
    resume: bool = False,
    compact: bool = True,
    max_members_per_call: int | None = None,
) -> SweepResults:
    logs.check_logger(logger)
    chunking.check_max_members(max_members_per_call)
    if not isinstance(compact, bool):
        raise TypeError(f"compact must be True or False, got {compact!r}")
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer must be a jaxdl.train.Trainer, got {type(trainer).__name__}")
    if model_fn is not None and not callable(model_fn):
        raise TypeError(f"model_fn must be a function structural_config -> model, got {model_fn!r}")
    _check_settings(rungs[-1], patience, epochs_per_call)
    mode = trainer.check_monitor(monitor, mode)
    stopper = EarlyStopping(NEVER if patience is None else patience, min_delta, monitor, mode)
    configs = _configs(space_or_configs, n, seed, method)
    hp = dict(hp or {})
    fixed_structural = split_config(hp, model_fn=model_fn, continuous=continuous_names(trainer))[0]
    if fixed_structural:
        raise ValueError(
            f"hp takes continuous hyperparameters only, got {sorted(fixed_structural)}; "
            "set structural ones on the trainer"
        )
    host_data = _data(trainer, data)
    member_seeds = _seeds(seed, seeds, len(configs))
    buckets, trainers, member_hp = _buckets(
        trainer, configs, hp, member_seeds, seeds is None, host_data, model_fn
    )
    journal = state.open_journal(
        checkpoint_dir,
        resume,
        {
            "trainer": state.digest([dataclasses.replace(t, mesh=None) for t in trainers]),
            "configs": state.digest((configs, member_hp, member_seeds)),
            "data": state.digest(host_data),
            "budget": state.digest((rungs, eta)),
            "early stopping": state.digest(stopper),
        },
    )
    mesh = sharding.config_mesh() if mesh is None else mesh
    device_data = sharding.put(host_data, sharding.replicated(mesh))
    for bucket in buckets:
        bucket.place(mesh)

    history = _History(len(configs), trainer.history_keys, logger)
    outcome: dict[int, dict[str, Any]] = {}
    budget = [0] * len(configs)
    original, first, finished = list(buckets), 0, False
    if journal is not None and journal.meta is not None:
        finished = journal.meta["finished"]
        first, buckets = state.restore_sweep(
            journal, original=original, history=history, outcome=outcome, budget=budget,
            template=lambda b: _template(b, stopper), place=lambda b, host: _restore(b, host, mesh),
        )  # fmt: skip

    def results() -> SweepResults:
        return _results(configs, history, outcome, trainers, member_hp, member_seeds, budget,
                        stopper)  # fmt: skip

    def save(rung: int, finished: bool = False) -> None:
        state.save_sweep(
            journal, rung=rung, finished=finished, original=original, buckets=buckets,
            history=history, outcome=outcome, budget=budget, fetch=lambda b: _host_state(b, mesh),
        )  # fmt: skip

    def after_chunk(bucket: _Bucket, start: int, record: dict[str, np.ndarray]) -> None:
        live = ~record["done"][-1][: len(bucket.ids)]
        if compact and live.any() and not live.all():
            _collect(bucket, mesh, outcome)  # the results of the members about to leave
            stopped = bucket.ids[~live].tolist()
            if bucket.compact(live, mesh):
                for i in stopped:
                    budget[i] = rungs[rung]
        if journal is None:
            return
        journal.append(state.metric_lines(bucket.ids.tolist(), start, record, history.KEYS[1:]))
        save(rung)
        if journal.stop_requested:
            for b in buckets:
                if b.state is not None:
                    _collect(b, mesh, outcome)
            partial = results()
            partial.to_csv(os.path.join(journal.directory, state.TABLE_FILE))
            message = f"sweep interrupted after epoch {bucket.epoch - 1}; " + journal.resume_hint()
            raise state.SweepInterrupted(message, partial, journal.directory)

    hook = after_chunk if journal is not None or compact else None
    with state.interrupts(journal):
        for rung in range(first, len(rungs)):
            until = rungs[rung]
            for bucket in buckets:
                if not finished:
                    _train(bucket, device_data, until, stopper, epochs_per_call, mesh, history,
                           hook, max_members_per_call)  # fmt: skip
                _collect(bucket, mesh, outcome)
                for i in bucket.ids.tolist():
                    budget[i] = until
            if rung == len(rungs) - 1:
                break
            alive = [i for i in range(len(configs)) if history.status[i] == "ok"]
            alive.sort(key=lambda i: score(stopper.mode, outcome[i]["best"]))
            keep = set(alive[: math.ceil(len(alive) / eta)])
            for i in set(alive) - keep:
                history.status[i] = "pruned"
            buckets = [b for b in buckets if b.keep([i in keep for i in b.ids.tolist()], mesh)]
        if journal is not None:
            save(len(rungs) - 1, finished=True)
    final = results()
    log_results(logger, final)
    return final


def log_results(logger: Any, results: SweepResults) -> None:
    """Give ``logger`` each member's hyperparameters and best-epoch metrics (its table row)."""
    if logger is None:
        return
    for i in range(len(results.configs)):
        row = results.row(i)
        logger.log_hparams(i, {**results.hp[i], **results.configs[i]},
                           {k: row[k] for k in results.metrics})


def _results(configs, history, outcome, trainers, member_hp, member_seeds, budget, stopper):
    """The :class:`SweepResults` of the members with an outcome (``None`` for the others)."""
    empty = {"params": None, "model_state": None, "best_epoch": -1}
    got = [outcome.get(i, empty) for i in range(len(configs))]
    return SweepResults(
        configs=configs,
        histories=history.lists,
        status=history.status,
        best_epoch=[g["best_epoch"] for g in got],
        params=[g["params"] for g in got],
        model_state=[g["model_state"] for g in got],
        trainers=trainers,
        hp=member_hp,
        seeds=member_seeds,
        epochs=budget,
        stopper=stopper,
    )


# -- durable sweeps (jaxdl.sweep.state) ---------------------------------------------------------
def _template(bucket: _Bucket, stopper: EarlyStopping) -> SweepState:
    """The structure of a bucket's state (shapes only; nothing runs)."""
    hp = {k: v[0] for k, v in bucket.hp.items()}
    ts = jax.eval_shape(lambda key: bucket.trainer.init(key, hp), jax.random.key(0))
    return SweepState(ts, (ts.params, ts.model_state), stopper.init(), np.zeros((), bool))


def _host_state(bucket: _Bucket, mesh: Mesh) -> SweepState:
    """The bucket's state on the host, without the padding."""
    n = len(bucket.ids)
    return jax.tree.map(lambda a: a[:n], sharding.fetch(bucket.state, mesh))


def _restore(bucket: _Bucket, host: SweepState | None, mesh: Mesh) -> None:
    """Put a restored host state (padded to the mesh) and the bucket's inputs on the devices."""
    bucket.place(mesh)
    if host is not None:
        index = bucket.padding(mesh)
        host = jax.tree.map(lambda a: np.asarray(a)[index], host)
        bucket.state = sharding.put(host, sharding.members(mesh))
