"""Search distributions over one hyperparameter each.

Each continuous distribution samples uniformly on its own scale ``t`` and maps back:

    LogUniform(low, high):          r ~ U[log10 low, log10 high],           value = 10**r
    OneMinusLogUniform(low, high):  r ~ U[log10(1-high), log10(1-low)],     value = 1 - 10**r
    Uniform(low, high):             value ~ U[low, high]
    IntUniform(low, high):          value ~ uniform integer in {low, ..., high}
    Choice(options):                value ~ uniform over the options

``LogUniform`` suits learning rates and L2 lambdas (as many draws in [1e-4, 1e-3] as in
[1e-1, 1]); ``OneMinusLogUniform`` suits EWA betas, where 0.9 .. 0.999 averages over 10 .. 1000
values and the sensitivity grows near 1. ``zoom`` narrows a distribution to the values of the
best results, padded by ``margin`` of the old width on the sampling scale and clipped to the old
range; a ``Choice`` keeps the options those results used. ``distribution(kind, spec, name)``
builds one by name (TOML files, the CLI's ranges). Search spaces over several names are in
:mod:`jaxdl.sweep.spaces`.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxdl.checks import check_range


class Distribution(abc.ABC):
    """A one-dimensional search distribution: subclasses map uniform draws to values, give a
    grid, and narrow themselves around good values.

    Examples:
      >>> from jaxdl.sweep import Distribution, LogUniform
      >>> isinstance(LogUniform(1e-4, 1.0), Distribution)
      True
    """

    @abc.abstractmethod
    def from_unit(self, u: np.ndarray) -> list:
        """Map uniform draws ``u`` in [0, 1) to values (plain Python numbers or options).

        Args:
          u: uniform draws in ``[0, 1)``.

        Returns:
          One value per draw.
        """

    @abc.abstractmethod
    def grid(self, k: int) -> list:
        """``k`` values evenly spaced on the sampling scale (fewer when the support is smaller).

        Args:
          k: the number of points wanted.

        Returns:
          The grid values, sorted.
        """

    @abc.abstractmethod
    def zoom(self, values: Sequence[Any], margin: float) -> Distribution:
        """The same kind of distribution, narrowed to ``values`` (see the module docstring).

        Args:
          values: the values of the best results.
          margin: the padding, as a fraction of the current width on the sampling scale.

        Returns:
          The narrowed distribution.
        """


def _check_number(cls: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{cls}.{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{cls}.{name} must be finite, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class _Continuous(Distribution):
    """Uniform on the scale ``t = forward(value)`` between ``low`` and ``high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        cls = type(self).__name__
        low = _check_number(cls, "low", self.low)
        high = _check_number(cls, "high", self.high)
        if not low < high:
            raise ValueError(f"{cls} needs low < high, got low={low!r}, high={high!r}")
        self._check_domain(cls, low, high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _check_domain(self, cls: str, low: float, high: float) -> None:
        """Extra constraints of a subclass on ``(low, high)``."""

    def forward(self, value: Any) -> np.ndarray:
        """Value to sampling scale."""
        return np.asarray(value, np.float64)

    def inverse(self, t: Any) -> np.ndarray:
        """Sampling scale to value."""
        return np.asarray(t, np.float64)

    def _edges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((t0, bound0), (t1, bound1))``: the range on the sampling scale, lower end first."""
        a, b = sorted((float(self.forward(v)), v) for v in (self.low, self.high))
        return a, b

    def _t_range(self) -> tuple[float, float]:
        (t0, _), (t1, _) = self._edges()
        return t0, t1

    def from_unit(self, u: np.ndarray) -> list:
        t0, t1 = self._t_range()
        values = self.inverse(t0 + np.asarray(u, np.float64) * (t1 - t0))
        return [float(np.clip(v, self.low, self.high)) for v in values]

    def grid(self, k: int) -> list:
        t0, t1 = self._t_range()
        t = np.linspace(t0, t1, k) if k > 1 else np.asarray([(t0 + t1) / 2])
        return [float(np.clip(v, self.low, self.high)) for v in np.sort(self.inverse(t))]

    def zoom(self, values: Sequence[Any], margin: float) -> Distribution:
        (t0, b0), (t1, b1) = self._edges()
        t = self.forward(np.asarray(values, np.float64))
        pad = margin * (t1 - t0)
        lo, hi = float(t.min()) - pad, float(t.max()) + pad
        ends = (
            b0 if lo <= t0 else float(np.clip(self.inverse(lo), self.low, self.high)),
            b1 if hi >= t1 else float(np.clip(self.inverse(hi), self.low, self.high)),
        )
        return type(self)(*sorted(ends))


class Uniform(_Continuous):
    """``value ~ U[low, high]``.

    Args:
      low: the lower end (finite).
      high: the upper end (finite, > ``low``).

    Examples:
      >>> from jaxdl.sweep import Uniform
      >>> Uniform(0.0, 1.0).grid(3)
      [0.0, 0.5, 1.0]
    """


class LogUniform(_Continuous):
    """``r ~ U[log10 low, log10 high]``, ``value = 10**r`` (``0 < low < high``).

    As many draws fall in ``[1e-4, 1e-3]`` as in ``[0.1, 1]``: the scale for learning rates.

    Args:
      low: the lower end (> 0).
      high: the upper end (> ``low``).

    Examples:
      >>> from jaxdl.sweep import LogUniform
      >>> [round(v, 6) for v in LogUniform(1e-4, 1.0).grid(5)]
      [0.0001, 0.001, 0.01, 0.1, 1.0]
    """

    def _check_domain(self, cls: str, low: float, high: float) -> None:
        if low <= 0:
            raise ValueError(f"{cls} needs 0 < low < high (it samples log10), got low={low!r}")

    def forward(self, value: Any) -> np.ndarray:
        return np.log10(np.asarray(value, np.float64))

    def inverse(self, t: Any) -> np.ndarray:
        return 10.0 ** np.asarray(t, np.float64)


class OneMinusLogUniform(_Continuous):
    """``r ~ U[log10(1 - high), log10(1 - low)]``, ``beta = 1 - 10**r`` (``0 < low < high < 1``),
    e.g. ``OneMinusLogUniform(0.9, 0.999)`` for an EWA beta.

    Args:
      low: the lower end, in ``(0, 1)``.
      high: the upper end, in ``(low, 1)``.

    Examples:
      >>> from jaxdl.sweep import OneMinusLogUniform
      >>> [round(v, 6) for v in OneMinusLogUniform(0.9, 0.999).grid(3)]
      [0.9, 0.99, 0.999]
    """

    def _check_domain(self, cls: str, low: float, high: float) -> None:
        for name, value in (("low", low), ("high", high)):
            check_range(f"{cls}.{name}", value, 0.0, 1.0, low_open=True, high_open=True)

    def forward(self, value: Any) -> np.ndarray:
        return np.log10(1.0 - np.asarray(value, np.float64))

    def inverse(self, t: Any) -> np.ndarray:
        return 1.0 - 10.0 ** np.asarray(t, np.float64)


@dataclasses.dataclass(frozen=True)
class IntUniform(Distribution):
    """A uniform integer in ``{low, ..., high}`` (both ends included, ``low < high``).

    Args:
      low: the smallest value (an int).
      high: the largest value (an int > ``low``).

    Examples:
      >>> from jaxdl.sweep import IntUniform
      >>> IntUniform(1, 3).grid(10)
      [1, 2, 3]
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"IntUniform.{name} must be an int, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not self.low < self.high:
            raise ValueError(f"IntUniform needs low < high, got low={self.low}, high={self.high}")

    def from_unit(self, u: np.ndarray) -> list:
        n = self.high - self.low + 1
        index = np.minimum(np.floor(np.asarray(u, np.float64) * n), n - 1).astype(np.int64)
        return [self.low + int(i) for i in index]

    def grid(self, k: int) -> list:
        k = min(k, self.high - self.low + 1)
        points = np.linspace(self.low, self.high, k) if k > 1 else [(self.low + self.high) / 2]
        return sorted({int(round(p)) for p in points})

    def zoom(self, values: Sequence[Any], margin: float) -> Distribution:
        pad = max(1, math.ceil(margin * (self.high - self.low)))
        low = max(self.low, min(int(v) for v in values) - pad)
        high = min(self.high, max(int(v) for v in values) + pad)
        return IntUniform(low, high)


def _hashable(option: Any) -> Any:
    return tuple(option) if isinstance(option, list) else option


@dataclasses.dataclass(frozen=True)
class Choice(Distribution):
    """One of ``options``, each with probability ``1 / len(options)`` (lists become tuples).

    Args:
      options: the distinct choices, e.g. hidden widths or optimizer names.

    Examples:
      >>> from jaxdl.sweep import Choice
      >>> Choice([[16, 16], [32]]).options
      ((16, 16), (32,))
    """

    options: tuple

    def __init__(self, options: Sequence[Any]) -> None:
        if isinstance(options, str | bytes) or not isinstance(options, Sequence):
            raise TypeError(f"Choice needs a sequence of options, got {options!r}")
        options = tuple(_hashable(o) for o in options)
        if not options:
            raise ValueError("Choice needs at least one option, got an empty sequence")
        if len(set(options)) != len(options):
            raise ValueError(f"Choice options must be distinct, got {options!r}")
        object.__setattr__(self, "options", options)

    def from_unit(self, u: np.ndarray) -> list:
        n = len(self.options)
        index = np.minimum(np.floor(np.asarray(u, np.float64) * n), n - 1).astype(np.int64)
        return [self.options[int(i)] for i in index]

    def grid(self, k: int) -> list:
        return list(self.options)

    def zoom(self, values: Sequence[Any], margin: float) -> Distribution:
        used = {_hashable(v) for v in values}
        return Choice([o for o in self.options if o in used])


# -- distributions by name (TOML files, the CLI's ranges) ------------------------------------
DISTRIBUTIONS: Mapping[str, type[_Continuous] | type[IntUniform]] = {
    "log_uniform": LogUniform,
    "one_minus_log_uniform": OneMinusLogUniform,
    "uniform": Uniform,
    "int_uniform": IntUniform,
}


def distribution(kind: str, spec: Mapping[str, Any], name: str) -> Distribution:
    """The distribution named ``kind`` (a key of :data:`DISTRIBUTIONS`, taking ``low`` and
    ``high``, or ``"choice"``, taking ``options``); ``name`` prefixes error messages.

    >>> from jaxdl.sweep.distributions import distribution
    >>> distribution("log_uniform", {"low": 1e-4, "high": 1.0}, "lr")
    LogUniform(low=0.0001, high=1.0)
    """
    if kind == "choice":
        if set(spec) != {"options"}:
            raise ValueError(f"{name}: a choice takes only 'options', got {sorted(spec)}")
        return Choice(spec["options"])
    if kind not in DISTRIBUTIONS:
        raise ValueError(
            f"{name}: unknown distribution {kind!r}; use one of "
            f"{', '.join([*DISTRIBUTIONS, 'choice'])}"
        )
    if set(spec) != {"low", "high"}:
        raise ValueError(f"{name}: a {kind} takes 'low' and 'high', got {sorted(spec)}")
    return DISTRIBUTIONS[kind](spec["low"], spec["high"])
