"""Hyperparameters as a flat dict of float32 arrays, so a sweep can stack and ``vmap`` them.

:data:`TABLE` is the one home of every hyperparameter name: its default, the range a float32
value must lie in, and who reads it. A name nobody reads is an error, never silently ignored
(:func:`check_readers`):

- ``learning_rate``, ``beta``, ``b1``, ``b2``, ``eps``, ``weight_decay`` are read by the
  optimizers named in the table (``beta`` by momentum and RMSprop, ``b1``/``b2`` by Adam and
  AdamW, ...). For an optimizer that is not a name (a user's transformation or factory ``hp ->
  transformation``) these names are not checked: it may read any of them.
- ``decay_rate`` is read by the ``inverse_time`` and ``exponential`` schedules (which need it).
  A schedule that is not a name skips this check.
- ``keep_prob`` (dropout) and ``bn_momentum`` (batch norm) are read by the model when its
  ``hyperparameters`` attribute (a frozenset of names) lists them; a model without that
  attribute may read either, so they are not checked for it.
- ``l2`` is read by the training cost (``lambd / (2 m) * sum ||W||_F^2``); absent, the cost has
  no L2 term at all, which saves its work.

>>> from jaxdl.hyperparams import check_readers
>>> from jaxdl.nn import MLP
>>> check_readers({"beta"}, "adam", "constant", MLP((2, 1)))  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: hyperparameter beta is not read by optimizer 'adam' (Adam uses b1/b2/eps); ...
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import check_keep_prob, is_concrete
from jaxdl.infra.deprecation import callable_module
from jaxdl.optim import registry

HyperParams = dict[str, jax.Array]

OPTIMIZER = "optimizer"
SCHEDULE = "schedule"
MODEL = "model"
COST = "cost"

# How each optimizer (from the registry) and model feature is named in messages.
DISPLAY = {
    **{name: spec.display for name, spec in registry.REGISTRY.items()},
    "keep_prob": "dropout", "bn_momentum": "batch norm",
}
# How a model turns on the feature that reads a model hyperparameter (for messages).
MODEL_FIX = {"keep_prob": "MLP(..., dropout=True)", "bn_momentum": "MLP(..., batch_norm=True)"}


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: ``default`` (``None``: absent unless given), the interval
    ``[low, high]`` (``low_open``/``high_open`` exclude an end) every value must lie in after
    rounding to float32, who reads it (``kind`` is ``optimizer``, ``schedule``, ``model`` or
    ``cost``; ``readers`` names the optimizers or schedules), and a short description.

    >>> from jaxdl.hyperparams import TABLE
    >>> TABLE["b1"].interval, TABLE["b1"].readers
    ('[0.0, 1.0)', ('adam', 'adamw', 'nadam'))
    """

    name: str
    default: float | None
    low: float
    high: float
    low_open: bool
    high_open: bool
    kind: str
    readers: tuple[str, ...]
    description: str

    @property
    def interval(self) -> str:
        """The valid interval as text, e.g. ``[0, 1)``."""
        return (f"{'(' if self.low_open else '['}{float(self.low)}, {float(self.high)}"
                f"{')' if self.high_open else ']'}")


_INF = math.inf
TABLE: Mapping[str, Hyperparameter] = MappingProxyType({
    p.name: p for p in (
        *(
            Hyperparameter(o.name, o.default, o.low, o.high, o.low_open, o.high_open, OPTIMIZER,
                           registry.readers(o.name), o.description)
            for o in registry.HYPERPARAMETERS.values()
        ),
        Hyperparameter("decay_rate", None, 0.0, _INF, False, True, SCHEDULE,
                       registry.schedule_readers(), "learning-rate decay rate"),
        Hyperparameter("l2", None, 0.0, _INF, False, True, COST, (),
                       "L2 lambda in lambd / (2 m) * sum ||W||_F^2"),
        Hyperparameter("keep_prob", 1.0, 0.0, 1.0, True, False, MODEL, (),
                       "dropout keep probability"),
        Hyperparameter("bn_momentum", None, 0.0, 1.0, False, True, MODEL, (),
                       "batch-norm running-statistics decay (overrides the model's)"),
    )
})
NAMES: tuple[str, ...] = tuple(TABLE)
DEFAULTS: Mapping[str, float] = MappingProxyType(
    {n: p.default for n, p in TABLE.items() if p.default is not None}
)
OPTIONAL: tuple[str, ...] = tuple(n for n, p in TABLE.items() if p.default is None)
# Schedules that need decay_rate, with the tighter range a schedule may put on it.
SCHEDULE_RANGES: Mapping[str, tuple[float, float, bool, bool]] = MappingProxyType({
    name: spec.decay_range for name, spec in registry.SCHEDULES.items()
    if spec.decay_range is not None
})


