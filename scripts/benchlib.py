"""The training benchmark workload and its measuring tools, shared by ``bench_train.py`` and
``bench.py``.

Workload: an MLP 784-512-512-10 with ReLU, batch norm and dropout (keep_prob 0.8) after each
hidden layer, softmax cross-entropy, Adam (lr 1e-3), mini-batches of 128, float32, 16384
synthetic samples drawn with a fixed seed.

FLOPs: the usual estimate of the matmul work of one training step is
``6 * batch * sum(n_in * n_out)`` (forward ``a @ W``, weight gradient ``a.T @ dz`` and input
gradient ``dz @ W.T``, 2 FLOPs per multiply-add each). No implementation needs the input
gradient of the first layer, so the work actually required is
``2 * batch * (3 * sum(n_in * n_out) - n_0 * n_1)``; both are reported. Element-wise work (batch
norm, dropout, Adam) is not counted.

Timing: every implementation runs whole epochs. The first epoch (compile and warm-up) is
timed on its own; then the implementations take turns, one epoch each, ``repeats`` times, so
that load from other processes hits all of them alike, and each reports its median epoch.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.hyperparams import hyperparams
from jaxdl.infra import parallel
from jaxdl.nn import MLP
from jaxdl.train import Batch, Keys, Trainer, run_epoch, run_init

EpochFn = Callable[[], None]


@dataclasses.dataclass(frozen=True)
class Workload:
    """The benchmark problem; the defaults are the published workload."""

    sizes: tuple[int, ...] = (784, 512, 512, 10)
    batch_size: int = 128
    num_samples: int = 16384
    keep_prob: float = 0.8
    learning_rate: float = 1e-3
    bn_momentum: float = 0.9
    bn_eps: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_samples % self.batch_size:
            raise ValueError(
                f"num_samples ({self.num_samples}) must be a multiple of batch_size "
                f"({self.batch_size}) so that every implementation runs the same full batches"
            )

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch."""
        return self.num_samples // self.batch_size

    @property
    def weights(self) -> int:
        """``sum(n_in * n_out)`` over the weight layers."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def flops_per_step(self) -> int:
        """The usual estimate ``6 * batch * sum(n_in * n_out)``."""
        return 6 * self.batch_size * self.weights

    @property
    def needed_flops_per_step(self) -> int:
        """``2 * batch * (3 * sum(n_in * n_out) - n_0 * n_1)``: no first-layer input gradient."""
        return 2 * self.batch_size * (3 * self.weights - self.sizes[0] * self.sizes[1])

    def model(self) -> MLP:
        """The jaxdl model of the workload."""
        return MLP(
            self.sizes, batch_norm=True, dropout=True,
            bn_momentum=self.bn_momentum, bn_eps=self.bn_eps,
        )

    def trainer(self, model: Any = None) -> Trainer:
        """The jaxdl trainer of the workload (Adam, constant learning rate) for ``model``
        (default: the built-in MLP of the workload)."""
        model = self.model() if model is None else model
        return Trainer(model, optimizer="adam", batch_size=self.batch_size)

    def hyperparams(self) -> dict[str, jax.Array]:
        """The traced hyperparameters of the workload."""
        return hyperparams(learning_rate=self.learning_rate, keep_prob=self.keep_prob)


def make_data(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic features (standard normal, float32) and labels (int32 in [0, n_out))."""
    rng = np.random.default_rng(w.seed)
    x = rng.standard_normal((w.num_samples, w.sizes[0]), dtype=np.float32)
    y = rng.integers(0, w.sizes[-1], w.num_samples).astype(np.int32)
    return x, y


def device_batches(w: Workload, x: np.ndarray, y: np.ndarray) -> list[tuple[jax.Array, ...]]:
    """The data cut into ``(x, y)`` mini-batches already on the device (no shuffling)."""
    b = w.batch_size
    return [
        (jax.device_put(x[i : i + b]), jax.device_put(y[i : i + b]))
        for i in range(0, w.num_samples, b)
    ]


# -- timing ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Timing:
    """First epoch (compile + warm-up) and the median of the steady-state epochs, in seconds."""

    first_s: float
    median_s: float
    epochs_s: tuple[float, ...]

    def samples_per_s(self, w: Workload) -> float:
        """Steady-state training throughput."""
        return w.num_samples / self.median_s

    def gflops(self, w: Workload, needed: bool = False) -> float:
        """Achieved matmul GFLOP/s (the usual estimate, or only the needed work)."""
        flops = w.needed_flops_per_step if needed else w.flops_per_step
        return flops * w.steps_per_epoch / self.median_s / 1e9


