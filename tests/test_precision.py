"""Mixed precision: bfloat16 matmul operands, float32 everything else, float32-level accuracy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import devices
from jaxdl.data.datasets import load
from jaxdl.hyperparams import hyperparams
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


def _dots(jaxpr):
    """Every dot_general in ``jaxpr`` and its sub-jaxprs."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else [value]:
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    yield from _dots(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    yield from _dots(sub)


def test_every_layer_matmul_runs_in_bf16_and_nothing_else_does():
    model = MLP((5, 7, 3), batch_norm=True, dropout=True, compute_dtype="bfloat16")
    trainer = Trainer(model, optimizer="adam")
    hp = hyperparams(keep_prob=0.8, l2=0.1)
    ts = trainer.init(jax.random.key(0), hp)

    def step(ts):
        return trainer.train_step(*ts[:3], Batch(X, Y), jax.random.key(1), hp, num_examples=32)

    dots = list(_dots(jax.make_jaxpr(step)(ts).jaxpr))
    low = [e for e in dots if e.invars[0].aval.dtype == jnp.bfloat16]
    # Forward, input-gradient and weight-gradient matmul of each of the 2 layers.
    assert len(low) == 3 * model.num_layers
    for eqn in dots:
        assert len({v.aval.dtype for v in eqn.invars}) == 1  # no mixed-dtype matmul
        assert eqn.outvars[0].aval.dtype == jnp.float32
    # The float32 ones are batch-norm's mask-weighted sums over the batch, not layer matmuls.
    assert all(min(v.aval.ndim for v in e.invars) == 1 for e in dots if e not in low)
    params, model_state, opt_state, cost, _ = jax.jit(step)(ts)
    leaves = jax.tree.leaves((params, model_state, opt_state, cost))
    assert {leaf.dtype for leaf in leaves} <= {jnp.dtype(jnp.float32), jnp.dtype(jnp.int32)}
    assert cost.dtype == jnp.float32
    grads = jax.jit(jax.grad(
        lambda p: trainer.data_loss(
            model.apply(p, ts.model_state, X, train=True, key=jax.random.key(1), hp=hp)[0], Y, None
        )
    ))(ts.params)
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
