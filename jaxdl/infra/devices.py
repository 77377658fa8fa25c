"""Which devices train, in which precision, and the one-line report of that choice.

``select("cpu" | "gpu" | None)`` returns the devices of that platform (``None``: JAX's default
backend, i.e. the GPUs when the CUDA build of jaxlib is installed and a GPU is visible);
``compute_dtype("fp32" | "bf16" | None)`` maps the precision option to
:attr:`jaxdl.nn.MLP.compute_dtype` (default float32 on every backend: bfloat16 matmuls are an
opt-in trade of accuracy for speed on accelerators); ``describe`` is the start-of-run line;
``cpu_device_per_core`` gives JAX one CPU device per core before it starts (what ``jaxdl sweep``
does, so that each core trains its own members).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import jax

DEVICES = ("cpu", "gpu")
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16"}
CUDA_INSTALL = 'pip install -e ".[cuda]"'


def _count(devices: Sequence[jax.Device]) -> str:
    """``"2 devices, NVIDIA H100 80GB HBM3 x 2 (ids 0, 1)"``."""
    kinds = "; ".join(f"{k} x {n}" for k, n in Counter(d.device_kind for d in devices).items())
    ids = ", ".join(str(d.id) for d in devices)
    return f"{len(devices)} device{'s' if len(devices) > 1 else ''}, {kinds} (ids {ids})"


def select(device: str | None = None) -> list[jax.Device]:
    """All devices of platform ``device`` (``"cpu"`` or ``"gpu"``), or of JAX's default backend
    when ``device`` is ``None``; ``ValueError`` when none is visible."""
    if device is None:
        return jax.devices()
    if device not in DEVICES:
        raise ValueError(
            f"device must be one of {', '.join(DEVICES)} (or None for JAX's default), "
            f"got {device!r}"
        )
    try:
        return jax.devices(device)
    except RuntimeError:
        pass
    hint = f"install the CUDA build of jax with {CUDA_INSTALL}"
    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms and not {"cuda", "gpu", "rocm"} & set(platforms.split(",")):
        hint = f"JAX_PLATFORMS={platforms} hides GPUs: unset it, or {hint}"
    raise ValueError(
        f"device {device!r} requested but jax {jax.__version__} sees no {device.upper()}, only "
        f"{jax.default_backend()}: {_count(jax.devices())}; {hint}"
    )


def compute_dtype(precision: str | None = None) -> str:
    """The matmul dtype for ``precision``: ``"fp32"`` (default) or ``"bf16"`` (mixed precision:
    bfloat16 operands, float32 accumulation, parameters, optimizer state and loss)."""
    if precision is None:
        return "float32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)} (or None for fp32), "
            f"got {precision!r}"
        )
    return PRECISIONS[precision]


def cpu_device_per_core() -> int | None:
    """Before JAX starts, make it one CPU device per core this process may use
    (``jax_num_cpu_devices``), so that a sweep's members split over the cores, each device
    training its own (:mod:`jaxdl.sweep.loop`); accelerators are unaffected. A count chosen by
    the user (``JAX_NUM_CPU_DEVICES`` or ``XLA_FLAGS=--xla_force_host_platform_device_count``)
    is kept, and so is JAX's device count once JAX runs (it can no longer change).

    Returns:
      The number of CPU devices set, or ``None`` when the count was left as it was.

    Examples:
      >>> from jaxdl.infra.devices import cpu_device_per_core
      >>> import jax
      >>> _ = jax.devices()          # JAX runs: nothing changes
      >>> cpu_device_per_core() is None
      True
    """
    chosen = getattr(jax.config, "jax_num_cpu_devices", None)  # None: a JAX without it
    if chosen != -1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = len(usable) if usable else os.cpu_count() or 1
    try:
        jax.config.update("jax_num_cpu_devices", cores)
    except RuntimeError:  # JAX already runs
        return None
    return cores


def describe(
    devices: Sequence[jax.Device], dtype: str = "float32", split: str = "data parallel"
) -> str:
    """One line naming the backend, the devices (kind and ids), the parallelism and the matmul
    dtype, e.g. ``backend gpu (jax 0.4.35): 2 devices, NVIDIA H100 80GB HBM3 x 2 (ids 0, 1);
    data parallel over 2; float32 matmuls``; ``split`` names what several devices share."""
    devices = list(devices)
    if not devices:
        raise ValueError("devices must name at least one device, got an empty list")
    mode = f"{split} over {len(devices)}" if len(devices) > 1 else "single device"
    accumulate = " (float32 accumulation)" if dtype != "float32" else ""
    return (
        f"backend {devices[0].platform} (jax {jax.__version__}): {_count(devices)}; {mode}; "
        f"{dtype} matmuls{accumulate}"
    )
