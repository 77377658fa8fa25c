"""Losses on model outputs, all averaged over samples (optionally weighted by a mask).

    softmax cross-entropy:  J = -mean_i log softmax(z_i)[y_i]
                              = mean_i (logsumexp(z_i) - z_i[y_i])        (stable for huge logits)
    sigmoid cross-entropy:  J = mean_i max(z, 0) - z * y + log(1 + exp(-|z|))
    mean squared error:     J = mean_i mean_k (z_ik - y_ik)^2
    Huber (delta):          J = mean_i mean_k h(z_ik - y_ik),  h(e) = e^2 / 2 for |e| <= delta,
                                                               delta * (|e| - delta / 2) beyond
    L2 penalty:             lambd / (2 m) * sum_l ||W_l||_F^2   (weights only; grad = lambd/m * W)

A model that standardizes its regression targets (``jaxdl.Standardized(..., targets=...)``)
gives outputs in the targets' units; the Trainer's loss compares them standardized,
:func:`standardized_pair`: ``J = L((z - mu_y) / sigma_y, (y - mu_y) / sigma_y)`` (for the mean
squared error ``mean_i mean_k (z_ik - y_ik)^2 / sigma_k^2``), the loss of training on
standardized targets.

``mask`` is a (batch,) weight vector: padded rows of a partial mini-batch get weight 0.
:data:`LOSSES` is the registry behind ``Trainer(loss=name)``; :func:`resolve` turns a name, a
callable or ``None`` (cross-entropy chosen from the output width) into a :class:`Loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.checks import check_binary_labels, check_finite, check_labels, check_range


def weighted_mean(values: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``sum(mask * values) / sum(mask)``, or the plain mean without a mask.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import weighted_mean
    >>> float(weighted_mean(jnp.array([1.0, 2.0, 9.0]), jnp.array([1.0, 1.0, 0.0])))
    1.5
    """
    if mask is None:
        return jnp.mean(values)
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1)


def softmax_cross_entropy(
    logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """Mean cross-entropy of softmax(logits) against integer labels (N,) or one-hot (N, C).

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import softmax_cross_entropy
    >>> round(float(softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3]))), 4)  # log 4
    1.3863
    """
    num_classes = logits.shape[-1]
    check_labels("labels", labels, num_classes)
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    if labels.ndim == logits.ndim:
        per_sample = -jnp.sum(labels.astype(log_probs.dtype) * log_probs, axis=-1)
    else:
        per_sample = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    return weighted_mean(per_sample, mask)


def _binary(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    logits = logits.reshape(logits.shape[0], -1)
    if logits.shape[1] != 1:
        raise ValueError(f"binary logits must have one unit, got shape {logits.shape}")
    logits = logits[:, 0].astype(jnp.promote_types(logits.dtype, jnp.float32))
    labels = jnp.reshape(labels, (-1,))
    if labels.shape != logits.shape:
        raise ValueError(f"labels shape {labels.shape} does not match {logits.shape[0]} samples")
    check_range("labels", labels, 0.0, 1.0)
    return logits, labels.astype(logits.dtype)


def sigmoid_binary_cross_entropy(
    logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """Mean binary cross-entropy of sigmoid(logits) against labels in {0, 1}.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import sigmoid_binary_cross_entropy
    >>> round(float(sigmoid_binary_cross_entropy(jnp.zeros((2, 1)), jnp.array([0, 1]))), 4)
    0.6931
    """
    z, y = _binary(logits, labels)
    per_sample = jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z)))
    return weighted_mean(per_sample, mask)


def accuracy(logits: jax.Array, labels: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Share of correct predictions: argmax for several classes, ``z > 0`` for one unit.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import accuracy
    >>> float(accuracy(jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0])))
    0.5
    """
    if logits.ndim == 1 or logits.shape[-1] == 1:
        z, y = _binary(logits, labels)
        correct = (z > 0) == (y > 0.5)
    else:
        if labels.ndim == logits.ndim:
            labels = jnp.argmax(labels, axis=-1)
        correct = jnp.argmax(logits, axis=-1) == labels
    return weighted_mean(correct.astype(jnp.float32), mask)


def l2_penalty(params: Any, lambd: Any, m: Any) -> jax.Array:
    """``lambd / (2 m) * sum ||W||_F^2`` over leaves named ``W`` (not b, gamma or beta).

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import l2_penalty
    >>> float(l2_penalty({"W": jnp.ones((2, 2)), "b": jnp.ones(2)}, lambd=0.5, m=4))  # 0.5/8 * 4
    0.25
    """
    check_range("lambd", lambd, 0.0)
    squares = [
        jnp.sum(jnp.square(leaf.astype(jnp.promote_types(leaf.dtype, jnp.float32))))
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        if getattr(path[-1], "key", None) == "W"
    ]
    return lambd / (2 * m) * sum(squares, jnp.float32(0))


def regression_pair(outputs: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(outputs, targets)`` as float arrays of one shape: outputs ``(N, 1)`` meet targets
    ``(N,)`` by dropping the unit axis; any other mismatch raises ``ValueError``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import regression_pair
    >>> [a.shape for a in regression_pair(jnp.zeros((5, 1)), jnp.arange(5))]
    [(5,), (5,)]
    """
    outputs = outputs.astype(jnp.promote_types(outputs.dtype, jnp.float32))
    targets = jnp.asarray(targets)
    if outputs.ndim == targets.ndim + 1 and outputs.shape[-1] == 1:
        outputs = outputs[..., 0]
    if outputs.shape != targets.shape:
        raise ValueError(
            f"regression targets of shape {targets.shape} do not match outputs of shape "
            f"{outputs.shape}; give one target per output unit"
        )
    return outputs, targets.astype(outputs.dtype)


