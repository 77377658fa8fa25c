"""Batch-sequential model-based search with a tree-structured Parzen estimator (Bergstra et al.
2011), in numpy.

After each round of ``n`` configs (one vmapped sweep), the finished configs are split at the
``gamma`` quantile of their best monitored value into ``good`` (the best
``max(1, ceil(gamma * k))`` of ``k``) and ``bad``. Each hyperparameter gets two densities on the
scale its distribution samples on (``log10 value`` for :class:`LogUniform`, ``log10(1 - beta)``
for :class:`OneMinusLogUniform`, the value for :class:`Uniform`/:class:`IntUniform`):

    l(t) = (w * prior(t) + sum_{i in good} N_trunc(t; t_i, sigma)) / (w + |good|)
    g(t)   the same over bad;  sigma_i = the larger gap from t_i to its neighbours (the range's
           ends included), clipped to [width / min(100, |set| + 1), width] (as Optuna does)

truncated to the range, with a uniform ``prior`` of weight ``w`` (a :class:`Choice` uses
smoothed counts ``(count + w / K) / (|set| + w)``). Each proposal draws ``candidates`` points
from ``l`` (dimension by dimension, independently) and keeps the one with the largest
``sum_d log l_d(t) - log g_d(t)``. The next round's ``n`` proposals use independent draws, so
they differ. With fewer than 2 finished configs the round is random, with a warning.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from jax.sharding import Mesh

from jaxdl import logs
from jaxdl.logs import Logger
from jaxdl.sweep import state
from jaxdl.sweep.engine import run_rungs
from jaxdl.sweep.merge import GroupedResults, merge
from jaxdl.sweep.options import Prune, sweep_options
from jaxdl.sweep.results import SweepResults, score
from jaxdl.sweep.spaces import Choice, IntUniform, Space, as_space, check_count, sample
from jaxdl.train import Trainer

_erf = np.vectorize(math.erf)


def _cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


class _Parzen:
    """A truncated Gaussian mixture on ``[low, high]`` with a uniform prior component."""

    def __init__(self, points: np.ndarray, low: float, high: float, prior_weight: float):
        width = high - low
        self.low, self.high, self.points = low, high, np.asarray(points, np.float64)
        order = np.argsort(self.points)
        ranked = self.points[order]
        edges = np.r_[low, ranked, high]
        gaps = np.maximum(ranked - edges[:-2], edges[2:] - ranked)
        sigma = np.empty_like(ranked)
        sigma[order] = gaps
        self.sigma = np.clip(sigma, width / min(100, len(ranked) + 1), width)
        self.w = prior_weight
        z = (np.asarray([high, low])[:, None] - self.points[None]) / self.sigma
        self.mass = _cdf(z[0]) - _cdf(z[1])  # each kernel's mass inside the range

    def pdf(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float64)
        z = (t[:, None] - self.points[None]) / self.sigma
        kernels = np.exp(-0.5 * z**2) / (self.sigma * math.sqrt(2 * math.pi)) / self.mass
        total = self.w / (self.high - self.low) + kernels.sum(axis=1)
        return total / (self.w + len(self.points))

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        k = len(self.points)
        which = rng.choice(k + 1, size=size, p=np.r_[self.w, np.ones(k)] / (self.w + k))
        out = rng.uniform(self.low, self.high, size)
        for i in np.flatnonzero(which < k):
            for _ in range(64):  # rejection from the truncated normal
                value = rng.normal(self.points[which[i]], self.sigma[which[i]])
                if self.low <= value <= self.high:
                    out[i] = value
                    break
        return out


def _scale(dist: Any) -> tuple[Any, Any, float, float]:
    """``(forward, inverse, low, high)`` of a numeric distribution's sampling scale."""
    if isinstance(dist, IntUniform):
        return (lambda v: np.asarray(v, np.float64), lambda t: t, dist.low - 0.5, dist.high + 0.5)
    t0, t1 = dist._t_range()
    return dist.forward, dist.inverse, t0, t1


