"""Search spaces: distributions over hyperparameters, random or grid sampling, and ``zoom``.

Each continuous distribution samples uniformly on its own scale ``t`` and maps back:

    LogUniform(low, high):          r ~ U[log10 low, log10 high],           value = 10**r
    OneMinusLogUniform(low, high):  r ~ U[log10(1-high), log10(1-low)],     value = 1 - 10**r
    Uniform(low, high):             value ~ U[low, high]
    IntUniform(low, high):          value ~ uniform integer in {low, ..., high}
    Choice(options):                value ~ uniform over the options

``LogUniform`` suits learning rates and L2 lambdas (as many draws in [1e-4, 1e-3] as in
[1e-1, 1]); ``OneMinusLogUniform`` suits EWA betas, where 0.9 .. 0.999 averages over 10 .. 1000
values and the sensitivity grows near 1.

``sample(space, key, n)`` is random search, reproducible from a PRNG key (or an int seed); every
hyperparameter draws from its own stream ``fold_in(key, crc32(name))``, so adding a dimension does
not change the others. ``method="grid"`` gives the largest full grid of at most ``n`` points,
evenly spaced on each scale (to compare against). ``zoom(space, results, k)`` narrows every range
to the best ``k`` results (coarse to fine), padded by ``margin`` of the old width on the sampling
scale and clipped to the old range; a ``Choice`` keeps the options those results used.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import math
import tomllib
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.checks import check_range

METHODS = ("random", "grid")


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


class Space(Mapping):
    """An ordered mapping from hyperparameter names to :class:`Distribution` objects.

    Args:
      dims: a mapping name -> distribution.
      **more: more names and distributions.

    Raises:
      ValueError: for an empty space.
      TypeError: for a non-string name or an entry that is not a distribution.

    Examples:
      >>> from jaxdl.sweep import LogUniform, OneMinusLogUniform, Space
      >>> space = Space(learning_rate=LogUniform(1e-4, 1e-1), beta=OneMinusLogUniform(0.9, 0.999))
      >>> list(space)
      ['learning_rate', 'beta']
    """

    def __init__(self, dims: Mapping[str, Distribution] | None = None, **more: Distribution):
        dims = {**(dims or {}), **more}
        if not dims:
            raise ValueError(
                "the search space is empty; give at least one name -> distribution, "
                "e.g. Space(learning_rate=LogUniform(1e-4, 1e-1))"
            )
        for name, dist in dims.items():
            if not isinstance(name, str):
                raise TypeError(f"search space names must be strings, got {name!r}")
            if not isinstance(dist, Distribution):
                raise TypeError(
                    f"search space entry {name!r} must be a distribution (LogUniform, "
                    f"OneMinusLogUniform, Uniform, IntUniform or Choice), got {dist!r}"
                )
        self._dims = dict(dims)

    def __getitem__(self, name: str) -> Distribution:
        return self._dims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __repr__(self) -> str:
        return f"Space({self._dims!r})"


def as_space(space: Space | Mapping[str, Distribution]) -> Space:
    """``space`` itself, or a :class:`Space` built from a plain mapping.

    Args:
      space: a :class:`Space` or a mapping name -> distribution.

    Returns:
      A :class:`Space`.

    Examples:
      >>> from jaxdl.sweep.spaces import Uniform, as_space
      >>> as_space({"keep_prob": Uniform(0.5, 1.0)})
      Space({'keep_prob': Uniform(low=0.5, high=1.0)})
    """
    return space if isinstance(space, Space) else Space(space)


def check_count(n: Any) -> int:
    """The number of configs, checked: an int >= 1.

    Args:
      n: the number of configs asked for.

    Returns:
      ``n`` as a Python int.

    Raises:
      TypeError: for a non-integer.
      ValueError: for ``n < 1``.

    Examples:
      >>> from jaxdl.sweep.spaces import check_count
      >>> check_count(0)
      Traceback (most recent call last):
      ...
      ValueError: n (the number of configs) must be >= 1, got 0
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n (the number of configs) must be an int, got {n!r}")
    if n < 1:
        raise ValueError(f"n (the number of configs) must be >= 1, got {n}")
    return int(n)


def _stream(key: jax.Array, name: str) -> jax.Array:
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def sample(
    space: Space | Mapping[str, Distribution],
    key: jax.Array | int,
    n: int,
    method: str = "random",
) -> list[dict[str, Any]]:
    """``n`` configs (dicts name -> value) drawn at random, or a grid (see the module docstring).

    Args:
      space: a :class:`Space` or a mapping name -> distribution.
      key: a PRNG key or an int seed (the grid ignores it).
      n: the number of configs (at most ``n`` for the grid).
      method: ``"random"`` or ``"grid"``.

    Returns:
      A list of configs, each a dict name -> value.

    Examples:
      >>> from jaxdl.sweep import LogUniform, Space, sample
      >>> configs = sample(Space(learning_rate=LogUniform(1e-4, 1.0)), key=0, n=3)
      >>> len(configs), all(1e-4 <= c["learning_rate"] <= 1.0 for c in configs)
      (3, True)
    """
    space = as_space(space)
    n = check_count(n)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "grid":
        return grid(space, n)
    key = jax.random.key(key) if isinstance(key, int | np.integer) else key
    columns = {
        name: dist.from_unit(np.asarray(jax.random.uniform(_stream(key, name), (n,))))
        for name, dist in space.items()
    }
    return [{name: columns[name][i] for name in space} for i in range(n)]


