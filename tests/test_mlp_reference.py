"""The MLP's numbers, bit for bit, against values written by the MLP's own forward pass of
jaxdl 0.1 (before the MLP became a ``layers.Sequential``): ``tests/fixtures/mlp_reference.npz``.

For each setting (activations, initializers, batch norm, dropout, bfloat16 matmuls, a binary
output) and each of a few seeds: the initial parameters and state, the outputs and the new state
in training (dropout masks from a key) and at test time, and the gradients of a loss in both
modes. Then a ``fit`` with batch norm, dropout and Adam (its history and final parameters) and a
two-config ``run_sweep`` (each member's history). Every array must be EQUAL, not close, except
those that go through batch norm (its outputs and gradients, in training and at test time, and
the ``fit`` and sweep that use it), which are compared to 1e-5 of the array's largest entry:
batch norm's gradient is written in closed form and its batch statistics summed without an
einsum since, the same numbers to float32 round-off; and how the CPU compiler evaluates batch
norm's float32 arithmetic (the order of its sums, its fused multiply-adds) depends on the
machine's vector instructions. On an AMD EPYC, with the file written on another CPU, 160 of the
568 arrays differ, all of them through batch norm, by at most 2.6e-6 of their largest entry.

Rewrite the file only for an intended change in the numbers:
``python tests/test_mlp_reference.py --write``.
"""

from __future__ import annotations

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.nn import MLP
from jaxdl.sweep import run_sweep
from jaxdl.train import Trainer, fit

PATH = os.path.join(os.path.dirname(__file__), "fixtures", "mlp_reference.npz")

SETTINGS = {
    "relu_he": dict(sizes=(3, 6, 5, 2)),
    "bn_dropout": dict(sizes=(3, 6, 5, 3), batch_norm=True, dropout=True, bn_momentum=0.8),
    "tanh_xavier_dropout": dict(sizes=(3, 7, 4, 2), activation="tanh", initializer="xavier",
                                dropout=True),
    "sigmoid_normal": dict(sizes=(3, 5, 2), activation="sigmoid", initializer="random_normal",
                           init_scale=0.3),
    "leaky_bn": dict(sizes=(3, 6, 6, 4, 2), activation="leaky_relu", batch_norm=True,
                     bn_eps=1e-3),
    "bf16_bn_dropout": dict(sizes=(3, 8, 2), batch_norm=True, dropout=True,
                            compute_dtype="bfloat16"),
    "binary_glorot": dict(sizes=(3, 4, 1), initializer="glorot"),
    "no_hidden": dict(sizes=(3, 2)),
}
SEEDS = (0, 7)


def _leaves(prefix: str, tree, out: dict) -> None:
    for i, leaf in enumerate(jax.tree.leaves(tree)):
        out[f"{prefix}/{i}"] = np.asarray(leaf)


def _loss(model, params, state, x, **kw):
    logits, new_state = model.apply(params, state, x, **kw)
    return jnp.sum(jnp.sin(logits) * jnp.arange(1, logits.shape[1] + 1)), (logits, new_state)


def _data(seed: int, n: int, width: int):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, width)).astype(np.float32)


def values() -> dict[str, np.ndarray]:
    """Every reference array, computed with the installed jaxdl."""
    out: dict[str, np.ndarray] = {}
    grad = jax.grad(_loss, argnums=1, has_aux=True)
    # one jit for every setting and seed: a setting's seeds share its compiled program
    jitted = jax.jit(grad, static_argnums=0, static_argnames="train")
    for name, kw in SETTINGS.items():
        model = MLP(**kw)
        for seed in SEEDS:
            tag = f"{name}/{seed}"
            params, state = model.init(jax.random.key(seed))
            _leaves(f"{tag}/params", params, out)
            _leaves(f"{tag}/state", state, out)
            x = jnp.asarray(_data(seed, 9, model.sizes[0]))
            mask = jnp.asarray((np.arange(9) < 7).astype(np.float32))
            hp = {"keep_prob": jnp.float32(0.7), "bn_momentum": jnp.float32(0.85)}
            key = jax.random.key(100 + seed)
            g, (y, s) = grad(model, params, state, x, train=True, key=key, hp=hp, mask=mask)
            _leaves(f"{tag}/train_grads", g, out)
            _leaves(f"{tag}/train_out", (y, s), out)
            g, (y, s) = grad(model, params, state, x, train=False)
            _leaves(f"{tag}/eval_grads", g, out)
            _leaves(f"{tag}/eval_out", (y, s), out)
            g, (y, s) = jitted(model, params, state, x, train=True, key=key, hp=hp)
            _leaves(f"{tag}/jit_train", (g, y, s), out)
    x = _data(3, 40, 3)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 1).astype(np.int32)
    trainer = Trainer(MLP((3, 6, 5, 3), batch_norm=True, dropout=True), optimizer="adam",
                      batch_size=8)
    result = fit(trainer, x[:32], y[:32], validation=(x[32:], y[32:]),
                 hp={"learning_rate": 0.05, "keep_prob": 0.8}, epochs=3, seed=5)
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        out[f"fit/history/{key}"] = np.asarray(result.history[key], np.float64)
    _leaves("fit/params", result.params, out)
    results = run_sweep([{"learning_rate": 0.1, "keep_prob": 0.9},
                         {"learning_rate": 0.02, "keep_prob": 0.6}],
                        (x[:32], y[:32], x[32:], y[32:]), trainer=trainer, epochs=2, seed=2)
    for i, history in enumerate(results.histories):
        for key in ("loss", "val_loss"):
            out[f"sweep/{i}/{key}"] = np.asarray(history[key], np.float64)
    _leaves("sweep/params", results.params, out)
    return out


@pytest.fixture(scope="module")
def computed() -> dict[str, np.ndarray]:
    return values()


BATCH_NORM_SETTINGS = tuple(name for name, kw in SETTINGS.items() if kw.get("batch_norm"))


def through_batch_norm(name: str) -> bool:
    """Arrays computed through batch norm, in training or at test time (see the module
    docstring); a batch-norm setting's initial parameters and state are not."""
    setting, *rest = name.split("/")
    if setting in ("fit", "sweep"):
        return True
    return setting in BATCH_NORM_SETTINGS and rest[1] not in ("params", "state")


@pytest.mark.slow
def test_every_reference_array_is_reproduced_bit_for_bit(computed):
    with np.load(PATH) as saved:
        reference = dict(saved)
    assert sorted(computed) == sorted(reference)
    close = 0
    for name, want in reference.items():
        got = computed[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        if through_batch_norm(name):
            scale = float(np.max(np.abs(want.astype(np.float64)))) or 1.0
            diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            assert diff <= 1e-5 * scale, (name, diff / scale)
            close += 1
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert 0 < close <= len(reference) // 2  # the other half is compared bit for bit


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_mlp_reference.py --write")
    np.savez_compressed(PATH, **values())
    print(f"wrote {PATH}")