def propose(
    space: Space | Mapping[str, Any],
    configs: Sequence[Mapping[str, Any]],
    scores: Sequence[float],
    n: int,
    seed: int = 0,
    *,
    gamma: float = 0.25,
    candidates: int = 24,
    prior_weight: float = 1.0,
) -> list[dict[str, Any]]:
    """``n`` new configs from the TPE of the finished ``configs`` and their ``scores`` (lower
    is better; non-finite ones count as unfinished). Fewer than 2 finished: ``n`` random ones
    (``sample(space, seed, n)``) and a :class:`UserWarning`.

    Args:
      space: the searched hyperparameters.
      configs: the configs tried so far.
      scores: their scores, lower is better (``inf``/``nan``: not finished).
      n: how many configs to propose.
      seed: the seed of the draws (with ``len(configs)``, so each round draws anew).
      gamma: the fraction of finished configs that counts as good.
      candidates: draws from ``l`` per proposal; the best ``l/g`` ratio is kept.
      prior_weight: the weight of the uniform prior in each density.

    Returns:
      ``n`` configs, dicts of the space's names.

    Raises:
      ValueError: for ``gamma`` outside ``(0, 1)``, or not one score per config.

    >>> import numpy as np
    >>> from jaxdl.sweep.tpe import propose
    >>> from jaxdl.sweep import LogUniform
    >>> space = {"learning_rate": LogUniform(1e-4, 1.0)}
    >>> tried = [{"learning_rate": 10.0**e} for e in np.arange(-4, 0.01, 0.5)]
    >>> scores = [(np.log10(c["learning_rate"]) + 2) ** 2 for c in tried]  # best at 1e-2
    >>> new = propose(space, tried, scores, 8, seed=0)
    >>> all(10**-2.5 < c["learning_rate"] < 10**-1.5 for c in new)
    True
    """
    space = as_space(space)
    n = check_count(n)
    if not 0 < gamma < 1:
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if len(configs) != len(scores):
        raise ValueError(f"configs ({len(configs)}) and scores ({len(scores)}) must match")
    done = [i for i, s in enumerate(scores) if math.isfinite(s)]
    if len(done) < 2:
        warnings.warn(
            f"TPE needs at least 2 finished configs to model, got {len(done)}; proposing "
            f"{n} configs at random",
            UserWarning,
            stacklevel=2,
        )
        return sample(space, seed, n)
    done.sort(key=lambda i: (scores[i], i))
    n_good = min(len(done) - 1, max(1, math.ceil(gamma * len(done))))
    good, bad = done[:n_good], done[n_good:]
    rng = np.random.default_rng([seed, len(configs)])
    counts: dict[str, list[np.ndarray]] = {}  # Choice: smoothed frequencies over good, bad
    parzens: dict[str, list[_Parzen]] = {}  # numeric: densities over good, bad
    for name, dist in space.items():
        if isinstance(dist, Choice):
            counts[name] = [_counts(dist, [configs[i][name] for i in s], prior_weight)
                            for s in (good, bad)]  # fmt: skip
        else:
            forward, _, low, high = _scale(dist)
            parzens[name] = [
                _Parzen(forward(np.asarray([configs[i][name] for i in s], np.float64)), low,
                        high, prior_weight)
                for s in (good, bad)
            ]  # fmt: skip
    proposals = []
    for _ in range(n):
        gain, drawn = np.zeros(candidates), dict[str, Any]()
        for name, dist in space.items():
            if isinstance(dist, Choice):
                l_counts, g_counts = counts[name]
                index = rng.choice(len(dist.options), size=candidates, p=l_counts)
                gain += np.log(l_counts[index]) - np.log(g_counts[index])
                drawn[name] = [dist.options[k] for k in index]
            else:
                l_model, g_model = parzens[name]
                t = l_model.draw(rng, candidates)
                gain += np.log(l_model.pdf(t)) - np.log(g_model.pdf(t))
                drawn[name] = t
        best = int(np.argmax(gain))
        proposals.append({name: _value(dist, drawn[name][best]) for name, dist in space.items()})
    return proposals


def _counts(dist: Choice, values: Sequence[Any], prior_weight: float) -> np.ndarray:
    k = len(dist.options)
    counts = np.asarray([sum(v == o for v in values) for o in dist.options], np.float64)
    return (counts + prior_weight / k) / (len(values) + prior_weight)


def _value(dist: Any, drawn: Any) -> Any:
    if isinstance(dist, Choice):
        return drawn
    if isinstance(dist, IntUniform):
        return int(np.clip(round(float(drawn)), dist.low, dist.high))
    _, inverse, _, _ = _scale(dist)
    return float(np.clip(inverse(drawn), dist.low, dist.high))


