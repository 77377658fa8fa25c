"""The boundary of ``fit``: :func:`prepare_fit` turns what a user passes into a frozen, checked
:class:`FitSetup` (the trainer, the data on the device, the :class:`FitOptions`), once, before
anything compiles; :func:`jaxdl.train.run_fit` trains from it and checks nothing again.

The checks, in order: the hyperparameters against the trainer (names, float32 ranges, who reads
them: :func:`jaxdl.hyperparams.check_for`; values already :class:`~jaxdl.hyperparams.Checked`
are not range-checked again), the logger and callbacks, the counts, ``resume``/``overwrite``,
the seed, the early stopping and its monitor, single-number hyperparameters, the data against
the model, loss and metrics (:func:`jaxdl.shapes.check_data`), the optimizer on the model's
parameter shapes, and the batch layout on the trainer's mesh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxdl import logs
from jaxdl.checks import check_positive_int
from jaxdl.early_stopping import EarlyStopping
from jaxdl.hyperparams import HyperParams, check_for
from jaxdl.shapes import check_data, check_optimizer
from jaxdl.train.trainer import Trainer, trainer_hyperparams

__all__ = ["FitOptions", "FitSetup", "prepare_fit"]

Callback = Callable[[int, dict[str, list[Any]]], Any]


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """The checked settings of one fit (each as in :func:`jaxdl.train.fit`).

    ``hp`` holds every hyperparameter as a float32 array (defaults filled in); ``monitor`` and
    ``mode`` name what ``best_epoch`` is chosen by: the early-stopping monitor, else
    ``val_loss`` with validation data, else ``loss`` (``"min"``).

    >>> import numpy as np
    >>> from jaxdl import EarlyStopping
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.train import Trainer, prepare_fit
    >>> x, y = np.zeros((8, 2), np.float32), np.array([0, 1] * 4)
    >>> options = prepare_fit(Trainer(MLP((2, 2))), x, y, validation=(x, y), epochs=3,
    ...                       early_stopping=EarlyStopping(2, monitor="val_accuracy")).options
    >>> options.epochs, options.monitor, options.mode
    (3, 'val_accuracy', 'max')
    """

    hp: HyperParams
    epochs: int
    seed: int | jax.Array
    early_stopping: EarlyStopping | None
    monitor: str
    mode: str
    checkpoint_dir: str | None = None
    checkpoint_every: int = 1
    resume: bool = False
    overwrite: bool = False
    progress: bool | None = None
    logger: logs.Logger | None = None
    callbacks: tuple[Callback, ...] = ()


@dataclasses.dataclass(frozen=True)
class FitSetup:
    """A trainer, its checked data on the device and its :class:`FitOptions`: what
    :func:`jaxdl.train.run_fit` trains. Build it with :func:`prepare_fit`.

    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.train import Trainer, prepare_fit, run_fit
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> setup = prepare_fit(Trainer(MLP((2, 1))), x, y, hp={"learning_rate": 0.1}, epochs=2,
    ...                     progress=False)
    >>> setup.x.dtype, setup.options.monitor, float(setup.options.hp["learning_rate"])
    (dtype('float32'), 'loss', 0.1)
    >>> run_fit(setup).epochs_run
    2
    """

    trainer: Trainer
    x: jax.Array
    y: jax.Array
    validation: tuple[jax.Array, jax.Array] | None
    options: FitOptions

    def with_logger(self, logger: logs.Logger | None) -> FitSetup:
        """This setup with ``logger`` (checked) in its options: a caller may make its logger,
        which opens files, only once the rest is known to be good.

        Args:
          logger: a :mod:`jaxdl.logs` logger, or ``None``.

        Returns:
          A new :class:`FitSetup`.
        """
        logs.check_logger(logger)
        return dataclasses.replace(self, options=dataclasses.replace(self.options, logger=logger))


def check_seed(seed: Any) -> int | jax.Array:
    """``seed`` as a Python int, or the typed PRNG key it is.

    >>> from jaxdl.train.options import check_seed
    >>> check_seed(3)
    3
    >>> check_seed(-1)
    Traceback (most recent call last):
    ValueError: seed must be a non-negative int below 2**63, got -1
    """
    # jax.dtypes imports issubdtype from jax._src.dtypes without re-exporting it by name: an
    # error where jax.dtypes is checked with no_implicit_reexport (mypy --strict), none otherwise
    if isinstance(seed, jax.Array) and jax.dtypes.issubdtype(  # type: ignore[attr-defined, unused-ignore]
        seed.dtype, jax.dtypes.prng_key
    ):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or a jax.random.key, got {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative int below 2**63, got {seed}")
    return int(seed)


def _check_validation(validation: Any) -> None:
    if not isinstance(validation, tuple | list) or len(validation) != 2:
        raise TypeError(
            "validation must be a pair (x_val, y_val), got "
            + (f"a sequence of {len(validation)}" if isinstance(validation, tuple | list)
               else type(validation).__name__)
        )


def _check_scalar_hp(hp: Mapping[str, Any]) -> None:
    """Single numbers only in ``hp``: a sweep varies them."""
    for name, value in hp.items():
        if np.ndim(value) != 0:
            raise ValueError(
                f"hp[{name!r}] must be a single number in fit, got shape "
                f"{np.shape(value)}; to train several values at once use "
                "jaxdl.sweep.run_sweep"
            )


def prepare_fit(
    trainer: Trainer,
    x: Any,
    y: Any,
    *,
    validation: tuple[Any, Any] | None = None,
    hp: Mapping[str, Any] | None = None,
    epochs: int = 10,
    seed: int | jax.Array = 0,
    early_stopping: EarlyStopping | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    logger: logs.Logger | None = None,
    callbacks: Any = (),
) -> FitSetup:
    """Check everything :func:`jaxdl.train.fit` is given, once, on the host (see the module
    docstring), and freeze it.

    Args:
      trainer, x, y, validation, hp, epochs, seed, early_stopping, checkpoint_dir,
        checkpoint_every, resume, overwrite, progress, logger, callbacks: as in
        :func:`jaxdl.train.fit`.

    Returns:
      The :class:`FitSetup`: ``x``, ``y`` and ``validation`` on the device (float32
      features), the hyperparameters as float32 arrays.

    Raises:
      TypeError, ValueError: naming the argument and the fix, before anything compiles.

    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.train import Trainer, prepare_fit
    >>> prepare_fit(Trainer(MLP((2, 1))), np.zeros((4, 2)), np.zeros(4), epochs=0)
    Traceback (most recent call last):
    ValueError: epochs must be a positive integer, got 0
    """
    checked = check_for(trainer, hp or {})  # names nothing reads, ranges: before anything compiles
    logs.check_logger(logger)
    callbacks = logs.check_callbacks(callbacks)
    check_positive_int("epochs", epochs)
    check_positive_int("checkpoint_every", checkpoint_every)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir, the directory to resume from")
    if resume and overwrite:
        raise ValueError("resume=True and overwrite=True exclude each other: choose one")
    seed = check_seed(seed)
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(
                f"early_stopping must be a jaxdl.EarlyStopping, got {type(early_stopping).__name__}"
            )
        trainer.check_monitor(early_stopping.monitor, early_stopping.mode)
    _check_scalar_hp(checked)
    hyper = trainer_hyperparams(trainer, checked)  # float32, defaults filled, not re-checked
    x, y = check_data(trainer, x, y, hp=hyper)
    data_val = None
    if validation is not None:
        _check_validation(validation)
        data_val = check_data(trainer, *validation, name="x_val", hp=hyper)
    check_optimizer(trainer, hyper)
    if early_stopping is not None and early_stopping.monitor.startswith("val") and not data_val:
        raise ValueError(f"early stopping on {early_stopping.monitor!r} needs validation data")
    trainer.partition(x.shape[0])
    if early_stopping is not None:
        monitor, mode = early_stopping.monitor, early_stopping.direction
    else:
        monitor, mode = ("val_loss" if data_val is not None else "loss"), "min"
    options = FitOptions(
        hp=hyper, epochs=epochs, seed=seed, early_stopping=early_stopping, monitor=monitor,
        mode=mode, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
        resume=resume, overwrite=overwrite, progress=progress, logger=logger,
        callbacks=callbacks,
    )  # fmt: skip
    return FitSetup(trainer, x, y, data_val, options)
