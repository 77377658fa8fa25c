"""Data parallelism: one mini-batch split over a device mesh, parameters replicated.

With ``n`` devices on the mesh axis ``"data"``, every global mini-batch of ``b`` rows is cut into
``n`` shards of ``b / n`` consecutive rows, one per device; parameters, batch-norm running
statistics and optimizer state are replicated. The program is still the single-device program on
the global batch: the compiler (GSPMD) partitions it from the sharding annotations and inserts the
all-reduces for every reduction over the batch axis, so

    grad = (1 / b) * sum_devices sum_rows dloss_i / dtheta       (the gradient mean, all-reduced)
    mu_B = (1 / b) * sum_devices sum_rows z_i                     (sync batch norm, same for var)

and training matches one device on the same global batches up to float32 round-off. Dropout bits
are drawn for the global batch shape (``jax_threefry_partitionable``: each device computes its
own slice of the same bits), so the masks match too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

AXIS = "data"

T = TypeVar("T", bound="DataclassInstance")


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: every device JAX sees)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices must name at least one device, got an empty list")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices must be jax.Device objects (e.g. jax.devices()), got {devices!r}")
    if len({d.platform for d in devices}) > 1:
        raise ValueError(
            f"devices must share one platform, got {sorted({d.platform for d in devices})}"
        )
    return Mesh(np.array(devices), (AXIS,))


def data_parallel(trainer: T, devices: Sequence[jax.Device] | None = None) -> T:
    """A copy of ``trainer`` whose ``fit`` splits each mini-batch over ``devices``.

    ``devices`` defaults to every device JAX sees; one device gives a one-device mesh (all
    computation placed there). The global batch size must be a multiple of the device count.
    """
    return dataclasses.replace(trainer, mesh=make_mesh(devices))


def check_batch_size(batch_size: int, mesh: Mesh, m: int) -> None:
    """Raise ``ValueError`` unless the global batch of ``batch_size`` rows splits over ``mesh``."""
    n = mesh.size
    if batch_size % n == 0:
        return
    below, above = batch_size // n * n, (batch_size // n + 1) * n
    choices = f"{below} or {above}" if below else f"{above}"
    raise ValueError(
        f"the global batch of {batch_size} samples (batch_size, at most the {m} training samples) "
        f"does not split over {n} devices; use a batch_size that is a multiple of {n}, "
        f"e.g. {choices}"
    )


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Put a full copy of every leaf of ``tree`` on each device of ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(tree: Any, mesh: Mesh | None, axis: int = 0) -> Any:
    """Constrain every leaf of ``tree`` (under ``jit``) to be split along ``axis``, its batch
    axis, over the mesh's ``"data"`` axis; the identity when ``mesh`` is ``None``."""
    if mesh is None:
        return tree
    spec = PartitionSpec(*(None,) * axis, AXIS)
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, spec))
