"""jaxdl.adapters: flax.linen, flax.nnx and equinox models trained by jaxdl.fit
(each test skipped when its library is not installed)."""

import jax
import numpy as np
import pytest

import jaxdl
from jaxdl import adapters


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)).astype(np.int32)
    return x, y


def _fit(model):
    x, y = _data()
    trainer = jaxdl.Trainer(model, optimizer="adam", batch_size=32)
    result = jaxdl.fit(trainer, x, y, validation=(x, y), hp={"learning_rate": 0.02}, epochs=8,
                       progress=False)
    loss = result.history["loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < 0.7 * loss[0], loss
    assert result.history["val_accuracy"][-1] > 0.8
    return result


def test_linen_model_trains_with_fit():
    nn = pytest.importorskip("flax.linen")

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train):
            x = nn.relu(nn.BatchNorm(use_running_average=not train)(nn.Dense(16)(x)))
            return nn.Dense(3)(nn.Dropout(0.1, deterministic=not train)(x))

    result = _fit(adapters.LinenModel(Net(), input_shape=(4,)))
    assert set(result.model_state) == {"batch_stats"}


def test_nnx_model_trains_with_fit():
    nnx = pytest.importorskip("flax.nnx")

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(4, 16, rngs=rngs)
            self.bn = nnx.BatchNorm(16, rngs=rngs)
            self.drop = nnx.Dropout(0.1, rngs=rngs)
            self.out = nnx.Linear(16, 3, rngs=rngs)

        def __call__(self, x):
            return self.out(self.drop(nnx.relu(self.bn(self.hidden(x)))))

    result = _fit(adapters.NnxModel(Net))
    assert not np.allclose(result.model_state["bn"]["mean"].get_value(), 0.0)


def test_equinox_model_trains_with_fit():
    eqx = pytest.importorskip("equinox")

    class Net(eqx.Module):
        hidden: eqx.nn.Linear
        bn: eqx.nn.BatchNorm
        drop: eqx.nn.Dropout
        out: eqx.nn.Linear

        def __init__(self, key):
            k1, k2 = jax.random.split(key)
            self.hidden = eqx.nn.Linear(4, 16, key=k1)
            # momentum 0.5: equinox's running stats settle within these 24 steps
            self.bn = eqx.nn.BatchNorm(16, axis_name="batch", mode="batch", momentum=0.5)
            self.drop = eqx.nn.Dropout(0.1)
            self.out = eqx.nn.Linear(16, 3, key=k2)

        def __call__(self, x, state, *, key, inference):
            h, state = self.bn(jax.nn.relu(self.hidden(x)), state, inference=inference)
            return self.out(self.drop(h, key=key, inference=inference)), state

    result = _fit(adapters.EqxModel(Net))
    counters = [int(a) for a in jax.tree.leaves(result.model_state) if a.dtype.kind == "i"]
    assert counters == [24]  # the batch norm counted 8 epochs of 3 steps


def test_importing_the_adapters_imports_none_of_their_libraries():
    import subprocess
    import sys

    code = ("import sys, jaxdl.adapters; "
            "print(sorted(m for m in ('flax', 'equinox') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_jaxdl_never_imports_the_frameworks_it_adapts():
    # the adapters use the module the user's code imported (adapters.user_library); no module
    # of jaxdl imports optax, flax, equinox or haiku, even inside a function
    import ast
    import pathlib

    root = pathlib.Path(adapters.__file__).parent
    banned = {"optax", "flax", "equinox", "haiku"}
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in banned]
    assert found == []
    with pytest.raises(ImportError, match="no_such_library is not imported"):
        adapters.user_library("no_such_library")