def grid(space: Space | Mapping[str, Distribution], n: int) -> list[dict[str, Any]]:
    """The largest full grid with at most ``n`` points and the same number ``k`` of points on
    every continuous axis (an ``IntUniform`` gives ``min(k, high - low + 1)``, a ``Choice`` all
    its options).

    Args:
      space: a :class:`Space` or a mapping name -> distribution.
      n: the largest number of points allowed.

    Returns:
      The grid's configs, each a dict name -> value.

    Raises:
      ValueError: when even one point per axis exceeds ``n``.

    Examples:
      >>> from jaxdl.sweep import Choice, LogUniform, grid
      >>> space = {"learning_rate": LogUniform(0.01, 1.0), "optimizer": Choice(["sgd", "adam"])}
      >>> points = grid(space, 6)
      >>> [(round(p["learning_rate"], 3), p["optimizer"]) for p in points]
      [(0.01, 'sgd'), (0.01, 'adam'), (0.1, 'sgd'), (0.1, 'adam'), (1.0, 'sgd'), (1.0, 'adam')]
    """
    space = as_space(space)
    n = check_count(n)

    def size(k: int) -> int:
        return math.prod(len(d.grid(k)) for d in space.values())

    if size(1) > n:
        raise ValueError(f"the smallest grid of this space has {size(1)} points > n={n}")
    k = 1
    while size(k + 1) <= n and size(k + 1) > size(k):
        k += 1
    axes = [space[name].grid(k) for name in space]
    return [dict(zip(space, point)) for point in itertools.product(*axes)]


def zoom(
    space: Space | Mapping[str, Distribution],
    results: Any,
    k: int,
    margin: float = 0.1,
) -> Space:
    """Narrow ``space`` around the best ``k`` results (coarse to fine).

    Args:
      space: the space that was searched.
      results: a :class:`~jaxdl.sweep.results.SweepResults` (its ``top(k)`` rows: best first,
        diverged members excluded) or a sequence of configs already sorted best first.
      k: how many of the best results to keep in range.
      margin: the padding around them, as a fraction of each old width (> 0).

    Returns:
      The narrower :class:`Space`.

    Raises:
      ValueError: when no result is left or the results lack a hyperparameter of the space.

    Examples:
      >>> from jaxdl.sweep import LogUniform, Space, zoom
      >>> space = Space(learning_rate=LogUniform(1e-4, 1.0))
      >>> best_first = [{"learning_rate": 0.01}, {"learning_rate": 0.001}, {"learning_rate": 1.0}]
      >>> narrow = zoom(space, best_first, k=2, margin=0.25)["learning_rate"]
      >>> round(narrow.low, 6), round(narrow.high, 6)
      (0.0001, 0.1)
    """
    space = as_space(space)
    k = check_count(k)
    check_range("margin", margin, 0.0, low_open=True)
    top = results.top(k) if hasattr(results, "top") else list(results)[:k]
    if not top:
        raise ValueError("zoom needs at least one result that did not diverge")
    missing = [name for name in space if any(name not in row for row in top)]
    if missing:
        raise ValueError(f"the results do not hold the hyperparameter(s) {missing} of the space")
    return Space({name: d.zoom([row[name] for row in top], margin) for name, d in space.items()})


# -- search spaces from TOML files (the CLI's --space) ----------------------------------------
DISTRIBUTIONS: Mapping[str, type[_Continuous] | type[IntUniform]] = {
    "log_uniform": LogUniform,
    "one_minus_log_uniform": OneMinusLogUniform,
    "uniform": Uniform,
    "int_uniform": IntUniform,
}


def distribution(kind: str, spec: Mapping[str, Any], name: str) -> Distribution:
    """The distribution named ``kind`` (a key of :data:`DISTRIBUTIONS`, taking ``low`` and
    ``high``, or ``"choice"``, taking ``options``); ``name`` prefixes error messages.

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


def read_space(path: str) -> dict[str, Distribution]:
    """A search space from a TOML file: one table per hyperparameter, e.g.

        learning_rate = { distribution = "log_uniform", low = 1e-4, high = 1.0 }
        beta = { distribution = "one_minus_log_uniform", low = 0.9, high = 0.999 }
        batch_size = { distribution = "choice", options = [32, 64] }

    Names are those of a sweep config (``learning_rate``, not ``lr``); distributions are the
    keys of :data:`DISTRIBUTIONS` and ``choice``.

    Args:
      path: the TOML file.

    Returns:
      A dict name -> :class:`Distribution`, in the file's order (a valid :class:`Space`).

    Raises:
      ValueError: naming the file and the entry, for an unreadable file or a bad entry.

    Examples:
      >>> import os, tempfile
      >>> from jaxdl.sweep.spaces import read_space
      >>> path = os.path.join(tempfile.mkdtemp(), "space.toml")
      >>> _ = open(path, "w").write(
      ...     'learning_rate = { distribution = "log_uniform", low = 1e-4, high = 1.0 }\\n'
      ...     'batch_size = { distribution = "choice", options = [32, 64] }\\n')
      >>> read_space(path)
      {'learning_rate': LogUniform(low=0.0001, high=1.0), 'batch_size': Choice(options=(32, 64))}
    """
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as err:
        raise ValueError(f"cannot read sweep file {path!r}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"cannot read sweep file {path!r}: not a UTF-8 text file") from err
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"cannot read sweep file {path!r}: invalid TOML ({err})") from err
    if not document:
        raise ValueError(f"sweep file {path!r} defines no hyperparameter")
    space = {}
    for name, spec in document.items():
        if not isinstance(spec, dict) or "distribution" not in spec:
            raise ValueError(
                f"sweep file {path!r}: {name} must be a table with a 'distribution' key, e.g. "
                f'{name} = {{ distribution = "log_uniform", low = 1e-4, high = 1.0 }}'
            )
        spec = dict(spec)
        space[name] = distribution(spec.pop("distribution"), spec, f"{path}: {name}")
    return space
