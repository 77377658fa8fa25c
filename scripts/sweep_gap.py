"""Why a vmapped sweep member's final loss can differ from its solo run, and by how much it matters.

A vmapped member runs the same arithmetic as its solo run, but XLA compiles a batched program
(batched matmuls and reductions) whose float32 summation order differs. The difference starts at
one rounding unit (~1e-7) and stays there for a stable member; a member near the edge of
stability (a high learning rate) amplifies it every step, like any chaotic map, so after a few
epochs its loss can differ in the second digit. :func:`explain_gap` shows this for the member
with the largest gap:

* ``float32`` / ``float64``: that member's final loss vmapped (all members in one batched
  program, as the sweep runs them) and solo, in float32 and in float64 (``jax.enable_x64``, the
  same initial parameters, data and hyperparameters cast up). A rounding-order effect shrinks
  with the rounding unit (float64's is 2**-53 against 2**-24); a bug would not.
* ``seed_spread``: the standard deviation and range of that config's final solo loss over
  ``seeds`` seeds (initialization, batch order, dropout), the scale on which configs are
  compared anyway; ``gap_over_seed_std`` relates the float32 gap to it.
* ``rank``: Spearman and Kendall correlations between the sweep's and the solo runs' final
  losses over all finite members, and whether both pick the same best config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.hyperparams import hyperparams
from jaxdl.train import Keys, Trainer, run_init


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 (ties broken by position; losses of distinct runs rarely tie)."""
    ranks = np.empty(len(values))
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation: the Pearson correlation of the ranks.

    >>> spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.5
    """
    ra, rb = _ranks(np.asarray(a)), _ranks(np.asarray(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau: (concordant - discordant pairs) / all pairs.

    >>> kendall([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.3333333333333333
    """
    a, b = np.asarray(a), np.asarray(b)
    i, j = np.triu_indices(len(a), k=1)
    signs = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return float(np.sum(signs) / len(signs))


def _cast(tree: Any, dtype: Any) -> Any:
    """Every floating leaf of ``tree`` as ``dtype`` (integers and keys unchanged)."""

    def leaf(a):
        a = jnp.asarray(a)
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree.map(leaf, tree)


def final_losses(
    trainer: Trainer,
    configs: Sequence[dict],
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    dtype: Any,
    vmapped: bool,
    members: Sequence[int] | None = None,
) -> np.ndarray:
    """The last epoch's training loss of ``members`` (default: all) in ``dtype``: all configs in
    one ``jax.vmap(Trainer.epoch)`` (shared keys, as the sweep) or each one solo. Call under
    ``jax.enable_x64(True)`` for float64."""
    members = list(range(len(configs)) if members is None else members)
    keys = Keys.from_seed(seed)
    xd, yd = jnp.asarray(x, dtype), jnp.asarray(y)
    hps = [hyperparams(**c) for c in configs]
    states = [_cast(run_init(trainer, keys.init, hp), dtype) for hp in hps]
    hps = [_cast(hp, dtype) for hp in hps]
    if vmapped:
        ts, hp = (jax.tree.map(lambda *a: jnp.stack(a), *t) for t in (states, hps))
        step = jax.jit(jax.vmap(trainer.epoch, in_axes=(0, 0, None, None, None, None)))
        for epoch in range(epochs):
            ts, metrics = step(ts, hp, xd, yd, keys, jnp.int32(epoch))
        return np.asarray(metrics["loss"], np.float64)[members]
    step = jax.jit(trainer.epoch)
    out = []
    for i in members:
        ts = states[i]
        for epoch in range(epochs):
            ts, metrics = step(ts, hps[i], xd, yd, keys, jnp.int32(epoch))
        out.append(float(metrics["loss"]))
    return np.asarray(out)


def seed_spread(
    trainer: Trainer, config: dict, x: np.ndarray, y: np.ndarray, epochs: int, seeds: int
) -> np.ndarray:
    """Final solo float32 losses of ``config`` for seeds ``0..seeds-1``."""
    keys = [Keys.from_seed(s) for s in range(seeds)]
    hp = hyperparams(**config)
    step = jax.jit(trainer.epoch)
    xd, yd = jnp.asarray(x), jnp.asarray(y)
    out = []
    for k in keys:
        ts = run_init(trainer, k.init, hp)
        for epoch in range(epochs):
            ts, metrics = step(ts, hp, xd, yd, k, jnp.int32(epoch))
        out.append(float(metrics["loss"]))
    return np.asarray(out)


def explain_gap(
    trainer: Trainer,
    configs: Sequence[dict],
    data: tuple[np.ndarray, ...],
    epochs: int,
    sweep_losses: Sequence[float],
    solo_losses: Sequence[float],
    seed: int = 0,
    seeds: int = 8,
) -> dict[str, Any]:
    """The member with the largest |sweep - solo| final loss, its gap in float32 and float64,
    its seed-to-seed spread and the rank agreement of sweep and solo (see the module
    docstring). ``sweep_losses`` / ``solo_losses``: float32 final losses of every config."""
    x, y = data[0], data[1]
    sweep_losses, solo_losses = np.asarray(sweep_losses), np.asarray(solo_losses)
    finite = np.flatnonzero(np.isfinite(sweep_losses) & np.isfinite(solo_losses))
    if len(finite) < 2:
        raise ValueError("explain_gap needs at least two members with finite losses")
    gaps = np.abs(sweep_losses - solo_losses)
    m = int(finite[np.argmax(gaps[finite])])
    precision = {}
    for name, dtype in (("float32", jnp.float32), ("float64", jnp.float64)):
        with jax.enable_x64(dtype == jnp.float64):
            v = final_losses(trainer, configs, x, y, epochs, seed, dtype, True, [m])[0]
            s = final_losses(trainer, configs, x, y, epochs, seed, dtype, False, [m])[0]
        precision[name] = {"vmapped": float(v), "solo": float(s), "gap": float(abs(v - s))}
    spread = seed_spread(trainer, configs[m], x, y, epochs, seeds)
    std = float(np.std(spread, ddof=1)) if seeds > 1 else float("nan")
    best = int(finite[np.argmin(sweep_losses[finite])]), int(finite[np.argmin(solo_losses[finite])])
    others = np.delete(gaps[finite], np.argmax(gaps[finite]))
    return {
        "member": m,
        "config": {k: float(v) for k, v in configs[m].items()},
        "sweep_loss": float(sweep_losses[m]),
        "solo_loss": float(solo_losses[m]),
        "gap_float32": precision["float32"]["gap"],
        "gap_float64": precision["float64"]["gap"],
        "precision": precision,
        "solo_float32_vs_float64": abs(precision["float32"]["solo"] - precision["float64"]["solo"]),
        "median_gap_of_the_others": float(np.median(others)) if len(others) else None,
        "seed_losses": spread.tolist(),
        "seed_std": std,
        "seed_range": float(np.ptp(spread)),
        "gap_over_seed_std": float(gaps[m] / std) if std > 0 else None,
        "rank": {
            "members": len(finite),
            "spearman": spearman(sweep_losses[finite], solo_losses[finite]),
            "kendall": kendall(sweep_losses[finite], solo_losses[finite]),
            "same_best": best[0] == best[1],
        },
    }
