"""jaxdl.layers.convolution and Conv: the written-out gradient against JAX's own (strides,
SAME/VALID/explicit padding, dilation, groups, 1-D and 2-D, jit, vmap, scan, bfloat16), the
forward pass against a NumPy loop, a scanned training epoch against the plain convolution, the
weight gradient's layout in a compiled epoch, the new fields' validation and configs, and
``summary``."""

import dataclasses
import json
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxdl import layers as L
from jaxdl.hyperparams import hyperparams
from jaxdl.layers.convolution import conv, conv_reference, explicit_padding
from jaxdl.train import Keys, Trainer
from jaxdl.train.compiled import lower_epoch, run_init

# (input shape, kernel shape (*k, C / groups, O), strides, padding, dilation, groups)
CASES = [
    ((3, 11, 4), (3, 4, 5), (1,), "SAME", (1,), 1),
    ((3, 11, 4), (3, 4, 5), (2,), "SAME", (1,), 1),
    ((3, 12, 4), (5, 4, 6), (3,), "VALID", (1,), 1),
    ((3, 12, 4), (3, 4, 5), (2,), ((2, 1),), (2,), 1),
    ((3, 11, 6), (3, 2, 6), (2,), "SAME", (1,), 3),
    ((3, 11, 6), (3, 1, 6), (1,), ((1, 1),), (2,), 6),  # depthwise
    ((3, 5, 4), (3, 4, 4), (7,), ((3, 3),), (1,), 1),  # stride past the input: cropped span
    ((2, 9, 8, 3), (3, 3, 3, 4), (1, 1), "SAME", (1, 1), 1),
    ((2, 9, 8, 3), (3, 2, 3, 4), (2, 1), ((1, 0), (0, 2)), (1, 2), 1),
    ((2, 9, 8, 4), (3, 3, 2, 6), (2, 2), "VALID", (1, 1), 2),
    ((2, 9, 9, 4), (3, 3, 1, 4), (1, 2), "SAME", (2, 1), 4),  # depthwise 2-D, dilated
]
IDS = [f"{len(c[0]) - 2}d-s{c[2]}-{c[3] if isinstance(c[3], str) else 'pads'}-d{c[4]}-g{c[5]}"
       for c in CASES]


def operands(case, seed=0, dtype=jnp.float32):
    x_shape, w_shape, strides, padding, dilation, groups = case
    kx, kw = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, x_shape).astype(dtype)
    w = (jax.random.normal(kw, w_shape) / math.sqrt(math.prod(w_shape[:-1]))).astype(dtype)
    pads = explicit_padding(x_shape[1:-1], w_shape[:-2], strides, padding, dilation)
    return x, w, (strides, pads, dilation, groups)


def loss_of(fn, args):
    # a nonlinear cost so that dy differs from position to position
    return lambda x, w: jnp.sum(jnp.sin(fn(x, w, *args)) * jnp.arange(1.0, 1.0 + w.shape[-1]))


def assert_close(a, b, rtol=2e-6):
    """Equal to float32 round-off, relative to the largest entry."""
    scale = max(float(jnp.max(jnp.abs(b))), 1e-30)
    assert float(jnp.max(jnp.abs(a - b))) <= rtol * scale * 10, (a, b)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_equal_jax_grad_of_plain_conv(case):
    x, w, args = operands(case)
    fast = jax.jit(jax.value_and_grad(loss_of(conv, args), (0, 1)))(x, w)
    plain = jax.jit(jax.value_and_grad(loss_of(conv_reference, args), (0, 1)))(x, w)
    assert_close(fast[0], plain[0])
    for a, b in zip(fast[1], plain[1]):
        assert a.shape == b.shape
        assert_close(a, b)


