"""What training carries from step to step: the state, the random keys and a mini-batch."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax


class TrainState(NamedTuple):
    """Everything that changes during training; ``diverged_at`` is the global step at which the
    cost first became non-finite (-1 while finite; from then on nothing is updated).

    >>> import jax
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.hyperparams import hyperparams
    >>> from jaxdl.train import Trainer
    >>> int(Trainer(MLP((2, 1))).init(jax.random.key(0), hyperparams()).diverged_at)
    -1
    """

    params: Any
    model_state: Any
    opt_state: Any
    diverged_at: jax.Array


class Keys(NamedTuple):
    """The three independent random streams of a run.

    >>> from jaxdl.train.state import Keys
    >>> [k.shape for k in Keys.from_seed(0)]
    [(), (), ()]
    """

    init: jax.Array
    data: jax.Array
    dropout: jax.Array

    @classmethod
    def from_seed(cls, seed: int | jax.Array) -> Keys:
        """Split one seed (an int or a key) into the init, data and dropout keys."""
        key = jax.random.key(seed) if isinstance(seed, int) else seed
        return cls(*_split3(key))


@jax.jit
def _split3(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``jax.random.split(key, 3)`` as three keys, in one program (run eagerly, the split and
    the unpacking compile one program each)."""
    return tuple(jax.random.split(key, 3))


class Batch(NamedTuple):
    """A mini-batch: features, labels and 0/1 row weights (``None``: all rows are real).

    >>> from jaxdl.train.state import Batch
    >>> import jax.numpy as jnp
    >>> Batch(jnp.ones((2, 3)), jnp.array([0, 1])).mask is None
    True
    """

    x: jax.Array
    y: jax.Array
    mask: jax.Array | None = None

