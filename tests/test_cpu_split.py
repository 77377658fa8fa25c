"""Splitting a convolutional network's mini-batches over one CPU device per core
(``jaxdl.infra.parallel.cpu_split``): XLA's FLOP count of the forward pass against closed forms,
the rule (convolutions, FLOPs per core, a device count that divides the batch), and
``jaxdl train`` choosing it per model in a process with two CPU devices."""

import json
import os
import subprocess
import sys

import jax
import pytest

from jaxdl import layers
from jaxdl.infra.parallel import CPU_SPLIT_MIN_FLOPS, cpu_split, forward_cost
from jaxdl.layers.presets import digits_cnn
from jaxdl.nn import MLP


def _conv(features=8):
    """Conv(3x3, VALID, no bias) on 10x10x1: 8x8 positions x 9 taps x ``features`` filters,
    2 FLOPs per multiply-add."""
    return layers.Sequential(layers.Conv(features, (3, 3), padding="VALID", use_bias=False),
                             input_shape=(10, 10, 1))


PER_EXAMPLE = 2 * 8 * 8 * 9 * 8  # 9216 FLOPs


def test_forward_cost_is_the_closed_form_count():
    assert forward_cost(_conv(), (5, 10, 10, 1)) == (5 * PER_EXAMPLE, True)
    # SAME padding: only the taps inside the input count (6 interior positions x 3 taps and
    # 2 edges x 2 taps, per filter and input channel)
    same = layers.Sequential(layers.Conv(4, (3,), use_bias=False), input_shape=(8, 2))
    assert forward_cost(same, (5, 8, 2)) == (5 * 4 * 2 * (6 * 3 + 2 * 2) * 2, True)
    dense = layers.Sequential(layers.Flatten(), layers.Dense(3), input_shape=(8, 2))
    assert forward_cost(dense, (5, 8, 2)) == (5 * 16 * 3 * 2 + 5 * 3, False)


def test_split_only_where_each_core_gets_enough_convolution_work():
    cpu = jax.devices("cpu")[0]
    least = -(-CPU_SPLIT_MIN_FLOPS // PER_EXAMPLE)  # rows per core that reach the bar
    at, below = int(least * 2), int(least - 1) * 2
    assert len(cpu_split(_conv(), (10, 10, 1), at, [cpu] * 2)) == 2
    assert len(cpu_split(_conv(), (10, 10, 1), below, [cpu] * 2)) == 1
    # the most devices that divide the batch and still reach the bar: 4 would leave each too
    # little, 3 divides 3 * least
    assert len(cpu_split(_conv(), (10, 10, 1), int(least) * 3, [cpu] * 4)) == 3
    # an odd batch does not split over 2
    assert len(cpu_split(_conv(), (10, 10, 1), int(least) * 2 + 1, [cpu] * 2)) == 1
    # no convolution, however large: one device (the matrix products use every core already)
    assert len(cpu_split(MLP((100, 1000, 10)), (100,), 100_000, [cpu] * 2)) == 1
    assert cpu_split(_conv(), (10, 10, 1), 8, [cpu]) == [cpu]
    with pytest.raises(ValueError, match="CPU devices"):
        cpu_split(_conv(), (10, 10, 1), 8, [])


def _train(tmp_path, name, *extra):
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", "train", "--dataset", "digits", "--epochs", "1",
         "--no-plots", "--no-compile-cache", "--out", str(tmp_path / name), *extra],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_train_splits_a_heavy_cnn_and_not_an_mlp_or_a_light_cnn(tmp_path):
    heavy = layers.Sequential(
        layers.Reshape((8, 8, 1)), layers.Conv(128, (3, 3)), layers.Relu(), layers.Flatten(),
        layers.Dense(10), input_shape=(64,))
    light = digits_cnn((8, 8, 1), 10)
    files = {}
    for name, model in (("heavy", heavy), ("light", light)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(model.to_config()))
    flops, _ = forward_cost(heavy, (400, 64))
    assert flops / 2 >= CPU_SPLIT_MIN_FLOPS  # what makes the choice below
    out = _train(tmp_path, "heavy", "--model", str(files["heavy"]), "--batch-size", "400")
    assert "2 devices, cpu x 2 (ids 0, 1); data parallel over 2" in out
    for name, extra in (("light", ["--model", str(files["light"])]), ("mlp", [])):
        out = _train(tmp_path, name, *extra)  # batch 64: too little work to split
        assert "1 device, cpu x 1 (ids 0); single device" in out