def per_sample_mean(values: jax.Array) -> jax.Array:
    """Mean over every axis but the first (samples): shape ``(N,)``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import per_sample_mean
    >>> per_sample_mean(jnp.array([[1.0, 3.0], [2.0, 2.0]])).tolist()
    [2.0, 2.0]
    """
    return values.reshape(values.shape[0], -1).mean(axis=1) if values.ndim > 1 else values


def mean_squared_error(
    outputs: jax.Array, targets: jax.Array, mask: jax.Array | None = None
) -> jax.Array:
    """``mean_i mean_k (z_ik - y_ik)^2``.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import mean_squared_error
    >>> float(mean_squared_error(jnp.array([[1.0], [3.0]]), jnp.array([0.0, 1.0])))
    2.5
    """
    z, y = regression_pair(outputs, targets)
    return weighted_mean(per_sample_mean(jnp.square(z - y)), mask)


def huber(
    outputs: jax.Array, targets: jax.Array, mask: jax.Array | None = None, delta: float = 1.0
) -> jax.Array:
    """Huber loss: ``e^2 / 2`` for ``|e| <= delta``, ``delta * (|e| - delta / 2)`` beyond, with
    ``e = z - y``, averaged like :func:`mean_squared_error`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.losses import huber
    >>> float(huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0])))
    1.3125
    """
    check_range("delta", delta, 0.0, low_open=True)
    z, y = regression_pair(outputs, targets)
    error = jnp.abs(z - y)
    quadratic = jnp.minimum(error, delta)
    per_element = 0.5 * jnp.square(quadratic) + delta * (error - quadratic)
    return weighted_mean(per_sample_mean(per_element), mask)


# -- the registry --------------------------------------------------------------------------------
LossFn = Callable[[jax.Array, jax.Array, "jax.Array | None"], jax.Array]


class Loss(NamedTuple):
    """A loss: its name, ``fn(outputs, y, mask) -> scalar``, its task (``classification``,
    ``regression`` or ``custom``) and the metrics a Trainer records by default with it.

    >>> from jaxdl.losses import LOSSES
    >>> LOSSES["huber"].task, LOSSES["huber"].default_metrics
    ('regression', ('mse', 'mae'))
    """

    name: str
    fn: LossFn
    task: str
    default_metrics: tuple[str, ...]


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("softmax_cross_entropy", softmax_cross_entropy, "classification", ("accuracy",)),
        Loss(
            "sigmoid_binary_cross_entropy",
            sigmoid_binary_cross_entropy,
            "classification",
            ("accuracy",),
        ),
        Loss("mean_squared_error", mean_squared_error, "regression", ("mse", "mae")),
        Loss("huber", huber, "regression", ("mse", "mae")),
    )
}
AUTO = "auto: sigmoid_binary_cross_entropy for one output unit, softmax_cross_entropy otherwise"


def check_loss(loss: Any) -> None:
    """``loss`` must be ``None``, a name of :data:`LOSSES` or a callable.

    >>> from jaxdl.losses import check_loss
    >>> check_loss("mse")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: unknown loss 'mse'; choose one of softmax_cross_entropy, ...
    """
    if loss is None or callable(loss):
        return
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(
            f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}, or pass a function "
            "(outputs, y, mask) -> scalar"
        )


def resolve(loss: str | LossFn | None, output_shape: tuple[int, ...]) -> Loss:
    """The :class:`Loss` for a name, a callable, or ``None`` (by the output width:
    sigmoid cross-entropy for one unit, softmax cross-entropy otherwise).

    >>> from jaxdl.losses import resolve
    >>> resolve(None, (32, 1)).name, resolve(None, (32, 10)).name
    ('sigmoid_binary_cross_entropy', 'softmax_cross_entropy')
    """
    check_loss(loss)
    if loss is None:
        one_unit = len(output_shape) < 2 or output_shape[-1] == 1
        return LOSSES["sigmoid_binary_cross_entropy" if one_unit else "softmax_cross_entropy"]
    if isinstance(loss, str):
        return LOSSES[loss]
    return Loss(getattr(loss, "__name__", type(loss).__name__), loss, "custom", ())


