"""jaxdl.layers.convolution under ``jax.vmap`` (a sweep's members): members with only their
inputs batched folded into the batch, members sharing their inputs folded into the output
channels, the others looped over on CPU and left to JAX's rule elsewhere; the values and
gradients of each as the plain convolution's, and a 1-D CNN sweep member as its solo fit."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_conv_fast import CASES, assert_close, loss_of, operands

from jaxdl import layers as L
from jaxdl.layers.convolution import conv, conv_reference
from jaxdl.train import Trainer


@pytest.mark.parametrize("case", [CASES[8], CASES[4], CASES[10]], ids=["2d", "1d-g3", "2d-dw"])
@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0)], ids=str)
def test_vmapped_members_loop_instead_of_a_grouped_convolution(in_axes, case):
    """vmap over inputs only folds the members into the batch; over kernels only (members
    sharing their inputs) into the output channels, for the forward pass and the weight
    gradient; over both it loops over them (JAX's rule builds one convolution with
    feature_group_count = members, slow on CPU). Values and gradients as the plain
    convolution's, groups included."""
    x, w, args = operands(case)
    scales = (1.0, -1.0, 2.0, 0.5, -0.3)  # 5 members: no multiple of the groups (3, 4)
    xs, ws = jnp.stack([s * x for s in scales]), jnp.stack([s * w for s in scales[::-1]])
    batched = tuple(a if axis is None else b for a, b, axis in zip((x, w), (xs, ws), in_axes))

    def value_and_grads(fn):
        return jax.jit(jax.vmap(jax.value_and_grad(loss_of(fn, args), (0, 1)), in_axes))

    fast, plain = value_and_grads(conv)(*batched), value_and_grads(conv_reference)(*batched)
    for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(plain)):
        assert_close(a, b)
    if jax.default_backend() == "cpu":
        text = value_and_grads(conv).lower(*batched).compile().as_text()
        counts = re.findall(r"(?:feature|batch)_group_count=(\d+)", text)
        assert set(counts) <= {str(args[3])}, counts  # the layer's own groups only
        forward = jax.jit(jax.vmap(lambda x, w: conv(x, w, *args), in_axes))
        looped = "while" in forward.lower(*batched).compile().as_text()
        assert looped == (in_axes == (0, 0))  # one convolution when one operand is shared


def test_members_keep_jax_rule_off_cpu(monkeypatch):
    """The members' loop is a CPU workaround: on other backends the vmapped kernels keep JAX's
    rule (one grouped convolution), with the same values and gradients."""
    x, w, args = operands(CASES[3])
    xs, ws = jnp.stack([x, -x, 0.5 * x]), jnp.stack([w, 2 * w, -w])
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    grads = jax.jit(jax.vmap(jax.grad(loss_of(conv, args), (0, 1))))
    fast = grads(xs, ws)
    plain = jax.vmap(jax.grad(loss_of(conv_reference, args), (0, 1)))(xs, ws)
    for a, b in zip(fast, plain):
        assert_close(a, b)
    text = grads.lower(xs, ws).as_text()
    assert "while" not in text and "feature_group_count = 3" in text


def test_a_1d_cnn_sweep_member_equals_its_solo_fit():
    """1-D convolutions run as 2-D ones and the members' first layer folded into the output
    channels: a sweep member still equals its solo fit up to float32 reassociation (strides,
    explicit padding, dilation and groups)."""
    import jaxdl
    from jaxdl.sweep import run_sweep

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 24, 2)).astype(np.float32)
    y = (x[:, :12].sum((1, 2)) > 0).astype(np.int32)
    net = L.Sequential(
        L.Conv(6, (5,), strides=2, padding=((2, 1),)), L.Relu(),
        L.Conv(6, (3,), dilation=2, groups=3), L.Relu(), L.Flatten(), L.Dense(2),
        input_shape=(24, 2),
    )
    trainer = Trainer(net, optimizer="adam", batch_size=40)
    data = (x[:80], y[:80], x[80:], y[80:])
    configs = [{"learning_rate": 0.01}, {"learning_rate": 0.003}]
    swept = run_sweep(configs, data, trainer=trainer, epochs=2, seed=3)
    for i, config in enumerate(configs):
        solo = jaxdl.fit(trainer, x[:80], y[:80], validation=(x[80:], y[80:]), hp=config,
                         epochs=2, early_stopping=swept.stopper, progress=False, seed=3)
        for a, b in zip(jax.tree.leaves(swept.params[i]), jax.tree.leaves(solo.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(swept.histories[i]["loss"], solo.history["loss"], rtol=2e-5)
