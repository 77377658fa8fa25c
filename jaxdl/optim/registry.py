"""The one home of every optimizer jaxdl builds by name.

An entry says what an optimizer is called (in code and in messages), which hyperparameters it
reads besides the learning rate, which of them are EWA decays of its state, its update rule, and
how to build it from a dict of (possibly traced) hyperparameters. The optimizer hyperparameters
themselves (default, float32-valid range, command-line flag and search scale) are listed once,
in :data:`HYPERPARAMETERS`. Everything else derives from these two tables: the hyperparameter
table and its reader checks (:mod:`jaxdl.hyperparams`), :func:`from_name`, the CLI's
``--optimizer`` choices and hyperparameter flags, the sweep's space checks, the divergence guard
(the decays it freezes on a rejected step) and the docs' optimizer table.

Adding an optimizer is one :class:`OptimizerSpec` in :data:`REGISTRY` (plus its test). The
learning-rate schedules a :class:`~jaxdl.train.Trainer` takes by name live here the same way
(:data:`SCHEDULES`, one :class:`ScheduleSpec` each).

>>> from jaxdl.optim.registry import REGISTRY, reads
>>> reads("adam")
('learning_rate', 'b1', 'b2', 'eps')
>>> REGISTRY["rmsprop"].display
'RMSprop'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jax.numpy as jnp

from jaxdl.optim import aliases, schedules
from jaxdl.optim.base import GradientTransformation, LearningRate, Schedule, chain
from jaxdl.optim.transforms import scale_by_adam, scale_by_learning_rate


@dataclasses.dataclass(frozen=True)
class OptimizerHyperparameter:
    """A hyperparameter that optimizers read: its ``default``, the interval ``[low, high]``
    (``low_open``/``high_open`` exclude an end) every value must lie in as a float32, the
    command-line ``flag``, the ``scale`` a ``LOW:HIGH`` range is searched on (a
    :mod:`jaxdl.sweep.distributions` name) and a short ``description``."""

    name: str
    default: float
    low: float
    high: float
    low_open: bool
    high_open: bool
    flag: str
    scale: str
    description: str


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer: its ``name`` (``--optimizer NAME``, ``Trainer(optimizer=NAME)``), how
    messages show it (``display``), the hyperparameters it ``reads`` besides ``learning_rate``
    (keywords of ``build``), the ``state_decays`` among them (EWA decays: at 1, with a zero
    gradient, its state stays exactly as it was, which the divergence guard uses to skip a step
    without a select over the state), its update rule (``formula``, Markdown with TeX, as the
    docs show it), and
    ``build(learning_rate, **hp) -> GradientTransformation``."""

    name: str
    display: str
    reads: tuple[str, ...]
    state_decays: tuple[str, ...]
    formula: str
    build: Callable[..., GradientTransformation]


_INF = math.inf

#: Every hyperparameter an optimizer of :data:`REGISTRY` reads, in the order flags are listed.
HYPERPARAMETERS: Mapping[str, OptimizerHyperparameter] = MappingProxyType({
    p.name: p for p in (
        OptimizerHyperparameter("learning_rate", 0.01, 0.0, _INF, True, True, "--lr",
                                "log_uniform", "step size alpha"),
        OptimizerHyperparameter("beta", 0.9, 0.0, 1.0, False, True, "--beta",
                                "one_minus_log_uniform",
                                "EWA decay of momentum, Nesterov momentum and RMSprop"),
        OptimizerHyperparameter("b1", 0.9, 0.0, 1.0, False, True, "--b1",
                                "one_minus_log_uniform", "Adam's first-moment decay"),
        OptimizerHyperparameter("b2", 0.999, 0.0, 1.0, False, True, "--b2",
                                "one_minus_log_uniform", "Adam's second-moment decay"),
        OptimizerHyperparameter("eps", 1e-8, 0.0, _INF, True, True, "--eps", "log_uniform",
                                "added to sqrt(s) in the denominator"),
        OptimizerHyperparameter("weight_decay", 1e-4, 0.0, _INF, False, True, "--weight-decay",
                                "log_uniform", "AdamW's decoupled weight decay"),
    )
})


