"""Time ``jaxdl.gradcheck`` against a per-coordinate Python loop on a ~10k-parameter MLP.

Both sides compute the same two-sided differences in float64,
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, for every coordinate ``i``.
The loop jits the single-coordinate evaluation once (``i`` is traced, so it never recompiles)
and calls it from Python for each coordinate; it is timed on an evenly spaced subset of the
coordinates and extrapolated to all of them. Both are timed warm (compiled), the fastest of
``--repeats`` interleaved runs; the first calls, compiling included, are reported as well.

    python scripts/bench_gradcheck.py [--json PATH] [--batch 8] [--loop-coords 1000]
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxdl import losses, nn
from jaxdl.gradcheck import gradcheck
from jaxdl.infra.atomic import write_json

SIZES = (32, 96, 64, 10)  # 10,026 parameters


def loss(params, model, x, y, lambd):
    """Softmax cross-entropy of the MLP plus the L2 penalty."""
    logits, _ = model.apply(params, {}, x, train=True)
    return losses.softmax_cross_entropy(logits, y) + losses.l2_penalty(params, lambd, x.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write vectorized_s, loop_s and speedup to this file")
    parser.add_argument("--batch", type=int, default=8, help="examples in the checked batch")
    parser.add_argument("--loop-coords", type=int, default=1000, help="coordinates the loop times")
    parser.add_argument("--epsilon", type=float, default=1e-7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timings kept: the fastest")
    opts = parser.parse_args()

    model = nn.MLP(sizes=SIZES)
    k_init, k_x, k_y = jax.random.split(jax.random.key(opts.seed), 3)
    params, _ = model.init(k_init)
    x = jax.random.normal(k_x, (opts.batch, SIZES[0]))
    y = jax.random.randint(k_y, (opts.batch,), 0, SIZES[-1])
    lambd = jnp.asarray(0.1)
    check_args = (loss, params, model, x, y, lambd)

    with jax.enable_x64(True):
        theta, unravel = ravel_pytree(jax.tree_util.tree_map(lambda p: p.astype(float), params))
        x64, lambd64, eps = x.astype(float), lambd.astype(float), jnp.float64(opts.epsilon)

        @jax.jit
        def one(theta: jax.Array, i: jax.Array) -> jax.Array:
            plus = loss(unravel(theta.at[i].add(eps)), model, x64, y, lambd64)
            minus = loss(unravel(theta.at[i].add(-eps)), model, x64, y, lambd64)
            return (plus - minus) / (2 * eps)

        n = theta.size
        coords = np.linspace(0, n - 1, min(opts.loop_coords, n)).astype(int)
        start = time.perf_counter()
        float(one(theta, jnp.int32(0)))
        loop_compile_s = time.perf_counter() - start

    start = time.perf_counter()
    gradcheck(*check_args, epsilon=opts.epsilon)
    first_s = time.perf_counter() - start
    # interleaved, so a burst of load on the machine hits both sides alike
    vectorized_s = timed_s = math.inf
    for _ in range(opts.repeats):
        start = time.perf_counter()
        result = gradcheck(*check_args, epsilon=opts.epsilon)
        vectorized_s = min(vectorized_s, time.perf_counter() - start)
        with jax.enable_x64(True):
            start = time.perf_counter()
            looped = [float(one(theta, jnp.int32(i))) for i in coords]
            timed_s = min(timed_s, time.perf_counter() - start)
    loop_s = timed_s * n / len(coords)
    vectorized_numeric, _ = ravel_pytree(result.numeric)
    agreement = float(np.max(np.abs(np.asarray(vectorized_numeric)[coords] - np.array(looped))))

    report = {
        "num_params": int(n),
        "batch": opts.batch,
        "repeats": opts.repeats,
        "device": str(jax.devices()[0]),
        "vectorized_s": vectorized_s,
        "vectorized_first_call_s": first_s,
        "loop_s": loop_s,
        "loop_timed_coords": len(coords),
        "loop_timed_s": timed_s,
        "loop_compile_s": loop_compile_s,
        "speedup": loop_s / vectorized_s,
        "max_abs_diff_loop_vs_vectorized": agreement,
        "relative_difference": result.difference,
    }
    print(f"MLP {SIZES}: {n} parameters, batch of {opts.batch}, float64, {report['device']}")
    print(f"vectorized gradcheck:  {vectorized_s:.3f} s warm ({first_s:.3f} s first call, "
          "compiling)")
    print(f"per-coordinate loop:   {loop_s:.3f} s (timed {timed_s:.3f} s on {len(coords)} of {n} "
          "coordinates, extrapolated)")
    print(f"speedup:               {report['speedup']:.1f}x warm; first calls with compiling: "
          f"{first_s:.2f} s vs {loop_compile_s + loop_s:.2f} s")
    print(f"loop vs vectorized numeric gradient: max |diff| {agreement:.1e}")
    print(f"relative difference backprop vs numeric: {result.difference:.2e}")
    if opts.json:
        write_json(opts.json, report)


if __name__ == "__main__":
    main()
