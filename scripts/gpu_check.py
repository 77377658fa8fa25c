"""GPU check: list the devices, then time a short fit and a 256-config sweep on GPU and CPU.

    pip install -e ".[cuda]"
    python scripts/gpu_check.py [--epochs 5] [--repeat 10] [--configs 256] [--sweep-epochs 3]

Targets: one CPU device in float32 and, when JAX sees a GPU, all GPUs (data parallel) in float32
and in bf16 mixed precision. For each target it reports

- fit: training samples/s of ``jaxdl.train.fit`` on digits (the training split tiled ``--repeat``
  times, a 64-256-256-10 MLP with batch norm and dropout, Adam, batch 128 rounded up to a
  multiple of the device count), timed after a one-epoch compile warm-up;
- sweep: wall time of ``jaxdl.sweep.run_sweep`` over ``--configs`` sampled configs (learning
  rate, b1, L2) of a 64-32-10 MLP on digits for ``--sweep-epochs`` epochs, after a one-epoch
  warm-up, with the config axis sharded over the target's devices;

then each GPU figure against the CPU's. Without a GPU (or with the CPU-only jaxlib) it prints
that no GPU is present, with the reason, and reports the CPU figures only. The GPU path has not
been run on GPU hardware yet; only the CPU path is exercised here and in CI.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import jax
import numpy as np

from jaxdl.data.datasets import Dataset, load
from jaxdl.infra import devices, parallel
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, OneMinusLogUniform, Space, config_mesh, run_sweep
from jaxdl.train import Trainer, fit

BATCH = 128


def targets() -> list[tuple[str, list[jax.Device], str]]:
    """``(name, devices, compute dtype)`` to time: the CPU, plus the GPUs when visible."""
    found = [("cpu", devices.select("cpu")[:1], "float32")]
    try:
        gpus = devices.select("gpu")
    except ValueError as err:
        print(f"no GPU present: {err}")
        return found
    return found + [("gpu", gpus, "float32"), ("gpu bf16", gpus, "bfloat16")]


def time_fit(data: Dataset, devs: Sequence[jax.Device], dtype: str, epochs: int, repeat: int):
    """``(samples per second, final training loss)`` of ``fit`` on ``devs``."""
    x, y = np.tile(data.x_train, (repeat, 1)), np.tile(data.y_train, repeat)
    model = MLP((64, 256, 256, 10), batch_norm=True, dropout=True, compute_dtype=dtype)
    batch = -(-BATCH // len(devs)) * len(devs)
    trainer = parallel.data_parallel(Trainer(model, batch_size=batch), devs)
    hp = {"learning_rate": 1e-3, "keep_prob": 0.9}
    with jax.default_device(devs[0]):
        fit(trainer, x, y, hp=hp, epochs=1, progress=False)
        start = time.perf_counter()
        result = fit(trainer, x, y, hp=hp, epochs=epochs, progress=False)
        elapsed = time.perf_counter() - start
    return epochs * len(x) / elapsed, result.history["loss"][-1]


def time_sweep(data: Dataset, devs: Sequence[jax.Device], dtype: str, configs: int, epochs: int):
    """``(seconds, best validation accuracy)`` of a ``configs``-member sweep on ``devs``."""
    space = Space(
        learning_rate=LogUniform(1e-4, 1e-1),
        b1=OneMinusLogUniform(0.8, 0.99),
        l2=LogUniform(1e-3, 1.0),
    )
    trainer = Trainer(MLP((64, 32, 10), compute_dtype=dtype), batch_size=BATCH)
    mesh = config_mesh(devs)
    with jax.default_device(devs[0]):
        run_sweep(space, data, trainer=trainer, n=configs, epochs=1, mesh=mesh)
        start = time.perf_counter()
        results = run_sweep(space, data, trainer=trainer, n=configs, epochs=epochs, mesh=mesh)
        elapsed = time.perf_counter() - start
    return elapsed, results.best()["val_accuracy"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed fit epochs")
    parser.add_argument("--repeat", type=int, default=10, help="tile the training set this often")
    parser.add_argument("--configs", type=int, default=256, help="sweep size")
    parser.add_argument("--sweep-epochs", type=int, default=3, help="timed sweep epochs")
    args = parser.parse_args(argv)

    print(f"JAX default backend: {devices.describe(devices.select())}")
    runs = targets()
    data = load("digits")
    fits, sweeps = {}, {}
    for name, devs, dtype in runs:
        print(f"[{name}] {devices.describe(devs, dtype)}")
        rate, loss = time_fit(data, devs, dtype, args.epochs, args.repeat)
        fits[name] = rate
        print(f"[{name}] fit: {rate:,.0f} samples/s (final training loss {loss:.4f})")
        seconds, best = time_sweep(data, devs, dtype, args.configs, args.sweep_epochs)
        sweeps[name] = seconds
        print(
            f"[{name}] sweep: {args.configs} configs x {args.sweep_epochs} epochs in "
            f"{seconds:.2f} s ({args.configs * args.sweep_epochs / seconds:,.0f} config-epochs/s,"
            f" best val accuracy {best:.3f})"
        )
    for name, _, _ in runs[1:]:
        print(
            f"[{name}] speedup over cpu: fit {fits[name] / fits['cpu']:.1f}x, "
            f"sweep {sweeps['cpu'] / sweeps[name]:.1f}x"
        )


if __name__ == "__main__":
    main()
