"""Training: a jitted step, a whole epoch as one ``lax.scan`` over mini-batches, and ``fit``.

The cost of a mini-batch is the course's

    J = (1 / b) * sum_i loss(yhat_i, y_i) + lambd / (2 m) * sum_l ||W_l||_F^2

with ``b`` the real (unmasked) samples of the batch and ``m`` the training-set size, so the L2
gradient is ``lambd / m * W`` whatever the batch size. The loss is the Trainer's ``loss`` (a name
of :data:`jaxdl.losses.LOSSES` or a callable); by default softmax cross-entropy for several
output units, sigmoid cross-entropy for one.

The model is anything with ``init``/``apply`` (:class:`jaxdl.model.ModelLike`), the optimizer a
name, a gradient transformation (anything with ``init``/``update``) or a factory ``hp ->
transformation`` called inside ``jit`` with the traced hyperparameters.

Keys: ``fit(seed)`` splits ``jax.random.key(seed)`` into an init key, a data key (epoch ``e``
shuffles with ``fold_in(data_key, e)``) and a dropout key (step keys from
``fold_in(dropout_key, e)``). Everything an epoch draws depends only on these keys and ``e``,
which makes runs reproducible and resumes exact, and lets a sweep share batches between members.

Modules: ``state`` (:class:`TrainState`, :class:`Keys`, :class:`Batch`), ``trainer``
(:class:`Trainer`: the static setup, its optimizer, cost and evaluation), ``step`` (the one
guarded training step), ``epoch`` (one epoch as a ``lax.scan`` of that step), ``compiled``
(the jitted ``run_epoch``, ``run_evaluate``, ``run_init``, ``run_init_members``), ``options``
(:func:`prepare_fit`: the arguments of ``fit`` checked once into a frozen :class:`FitSetup`) and
``fitting`` (:func:`fit`, :func:`run_fit` and their errors).
"""

from jaxdl.history import HISTORY_KEYS, MONITORS
from jaxdl.shapes import check_data as check_data  # importable from here as before the split
from jaxdl.train import compiled, epoch, fitting, options, state, step, trainer
from jaxdl.train.compiled import (
    INIT_COMPILER_OPTIONS,
    TRAIN_COMPILER_OPTIONS,
    init_shapes,
    lower_epoch,
    run_epoch,
    run_evaluate,
    run_init,
    run_init_members,
)
from jaxdl.train.fitting import FitResult, TrainingDiverged, TrainingInterrupted, fit, run_fit
from jaxdl.train.options import FitOptions, FitSetup, prepare_fit
from jaxdl.train.state import Batch, Keys, TrainState
from jaxdl.train.trainer import SCHEDULES, Trainer, trainer_hyperparams

# In reading order (the API page follows it): the state, the trainer, the compiled programs, fit.
__all__ = [
    "TrainState",
    "Keys",
    "Batch",
    "Trainer",
    "run_epoch",
    "lower_epoch",
    "run_evaluate",
    "run_init",
    "run_init_members",
    "init_shapes",
    "FitResult",
    "TrainingDiverged",
    "TrainingInterrupted",
    "trainer_hyperparams",
    "fit",
    "FitOptions",
    "FitSetup",
    "prepare_fit",
    "run_fit",
    "SCHEDULES",
    "INIT_COMPILER_OPTIONS",
    "TRAIN_COMPILER_OPTIONS",
    "HISTORY_KEYS",
    "MONITORS",
    "state",
    "trainer",
    "step",
    "epoch",
    "compiled",
    "options",
    "fitting",
]
