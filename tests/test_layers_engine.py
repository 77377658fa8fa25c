"""The digits CNN (scripts/examples/digits_cnn.py, narrowed to 4 and 8 filters to stay fast)
through the engine: sweep members equal solo fits, gradient check, bit-exact checkpoint resume,
and 4-emulated-device data parallel equal to one device."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import jaxdl
from jaxdl import layers
from jaxdl.data import datasets
from jaxdl.gradcheck import check_model
from jaxdl.history import without_timing
from jaxdl.sweep import run_sweep

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "scripts", "examples")
sys.path.insert(0, EXAMPLES)

import digits_cnn  # noqa: E402

DATA = datasets.load("digits", seed=0, n=240, normalize=False)
X, XV = (DATA.x_train / 16).reshape(-1, 8, 8, 1), (DATA.x_val / 16).reshape(-1, 8, 8, 1)
Y, YV = DATA.y_train, DATA.y_val
MODEL = digits_cnn.cnn(filters=(4, 8))
TRAINER = jaxdl.Trainer(MODEL, optimizer="adam", batch_size=50)  # 144 rows: a padded last batch


def _leaves_close(a, b, rtol=2e-5, atol=2e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=atol)


@pytest.mark.slow
def test_cnn_sweep_members_equal_solo_fits():
    configs = [{"learning_rate": 0.01, "keep_prob": 0.8}, {"learning_rate": 0.003,
                                                           "keep_prob": 1.0}]
    swept = run_sweep(configs, (X, Y, XV, YV), trainer=TRAINER, epochs=3, seed=1)
    for i, config in enumerate(configs):
        solo = jaxdl.fit(TRAINER, X, Y, validation=(XV, YV), hp=config, epochs=3, seed=1,
                         early_stopping=swept.stopper, progress=False)
        _leaves_close(swept.params[i], solo.params)
        _leaves_close(swept.model_state[i], solo.model_state)
        np.testing.assert_allclose(swept.histories[i]["val_loss"], solo.history["val_loss"],
                                   rtol=2e-5)


def test_cnn_gradcheck():
    deterministic = layers.Sequential(
        *(layer for layer in MODEL.layers if not isinstance(layer, layers.Dropout)),
        input_shape=MODEL.input_shape,
    )
    result = check_model(deterministic, X[:6], Y[:6])
    assert result.passed, str(result)


def test_cnn_checkpoint_resume_is_bit_exact(tmp_path):
    kw = {"validation": (XV, YV), "hp": {"keep_prob": 0.8}, "seed": 3, "progress": False}
    full = jaxdl.fit(TRAINER, X, Y, epochs=3, checkpoint_dir=str(tmp_path / "a"), **kw)
    jaxdl.fit(TRAINER, X, Y, epochs=1, checkpoint_dir=str(tmp_path / "b"), **kw)
    resumed = jaxdl.fit(TRAINER, X, Y, epochs=3, checkpoint_dir=str(tmp_path / "b"),
                        resume=True, **kw)
    for a, b in zip(jax.tree.leaves(full[:3]), jax.tree.leaves(resumed[:3]), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_equal(without_timing(full.history), without_timing(resumed.history))


CHILD = textwrap.dedent(
    r"""
    import json, sys
    import jax, numpy as np
    import jaxdl
    from jaxdl.infra import parallel
    sys.path.insert(0, sys.argv[1])
    import digits_cnn
    from jaxdl.data import datasets

    data = datasets.load("digits", seed=0, n=240, normalize=False)
    x, y = (data.x_train / 16).reshape(-1, 8, 8, 1), data.y_train
    base = jaxdl.Trainer(digits_cnn.cnn(filters=(4, 8)), optimizer="adam", batch_size=48)
    kw = {"hp": {"keep_prob": 0.8}, "epochs": 2, "progress": False}
    one, four = jaxdl.fit(base, x, y, **kw), jaxdl.fit(parallel.data_parallel(base), x, y, **kw)
    gap = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
              for a, b in zip(jax.tree.leaves(one[:2]), jax.tree.leaves(four[:2])))
    print("RESULT " + json.dumps({"devices": jax.device_count(), "gap": gap,
                                  "loss": [one.history["loss"], four.history["loss"]]}))
    """
)


@pytest.mark.slow
def test_cnn_data_parallel_on_four_devices_equals_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", CHILD, EXAMPLES], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["devices"] == 4 and out["gap"] < 1e-5, out
    np.testing.assert_allclose(*out["loss"], rtol=1e-5)
