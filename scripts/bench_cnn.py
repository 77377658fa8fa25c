"""Convolutional networks: jaxdl against its peers, and the XLA:CPU loop-body convolution check.

    python scripts/bench_cnn.py [--quick] [--repeats N] [--rounds 3] [--workloads cnn1d,cnn2d]
                                [--no-sweep] [--json PATH]

Workloads (softmax cross-entropy over 10 classes, AdamW lr 1e-3 / weight decay 1e-4, batch 100,
float32, synthetic standard-normal inputs and random labels):

- ``cnn1d``: Conv(1->25, k5, s2) ReLU, Conv(25->25, k3, s2) ReLU, Conv(25->25, k3, s2) ReLU,
  Flatten, Dense(10) on 40-sample 1-D signals (``(40, 1)``), 10000 samples
- ``cnn2d``: two blocks Conv(3x3, 16 then 32 filters, SAME) BatchNorm ReLU MaxPool(2x2), then
  Flatten, Dense(10) on 28x28x1 images, 1000 samples

Rows, each measured in a process of its own (as a user runs one framework), ``--rounds``
times, the rows taking turns, every epoch right after the one before as in a training run
(``--rounds 0``: all rows in one process taking turns, each epoch after 0.3 s of rest, which
``benchlib.measure`` gives OpenMP threads to stop spinning; it costs the scanned epoch split
over two devices about a fifth of its speed, see docs/benchmarks.md):

1. ``jaxdl_scan``: ``jaxdl.train.run_epoch`` (the epoch in one ``lax.scan``) with ``layers.Conv``,
   on one CPU device; ``jaxdl_train``: the same epoch as ``jaxdl train`` runs it, each mini-batch
   split over one CPU device per core where ``jaxdl.infra.parallel.cpu_split`` chooses that (the
   benchmark starts JAX with one CPU device per core; every other row uses the first)
2. ``jaxdl_scan_lax_grad``: row 1 with JAX's own gradient of ``lax.conv_general_dilated`` in every
   Conv (what ``layers.Conv`` did before its written-out weight gradient)
3. ``jaxdl_step``: ``Trainer.train_step`` jitted, called per mini-batch from Python
4. ``jax_optax_step`` / ``jax_optax_scan``: the model hand-written with ``lax.conv_general_dilated``
   and ``optax.adamw``, a jitted step per batch / the epoch in one ``lax.scan``;
   ``jax_optax_scan_fast_conv``: that scan with ``jaxdl.layers.convolution.conv`` (the
   written-out gradient without the rest of jaxdl's epoch)
5. ``flax_optax``: ``flax.linen`` (``nn.Conv``, ``nn.BatchNorm``, ``nn.max_pool``) + optax, a
   jitted ``train_step`` per batch as the flax documentation writes it
6. ``torch``: PyTorch on the CPU, when installed (left out otherwise); ``torch_compile``: the
   same with the model through ``torch.compile`` (left out where it fails)

GFLOP/s counts the convolutions' and the dense layer's multiply-adds, 3x the forward pass
(forward, input and weight gradient), 2 FLOPs each.

The ``repro`` figures time jax-ml/jax#12868 itself: the gradient step of one ``NWC`` convolution
(40 batches of 100x20x25, kernel 3x25x25) jitted and called 40 times against the same 40 steps in
one ``lax.scan``. While ``scan / jit`` is well above 1 XLA still leaves the loop body's weight
gradient in its slow layout and Conv's written-out gradient is needed; rows 2 and 4b show the
same on the whole networks.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import benchlib
import jax
import jax.numpy as jnp
import numpy as np
from benchlib import EpochFn
from jax import lax

from jaxdl import layers
from jaxdl.hyperparams import hyperparams
from jaxdl.infra import devices, parallel
from jaxdl.infra.atomic import write_json
from jaxdl.layers.convolution import conv, conv_reference, explicit_padding
from jaxdl.sweep import run_sweep
from jaxdl.train import Keys, Trainer, run_epoch, run_evaluate, run_init

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = (
    "jaxdl_scan",
    "jaxdl_train",
    "jaxdl_scan_lax_grad",
    "jaxdl_step",
    "jax_optax_step",
    "jax_optax_scan",
    "jax_optax_scan_fast_conv",
    "flax_optax",
    "torch",
    "torch_compile",
)
# rows that use jaxdl's convolution or are jaxdl itself: not peers
OURS = ("jaxdl_scan", "jaxdl_train", "jaxdl_scan_lax_grad", "jaxdl_step",
        "jax_optax_scan_fast_conv")
DIMENSION_NUMBERS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}

# A network as a list of blocks: ("conv", features, kernel, strides), ("bn",), ("relu",),
# ("pool", window), ("flatten",), ("dense", units).
SPECS: dict[str, tuple[tuple, ...]] = {
    "cnn1d": (
        ("conv", 25, (5,), (2,)), ("relu",), ("conv", 25, (3,), (2,)), ("relu",),
        ("conv", 25, (3,), (2,)), ("relu",), ("flatten",), ("dense", 10),
    ),
    "cnn2d": (
        ("conv", 16, (3, 3), (1, 1)), ("bn",), ("relu",), ("pool", (2, 2)),
        ("conv", 32, (3, 3), (1, 1)), ("bn",), ("relu",), ("pool", (2, 2)),
        ("flatten",), ("dense", 10),
    ),
}
INPUT_SHAPES = {"cnn1d": (40, 1), "cnn2d": (28, 28, 1)}


@dataclasses.dataclass(frozen=True)
class LaxGradConv(layers.Conv):
    """``layers.Conv`` with JAX's own gradient of ``lax.conv_general_dilated`` (the row that
    shows what the written-out weight gradient saves; a class of its own, so no compiled
    program is shared with ``layers.Conv``)."""

    def _conv(self, x: jax.Array, w: jax.Array) -> jax.Array:
        pads = explicit_padding(
            x.shape[1:-1], self.kernel_size, self.strides, self.padding, self.dilation
        )
        return conv_reference(x, w.astype(x.dtype), self.strides, pads, self.dilation,
                              self.groups)


@dataclasses.dataclass(frozen=True)
class CNNWorkload:
    """One CNN problem; it has the attributes ``benchlib``'s jaxdl rows and table read."""

    name: str = "cnn1d"
    num_samples: int = 10000
    batch_size: int = 100
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    bn_momentum: float = 0.9
    bn_eps: float = 1e-5
    seed: int = 0

    @property
    def spec(self) -> tuple[tuple, ...]:
        """The blocks of the network."""
        return SPECS[self.name]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape."""
        return INPUT_SHAPES[self.name]

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch."""
        return self.num_samples // self.batch_size

    @property
    def forward_flops(self) -> int:
        """Multiply-adds (x2) of one example's convolutions and dense layer."""
        flops, shape = 0, self.input_shape
        for layer, block in zip(self.model().layers, self.spec):
            out = _init_shape(layer, shape)
            if block[0] == "conv":
                flops += 2 * math.prod(out) * math.prod(block[2]) * shape[-1]
            elif block[0] == "dense":
                flops += 2 * math.prod(shape) * block[1]
            shape = out
        return flops

    @property
    def flops_per_step(self) -> int:
        """Forward, input gradient and weight gradient: 3x the forward FLOPs per example."""
        return 3 * self.forward_flops * self.batch_size

    @property
    def needed_flops_per_step(self) -> int:
        """As ``flops_per_step`` (the first layer's input gradient is not subtracted)."""
        return self.flops_per_step

    def model(self, conv: type = layers.Conv) -> layers.Sequential:
        """The network from ``jaxdl.layers`` (``conv`` builds its convolutions)."""
        built: list[Any] = []
        for block in self.spec:
            kind = block[0]
            if kind == "conv":
                built.append(conv(block[1], block[2], block[3]))
            elif kind == "bn":
                built.append(layers.BatchNorm(self.bn_momentum, self.bn_eps))
            elif kind == "relu":
                built.append(layers.Relu())
            elif kind == "pool":
                built.append(layers.MaxPool(block[1]))
            elif kind == "flatten":
                built.append(layers.Flatten())
            else:
                built.append(layers.Dense(block[1]))
        return layers.Sequential(*built, input_shape=self.input_shape)

    def trainer(self, model: Any = None) -> Trainer:
        """AdamW, batch ``batch_size``."""
        model = self.model() if model is None else model
        return Trainer(model, optimizer="adamw", batch_size=self.batch_size)

    def hyperparams(self) -> dict[str, jax.Array]:
        """Learning rate and weight decay."""
        return hyperparams(learning_rate=self.learning_rate, weight_decay=self.weight_decay)


