"""jaxdl against its peers on one training workload, plus the sweep and gradient-check tables.

    python scripts/bench.py [--quick] [--json PATH]

Rows (the workload of ``benchlib``: MLP 784-512-512-10, ReLU, batch norm, dropout 0.2, softmax
cross-entropy, Adam 1e-3, batch 128, float32, 16384 samples), all measured in this run:

1. ``jaxdl_scan``: ``jaxdl.train.run_epoch``, the whole epoch (shuffle included) in one jitted scan
2. ``jaxdl_loop``: the step the scan runs (``Trainer.train_step``: ``jaxdl.train.step.train_step``,
   divergence guard included), jitted, from a Python loop over device batches
2b. ``jaxdl_sequential``: row 1 with the same MLP built from ``jaxdl.layers`` (``Dense``,
   ``BatchNorm``, ``Relu``, ``Dropout`` in a ``Sequential``: ``MLP.as_sequential``)
3. ``flax_optax``: flax.linen + optax as their documentation writes a loop (a jitted step per batch)
3b. ``jax_optax_scan``: plain JAX + optax, the whole epoch (shuffle included) in one ``lax.scan``
4. ``torch`` / ``torch_fused``: PyTorch on the CPU, ``nn.Sequential`` with ``BatchNorm1d`` and
   ``Dropout``, ``torch.optim.Adam`` as is and with ``fused=True``
5. ``numpy``: the course's hand-written NumPy forward/backward and Adam

Columns: samples/s (median epoch after a compile/warm-up epoch; the rows take turns), the ratio
to row 1, achieved GFLOP/s (``6 * batch * sum(n_in * n_out)`` per step) and its share of the
float32 matmul peak measured in the same run. Peers that are not installed are left out.
``--json`` adds ``peak_share`` (row 1's share of that peak), ``compile_s`` (row 1's first epoch
minus its median epoch: compiling the epoch) and ``sweep_end_to_end`` (the sweep's speedup over
one-by-one runs including compilation, from ``bench_sweep.py``).

Four more tables come from the other benchmark scripts, run as they are (``--json``) in a
subprocess: ``bench_sweep.py`` (32 configs vmapped against one by one), ``bench_gradcheck.py``
(vectorized gradient check against a per-coordinate loop), ``bench_cnn.py`` (a 1-D and a 2-D
CNN from ``jaxdl.layers`` against jitted steps, plain JAX, flax and PyTorch, and the
jax-ml/jax#12868 loop-body convolution check) and ``bench_augment.py`` (the epoch of a small CNN
with ``RandomFlip`` + ``RandomCrop(4)`` in front over the same CNN's plain epoch, both timed in
that run: ``augment_ratio`` in the JSON, target at most 1.10); a script that is missing is shown
as "pending". ``--quick`` uses fewer repeats, a smaller peak matmul and shorter
sweep/gradcheck/CNN/augmentation runs.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import benchlib
import jax
import jax.numpy as jnp
import numpy as np
from benchlib import EpochFn, Workload

from jaxdl.infra.atomic import write_json

ROWS = (
    "jaxdl_scan",
    "jaxdl_loop",
    "jaxdl_sequential",
    "flax_optax",
    "jax_optax_scan",
    "torch",
    "torch_fused",
    "numpy",
)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# -- jaxdl.layers ------------------------------------------------------------------------------
def jaxdl_sequential(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """Row 1's epoch for the workload's MLP built as a ``jaxdl.layers.Sequential``."""
    return benchlib.jaxdl_scan(w, x, y, model=w.model().as_sequential())


# -- flax.linen + optax, the documented way ------------------------------------------------------
def flax_optax(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn | None:
    """A ``flax.linen`` module and ``flax.training.train_state.TrainState`` with ``optax.adam``;
    a jitted ``train_step(state, batch, key)`` per mini-batch, as in the flax documentation."""
    nn, optax = _optional("flax.linen"), _optional("optax")
    if nn is None or optax is None:
        return None
    from flax.training import train_state

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            for units in w.sizes[1:-1]:
                x = nn.Dense(units, use_bias=False)(x)
                x = nn.BatchNorm(
                    use_running_average=not train, momentum=w.bn_momentum, epsilon=w.bn_eps
                )(x)
                x = nn.relu(x)
                x = nn.Dropout(rate=1 - w.keep_prob, deterministic=not train)(x)
            return nn.Dense(w.sizes[-1])(x)

    class TrainState(train_state.TrainState):
        batch_stats: Any

    model = MLP()
    variables = model.init(jax.random.key(w.seed), jnp.zeros((1, w.sizes[0])), train=False)
    state = TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=optax.adam(w.learning_rate),
    )

    @jax.jit
    def train_step(state, batch, dropout_key):
        dropout_key = jax.random.fold_in(dropout_key, state.step)

        def loss_fn(params):
            logits, updates = state.apply_fn(
                {"params": params, "batch_stats": state.batch_stats},
                batch[0],
                train=True,
                rngs={"dropout": dropout_key},
                mutable=["batch_stats"],
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
            return loss, updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        return state.replace(batch_stats=updates["batch_stats"]), loss

    batches = benchlib.device_batches(w, x, y)
    key = jax.random.key(w.seed + 1)
    box = {"state": state}

    def epoch() -> None:
        state = box["state"]
        for batch in batches:
            state, loss = train_step(state, batch, key)
        jax.block_until_ready((state, loss))
        box["state"] = state

    return epoch


# -- plain JAX + optax, the epoch in one scan ----------------------------------------------------
def jax_optax_scan(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn | None:
    """Hand-written JAX model (batch norm with running averages, inverted dropout) and
    ``optax.adam``; one jitted function shuffles the epoch and ``lax.scan``s the steps."""
    optax = _optional("optax")
    if optax is None:
        return None
    tx = optax.adam(w.learning_rate)
    hidden = len(w.sizes) - 2
    keys = jax.random.split(jax.random.key(w.seed), len(w.sizes))
    params = {
        "W": [
            jax.random.normal(k, (a, b), jnp.float32) * np.sqrt(2 / a)
            for k, a, b in zip(keys, w.sizes[:-1], w.sizes[1:])
        ],
        "gamma": [jnp.ones(n, jnp.float32) for n in w.sizes[1:-1]],
        "beta": [jnp.zeros(n, jnp.float32) for n in w.sizes[1:-1]],
        "b": jnp.zeros(w.sizes[-1], jnp.float32),
    }
    stats = [(jnp.zeros(n, jnp.float32), jnp.ones(n, jnp.float32)) for n in w.sizes[1:-1]]

    def loss_fn(params, stats, xb, yb, key):
        a, new_stats = xb, []
        for l in range(hidden):
            z = a @ params["W"][l]
            mean, var = jnp.mean(z, axis=0), jnp.var(z, axis=0)
            z = (z - mean) * jax.lax.rsqrt(var + w.bn_eps) * params["gamma"][l] + params["beta"][l]
            m0, v0 = stats[l]
            new_stats.append(
                (w.bn_momentum * m0 + (1 - w.bn_momentum) * mean,
                 w.bn_momentum * v0 + (1 - w.bn_momentum) * var)
            )
            a = jax.nn.relu(z)
            keep = jax.random.bernoulli(jax.random.fold_in(key, l), w.keep_prob, a.shape)
            a = jnp.where(keep, a / w.keep_prob, 0)
        logits = a @ params["W"][-1] + params["b"]
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        return loss, jax.lax.stop_gradient(new_stats)

    @functools.partial(jax.jit, donate_argnums=(0,))
    def run(carry, x, y, key):
        shuffle_key, dropout_key = jax.random.split(key)
        order = jax.random.permutation(shuffle_key, w.num_samples)
        shape = (w.steps_per_epoch, w.batch_size)
        xs, ys = x[order].reshape(shape + x.shape[1:]), y[order].reshape(shape)
        step_keys = jax.random.split(dropout_key, w.steps_per_epoch)

        def step(carry, inputs):
            params, opt_state, stats = carry
            xb, yb, k = inputs
            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, stats, xb, yb, k
            )
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, stats), loss

        return jax.lax.scan(step, carry, (xs, ys, step_keys))

    xd, yd = jax.device_put(x), jax.device_put(y)
    box = {"carry": (params, tx.init(params), stats), "epoch": 0}

    def epoch() -> None:
        key = jax.random.fold_in(jax.random.key(w.seed + 1), box["epoch"])
        carry, losses = run(box["carry"], xd, yd, key)
        jax.block_until_ready((carry, losses))
        box["carry"], box["epoch"] = carry, box["epoch"] + 1

    return epoch


# -- PyTorch -------------------------------------------------------------------------------------
def torch_adam(fused: bool) -> Callable[[Workload, np.ndarray, np.ndarray], EpochFn | None]:
    """PyTorch CPU: ``nn.Sequential`` with ``BatchNorm1d`` and ``Dropout``, ``torch.optim.Adam``
    (``fused`` or the default implementation), over pre-made tensor batches."""

    def make(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn | None:
        torch = _optional("torch")
        if torch is None:
            return None
        nn = torch.nn
        torch.manual_seed(w.seed)
        layers: list[Any] = []
        for a, b in zip(w.sizes[:-2], w.sizes[1:-1]):
            layers += [
                nn.Linear(a, b, bias=False),
                nn.BatchNorm1d(b, eps=w.bn_eps, momentum=1 - w.bn_momentum),
                nn.ReLU(),
                nn.Dropout(1 - w.keep_prob),
            ]
        model = nn.Sequential(*layers, nn.Linear(w.sizes[-2], w.sizes[-1])).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=w.learning_rate, fused=fused)
        loss_fn = nn.CrossEntropyLoss()
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        batches = list(zip(xt.split(w.batch_size), yt.split(w.batch_size)))

        def epoch() -> None:
            for xb, yb in batches:
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
            loss.item()

        return epoch

    return make


MAKERS: dict[str, Callable[[Workload, np.ndarray, np.ndarray], EpochFn | None]] = {
    "jaxdl_scan": benchlib.jaxdl_scan,
    "jaxdl_loop": benchlib.jaxdl_loop,
    "jaxdl_sequential": jaxdl_sequential,
    "flax_optax": flax_optax,
    "jax_optax_scan": jax_optax_scan,
    "torch": torch_adam(fused=False),
    "torch_fused": torch_adam(fused=True),
    "numpy": benchlib.numpy_course,
}


SCRIPTS = os.path.dirname(os.path.abspath(__file__))
SIDE_TABLES = {
    "sweep": ("bench_sweep.py", [], ["--epochs", "2"]),
    "gradcheck": ("bench_gradcheck.py", [], ["--loop-coords", "200"]),
    "cnn": ("bench_cnn.py", [], ["--quick"]),
    "augment": ("bench_augment.py", [], ["--repeats", "3", "--samples", "1024"]),
}


def side_table(name: str, quick: bool) -> dict[str, Any] | str:
    """Run ``scripts/<name script> --json`` and return its figures, or why there are none."""
    script, full_args, quick_args = SIDE_TABLES[name]
    path = os.path.join(SCRIPTS, script)
    if not os.path.exists(path):
        return "pending"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        args = [sys.executable, path, "--json", out, *(quick_args if quick else full_args)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"failed ({tail[0][:120]})"
        with open(out) as f:
            return json.load(f)


def run(
    w: Workload,
    repeats: int = 7,
    peak_size: int = 4096,
    rows: Sequence[str] = ROWS,
    side_tables: bool = True,
    quick: bool = False,
    settle_s: float = 0.3,
) -> dict[str, Any]:
    """Measure every installed row (and the side tables); the figures as a dict."""
    x, y = benchlib.make_data(w)
    epochs = benchlib.installed(MAKERS, rows, w, x, y)
    timings = benchlib.measure(epochs, repeats, settle_s)
    peak = benchlib.matmul_peak(peak_size)
    table = benchlib.table(w, timings, peak["peak"], reference=ROWS[0])
    by_name = {r["name"]: r for r in table}
    first = by_name[ROWS[0]]
    result: dict[str, Any] = {
        "samples_per_s": {r["name"]: r["samples_per_s"] for r in table},
        "ratios": {r["name"]: r["ratio"] for r in table if r["name"] != ROWS[0]},
        "matmul_peak_gflops": peak["peak"],
        "matmul_gflops": peak,
        "scan_gflops": first["gflops"],
        "peak_share": first["peak_share"],
        # row 1's first epoch minus a steady one: compiling (and warming up) the epoch
        "compile_s": max(first["first_epoch_s"] - first["median_epoch_s"], 0.0),
        "rows": table,
        "machine": {**benchlib.machine(), **_peer_versions()},
        "repeats": repeats,
    }
    for name in SIDE_TABLES:
        figures = side_table(name, quick) if side_tables else "skipped"
        result[name] = figures
        speedup = figures.get("speedup") if isinstance(figures, dict) else None
        result[f"{name}_speedup"] = speedup
    sweep = result["sweep"]
    result["sweep_end_to_end"] = (
        sweep.get("speedup_end_to_end") if isinstance(sweep, dict) else None
    )
    augment = result["augment"]
    # the augmented epoch over the plain one (bench_augment.py): a cost, lower is better
    result["augment_ratio"] = augment.get("ratio") if isinstance(augment, dict) else None
    return result


def _peer_versions() -> dict[str, str]:
    versions = {}
    for name in ("optax", "flax", "torch"):
        module = _optional(name)
        versions[name] = module.__version__ if module is not None else "not installed"
    return versions


def report(w: Workload, result: dict[str, Any]) -> str:
    """The result as text: header, the main table, targets, and the side tables."""
    versions = ", ".join(f"{k} {result['machine'][k]}" for k in ("optax", "flax", "torch"))
    lines = [
        benchlib.describe(w, result["matmul_gflops"]),
        f"peers: {versions}",
        f"first epoch = compile + warm-up; epoch = median of {result['repeats']} epochs",
        "",
        benchlib.format_table(result["rows"], ROWS[0]),
        "",
    ]
    ratios = result["ratios"]
    # the Sequential row is the same computation as row 1: compared with it, not as a peer
    worst = max((r for name, r in ratios.items() if name != "jaxdl_sequential"), default=0.0)
    checks = [(f"{ROWS[0]} >= every other row", 1 / worst if worst else float("inf"), 1.0)]
    if "jaxdl_sequential" in ratios:
        checks.append(("Sequential vs built-in MLP", ratios["jaxdl_sequential"], 0.9))
    if "torch_fused" in ratios:
        checks.append(("vs PyTorch fused Adam", 1 / ratios["torch_fused"], 1.3))
    checks.append(("share of matmul peak", result["peak_share"], 0.45))
    for label, value, goal in checks:
        shown = f"{value:.1%}" if goal < 1 else f"{value:.2f}x"
        wanted = f"{goal:.0%}" if goal < 1 else f"{goal:.2f}x"
        lines.append(f"{label:<30} {shown:>8}  (target {wanted}: "
                     f"{'met' if value >= goal else 'MISSED'})")
    if result.get("augment_ratio") is not None:
        ratio, most = result["augment_ratio"], result["augment"]["target"]
        lines.append(f"{'CNN epoch, flip + crop / plain':<30} {ratio:>7.3f}x  (target <= "
                     f"{most:.2f}x: {'met' if ratio <= most else 'MISSED'})")
    for name, (script, _, _) in SIDE_TABLES.items():
        figures = result[name]
        lines += ["", f"{name} ({script}):"]
        if isinstance(figures, dict):
            # scalars only (bench_cnn.py's tables and machine are in the JSON)
            lines += [f"  {k:<34} {_show(v)}" for k, v in figures.items()
                      if not isinstance(v, dict | list)]
        else:
            lines.append(f"  {figures}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under 90 s)")
    parser.add_argument("--repeats", type=int, help="steady-state epochs per row (7; quick 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    w = Workload()
    repeats = args.repeats or (3 if args.quick else 7)
    result = run(w, repeats, peak_size=2048 if args.quick else 4096, quick=args.quick)
    print(report(w, result))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
