"""Benchmark: a vmapped sweep of 32 configs against the same configs trained one by one.

The model is a 64-128-128-10 MLP trained with Adam (batch 64, 2048 samples, 5 epochs, validated
on 512 samples after every epoch) at 32 log-uniform learning rates. The one-by-one runs reuse
one compiled epoch (the hyperparameters are traced), so both sides compile once. Timings:
``*_compile_s`` is the first run's extra time (compilation, timed after ``jax.clear_caches()``),
``*_s`` the steady-state time of all 32 configs (the fastest of ``--repeats`` alternating runs),
``speedup = sequential_s / vmap_s`` and ``speedup_end_to_end`` includes compilation. With
PyTorch installed the same 32 runs are timed one by one there too (``torch_sequential_s``).

    python scripts/bench_sweep.py [--json PATH] [--configs 32] [--epochs 5] [--cpu-devices N]
    python scripts/bench_sweep.py --explain-gap [--seeds 8] [--json PATH]
    python scripts/bench_sweep.py --scaling [--counts 1,8,32,128,512] [--json PATH]

``--explain-gap`` (no timings) finds the member whose vmapped final loss differs most from its
solo run and reruns it in float32 and float64, against its seed-to-seed spread, with the rank
agreement of sweep and solo (``scripts/sweep_gap.py``). ``--scaling`` times the sweep at each
config count (``scripts/sweep_scaling.py``: seconds per config-epoch, share of the matmul peak,
the compiled program's memory), then the floor under it: the step's matmuls alone at 1 to 256
members per device.

On CPU, JAX shows one device however many cores there are; ``--cpu-devices`` (default: one per
core) exposes the cores as devices, over which the sweep shards its members as on several GPUs,
while the one-by-one runs use one device as usual (``--cpu-devices 1``: no sharding). CPU times
(``*_cpu_s``, all threads) and the load average are recorded too, since other processes on a
small machine distort wall times.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import jax
import numpy as np
import sweep_gap
import sweep_scaling

from jaxdl.hyperparams import hyperparams
from jaxdl.infra.atomic import write_json
from jaxdl.nn import MLP
from jaxdl.sweep import LogUniform, Space, run_sweep, sample
from jaxdl.train import Keys, Trainer, run_epoch, run_evaluate, run_init

SIZES = (64, 128, 128, 10)


def make_data(
    m: int, m_val: int, seed: int = 0, sizes: tuple[int, ...] = SIZES
) -> tuple[np.ndarray, ...]:
    """Ten Gaussian blobs in ``sizes[0]`` (64) dimensions, standardized: train and validation
    splits."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(10, sizes[0])).astype(np.float32)
    y = rng.integers(0, 10, m + m_val).astype(np.int32)
    x = centers[y] + 2.0 * rng.normal(size=(m + m_val, sizes[0])).astype(np.float32)
    x = (x - x[:m].mean(0)) / x[:m].std(0)
    return x[:m], y[:m], x[m:], y[m:]


def solo(trainer: Trainer, hp: dict, data: tuple, epochs: int, seed: int) -> float:
    """One config with the compiled single-model epoch; returns the last epoch's loss."""
    x, y, x_val, y_val = data
    keys = Keys.from_seed(seed)
    ts = run_init(trainer, keys.init, hp)
    for epoch in range(epochs):
        ts, metrics = run_epoch(trainer, ts, hp, x, y, keys, epoch)
        val = run_evaluate(trainer, ts, hp, x_val, y_val)
    jax.block_until_ready(val)
    return float(metrics["loss"])


def torch_sequential(configs: list[dict], data: tuple, epochs: int, batch: int) -> float | None:
    """The same runs one after another in PyTorch (CPU); ``None`` when it is not installed.

    Uses the fused Adam kernel and the faster (timed on the first config) of PyTorch's default
    thread count and one thread: OpenMP threads spin badly when the machine is busy.
    """
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    tries = {}
    for threads in (torch.get_num_threads(), 1):
        torch.set_num_threads(threads)
        tries[threads] = _torch_runs(torch, configs[:1], data, epochs, batch)
    torch.set_num_threads(min(tries, key=tries.get))
    return _torch_runs(torch, configs, data, epochs, batch)


