"""Train a small batch-normalized MLP on two moons with the core functions only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from sklearn.datasets import make_moons

from jaxdl import MLP, accuracy, l2_penalty, softmax_cross_entropy
from jaxdl.data import normalize


def main() -> None:
    x, y = make_moons(600, noise=0.2, random_state=0)
    stats = normalize.fit(x[:400])
    x_train, x_test = (jnp.asarray(normalize.transform(stats, s)) for s in (x[:400], x[400:]))
    y_train, y_test = jnp.asarray(y[:400]), jnp.asarray(y[400:])
    model = MLP((2, 16, 16, 2), batch_norm=True)
    params, state = model.init(jax.random.key(0))

    def loss(params, state):
        logits, state = model.apply(params, state, x_train, train=True)
        return softmax_cross_entropy(logits, y_train) + l2_penalty(params, 0.01, 400), state

    @jax.jit
    def step(params, state):
        (value, state), grads = jax.value_and_grad(loss, has_aux=True)(params, state)
        return jax.tree.map(lambda p, g: p - 0.3 * g, params, grads), state, value

    for i in range(300):
        params, state, value = step(params, state)
        if i % 100 == 0:
            print(f"step {i:3d}  cost {float(value):.4f}")
    logits, _ = model.apply(params, state, x_test, train=False)
    print(f"test accuracy {float(accuracy(logits, y_test)):.3f}")


if __name__ == "__main__":
    main()