@pytest.mark.parametrize("case", [CASES[3], CASES[5], CASES[8], CASES[10]], ids=lambda c: "")
def test_gradients_under_vmap_and_scan(case):
    """A vmapped batch of kernels (a sweep's members) and inputs, the weight updated in a scan.
    (Inputs stay near unit scale: with ``x * (1 + i)`` and ``x + i`` the sine loss is so
    ill-conditioned that both gradients drift 3e-4 to 6e-4 from a float64 run in 4 steps.)"""
    x, w, args = operands(case)
    members = 3
    xs = jnp.stack([x * (1 + 0.1 * i) for i in range(members)])
    ws = jnp.stack([w * (1 - 0.2 * i) for i in range(members)])

    def train(fn):
        def member(w, x):
            def step(w, i):
                return w - 0.01 * jax.grad(loss_of(fn, args), 1)(x + 0.1 * i, w), None
            return lax.scan(step, w, jnp.arange(4.0))[0]
        return jax.jit(jax.vmap(member))(ws, xs)

    assert_close(train(conv), train(conv_reference), rtol=1e-5)
    dx_fast = jax.vmap(jax.grad(loss_of(conv, args)))(xs, ws)
    dx_plain = jax.vmap(jax.grad(loss_of(conv_reference, args)))(xs, ws)
    assert_close(dx_fast, dx_plain)


def test_bfloat16_inputs_match_the_plain_conv():
    layer = L.Conv(5, (3,), strides=2, padding=((1, 2),), dilation=2)
    _, params, _ = layer.init(jax.random.key(0), (12, 4))
    x = jax.random.normal(jax.random.key(1), (3, 12, 4)).astype(jnp.bfloat16)

    def cost(params, fn):
        pads = explicit_padding((12,), (3,), (2,), layer.padding, (2,))
        y = fn(x, params["W"].astype(x.dtype), (2,), pads, (2,), 1) + params["b"]
        return jnp.sum(jnp.sin(y.astype(jnp.float32)))

    fast = jax.grad(lambda p: jnp.sum(jnp.sin(
        layer.apply(p, {}, x, train=True)[0].astype(jnp.float32))))(params)
    plain = jax.grad(cost)(params, conv_reference)
    assert fast["W"].dtype == jnp.float32
    assert_close(fast["W"], plain["W"], rtol=1e-2)  # bfloat16 round-off
    assert_close(fast["b"], plain["b"], rtol=1e-2)


def _np_conv1d(x, w, strides, pads, dilation, groups):
    """Grouped, dilated, strided cross-correlation by loops, channels last."""
    (k, cg, out), s, d = w.shape, strides[0], dilation[0]
    x = np.pad(x, ((0, 0), pads[0], (0, 0)))
    n_out = (x.shape[1] - d * (k - 1) - 1) // s + 1
    og = out // groups
    y = np.zeros((x.shape[0], n_out, out))
    for i in range(n_out):
        for o in range(out):
            g = o // og
            window = x[:, s * i: s * i + d * (k - 1) + 1: d, g * cg:(g + 1) * cg]
            y[:, i, o] = np.einsum("nkc,kc->n", window, w[:, :, o])
    return y