def _nadam(learning_rate: LearningRate, b1: Any, b2: Any, eps: Any) -> GradientTransformation:
    return chain(scale_by_adam(b1, b2, eps, nesterov=True), scale_by_learning_rate(learning_rate))


#: Every optimizer built by name, in the order ``--help`` lists them.
REGISTRY: Mapping[str, OptimizerSpec] = MappingProxyType({
    s.name: s for s in (
        OptimizerSpec("sgd", "SGD", (), (), r"$W \mathrel{-}= \alpha\, dW$", aliases.sgd),
        OptimizerSpec("momentum", "momentum", ("beta",), ("beta",),
                      r"$v = \beta v + (1-\beta)\,dW$, $\;W \mathrel{-}= \alpha v$",
                      aliases.momentum),
        OptimizerSpec("nesterov", "Nesterov", ("beta",), ("beta",),
                      r"as momentum, stepping along the look-ahead $\beta v + (1-\beta)\,dW$",
                      aliases.nesterov),
        OptimizerSpec("rmsprop", "RMSprop", ("beta", "eps"), ("beta",),
                      r"$s = \beta s + (1-\beta)\,dW^2$, "
                      r"$\;W \mathrel{-}= \alpha\, dW / (\sqrt{s} + \varepsilon)$",
                      aliases.rmsprop),
        OptimizerSpec("adam", "Adam", ("b1", "b2", "eps"), ("b1", "b2"),
                      r"$v, s$ as above with $\beta_1, \beta_2$; "
                      r"$\;W \mathrel{-}= \alpha\, \hat v / (\sqrt{\hat s} + \varepsilon)$",
                      aliases.adam),
        OptimizerSpec("adamw", "AdamW", ("b1", "b2", "eps", "weight_decay"), ("b1", "b2"),
                      r"Adam plus decoupled weight decay $\alpha\lambda W$", aliases.adamw),
        OptimizerSpec("nadam", "Nadam", ("b1", "b2", "eps"), ("b1", "b2"),
                      r"Adam with the look-ahead $\hat v = \beta_1 v / (1-\beta_1^{t+1})"
                      r" + (1-\beta_1)\,dW / (1-\beta_1^t)$", _nadam),
    )
})

#: The names of :data:`REGISTRY`.
OPTIMIZERS: tuple[str, ...] = tuple(REGISTRY)

#: The optimizers' defaults, one per hyperparameter of :data:`HYPERPARAMETERS`.
DEFAULTS: Mapping[str, float] = MappingProxyType(
    {name: p.default for name, p in HYPERPARAMETERS.items()}
)


def reads(optimizer: str) -> tuple[str, ...]:
    """The hyperparameters optimizer ``optimizer`` reads, ``learning_rate`` first.

    >>> from jaxdl.optim.registry import reads
    >>> reads("momentum")
    ('learning_rate', 'beta')
    """
    return ("learning_rate", *REGISTRY[optimizer].reads)


def readers(name: str) -> tuple[str, ...]:
    """The optimizers that read hyperparameter ``name``, in registry order.

    >>> from jaxdl.optim.registry import readers
    >>> readers("eps")
    ('rmsprop', 'adam', 'adamw', 'nadam')
    """
    return tuple(o for o in OPTIMIZERS if name in reads(o))


