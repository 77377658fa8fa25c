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
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import losses
from jaxdl.checks import check_finite, check_float32
from jaxdl.model import describe, display_name


class TrainerLike(Protocol):
    """What the checks read of a :class:`jaxdl.Trainer` (its model, loss, metrics and
    optimizer), so this module does not import the training package that imports it."""

    @property
    def model(self) -> Any: ...

    @property
    def loss(self) -> Any: ...

    @property
    def optimizer(self) -> Any: ...

    @property
    def metric_list(self) -> tuple[Any, ...]: ...

    def optimizer_for(self, hp: Any, steps_per_epoch: int = ...) -> Any: ...


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
    trainer: TrainerLike,
    x: Any,
    y: Any,
    name: str = "x",
    hp: Mapping[str, Any] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Validate a split on the host and move it to the device (float32 features).

    Checks: ``x`` numeric, finite and non-empty; as many labels as samples; the model's outputs
    on ``x`` (by :func:`jax.eval_shape`) fit the loss and the labels; loss and metrics scalar.

    Args:
        trainer: the :class:`~jaxdl.Trainer` whose model, loss and metrics the data must fit.
        x: the features, samples first.
        y: the labels (class indices or targets), one per sample.
        name: the features' name in error messages (``"x_val"`` names the labels ``"y_val"``).
        hp: hyperparameters passed to ``model.apply``.

    Returns:
        ``(x, y)`` as device arrays, ``x`` in float32.

    Raises:
        ValueError, TypeError: naming the array, the model, the loss or the metric at fault.

    Examples:
        >>> import numpy as np
        >>> from jaxdl import MLP, Trainer
        >>> trainer = Trainer(MLP((2, 3)))
        >>> x, y = check_data(trainer, np.zeros((4, 2)), np.array([0, 1, 2, 1]))
        >>> x.dtype, y.shape
        (dtype('float32'), (4,))
        >>> check_data(trainer, np.zeros((4, 2)), np.array([0, 1, 3, 1]))  # 3 outputs, class 3
        Traceback (most recent call last):
        ValueError: y must lie in [0, 3), got labels from 0 to 3; check the number of output units
    """
    label_name = "y" if name == "x" else name.replace("x", "y", 1)
    keep = getattr(trainer.model, "takes_uint8", False) is True  # it casts per mini-batch
    x, y = check_arrays(x, y, name, keep_uint8=keep)
    shape = output_shape(trainer, x, hp, name)
    losses.check_targets(losses.resolve(trainer.loss, shape), label_name, y, shape)
    check_outputs(trainer, shape, y, label_name=label_name)
    return x, y


def check_arrays(x: Any, y: Any, name: str = "x", *, keep_uint8: bool = False
                 ) -> tuple[jax.Array, jax.Array]:
    """The model-free part of :func:`check_data`: ``x`` numeric, finite and non-empty, as many
    labels as samples; returns ``(float32 x, y)`` as device arrays (``uint8`` images stay
    ``uint8`` with ``keep_uint8``, for a model that casts its inputs itself, such as
    :class:`jaxdl.layers.Standardized`: 4x less device memory).

    Args:
        x: the features, samples first.
        y: the labels, one per sample (float labels must be finite).
        name: the features' name in error messages (``"x_val"`` names the labels ``"y_val"``).
        keep_uint8: leave ``uint8`` features ``uint8``.

    Returns:
        ``(x, y)`` as device arrays, ``x`` in float32 (or ``uint8``, see ``keep_uint8``).

    Raises:
        ValueError, TypeError: naming the array and what is wrong with it.

    Examples:
        >>> import numpy as np
        >>> x, y = check_arrays(np.ones((3, 2), np.float64), [0, 1, 1])
        >>> x.dtype, y.tolist()
        (dtype('float32'), [0, 1, 1])
        >>> check_arrays(np.ones((3, 2)), [0, 1], name="x_val")
        Traceback (most recent call last):
        ValueError: x_val has 3 samples but y_val has 2 labels; they must match
    """
    label_name = "y" if name == "x" else name.replace("x", "y", 1)
    check_inputs(name, x)
    check_finite(name, x)
    check_float32(name, x)  # features are used in float32: 1e39 would become inf
    if np.shape(y)[:1] != np.shape(x)[:1]:
        raise ValueError(
            f"{name} has {np.shape(x)[0]} samples but {label_name} has "
            f"{np.shape(y)[0] if np.ndim(y) else 'no'} labels; they must match"
        )
    labels = np.asarray(y)
    if labels.dtype.kind in "US" or (labels.dtype.kind == "O" and labels.size
                                     and isinstance(labels.flat[0], str | bytes)):
        raise TypeError(
            f"{label_name} holds text labels (such as {str(labels.flat[0])!r}); fit takes "
            f"class indices 0..k-1: encode them first (classes, {label_name} = np.unique("
            f"{label_name}, return_inverse=True)), or read the file with "
            "jaxdl.data.load_file, which does and keeps the class names")
    if labels.dtype.kind == "f":
        check_finite(label_name, y)  # NaN labels are bad input, not a learning-rate problem
    if keep_uint8 and np.asarray(x).dtype == np.uint8:
        return jnp.asarray(x), jnp.asarray(y)
    return jnp.asarray(x, jnp.float32), jnp.asarray(y)


def output_shape(
    trainer: TrainerLike, x: Any, hp: Mapping[str, Any] | None = None, name: str = "x"
) -> tuple[int, ...]:
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
    trainer: TrainerLike, shape: tuple[int, ...], y: Any, *, label_name: str = "y"
) -> None:
    """Check that the loss and every metric of ``trainer`` return a scalar for outputs of
    ``shape`` and labels ``y`` (by :func:`jax.eval_shape`)."""
    outputs = jax.ShapeDtypeStruct(shape, jnp.float32)
    y_dtype = jax.dtypes.canonicalize_dtype(np.asarray(y).dtype)
    y_spec = jax.ShapeDtypeStruct(np.shape(y), y_dtype)
    mask = jax.ShapeDtypeStruct(shape[:1], jnp.float32)
    loss = losses.resolve(trainer.loss, shape)
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


def check_optimizer(trainer: TrainerLike, hp: Mapping[str, Any]) -> None:
    """Run the trainer's optimizer ``init`` and one ``update`` on the model's parameter shapes
    under :func:`jax.eval_shape`, so a factory returning the wrong thing or an ``update`` with
    another signature fails on the host, naming the optimizer.

    Args:
        trainer: the :class:`~jaxdl.Trainer`; an optimizer given by name is not checked.
        hp: the hyperparameters the optimizer is built from.

    Raises:
        TypeError, ValueError: naming the optimizer and what went wrong.

    Examples:
        >>> from jaxdl import MLP, Trainer, optim
        >>> def factory(hp):
        ...     return optim.sgd(hp["learning_rate"])
        >>> check_optimizer(Trainer(MLP((2, 1)), optimizer=factory), {"learning_rate": 0.1})
        >>> def forgot_to_call(hp):
        ...     return optim.sgd
        >>> check_optimizer(Trainer(MLP((2, 1)), optimizer=forgot_to_call),
        ...                 {"learning_rate": 0.1})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: optimizer factory forgot_to_call must return an object with init and update, ...
    """
    if isinstance(trainer.optimizer, str):
        return
    name = display_name(trainer.optimizer)

    def step(params, hp):
        transformation = trainer.optimizer_for(hp)
        state = transformation.init(params)
        out = transformation.update(params, state, params)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"optimizer {name}: update(grads, state, params) must return (updates, state), "
                f"it returned {type(out).__name__}"
            )
        if jax.tree.structure(out[0]) != jax.tree.structure(params):  # type: ignore[operator]
            raise ValueError(
                f"optimizer {name}: update returned updates with another tree structure than "
                f"the parameters ({jax.tree.structure(out[0])} vs {jax.tree.structure(params)})"
            )
        return out

    params = jax.eval_shape(trainer.model.init, jax.random.key(0))[0]
    try:
        jax.eval_shape(step, params, dict(hp))
    except Exception as err:  # noqa: BLE001
        message = str(err) if str(err).startswith("optimizer ") else (
            f"optimizer {name} failed on the model's parameters: {type(err).__name__}: {err}"
        )
        raise _wrapped(err, message) from err