def _init_shape(layer: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    found: list[tuple[int, ...]] = []

    def init(key):
        out, params, state = layer.init(key, shape)
        found.append(tuple(out))
        return params, state

    jax.eval_shape(init, jax.random.key(0))
    return found[0]


def make_data(w: CNNWorkload) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal inputs (float32) and labels in [0, 10)."""
    rng = np.random.default_rng(w.seed)
    x = rng.standard_normal((w.num_samples, *w.input_shape), dtype=np.float32)
    return x, rng.integers(0, 10, w.num_samples).astype(np.int32)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# -- jaxdl -------------------------------------------------------------------------------------
def jaxdl_scan(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """``run_epoch`` with ``layers.Conv``."""
    return benchlib.jaxdl_scan(w, x, y, trainer=w.trainer())  # type: ignore[arg-type]


def train_devices(w: CNNWorkload) -> list[jax.Device]:
    """The CPU devices ``jaxdl train`` splits this workload's mini-batches over."""
    model = w.trainer().model
    return parallel.cpu_split(model, model.input_shape, w.batch_size, jax.devices("cpu"))


def jaxdl_train(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """``run_epoch`` split over the CPU devices ``jaxdl train`` chooses (``cpu_split``)."""
    trainer = parallel.data_parallel(w.trainer(), train_devices(w))
    return benchlib.jaxdl_scan(w, x, y, trainer=trainer)  # type: ignore[arg-type]


def jaxdl_scan_lax_grad(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """``run_epoch`` with JAX's own convolution gradient."""
    trainer = w.trainer(w.model(LaxGradConv))
    return benchlib.jaxdl_scan(w, x, y, trainer=trainer)  # type: ignore[arg-type]


def jaxdl_step(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn:
    """``Trainer.train_step`` jitted, per mini-batch."""
    return benchlib.jaxdl_loop(w, x, y)  # type: ignore[arg-type]


# -- plain JAX + optax -------------------------------------------------------------------------
def _plain_model(w: CNNWorkload, fast_conv: bool = False) -> tuple[dict, list, Callable]:
    """Parameters, batch-norm statistics and ``loss(params, stats, x, y) -> (loss, stats)``
    written with ``lax`` directly (``fast_conv``: with ``jaxdl.layers.convolution.conv``)."""
    params: dict[str, list] = {"W": [], "b": [], "gamma": [], "beta": []}
    stats: list = []
    shape = w.input_shape
    key = jax.random.key(w.seed)
    for block in w.spec:
        key, sub = jax.random.split(key)
        if block[0] == "conv":
            fan_in = math.prod(block[2]) * shape[-1]
            params["W"].append(jax.random.normal(sub, (*block[2], shape[-1], block[1]))
                               * np.sqrt(2 / fan_in))
            params["b"].append(jnp.zeros(block[1]))
            shape = (*(-(-n // s) for n, s in zip(shape[:-1], block[3])), block[1])
        elif block[0] == "bn":
            params["gamma"].append(jnp.ones(shape[-1]))
            params["beta"].append(jnp.zeros(shape[-1]))
            stats.append((jnp.zeros(shape[-1]), jnp.ones(shape[-1])))
        elif block[0] == "pool":
            shape = (*(n // k for n, k in zip(shape[:-1], block[1])), shape[-1])
        elif block[0] == "flatten":
            shape = (math.prod(shape),)
        elif block[0] == "dense":
            params["W"].append(jax.random.normal(sub, (shape[0], block[1])) * np.sqrt(2 / shape[0]))
            params["b"].append(jnp.zeros(block[1]))
    optax = importlib.import_module("optax")

    def loss_fn(params, stats, xb, yb):
        a, new_stats, wi, bi = xb, [], 0, 0
        for block in w.spec:
            if block[0] == "conv":
                if fast_conv:
                    pads = explicit_padding(a.shape[1:-1], block[2], block[3], "SAME",
                                            (1,) * len(block[2]))
                    a = conv(a, params["W"][wi], block[3], pads, (1,) * len(block[2]))
                else:
                    a = lax.conv_general_dilated(
                        a, params["W"][wi], block[3], "SAME",
                        dimension_numbers=DIMENSION_NUMBERS[len(block[2])],
                    )
                a = a + params["b"][wi]
                wi += 1
            elif block[0] == "bn":
                axes = tuple(range(a.ndim - 1))
                mean, var = jnp.mean(a, axis=axes), jnp.var(a, axis=axes)
                a = ((a - mean) * lax.rsqrt(var + w.bn_eps) * params["gamma"][bi]
                     + params["beta"][bi])
                m0, v0 = stats[bi]
                new_stats.append((w.bn_momentum * m0 + (1 - w.bn_momentum) * mean,
                                  w.bn_momentum * v0 + (1 - w.bn_momentum) * var))
                bi += 1
            elif block[0] == "relu":
                a = jax.nn.relu(a)
            elif block[0] == "pool":
                window = (1, *block[1], 1)
                a = lax.reduce_window(a, -jnp.inf, lax.max, window, window, "VALID")
            elif block[0] == "flatten":
                a = a.reshape(a.shape[0], -1)
            else:
                a = a @ params["W"][wi] + params["b"][wi]
        loss = optax.softmax_cross_entropy_with_integer_labels(a, yb).mean()
        return loss, lax.stop_gradient(new_stats)

    return params, stats, loss_fn


def _plain_step(w: CNNWorkload, fast_conv: bool = False) -> tuple[Any, Callable]:
    optax = importlib.import_module("optax")
    tx = optax.adamw(w.learning_rate, weight_decay=w.weight_decay)
    params, stats, loss_fn = _plain_model(w, fast_conv)

    def step(carry, xb, yb):
        params, opt_state, stats = carry
        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, stats), loss

    return (params, tx.init(params), stats), step


def jax_optax_step(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn | None:
    """Plain JAX + optax, a jitted step per mini-batch."""
    if _optional("optax") is None:
        return None
    carry, step = _plain_step(w)
    jitted = jax.jit(step, donate_argnums=(0,))
    batches = benchlib.device_batches(w, x, y)  # type: ignore[arg-type]
    box = {"carry": carry}

    def epoch() -> None:
        carry = box["carry"]
        for xb, yb in batches:
            carry, loss = jitted(carry, xb, yb)
        jax.block_until_ready((carry, loss))
        box["carry"] = carry

    return epoch


def jax_optax_scan(
    w: CNNWorkload, x: np.ndarray, y: np.ndarray, fast_conv: bool = False
) -> EpochFn | None:
    """Plain JAX + optax, the epoch (shuffle included) in one ``lax.scan``."""
    if _optional("optax") is None:
        return None
    carry, step = _plain_step(w, fast_conv)

    @functools.partial(jax.jit, donate_argnums=(0,))
    def run(carry, x, y, key):
        order = jax.random.permutation(key, w.num_samples)
        shape = (w.steps_per_epoch, w.batch_size)
        xs, ys = x[order].reshape(shape + x.shape[1:]), y[order].reshape(shape)
        return lax.scan(lambda c, b: step(c, *b), carry, (xs, ys))

    xd, yd = jax.device_put(x), jax.device_put(y)
    box = {"carry": carry, "epoch": 0}

    def epoch() -> None:
        key = jax.random.fold_in(jax.random.key(w.seed + 1), box["epoch"])
        carry, losses = run(box["carry"], xd, yd, key)
        jax.block_until_ready((carry, losses))
        box["carry"], box["epoch"] = carry, box["epoch"] + 1

    return epoch


# -- flax.linen + optax --------------------------------------------------------------------------
def flax_optax(w: CNNWorkload, x: np.ndarray, y: np.ndarray) -> EpochFn | None:
    """``flax.linen`` + ``optax.adamw`` with a jitted ``train_step`` per mini-batch."""
    nn, optax = _optional("flax.linen"), _optional("optax")
    if nn is None or optax is None:
        return None
    from flax.training import train_state

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, a, train: bool):
            for block in w.spec:
                if block[0] == "conv":
                    a = nn.Conv(block[1], block[2], block[3], padding="SAME")(a)
                elif block[0] == "bn":
                    a = nn.BatchNorm(use_running_average=not train, momentum=w.bn_momentum,
                                     epsilon=w.bn_eps)(a)
                elif block[0] == "relu":
                    a = nn.relu(a)
                elif block[0] == "pool":
                    a = nn.max_pool(a, block[1], block[1])
                elif block[0] == "flatten":
                    a = a.reshape(a.shape[0], -1)
                else:
                    a = nn.Dense(block[1])(a)
            return a

    class TrainState(train_state.TrainState):
        batch_stats: Any

    model = CNN()
    variables = model.init(jax.random.key(w.seed), jnp.zeros((1, *w.input_shape)), train=False)
    state = TrainState.create(
        apply_fn=model.apply, params=variables["params"],
        batch_stats=variables.get("batch_stats", {}),
        tx=optax.adamw(w.learning_rate, weight_decay=w.weight_decay),
    )

    @jax.jit
    def train_step(state, batch):
        def loss_fn(params):
            logits, updates = state.apply_fn(
                {"params": params, "batch_stats": state.batch_stats}, batch[0], train=True,
                mutable=["batch_stats"],
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
            return loss, updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        return state.replace(batch_stats=updates.get("batch_stats", {})), loss

    batches = benchlib.device_batches(w, x, y)  # type: ignore[arg-type]
    box = {"state": state}

    def epoch() -> None:
        state = box["state"]
        for batch in batches:
            state, loss = train_step(state, batch)
        jax.block_until_ready((state, loss))
        box["state"] = state

    return epoch


# -- PyTorch -------------------------------------------------------------------------------------
def torch_cnn(w: CNNWorkload, x: np.ndarray, y: np.ndarray, compiled: bool = False
              ) -> EpochFn | None:
    """PyTorch CPU (channels first), ``torch.optim.AdamW``; with ``compiled`` the model goes
    through ``torch.compile`` (its first epoch compiles). None when PyTorch is not installed, or
    (``compiled``) when ``torch.compile`` fails here (e.g. no C++ compiler), with a note."""
    torch = _optional("torch")
    if torch is None:
        return None
    nn = torch.nn
    torch.manual_seed(w.seed)
    dims = len(w.input_shape) - 1
    conv_cls, bn_cls, pool_cls = (
        (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if dims == 1
        else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
    )
    mods: list[Any] = []
    channels = w.input_shape[-1]
    for block in w.spec:
        if block[0] == "conv":
            k = block[2]
            mods.append(conv_cls(channels, block[1], k, block[3],
                                 padding=tuple((kk - 1) // 2 for kk in k)))
            channels = block[1]
        elif block[0] == "bn":
            mods.append(bn_cls(channels, eps=w.bn_eps, momentum=1 - w.bn_momentum))
        elif block[0] == "relu":
            mods.append(nn.ReLU())
        elif block[0] == "pool":
            mods.append(pool_cls(block[1]))
        elif block[0] == "flatten":
            mods.append(nn.Flatten())
        else:
            mods.append(nn.LazyLinear(block[1]))
    model = nn.Sequential(*mods).train()
    xt = torch.from_numpy(np.moveaxis(x, -1, 1).copy())
    model(xt[:1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=w.learning_rate,
                                  weight_decay=w.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    yt = torch.from_numpy(y.astype(np.int64))
    batches = list(zip(xt.split(w.batch_size), yt.split(w.batch_size)))
    forward = torch.compile(model) if compiled else model

    def epoch() -> None:
        for xb, yb in batches:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(forward(xb), yb)
            loss.backward()
            optimizer.step()
        loss.item()

    if compiled:
        try:
            loss_fn(forward(batches[0][0]), batches[0][1]).backward()
        except Exception as error:  # torch.compile's failures have no common type
            print(f"torch_compile row left out: torch.compile failed here ({error!r:.200})")
            return None
    return epoch


MAKERS: dict[str, Callable[[CNNWorkload, np.ndarray, np.ndarray], EpochFn | None]] = {
    "jaxdl_scan": jaxdl_scan,
    "jaxdl_train": jaxdl_train,
    "jaxdl_scan_lax_grad": jaxdl_scan_lax_grad,
    "jaxdl_step": jaxdl_step,
    "jax_optax_step": jax_optax_step,
    "jax_optax_scan": jax_optax_scan,
    "jax_optax_scan_fast_conv": functools.partial(jax_optax_scan, fast_conv=True),
    "flax_optax": flax_optax,
    "torch": torch_cnn,
    "torch_compile": functools.partial(torch_cnn, compiled=True),
}


# -- jax-ml/jax#12868 ------------------------------------------------------------------------------
def repro(repeats: int = 5) -> dict[str, float]:
    """The issue's gradient step of one NWC convolution: 40 jitted calls against one scan of 40
    steps (milliseconds, best of ``repeats``), and their ratio."""
    xs, w0 = jnp.ones((40, 100, 20, 25)), jnp.ones((3, 25, 25))

    def conv(x, w):
        return lax.conv_general_dilated(x, w, (1,), ((1, 1),),
                                        dimension_numbers=DIMENSION_NUMBERS[1])

    def step(w, x):
        return w - 1e-3 * jax.grad(lambda w: (conv(x, w) ** 2).sum())(w)

    one = jax.jit(step)
    loop = jax.jit(lambda w, xs: lax.scan(lambda w, x: (step(w, x), None), w, xs)[0])

    def calls() -> None:
        w = w0
        for i in range(40):
            w = one(w, xs[i])
        w.block_until_ready()

    def scanned() -> None:
        loop(w0, xs).block_until_ready()

    times = {}
    for name, fn in (("jit", calls), ("scan", scanned)):
        fn()
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        times[name] = best * 1e3
    return {"repro_jit_ms": times["jit"], "repro_scan_ms": times["scan"],
            "repro_scan_over_jit": times["scan"] / times["jit"]}


def _seconds(fn: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call (CPU time moves less on a shared
    machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def sweep_vs_solo(w: CNNWorkload, configs: int = 16, epochs: int = 1,
                  repeats: int = 2) -> dict[str, float]:
    """``configs`` learning rates trained by one vmapped ``run_sweep`` against the same configs
    one by one (``run_init``, ``run_epoch``, ``run_evaluate``; one compiled epoch), ``epochs``
    epochs each, validated on 500 samples; best of ``repeats`` after a warm-up run each, in
    wall-clock and in process CPU seconds. Each as the command runs it: the sweep's members
    spread over every device (``jaxdl sweep``), each config alone on the devices ``jaxdl
    train`` splits its mini-batches over (:func:`train_devices`)."""
    x, y = make_data(dataclasses.replace(w, num_samples=w.num_samples + 500))
    data = (x[:w.num_samples], y[:w.num_samples], x[w.num_samples:], y[w.num_samples:])
    trainer = w.trainer()
    rates = np.geomspace(1e-4, 1e-2, configs)
    grid = [{"learning_rate": float(r), "weight_decay": w.weight_decay} for r in rates]
    solo = parallel.data_parallel(trainer, train_devices(w))
    device_data = parallel.replicate(tuple(jax.device_put(a) for a in data), solo.mesh)

    def vmapped() -> None:
        run_sweep(grid, data, trainer=trainer, epochs=epochs, seed=0)

    def one_by_one() -> None:
        keys = Keys.from_seed(0)
        for config in grid:
            hp = hyperparams(**config)
            ts = parallel.replicate(run_init(solo, keys.init, hp), solo.mesh)
            for epoch in range(epochs):
                ts, _ = run_epoch(solo, ts, hp, device_data[0], device_data[1], keys, epoch)
            jax.block_until_ready(run_evaluate(solo, ts, hp, *device_data[2:]))

    best: dict[str, float] = {}
    for name, fn in (("sweep_vmap", vmapped), ("sweep_sequential", one_by_one)):
        fn()
        runs = [_seconds(fn) for _ in range(repeats)]
        best[f"{name}_s"] = min(wall for wall, _ in runs)
        best[f"{name}_cpu_s"] = min(cpu for _, cpu in runs)
    best["sweep_configs"] = configs
    best["sweep_devices"], best["sweep_solo_devices"] = len(jax.devices()), solo.mesh.size
    best["sweep_speedup"] = best["sweep_sequential_s"] / best["sweep_vmap_s"]
    best["sweep_cpu_speedup"] = best["sweep_sequential_cpu_s"] / best["sweep_vmap_cpu_s"]
    return best


def one_row(w: CNNWorkload, name: str, repeats: int, warm_up: int = 2) -> benchlib.Timing | None:
    """Row ``name`` alone in this process: its first epoch, ``warm_up`` more epochs untimed
    (PyTorch's first iterations choose their kernels), then ``repeats`` epochs back to back, as a
    training run has them (None where the row is not installed)."""
    x, y = make_data(w)
    epoch = MAKERS[name](w, x, y)
    if epoch is None:
        return None
    first = _seconds(epoch)[0]
    for _ in range(warm_up):
        epoch()
    times = [_seconds(epoch)[0] for _ in range(repeats)]
    return benchlib.Timing(first, statistics.median(times), tuple(times))


def row_in_a_process(w: CNNWorkload, name: str, repeats: int) -> benchlib.Timing | None:
    """:func:`one_row` in a new Python process (started as ``main`` starts: one CPU device per
    core), so that no other row's threads, caches or compiled programs share it."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import bench_cnn; "
            f"bench_cnn.main(['--one-row', {name!r}, '--workloads', {w.name!r}, "
            f"'--samples', '{w.num_samples}', '--repeats', '{repeats}'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"row {name} of {w.name} failed:\n{done.stderr[-2000:]}")
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    return None if timing is None else benchlib.Timing(
        timing["first_s"], timing["median_s"], tuple(timing["epochs_s"]))


def measure_in_processes(
    w: CNNWorkload, rows: Sequence[str], repeats: int, rounds: int
) -> dict[str, benchlib.Timing]:
    """Each row in a process of its own (:func:`row_in_a_process`), ``rounds`` times, the rows
    taking turns (each round starts one row later); a row's figure is the median of all its
    epochs over the rounds, its first epoch the first round's."""
    runs: dict[str, list[benchlib.Timing]] = {name: [] for name in rows}
    for r in range(rounds):
        for name in [*rows[r % len(rows):], *rows[:r % len(rows)]]:
            timing = row_in_a_process(w, name, repeats)
            if timing is not None:
                runs[name].append(timing)
    return {
        name: benchlib.Timing(
            found[0].first_s,
            statistics.median(e for t in found for e in t.epochs_s),
            tuple(e for t in found for e in t.epochs_s),
        )
        for name, found in runs.items() if found
    }


def run(
    workloads: Sequence[CNNWorkload], repeats: int = 5, rows: Sequence[str] = ROWS,
    settle_s: float = 0.3, sweep: bool = True, peak_size: int = 2048, rounds: int = 0,
) -> dict[str, Any]:
    """Every installed row of every workload, and the repro; flat figures plus the tables.
    With ``rounds`` each row runs in a process of its own that many times
    (:func:`measure_in_processes`); with 0 all rows share this one, taking turns, each epoch
    after ``settle_s`` seconds of rest (``benchlib.measure``)."""
    result: dict[str, Any] = {"tables": {}, "rounds": rounds}
    peak = benchlib.matmul_peak(peak_size)
    result["matmul_peak_gflops"] = peak["peak"]
    for w in workloads:
        if rounds:
            timings = measure_in_processes(w, rows, repeats, rounds)
        else:
            x, y = make_data(w)
            epochs = benchlib.installed(MAKERS, rows, w, x, y)
            timings = benchlib.measure(epochs, repeats, settle_s)
        table = benchlib.table(w, timings, peak["peak"], reference=ROWS[0])  # type: ignore[arg-type]
        result["tables"][w.name] = table
        for row in table:
            result[f"{w.name}_{row['name']}_samples_per_s"] = row["samples_per_s"]
            result[f"{w.name}_{row['name']}_ratio"] = row["ratio"]
            result[f"{w.name}_{row['name']}_gflops"] = row["gflops"]
        peers = [r["ratio"] for r in table if r["name"] not in OURS]
        result[f"{w.name}_worst_peer_ratio"] = max(peers, default=None)
        result[f"{w.name}_train_devices"] = len(train_devices(w))
        train = result.get(f"{w.name}_jaxdl_train_ratio")
        result[f"{w.name}_train_over_fastest_peer"] = (
            train / max(peers) if peers and train else None)
    result.update(repro(repeats))
    before = result.get(f"{workloads[0].name}_jaxdl_scan_lax_grad_ratio")
    # the written-out gradient's gain on the first workload's scanned epoch
    result["speedup"] = 1 / before if before else None
    if sweep:
        result.update(sweep_vs_solo(workloads[0], repeats=max(repeats // 2, 1)))
    result["machine"] = benchlib.machine()
    result["torch"] = "installed" if _optional("torch") else "not installed (row left out)"
    return result


def report(workloads: Sequence[CNNWorkload], result: dict[str, Any]) -> str:
    """The tables and the repro as text."""
    m = result["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, jax {m['jax']} ({m['backend']}); "
             f"torch {result['torch']}",
             f"float32 matmul peak (the 'of peak' column): {result['matmul_peak_gflops']:.0f} "
             "GFLOP/s",
             f"each row in a process of its own, {result['rounds']} round(s), epochs back to back"
             if result["rounds"] else
             "every row in one process, taking turns, each epoch after 0.3 s of rest"]
    for w in workloads:
        table = result["tables"][w.name]
        lines += [
            "",
            f"{w.name}: {w.num_samples} samples, batch {w.batch_size}, "
            f"{w.flops_per_step / w.batch_size / 1e6:.2f} MFLOP per example (3x forward)",
            "\n".join(benchlib.format_table(table, ROWS[0]).splitlines()),
        ]
        worst = result[f"{w.name}_worst_peer_ratio"]
        if worst:
            lines.append(f"jaxdl_scan (one device) vs the fastest peer: {1 / worst:.2f}x")
        train = result.get(f"{w.name}_train_over_fastest_peer")
        if train:
            lines.append(
                f"jaxdl_train ({result[f'{w.name}_train_devices']} CPU device(s), as `jaxdl "
                f"train` runs it) vs the fastest peer: {train:.2f}x "
                f"({'met' if train >= 1 else 'MISSED'}: target >= 1)")
    lines += [
        "",
        "jax-ml/jax#12868 repro (one NWC conv's gradient step, 40 steps): "
        f"jitted x40 {result['repro_jit_ms']:.1f} ms, one scan {result['repro_scan_ms']:.1f} ms, "
        f"scan/jit {result['repro_scan_over_jit']:.2f} "
        f"({'still slow in loops' if result['repro_scan_over_jit'] > 1.5 else 'fixed?'})",
    ]
    if "sweep_speedup" in result:
        lines.append(
            f"{workloads[0].name} sweep of {result['sweep_configs']} learning rates, one epoch: "
            f"vmapped over {result['sweep_devices']} device(s) {result['sweep_vmap_s']:.2f} s, "
            f"one by one on {result['sweep_solo_devices']} "
            f"{result['sweep_sequential_s']:.2f} s, speedup {result['sweep_speedup']:.2f}x "
            f"({'met' if result['sweep_speedup'] >= 1.5 else 'MISSED'}: target >= 1.5x; "
            f"CPU time: vmapped {result['sweep_vmap_cpu_s']:.2f} s, one by one "
            f"{result['sweep_sequential_cpu_s']:.2f} s, {result['sweep_cpu_speedup']:.2f}x)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and repeats, one round")
    parser.add_argument("--repeats", type=int, help="steady-state epochs per row (5; quick 2)")
    parser.add_argument("--workloads", default="cnn1d,cnn2d",
                        help="comma-separated networks to run (cnn1d, cnn2d; default both); "
                        "the sweep runs the first")
    parser.add_argument("--no-sweep", action="store_true",
                        help="leave out the vmapped sweep against one by one")
    parser.add_argument("--rounds", type=int,
                        help="each row runs in a process of its own, this many times, the rows "
                        "taking turns, its epochs back to back (default 3; quick 1); 0: every "
                        "row in this one process, taking turns epoch by epoch after 0.3 s of "
                        "rest")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--one-row", choices=ROWS, help=argparse.SUPPRESS)  # a round's process
    parser.add_argument("--samples", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    devices.cpu_device_per_core()  # as `jaxdl train` starts (kept when JAX already runs)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPECS]
    if not names or unknown:
        parser.error(f"--workloads takes {', '.join(SPECS)} (comma-separated), got "
                     f"{args.workloads!r}")
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else 3
    if rounds < 0:
        parser.error(f"--rounds takes 0 or more, got {args.rounds}")
    scale = 5 if args.quick else 1
    sizes = {"cnn1d": 10000 // scale, "cnn2d": 1000 // scale}
    repeats = args.repeats or (2 if args.quick else 5)
    if args.one_row:
        timing = one_row(CNNWorkload(names[0], args.samples), args.one_row, repeats)
        print(json.dumps(None if timing is None else dataclasses.asdict(timing)))
        return
    workloads = [CNNWorkload(n, sizes[n]) for n in names]
    result = run(workloads, repeats, sweep=not args.no_sweep,
                 peak_size=1024 if args.quick else 2048, rounds=rounds)
    print(report(workloads, result))
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