def tpe_search(
    space: Space | Mapping[str, Any],
    data: Any,
    *,
    trainer: Trainer,
    n: int = 8,
    rounds: int = 3,
    epochs: int = 10,
    seed: int = 0,
    gamma: float = 0.25,
    candidates: int = 24,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    hp: Mapping[str, Any] | None = None,
    seeds: Sequence[int] | None = None,
    patience: int | None = None,
    monitor: str = "val_loss",
    mode: str | None = None,
    min_delta: float = 0.0,
    mesh: Mesh | None = None,
    epochs_per_call: int = 1,
    model_fn: Callable[[dict[str, Any]], Any] | None = None,
    logger: Logger | None = None,
    compact: bool = True,
    max_members_per_call: int | None = None,
    prune: Prune | None = None,
    method: None = None,
) -> GroupedResults:
    """``rounds`` vmapped sweeps of ``n`` configs for up to ``epochs`` each: round 0 random,
    every later round proposed by :func:`propose` from all earlier results (each config scored
    by its best monitored value). The options are checked once, before round 0;
    ``checkpoint_dir`` holds one sub-directory per round.

    Args:
      space: the searched hyperparameters.
      data: a Dataset or ``(x_train, y_train, x_val, y_val)``.
      trainer: the trainer of every config.
      n: configs per round.
      rounds: rounds (vmapped sweeps), the first one random.
      epochs: the epoch budget of each config.
      seed: the seed of the draws and of the training runs.
      gamma: as in :func:`propose`.
      candidates: as in :func:`propose`.
      checkpoint_dir: the directory of the rounds' sweep directories (``round-0``, ...).
      resume: continue the rounds saved in ``checkpoint_dir``.
      hp, seeds, patience, monitor, mode, min_delta, mesh, epochs_per_call, model_fn, logger,
        compact, max_members_per_call, prune: as in :func:`~jaxdl.sweep.run_sweep`, for every
        round.
      method: not read (the rounds propose their own configs); anything but ``None`` raises.

    Returns:
      The :class:`~jaxdl.sweep.merge.GroupedResults` of all rounds (groups ``"round r"``).

    >>> import numpy as np
    >>> from jaxdl.sweep.tpe import tpe_search
    >>> from jaxdl import MLP, Trainer
    >>> from jaxdl.sweep import LogUniform
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(16, 2)).astype(np.float32), rng.integers(0, 2, 16)
    >>> results = tpe_search({"learning_rate": LogUniform(1e-3, 1.0)},
    ...                      (x[:12], y[:12], x[12:], y[12:]), trainer=Trainer(MLP((2, 2))),
    ...                      n=2, rounds=2, epochs=1)
    >>> results.groups
    ['round 0', 'round 0', 'round 1', 'round 1']
    """
    space = as_space(space)
    n = check_count(n)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    if not 0 < gamma < 1:
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if method is not None:
        raise ValueError("tpe_search proposes its own configs: drop method")
    options = sweep_options(
        trainer, epochs=epochs, hp=hp, seed=seed, seeds=seeds, patience=patience,
        monitor=monitor, mode=mode, min_delta=min_delta, mesh=mesh,
        epochs_per_call=epochs_per_call, model_fn=model_fn, logger=logger,
        checkpoint_dir=checkpoint_dir, resume=resume, compact=compact,
        max_members_per_call=max_members_per_call, prune=prune,
    )  # fmt: skip
    parts: list[SweepResults] = []
    tried: list[Mapping[str, Any]] = []
    scores: list[float] = []
    for r in range(rounds):
        if r == 0:
            configs = sample(space, seed, n)
        else:
            configs = propose(space, tried, scores, n, seed + r, gamma=gamma,
                              candidates=candidates)  # fmt: skip
        folder = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"round-{r}")
        try:
            round_options = dataclasses.replace(
                options, checkpoint_dir=folder, logger=logs.offset_members(logger, len(tried)))
            result = run_rungs(configs, data, trainer, [epochs], 1, round_options)
        except state.SweepInterrupted as stop:
            raise state.interrupted_in(f"round {r}", checkpoint_dir, stop) from None
        parts.append(result)
        for i in range(len(configs)):
            row = result.row(i)
            bad = row["status"] == "diverged"
            tried.append(configs[i])
            scores.append(math.inf if bad else score(result.stopper.direction, row[result.monitor]))
    return merge(parts, [f"round {r}" for r in range(rounds)])