def _seconds(fn: EpochFn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def installed(
    makers: Mapping[str, Callable[..., EpochFn | None]], names: Any, w: Any, x: Any, y: Any
) -> dict[str, EpochFn]:
    """The epoch of each row of ``names`` whose maker returns one (a peer not installed
    returns None and is left out)."""
    epochs = {}
    for name in names:
        epoch = makers[name](w, x, y)
        if epoch is not None:
            epochs[name] = epoch
    return epochs


def measure(
    epochs: Mapping[str, EpochFn], repeats: int, settle_s: float = 0.3
) -> dict[str, Timing]:
    """Time one warm-up epoch of each implementation, then ``repeats`` epochs of each in turn.

    Every epoch starts after ``settle_s`` seconds of rest: OpenBLAS and OpenMP worker threads
    keep spinning for a while after their last call and would otherwise slow down whichever
    implementation runs next.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")

    def timed(fn: EpochFn) -> float:
        time.sleep(settle_s)
        return _seconds(fn)

    first = {name: timed(fn) for name, fn in epochs.items()}
    runs: dict[str, list[float]] = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, fn in epochs.items():
            runs[name].append(timed(fn))
    return {
        name: Timing(first[name], statistics.median(runs[name]), tuple(runs[name]))
        for name in epochs
    }


def matmul_peak(n: int = 4096, repeats: int = 5) -> dict[str, float]:
    """Best float32 GFLOP/s of an ``n x n`` matmul in JAX and in NumPy, and the larger one."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    aj, bj = jax.device_put(a), jax.device_put(b)
    matmul = jax.jit(jnp.matmul)
    matmul(aj, bj).block_until_ready()
    a @ b
    flops = 2 * n**3
    jax_s = min(_seconds(lambda: matmul(aj, bj).block_until_ready()) for _ in range(repeats))
    numpy_s = min(_seconds(lambda: a @ b) for _ in range(repeats))
    result = {"jax": flops / jax_s / 1e9, "numpy": flops / numpy_s / 1e9}
    result["peak"] = max(result.values())
    return result


# -- jaxdl -------------------------------------------------------------------------------------
def jaxdl_scan(
    w: Workload, x: np.ndarray, y: np.ndarray, model: Any = None, trainer: Trainer | None = None
) -> EpochFn:
    """One epoch = ``jaxdl.train.run_epoch``: shuffle, batch and scan, all in one jitted call
    (``model`` defaults to the workload's built-in MLP, ``trainer`` to its Adam trainer)."""
    trainer = w.trainer(model) if trainer is None else trainer
    hp, keys = w.hyperparams(), Keys.from_seed(w.seed)
    xd, yd = jax.device_put(x), jax.device_put(y)
    box = {"ts": run_init(trainer, keys.init, hp), "epoch": 0}
    if trainer.mesh is not None:  # placed as fit places them, so the warm-up epoch compiles
        xd, yd, box["ts"] = parallel.replicate((xd, yd, box["ts"]), trainer.mesh)  # for good

    def epoch() -> None:
        ts, metrics = run_epoch(trainer, box["ts"], hp, xd, yd, keys, jnp.int32(box["epoch"]))
        jax.block_until_ready((ts, metrics))
        box["ts"], box["epoch"] = ts, box["epoch"] + 1

    return epoch


@functools.cache
def _jitted_step(trainer: Trainer, num_examples: int, steps_per_epoch: int) -> Callable:
    """``Trainer.train_step`` jitted with the state donated (one compile per configuration)."""
    step = functools.partial(
        trainer.train_step, num_examples=num_examples, steps_per_epoch=steps_per_epoch
    )
    return jax.jit(step, donate_argnums=(0, 1, 2))


def jaxdl_loop(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """One epoch = ``Trainer.train_step`` (jitted, state donated) called from a Python loop over
    pre-made device batches."""
    trainer, hp, keys = w.trainer(), w.hyperparams(), Keys.from_seed(w.seed)
    step = _jitted_step(trainer, w.num_samples, w.steps_per_epoch)
    batches = device_batches(w, x, y)
    step_keys = list(jax.random.split(keys.dropout, w.steps_per_epoch))
    ts = run_init(trainer, keys.init, hp)
    box = {"state": (ts.params, ts.model_state, ts.opt_state)}

    def epoch() -> None:
        params, model_state, opt_state = box["state"]
        for (xb, yb), key in zip(batches, step_keys):
            params, model_state, opt_state, cost, _ = step(
                params, model_state, opt_state, Batch(xb, yb), key, hp
            )
        jax.block_until_ready((params, cost))
        box["state"] = (params, model_state, opt_state)

    return epoch


# -- NumPy, the course's way -------------------------------------------------------------------
class NumpyMLP:
    """The workload hand-written in NumPy the way the course writes it, in float32.

    Column-major data (``X`` is (n_x, m), ``W`` is (n_l, n_{l-1}), ``Z = W @ A_prev``), caches
    kept by the forward pass, a backward pass by the chain rule (softmax cross-entropy against
    one-hot labels, inverted dropout, batch norm, ReLU) that returns ``dA_prev`` for every layer
    (the input's included, as the course's ``linear_backward`` does), Adam with bias correction,
    and mini-batches cut from a fresh column permutation every epoch (``random_mini_batches``).
    """

    def __init__(self, w: Workload, x: np.ndarray, y: np.ndarray) -> None:
        self.w = w
        self.X = np.ascontiguousarray(x.T)
        self.Y = np.eye(w.sizes[-1], dtype=np.float32)[:, y]
        self.rng = np.random.default_rng(w.seed)
        self.L = len(w.sizes) - 1
        self.params: dict[str, np.ndarray] = {}
        self.running: dict[str, np.ndarray] = {}
        for l in range(1, self.L + 1):
            n_prev, n = w.sizes[l - 1], w.sizes[l]
            scale = np.float32(np.sqrt(2.0 / n_prev))
            self.params[f"W{l}"] = self.rng.standard_normal((n, n_prev), np.float32) * scale
            if l < self.L:
                self.params[f"gamma{l}"] = np.ones((n, 1), np.float32)
                self.params[f"beta{l}"] = np.zeros((n, 1), np.float32)
                self.running[f"mu{l}"] = np.zeros((n, 1), np.float32)
                self.running[f"var{l}"] = np.zeros((n, 1), np.float32)
            else:
                self.params[f"b{l}"] = np.zeros((n, 1), np.float32)
        self.v = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.s = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.t = 0

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, list]:
        """Softmax probabilities (n_out, m) and the caches of every hidden layer."""
        p, w = self.params, self.w
        keep, mom, eps = np.float32(w.keep_prob), np.float32(w.bn_momentum), np.float32(w.bn_eps)
        caches, A = [], X
        for l in range(1, self.L):
            Z = p[f"W{l}"] @ A
            mu = np.mean(Z, axis=1, keepdims=True)
            var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)
            inv_std = 1 / np.sqrt(var + eps)
            Z_norm = (Z - mu) * inv_std
            Z_tilde = p[f"gamma{l}"] * Z_norm + p[f"beta{l}"]
            self.running[f"mu{l}"] = mom * self.running[f"mu{l}"] + (1 - mom) * mu
            self.running[f"var{l}"] = mom * self.running[f"var{l}"] + (1 - mom) * var
            D = self.rng.random(Z.shape, np.float32) < keep
            caches.append((A, Z_norm, inv_std, Z_tilde, D))
            A = np.maximum(Z_tilde, 0) * D / keep
        ZL = p[f"W{self.L}"] @ A + p[f"b{self.L}"]
        T = np.exp(ZL - np.max(ZL, axis=0, keepdims=True))
        caches.append((A,))
        return T / np.sum(T, axis=0, keepdims=True), caches

    def backward(self, AL: np.ndarray, Y: np.ndarray, caches: list) -> dict[str, np.ndarray]:
        """Gradients of the mean cross-entropy with respect to every parameter."""
        p, m, L = self.params, Y.shape[1], self.L
        keep = np.float32(self.w.keep_prob)
        grads = {}
        dZ = (AL - Y) / m
        (A_prev,) = caches[L - 1]
        grads[f"W{L}"] = dZ @ A_prev.T
        grads[f"b{L}"] = np.sum(dZ, axis=1, keepdims=True)
        dA = p[f"W{L}"].T @ dZ
        for l in reversed(range(1, L)):
            A_prev, Z_norm, inv_std, Z_tilde, D = caches[l - 1]
            dZ_tilde = dA * D / keep * (Z_tilde > 0)
            grads[f"gamma{l}"] = np.sum(dZ_tilde * Z_norm, axis=1, keepdims=True)
            grads[f"beta{l}"] = np.sum(dZ_tilde, axis=1, keepdims=True)
            dZ_norm = dZ_tilde * p[f"gamma{l}"]
            dZ = (inv_std / m) * (
                m * dZ_norm
                - np.sum(dZ_norm, axis=1, keepdims=True)
                - Z_norm * np.sum(dZ_norm * Z_norm, axis=1, keepdims=True)
            )
            grads[f"W{l}"] = dZ @ A_prev.T
            dA = p[f"W{l}"].T @ dZ
        return grads

    def cost(self, AL: np.ndarray, Y: np.ndarray) -> float:
        """Mean cross-entropy ``-1/m sum Y log(AL)``."""
        return float(-np.sum(Y * np.log(AL)) / Y.shape[1])

    def adam(self, grads: dict[str, np.ndarray]) -> None:
        """``v = b1 v + (1 - b1) g``, ``s = b2 s + (1 - b2) g**2``,
        ``W -= lr * v_hat / (sqrt(s_hat) + eps)`` with ``v_hat = v / (1 - b1**t)``."""
        b1, b2, eps, lr = 0.9, 0.999, 1e-8, self.w.learning_rate
        self.t += 1
        for k, g in grads.items():
            self.v[k] = b1 * self.v[k] + (1 - b1) * g
            self.s[k] = b2 * self.s[k] + (1 - b2) * g**2
            v_hat = self.v[k] / (1 - b1**self.t)
            s_hat = self.s[k] / (1 - b2**self.t)
            self.params[k] -= lr * v_hat / (np.sqrt(s_hat) + eps)

    def epoch(self) -> float:
        """One epoch over freshly shuffled mini-batches; returns the mean cost."""
        b, m = self.w.batch_size, self.X.shape[1]
        permutation = self.rng.permutation(m)
        X, Y = self.X[:, permutation], self.Y[:, permutation]
        costs = []
        for k in range(0, m, b):
            AL, caches = self.forward(X[:, k : k + b])
            costs.append(self.cost(AL, Y[:, k : k + b]))
            self.adam(self.backward(AL, Y[:, k : k + b], caches))
        return float(np.mean(costs))


