"""Metrics on model outputs, each with the direction that counts as better (its mode).

    accuracy  (max):  mean_i [argmax z_i == y_i]   (one unit: [z_i > 0] == y_i)
    mse       (min):  mean_i mean_k (z_ik - y_ik)^2
    mae       (min):  mean_i mean_k |z_ik - y_ik|
    r2        (max):  1 - sum_ik (y_ik - z_ik)^2 / sum_ik (y_ik - ybar_k)^2

Every metric is ``fn(outputs, y, mask) -> scalar`` with ``mask`` a (batch,) 0/1 row weight, and
the mode (``"max"`` or ``"min"``) ranks sweeps and drives early stopping. ``Trainer(metrics=...)``
takes names of :data:`METRICS`, :class:`Metric` objects or plain callables (named by
``__name__``; give a :class:`Metric` to declare the mode).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.losses import accuracy, per_sample_mean, regression_pair, weighted_mean

MODES = ("min", "max")


def mse(outputs: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean squared error ``mean_i mean_k (z_ik - y_ik)^2``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.metrics import mse
    >>> float(mse(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])))
    2.5
    """
    z, t = regression_pair(outputs, y)
    return weighted_mean(per_sample_mean(jnp.square(z - t)), mask)


def mae(outputs: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean absolute error ``mean_i mean_k |z_ik - y_ik|``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.metrics import mae
    >>> float(mae(jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])))
    1.5
    """
    z, t = regression_pair(outputs, y)
    return weighted_mean(per_sample_mean(jnp.abs(z - t)), mask)


def r2(outputs: jax.Array, y: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Coefficient of determination ``1 - SS_res / SS_tot`` over the (unmasked) rows, with the
    target mean ``ybar`` per output unit; pooled over output units.

    >>> import jax.numpy as jnp
    >>> from jaxdl.metrics import r2
    >>> round(float(r2(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 2.0, 4.0]))), 4)  # 1 - 3/14
    0.7857
    """
    z, t = regression_pair(outputs, y)
    w = jnp.ones(t.shape[:1], t.dtype) if mask is None else mask.astype(t.dtype)
    w = w.reshape(w.shape + (1,) * (t.ndim - 1))
    total = jnp.maximum(jnp.sum(w), 1.0)
    mean = jnp.sum(w * t, axis=0) / total
    residual = jnp.sum(w * jnp.square(t - z))
    spread = jnp.sum(w * jnp.square(t - mean))
    return 1.0 - residual / spread


@dataclasses.dataclass(frozen=True)
class Metric:
    """A named metric ``fn(outputs, y, mask) -> scalar`` and its mode (``"max"`` when larger is
    better, ``"min"`` when smaller is; ``None``: unknown, so early stopping on it needs an
    explicit mode).

    >>> from jaxdl.metrics import Metric
    >>> Metric("max_error", lambda z, y, mask=None: abs(z - y).max(), "min").mode
    'min'
    """

    name: str
    fn: Callable[..., jax.Array]
    mode: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Metric name must be a non-empty string, got {self.name!r}")
        if self.name.startswith("val_") or self.name in ("loss", "epoch", "learning_rate"):
            raise ValueError(
                f"Metric name {self.name!r} is taken by the history; choose another name"
            )
        if not callable(self.fn):
            raise TypeError(f"Metric {self.name!r}: fn must be callable, got {self.fn!r}")
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(
                f"Metric {self.name!r}: mode must be 'min' or 'max', got {self.mode!r}"
            )


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", accuracy, "max"),
        Metric("mse", mse, "min"),
        Metric("mae", mae, "min"),
        Metric("r2", r2, "max"),
    )
}


def get(metric: str | Metric | Callable[..., Any]) -> Metric:
    """A :class:`Metric` from a registry name, a Metric, or a callable (named by ``__name__``).

    >>> from jaxdl.metrics import get, mae
    >>> get("r2").mode, get(mae).name, get(mae).mode
    ('max', 'mae', None)
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(
                f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}, or pass "
                "jaxdl.metrics.Metric(name, fn, mode)"
            )
        return METRICS[metric]
    if callable(metric):
        return Metric(getattr(metric, "__name__", type(metric).__name__), metric)
    raise TypeError(
        f"a metric must be a name ({', '.join(METRICS)}), a jaxdl.metrics.Metric or a function "
        f"(outputs, y, mask) -> scalar, got {metric!r}"
    )


def resolve_all(metrics: Sequence[Any]) -> tuple[Metric, ...]:
    """Every entry of ``metrics`` as a :class:`Metric`; names must be unique.

    >>> from jaxdl.metrics import mse, resolve_all
    >>> [m.name for m in resolve_all(["accuracy", mse])]
    ['accuracy', 'mse']
    """
    if isinstance(metrics, str | Metric) or callable(metrics):
        raise TypeError(f"metrics must be a list or tuple of metrics, got {metrics!r}")
    resolved = tuple(get(m) for m in metrics)
    names = [m.name for m in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"metric names must be unique, {duplicates} appear twice")
    return resolved


def mode_of(monitor: str, metrics: Sequence[Metric] = ()) -> str | None:
    """The mode of a history entry: ``min`` for (``val_``)``loss``, the metric's own mode for a
    (``val_``-prefixed) metric of ``metrics`` or of :data:`METRICS`, else ``None``.

    >>> from jaxdl.metrics import mode_of
    >>> mode_of("val_loss"), mode_of("val_accuracy"), mode_of("r2"), mode_of("f1")
    ('min', 'max', 'max', None)
    """
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss":
        return "min"
    for m in metrics:
        if m.name == name:
            return m.mode
    return METRICS[name].mode if name in METRICS else None
