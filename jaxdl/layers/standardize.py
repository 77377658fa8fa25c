"""A model that standardizes its own inputs with the training split's statistics, so the
statistics travel with the model (as Keras's ``Normalization`` layer does):

    outputs = model(float32((x - mu_train) / sigma_train))

:class:`Standardized` wraps any model (``jaxdl.MLP``, a ``jaxdl.layers.Sequential``, your own):
its ``apply`` casts the raw input to float32, standardizes it and calls the inner model; its
``init`` is the inner model's, so parameters and state look exactly as before. The statistics
broadcast over the last axis (one per feature of a table, one per channel of images) or match a
whole example. Images stay ``uint8`` on the device and become float32 one mini-batch at a time
inside the compiled epoch. :func:`jaxdl.saved.save_model` stores the inner model with the
statistics as the saved model's standardizer, which ``SavedModel.predict`` applies to raw input.

Regression targets are standardized too, with ``targets=`` (the training targets' statistics,
``Dataset.target_stats``, one mean and standard deviation per output column):

    outputs = mu_y + sigma_y * model(...)           (apply: predictions in the targets' units)
    loss    = L((outputs - mu_y) / sigma_y, (y - mu_y) / sigma_y)

The inner model learns the standardized targets ``(y - mu_y) / sigma_y``; :meth:`apply` returns
its outputs in the targets' units, so predictions, metrics (MSE, MAE, R^2) and saved models are in
those units, and :attr:`target_stats` tells the Trainer's loss
(:func:`jaxdl.losses.standardized_pair`) to compare outputs and targets standardized. For the
mean squared error that is ``mean_k (z_k - y_k)^2 / sigma_k^2``: the loss, and by the chain rule
its gradient, are exactly those of training on standardized targets, so the same data in other
units (targets x1000) trains the same, and the default learning rates fit any magnitude.

A model is standardized once: wrapping a :class:`Standardized` again is an error.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.typing import PyTree

#: Attributes read through to the inner model (what the library and the command ask a model).
_FORWARDED = frozenset({"hyperparameters", "input_shape", "output_shape", "compute_dtype",
                        "num_params", "sizes"})


class Statistics(NamedTuple):
    """A ``mean`` and a ``std`` (float64), as :attr:`Standardized.target_stats` gives the
    regression targets' training statistics (shape ``(outputs,)``)."""

    mean: np.ndarray
    std: np.ndarray


def _statistic(name: str, value: Any) -> np.ndarray:
    """A finite float64 array of at least one entry (``std``: positive)."""
    try:
        array = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Standardized {name} must be numbers, got {value!r}") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"Standardized {name} must be finite numbers, at least one, got "
                         f"{array.tolist()}")
    if name.endswith("std") and np.any(array <= 0):
        raise ValueError(f"Standardized {name} must be positive, got {array.tolist()}")
    return array


