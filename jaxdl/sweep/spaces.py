"""Search spaces: ordered mappings from hyperparameter names to distributions (see
:mod:`jaxdl.sweep.distributions`), random or grid sampling, ``zoom``, and TOML files.

``sample(space, key, n)`` is random search, reproducible from a PRNG key (or an int seed); every
hyperparameter draws from its own stream ``fold_in(key, crc32(name))``, so adding a dimension does
not change the others. ``method="grid"`` gives the largest full grid of at most ``n`` points,
evenly spaced on each scale (to compare against). ``zoom(space, results, k)`` narrows every range
to the best ``k`` results (coarse to fine), padded by ``margin`` of the old width on the sampling
scale and clipped to the old range; a ``Choice`` keeps the options those results used.
"""

from __future__ import annotations

import functools
import itertools
import math
import tomllib
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np

from jaxdl.checks import check_range
from jaxdl.sweep.distributions import DISTRIBUTIONS as DISTRIBUTIONS
from jaxdl.sweep.distributions import Choice as Choice
from jaxdl.sweep.distributions import Distribution as Distribution
from jaxdl.sweep.distributions import IntUniform as IntUniform
from jaxdl.sweep.distributions import LogUniform as LogUniform
from jaxdl.sweep.distributions import OneMinusLogUniform as OneMinusLogUniform
from jaxdl.sweep.distributions import Uniform as Uniform
from jaxdl.sweep.distributions import distribution as distribution

METHODS = ("random", "grid")


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


@functools.partial(jax.jit, static_argnums=2)
def _unit_column(key: jax.Array, salt: int, n: int) -> jax.Array:
    """``n`` uniform draws in [0, 1) from ``key`` folded with ``salt``, in one program (run
    eagerly, the fold and the draw compile one program each)."""
    return jax.random.uniform(jax.random.fold_in(key, salt), (n,))


def _salt(name: str) -> int:
    """The stream of hyperparameter ``name``: a hash of the name, so adding a hyperparameter
    to a space leaves the others' draws as they were."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


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
        name: dist.from_unit(np.asarray(_unit_column(key, _salt(name), n)))
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
