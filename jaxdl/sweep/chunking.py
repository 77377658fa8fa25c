"""Splitting a sweep bucket's member axis into chunks that run one after another.

A bucket trains all its members in one compiled call. When that call does not fit in device
memory, :func:`chunked` runs it in chunks of ``max_members_per_call`` members (a multiple of the
mesh's device count) through one compiled program: the last chunk is padded by repeating
members (dropped again afterwards), so every chunk has the same shape. Members never interact, so
each member's results are those of the single call.

``max_members_per_call=None`` (the default) chooses the chunk size from the memory the compiled
program reports (:func:`program_bytes`, from ``compiled.memory_analysis()``) against
:func:`memory_budget`: the free memory of the mesh's devices (``device.memory_stats()``) where
the backend reports it, else half of the host's available RAM shared by its devices (the CPU).
A bucket that fits runs as one call, with no extra compilation (the program compiled to measure
it is the one that runs). One that does not is first cut to ``budget / (bytes / members)``
members per call, then halved until the chunk program fits; the budget then leaves room for a
second copy of the bucket's state, which splitting it into chunks and joining them briefly
holds.

Chunks hold at least eight members per device (:data:`MIN_PER_DEVICE`; ``max_members_per_call``
is rounded up to it and down to a multiple of the device count). Members never interact, but
XLA compiles the batched program of each member count on its own, and for small member axes it
can choose other loops for a reduction or matmul (the same effect as the vmapped-vs-solo
difference of ``scripts/bench_sweep.py``). Chunked results equal one call bit for bit when both
programs do the same per-member arithmetic, which XLA:CPU did in these checks from 7 members per
call for the benchmark MLP 64-128-128-10 (32 configs in chunks of 8: identical; of 6: not) and
from 16 for a 2-8-2 batch-norm net; below that they agree to float32 rounding.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl.sweep import sharding

HOST_SHARE = 0.5  # of the host's available RAM a CPU sweep may plan to use
DEVICE_SHARE = 0.9  # of a device's free memory (room for the allocator's fragmentation)
MIN_PER_DEVICE = 8  # smaller chunks cost efficiency and are compiled differently (see above)


def check_max_members(value: Any) -> None:
    """``None`` or a positive int; else ``ValueError``/``TypeError`` naming the argument.

    >>> from jaxdl.sweep.chunking import check_max_members
    >>> check_max_members(0)
    Traceback (most recent call last):
    ...
    ValueError: max_members_per_call must be a positive int or None (choose from memory), got 0
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"max_members_per_call must be a positive int or None (choose from memory), "
            f"got {value!r}"
        )
    if value < 1:
        raise ValueError(
            f"max_members_per_call must be a positive int or None (choose from memory), "
            f"got {value!r}"
        )


def program_bytes(compiled: Any) -> int | None:
    """Bytes one call of ``compiled`` adds on a device beyond its (already resident) arguments:
    ``output + temp + generated code - aliased`` (donated arguments reused for outputs), from
    ``compiled.memory_analysis()``; ``None`` when the backend does not report it.

    >>> from jaxdl.sweep.chunking import program_bytes
    >>> import jax, jax.numpy as jnp
    >>> program_bytes(jax.jit(lambda x: x @ x).lower(jnp.ones((8, 8))).compile()) >= 256
    True
    """
    stats = _stats(compiled)
    if stats is None:
        return None
    return int(
        stats.output_size_in_bytes
        + stats.temp_size_in_bytes
        + stats.generated_code_size_in_bytes
        - stats.alias_size_in_bytes
    )


def _stats(compiled: Any) -> Any:
    try:
        return compiled.memory_analysis()
    except (NotImplementedError, RuntimeError, AttributeError):
        return None