@pytest.mark.parametrize("case", [c for c in CASES if len(c[0]) == 3], ids=lambda c: "")
def test_conv_layer_forward_matches_numpy_loops(case):
    x_shape, w_shape, strides, padding, dilation, groups = case
    layer = L.Conv(w_shape[-1], w_shape[:1], strides=strides, padding=padding,
                   dilation=dilation, groups=groups)
    shape, params, _ = layer.init(jax.random.key(0), x_shape[1:])
    x = np.asarray(jax.random.normal(jax.random.key(1), x_shape))
    pads = explicit_padding(x_shape[1:2], w_shape[:1], strides, padding, dilation)
    want = _np_conv1d(x, np.asarray(params["W"]), strides, pads, dilation, groups)
    got, _ = layer.apply(params, {}, jnp.asarray(x), train=False)
    assert params["W"].shape == w_shape and got.shape[1:] == shape == want.shape[1:]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_same_padding_with_dilation_keeps_the_size_as_lax_does():
    layer = L.Conv(4, (3, 3), strides=(2, 1), dilation=(1, 3))
    shape, params, _ = layer.init(jax.random.key(0), (9, 10, 2))
    x = jax.random.normal(jax.random.key(1), (2, 9, 10, 2))
    want = lax.conv_general_dilated(x, params["W"], (2, 1), "SAME", rhs_dilation=(1, 3),
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    got, _ = layer.apply(params, {}, x, train=False)
    assert shape == (5, 10, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------- the reference 1-D CNN, scanned
@dataclasses.dataclass(frozen=True)
class PlainConv(L.Conv):
    """Conv with JAX's own gradient of ``lax.conv_general_dilated`` (a distinct class: no
    compiled program of the fast one is reused)."""

    def _conv(self, x, w):
        pads = explicit_padding(x.shape[1:-1], self.kernel_size, self.strides, self.padding,
                                self.dilation)
        return conv_reference(x, w.astype(x.dtype), self.strides, pads, self.dilation,
                              self.groups)


def _cnn_1d(conv_layer=L.Conv):
    return L.Sequential(
        conv_layer(25, (5,), 2), L.Relu(), conv_layer(25, (3,), 2), L.Relu(),
        conv_layer(25, (3,), 2), L.Relu(), L.Flatten(), L.Dense(10), input_shape=(40, 1),
    )


def _epoch_params(conv_layer):
    """Two scanned AdamW epochs of the 1-D CNN built with ``conv_layer``."""
    trainer = Trainer(_cnn_1d(conv_layer), optimizer="adamw", batch_size=50)
    hp, keys = hyperparams(learning_rate=3e-3), Keys.from_seed(0)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((200, 40, 1)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, 200), jnp.int32)
    ts = run_init(trainer, keys.init, hp)
    epoch = jax.jit(lambda ts, e: trainer.epoch(ts, hp, x, y, keys, e))
    losses = []
    for e in range(2):
        ts, metrics = epoch(ts, jnp.int32(e))
        losses.append(metrics["cost"])
    return ts.params, jnp.concatenate(losses)


@pytest.mark.slow
def test_scanned_epoch_gives_the_plain_conv_params():
    fast, fast_costs = _epoch_params(L.Conv)
    plain, plain_costs = _epoch_params(PlainConv)
    assert_close(fast_costs, plain_costs, rtol=1e-5)
    assert bool(jnp.all(fast_costs[-4:] < fast_costs[:4].mean()))  # it trains
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(plain)):
        assert_close(a, b, rtol=1e-5)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA:CPU's convolution layouts")
def test_compiled_epoch_keeps_every_convolution_batch_first():
    """jax-ml/jax#12868: inside the epoch's loop JAX's own gradients compile to
    ``f0b_i0o->0bf`` (weights) and ``b0f_0oi->b0f`` (inputs), slow on CPU; every convolution
    of the Conv layers' epoch is in the fast batch-first, channels-last layout, as a jitted
    step's are, and 2-D: a 1-D Conv runs over a unit height axis (``b01f_01io->b01f``, which
    XLA:CPU hands to its YNNPACK kernels; ``b0f_0io->b0f`` stays on its generic path)."""
    trainer = Trainer(_cnn_1d(), optimizer="adamw", batch_size=50)
    hp, keys = hyperparams(), Keys.from_seed(0)
    x, y = jnp.zeros((100, 40, 1)), jnp.zeros((100,), jnp.int32)
    ts = run_init(trainer, keys.init, hp)
    text = lower_epoch(trainer, ts, hp, x, y, keys, jnp.int32(0)).compile().as_text()
    labels = re.findall(r"dim_labels=([\w>-]+)", text)
    assert len(labels) == 8  # 3 forward, 3 weight gradients, 2 input gradients
    assert set(labels) == {"b01f_01io->b01f"}, labels


# -------------------------------------------------------------------------- fields and configs
def test_new_fields_round_trip_through_json_config():
    layer = L.Conv(6, (3, 2), strides=(2, 1), padding=((1, 0), (2, 2)), dilation=(1, 2),
                   groups=3)
    config = json.loads(json.dumps(layer.to_config()))
    assert config["padding"] == [[1, 0], [2, 2]] and config["groups"] == 3
    assert L.from_config(config) == layer
    model = L.Sequential(layer, L.Flatten(), L.Dense(2), input_shape=(8, 8, 3))
    assert L.from_config(json.loads(json.dumps(model.to_config()))) == model


