"""Host checks of a split against a trainer's model, loss and metrics, before anything compiles.

:func:`check_data` validates the features and labels on the host, then runs ``model.init`` and
``model.apply`` under :func:`jax.eval_shape` (shapes only: nothing is computed or compiled) to
learn the shape of the outputs, and checks the labels against the loss (integer classes below
the output width for softmax cross-entropy, 0/1 for one sigmoid unit, one target per output for
regression) and that the loss and every metric return a scalar. Errors name the object (the
model, the loss, the metric) and what it returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import losses
from jaxdl.checks import check_finite
from jaxdl.model import describe

if TYPE_CHECKING:
    from jaxdl.train import Trainer


def _wrapped(err: Exception, message: str) -> Exception:
    """An exception of ``err``'s type (``ValueError`` if that type cannot take a message)."""
    try:
        return type(err)(message)
    except Exception:  # noqa: BLE001 - exotic constructors
        return ValueError(message)


def check_inputs(name: str, x: Any) -> None:
    """``x`` must be a non-empty numeric array with a leading samples axis."""
    shape = np.shape(x)
    if len(shape) == 0:
        raise ValueError(f"{name} must be an array with a leading samples axis, got a scalar")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples); pass at least one sample")
    dtype = np.asarray(x).dtype
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise TypeError(f"{name} must hold numbers, got dtype {dtype}")


def check_data(
    trainer: Trainer,
    x: Any,
    y: Any,
    name: str = "x",
    hp: Mapping[str, Any] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Validate a split on the host and move it to the device (float32 features).

    Checks: ``x`` numeric, finite and non-empty; as many labels as samples; the model's outputs
    on ``x`` (by :func:`jax.eval_shape`) fit the loss and the labels; loss and metrics scalar.
    """
    label_name = "y" if name == "x" else name.replace("x", "y", 1)
    check_inputs(name, x)
    check_finite(name, x)
    if np.shape(y)[:1] != np.shape(x)[:1]:
        raise ValueError(
            f"{name} has {np.shape(x)[0]} samples but {label_name} has "
            f"{np.shape(y)[0] if np.ndim(y) else 'no'} labels; they must match"
        )
    if np.asarray(y).dtype.kind == "f":
        check_finite(label_name, y)  # NaN labels are bad input, not a learning-rate problem
    check_outputs(trainer, x, y, name=name, label_name=label_name, hp=hp)
    return jnp.asarray(x, jnp.float32), jnp.asarray(y)


def output_shape(trainer: Trainer, x: Any, hp: Mapping[str, Any] | None = None, name: str = "x"):
    """The shape of ``model.apply(params, state, x, train=True)`` (by :func:`jax.eval_shape`)."""
    model = trainer.model
    x_spec = jax.ShapeDtypeStruct(np.shape(x), jnp.float32)
    key = jax.random.key(0)
    try:
        params, state = jax.eval_shape(model.init, key)
    except Exception as err:  # noqa: BLE001 - any failure of user code, reported with its name
        raise _wrapped(err, f"{describe(model)}.init(key) failed: {err}") from err

    def forward(params, state, x, hp):
        return model.apply(params, state, x, train=True, key=key, hp=hp, mask=None)

    try:
        out = jax.eval_shape(forward, params, state, x_spec, dict(hp or {}))
    except Exception as err:  # noqa: BLE001
        raise _wrapped(err,
            f"{name} (shape {np.shape(x)}) does not fit {describe(model)}: apply failed: {err}"
        ) from err
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(
            f"{describe(model)}.apply must return (outputs, state), it returned "
            f"{type(out).__name__}"
        )
    outputs = out[0]
    if not isinstance(outputs, jax.ShapeDtypeStruct):
        raise TypeError(
            f"{describe(model)}.apply must return one array of outputs, it returned "
            f"{type(outputs).__name__}"
        )
    if outputs.shape[:1] != np.shape(x)[:1]:
        raise ValueError(
            f"{describe(model)}.apply returned outputs of shape {outputs.shape} for {name} of "
            f"shape {np.shape(x)}; the outputs need one row per sample (samples first)"
        )
    if not jnp.issubdtype(outputs.dtype, jnp.floating):
        raise TypeError(
            f"{describe(model)}.apply returned outputs of dtype {outputs.dtype}; they must be "
            "floating point (gradients flow through them)"
        )
    return outputs.shape


def check_outputs(
    trainer: Trainer,
    x: Any,
    y: Any,
    *,
    name: str = "x",
    label_name: str = "y",
    hp: Mapping[str, Any] | None = None,
) -> tuple[int, ...]:
    """The model's output shape on ``x``, after checking ``y`` against the loss and that the
    loss and every metric of ``trainer`` return a scalar for those outputs and ``y``."""
    shape = output_shape(trainer, x, hp, name)
    outputs = jax.ShapeDtypeStruct(shape, jnp.float32)
    y_dtype = jax.dtypes.canonicalize_dtype(np.asarray(y).dtype)
    y_spec = jax.ShapeDtypeStruct(np.shape(y), y_dtype)
    mask = jax.ShapeDtypeStruct(shape[:1], jnp.float32)
    loss = losses.resolve(trainer.loss, shape)
    # The labels first: their own message beats a shape error from inside the loss.
    losses.check_targets(loss, label_name, y, shape)
    checks = [(f"loss {loss.name}", loss.fn)]
    checks += [(f"metric {m.name}", m.fn) for m in trainer.metric_list]
    for what, fn in checks:
        try:
            value = jax.eval_shape(fn, outputs, y_spec, mask)
        except Exception as err:  # noqa: BLE001
            raise _wrapped(err,
                f"{what} failed on outputs of shape {shape} and {label_name} of shape "
                f"{np.shape(y)}: {err}"
            ) from err
        if getattr(value, "shape", None) != ():
            got = getattr(value, "shape", type(value).__name__)
            raise TypeError(
                f"{what} must return a scalar, it returned {got} for outputs of shape {shape}; "
                "average over the samples"
            )
    return shape