class Plan(NamedTuple):
    """How a bucket of ``members`` (padded) members runs: ``members_per_call`` per compiled call;
    measured when chosen from memory (else ``None``): the full program's ``program_bytes``, its
    ``peak_bytes`` (arguments included) and the ``budget`` it was held against.

    >>> from jaxdl.sweep.chunking import Plan
    >>> Plan(members=40, members_per_call=16)
    Plan(members=40, members_per_call=16, program_bytes=None, peak_bytes=None, budget=None)
    """

    members: int
    members_per_call: int
    program_bytes: int | None = None
    peak_bytes: int | None = None
    budget: int | None = None


def _host_available() -> int:
    """The host's available RAM in bytes (``MemAvailable``, else free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 2**30  # 1 GiB: nothing known, plan small


def memory_budget(mesh: Mesh) -> int:
    """Bytes one call may add on each device of ``mesh`` (the smallest over this process's
    devices): ``DEVICE_SHARE * (bytes_limit - bytes_in_use)`` from ``device.memory_stats()``,
    or, where the backend does not report it, ``HOST_SHARE`` of the host's available RAM split
    over the process's devices.

    >>> from jaxdl.sweep.chunking import memory_budget
    >>> from jaxdl.sweep.sharding import config_mesh
    >>> memory_budget(config_mesh()) > 0
    True
    """
    local = [d for d in mesh.devices.flat if d.process_index == jax.process_index()]
    free = []
    for device in local:
        try:
            stats = device.memory_stats()
        except (NotImplementedError, RuntimeError):
            stats = None
        if stats and "bytes_limit" in stats:
            free.append(DEVICE_SHARE * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    if free and len(free) == len(local):
        return max(int(min(free)), 1)
    return max(int(HOST_SHARE * _host_available() / max(len(local), 1)), 1)


def _abstract(tree: Any, count: int, mesh: Mesh) -> Any:
    """Shape-only copy of a member-axis tree with ``count`` members, sharded over ``mesh``."""
    members = sharding.members(mesh)
    return jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((count, *a.shape[1:]), a.dtype, sharding=members), tree
    )


def _round(count: int, mesh: Mesh) -> int:
    """``count`` rounded down to a multiple of the device count, at least :data:`MIN_PER_DEVICE`
    per device."""
    return max(MIN_PER_DEVICE * mesh.size, count // mesh.size * mesh.size)


def _plan(
    epochs: Any, static: tuple, state: Any, hp: Any, keys: Any, shared: bool, rest: tuple,
    mesh: Mesh, max_members: int | None,
) -> Plan:  # fmt: skip
    """The :class:`Plan` of a bucket whose (padded) state has ``total`` members:
    ``max_members`` rounded (see :func:`_round`; capped at ``total``), or chosen from memory
    (see the module docstring). ``epochs`` is the jitted step, ``static`` its static arguments
    and ``rest`` its arguments after the keys."""
    total = jax.tree.leaves(state)[0].shape[0]
    if max_members is not None:
        return Plan(total, min(total, _round(max_members, mesh)))
    budget = memory_budget(mesh)

    def compiled(count: int) -> Any:
        args: tuple[Any, ...] = (_abstract(state, count, mesh), _abstract(hp, count, mesh))
        args += (keys if shared else _abstract(keys, count, mesh),)
        return epochs.lower(*static, *args, *rest).compile()

    def need(count: int) -> int:
        return program_bytes(compiled(count)) or 0

    program = compiled(total)
    full, stats = program_bytes(program), _stats(program)
    peak = None if full is None else full + int(stats.argument_size_in_bytes)
    if full is None or full <= budget:
        return Plan(total, total, full, peak, budget)
    # splitting the state into chunks and joining it again briefly holds a second copy
    copy = sum(leaf.nbytes for leaf in jax.tree.leaves(state)) // mesh.size
    budget = max(budget - copy, 1)
    count = min(total, _round(int(budget / (full / total)), mesh))
    smallest = _round(1, mesh)
    while count > smallest and need(count) > budget:
        count = _round(count // 2, mesh)
    if count == smallest and need(count) > budget:
        warnings.warn(
            f"{MIN_PER_DEVICE} sweep members per device need {need(count)} bytes per call but "
            f"about {budget} are free; running {count} members per call anyway",
            stacklevel=3,
        )
    return Plan(total, count, full, peak, budget)


_PLANS: dict[tuple, Plan] = {}  # by program and shapes (planned once)


def last_plan() -> Plan | None:
    """The plan of the bucket shape planned most recently (``None`` before any sweep).

    >>> from jaxdl.sweep.chunking import last_plan, Plan
    >>> isinstance(last_plan(), Plan | None)
    True
    """
    return next(reversed(_PLANS.values()), None)


@functools.cache
def _split(mesh: Mesh) -> Callable:
    """``(tree, index (chunks, size)) -> tuple of trees``, each ``tree[index[i]]`` on ``mesh``."""

    def split(tree, index):
        return tuple(jax.tree.map(lambda a, row=row: a[row], tree) for row in index)

    return jax.jit(split, out_shardings=sharding.members(mesh))


@functools.cache
def _join(mesh: Mesh, total: int) -> Callable:
    """Chunk trees concatenated on the member axis, the first ``total`` members kept."""

    def join(parts):
        return jax.tree.map(lambda *a: jnp.concatenate(a)[:total], *parts)

    return jax.jit(join, out_shardings=sharding.members(mesh))


def _free(tree: Any) -> None:
    """Delete the device buffers of ``tree`` now (it is replaced, as a donated state is)."""
    for leaf in jax.tree.leaves(tree):
        leaf.delete()


def chunked(epochs: Any, mesh: Mesh, max_members: int | None) -> Callable:
    """``epochs`` (the sweep's jitted step ``(trainer, stopper, shared, length, state, hp, keys,
    data, start, end) -> (state, record)``) run in chunks of the member axis: same arguments,
    same results (state on ``mesh``, each record leaf ``(length, members)`` on the host).

    >>> from jaxdl.sweep.chunking import chunked, last_plan
    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from jaxdl.sweep.sharding import config_mesh, members, put
    >>> mesh = config_mesh(jax.devices()[:1])
    >>> def step(trainer, stopper, shared, length, state, hp, keys, data, start, end):
    ...     return state * hp, {"loss": jnp.tile(state * hp, (length, 1))}
    >>> run = chunked(jax.jit(step, static_argnums=(0, 1, 2, 3)), mesh, max_members=8)
    >>> state, hp = (put(a, members(mesh)) for a in (np.arange(20.0), np.full(20, 2.0)))
    >>> new, record = run(None, None, True, 1, state, hp, None, None, 0, 1)
    >>> float(new.sum()), record["loss"].shape, last_plan().members_per_call
    (380.0, (1, 20), 8)
    """
    check_max_members(max_members)

    def call(trainer, stopper, shared, length, state, hp, keys, data, start, end):
        static, rest = (trainer, stopper, shared, length), (data, start, end)
        total = jax.tree.leaves(state)[0].shape[0]
        shapes = tuple((a.shape, a.dtype) for a in jax.tree.leaves((state, data)))
        plan_key = (epochs, mesh, max_members, *static, shapes)
        if plan_key not in _PLANS:
            _PLANS[plan_key] = _plan(
                epochs, static, state, hp, keys, shared, rest, mesh, max_members
            )
        size = _PLANS[plan_key].members_per_call
        if size >= total:
            return epochs(*static, state, hp, keys, *rest)
        count = math.ceil(total / size)
        index = sharding.put(np.arange(count * size).reshape(count, size) % total,
                             sharding.replicated(mesh))
        states = _split(mesh)(state, index)
        _free(state)
        hps = _split(mesh)(hp, index)
        key_parts = [keys] * count if shared else _split(mesh)(keys, index)
        outs, records = [], []
        for part, part_hp, part_keys in zip(states, hps, key_parts):
            out, record = epochs(*static, part, part_hp, part_keys, *rest)
            outs.append(out)
            records.append(jax.tree.map(np.asarray, record))
        record = jax.tree.map(lambda *a: np.concatenate(a, axis=1)[:, :total], *records)
        joined = _join(mesh, total)(tuple(outs))
        _free(outs)
        return joined, record

    return call