def test_old_config_without_the_new_fields_loads_with_defaults():
    old = {"type": "Conv", "features": 4, "kernel_size": [3], "strides": [2],
           "padding": "SAME", "use_bias": True, "initializer": "he", "init_scale": 0.01}
    layer = L.from_config(old)
    assert layer == L.Conv(4, (3,), 2) and layer.dilation == (1,) and layer.groups == 1


def test_single_padding_pair_and_int_dilation_spread_over_the_axes():
    layer = L.Conv(4, (3, 3), padding=[[1, 2]], dilation=2)
    assert layer.padding == ((1, 2), (1, 2)) and layer.dilation == (2, 2)
    assert L.Conv(4, (3,), padding="valid").padding == "VALID"


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": "FULL"}, "padding must be 'SAME', 'VALID' or one"),
    ({"padding": ((1, -1),)}, "non-negative"),
    ({"padding": ((1, 1), (1, 1), (1, 1))}, "per spatial axis"),
    ({"padding": ((1, 1, 1),)}, "(low, high)"),
    ({"padding": 3}, "padding must be"),
    ({"dilation": 0}, "dilation must be positive integers"),
    ({"dilation": (1, 2, 3)}, "dilation must have 2 entries"),
    ({"groups": 0}, "groups must be a positive int"),
    ({"groups": 3}, "features (8) must be a multiple of groups (3)"),
])
def test_bad_fields_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        L.Conv(8, (3, 3), **kwargs)


def test_groups_must_divide_the_input_channels_at_init():
    with pytest.raises(ValueError, match=r"groups=4 must divide the input channels \(6\)"):
        L.Conv(8, (3,), groups=4).init(jax.random.key(0), (10, 6))


def test_valid_kernel_larger_than_padded_input_is_refused():
    with pytest.raises(ValueError, match="larger than its input"):
        L.Conv(2, (3,), padding="VALID", dilation=3).init(jax.random.key(0), (6, 1))
    shape, _, _ = L.Conv(2, (3,), padding=((3, 3),), dilation=3).init(jax.random.key(0), (6, 1))
    assert shape == (6, 2)


def test_grouped_fan_in_is_the_group_receptive_field():
    _, params, _ = L.Conv(64, (3, 3), groups=4, initializer="he").init(
        jax.random.key(0), (6, 6, 32))
    assert params["W"].shape == (3, 3, 8, 64)
    # He: std sqrt(2 / fan_in) with fan_in = 3 * 3 * 8
    assert abs(float(jnp.std(params["W"])) / math.sqrt(2 / 72) - 1) < 0.05


# ---------------------------------------------------------------------------------- summary
def test_summary_lists_shapes_and_counts_of_each_layer():
    model = L.Sequential(
        L.Conv(16, (3, 3)), L.BatchNorm(), L.Relu(), L.MaxPool((2, 2)),
        L.Conv(32, (3, 3), groups=2), L.Flatten(), L.Dense(10), input_shape=(28, 28, 1),
    )
    text = L.summary(model)
    rows = text.splitlines()[2:9]
    params, state = model.init(jax.random.key(0))
    x = jnp.zeros((1, 28, 28, 1))
    for i, (row, layer, p) in enumerate(zip(rows, model.layers, params)):
        x, _ = layer.apply(p, state[i], x, train=False)
        count = sum(leaf.size for leaf in jax.tree.leaves(p))
        assert row.split()[0] == str(i) and f"{x.shape[1:]}" in row
        assert row.split()[-1] == f"{count:,}"
    assert f"Trainable params: {model.num_params:,}" in text
    assert "Non-trainable state: 33" in text  # mean + var of 16 channels and the step count


def test_summary_of_layers_needs_an_input_shape(capsys):
    with pytest.raises(ValueError, match="input_shape"):
        L.summary([L.Dense(3)])
    with pytest.raises(ValueError, match="differs from the model's"):
        L.summary(L.Sequential(L.Dense(3), input_shape=(4,)), input_shape=(5,))
    L.Sequential(L.Dense(3), input_shape=(4,)).summary()
    assert "Trainable params: 15" in capsys.readouterr().out


