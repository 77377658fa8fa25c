"""Gradient descent, momentum and Adam on an ill-conditioned quadratic (the course's picture).

    f(w) = 0.5 * (1 * w1**2 + 100 * w2**2)

Plain gradient descent with a large step (just under the stability limit 2 / 100) oscillates
across the steep w2 direction and crawls along the flat w1 direction; momentum averages the
alternating w2 gradients away, which allows a larger step along w1, and Adam rescales each
coordinate; both converge far faster. Writes a PNG: contours with the trajectories, and the
loss per step.

    python scripts/plot_optimizers.py --out optimizers.png
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl import optim

CURVATURES = (1.0, 100.0)
START = (-1.5, 0.5)
STEPS = 200
GD_LEARNING_RATE = 0.0195


def loss(w: jax.Array) -> jax.Array:
    """``0.5 * sum(curvature * w**2)``, minimum 0 at the origin."""
    return 0.5 * jnp.sum(jnp.asarray(CURVATURES) * w**2)


def optimizers() -> dict[str, optim.GradientTransformation]:
    """The compared optimizers (plain GD diverges for any step above ``2 / 100``)."""
    return {
        f"gradient descent (lr={GD_LEARNING_RATE})": optim.sgd(GD_LEARNING_RATE),
        "momentum (lr=0.05, beta=0.9)": optim.momentum(0.05, beta=0.9),
        "Adam (lr=0.05)": optim.adam(0.05),
    }


def trajectory(opt: optim.GradientTransformation, steps: int = STEPS) -> jax.Array:
    """Iterates ``w_0 .. w_steps`` of ``opt`` on :func:`loss` from :data:`START`, shape
    ``(steps + 1, 2)``."""
    start = jnp.asarray(START)

    def step(carry, _):
        w, state = carry
        updates, state = opt.update(jax.grad(loss)(w), state, w)
        w = optim.apply_updates(w, updates)
        return (w, state), w

    _, ws = lax.scan(step, (start, opt.init(start)), None, length=steps)
    return jnp.concatenate([start[None], ws])


def plot(paths: dict[str, np.ndarray], out: str) -> None:
    """Contours with trajectories (left) and loss per step on a log scale (right), saved to
    ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    w1, w2 = np.meshgrid(np.linspace(-1.7, 0.5, 200), np.linspace(-0.7, 0.7, 200))
    z = 0.5 * (CURVATURES[0] * w1**2 + CURVATURES[1] * w2**2)
    ax.contour(w1, w2, z, levels=np.geomspace(1e-3, 40, 15), colors="0.75", linewidths=0.7)
    for name, ws in paths.items():
        ax.plot(ws[:, 0], ws[:, 1], ".-", ms=2.5, lw=0.8, label=name)
        ax_loss.semilogy(np.maximum(jax.vmap(loss)(ws), 1e-16), label=name)
    ax.plot(0, 0, "k*", ms=10)
    ax.set(xlabel="w1 (flat)", ylabel="w2 (steep)", title="f = 0.5 (w1² + 100 w2²)")
    ax_loss.set(xlabel="step", ylabel="loss", title="loss per step")
    ax.legend(fontsize=8)
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="optimizers.png", help="PNG file to write")
    parser.add_argument("--steps", type=int, default=STEPS, help="optimizer steps per run")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    paths = {name: np.asarray(trajectory(opt, args.steps)) for name, opt in optimizers().items()}
    plot(paths, args.out)
    for name, ws in paths.items():
        print(f"{name:40s} final loss {float(loss(jnp.asarray(ws[-1]))):.3e}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
