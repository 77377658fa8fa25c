"""Gradient checks of models: :func:`check_mlp` on the built-in MLP problem
(:func:`mlp_problem`: batch norm in train mode, L2, dropout off) and :func:`check_model` on any
model with its trainer's loss, both through :func:`jaxdl.gradcheck.check.gradcheck`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl import losses, nn
from jaxdl.gradcheck.check import GradcheckResult, gradcheck
from jaxdl.train import Trainer, check_data, trainer_hyperparams
from jaxdl.typing import PyTree


def _mlp_loss(
    params: PyTree, model: Any, state: PyTree, x: jax.Array, y: jax.Array, lambd: jax.Array
) -> jax.Array:
    """Cross-entropy of the MLP in train mode (batch statistics of ``x``) plus the L2 penalty."""
    logits, _ = model.apply(params, state, x, train=True)
    return losses.softmax_cross_entropy(logits, y) + losses.l2_penalty(params, lambd, x.shape[0])


def mlp_problem(
    seed: int = 0,
    *,
    sizes: tuple[int, ...] = (5, 8, 6, 3),
    batch: int = 16,
    lambd: float = 0.7,
) -> tuple[Callable[..., jax.Array], PyTree, tuple[Any, ...]]:
    """``(loss_fn, params, args)`` of the built-in MLP with every feature a check can cover.

    Batch norm in train mode on a fixed random batch, L2 with ``lambd``, dropout off (a random
    mask makes J ill-defined); the loss is softmax cross-entropy plus
    ``lambd / (2 m) * sum ||W||_F^2``. Data, labels and weights are random from ``seed``.

    >>> from jaxdl.gradcheck import mlp_problem
    >>> loss_fn, params, args = mlp_problem(sizes=(2, 3, 2), batch=4)
    >>> float(loss_fn(params, *args)) > 0
    True
    """
    model = nn.MLP(sizes=tuple(sizes), batch_norm=True, dropout=False)
    k_init, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params, state = model.init(k_init)
    x = jax.random.normal(k_x, (batch, sizes[0]))
    y = jax.random.randint(k_y, (batch,), 0, sizes[-1])
    return _mlp_loss, params, (model, state, x, y, jnp.asarray(lambd))


def check_mlp(
    seed: int = 0,
    *,
    sizes: tuple[int, ...] = (5, 8, 6, 3),
    batch: int = 16,
    lambd: float = 0.7,
    epsilon: float = 1e-7,
    threshold: float = 1e-7,
) -> GradcheckResult:
    """Gradient check of :func:`mlp_problem` (the MLP with L2 and batch norm, dropout off).

    >>> from jaxdl.gradcheck import check_mlp
    >>> print(check_mlp(sizes=(2, 3, 2), batch=4))
    gradient check PASSED: relative difference ... over 20 parameters, epsilon 1e-07
    great: below 1e-7, backprop agrees with the finite differences
    ...
    """
    loss_fn, params, args = mlp_problem(seed, sizes=sizes, batch=batch, lambd=lambd)
    return gradcheck(loss_fn, params, *args, epsilon=epsilon, threshold=threshold)


def _model_loss(
    params: PyTree, trainer: Any, state: PyTree, x: jax.Array, y: jax.Array, hp: Any, lambd: Any
) -> jax.Array:
    """The trainer's data loss of its model in train mode, plus the L2 penalty when given."""
    outputs, _ = trainer.model.apply(params, state, x, train=True, hp=hp)
    cost = trainer.data_loss(outputs, y, None)
    return cost if lambd is None else cost + losses.l2_penalty(params, lambd, x.shape[0])


def check_model(
    model: Any,
    x: Any,
    y: Any,
    *,
    loss: Any = None,
    params: PyTree | None = None,
    state: PyTree | None = None,
    hp: dict[str, Any] | None = None,
    lambd: float | None = None,
    seed: int = 0,
    epsilon: float = 1e-7,
    threshold: float = 1e-7,
) -> GradcheckResult:
    """Gradient check of any model (:class:`jaxdl.model.ModelLike`) on a batch ``(x, y)``:

        J(params) = loss(model.apply(params, state, x, train=True, hp=hp)[0], y)
                    [+ lambd / (2 m) * sum ||W||_F^2]

    with ``loss`` as in ``Trainer(model, loss=loss)`` (default: cross-entropy by the output
    width). ``params``/``state`` default to ``model.init(jax.random.key(seed))``. The model must
    be deterministic in train mode (switch dropout off). :func:`check_mlp` is the built-in case.

    >>> import jax.numpy as jnp, numpy as np
    >>> from jaxdl.gradcheck import check_model
    >>> from jaxdl.model import Model
    >>> linear = Model(lambda key: {"W": jnp.ones((2, 1))}, lambda p, x: x @ p["W"])
    >>> x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    >>> check_model(linear, x, np.array([0.5, 1.0]), loss="mean_squared_error").passed
    True
    """
    trainer = Trainer(model, loss=loss, metrics=())
    hp = trainer_hyperparams(trainer, hp or {})
    x, y = check_data(trainer, x, y, hp=hp)
    if params is None or state is None:
        fresh_params, fresh_state = model.init(jax.random.key(seed))
        params = fresh_params if params is None else params
        state = fresh_state if state is None else state
    l2 = None if lambd is None else jnp.asarray(lambd)
    return gradcheck(
        _model_loss, params, trainer, state, x, y, hp, l2, epsilon=epsilon, threshold=threshold
    )
