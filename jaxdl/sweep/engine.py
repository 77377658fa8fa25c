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

Modules: :mod:`jaxdl.sweep.buckets` (configs, their trainers, buckets and their device state),
:mod:`jaxdl.sweep.loop` (the compiled epochs of a bucket), this one (the drivers).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jaxdl import logs
from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import EarlyStopping
from jaxdl.history import MONITORS, append  # noqa: F401 - MONITORS: the default setup's names
from jaxdl.sweep import chunking, sharding, state
from jaxdl.sweep.buckets import (
    Bucket,
    check_sweep_data,
    collect_results,
    continuous_names,
    host_state,
    make_buckets,
    resolve_configs,
    restore_bucket,
    seeds_per_member,
    split_config,
    state_template,
)
from jaxdl.sweep.loop import compiled_epochs
from jaxdl.sweep.recording import History, log_results, sweep_results
from jaxdl.sweep.results import SweepResults, score
from jaxdl.sweep.spaces import Space
from jaxdl.train import Trainer

__all__ = ["NEVER", "log_results", "run_sweep", "successive_halving"]

NEVER = 2**30  # patience of a sweep without early stopping


def _check_settings(epochs: Any, patience: Any, epochs_per_call: Any) -> None:
    check_positive_int("epochs", epochs)
    check_positive_int("epochs_per_call", epochs_per_call)
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int)):
        raise TypeError(f"patience must be an int or None, got {patience!r}")


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
    **options: Any,
) -> SweepResults:
    """Rungs of ``min_epochs * eta**k`` total epochs (capped at ``max_epochs``); after each rung
    only the best ``ceil(live / eta)`` members by their best ``monitor`` value go on, the rest
    are marked ``pruned``. Other options as in :func:`run_sweep`.

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
    compiled program's memory, see :mod:`jaxdl.sweep.chunking`), ``prune`` (a function called
    after each compiled chunk of a bucket with ``{config index: history so far}`` of its live
    members; the indices it returns are frozen and marked ``pruned``, with the epochs they ran
    as their budget: an external pruner such as Optuna's, see :mod:`jaxdl.sweep.optuna_search`).

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
    prune: Any = None,
) -> SweepResults:
    logs.check_logger(logger)
    if prune is not None and not callable(prune):
        raise TypeError(f"prune must be a function histories -> member ids to stop, got {prune!r}")
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
    configs = resolve_configs(space_or_configs, n, seed, method)
    hp = dict(hp or {})
    fixed_structural = split_config(hp, model_fn=model_fn, continuous=continuous_names(trainer))[0]
    if fixed_structural:
        raise ValueError(
            f"hp takes continuous hyperparameters only, got {sorted(fixed_structural)}; "
            "set structural ones on the trainer"
        )
    host_data = check_sweep_data(trainer, data)
    member_seeds = seeds_per_member(seed, seeds, len(configs))
    buckets, trainers, member_hp = make_buckets(
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
            _prune(bucket, record, prune, history, mesh, cut, budget)
        live = ~record["done"][-1][: len(bucket.ids)]
        if compact and live.any() and not live.all():
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

    hook = after_chunk if journal is not None or compact or prune is not None else None
    with state.interrupts(journal):
        for rung in range(first, len(rungs)):
            until = rungs[rung]
            for bucket in buckets:
                if not finished:
                    _train(bucket, device_data, until, stopper, epochs_per_call, mesh, history,
                           hook, max_members_per_call)  # fmt: skip
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


def _prune(
    bucket: Bucket,
    record: dict[str, np.ndarray],
    prune: Any,
    history: History,
    mesh: Mesh,
    cut: set[int],
    budget: list[int],
) -> None:
    """Ask ``prune`` about the bucket's live members after a chunk (their histories so far, by
    config index) and freeze those it names: ``done`` set on the devices and in ``record``,
    status ``pruned``, budget the epochs they ran."""
    rows = bucket.ids[bucket.padding(mesh)]  # the config index of each device row
    done = record["done"][-1].tolist()
    live = {i: history.lists[i] for i, d in zip(rows.tolist(), done) if not d}
    if not live:
        return
    stop = {int(i) for i in prune(live)}
    if not stop <= set(live):
        raise ValueError(f"prune named members {sorted(stop - set(live))} that are not live")
    if not stop:
        return
    mask = np.isin(rows, sorted(stop))
    assert bucket.state is not None, "a bucket is pruned after a chunk of training"
    flags = np.asarray(sharding.fetch(bucket.state.done, mesh)) | mask
    bucket.state = bucket.state._replace(done=sharding.put(flags, sharding.members(mesh)))
    record["done"] = record["done"].copy()  # the caller's view: compaction, end of training
    record["done"][-1] |= mask
    for i in stop:
        history.status[i] = "pruned"
        cut.add(i)
        budget[i] = bucket.epoch
