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
the best epoch's parameters are still the ones kept. Initial states come from
:func:`~jaxdl.train.run_init_members` (the model's draws once per seed, the optimizer states in
one vmapped call; each member's bitwise that of ``fit``), stacked on the member axis.

:func:`successive_halving` trains all members for ``min_epochs``, keeps the best
``ceil(n / eta)``, trains those up to ``min_epochs * eta`` epochs in total, and so on up to
``max_epochs``; surviving members continue where they were, so their results equal a run of
their final length. :func:`run_sweep` is the single-rung case.

Modules: :mod:`jaxdl.sweep.options` (the options, checked once), :mod:`jaxdl.sweep.buckets`
(configs, their trainers, buckets and their device state), :mod:`jaxdl.sweep.loop` (the compiled
epochs of a bucket), :mod:`jaxdl.sweep.rungs` (rungs, pruning), this one (the drivers).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import MONITORS, append  # noqa: F401 - MONITORS: the default setup's names
from jaxdl.logs import Logger
from jaxdl.sweep import chunking, sharding, state
from jaxdl.sweep.buckets import (
    Bucket,
    check_sweep_data,
    collect_results,
    host_state,
    make_buckets,
    resolve_configs,
    restore_bucket,
    seeds_per_member,
    split_config,  # noqa: F401 - read as engine.split_config by earlier code
    state_template,
)
from jaxdl.sweep.loop import compiled_epochs
from jaxdl.sweep.options import NEVER, Prune, SweepOptions, sweep_options
from jaxdl.sweep.recording import History, log_results, sweep_results
from jaxdl.sweep.results import SweepResults, score
from jaxdl.sweep.rungs import halving_rungs, prune_members
from jaxdl.sweep.spaces import Space
from jaxdl.train import Trainer

__all__ = ["NEVER", "log_results", "run_rungs", "run_sweep", "successive_halving"]

def _train(
    bucket: Bucket,
    data: Any,
    until: int,
    stopper: EarlyStopping,
    epochs_per_call: int,
    mesh: Mesh,
    history: History,
    after_chunk: Any = None,
    max_members_per_call: int | None = None,
) -> None:
    """Train ``bucket`` up to epoch ``until`` (exclusive) or until every member is frozen;
    ``after_chunk(bucket, start, record)`` runs after each compiled chunk. A bucket too large
    for memory runs in slices of its member axis (:mod:`jaxdl.sweep.chunking`)."""
    epochs = chunking.chunked(compiled_epochs(mesh)[0], mesh, max_members_per_call)
    done = False
    while bucket.epoch < until and not done:
        if bucket.state is None:
            bucket.init(stopper, mesh)
        assert bucket.device_inputs is not None, "bucket.place(mesh) runs before training"
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
        if after_chunk is not None:
            after_chunk(bucket, start, record)  # may mark members done (a caller's pruning)
        done = bool(np.all(record["done"][-1]))


def successive_halving(
    space_or_configs: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    data: Any,
    *,
    trainer: Trainer,
    min_epochs: int,
    max_epochs: int,
    eta: int = 3,
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
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Logger | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    compact: bool = True,
    max_members_per_call: int | None = None,
    prune: Prune | None = None,
) -> SweepResults:
    """Rungs of ``min_epochs * eta**k`` total epochs (capped at ``max_epochs``); after each rung
    only the best ``ceil(live / eta)`` members by their best ``monitor`` value go on, the rest
    are marked ``pruned``. ``min_epochs`` (an int >= 1) is the first rung, ``max_epochs`` the
    last, ``eta`` (an int >= 2) the halving rate; ``hp``, ``seed``, ``seeds``, ``patience``,
    ``monitor``, ``mode``, ``min_delta``, ``n``, ``method``, ``mesh``, ``epochs_per_call``,
    ``model_fn``, ``logger``, ``checkpoint_dir``, ``resume``, ``compact``,
    ``max_members_per_call`` and ``prune`` as in :func:`run_sweep`.

    >>> import numpy as np
    >>> from jaxdl.sweep.engine import successive_halving
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> configs = [{"learning_rate": lr} for lr in (1.0, 0.1, 0.01, 0.001)]
    >>> results = successive_halving(configs, (x, y, x, y), trainer=Trainer(MLP((2, 1))),
    ...                              min_epochs=1, max_epochs=2, eta=2)
    >>> sorted(results.epochs), results.status.count("pruned")
    ([1, 1, 2, 2], 2)
    """
    rungs = halving_rungs(min_epochs, max_epochs, eta)
    options = sweep_options(
        trainer, epochs=max_epochs, hp=hp, seed=seed, seeds=seeds, patience=patience,
        monitor=monitor, mode=mode, min_delta=min_delta, n=n, method=method, mesh=mesh,
        epochs_per_call=epochs_per_call, model_fn=model_fn, logger=logger,
        checkpoint_dir=checkpoint_dir, resume=resume, compact=compact,
        max_members_per_call=max_members_per_call, prune=prune,
    )  # fmt: skip
    return run_rungs(space_or_configs, data, trainer, rungs, eta, options)


def run_sweep(
    space_or_configs: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    data: Any,
    *,
    trainer: Trainer,
    epochs: int = 10,
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
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Logger | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    compact: bool = True,
    max_members_per_call: int | None = None,
    prune: Prune | None = None,
) -> SweepResults:
    """Train every config for up to ``epochs`` epochs; see the module docstring. The options
    are checked once (:func:`~jaxdl.sweep.options.sweep_options`) before anything compiles.

    Args:
      space_or_configs: a :class:`Space` (sampled with ``sample(space, seed, n, method)``) or a
        list of configs.
      data: a :class:`~jaxdl.data.datasets.Dataset` or ``(x_train, y_train, x_val, y_val)``.
      trainer: the :class:`~jaxdl.train.Trainer` every config starts from.
      epochs: the most epochs a config trains.
      hp: values shared by every config (continuous hyperparameters only).
      seed: the shared keys (and the draws of a space).
      seeds: one seed per config instead (its own initialization, batches and masks).
      patience: epochs without improvement before a member stops (``None``: it never does).
      monitor: any history entry of the trainer: ``val_loss``, ``loss`` and each metric with
        its ``val_`` twin.
      mode: ``"min"``/``"max"`` (default: the metric's own).
      min_delta: the smallest change that counts as an improvement.
      n: the number of configs drawn from a space.
      method: ``"random"`` or ``"grid"`` (how a space is sampled).
      mesh: the device mesh of the config axis (default: every device).
      epochs_per_call: epochs per compiled call.
      model_fn: a function ``structural_config -> model`` for the structural names of your own
        model.
      logger: see :mod:`jaxdl.logs`: every live member's values after each epoch, then each
        member's hyperparameters and best-epoch metrics.
      checkpoint_dir: the whole sweep saved atomically after every chunk, with a
        ``metrics.jsonl`` log.
      resume: continue from ``checkpoint_dir``, bit for bit (see :mod:`jaxdl.sweep.state`).
      compact: stopped members leave the vmapped program (default true).
      max_members_per_call: members per compiled call (default: chosen from the compiled
        program's memory, see :mod:`jaxdl.sweep.chunking`).
      prune: a function called after each compiled chunk of a bucket with ``{config index:
        history so far}`` of its live members; the indices it returns are frozen and marked
        ``pruned``, with the epochs they ran as their budget: an external pruner such as
        Optuna's, see :mod:`jaxdl.sweep.optuna_search`.

    Returns:
      The :class:`~jaxdl.sweep.SweepResults`: each row what its own member reached.

    >>> import numpy as np
    >>> from jaxdl.sweep.engine import run_sweep
    >>> from jaxdl.train.trainer import Trainer
    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> results = run_sweep([{"learning_rate": 0.1}, {"learning_rate": 0.01}], (x, y, x, y),
    ...                     trainer=Trainer(MLP((2, 1))), epochs=2)
    >>> [len(h["epoch"]) for h in results.histories], results.status
    ([2, 2], ['ok', 'ok'])
    """
    options = sweep_options(
        trainer, epochs=epochs, hp=hp, seed=seed, seeds=seeds, patience=patience,
        monitor=monitor, mode=mode, min_delta=min_delta, n=n, method=method, mesh=mesh,
        epochs_per_call=epochs_per_call, model_fn=model_fn, logger=logger,
        checkpoint_dir=checkpoint_dir, resume=resume, compact=compact,
        max_members_per_call=max_members_per_call, prune=prune,
    )  # fmt: skip
    return run_rungs(space_or_configs, data, trainer, [epochs], 1, options)


def run_rungs(
    space_or_configs: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    data: Any,
    trainer: Trainer,
    rungs: list[int],
    eta: int,
    options: SweepOptions,
) -> SweepResults:
    """The driver of :func:`run_sweep` and :func:`successive_halving`: train the configs up to
    each of ``rungs``, keeping the best ``ceil(live / eta)`` after every rung but the last;
    ``options`` are trusted as checked, the configs and the data are checked here.

    Args:
      space_or_configs: a space (drawn with ``options.n`` and ``options.method``) or configs.
      data: a dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the trainer the options were checked against.
      rungs: increasing totals of epochs, the last one ``options.epochs``.
      eta: the halving rate (1 for a single rung).
      options: the checked :class:`~jaxdl.sweep.options.SweepOptions`.

    Returns:
      The :class:`~jaxdl.sweep.SweepResults`.

    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.sweep.engine import run_rungs
    >>> from jaxdl.sweep.options import sweep_options
    >>> from jaxdl.train import Trainer
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> trainer = Trainer(MLP((2, 1)))
    >>> results = run_rungs([{"learning_rate": 0.1}], (x, y, x, y), trainer, [2], 1,
    ...                     sweep_options(trainer, epochs=2))
    >>> results.epochs
    [2]
    """
    stopper, mode = options.stopper, options.mode
    seed, seeds, logger, prune = options.seed, options.seeds, options.logger, options.prune
    configs = resolve_configs(space_or_configs, options.n, seed, options.method)
    host_data = check_sweep_data(trainer, data)
    member_seeds = seeds_per_member(seed, seeds, len(configs))
    buckets, trainers, member_hp = make_buckets(trainer, configs, dict(options.hp), member_seeds,
                                                seeds is None, host_data, options.model_fn)
    members = [dataclasses.replace(t, mesh=None) for t in trainers]
    switches = [b.trainer.optimizer for b in buckets if b.trainer not in trainers]  # optim.switch
    journal = state.open_journal(
        options.checkpoint_dir,
        options.resume,
        {
            "trainer": state.digest((members, switches) if switches else members),
            "configs": state.digest((configs, member_hp, member_seeds)),
            "data": state.digest(host_data),
            "budget": state.digest((rungs, eta)),
            "early stopping": state.digest(stopper),
        },
    )
    mesh = sharding.config_mesh() if options.mesh is None else options.mesh
    device_data = sharding.put(host_data, sharding.replicated(mesh))
    for bucket in buckets:
        bucket.place(mesh)

    history = History(len(configs), trainer.history_keys, logger)
    outcome: dict[int, dict[str, Any]] = {}
    budget = [0] * len(configs)
    original, first, finished = list(buckets), 0, False
    if journal is not None and journal.meta is not None:
        finished = journal.meta["finished"]
        first, buckets = state.restore_sweep(
            journal, original=original, history=history, outcome=outcome, budget=budget,
            template=lambda b: state_template(b, stopper),
            place=lambda b, host: restore_bucket(b, host, mesh),
        )  # fmt: skip

    def results() -> SweepResults:
        return sweep_results(configs, history, outcome, trainers, member_hp, member_seeds, budget,
                        stopper)  # fmt: skip

    def save(rung: int, finished: bool = False) -> None:
        if journal is None:
            return
        state.save_sweep(
            journal, rung=rung, finished=finished, original=original, buckets=buckets,
            history=history, outcome=outcome, budget=budget, fetch=lambda b: host_state(b, mesh),
        )  # fmt: skip

    cut: set[int] = set()  # members stopped by prune: their budget is what they ran

    def after_chunk(bucket: Bucket, start: int, record: dict[str, np.ndarray]) -> None:
        if prune is not None:
            prune_members(bucket, record, prune, history, mesh, cut, budget)
        live = ~record["done"][-1][: len(bucket.ids)]
        if options.compact and live.any() and not live.all():
            collect_results(bucket, mesh, outcome)  # the results of the members about to leave
            stopped = bucket.ids[~live].tolist()
            if bucket.compact(live, mesh):
                for i in stopped:
                    if i not in cut:
                        budget[i] = rungs[rung]
        if journal is None:
            return
        journal.append(state.metric_lines(bucket.ids.tolist(), start, record, history.KEYS[1:]))
        save(rung)
        if journal.stop_requested:
            for b in buckets:
                if b.state is not None:
                    collect_results(b, mesh, outcome)
            partial = results()
            partial.to_csv(os.path.join(journal.directory, state.TABLE_FILE))
            message = f"sweep interrupted after epoch {bucket.epoch - 1}; " + journal.resume_hint()
            raise state.SweepInterrupted(message, partial, journal.directory)

    hook = after_chunk if journal is not None or options.compact or prune is not None else None
    with state.interrupts(journal):
        for rung in range(first, len(rungs)):
            until = rungs[rung]
            for bucket in buckets:
                if not finished:
                    _train(bucket, device_data, until, stopper, options.epochs_per_call, mesh,
                           history, hook, options.max_members_per_call)  # fmt: skip
                collect_results(bucket, mesh, outcome)
                for i in bucket.ids.tolist():
                    if i not in cut:
                        budget[i] = until
            if rung == len(rungs) - 1:
                break
            alive = [i for i in range(len(configs)) if history.status[i] == "ok"]
            alive.sort(key=lambda i: score(mode, outcome[i]["best"]))
            keep = set(alive[: math.ceil(len(alive) / eta)])
            for i in set(alive) - keep:
                history.status[i] = "pruned"
            buckets = [b for b in buckets if b.keep([i in keep for i in b.ids.tolist()], mesh)]
        if journal is not None:
            save(len(rungs) - 1, finished=True)
    final = results()
    log_results(logger, final)
    return final
