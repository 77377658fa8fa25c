"""Placing a sweep's config axis on a device mesh.

Every array of a sweep that has one entry per member (parameters, optimizer and early-stopping
state, hyperparameters, per-member keys) carries the leading config axis, sharded over the 1-D
mesh axis ``"configs"``; the data and shared keys are replicated. The compiled epochs run under
``shard_map`` (:mod:`jaxdl.sweep.loop`), so each device trains its own slice of the members with
no communication (only the small per-epoch metrics are gathered). The member count is padded to
a multiple of the device count by repeating members; the padding is dropped from the results.

Several processes or hosts: call ``jax.distributed.initialize(coordinator_address,
num_processes, process_id)`` in every process before anything else touches JAX, then run the same
sweep in each. The default mesh, :func:`config_mesh`, spans ``jax.devices()``, i.e. the devices of
all processes; each process holds the members on its own devices, and the results are gathered so
every process receives the full table (write files from ``jax.process_index() == 0`` only). On
CPU the processes talk through gloo collectives (``jax_cpu_collectives_implementation``, the
default of recent jaxlib).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "configs"


def config_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis ``"configs"`` over ``devices`` (default: every device of every
    process).

    Args:
      devices: the devices to spread the members over (default: ``jax.devices()``).

    Returns:
      A :class:`jax.sharding.Mesh` with the one axis ``"configs"``.

    Raises:
      ValueError: for an empty ``devices``.

    >>> import jax
    >>> from jaxdl.sweep.sharding import config_mesh
    >>> mesh = config_mesh()
    >>> mesh.axis_names, mesh.size == jax.device_count()
    (('configs',), True)
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices is empty; pass at least one jax.Device")
    return Mesh(np.asarray(devices), (AXIS,))


def padded_count(n: int, mesh: Mesh) -> int:
    """``n`` rounded up to a multiple of the mesh's device count.

    Args:
      n: the number of members.
      mesh: the sweep's mesh.

    Returns:
      ``ceil(n / devices) * devices``.

    >>> import jax
    >>> from jaxdl.sweep.sharding import padded_count, config_mesh
    >>> padded_count(5, config_mesh(jax.devices()[:1]))  # one device: no padding
    5
    >>> mesh = config_mesh()
    >>> padded_count(5, mesh) % mesh.size, padded_count(5, mesh) - 5 < mesh.size
    (0, True)
    """
    return math.ceil(n / mesh.size) * mesh.size


def pad_index(n: int, mesh: Mesh) -> np.ndarray:
    """Member positions ``0..n-1`` followed by repeats (``i mod n``) up to :func:`padded_count`.

    Args:
      n: the number of members.
      mesh: the sweep's mesh.

    Returns:
      ``arange(padded_count(n, mesh)) % n``: the member each padded slot holds.

    >>> import jax
    >>> import numpy as np
    >>> from jaxdl.sweep.sharding import pad_index, config_mesh, padded_count
    >>> pad_index(3, config_mesh(jax.devices()[:1])).tolist()
    [0, 1, 2]
    >>> mesh = config_mesh()
    >>> bool((pad_index(3, mesh) == np.arange(padded_count(3, mesh)) % 3).all())
    True
    """
    return np.arange(padded_count(n, mesh)) % n


def members(mesh: Mesh) -> NamedSharding:
    """Leading (config) axis split over the mesh, the rest whole.

    Args:
      mesh: the sweep's mesh.

    Returns:
      The sharding of per-member arrays: ``NamedSharding(mesh, P("configs"))``.

    >>> from jaxdl.sweep.sharding import P, members, config_mesh
    >>> members(config_mesh()).spec == P("configs")
    True
    """
    return NamedSharding(mesh, P(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device.

    Args:
      mesh: the sweep's mesh.

    Returns:
      The sharding of shared arrays (the data): ``NamedSharding(mesh, P())``.

    >>> from jaxdl.sweep.sharding import P, replicated, config_mesh
    >>> replicated(config_mesh()).spec == P()
    True
    """
    return NamedSharding(mesh, P())


def put(tree: Any, sharding: NamedSharding) -> Any:
    """Host arrays (identical in every process) to global arrays with ``sharding``; each process
    only transfers the shards of its own devices.

    Args:
      tree: a pytree of host arrays (numpy or anything ``np.asarray`` takes).
      sharding: where to place every leaf, e.g. :func:`members` or :func:`replicated`.

    Returns:
      The tree with each leaf a global :class:`jax.Array` of that sharding.

    >>> import numpy as np
    >>> from jaxdl.sweep.sharding import config_mesh, put, members
    >>> mesh = config_mesh()
    >>> hp = put({"learning_rate": np.full(mesh.size, 0.1, np.float32)}, members(mesh))
    >>> hp["learning_rate"].sharding == members(mesh)
    True
    """

    def leaf(value: Any) -> jax.Array:
        host = np.asarray(value)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(leaf, tree)


@functools.cache
def _replicate(mesh: Mesh):
    return jax.jit(lambda tree: tree, out_shardings=replicated(mesh))


def fetch(tree: Any, mesh: Mesh) -> Any:
    """Global arrays to numpy on every process (gathered over the mesh first when other
    processes hold some of the shards).

    Args:
      tree: a pytree of global arrays on ``mesh``.
      mesh: the sweep's mesh.

    Returns:
      The tree with numpy leaves, whole in every process.

    >>> import numpy as np
    >>> from jaxdl.sweep.sharding import config_mesh, put, members, fetch
    >>> mesh = config_mesh()
    >>> ids = put(np.arange(mesh.size), members(mesh))
    >>> fetch(ids, mesh).tolist() == list(range(mesh.size))
    True
    """
    if all(leaf.is_fully_addressable for leaf in jax.tree.leaves(tree)):
        return jax.device_get(tree)
    return jax.tree.map(np.asarray, _replicate(mesh)(tree))