def numpy_course(w: Workload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """One epoch of :class:`NumpyMLP`."""
    model = NumpyMLP(w, x, y)

    def epoch() -> None:
        model.epoch()

    return epoch


# -- reporting ---------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """CPU model (with its family/model numbers from /proc/cpuinfo), core count and versions."""
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = info.get("model name", "unknown")
    if "cpu family" in info:
        cpu += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
    }


def table(
    w: Workload, timings: Mapping[str, Timing], peak: float, reference: str | None = None
) -> list[dict[str, Any]]:
    """One row per implementation: throughput, ratio to ``reference``, GFLOP/s, share of peak."""
    base = timings[reference].samples_per_s(w) if reference else None
    rows = []
    for name, t in timings.items():
        gflops = t.gflops(w)
        rows.append(
            {
                "name": name,
                "first_epoch_s": t.first_s,
                "median_epoch_s": t.median_s,
                "samples_per_s": t.samples_per_s(w),
                "ratio": t.samples_per_s(w) / base if base else None,
                "gflops": gflops,
                "needed_gflops": t.gflops(w, needed=True),
                "peak_share": gflops / peak,
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]], reference: str) -> str:
    """The rows as an aligned text table."""
    head = (
        f"{'implementation':<16} {'first epoch':>11} {'epoch':>8} {'samples/s':>10} "
        f"{'vs ' + reference:>16} {'GFLOP/s':>8} {'(needed)':>8} {'of peak':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['name']:<16} {r['first_epoch_s']:>10.2f}s {r['median_epoch_s']:>7.3f}s "
            f"{r['samples_per_s']:>10,.0f} {r['ratio']:>15.2f}x {r['gflops']:>8.1f} "
            f"{r['needed_gflops']:>8.1f} {r['peak_share']:>8.1%}"
        )
    return "\n".join(lines)


def describe(w: Workload, peak: Mapping[str, float]) -> str:
    """The machine, the workload, the FLOP count and the measured matmul peak, for a header."""
    m = machine()
    return "\n".join(
        [
            f"machine: {m['cpu']}, {m['cores']} cores, jax {m['jax']} ({m['backend']}), "
            f"numpy {m['numpy']}",
            f"workload: MLP {'-'.join(map(str, w.sizes))}, ReLU, batch norm, dropout keep "
            f"{w.keep_prob}, Adam {w.learning_rate:g}, batch {w.batch_size}, float32, "
            f"{w.num_samples} samples ({w.steps_per_epoch} steps per epoch)",
            f"FLOPs per step: 6*b*sum(n_in*n_out) = {w.flops_per_step / 1e6:.1f} M "
            f"(needed, without the first layer's input gradient: "
            f"{w.needed_flops_per_step / 1e6:.1f} M)",
            f"float32 matmul peak: {peak['peak']:.0f} GFLOP/s (JAX {peak['jax']:.0f}, "
            f"NumPy {peak['numpy']:.0f})",
        ]
    )
