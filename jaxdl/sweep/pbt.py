"""Population-based training (Jaderberg et al. 2017) under ``vmap``: the population is one set of
device arrays, exploit is a gather on the member axis, nothing recompiles.

Every ``interval`` epochs each member is scored by its last ``monitor`` value (non-finite:
worst). With ``q = max(1, floor(quantile * population))``, each of the ``q`` worst members
copies the training state (parameters, optimizer state, batch-norm statistics) and the history
of one of the ``q`` best, drawn at random (*exploit*), and *explores*:
each searched hyperparameter is resampled from its distribution with probability
``resample_prob``, otherwise multiplied by a factor drawn from ``perturb`` on the space's scale

    LogUniform, Uniform:     value * f
    OneMinusLogUniform:      1 - (1 - value) * f      (a beta moves on its 1 - beta scale)

and clipped to the distribution's bounds. A member's best epoch counts from its last exploit:
there its early-stopping record starts afresh, so its table row (best epoch, scores) and its kept
parameters are what it reached with the hyperparameters the row shows, from the state of the
member named in ``copied_from`` at ``since_epoch`` (:meth:`PBTResults.provenance` holds the
whole schedule). A member that was never exploited counts from epoch 0. Hyperparameters are
traced inputs and the gather has a fixed shape, so every interval runs the same compiled
programs. Every member shares the keys of ``seed`` (batches, dropout masks), so the lineage of
a member, the hyperparameters its state was trained with, interval by interval, replays exactly
alone: :meth:`PBTResults.retrain`.

The driver is here; the lineage, the replay of a member and the plot of the schedules are in
:mod:`jaxdl.sweep.lineage`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl import logs
from jaxdl.checks import check_range
from jaxdl.early_stopping import EarlyStopping
from jaxdl.sweep import buckets, recording, sharding, state
from jaxdl.sweep.lineage import PBTResults as PBTResults
from jaxdl.sweep.lineage import plot_schedules as plot_schedules
from jaxdl.sweep.lineage import replay as replay
from jaxdl.sweep.loop import compiled_epochs, exploit_program
from jaxdl.sweep.options import NEVER, check_settings
from jaxdl.sweep.results import score
from jaxdl.sweep.spaces import Choice, IntUniform, OneMinusLogUniform, Space, as_space, sample
from jaxdl.train import Trainer
from jaxdl.typing import HyperParam


# -- explore ------------------------------------------------------------------------------------
def explore(
    space: Space,
    values: Mapping[str, float],
    rng: np.random.Generator,
    perturb: Sequence[float],
    resample_prob: float,
) -> dict[str, float]:
    """New values of the searched hyperparameters (see the module docstring).

    Args:
      space: the searched hyperparameters.
      values: the member's current values.
      rng: the source of the draws.
      perturb: the factors to draw from.
      resample_prob: the probability of resampling a value from its distribution.

    Returns:
      ``values`` with every searched name perturbed or resampled.

    >>> import numpy as np
    >>> from jaxdl.sweep.pbt import explore
    >>> from jaxdl.sweep import LogUniform, OneMinusLogUniform, Space
    >>> space = Space(learning_rate=LogUniform(1e-3, 1.0), b1=OneMinusLogUniform(0.5, 0.999))
    >>> explore(space, {"learning_rate": 0.1, "b1": 0.9}, np.random.default_rng(0), (0.8, 1.2), 0.0)
    {'learning_rate': 0.12, 'b1': 0.92}
    """
    out = dict(values)
    for name, dist in space.items():
        if rng.random() < resample_prob or isinstance(dist, Choice):
            out[name] = dist.from_unit(np.asarray([rng.random()]))[0]
            continue
        factor = float(rng.choice(np.asarray(perturb, np.float64)))
        value = float(values[name])
        moved = 1.0 - (1.0 - value) * factor if isinstance(dist, OneMinusLogUniform) else (
            value * factor
        )
        moved = float(np.clip(moved, dist.low, dist.high))
        out[name] = int(round(moved)) if isinstance(dist, IntUniform) else moved
    return out


def exploit(
    scores: Sequence[float], quantile: float, rng: np.random.Generator
) -> np.ndarray:
    """``source[j]``: the member whose state member ``j`` takes (the bottom ``q`` each copy a
    random one of the top ``q``; ``scores`` lower is better, ties by position).

    Args:
      scores: each member's score, lower is better.
      quantile: the bottom and top fraction, ``q = max(1, floor(quantile * n))``.
      rng: the source of the draws.

    Returns:
      An int array: ``source[j]`` is ``j`` for a member that keeps its own state.

    >>> import numpy as np
    >>> from jaxdl.sweep.pbt import exploit
    >>> exploit([0.3, 0.9, 0.1, float("inf")], 0.5, np.random.default_rng(0)).tolist()
    [0, 0, 2, 0]
    """
    n = len(scores)
    q = max(1, math.floor(quantile * n))
    order = sorted(range(n), key=lambda j: (scores[j], j))
    source = np.arange(n)
    for j in order[n - q :]:
        source[j] = order[int(rng.integers(q))]
    return source


def check_pbt(population: Any, interval: Any, epochs: Any, quantile: Any, perturb: Any,
              resample_prob: Any) -> None:  # fmt: skip
    """Bad settings raise before anything compiles.

    Args:
      population: members (an int >= 2).
      interval: epochs between exploit steps (an int >= 1).
      epochs: epochs in all (an int >= 1).
      quantile: the exploited fraction, in ``(0, 0.5]``.
      perturb: a non-empty sequence of factors ``> 0``.
      resample_prob: in ``[0, 1]``.

    Raises:
      TypeError: for a non-integer count.
      ValueError: for a value out of range.

    >>> from jaxdl.sweep.pbt import check_pbt
    >>> check_pbt(8, 2, 20, 0.25, (0.8, 1.2), 0.25)
    >>> check_pbt(1, 2, 20, 0.25, (0.8, 1.2), 0.25)
    Traceback (most recent call last):
    ValueError: population must be >= 2, got 1
    """
    for name, value, low in (("population", population, 2), ("interval", interval, 1),
                             ("epochs", epochs, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if isinstance(quantile, bool) or not isinstance(quantile, int | float) or not (
        0 < quantile <= 0.5
    ):
        raise ValueError(
            f"quantile must lie in (0, 0.5] (the bottom and top fractions may not overlap), "
            f"got {quantile!r}"
        )
    if (
        isinstance(perturb, str)
        or not isinstance(perturb, Sequence)
        or not perturb
        or not all(isinstance(f, int | float) and f > 0 for f in perturb)
    ):
        raise ValueError(f"perturb must be a non-empty sequence of factors > 0, got {perturb!r}")
    check_range("resample_prob", resample_prob, 0.0, 1.0)


def population_based_training(
    space: Space | Mapping[str, Any],
    data: Any,
    *,
    trainer: Trainer,
    population: int = 8,
    interval: int = 2,
    epochs: int = 20,
    quantile: float = 0.25,
    perturb: Sequence[float] = (0.8, 1.2),
    resample_prob: float = 0.25,
    hp: Mapping[str, HyperParam] | None = None,
    seed: int = 0,
    monitor: str = "val_loss",
    mode: str | None = None,
    mesh: Any = None,
    checkpoint_dir: Any = None,
    resume: bool = False,
    logger: Any = None,
) -> PBTResults:
    """Train ``population`` members drawn from ``space`` for ``epochs``, exploiting and
    exploring every ``interval`` epochs (see the module docstring). ``space`` holds continuous
    hyperparameters only; ``hp`` fixes others. ``checkpoint_dir``/``resume`` as in
    :func:`~jaxdl.sweep.run_sweep` (saved after every interval). ``logger`` (see
    :mod:`jaxdl.logs`) gets each slot's values after every epoch (a slot's member is copied
    from another at an exploit step), then each slot's final hyperparameters and metrics.

    Args:
      space: the searched hyperparameters (continuous ones only).
      data: a Dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the trainer every member starts from.
      population: members, trained together under ``vmap``.
      interval: epochs between exploit steps.
      epochs: epochs in all.
      quantile: the exploited fraction (bottom and top).
      perturb: the factors explore multiplies by.
      resample_prob: the probability of resampling a value instead.
      hp: fixed values of other hyperparameters.
      seed: the seed of the draws and of every member's keys.
      monitor: the ranked metric.
      mode: ``"min"`` or ``"max"`` (default: the monitor's own).
      mesh: the device mesh (default: :func:`~jaxdl.sweep.sharding.config_mesh`).
      checkpoint_dir: the sweep directory to save to after every interval.
      resume: continue the run saved in ``checkpoint_dir``.
      logger: a :mod:`jaxdl.logs` logger.

    Returns:
      The final population's :class:`PBTResults`.

    >>> from jaxdl.sweep.pbt import population_based_training
    >>> from jaxdl.train.trainer import Trainer
    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep import LogUniform
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 64).astype(np.int32)
    >>> x = (rng.normal(size=(64, 2)) + 2 * y[:, None]).astype(np.float32)
    >>> res = population_based_training(
    ...     {"learning_rate": LogUniform(1e-3, 0.3)}, (x[:48], y[:48], x[48:], y[48:]),
    ...     trainer=Trainer(MLP((2, 4, 2)), batch_size=16), population=4, interval=2, epochs=4)
    >>> len(res.schedule())  # the best member's hyperparameters in each of the 2 intervals
    2
    """
    check_pbt(population, interval, epochs, quantile, perturb, resample_prob)
    logs.check_logger(logger)
    space = as_space(space)
    if not isinstance(trainer, Trainer):
        raise TypeError(f"trainer must be a jaxdl.train.Trainer, got {type(trainer).__name__}")
    structural = [name for name in space if name not in buckets.continuous_names(trainer)]
    if structural:
        raise ValueError(
            f"population-based training explores continuous hyperparameters only, got "
            f"{structural}; set structural ones on the trainer"
        )
    check_settings(epochs, None, interval)
    stopper = EarlyStopping(NEVER, 0.0, monitor, trainer.check_monitor(monitor, mode))
    fixed = dict(hp or {})
    configs = sample(space, seed, population)
    host_data = buckets.check_sweep_data(trainer, data)
    buckets.seeds_per_member(seed, None, population)
    (bucket,), trainers, member_hp = buckets.make_buckets(
        trainer, configs, fixed, [seed] * population, True, host_data
    )
    journal = state.open_journal(checkpoint_dir, resume, {
        "trainer": state.digest(dataclasses.replace(trainer, mesh=None)),  # one for all
        "configs": state.digest((configs, member_hp, seed)),
        "data": state.digest(host_data),
        "budget": state.digest((epochs, interval)),
        "population": state.digest((quantile, tuple(perturb), resample_prob, monitor)),
    })  # fmt: skip
    mesh = sharding.config_mesh() if mesh is None else mesh
    device_data = sharding.put(host_data, sharding.replicated(mesh))
    run = _Population(bucket, space, stopper, mesh, member_hp, trainer.history_keys, logger)
    if journal is not None and journal.meta is not None:
        run.restore(journal)
    else:
        bucket.place(mesh)
        bucket.init(stopper, mesh)
    intervals = math.ceil(epochs / interval)
    with state.interrupts(journal):
        while run.t < intervals:
            record = run.train(device_data, interval, epochs)
            if run.t < intervals - 1:
                rng = np.random.default_rng([seed, run.t])
                run.exploit_explore(record, quantile, perturb, resample_prob, rng)
            run.t += 1
            if journal is not None:
                keys = run.history.KEYS[1:]
                journal.append(state.metric_lines(range(population), run.start, record, keys))
                run.save(journal)
                if journal.stop_requested and run.t < intervals:
                    raise state.SweepInterrupted(
                        f"population-based training interrupted after interval {run.t - 1}; "
                        + journal.resume_hint(), None, journal.directory)  # fmt: skip
    outcome: dict[int, dict[str, Any]] = {}
    buckets.collect_results(bucket, mesh, outcome)
    results = PBTResults(
        configs=[{k: run.hp[j][k] for k in space} for j in range(population)],
        histories=run.history.lists,
        status=run.history.status,
        best_epoch=[outcome[i]["best_epoch"] for i in range(population)],
        params=[outcome[i]["params"] for i in range(population)],
        model_state=[outcome[i]["model_state"] for i in range(population)],
        trainers=trainers,
        hp=run.hp,
        seeds=[seed] * population,
        epochs=[epochs] * population,
        stopper=stopper,
        parents=run.parents,
        schedules_by_slot=run.schedules,
        interval=interval,
        searched=tuple(space),
    )
    recording.log_results(logger, results)
    return results


class _Population:
    """The population's device state and the host record of its lineage."""

    def __init__(self, bucket, space, stopper, mesh, member_hp, history_keys,
                 logger=None) -> None:
        self.bucket, self.space, self.stopper, self.mesh = bucket, space, stopper, mesh
        self.hp: list[dict[str, float]] = [dict(h) for h in member_hp]
        self.history = recording.History(len(member_hp), history_keys, logger)
        self.parents: list[list[int]] = []
        self.schedules: list[list[dict[str, float]]] = []
        self.t, self.start = 0, 0

    def train(self, device_data, interval: int, epochs: int) -> dict[str, np.ndarray]:
        """One interval for every member; returns the per-epoch records (host)."""
        bucket = self.bucket
        self.start = self.t * interval
        hp, keys = bucket.device_inputs
        bucket.state, record = compiled_epochs(self.mesh)[0](
            bucket.trainer, self.stopper, True, interval, bucket.state, hp, keys, device_data,
            np.int32(self.start), np.int32(epochs),
        )  # fmt: skip
        record = jax.tree.map(np.asarray, record)
        self.history.add(bucket, self.start, record)
        self.schedules.append([dict(h) for h in self.hp])
        return record

    def exploit_explore(self, record, quantile, perturb, resample_prob, rng) -> None:
        n = len(self.hp)
        last = np.flatnonzero(record["live"].any(axis=1))[-1]
        monitored, done = record[self.stopper.monitor][last], record["done"][last]
        scores = [math.inf if done[j] else score(self.stopper.direction, float(monitored[j]))
                  for j in range(n)]  # fmt: skip
        source = exploit(scores, quantile, rng)
        self.parents.append(source.tolist())
        for j in np.flatnonzero(source != np.arange(n)):
            self.hp[j] = explore(self.space, self.hp[source[j]], rng, perturb, resample_prob)
        lists, status = self.history.lists, self.history.status
        self.history.lists = [copy.deepcopy(lists[s]) for s in source]
        self.history.status = [status[s] for s in source]
        bucket, mesh = self.bucket, self.mesh
        padded = sharding.pad_index(n, mesh)
        index, fresh = source[padded], (source != np.arange(n))[padded]
        everywhere = sharding.replicated(mesh)
        bucket.state = exploit_program(mesh)(self.stopper, bucket.state,
                                             sharding.put(index, everywhere),
                                             sharding.put(fresh, everywhere))  # fmt: skip
        self.put_hp()
        bucket.place(mesh)

    def put_hp(self) -> None:
        """The bucket's hyperparameter columns from ``self.hp`` (the names a config sets; the
        defaults of the others are the same for every member)."""
        given = {k: np.asarray([h[k] for h in self.hp], np.float32) for k in self.hp[0]}
        self.bucket.hp = {**self.bucket.hp, **given}

    # -- durability ---------------------------------------------------------------------------
    def save(self, journal: state.Journal) -> None:
        host = buckets.host_state(self.bucket, self.mesh)
        arrays = {f"bucket0/{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(host))}
        journal.save({"t": self.t, "hp": self.hp, "parents": self.parents,
                      "schedules": self.schedules, "history": self.history.lists,
                      "status": self.history.status}, arrays)  # fmt: skip

    def restore(self, journal: state.Journal) -> None:
        meta, bucket = journal.saved_meta(), self.bucket
        self.t, self.hp, self.parents = meta["t"], meta["hp"], meta["parents"]
        self.schedules = meta["schedules"]
        self.history.lists, self.history.status = meta["history"], meta["status"]
        self.put_hp()
        host = journal.tree("bucket0", buckets.state_template(bucket, self.stopper))
        buckets.restore_bucket(bucket, host, self.mesh)
