"""Configs and buckets: which names of a config are structural (they change the
:class:`~jaxdl.train.Trainer`) and which continuous (traced ``hp``), the trainer of a config, and
the members grouped by structure into buckets that each compile once, with their inputs and state
on the devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import EarlyStopping
from jaxdl.hyperparams import NAMES, check_for
from jaxdl.model import check_protocol, describe
from jaxdl.nn import MLP
from jaxdl.optim import OptimizerSwitch
from jaxdl.optim.one_of import INDEX as OPTIMIZER_INDEX
from jaxdl.optim.registry import HYPERPARAMETERS as OPTIMIZER_HYPERPARAMETERS
from jaxdl.optim.registry import reads as optimizer_reads
from jaxdl.shapes import check_arrays, check_data, check_optimizer
from jaxdl.sweep import sharding
from jaxdl.sweep.loop import SweepState, compiled_epochs, key_data
from jaxdl.sweep.spaces import as_space, check_count, sample
from jaxdl.train import Trainer, run_init_members, trainer_hyperparams

__all__ = [
    "TRAINER_FIELDS",
    "STRUCTURAL",
    "CONTINUOUS",
    "split_config",
    "trainer_for",
    "program_trainer",
    "results_hp",
    "continuous_names",
    "bucket_size",
]

TRAINER_FIELDS = ("optimizer", "schedule", "batch_size", "drop_remainder", "decay_interval")
STRUCTURAL = TRAINER_FIELDS + MLP.STRUCTURAL  # the names known without a model_fn
CONTINUOUS = NAMES  # every name of the hyperparameter table is traced

Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# -- configs ----------------------------------------------------------------------------------
def split_config(
    config: Mapping[str, Any], *, model_fn: Any = None, continuous: Sequence[str] = CONTINUOUS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(structural, continuous)`` parts of one config. Names in ``continuous`` are continuous;
    with ``model_fn`` every other name is structural, without it unknown names (not in
    :data:`STRUCTURAL`) raise ``ValueError``.

    >>> from jaxdl.sweep.buckets import split_config
    >>> split_config({"learning_rate": 0.1, "hidden_units": 8, "optimizer": "sgd"})
    ({'hidden_units': 8, 'optimizer': 'sgd'}, {'learning_rate': 0.1})
    """
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
    it, the base model's ``with_structure(rest)`` (the MLP's ``hidden_units``, ...).

    >>> from jaxdl.sweep.buckets import trainer_for
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> trainer = trainer_for(Trainer(MLP((2, 4, 1))), {"optimizer": "sgd", "hidden_units": 8})
    >>> trainer.optimizer, trainer.model.sizes
    ('sgd', (2, 8, 1))
    """
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
        check_protocol(model, name=f"model_fn({model_kw}) result")
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


def program_trainer(
    base: Trainer, structural: Mapping[str, Any], model_fn: Any = None
) -> tuple[Trainer, Trainer, dict[str, float]]:
    """``(member, program, index)`` for one config's structural values: the trainer of the
    member's results (:func:`trainer_for`), the trainer whose compiled program trains it, and
    the traced values the program adds. They differ only when ``base.optimizer`` is an
    :func:`jaxdl.optim.switch`: then ``config["optimizer"]`` (one of the switch's names; absent:
    its first) is not structural: the member's trainer has that optimizer by name, the program
    keeps the switch, and ``index`` is ``{"optimizer_index": i}``, so configs that differ only
    in optimizer kind share one program.

    >>> from jaxdl import MLP, Trainer, optim
    >>> from jaxdl.sweep.buckets import program_trainer
    >>> base = Trainer(MLP((2, 1)), optimizer=optim.switch("momentum", "adam"))
    >>> member, program, index = program_trainer(base, {"optimizer": "adam"})
    >>> member.optimizer, program.optimizer.names, index
    ('adam', ('momentum', 'adam'), {'optimizer_index': 1.0})
    """
    switch = base.optimizer
    if not isinstance(switch, OptimizerSwitch):
        member = trainer_for(base, structural, model_fn)
        return member, member, {}
    name = structural.get("optimizer", switch.names[0])
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be one of the switch's names {switch.names}, got {name!r}")
    index = switch.index(name)
    member = trainer_for(base, {**structural, "optimizer": name}, model_fn)
    return member, dataclasses.replace(member, optimizer=switch), {OPTIMIZER_INDEX: float(index)}


def results_hp(program: Trainer, member: Trainer, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values set that the member's own optimizer reads (what ``fit`` of the member's
    trainer accepts): for a switch, an optimizer name no branch reads raises ``ValueError``,
    and one only another branch reads (an Adam member's ``beta``) is left out.

    >>> from jaxdl import MLP, Trainer, optim
    >>> from jaxdl.sweep.buckets import program_trainer, results_hp
    >>> base = Trainer(MLP((2, 1)), optimizer=optim.switch("momentum", "adam"))
    >>> member, program, _ = program_trainer(base, {"optimizer": "adam"})
    >>> results_hp(program, member, {"learning_rate": 0.1, "beta": 0.9})
    {'learning_rate': 0.1}
    """
    switch = program.optimizer
    if not isinstance(switch, OptimizerSwitch):
        return dict(given)
    kept = {}
    for name, value in given.items():
        if name in OPTIMIZER_HYPERPARAMETERS:
            if not any(name in optimizer_reads(o) for o in switch.names):
                raise ValueError(
                    f"hyperparameter {name} is not read by any optimizer of the switch "
                    f"{switch.names}: remove it or add an optimizer that reads it"
                )
            if name not in optimizer_reads(member.optimizer):
                continue
        kept[name] = value
    return kept


