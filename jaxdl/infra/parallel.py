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

#: The least work per core, in FLOPs of one mini-batch's forward pass, at which a convolutional
#: model's mini-batches are split over one CPU device per core (:func:`cpu_split`). Measured on
#: 2 cores (docs/benchmarks.md, "Splitting a CNN's mini-batches over the cores"): every batch
#: with 20 MFLOP or more per core trained faster split (0.68-0.94x the time), every one under
#: 10 MFLOP slower (1.38-5.79x).
CPU_SPLIT_MIN_FLOPS = 2e7

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


def forward_cost(model: Any, batch_shape: Sequence[int], hp: Any = None) -> tuple[float, bool]:
    """XLA's FLOP count of ``model``'s forward pass (inference mode) on a batch of shape
    ``batch_shape``, and whether that pass has a convolution; nothing is compiled or run (the
    program is only lowered, on abstract parameters)."""
    params, state = jax.eval_shape(lambda: model.init(jax.random.key(0)))  # no key is made
    x = jax.ShapeDtypeStruct(tuple(int(d) for d in batch_shape), jax.numpy.float32)
    lowered = jax.jit(lambda p, s, x: model.apply(p, s, x, train=False, hp=hp)).lower(
        params, state, x)
    cost = lowered.cost_analysis() or {}
    return float(cost.get("flops", 0.0)), "convolution" in lowered.as_text()


def cpu_split(
    model: Any,
    example_shape: Sequence[int],
    batch_size: int,
    devices: Sequence[jax.Device],
    hp: Any = None,
) -> list[jax.Device]:
    """The CPU devices that share each mini-batch of ``model`` (``devices[:k]``, for
    :func:`data_parallel`): the most ``k`` that divide ``batch_size`` and leave each core at
    least :data:`CPU_SPLIT_MIN_FLOPS` of the forward pass, when the model has convolutions;
    one device otherwise.

    XLA:CPU keeps barely more than one core busy with one program of small convolutions, so
    a convolutional network whose mini-batches are large enough trains faster split over one
    CPU device per core (:func:`jaxdl.infra.devices.cpu_device_per_core`); an MLP's matrix
    products already use every core, and a small step is slower split (the devices' exchange
    costs more than it saves). The rule is fixed, not timed, so the same command makes the
    same choice (and the same float32 round-off) on every run.

    Args:
      model: a jaxdl model (``init`` / ``apply``).
      example_shape: one example's shape (no batch axis).
      batch_size: rows per mini-batch (at most the training rows).
      devices: the CPU devices to choose from (e.g. ``jax.devices("cpu")``).
      hp: the hyperparameters ``model.apply`` reads, if any.

    Returns:
      ``devices[:k]``, one device when splitting does not pay.

    ``jaxdl train`` applies it; in a script, give JAX one CPU device per core before anything
    else uses JAX (:func:`jaxdl.infra.devices.cpu_device_per_core`), then split the trainer
    as below (a process with one CPU device, like this one, keeps one).

    Examples:
      >>> import jax
      >>> from jaxdl import layers
      >>> from jaxdl.infra.parallel import cpu_split, data_parallel
      >>> from jaxdl.nn import MLP
      >>> from jaxdl.train import Trainer
      >>> len(cpu_split(MLP((4, 8, 2)), (4,), 32, jax.devices("cpu")))
      1
      >>> cnn = layers.Sequential(layers.Conv(32, (3, 3)), layers.Relu(), layers.Flatten(),
      ...                         layers.Dense(10), input_shape=(28, 28, 1))
      >>> trainer = data_parallel(Trainer(cnn), cpu_split(cnn, (28, 28, 1), 256, jax.devices()))
      >>> trainer.mesh.size  # 2 in a process with a CPU device per core on 2 cores
      1
    """
    devices = list(devices)
    if not devices or devices[0].platform != "cpu":
        raise ValueError(f"devices must be CPU devices, got {devices!r}")
    if len(devices) == 1:
        return devices
    flops, convolves = forward_cost(model, (batch_size, *example_shape), hp)
    if not convolves:
        return devices[:1]
    fits = [k for k in range(len(devices), 1, -1)
            if batch_size % k == 0 and flops / k >= CPU_SPLIT_MIN_FLOPS]
    return devices[: fits[0] if fits else 1]


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
