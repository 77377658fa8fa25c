"""Hyperband (Li et al., JMLR 2018): successive halving from several starting budgets.

With a maximum of ``R`` epochs per config and a halving rate ``eta``:

    s_max = floor(log_eta R)
    bracket s = s_max, ..., 0:   n = ceil((s_max + 1) / (s + 1) * eta**s) configs,
                                 r = R * eta**-s epochs each at first,
                                 rung i = 0..s: n_i = floor(n * eta**-i) configs, r_i = r * eta**i

The most aggressive bracket (``s = s_max``) starts many configs on few epochs, the last one
(``s = 0``) trains a few for ``R`` epochs, so it hedges against early rankings that mislead.
Every bracket is one vmapped :func:`~jaxdl.sweep.successive_halving` (after a rung it keeps
``ceil(n_i / eta)``, one more than the paper's ``floor`` where they differ), starting at
``max(1, round(r))`` epochs. Configs are drawn once from ``seed`` and split over the brackets in
order; ``checkpoint_dir`` holds one sub-directory per bracket, so a resumed search skips the
finished brackets without compiling them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from jax.sharding import Mesh

from jaxdl import logs
from jaxdl.logs import Logger
from jaxdl.sweep import state
from jaxdl.sweep.engine import run_rungs
from jaxdl.sweep.merge import GroupedResults, merge
from jaxdl.sweep.options import Prune, sweep_options
from jaxdl.sweep.rungs import halving_rungs
from jaxdl.sweep.spaces import Space, as_space, sample
from jaxdl.train import Trainer


class Bracket(NamedTuple):
    """One bracket: ``s``, its ``n`` configs, their first budget ``r`` (epochs, may be a
    fraction of one), and its rungs ``[(n_i, r_i), ...]``."""

    s: int
    n: int
    r: float
    rungs: list[tuple[int, float]]


def check_eta(eta: Any) -> int:
    """``eta`` must be an int >= 2."""
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise ValueError(f"eta must be an integer >= 2 (the halving rate), got {eta!r}")
    return eta


def brackets(max_epochs: int, eta: int = 3) -> list[Bracket]:
    """The brackets of Li et al. (2018), Algorithm 1, most aggressive first.

    >>> from jaxdl.sweep.hyperband import brackets
    >>> [(b.s, b.n, b.r) for b in brackets(81, 3)]
    [(4, 81, 1.0), (3, 34, 3.0), (2, 15, 9.0), (1, 8, 27.0), (0, 5, 81.0)]
    """
    check_eta(eta)
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"max_epochs (R) must be a positive integer, got {max_epochs!r}")
    s_max = 0
    while eta ** (s_max + 1) <= max_epochs:
        s_max += 1
    out = []
    for s in range(s_max, -1, -1):
        n = math.ceil(Fraction(s_max + 1, s + 1) * eta**s)
        r = Fraction(max_epochs, eta**s)
        rungs = [(math.floor(Fraction(n, eta**i)), float(r * eta**i)) for i in range(s + 1)]
        out.append(Bracket(s, n, float(r), rungs))
    return out


def hyperband(
    space: Space | Mapping[str, Any],
    data: Any,
    *,
    trainer: Trainer,
    max_epochs: int,
    eta: int = 3,
    seed: int = 0,
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
    n: None = None,
    method: None = None,
) -> GroupedResults:
    """Run every bracket of :func:`brackets` ``(max_epochs, eta)`` as a vmapped successive
    halving and rank all configs together (the ``group`` column names the bracket). The options
    are checked once, before any config is drawn.

    Args:
        space: the search space (a :class:`~jaxdl.sweep.Space` or a dict of distributions).
        data: ``(x_train, y_train, x_val, y_val)`` or a dataset, as in
            :func:`~jaxdl.sweep.run_sweep`.
        trainer: the :class:`~jaxdl.Trainer` every config trains with.
        max_epochs: ``R``, the most epochs one config trains (an int >= 1).
        eta: the halving rate (an int >= 2).
        seed: draws the configs and seeds the training.
        checkpoint_dir: a directory for one checkpoint folder per bracket, or ``None``.
        resume: continue the search saved in ``checkpoint_dir``.
        hp, seeds, patience, monitor, mode, min_delta, mesh, epochs_per_call, model_fn, logger,
            compact, max_members_per_call, prune: as in :func:`~jaxdl.sweep.run_sweep`, for
            every bracket.
        n, method: not read (hyperband draws its own configs); anything but ``None`` raises.

    Returns:
        The :class:`~jaxdl.sweep.GroupedResults` of every config, ranked together.

    Examples:
        >>> from jaxdl.sweep.hyperband import hyperband
        >>> import numpy as np
        >>> from jaxdl import MLP, Trainer
        >>> from jaxdl.sweep import LogUniform
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(16, 2)).astype(np.float32)
        >>> y = (x[:, 0] > 0).astype(np.int32)
        >>> results = hyperband({"learning_rate": LogUniform(1e-3, 1.0)},
        ...                     (x[:12], y[:12], x[12:], y[12:]), trainer=Trainer(MLP((2, 4, 2))),
        ...                     max_epochs=2, eta=2)
        >>> results.groups  # bracket 1: 2 configs from 1 epoch, bracket 0: 2 configs for 2
        ['bracket 1', 'bracket 1', 'bracket 0', 'bracket 0']
        >>> results.status.count("pruned"), results.epochs_trained
        (1, 7)
    """
    plan = brackets(max_epochs, eta)
    space = as_space(space)
    if n is not None or method is not None:
        raise ValueError("hyperband draws its own configs: drop n and method")
    options = sweep_options(
        trainer, epochs=max_epochs, hp=hp, seed=seed, seeds=seeds, patience=patience,
        monitor=monitor, mode=mode, min_delta=min_delta, mesh=mesh,
        epochs_per_call=epochs_per_call, model_fn=model_fn, logger=logger,
        checkpoint_dir=checkpoint_dir, resume=resume, compact=compact,
        max_members_per_call=max_members_per_call, prune=prune,
    )  # fmt: skip
    configs = sample(space, seed, sum(b.n for b in plan))
    parts, start = [], 0
    for b in plan:
        folder = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"bracket-{b.s}")
        bracket = dataclasses.replace(options, checkpoint_dir=folder,
                                      logger=logs.offset_members(logger, start))  # fmt: skip
        rungs = halving_rungs(max(1, round(b.r)), max_epochs, eta)
        try:
            parts.append(run_rungs(configs[start : start + b.n], data, trainer, rungs, eta,
                                   bracket))  # fmt: skip
        except state.SweepInterrupted as stop:
            raise state.interrupted_in(f"bracket {b.s}", checkpoint_dir, stop) from None
        start += b.n
    return merge(parts, [f"bracket {b.s}" for b in plan])