def continuous_names(trainer: Trainer) -> tuple[str, ...]:
    """The table's hyperparameter names plus those the trainer's model declares.

    >>> from jaxdl.sweep.buckets import continuous_names
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> continuous_names(Trainer(MLP((2, 1))))[:3]
    ('learning_rate', 'beta', 'b1')
    """
    own = getattr(trainer.model, "hyperparameters", ())
    return CONTINUOUS + tuple(sorted(set(own) - set(CONTINUOUS)))


def resolve_configs(
    space_or_configs: Any, n: int | None, seed: int, method: str
) -> list[dict[str, Any]]:
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


def check_sweep_data(trainer: Trainer, data: Any) -> Data:
    """The four arrays on the host (float32 features; ``uint8`` images stay ``uint8`` for a model
    that casts them per mini-batch, such as :class:`jaxdl.layers.Standardized`), checked without
    a model: each bucket's model is checked against them, with its hyperparameters, in
    :func:`make_buckets`."""
    if hasattr(data, "x_train"):
        parts = (data.x_train, data.y_train, data.x_val, data.y_val)
    elif isinstance(data, tuple | list) and len(data) == 4:
        parts = tuple(data)
    else:
        raise TypeError(
            "data must be a jaxdl Dataset or a tuple (x_train, y_train, x_val, y_val), "
            f"got {type(data).__name__}"
        )
    keep = getattr(trainer.model, "takes_uint8", False) is True
    x, y = check_arrays(parts[0], parts[1], keep_uint8=keep)
    x_val, y_val = check_arrays(parts[2], parts[3], name="x_val", keep_uint8=keep)
    trainer.partition(x.shape[0])
    return np.asarray(x), np.asarray(y), np.asarray(x_val), np.asarray(y_val)


def seeds_per_member(seed: Any, seeds: Sequence[int] | None, n: int) -> list[int]:
    """One seed per member: ``seed`` for all, or ``seeds``."""
    chosen = [seed] * n if seeds is None else list(seeds)
    if len(chosen) != n:
        raise ValueError(f"seeds must give one seed per config ({n}), got {len(chosen)}")
    for i, s in enumerate(chosen):
        check_positive_int(f"seeds[{i}]", s, minimum=0)
    return [int(s) for s in chosen]


# -- buckets ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Bucket:
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
            keys = sharding.put(key_data(self.seeds[0]), sharding.replicated(mesh))
        else:
            keys = sharding.put(np.stack([key_data(self.seeds[i]) for i in index]), members)
        self.device_inputs = (hp, keys)

    def init(self, stopper: EarlyStopping, mesh: Mesh) -> None:
        """Initial states from ``run_init_members`` (each member's bitwise that of ``fit``:
        the model's draws once per seed, the optimizer states vmapped), padded and put on the
        mesh."""
        ts = jax.device_get(run_init_members(self.trainer, self.seeds, self.hp))
        n = len(self.ids)
        es = jax.tree.map(
            lambda a: np.broadcast_to(np.asarray(a), (n, *np.shape(a))), stopper.init()
        )
        state = SweepState.start(ts, es, np.zeros((n,), bool))
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
        take = compiled_epochs(mesh)[1]
        self.state = take(self.state, sharding.put(index, sharding.replicated(mesh)))
        self.place(mesh)


