"""What every demo experiment shares: the run context, one fitted run as a table row, the
expected findings, and EWA smoothing of per-step costs for the plots."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
from jax.typing import ArrayLike

from jaxdl import ewa, plots
from jaxdl.checks import check_beta
from jaxdl.data.datasets import Dataset
from jaxdl.evaluation import evaluate_splits
from jaxdl.train import FitResult, Trainer, TrainingDiverged, fit

Json = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Context:
    """Settings shared by the experiments."""

    quick: bool
    seed: int
    out: str
    plots: bool

    def epochs(self, quick: int, full: int) -> int:
        """The epoch budget of the current mode."""
        return quick if self.quick else full

    def plot(self, draw: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> list[str]:
        """Draw ``name`` into the output directory (nothing when plots are off); decision
        boundaries on a coarser grid in quick mode."""
        if not self.plots:
            return []
        if draw is plots.boundaries and self.quick:
            kwargs.setdefault("resolution", 100)
        draw(os.path.join(self.out, name), *args, **kwargs)
        return [name]


def row(name: str, model: Any, params: Any, state: Any, data: Dataset, **extra: Any) -> Json:
    """A table row: train and test accuracy of a trained model, plus ``extra`` columns."""
    splits = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}
    scores = evaluate_splits(model, params, state, splits)
    return {
        "run": name,
        "train_accuracy": scores["train"]["accuracy"],
        "test_accuracy": scores["test"]["accuracy"],
        **extra,
    }


def train(
    ctx: Context, name: str, trainer: Trainer, data: Dataset, hp: dict[str, float], epochs: int
) -> tuple[Json, FitResult]:
    """Fit one run; a diverged run keeps its last finite parameters and says so in its note."""
    note = ""
    try:
        result = fit(
            trainer, data.x_train, data.y_train, hp=hp, epochs=epochs, seed=ctx.seed,
            progress=False,
        )
    except TrainingDiverged as err:
        result, note = err.result, f"diverged at epoch {err.epoch}"
    history = result.history
    entry = row(
        name, trainer.model, result.params, result.model_state, data,
        cost=history["loss"][-1], note=note, diverged=bool(note), loss=history["loss"],
    )
    return entry, result


def per_epoch(values: list[float]) -> tuple[list[int], list[float]]:
    """``(epochs 1..n, values)`` of a history list: as many epochs as were recorded (a run that
    diverged stops early).

    >>> per_epoch([0.7, 0.5])
    ([1, 2], [0.7, 0.5])
    """
    return list(range(1, len(values) + 1)), list(values)


def finding(claim: str, holds: bool) -> Json:
    """An expected finding and whether the numbers of this run show it."""
    return {"claim": claim, "holds": bool(holds)}


def full_batch(data: Dataset) -> int:
    """The batch size of batch gradient descent: the whole training set."""
    return len(data.y_train)


def step_costs(result: FitResult) -> tuple[np.ndarray, np.ndarray]:
    """``(epoch, cost)`` of every training step, the epoch as a fraction (step ``i`` of ``n``
    per epoch ends at epoch ``e + (i + 1) / n``)."""
    costs = np.asarray([c for epoch in result.history["batch_cost"] for c in epoch], float)
    per_epoch = len(result.history["batch_cost"][0])
    return (np.arange(len(costs)) + 1) / per_epoch, costs


# ewa.average compiled once per padded length (beta traced): see smooth.
_average = jax.jit(ewa.average, static_argnames="bias_correction")
SMOOTH_MIN_LENGTH = 1024


def smooth(values: ArrayLike, beta: float) -> np.ndarray:
    """The course's exponentially weighted average ``v_t = beta v_{t-1} + (1 - beta) x_t`` with
    bias correction (``jaxdl.ewa.average``), over about ``1 / (1 - beta)`` values.

    The average is causal, so zeros appended to ``values`` leave every average before them as
    it is: series are padded to a power of two (at least ``SMOOTH_MIN_LENGTH``) and share one
    compiled program per padded length."""
    check_beta("beta", beta)
    values = np.asarray(values, np.float32)
    padded = np.zeros(max(SMOOTH_MIN_LENGTH, 1 << (len(values) - 1).bit_length()), np.float32)
    padded[: len(values)] = values
    return np.asarray(_average(padded, np.float32(beta)), float)[: len(values)]


@contextlib.contextmanager
def fully_optimized() -> Iterator[None]:
    """Compile with all of XLA's optimizations inside (quick mode turns the expensive ones off
    to start faster; a timing experiment must measure the real programs)."""
    before = bool(jax.config.values.get("jax_disable_most_optimizations", False))
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", before)