def _torch_runs(torch, configs: list[dict], data: tuple, epochs: int, batch: int) -> float:
    x, y, x_val, y_val = (torch.from_numpy(np.asarray(a)) for a in data)
    y, y_val = y.long(), y_val.long()
    start = time.perf_counter()
    for config in configs:
        torch.manual_seed(0)
        layers = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(model.parameters(), lr=config["learning_rate"], fused=True)
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for i in range(0, len(x), batch):
                idx = order[i : i + batch]
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                torch.nn.functional.cross_entropy(model(x_val), y_val)
    return time.perf_counter() - start


def timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """Wall time, CPU time of this process (all threads) and the result of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, time.process_time() - cpu, out


def use_cpu_devices(count: int) -> None:
    """Re-run this script with ``count`` host devices (``XLA_FLAGS`` must be set before JAX
    starts), so the sweep shards its members over the cores; the one-by-one runs stay on one
    device."""
    flag = f"--xla_force_host_platform_device_count={count}"
    if count > 1 and flag not in os.environ.get("XLA_FLAGS", ""):
        env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def explain(
    trainer: Trainer, configs: list[dict], data: tuple, epochs: int, seeds: int
) -> dict:
    """``--explain-gap``: the sweep and the solo runs once each (float32, shared seed 0), their
    final-loss differences, and :func:`sweep_gap.explain_gap` on the largest."""
    results = run_sweep(configs, data, trainer=trainer, epochs=epochs, seed=0)
    device_data = tuple(jax.device_put(a) for a in data)
    losses = [solo(trainer, hyperparams(**c), device_data, epochs, 0) for c in configs]
    sweep_losses = [h["loss"][-1] if h["loss"] else float("nan") for h in results.histories]
    sweep_losses = [x if s != "diverged" else float("nan")
                    for x, s in zip(sweep_losses, results.status)]
    diffs = np.abs(np.asarray(sweep_losses) - np.asarray(losses))
    diffs = diffs[np.isfinite(diffs)]
    gap = sweep_gap.explain_gap(trainer, configs, data, epochs, sweep_losses, losses, 0, seeds)
    return {
        "configs": len(configs),
        "epochs": epochs,
        "devices": jax.device_count(),
        "max_abs_diff": float(diffs.max()),
        "median_abs_diff": float(np.median(diffs)),
        "diffs_over_1e-4": int(np.sum(diffs > 1e-4)),
        "gap": gap,
    }


def _print(numbers: dict, indent: str = "") -> None:
    width = max(map(len, numbers))
    for name, value in numbers.items():
        if isinstance(value, dict):
            print(f"{indent}{name}:")
            _print(value, indent + "  ")
            continue
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{indent}{name:<{width}}  {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the numbers to this file")
    parser.add_argument("--configs", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--epochs-per-call", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="steady-state repetitions")
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=os.cpu_count(),
        help="host devices to shard the sweep over on CPU (default: one per core)",
    )
    parser.add_argument("--explain-gap", action="store_true",
                        help="explain the largest vmapped-vs-solo difference (no timings)")
    parser.add_argument("--seeds", type=int, default=8, help="seeds for the spread (--explain-gap)")
    parser.add_argument("--scaling", action="store_true", help="the table over config counts")
    parser.add_argument("--counts", default=",".join(map(str, sweep_scaling.COUNTS)),
                        help="config counts of --scaling")
    args = parser.parse_args()
    use_cpu_devices(args.cpu_devices)
    load_before = os.getloadavg()[0]

    data = make_data(2048, 512)
    trainer = Trainer(MLP(SIZES), optimizer="adam", batch_size=64)
    space = Space(learning_rate=LogUniform(1e-4, 1e-1))
    if args.explain_gap or args.scaling:
        if args.explain_gap:
            numbers = explain(trainer, sample(space, 0, args.configs), data, args.epochs,
                              args.seeds)
        else:
            counts = [int(c) for c in args.counts.split(",")]
            numbers = sweep_scaling.scaling(trainer, SIZES, space, data, counts,
                                            epochs=args.epochs, repeats=args.repeats)
            print(sweep_scaling.format_rows(numbers["rows"]))
            numbers["floor"] = sweep_scaling.matmul_floor(
                SIZES, trainer.batch_size, sweep_scaling.FLOOR_WIDTHS,
                numbers["matmul_peak_gflops"])
            print("\nthe step's matmuls alone, vmapped on every device:")
            print(sweep_scaling.format_floor(numbers["floor"]))
        numbers["load_average"] = [load_before, os.getloadavg()[0]]
        _print({k: v for k, v in numbers.items() if k not in ("rows", "floor", "matmul_peaks")})
        if args.json:
            write_json(args.json, numbers)
        return
    configs = sample(space, 0, args.configs)
    sweep_kw = {"trainer": trainer, "epochs": args.epochs, "seed": 0}
    sweep_kw["epochs_per_call"] = args.epochs_per_call

    hps = [hyperparams(**c) for c in configs]
    device_data = tuple(jax.device_put(a) for a in data)

    def sequential() -> list[float]:
        return [solo(trainer, hp, device_data, args.epochs, 0) for hp in hps]

    jax.clear_caches()
    first_sweep, _, _ = timed(run_sweep, configs, data, **sweep_kw)
    jax.clear_caches()
    first_solo, _, _ = timed(solo, trainer, hps[0], device_data, args.epochs, 0)
    # Steady state: alternate the two and keep each one's fastest time, so that load from
    # other processes on the machine hits both alike.
    vmap_times, sequential_times = [], []
    for _ in range(args.repeats):
        *seconds, results = timed(run_sweep, configs, data, **sweep_kw)
        vmap_times.append(seconds)
        *seconds, losses = timed(sequential)
        sequential_times.append(seconds)
    (vmap_s, vmap_cpu_s), (sequential_s, sequential_cpu_s) = min(vmap_times), min(sequential_times)
    vmap_compile_s = max(first_sweep - vmap_s, 0.0)
    sequential_compile_s = max(first_solo - sequential_s / len(configs), 0.0)
    sweep_losses = [h["loss"][-1] for h in results.histories]
    ok = [i for i, s in enumerate(results.status) if s != "diverged"]
    diffs = [abs(sweep_losses[i] - losses[i]) for i in ok]
    torch_s = torch_sequential(configs, data, args.epochs, trainer.batch_size)
    numbers = {
        "configs": len(configs),
        "epochs": args.epochs,
        "devices": jax.device_count(),
        "vmap_s": vmap_s,
        "sequential_s": sequential_s,
        "vmap_compile_s": vmap_compile_s,
        "sequential_compile_s": sequential_compile_s,
        "speedup": sequential_s / vmap_s,
        "speedup_end_to_end": (sequential_s + sequential_compile_s) / (vmap_s + vmap_compile_s),
        "torch_sequential_s": torch_s if torch_s is not None else "not installed",
        "speedup_vs_torch": torch_s / vmap_s if torch_s is not None else "not installed",
        "max_abs_diff": max(diffs) if ok else None,
        "median_abs_diff": float(np.median(diffs)) if ok else None,
        # the member behind max_abs_diff (see --explain-gap for why it differs)
        "max_abs_diff_member": ok[int(np.argmax(diffs))] if ok else None,
        "max_abs_diff_learning_rate": configs[ok[int(np.argmax(diffs))]]["learning_rate"]
        if ok else None,
        "diverged": len(configs) - len(ok),
        "vmap_cpu_s": vmap_cpu_s,
        "sequential_cpu_s": sequential_cpu_s,
        "load_average": [load_before, os.getloadavg()[0]],
    }
    _print(numbers)
    if args.json:
        write_json(args.json, numbers)


if __name__ == "__main__":
    main()