def from_name(name: str, hp: Mapping[str, Any] | None = None) -> GradientTransformation:
    """Build optimizer ``name`` (one of :data:`OPTIMIZERS`) from hyperparameters ``hp``.

    The keys it reads (:func:`reads`) may be numbers, arrays or tracers (``learning_rate`` also a
    schedule); missing keys take :data:`DEFAULTS`, other keys are ignored, so a sweep's whole
    hyperparameter dict, with traced values, can be passed inside ``jit``.

    Args:
        name: an optimizer name of :data:`REGISTRY`.
        hp: the hyperparameters; ``None`` takes the defaults.

    Returns:
        A :class:`~jaxdl.optim.GradientTransformation`.

    Raises:
        TypeError: if ``name`` is not a string or ``hp`` not a mapping.
        ValueError: for an unknown ``name``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxdl.optim import from_name
        >>> opt = from_name("momentum", {"learning_rate": 0.1, "beta": 0.5, "keep_prob": 0.8})
        >>> u, _ = opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))
        >>> [round(v, 6) for v in u.tolist()]
        [-0.1]
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {OPTIMIZERS}, got {name!r}")
    if name not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; valid names are {OPTIMIZERS}")
    if hp is not None and not isinstance(hp, Mapping):
        raise TypeError(f"hp must be a mapping of hyperparameter names to values, got {hp!r}")
    h = {**DEFAULTS, **(hp or {})}
    spec = REGISTRY[name]
    return spec.build(h["learning_rate"], **{k: h[k] for k in spec.reads})


def markdown_table() -> str:
    """The optimizers as a Markdown table (name, hyperparameters with defaults, update rule), as
    the docs show it (``docs/topics/optimization.md`` holds it verbatim; a test compares).

    >>> from jaxdl.optim.registry import markdown_table
    >>> print(markdown_table().splitlines()[3].split(" | ")[:2])
    ['| `momentum`', '`learning_rate=0.01, beta=0.9`']
    """
    rows = ["| optimizer | hyperparameters (defaults) | update |", "|---|---|---|"]
    for spec in REGISTRY.values():
        hps = ", ".join(f"{n}={DEFAULTS[n]:g}" for n in reads(spec.name))
        rows.append(f"| `{spec.name}` | `{hps}` | {spec.formula} |")
    return "\n".join(rows)


@dataclasses.dataclass(frozen=True)
class ScheduleSpec:
    """One learning-rate schedule taken by name (``Trainer(schedule=NAME)``, ``--schedule``):
    whether it reads ``decay_rate`` (``decay_range``: the interval ``(low, high, low_open,
    high_open)`` a value must lie in, ``None``: it reads none), its formula (Markdown with TeX),
    and ``build(lr0, decay_rate, steps) -> lr(count)`` with ``steps`` optimizer steps per decay
    interval (``decay_rate`` is ``None`` for a schedule that reads none)."""

    name: str
    decay_range: tuple[float, float, bool, bool] | None
    formula: str
    build: Callable[[Any, Any, int], Schedule]


def _constant(lr0: Any, decay_rate: Any, steps: int) -> Schedule:
    return lambda count: jnp.asarray(lr0, jnp.float32)


#: Every schedule a trainer takes by name, in the order ``--help`` lists them.
SCHEDULES: Mapping[str, ScheduleSpec] = MappingProxyType({
    s.name: s for s in (
        ScheduleSpec("constant", None, r"$\alpha = \alpha_0$", _constant),
        ScheduleSpec("inverse_time", (0.0, _INF, False, True),
                     r"$\alpha = \alpha_0 / (1 + \text{decay\_rate}\cdot t)$",
                     lambda lr0, rate, steps: schedules.inverse_time_decay(
                         lr0, rate, steps, staircase=True)),
        ScheduleSpec("exponential", (0.0, 1.0, True, False),
                     r"$\alpha = \alpha_0 \cdot \text{decay\_rate}^{\,t}$",
                     lambda lr0, rate, steps: schedules.exponential_decay(
                         lr0, rate, steps, staircase=True)),
        ScheduleSpec("inverse_sqrt", None, r"$\alpha = \alpha_0 / \sqrt{1 + t}$",
                     lambda lr0, rate, steps: schedules.inverse_sqrt_decay(lr0, 1.0, steps)),
    )
})


def schedule_readers() -> tuple[str, ...]:
    """The schedules that read ``decay_rate``.

    >>> from jaxdl.optim.registry import schedule_readers
    >>> schedule_readers()
    ('inverse_time', 'exponential')
    """
    return tuple(n for n, s in SCHEDULES.items() if s.decay_range is not None)