class Standardized:
    """``model`` applied to ``(x - mean) / std``, computed in float32 from the raw input.

    Args:
      model: the model to wrap (anything with ``init`` and ``apply``; not a ``Standardized``).
      standardizer: the training statistics: an object with ``mean`` and ``std`` (a
        :class:`jaxdl.data.normalize.Standardizer`, such as ``Dataset.stats``), each of shape
        ``(features,)``, ``(channels,)`` or one example's shape.
      targets: regression only: the training targets' statistics, an object with ``mean`` and
        ``std`` of shape ``(outputs,)`` (``Dataset.target_stats``, from
        :func:`jaxdl.data.normalize.target_standardizer`); the outputs become
        ``mean + std * model(...)``. ``None`` (default): outputs as the model gives them.

    Raises:
      ValueError: for a model that is already standardized, no statistics, or statistics that
        are not finite (``std`` positive) or do not match in shape.

    Examples:
      >>> import jax, numpy as np
      >>> from jaxdl import MLP
      >>> from jaxdl.data.normalize import Standardizer
      >>> from jaxdl.layers import Standardized
      >>> stats = Standardizer(mean=np.array([10.0, 0.0]), std=np.array([2.0, 1.0]))
      >>> model = Standardized(MLP((2, 1)), stats)
      >>> params, state = model.init(jax.random.key(0))
      >>> x = np.array([[12.0, 3.0]])
      >>> inner = model.model.apply(params, state, np.array([[1.0, 3.0]]), train=False)[0]
      >>> bool(np.allclose(model.apply(params, state, x, train=False)[0], inner))
      True
      >>> targets = Standardizer(mean=np.array([1000.0]), std=np.array([50.0]))
      >>> regressor = Standardized(MLP((2, 1)), stats, targets=targets)
      >>> out = regressor.apply(params, state, x, train=False)[0]   # in the targets' units
      >>> bool(np.allclose(out, 1000.0 + 50.0 * inner))
      True
    """

    __slots__ = ("_hash", "_mean", "_model", "_shape", "_std", "_targets")
    _hash: int
    _mean: tuple[float, ...]
    _model: Any
    _shape: tuple[int, ...]
    _std: tuple[float, ...]
    _targets: tuple[tuple[float, ...], tuple[float, ...]] | None

    def __init__(self, model: Any, standardizer: Any, *, targets: Any = None) -> None:
        if isinstance(model, Standardized):
            raise ValueError("this model already standardizes its inputs (it is a "
                             "Standardized model); wrap the inner model once: "
                             "Standardized(model.model, stats)")
        if standardizer is None:
            raise ValueError("Standardized needs the training statistics (Dataset.stats); this "
                             "data has none (loaded with normalize=False): use the model "
                             "without Standardized")
        if not (callable(getattr(model, "init", None)) and callable(getattr(model, "apply",
                                                                             None))):
            raise TypeError(f"Standardized wraps a model with init and apply, got "
                            f"{type(model).__name__}")
        mean = _statistic("mean", getattr(standardizer, "mean", None))
        std = _statistic("std", getattr(standardizer, "std", None))
        if mean.shape != std.shape:
            raise ValueError(f"Standardized mean has shape {mean.shape} but std {std.shape}; "
                             "they must match")
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_shape", mean.shape)
        object.__setattr__(self, "_mean", tuple(mean.ravel().tolist()))
        object.__setattr__(self, "_std", tuple(std.ravel().tolist()))
        object.__setattr__(self, "_targets", _target_statistics(targets))
        object.__setattr__(self, "_hash", hash((model, self._shape, self._mean, self._std,
                                                self._targets)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Standardized is immutable")

    @property
    def model(self) -> Any:
        """The wrapped model, which takes standardized float32 inputs."""
        return self._model

    @property
    def mean(self) -> np.ndarray:
        """The training mean (float64), in the shape it was given."""
        return np.asarray(self._mean, np.float64).reshape(self._shape)

    @property
    def std(self) -> np.ndarray:
        """The training standard deviation (float64), in the shape it was given."""
        return np.asarray(self._std, np.float64).reshape(self._shape)

    @property
    def target_stats(self) -> Statistics | None:
        """The regression targets' training statistics (``mean``, ``std``, each
        ``(outputs,)``), or ``None`` when the outputs are not de-standardized. The Trainer's
        loss reads it (:func:`jaxdl.losses.standardized_pair`)."""
        if self._targets is None:
            return None
        return Statistics(*(np.asarray(v, np.float64) for v in self._targets))

    #: Inputs may stay ``uint8`` on the device (``jaxdl.shapes.check_data`` keeps them).
    takes_uint8 = True

    def init(self, key: jax.Array) -> tuple[PyTree, PyTree]:
        """The inner model's ``(params, state)``."""
        params_state: tuple[PyTree, PyTree] = self._model.init(key)
        return params_state

    def standardize(self, x: Any) -> jax.Array:
        """``float32((x - mean) / std)``, the statistics broadcast over the last axis or over
        one example's shape."""
        x = jnp.asarray(x).astype(jnp.float32)
        size = math.prod(self._shape)
        example = tuple(x.shape[1:])
        if self._shape == example or (len(self._shape) == 1 and x.ndim >= 1
                                      and example[-1:] == self._shape):
            shape = self._shape
        elif x.ndim >= 1 and math.prod(example) == size:
            shape = example
        else:
            raise ValueError(f"Standardized has statistics of shape {self._shape} but the input "
                             f"has examples of shape {example}; they must match the last axis "
                             "or the whole example")
        mean = jnp.asarray(np.asarray(self._mean, np.float32).reshape(shape))
        std = jnp.asarray(np.asarray(self._std, np.float32).reshape(shape))
        standardized: jax.Array = (x - mean) / std
        return standardized

    def apply(self, params: PyTree, state: PyTree, x: jax.Array, *, train: bool,
              key: jax.Array | None = None, hp: Mapping[str, Any] | None = None,
              mask: jax.Array | None = None) -> tuple[jax.Array, PyTree]:
        """The inner model's ``apply`` on :meth:`standardize` of the raw ``x``; with target
        statistics its outputs ``z`` come back in the targets' units,
        :meth:`destandardize` ``(z) = mean + std * z``."""
        out, new_state = self._model.apply(
            params, state, self.standardize(x), train=train, key=key, hp=hp, mask=mask)
        return self.destandardize(out), new_state

    def destandardize(self, z: jax.Array) -> jax.Array:
        """``mean_y + std_y * z`` (float32, the statistics broadcast over the last axis) with
        the target statistics, or ``z`` itself without them."""
        if self._targets is None:
            return z
        mean, std = (jnp.asarray(np.asarray(v, np.float32)) for v in self._targets)
        if z.ndim == 0 or (z.shape[-1] != mean.shape[0] and mean.shape[0] != 1):
            raise ValueError(f"Standardized has {mean.shape[0]} target statistics but the model "
                             f"gives outputs of shape {z.shape}; give one per output unit")
        out: jax.Array = z.astype(jnp.promote_types(z.dtype, jnp.float32)) * std + mean
        return out

    def flat_statistics(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` with one entry per input value of an example of ``width`` values
        (per-channel statistics repeated in row-major order), as a saved model stores them.

        >>> import numpy as np
        >>> from jaxdl import MLP
        >>> from jaxdl.data.normalize import Standardizer
        >>> from jaxdl.layers import Standardized
        >>> model = Standardized(MLP((4, 1)), Standardizer(np.array([1.0, 2.0]), np.ones(2)))
        >>> model.flat_statistics(4)[0].tolist()
        [1.0, 2.0, 1.0, 2.0]
        """
        mean, std = self.mean.ravel(), self.std.ravel()
        if width % mean.size:
            raise ValueError(f"Standardized has {mean.size} statistics but the model takes "
                             f"{width} input values an example; they must divide it")
        reps = width // mean.size
        return np.tile(mean, reps), np.tile(std, reps)

    def __getattr__(self, name: str) -> Any:
        if name in _FORWARDED:
            return getattr(self._model, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Standardized):
            return NotImplemented
        return (self._hash == other._hash and self._model == other._model
                and self._shape == other._shape and self._mean == other._mean
                and self._std == other._std and self._targets == other._targets)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        stats = hashlib.sha256(repr((self._shape, self._mean, self._std)).encode()).hexdigest()
        targets = "" if self._targets is None else f", {len(self._targets[0])} target statistics"
        return f"Standardized({self._model!r}, {len(self._mean)} statistics {stats[:12]}{targets})"

    def with_structure(self, structure: Mapping[str, Any]) -> Standardized:
        """The inner model's ``with_structure(structure)`` (a sweep's structural settings, such
        as the MLP's ``hidden_units``), standardized with the same statistics."""
        inner = getattr(self._model, "with_structure", None)
        if not callable(inner):
            raise ValueError(f"structural setting(s) {sorted(structure)} need the model's "
                             f"with_structure; {type(self._model).__name__} has none")
        return Standardized(inner(structure), self, targets=self.target_stats)

    def __reduce__(self) -> Any:
        return (_rebuild, (self._model, Statistics(self.mean, self.std), self.target_stats))


def _rebuild(model: Any, stats: Any, targets: Any = None) -> Standardized:
    return Standardized(model, stats, targets=targets)


def _target_statistics(targets: Any) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``targets``' ``(mean, std)`` as tuples of one entry per output, checked, or ``None``."""
    if targets is None:
        return None
    mean = _statistic("targets mean", getattr(targets, "mean", None))
    std = _statistic("targets std", getattr(targets, "std", None))
    if mean.ndim != 1 or mean.shape != std.shape:
        raise ValueError(f"Standardized targets mean and std must each have one entry per "
                         f"output, shape (outputs,); got {mean.shape} and {std.shape}")
    return tuple(mean.tolist()), tuple(std.tolist())


def unwrap(model: Any) -> Any:
    """The model inside a :class:`Standardized`, or ``model`` itself.

    >>> import numpy as np
    >>> from jaxdl import MLP
    >>> from jaxdl.data.normalize import Standardizer
    >>> from jaxdl.layers.standardize import Standardized, unwrap
    >>> unwrap(Standardized(MLP((2, 1)), Standardizer(np.zeros(2), np.ones(2))))
    MLP(sizes=(2, 1), ...)
    """
    return model.model if isinstance(model, Standardized) else model
