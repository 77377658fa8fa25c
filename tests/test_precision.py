"""Mixed precision: bfloat16 matmul operands, float32 everything else, float32-level accuracy."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data.datasets import load
from jaxdl.hyperparams import hyperparams
from jaxdl.infra import devices
from jaxdl.nn import MLP, bf16_matmul
from jaxdl.train import Batch, Trainer, fit

rng = np.random.default_rng(0)
X = rng.normal(size=(32, 5)).astype(np.float32)
Y = rng.integers(0, 3, size=32).astype(np.int32)
BF16 = MLP((5, 7, 3), compute_dtype="bfloat16")


def _round(a):
    """Round to the nearest bfloat16 and back to float32."""
    return jnp.asarray(a).astype(jnp.bfloat16).astype(jnp.float32)


def test_matmul_operands_are_rounded_to_bf16_and_accumulated_in_float32():
    params, state = BF16.init(jax.random.key(0))
    (l1, l2) = params["layers"]
    # Products of two bfloat16 numbers are exact in float32, so this float32 reference differs
    # from the mixed-precision pass only in the order of the float32 sums.
    hidden = jax.nn.relu(_round(X) @ _round(l1["W"]) + l1["b"])
    expected = _round(hidden) @ _round(l2["W"]) + l2["b"]
    logits, _ = BF16.apply(params, state, X, train=False)
    assert logits.dtype == jnp.float32
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    full, _ = MLP(BF16.sizes).apply(params, state, X, train=False)
    assert float(jnp.max(jnp.abs(full - logits))) > 1e-4  # the rounding really happens


def test_bf16_matmul_gradients_are_the_rounded_closed_forms():
    a, w = X, rng.normal(size=(5, 7)).astype(np.float32)
    g = rng.normal(size=(32, 7)).astype(np.float32)
    out, vjp = jax.vjp(bf16_matmul, a, w)
    da, dw = vjp(g)
    np.testing.assert_allclose(out, _round(a) @ _round(w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(da, _round(g) @ _round(w).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dw, _round(a).T @ _round(g), rtol=1e-5, atol=1e-6)
    assert {da.dtype, dw.dtype, out.dtype} == {jnp.dtype(jnp.float32)}
    # ... and within bfloat16 round-off (2**-8 relative per operand) of the exact float32 ones.
    np.testing.assert_allclose(dw, a.T @ g, rtol=0, atol=0.02 * np.abs(a.T @ g).max())


TENSOR = r"(tensor<[^>]*>)"
DOT = re.compile(rf"stablehlo.dot_general.*: \({TENSOR}, {TENSOR}\) -> {TENSOR}")
MODEL = MLP((5, 7, 3), batch_norm=True, dropout=True, compute_dtype="bfloat16")
TRAINER = Trainer(MODEL, optimizer="adam")
HP = hyperparams(keep_prob=0.8, l2=0.1)


def _step(ts):
    return TRAINER.train_step(*ts[:3], Batch(X, Y), jax.random.key(1), HP, num_examples=32)


@pytest.mark.parametrize("platform", ["cuda", "cpu"])
def test_layer_matmuls_take_bf16_operands_on_accelerators(platform):
    ts = TRAINER.init(jax.random.key(0), HP)
    # Lowered for a GPU even on a machine without one: the program a GPU would run.
    text = jax.jit(_step).trace(ts).lower(lowering_platforms=(platform,)).as_text()
    dots = DOT.findall(text)
    for lhs, rhs, out in dots:
        assert lhs[-4:] == rhs[-4:] and out.endswith("xf32>")  # no mixed-dtype matmul
    # Per layer the forward, weight-gradient and input-gradient matmuls (the first layer needs
    # no input gradient): 3 * 2 - 1. XLA:CPU multiplies the rounded operands in float32 instead
    # (the same numbers, see above).
    layer_matmuls = 3 * MODEL.num_layers - 1
    low = [d for d in dots if d[0].endswith("xbf16>")]
    assert len(low) == (layer_matmuls if platform == "cuda" else 0)
    # The rest are batch-norm's mask-weighted sums over the batch (one operand is a vector).
    vector = [d for d in dots if d[0].count("x") == 1 or d[1].count("x") == 1]
    assert len(vector) == len(dots) - layer_matmuls


def test_parameters_state_gradients_and_loss_stay_float32():
    # Dtypes are fixed when tracing, so shapes-only evaluation (no compile) settles them.
    ts = TRAINER.init(jax.random.key(0), HP)
    params, model_state, opt_state, cost, _ = jax.eval_shape(_step, ts)
    leaves = jax.tree.leaves((params, model_state, opt_state))
    assert {leaf.dtype for leaf in leaves} == {jnp.dtype(jnp.float32), jnp.dtype(jnp.int32)}
    assert cost.dtype == jnp.float32

    def loss(p):
        logits, _ = MODEL.apply(p, ts.model_state, X, train=True, key=jax.random.key(1), hp=HP)
        assert logits.dtype == jnp.float32
        return TRAINER.data_loss(logits, Y, None)

    grads = jax.eval_shape(jax.grad(loss), ts.params)
    assert {g.dtype for g in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}


@pytest.fixture(scope="module")
def digits_accuracy():
    data = load("digits")
    accuracy = {}
    for dtype in ("float32", "bfloat16"):
        trainer = Trainer(MLP((64, 32, 10), batch_norm=True, compute_dtype=dtype), batch_size=64)
        result = fit(trainer, data.x_train, data.y_train, hp={"learning_rate": 0.01}, epochs=5,
                     validation=(data.x_test, data.y_test), progress=False)
        accuracy[dtype] = (result.history["val_accuracy"][-1], result.history["loss"])
    return accuracy


def test_bf16_reaches_float32_accuracy_on_digits(digits_accuracy):
    (acc32, loss32), (acc16, loss16) = digits_accuracy["float32"], digits_accuracy["bfloat16"]
    assert acc32 > 0.9
    assert acc16 >= acc32 - 0.01
    assert loss16 != loss32  # two different runs, not the same computation twice


def test_precision_option_and_bad_input():
    assert devices.compute_dtype() == "float32"
    assert devices.compute_dtype("fp32") == "float32"
    assert devices.compute_dtype("bf16") == "bfloat16"
    assert MLP((2, 3), compute_dtype=devices.compute_dtype("bf16")).compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        devices.compute_dtype("fp16")
    with pytest.raises(ValueError, match="compute_dtype must be one of float32, bfloat16"):
        MLP((2, 3), compute_dtype="float16")