def reads(optimizer: str) -> tuple[str, ...]:
    """The names optimizer ``optimizer`` reads (:func:`jaxdl.optim.registry.reads`).

    >>> from jaxdl.hyperparams import reads
    >>> reads("momentum")
    ('learning_rate', 'beta')
    """
    return registry.reads(optimizer)


def _check_value(name: str, value: Any, low: float, high: float, lo: bool, hi: bool) -> None:
    """Raise ``ValueError`` unless every concrete entry of ``value`` lies in the interval both
    as given and after rounding to float32 (``1 - 1e-9`` becomes 1, ``1e-50`` becomes 0)."""
    if not is_concrete(value) or callable(value):
        return
    try:
        given = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    p = Hyperparameter(name, None, low, high, lo, hi, "", (), "")
    with np.errstate(over="ignore", under="ignore"):
        rounded = given.astype(np.float32)
    for arr, note in ((given, ""), (rounded.astype(np.float64), " as a float32")):
        ok = ~np.isnan(arr) & ((arr > low) if lo else (arr >= low))
        ok &= (arr < high) if hi else (arr <= high)
        if not np.all(ok):
            shown = (given if given.ndim == 0 else given[~ok]).tolist()
            rounded_to = "" if not note else (
                f" (float32 rounds it to {(arr if arr.ndim == 0 else arr[~ok]).tolist()})"
            )
            raise ValueError(f"{name} must lie in {p.interval}{note}, got {shown}{rounded_to}")


def _check_names(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(TABLE))
    if unknown:
        raise ValueError(
            f"unknown hyperparameter(s) {unknown}; valid names are {sorted(TABLE)} (a model of "
            "your own may read more: list them in its hyperparameters attribute)"
        )


