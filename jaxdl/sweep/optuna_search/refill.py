"""Continuous batching of Optuna trials (``optimize(..., refill=True)``): each structure's
vmapped program keeps ``batch`` slots busy. When a trial ends (pruned, early-stopped, diverged or
out of epochs) it is told at once and its slot takes the next trial the study asks for: fresh
initial parameters and optimizer state at that slot while the other slots go on, in the same
compiled program (its member count never changes).

Every slot counts its own epochs (the compiled loop takes one start epoch per member), so a
trial's reports, its early stopping, its budget and its logged learning rate are those of its
own epochs 0, 1, ...; its initial parameters are the seed's, as in a solo run, and its optimizer
counts its own steps (a schedule decays as in a solo run). The data order and dropout masks are
the group's: a trial that starts when its group has run ``d`` epochs trains its epoch ``k`` on
the mini-batches of epoch ``d + k`` of ``seed`` (its trial's user attribute ``data_epoch`` is
``d``), so the slots share one gather and first-layer matmul per step (an order per slot costs
1.6-1.9x per epoch on a CPU). A trial with ``d = 0`` equals a solo run of its config
(``fit(..., seed=seed)``) up to the float32 rounding of a wider vmap. A trial the sampler puts
in another structure waits for that structure's group (created on first sight, ``batch`` slots
too; its program compiles on a thread of its own, one structure at a time, while the groups
already compiled train, and from the shapes of its state, while its first members' initial
states are made); no slot waits for a whole batch.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.history import append
from jaxdl.hyperparams import check_for
from jaxdl.optim.one_of import INDEX as OPTIMIZER_INDEX
from jaxdl.sweep import sharding
from jaxdl.sweep.buckets import (
    Bucket,
    check_sweep_data,
    continuous_names,
    make_buckets,
    results_hp,
    split_config,
)
from jaxdl.sweep.loop import SweepState, compiled_epochs, state_shapes
from jaxdl.sweep.options import SweepOptions
from jaxdl.sweep.optuna_search.heartbeat import Heartbeat, fail_stale_trials
from jaxdl.sweep.optuna_search.space import require_optuna
from jaxdl.sweep.optuna_search.trials import ask_trials, describe_trial, objective_values
from jaxdl.sweep.results import SweepResults
from jaxdl.train import Trainer, run_init_members, trainer_hyperparams

__all__ = ["Member", "run_refill"]


@dataclasses.dataclass
class Member:
    """One trial on its way: its config, trainer, traced hyperparameters and history."""

    trial: Any
    config: dict[str, Any]
    trainer: Trainer
    hp: dict[str, float]  # the traced values (the bucket's names)
    given: dict[str, float]  # the values set (SweepResults.hp)
    key: tuple[Any, ...]  # (its program's trainer, traced names): its group
    history: dict[str, list] = dataclasses.field(default_factory=dict)
    status: str = "ok"
    reported: int = 0
    data_epoch: int = 0  # its epoch k trains on the data order of the group's epoch this + k
    result: dict[str, Any] | None = None  # best params, model state, best epoch


class _Group:
    """The ``slots`` of one structure: a bucket whose members are slots, each holding a
    :class:`Member` or nothing (frozen), with its own next epoch."""

    def __init__(self, first: Member, slots: int, seed: int, options: SweepOptions,
                 mesh: Any) -> None:  # fmt: skip
        hp = {k: np.full(slots, v, np.float32) for k, v in first.hp.items()}
        program = first.key[0]  # the member's trainer, or its optimizer switch's
        self.bucket = Bucket(program, np.arange(slots), hp, [seed] * slots, True)
        self.bucket.place(mesh)  # its initial states: at the first start (its program may compile
        # meanwhile, from their shapes)
        self.members: list[Member | None] = [None] * slots
        self.epoch = np.full(slots, options.epochs, np.int32)  # frozen slots: past the end
        self.done = np.ones(slots, bool)
        self.mesh, self.options = mesh, options
        self.trained: list[Member] = []  # every member it ran, in order
        self.host: SweepState | None = None  # the state on the host between finish and start
        self.clock = 0  # the data epoch of the next chunk (shared by the slots)
        self.compiling: threading.Thread | None = None
        self._compile_started = False

    def free(self) -> list[int]:
        return [j for j, m in enumerate(self.members) if m is None]

    def live(self) -> bool:
        return any(m is not None for m in self.members)

    def absorb(self, record: dict[str, np.ndarray], first: np.ndarray,
               names: Sequence[str]) -> list[int]:  # fmt: skip
        """Each member's live epochs of a chunk's ``record`` (from its epoch ``first[j]``) into
        its history, its status diverged / early-stopped as the record says, and its next
        epoch; the slots whose member ended (done, or out of epochs)."""
        ended = []
        for j, member in enumerate(self.members):
            if member is None:
                continue
            for step in np.flatnonzero(record["live"][:, j]):
                append(member.history, int(first[j]) + int(step),
                       {k: record[k][step, j] for k in names})  # fmt: skip
                if record["diverged"][step, j]:
                    member.status = "diverged"
                elif record["stopped"][step, j]:
                    member.status = "early-stopped"
            self.epoch[j] = min(first[j] + self.options.epochs_per_call, self.options.epochs)
            if record["done"][-1, j] or self.epoch[j] >= self.options.epochs:
                ended.append(j)
        return ended

    def finish(self, finished: list[int]) -> None:
        """Collect the best parameters of the members in the ``finished`` slots (from the host
        copy of the state, kept for :meth:`start`) and free their slots (frozen)."""
        if not finished:
            return
        self.host = jax.device_get(sharding.fetch(self.bucket.state, self.mesh))
        for j in finished:
            member = self.members[j]
            assert member is not None
            member.result = {
                "params": jax.tree.map(lambda a, j=j: np.asarray(a[j]), self.host.best[0]),
                "model_state": jax.tree.map(lambda a, j=j: np.asarray(a[j]), self.host.best[1]),
                "best_epoch": int(self.host.es.best_epoch[j]),
            }
            self.members[j] = None
            self.done[j], self.epoch[j] = True, self.options.epochs

    def start(self, fresh: dict[int, Member]) -> None:
        """Start each member of ``fresh`` (slot -> member) from its initial state, the other
        slots as they are; the state goes back to the devices (after :meth:`finish` too)."""
        bucket, mesh = self.bucket, self.mesh
        if bucket.state is None:
            bucket.init(self.options.stopper, mesh)
        host, self.host = self.host, None
        if not fresh and host is None:
            return
        if host is None:
            host = jax.device_get(sharding.fetch(bucket.state, mesh))
        if fresh:
            for j, member in fresh.items():
                for name, value in member.hp.items():
                    bucket.hp[name][j] = value
                self.members[j] = member
                self.trained.append(member)
                member.data_epoch = self.clock
                self.done[j], self.epoch[j] = False, 0
            bucket.place(mesh)
            ts = jax.device_get(run_init_members(bucket.trainer, bucket.seeds, bucket.hp))
            es = jax.tree.map(lambda a: np.broadcast_to(np.asarray(a), (len(self.done),
                                                                         *np.shape(a))),
                              self.options.stopper.init())  # fmt: skip
            new = SweepState(ts, (ts.params, ts.model_state), es, self.done)
            mask = np.zeros(len(self.done), bool)
            mask[list(fresh)] = True
            host = jax.tree.map(lambda a, b: np.where(
                mask.reshape(mask.shape + (1,) * (np.ndim(a) - 1)), a, b), new, host)
        host = host._replace(done=self.done.copy())
        bucket.state = sharding.put(host, sharding.members(mesh))

    def _inputs(self, data: Any) -> tuple[Any, ...]:
        """The program's arguments; before the first start, the state's shapes (``state_shapes``)
        stand for the state, enough to compile it."""
        bucket, mesh, options = self.bucket, self.mesh, self.options
        hp, keys = bucket.device_inputs  # type: ignore[misc]
        start = (sharding.put(np.int32(self.clock), sharding.replicated(mesh)),
                 sharding.put(self.epoch.copy(), sharding.members(mesh)))  # fmt: skip
        state = bucket.state if bucket.state is not None else state_shapes(
            bucket.trainer, bucket.hp, options.stopper, len(bucket.padding(mesh)),
            sharding.members(mesh))  # fmt: skip
        return (bucket.trainer, options.stopper, True, options.epochs_per_call, state, hp,
                keys, data, start, np.int32(options.epochs))  # fmt: skip

    def compile_ahead(self, data: Any) -> None:
        """Compile the group's program on a thread of its own (XLA compiles without Python's
        lock), so the other groups train meanwhile; :meth:`ready` says when it is done."""
        inputs = self._inputs(data)
        program = compiled_epochs(self.mesh)[0]

        def compile_it() -> None:
            try:
                program.lower(*inputs).compile()  # fills the jit's cache for the real calls
            except Exception:  # noqa: BLE001 - the first real call compiles and reports it
                pass

        self.compiling = threading.Thread(target=compile_it, name="jaxdl-refill-compile",
                                          daemon=True)  # fmt: skip
        self._compile_started = True
        self.compiling.start()

    def ready(self, wait: bool = False) -> bool:
        """Whether the program is compiled (``wait``: after waiting for it; one whose compile
        has not started is not ready)."""
        if self.compiling is not None and (wait or not self.compiling.is_alive()):
            self.compiling.join()
            self.compiling = None
        return self.compiling is None and self.compiled

    @property
    def compiled(self) -> bool:
        return self._compile_started and self.compiling is None

    def chunk(self, data: Any) -> dict[str, np.ndarray]:
        """One compiled call of ``epochs_per_call`` epochs of every slot (each from its own
        epoch); the per-epoch record on the host."""
        if not self._compile_started:
            self.compile_ahead(data)
        self.ready(wait=True)
        bucket = self.bucket
        bucket.state, record = compiled_epochs(self.mesh)[0](*self._inputs(data))
        self.clock += self.options.epochs_per_call
        return jax.tree.map(np.asarray, record)


def _result(member: Member, options: SweepOptions, budget: int) -> SweepResults:
    """A one-member :class:`SweepResults` (its row, its objectives)."""
    result = member.result or {"params": None, "model_state": None, "best_epoch": -1}
    return SweepResults(
        configs=[member.config], histories=[member.history], status=[member.status],
        best_epoch=[result["best_epoch"]], params=[result["params"]],
        model_state=[result["model_state"]], trainers=[member.trainer], hp=[member.given],
        seeds=[options.seed], epochs=[budget], stopper=options.stopper,
    )  # fmt: skip


def run_refill(
    study: Any,
    space_fn: Callable[[Any], Mapping[str, Any]],
    data: Any,
    trainer: Trainer,
    n_trials: int,
    batch: int,
    options: SweepOptions,
    objectives: list[Any],
) -> tuple[list[SweepResults], list[list[int]]]:
    """The driver of ``optimize(refill=True)`` (see the module docstring): each group's
    results (its members in the order they started) and their trial numbers.

    Args:
      study: the checked ``optuna.Study``.
      space_fn: ``trial -> config``.
      data: a dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the base trainer.
      n_trials: trials to ask in all.
      batch: slots per structure.
      options: the checked sweep options (``epochs``, ``stopper``, ``seed``, ``hp``, ...).
      objectives: the checked objectives (one per direction).

    Returns:
      ``(results, trials)``: one :class:`SweepResults` per structure and the trial numbers of
      its rows.
    """
    optuna = require_optuna()
    State, Finished = optuna.trial.TrialState, optuna.exceptions.UpdateFinishedTrialError
    single = len(study.directions) == 1
    monitor, epochs = options.monitor, options.epochs
    host_data = check_sweep_data(trainer, data)
    mesh = sharding.config_mesh() if options.mesh is None else options.mesh
    device_data = sharding.put(host_data, sharding.replicated(mesh))
    slots = sharding.padded_count(batch, mesh)
    keys = ("epoch", *(k for k in trainer.history_keys if k != "epoch"))
    groups: dict[Any, _Group] = {}
    waiting: dict[Any, collections.deque[Member]] = collections.defaultdict(collections.deque)
    running: dict[int, tuple[Any, Heartbeat]] = {}  # trial number -> (trial, heartbeat)
    asked = 0

    def ask(count: int) -> None:
        nonlocal asked
        if asked % batch == 0 or count > 1:  # a dead worker's trials: failed, queued again once
            fail_stale_trials(study)
        trials, configs = ask_trials(study, space_fn, count)
        asked += count
        for trial in trials:
            running[trial.number] = (trial, Heartbeat(study, [trial]))
        for trial, config in zip(trials, configs):
            try:
                member = checked(trial, config)
            except (TypeError, ValueError) as err:
                raise type(err)(f"trial {trial.number}: {err}") from err
            waiting[member.key].append(member)

    structures: dict[str, tuple[Trainer, Trainer, dict[str, float]]] = {}  # checked once each

    def checked(trial: Any, config: dict[str, Any]) -> Member:
        """The trial's member: its config checked as a sweep checks it (the data and the
        optimizer once per structure, the values every time); with an optimizer switch, every
        optimizer kind's trials share the switch's program (one group)."""
        names = continuous_names(trainer)
        structural, continuous = split_config(config, model_fn=options.model_fn,
                                              continuous=names)  # fmt: skip
        seen = repr(sorted(structural.items()))
        if seen not in structures:
            buckets, trainers, _ = make_buckets(trainer, [config], dict(options.hp),
                                                [options.seed], True, host_data,
                                                options.model_fn)  # fmt: skip
            index = {k: float(v[0]) for k, v in buckets[0].hp.items() if k == OPTIMIZER_INDEX}
            structures[seen] = (trainers[0], buckets[0].trainer, index)
        member_trainer, program, index = structures[seen]
        given = check_for(program, {**options.hp, **continuous})
        traced = {k: float(np.float32(v))
                  for k, v in trainer_hyperparams(program, given).items()}  # fmt: skip
        traced.update(index)
        key = (program, tuple(sorted(traced)))
        values = results_hp(program, member_trainer,
                            {k: traced[k] for k in {**options.hp, **continuous}})  # sweep's hp
        return Member(trial, config, member_trainer, traced, values, key, {k: [] for k in keys})

    def tell(member: Member) -> None:
        trial, beat = running.pop(member.trial.number)
        beat.stop()
        budget = len(member.history["epoch"]) if member.status == "pruned" else epochs
        results = _result(member, options, budget)
        try:
            if single:
                report(member)
            describe_trial(trial, results, 0)
            trial.set_user_attr("data_epoch", member.data_epoch)
        except Finished:  # taken for dead by another worker: retried there
            return
        values = objective_values(results, 0, objectives)
        if member.status == "pruned":
            study.tell(trial, state=State.PRUNED, skip_if_finished=True)
        elif member.status == "diverged" or values is None:
            study.tell(trial, state=State.FAIL, skip_if_finished=True)
        else:
            study.tell(trial, values if not single else values[0], skip_if_finished=True)

    def report(member: Member) -> None:
        values, seen = member.history[monitor], member.history["epoch"]
        for k in range(member.reported, len(values)):
            if math.isfinite(values[k]):
                member.trial.report(values[k], seen[k])
        member.reported = len(values)

    def fill(group: _Group, key: Any) -> dict[int, Member]:
        """Slot -> member for the free slots: waiting members of this structure first, then
        new trials (one of another structure waits for its own group)."""
        fresh: dict[int, Member] = {}
        for j in group.free():
            while not waiting[key] and asked < n_trials and sum(map(len, waiting.values())) < batch:
                ask(1)
            if not waiting[key]:
                break
            fresh[j] = waiting[key].popleft()
        return fresh

    try:
        ask(min(batch, n_trials))
        while True:
            keys_now = [k for k in groups if groups[k].live() or waiting[k]]
            keys_now += [k for k in waiting if waiting[k] and k not in groups]
            if not keys_now:
                if asked >= n_trials:
                    break
                ask(min(batch, n_trials - asked))
                continue
            for key in keys_now:
                if key not in groups:
                    groups[key] = _Group(waiting[key][0], slots, options.seed, options, mesh)
            # one structure compiles at a time, on its own thread, while the compiled ones train
            if all(groups[k].compiling is None for k in keys_now):
                new = [k for k in keys_now if not groups[k].compiled]
                if new:
                    groups[new[0]].compile_ahead(device_data)
            ready = [k for k in keys_now if groups[k].ready()]
            for key in ready or [k for k in keys_now if groups[k].compiling is not None][:1]:
                group = groups[key]
                group.start(fill(group, key))
                if not group.live():
                    continue
                first = group.epoch.copy()
                record = group.chunk(device_data)
                finished = group.absorb(record, first, keys[1:])
                for j, member in enumerate(group.members):
                    if member is None or j in finished or not single:
                        continue
                    try:
                        report(member)
                        pruned = member.trial.should_prune()
                    except Finished:  # taken for dead by another worker: retried there
                        pruned = True
                    if pruned:
                        member.status = "pruned"
                        finished.append(j)
                finished.sort()
                done = [group.members[j] for j in finished]
                group.finish(finished)
                for member in done:
                    assert member is not None
                    tell(member)
                group.start(fill(group, key))
    except BaseException:
        for trial, beat in list(running.values()):
            beat.stop()
            study.tell(trial, state=State.FAIL, skip_if_finished=True)
        raise
    out, numbers = [], []
    for group in groups.values():
        members = group.trained
        if not members:
            continue
        budgets = [len(m.history["epoch"]) if m.status == "pruned" else epochs for m in members]
        rows = [_result(m, options, b) for m, b in zip(members, budgets)]
        out.append(SweepResults(**{f.name: [x for r in rows for x in getattr(r, f.name)]
                                   for f in dataclasses.fields(SweepResults)
                                   if f.name != "stopper"}, stopper=options.stopper))
        numbers.append([m.trial.number for m in members])
    return out, numbers
