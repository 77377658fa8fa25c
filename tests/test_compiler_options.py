"""The training programs are compiled with ``TRAIN_COMPILER_OPTIONS`` (512-bit vectors on CPU):
``run_epoch`` equals the epoch jitted with those options bit for bit, and on a CPU with AVX-512
differs from the epoch jitted without them (the check can fail)."""

from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.hyperparams import hyperparams
from jaxdl.nn import MLP
from jaxdl.train import TRAIN_COMPILER_OPTIONS, Keys, Trainer, run_epoch, run_init

rng = np.random.default_rng(0)
X = jnp.asarray(rng.normal(size=(512, 24)).astype(np.float32))
Y = jnp.asarray((X[:, 0] + X[:, 1] > 0).astype(np.int32))
TRAINER = Trainer(MLP((24, 64, 64, 2), batch_norm=True, dropout=True), batch_size=64)
HP, KEYS = hyperparams(learning_rate=0.01, keep_prob=0.8), Keys.from_seed(0)


def three_epochs(epoch):
    ts = run_init(TRAINER, KEYS.init, HP)
    for e in range(3):
        ts, metrics = epoch(TRAINER, ts, HP, X, Y, KEYS, jnp.int32(e))
    return ts.params, metrics["cost"]


def jitted(options):
    return jax.jit(lambda *args: args[0].epoch(*args[1:]), static_argnums=0,
                   compiler_options=options)


@pytest.mark.slow
def test_run_epoch_is_compiled_with_the_training_options():
    chex.assert_trees_all_equal(three_epochs(run_epoch),
                                three_epochs(jitted(TRAIN_COMPILER_OPTIONS)))


def has_avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return jax.default_backend() == "cpu" and cpuinfo.exists() and "avx512f" in cpuinfo.read_text()


@pytest.mark.skipif(not has_avx512(), reason="512-bit vectors need an AVX-512 CPU")
def test_the_options_change_the_program():
    with pytest.raises(AssertionError):
        chex.assert_trees_all_equal(three_epochs(run_epoch), three_epochs(jitted({})))