class Checked(Mapping[str, Any]):
    """Hyperparameter values whose names and float32 ranges :func:`check` accepted: a frozen
    copy that the boundary hands inward, so :func:`check_for` and ``fit`` trust it instead of
    checking again. Made by :func:`check` (never build one from unchecked values).

    >>> from jaxdl.hyperparams import Checked, check
    >>> hp = check({"learning_rate": 0.1})
    >>> isinstance(hp, Checked), dict(hp)
    (True, {'learning_rate': 0.1})
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Checked({self._values!r})"


def check(hp: Mapping[str, Any]) -> Checked:
    """Validate names and concrete values of ``hp`` (scalars or one value per member).

    Returns:
      ``hp`` as :class:`Checked` (returned as it is when it already is one).

    >>> from jaxdl.hyperparams import check
    >>> check({"b1": 0.99})
    Checked({'b1': 0.99})
    >>> check({"b1": 1 - 1e-9})
    Traceback (most recent call last):
    ValueError: b1 must lie in [0.0, 1.0) as a float32, got 0.999999999 (float32 rounds it to 1.0)
    """
    if isinstance(hp, Checked):
        return hp
    _check_names(hp)
    for name, value in hp.items():
        p = TABLE[name]
        _check_value(name, value, p.low, p.high, p.low_open, p.high_open)
    if "keep_prob" in hp:  # inverted dropout divides by it: no subnormal keep_prob
        check_keep_prob(hp["keep_prob"])
    return Checked(hp)


def _optimizer_message(name: str, optimizer: str) -> str:
    own = [n for n in reads(optimizer) if n != "learning_rate"]
    uses = f"uses {'/'.join(own)}" if own else "uses only learning_rate"
    owners = TABLE[name].readers
    whose = "/".join(DISPLAY[o] for o in owners)
    choose = " or ".join(repr(o) for o in owners)
    return (f"hyperparameter {name} is not read by optimizer {optimizer!r} "
            f"({DISPLAY[optimizer]} {uses}); {name} is {whose}'s: remove it or choose "
            f"optimizer {choose}")


def check_readers(
    hp_names: Iterable[str], optimizer: Any, schedule: Any, model: Any
) -> None:
    """Raise ``ValueError`` for a given hyperparameter nothing reads, or a schedule's missing
    ``decay_rate``; the message says who reads it. See the module docstring for the rule
    (an optimizer or schedule that is not a name, or a model without ``hyperparameters``, is
    not checked for the names it might read).

    Args:
        hp_names: the names the user set (not the defaults filled in later).
        optimizer: an optimizer name of :data:`jaxdl.optim.OPTIMIZERS`, or a user's one.
        schedule: a schedule name (``constant``, ``inverse_time``, ...), or a user's one.
        model: the model; its ``hyperparameters`` (frozenset) lists the model names it reads.

    >>> from jaxdl.hyperparams import check_readers
    >>> from jaxdl.nn import MLP
    >>> check_readers({"learning_rate", "beta"}, "momentum", "constant", MLP((2, 1)))
    >>> check_readers({"keep_prob"}, "sgd", "constant", MLP((2, 1)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: hyperparameter keep_prob is read by dropout, and this model has none: ...
    """
    names = set(hp_names)
    declared = getattr(model, "hyperparameters", None)
    _check_names(names - set(declared or ()))  # a model may declare names of its own
    for name in [n for n in NAMES if n in names]:
        p = TABLE[name]
        if p.kind == OPTIMIZER and isinstance(optimizer, str) and optimizer not in p.readers:
            raise ValueError(_optimizer_message(name, optimizer))
        if p.kind == SCHEDULE and isinstance(schedule, str) and schedule not in p.readers:
            raise ValueError(
                f"hyperparameter {name} is not read by schedule {schedule!r}; it is read by the "
                f"{' and '.join(p.readers)} schedules: remove it or choose one of them"
            )
        if p.kind == MODEL and declared is not None and name not in declared:
            raise ValueError(
                f"hyperparameter {name} is read by {DISPLAY[name]}, and this model has none: "
                f"remove {name} or turn {DISPLAY[name]} on, e.g. {MODEL_FIX[name]}"
            )
    if isinstance(schedule, str) and schedule in SCHEDULE_RANGES and "decay_rate" not in names:
        raise ValueError(
            f"schedule {schedule!r} needs the hyperparameter decay_rate, e.g. "
            "hp={'decay_rate': 0.1} (--decay-rate 0.1)"
        )


def check_for(trainer: Any, hp: Mapping[str, Any]) -> Checked:
    """All up-front checks of ``hp`` against ``trainer`` (its ``optimizer``, ``schedule`` and
    ``model``), on the host before anything compiles: names, float32 ranges (not again for a
    :class:`Checked` ``hp``), readers, and the schedule's own range for ``decay_rate``
    (``exponential``: ``(0, 1]``).

    Returns:
      ``hp`` as :class:`Checked`.

    >>> from jaxdl.hyperparams import check_for
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.train import Trainer
    >>> check_for(Trainer(MLP((2, 1)), schedule="exponential"), {"decay_rate": 2.0})
    Traceback (most recent call last):
    ValueError: decay_rate for schedule 'exponential' must lie in (0.0, 1.0], got 2.0
    """
    if not isinstance(hp, Mapping):
        raise TypeError(f"hp must be a dict of hyperparameters, got {hp!r}")
    model = getattr(trainer, "model", None)
    own = set(getattr(model, "hyperparameters", ())) - set(TABLE)
    if not isinstance(hp, Checked):
        check({k: v for k, v in hp.items() if k not in own})  # the model checks its own names
    optimizer = getattr(trainer, "optimizer", None)
    schedule = getattr(trainer, "schedule", None)
    check_readers(hp, optimizer, schedule, model)
    if isinstance(schedule, str) and schedule in SCHEDULE_RANGES and "decay_rate" in hp:
        low, high, lo, hi = SCHEDULE_RANGES[schedule]
        _check_value(f"decay_rate for schedule {schedule!r}", hp["decay_rate"], low, high, lo, hi)
    return hp if isinstance(hp, Checked) else Checked(hp)


def hyperparams(**values: Any) -> HyperParams:
    """Defaults overridden by ``values``, checked, as float32 arrays (scalars or stacked).

    >>> from jaxdl.hyperparams import hyperparams
    >>> sorted(hyperparams(l2=0.1))[:3]
    ['b1', 'b2', 'beta']
    """
    return arrays(check(values))


def arrays(values: Checked) -> HyperParams:
    """The defaults overridden by ``values`` (checked by :func:`check`), as float32 arrays.

    >>> from jaxdl.hyperparams import arrays, check
    >>> float(arrays(check({"l2": 0.5}))["l2"]), float(arrays(check({}))["learning_rate"])
    (0.5, 0.01)
    """
    merged = {**DEFAULTS, **values}
    return {name: jnp.asarray(value, jnp.float32) for name, value in merged.items()}


callable_module(__name__, hyperparams)  # jaxdl.hyperparams(...) of earlier releases, warns