# --------------------------------------------------------------------------- the benchmark
@pytest.mark.slow
def test_bench_cnn_reports_rows_ratios_and_the_repro():
    """scripts/bench_cnn.py on a tiny run: the documented keys, ratios to row 1 (no timings
    checked)."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import bench_cnn

    w = bench_cnn.CNNWorkload("cnn1d", num_samples=200)
    rows = ("jaxdl_scan", "jaxdl_train", "jaxdl_scan_lax_grad", "jaxdl_step", "jax_optax_step")
    result = bench_cnn.run([w], repeats=1, rows=rows, settle_s=0, sweep=False, peak_size=64)
    for row in rows:
        assert result[f"cnn1d_{row}_samples_per_s"] > 0
    ratio = result["cnn1d_jaxdl_step_samples_per_s"] / result["cnn1d_jaxdl_scan_samples_per_s"]
    assert result["cnn1d_jaxdl_step_ratio"] == pytest.approx(ratio)
    assert result["speedup"] == pytest.approx(1 / result["cnn1d_jaxdl_scan_lax_grad_ratio"])
    # jaxdl_train against the one peer row: a ratio of the two rows' throughputs
    assert result["cnn1d_train_devices"] == len(bench_cnn.train_devices(w)) == 1
    assert result["cnn1d_train_over_fastest_peer"] == pytest.approx(
        result["cnn1d_jaxdl_train_samples_per_s"] / result["cnn1d_jax_optax_step_samples_per_s"])
    assert result["repro_scan_over_jit"] == pytest.approx(
        result["repro_scan_ms"] / result["repro_jit_ms"])
    # the forward multiply-adds of the three convolutions and the dense layer, x2
    assert w.forward_flops == 2 * (20 * 5 * 25 + 10 * 3 * 625 + 5 * 3 * 625 + 125 * 10)
    assert "jax-ml/jax#12868" in bench_cnn.report([w], result)
    json.dumps(result)


@pytest.mark.slow
def test_bench_cnn_rows_in_processes_of_their_own():
    """--rounds N: each row runs N times in a new process; its figure is the median of all its
    epochs from every round (first epoch: the first round's), and the table says so."""
    import os
    import statistics
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import bench_cnn

    w = bench_cnn.CNNWorkload("cnn1d", num_samples=200)
    rows = ("jaxdl_scan", "jax_optax_step")
    timings = bench_cnn.measure_in_processes(w, rows, repeats=2, rounds=2)
    for row in rows:
        assert len(timings[row].epochs_s) == 4  # 2 rounds x 2 epochs
        assert timings[row].median_s == statistics.median(timings[row].epochs_s)
    result = bench_cnn.run([w], repeats=1, rows=rows, sweep=False, peak_size=64, rounds=1)
    assert result["rounds"] == 1
    assert result["cnn1d_jax_optax_step_ratio"] == pytest.approx(
        result["cnn1d_jax_optax_step_samples_per_s"] / result["cnn1d_jaxdl_scan_samples_per_s"])
    assert "each row in a process of its own, 1 round(s)" in bench_cnn.report([w], result)


@pytest.mark.slow
def test_bench_cnn_sweep_figures_and_workload_choice():
    """The sweep's speedups are the ratios of the times it reports (wall and CPU); an unknown
    --workloads name is refused with the choices."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    import bench_cnn

    w = bench_cnn.CNNWorkload("cnn1d", num_samples=200)
    figures = bench_cnn.sweep_vs_solo(w, configs=2, repeats=1)
    assert (figures["sweep_devices"], figures["sweep_solo_devices"]) == (len(jax.devices()), 1)
    assert figures["sweep_speedup"] == pytest.approx(
        figures["sweep_sequential_s"] / figures["sweep_vmap_s"])
    assert figures["sweep_cpu_speedup"] == pytest.approx(
        figures["sweep_sequential_cpu_s"] / figures["sweep_vmap_cpu_s"])
    with pytest.raises(SystemExit) as exit_info:
        bench_cnn.main(["--workloads", "cnn3d"])
    assert exit_info.value.code == 2
