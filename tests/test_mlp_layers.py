"""The MLP is a chain of layers: one forward pass (``jaxdl.layers``), the MLP's params layout
kept, so checkpoints written before still resume; the old names warn."""

from __future__ import annotations

import ast
import functools
import os
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import layers
from jaxdl.layers import activations, dense
from jaxdl.nn import ACTIVATIONS, MLP, bf16_matmul
from jaxdl.train import Trainer, fit

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint_mlp_v1")


def test_activations_and_the_bf16_matmul_have_one_home_in_layers():
    assert ACTIVATIONS is activations.ACTIVATIONS
    assert bf16_matmul is dense.bf16_matmul


def test_no_layers_module_imports_nn():
    """nn builds on layers, never the other way (no circle through the package)."""
    for path in sorted((ROOT / "jaxdl" / "layers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "jaxdl.nn" or n.startswith("jaxdl.nn.") for n in names), path
            if isinstance(node, ast.ImportFrom) and node.module == "jaxdl":
                assert "nn" not in [a.name for a in node.names], path


@pytest.mark.parametrize("kw", [
    dict(batch_norm=True, dropout=True),
    dict(activation="tanh", initializer="xavier"),
])
def test_the_mlp_layers_are_its_config(kw):
    mlp = MLP((3, 5, 4, 2), bn_momentum=0.7, bn_eps=1e-3, **kw)
    widths = [layer.units for layer in mlp.layers if isinstance(layer, layers.Dense)]
    assert widths == [5, 4, 2]
    assert all(layer.initializer == mlp.initializer for layer in mlp.layers
               if isinstance(layer, layers.Dense))
    bns = [layer for layer in mlp.layers if isinstance(layer, layers.BatchNorm)]
    assert [(b.momentum, b.eps) for b in bns] == ([(0.7, 1e-3)] * 2 if mlp.batch_norm else [])
    assert sum(isinstance(layer, layers.Dropout) for layer in mlp.layers) == 2 * mlp.dropout
    assert mlp.as_sequential().hyperparameters == mlp.hyperparameters
    assert layers.from_config(mlp.as_sequential().to_config()) == mlp.as_sequential()


def test_layer_trees_round_trip():
    mlp = MLP((3, 5, 4, 2), batch_norm=True)
    params, state = mlp.init(jax.random.key(0))
    back = mlp.from_layer_trees(*mlp.to_layer_trees(params, state))
    assert jax.tree.structure(back) == jax.tree.structure((params, state))
    jax.tree.map(np.testing.assert_array_equal, back, (params, state))


def test_bf16_mlp_is_its_sequential_bit_for_bit():
    """Mixed precision runs through ``Dense(compute_dtype="bfloat16")``: the MLP and its
    Sequential give equal outputs and gradients."""
    mlp = MLP((4, 8, 3), batch_norm=True, compute_dtype="bfloat16")
    seq = mlp.as_sequential()
    params, state = mlp.init(jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (6, 4))

    def loss(model, p, s):
        return jnp.sum(model.apply(p, s, x, train=True)[0] ** 2)

    np.testing.assert_array_equal(
        seq.apply(*mlp.to_layer_trees(params, state), x, train=False)[0],
        mlp.apply(params, state, x, train=False)[0])
    g_mlp = jax.grad(loss, argnums=1)(mlp, params, state)
    g_seq = jax.grad(loss, argnums=1)(seq, *mlp.to_layer_trees(params, state))
    jax.tree.map(np.testing.assert_array_equal, g_seq, mlp.to_layer_trees(g_mlp, state)[0])


def test_dense_compute_dtype_config():
    assert "compute_dtype" not in layers.Dense(3).to_config()  # files as before
    bf16 = layers.Dense(3, compute_dtype="bfloat16")
    assert bf16.to_config()["compute_dtype"] == "bfloat16"
    assert layers.from_config(bf16.to_config()) == bf16 != layers.Dense(3)
    with pytest.raises(ValueError, match="compute_dtype must be one of float32, bfloat16"):
        layers.Dense(3, compute_dtype="float16")


def test_old_names_warn_and_still_work():
    mlp = MLP((3, 4, 2), batch_norm=True)
    with pytest.warns(DeprecationWarning, match=r"use MLP\(\.\.\.\)\.as_sequential\(\)"):
        assert layers.from_mlp(mlp) == mlp.as_sequential()
    params, state = mlp.init(jax.random.key(0))
    with pytest.warns(DeprecationWarning, match="to_layer_trees"):
        moved = layers.mlp_params_to_layers(mlp, params, state)
    jax.tree.map(np.testing.assert_array_equal, moved, mlp.to_layer_trees(params, state))
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="needs a jaxdl.MLP"):
        layers.from_mlp(layers.Dense(3))
    with pytest.raises(AttributeError):
        layers.no_such_name  # noqa: B018


def _setup():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 1).astype(np.int32)
    trainer = Trainer(MLP((3, 6, 3), batch_norm=True, dropout=True), batch_size=8)
    kw = dict(validation=(x[32:], y[32:]), hp={"learning_rate": 0.05, "keep_prob": 0.8}, seed=5)
    return trainer, x[:32], y[:32], kw


def test_a_checkpoint_of_the_mlp_before_layers_resumes_as_the_uninterrupted_run(tmp_path):
    """``checkpoint_mlp_v1`` was written after 2 of these epochs by the MLP with its own forward
    pass (and batch norm's gradient by autodiff); resuming it with the layers' MLP gives the
    uninterrupted run, to float32 round-off (batch norm's gradient is now its closed form, the
    same to round-off; a checkpoint of the current code resumes bit for bit, test_checkpoint)."""
    trainer, x, y, kw = _setup()
    directory = str(tmp_path / "ckpt")
    shutil.copytree(CHECKPOINT, directory)
    resumed = fit(trainer, x, y, epochs=3, checkpoint_dir=directory, resume=True, **kw)
    fresh = fit(trainer, x, y, epochs=3, **kw)
    assert resumed.history["loss"][:2] == [1.748095154762268, 1.0635030269622803]
    assert resumed.history["val_loss"][:2] == [1.2097227573394775, 0.9321674704551697]
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(resumed.history[key], fresh.history[key], rtol=1e-5,
                                   err_msg=key)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-6),
                 (resumed.params, resumed.model_state), (fresh.params, fresh.model_state))