def default_metrics(loss: str | LossFn | None) -> tuple[str, ...]:
    """Metrics recorded when the Trainer is given none: accuracy for cross-entropy (also the
    automatic choice), MSE and MAE for regression losses, nothing for a custom loss.

    >>> from jaxdl.losses import default_metrics
    >>> default_metrics(None), default_metrics("mean_squared_error"), default_metrics(abs)
    (('accuracy',), ('mse', 'mae'), ())
    """
    check_loss(loss)
    if loss is None:
        return ("accuracy",)
    return LOSSES[loss].default_metrics if isinstance(loss, str) else ()


def standardized_pair(loss: Loss, outputs: jax.Array, targets: jax.Array,
                      target_stats: Any) -> tuple[jax.Array, jax.Array]:
    """``((z - mu) / sigma, (y - mu) / sigma)``: a model's outputs ``z`` (in the targets' units)
    and the targets ``y``, standardized with the training targets' statistics ``target_stats``
    (``mean`` and ``std``, one per output column; a model's ``target_stats``), so ``loss`` of the
    pair is the loss on standardized targets: for the mean squared error
    ``mean_k (z_k - y_k)^2 / sigma_k^2``, and by the chain rule the gradient of training on
    ``(y - mu) / sigma`` exactly. ``target_stats=None``: ``(outputs, targets)`` unchanged.

    Args:
      loss: the resolved loss (a classification loss with target statistics is an error).
      outputs: the model's outputs ``(N, outputs)`` (or ``(N,)``).
      targets: the targets, ``(N,)`` for one output unit or ``(N, outputs)``.
      target_stats: an object with ``mean`` and ``std`` of shape ``(outputs,)``, or ``None``.

    Returns:
      The standardized ``(outputs, targets)``, float32.

    Raises:
      ValueError: for a classification loss, or statistics that do not match the outputs.

    Examples:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxdl.losses import LOSSES, standardized_pair
      >>> from jaxdl.data.normalize import Standardizer
      >>> stats = Standardizer(mean=np.array([1000.0]), std=np.array([10.0]))
      >>> mse = LOSSES["mean_squared_error"]
      >>> z, y = standardized_pair(mse, jnp.array([[1010.0], [990.0]]), jnp.array([1000.0, 1000.0]),
      ...                          stats)
      >>> z.ravel().tolist(), y.tolist(), float(mse.fn(z, y, None))  # (10^2 + 10^2) / 2 / 10^2
      ([1.0, -1.0], [0.0, 0.0], 1.0)
    """
    if target_stats is None:
        return outputs, targets
    if loss.task == "classification":
        raise ValueError(
            f"the model standardizes regression targets (target statistics: "
            f"Standardized(..., targets=...)), but the loss {loss.name} takes class labels; "
            "train it with a regression loss (loss='mean_squared_error'), or build the model "
            "without targets="
        )
    mean = jnp.asarray(np.asarray(target_stats.mean, np.float32).reshape(-1))
    std = jnp.asarray(np.asarray(target_stats.std, np.float32).reshape(-1))
    width = outputs.shape[-1] if outputs.ndim > 1 else 1
    if mean.shape[0] not in (1, width):
        raise ValueError(
            f"the model has {mean.shape[0]} target statistics but gives outputs of shape "
            f"{outputs.shape}; give one mean and std per output unit"
        )
    outputs = outputs.astype(jnp.promote_types(outputs.dtype, jnp.float32))
    targets = jnp.asarray(targets).astype(outputs.dtype)
    if targets.ndim < outputs.ndim and mean.shape[0] == 1:  # (N,) targets of one output unit
        mean, std = mean[0], std[0]
    return (outputs - mean) / std, (targets - mean) / std


def check_targets(loss: Loss, name: str, y: Any, output_shape: tuple[int, ...]) -> None:
    """Host check of the labels/targets ``y`` against the loss and the model's output shape.

    >>> import numpy as np
    >>> from jaxdl.losses import LOSSES, check_targets
    >>> check_targets(LOSSES["softmax_cross_entropy"], "y", np.array([0, 3]), (2, 3))
    Traceback (most recent call last):
    ValueError: y must lie in [0, 3), got labels from 0 to 3; check the number of output units
    """
    if loss.name == "sigmoid_binary_cross_entropy":
        if int(np.prod(output_shape[1:], dtype=int)) != 1:
            raise ValueError(
                f"sigmoid_binary_cross_entropy needs one output unit, the model gives outputs "
                f"of shape {output_shape}"
            )
        check_binary_labels(name, y)
    elif loss.name == "softmax_cross_entropy":
        if len(output_shape) != 2:
            raise ValueError(
                f"softmax_cross_entropy needs outputs (samples, classes), the model gives shape "
                f"{output_shape}"
            )
        check_labels(name, np.asarray(y), output_shape[-1])
    elif loss.task == "regression":
        check_finite(name, y)
        if not np.issubdtype(np.asarray(y).dtype, np.number):
            raise TypeError(f"{name} must hold numbers for {loss.name}, got {np.asarray(y).dtype}")
        out = tuple(output_shape)
        if len(out) == np.ndim(y) + 1 and out[-1] == 1:
            out = out[:-1]
        if out != np.shape(y):
            raise ValueError(
                f"{name} has shape {np.shape(y)} but the model gives outputs of shape "
                f"{output_shape}; {loss.name} needs one target per output unit"
            )