def bucket_size(n: int, mesh: Mesh) -> int:
    """Device rows for ``n`` members after compaction: ``n`` rounded up to a power of two, then
    to a multiple of the mesh's devices, so a sweep compiles for a few sizes only.

    >>> import jax
    >>> from jaxdl.sweep.buckets import bucket_size
    >>> from jaxdl.sweep.sharding import config_mesh
    >>> [bucket_size(n, config_mesh(jax.devices()[:1])) for n in (1, 3, 5)]
    [1, 4, 8]
    """
    return sharding.padded_count(1 << max(n - 1, 0).bit_length(), mesh)


def make_buckets(
    trainer: Trainer,
    configs: list[dict[str, Any]],
    hp: Mapping[str, Any],
    seeds: list[int],
    shared: bool,
    data: Data,
    model_fn: Any = None,
) -> tuple[list[Bucket], list[Trainer], list[dict[str, float]]]:
    """Validate every config (before anything compiles: the shapes of each new model's
    outputs are checked on the data by ``jax.eval_shape``) and group them by structure; also
    return each member's trainer and hyperparameters. With an :func:`jaxdl.optim.switch`
    trainer, configs that differ only in ``optimizer`` share a group (:func:`program_trainer`)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    trainers, values, given = [], [], []
    checked = set()
    for i, config in enumerate(configs):
        try:
            structural, continuous = split_config(
                config, model_fn=model_fn, continuous=continuous_names(trainer)
            )
            member_trainer, program, index = program_trainer(trainer, structural, model_fn)
            member_trainer.partition(len(data[0]))
            given_hp = check_for(program, {**hp, **continuous})  # nothing nobody reads
            member_given = results_hp(program, member_trainer, {**hp, **continuous})
            traced: dict[str, Any] = {**trainer_hyperparams(program, given_hp), **index}
            if program not in checked:
                check_data(program, data[0], data[1], hp=traced)
                check_data(program, data[2], data[3], name="x_val", hp=traced)
                check_optimizer(program, traced)
                checked.add(program)
        except (TypeError, ValueError) as err:
            raise type(err)(f"config {i} {config}: {err}") from err
        trainers.append(member_trainer)
        values.append({k: np.float32(v) for k, v in traced.items()})
        given.append(member_given)
        groups.setdefault((program, tuple(sorted(traced))), []).append(i)
    buckets = []
    for (program, names), ids in groups.items():
        stacked = {k: np.asarray([values[i][k] for i in ids], np.float32) for k in names}
        member_seeds = [seeds[i] for i in ids]
        buckets.append(Bucket(program, np.asarray(ids), stacked, member_seeds, shared))
    # Only the names set (the defaults fill in the rest), so fit(hp=...) accepts them.
    member_hp = [{k: float(v[k]) for k in g} for v, g in zip(values, given)]
    return buckets, trainers, member_hp


# -- a bucket's state on the host: results, durable sweeps (jaxdl.sweep.state) ----------------
def state_template(bucket: Bucket, stopper: EarlyStopping) -> SweepState:
    """The structure of a bucket's state (shapes only; nothing runs)."""
    hp = {k: v[0] for k, v in bucket.hp.items()}
    ts = jax.eval_shape(lambda key: bucket.trainer.init(key, hp), jax.random.key(0))
    return SweepState(ts, (ts.params, ts.model_state), stopper.init(), np.zeros((), bool))


def collect_results(bucket: Bucket, mesh: Mesh, outcome: dict[int, dict[str, Any]]) -> None:
    """Copy each member's best parameters and early-stopping result to the host."""
    state = bucket.state
    assert state is not None, "a bucket's results are collected once it is initialized"
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


def host_state(bucket: Bucket, mesh: Mesh) -> SweepState:
    """The bucket's state on the host, without the padding."""
    n = len(bucket.ids)
    state: SweepState = jax.tree.map(lambda a: a[:n], sharding.fetch(bucket.state, mesh))
    return state


def restore_bucket(bucket: Bucket, host: SweepState | None, mesh: Mesh) -> None:
    """Put a restored host state (padded to the mesh) and the bucket's inputs on the devices."""
    bucket.place(mesh)
    if host is not None:
        index = bucket.padding(mesh)
        host = jax.tree.map(lambda a: np.asarray(a)[index], host)
        bucket.state = sharding.put(host, sharding.members(mesh))

