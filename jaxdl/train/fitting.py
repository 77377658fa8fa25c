"""``fit``: train one model for some epochs (one compiled scan each), with validation, early
stopping, atomic checkpoints and exact resumes, divergence and interrupt handling.

Keys: ``fit(seed)`` splits ``jax.random.key(seed)`` into an init key, a data key (epoch ``e``
shuffles with ``fold_in(data_key, e)``) and a dropout key (step keys from
``fold_in(dropout_key, e)``). Everything an epoch draws depends only on these keys and ``e``,
which makes runs reproducible and resumes exact, and lets a sweep share batches between members.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import checkpoint, logs
from jaxdl.early_stopping import EarlyStopping, EarlyStoppingState
from jaxdl.history import best_epoch as monitored_best
from jaxdl.history import record
from jaxdl.hyperparams import HyperParams
from jaxdl.infra import interrupt, parallel
from jaxdl.infra.progress import Progress
from jaxdl.train.compiled import run_epoch, run_evaluate, run_init
from jaxdl.train.options import FitSetup, prepare_fit
from jaxdl.train.state import Keys, TrainState
from jaxdl.train.trainer import Trainer


class FitResult(NamedTuple):
    """Trained parameters (the final epoch's; the best epoch's with early stopping) and the
    per-epoch history.

    ``history`` maps each of the trainer's ``history_keys`` (:data:`jaxdl.history.HISTORY_KEYS`
    for the default classification setup) to a list with one float per epoch (the ``val_*``
    lists stay empty without validation data; ``learning_rate`` is left out for a ready-made
    transformation, whose rate the trainer does not know), ``epoch_time`` to each epoch's wall
    time in seconds (host-side, training and validation up to the epoch's one sync; the first
    epoch of a process includes compiling) and ``batch_cost`` to per-step costs. ``best_epoch``
    is the epoch of the best ``monitor`` value (the early-stopping monitor, else ``val_loss``
    with validation data, else ``loss``; ``-1`` if none was finite), with or without early
    stopping.

    >>> import numpy as np
    >>> from jaxdl.train import Trainer, fit
    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> result = fit(Trainer(MLP((2, 1))), x, y, epochs=2, progress=False)
    >>> result.epochs_run, len(result.history["batch_cost"][0]), result.monitor
    (2, 1, 'loss')
    >>> int(np.argmin(result.history["loss"])) == result.best_epoch
    True
    >>> len(result.history["epoch_time"]), "learning_rate" in result.history
    (2, True)
    """

    params: Any
    model_state: Any
    opt_state: Any
    history: dict[str, list[Any]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    monitor: str = "loss"


class TrainingDiverged(RuntimeError):
    """The cost or the parameters became NaN/inf; ``result`` holds the parameters of the last
    step whose cost and parameters were finite (the best epoch's with early stopping) and the
    history; ``usable`` says whether those parameters still predict finite values.

    >>> from jaxdl.train import TrainingDiverged
    >>> issubclass(TrainingDiverged, RuntimeError)
    True
    """

    def __init__(
        self, message: str, result: FitResult, epoch: int, step: int, usable: bool = True
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.step, self.usable = result, epoch, step, usable


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit`` after ``epoch``; ``result`` holds the state reached and
    ``checkpoint`` the file written (``None`` without a checkpoint directory). A
    ``KeyboardInterrupt``, so code that stops on Ctrl-C keeps doing so.

    >>> from jaxdl.train import TrainingInterrupted
    >>> issubclass(TrainingInterrupted, KeyboardInterrupt)
    True
    """

    def __init__(
        self, message: str, result: FitResult, epoch: int, checkpoint: str | None, signal: str
    ) -> None:
        super().__init__(message)
        self.result, self.epoch, self.checkpoint, self.signal = result, epoch, checkpoint, signal


def _fingerprint(
    trainer: Trainer, hp: HyperParams, seed: Any, data: tuple[Any, ...],
    validation: tuple[Any, ...] | None, early_stopping: EarlyStopping | None,
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: setup, data contents, seed, early stopping."""
    # The mesh is left out: a run may resume on other devices with the same results. Memory
    # addresses in the repr of functions (a user's model, loss or optimizer) differ between
    # processes, so they are dropped.
    setup = repr(dataclasses.replace(trainer, mesh=None))
    return {
        "trainer": re.sub(r" at 0x[0-9a-fA-F]+", "", setup),
        "hyperparameters": {k: np.asarray(v).tolist() for k, v in sorted(hp.items())},
        "seed": repr(seed),
        "data": checkpoint.content_hash(*data),
        "validation": checkpoint.content_hash(*validation) if validation else None,
        "early_stopping": repr(early_stopping),
    }


def fit(
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
) -> FitResult:
    """Train for ``epochs`` (one compiled scan each), evaluating ``validation`` after each.

    ``early_stopping`` stops when its monitored history entry stops improving and restores the
    best epoch's parameters; without it the final parameters are returned, and
    ``best_epoch`` still names the best epoch by ``val_loss`` (``loss`` without validation).
    ``checkpoint_dir`` receives an atomic checkpoint every ``checkpoint_every`` epochs and at
    the end; the run owns the directory while it trains
    (a second run on it fails naming this one's PID), and a fresh run refuses a directory that
    already holds checkpoints unless ``overwrite=True`` deletes them. ``resume=True``
    continues from the newest intact checkpoint (warning about any damaged newer one) if its
    setup, seed and data match, and gives bit-identical results to an uninterrupted run.
    ``progress`` shows a bar on a terminal or in a notebook, a line every few epochs in a log
    (default: when stderr is a terminal). ``logger`` (see :mod:`jaxdl.logs`) gets each epoch's
    values and each of ``callbacks`` is called as ``callback(epoch, history)`` on the host after
    every epoch.

    Raises :class:`TrainingDiverged` on a non-finite cost or parameters, and
    :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) after the epoch in which SIGINT or
    SIGTERM arrived, once its checkpoint is written.

    >>> import numpy as np
    >>> from jaxdl.train import Trainer, fit
    >>> from jaxdl.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> trainer = Trainer(MLP((2, 1)))
    >>> result = fit(trainer, x, y, hp={"learning_rate": 0.1}, epochs=3, progress=False)
    >>> len(result.history["loss"]), result.history["loss"][-1] < result.history["loss"][0]
    (3, True)
    """
    return run_fit(prepare_fit(
        trainer, x, y, validation=validation, hp=hp, epochs=epochs, seed=seed,
        early_stopping=early_stopping, checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite,
        progress=progress, logger=logger, callbacks=callbacks,
    ))  # fmt: skip


def run_fit(setup: FitSetup) -> FitResult:
    """Train as ``setup`` says: :func:`fit` once :func:`~jaxdl.train.prepare_fit` has checked
    its arguments (nothing is checked again here).

    Args:
      setup: the :class:`~jaxdl.train.FitSetup`.

    Returns:
      The :class:`FitResult`.

    Raises:
      TrainingDiverged, TrainingInterrupted: as :func:`fit`.

    >>> import numpy as np
    >>> from jaxdl.nn import MLP
    >>> from jaxdl.train import Trainer, prepare_fit, run_fit
    >>> x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    >>> y = (x[:, 0] > 0).astype(np.int32)
    >>> run_fit(prepare_fit(Trainer(MLP((2, 1))), x, y, epochs=2, progress=False)).epochs_run
    2
    """
    trainer, opts = setup.trainer, setup.options
    x, y, validation, hyper = setup.x, setup.y, setup.validation, opts.hp
    early_stopping, epochs, store = opts.early_stopping, opts.epochs, None
    if opts.checkpoint_dir is not None:
        fingerprint = _fingerprint(trainer, hyper, opts.seed, (x, y), validation, early_stopping)
        store = checkpoint.CheckpointDir(opts.checkpoint_dir, fingerprint)
    keys = Keys.from_seed(opts.seed)
    x, y, validation, hyper, keys = _place(trainer, (x, y, validation, hyper, keys))

    ts = _place(trainer, run_init(trainer, keys.init, hyper))
    es = early_stopping.init() if early_stopping else None
    best = _copy((ts.params, ts.model_state)) if early_stopping else None
    history: dict[str, list[Any]] = {k: [] for k in (*trainer.history_keys, "epoch_time",
                                                "batch_cost")}  # fmt: skip
    start, stopped, monitor, mode = 0, False, opts.monitor, opts.mode
    owned = (store.open(resume=opts.resume, overwrite=opts.overwrite) if store
             else contextlib.nullcontext())  # fmt: skip
    with owned, interrupt.Deferred() as stop:
        restored = store.restore((ts, es, best)) if store is not None and opts.resume else None
        if restored is not None:
            (ts, es, best), meta = restored
            ts, es, best = _place(trainer, (ts, es, best))
            history, start, stopped = meta["history"], meta["epoch"] + 1, meta["stopped"]
            # a checkpoint written before epoch times were recorded: those are unknown
            history.setdefault("epoch_time", [math.nan] * len(history["epoch"]))

        def result(params_state: tuple[Any, Any]) -> FitResult:
            if es is not None:
                best_epoch = int(es.best_epoch)
            else:
                at = monitored_best(history[monitor], mode)
                best_epoch = history["epoch"][at] if at >= 0 else -1
            return FitResult(*params_state, ts.opt_state, history, best_epoch,
                             len(history["epoch"]), stopped, monitor)  # fmt: skip

        def kept() -> tuple[Any, Any]:
            """The best epoch's parameters with early stopping (once one was seen), else the
            latest."""
            if es is not None and best is not None and int(es.best_epoch) >= 0:
                best_state: tuple[Any, Any] = best
                return best_state
            return ts.params, ts.model_state

        bar = Progress(epochs, initial=start, show=opts.progress if start < epochs else False)
        for epoch in range(start, epochs) if not stopped else ():
            began = time.perf_counter()
            ts, metrics = run_epoch(trainer, ts, hyper, x, y, keys, epoch)
            val = run_evaluate(trainer, ts, hyper, *validation) if validation is not None else {}
            host = jax.device_get((metrics, val, ts.diverged_at))
            metrics, val, diverged_at = host
            record(history, epoch, metrics, val, [m.name for m in trainer.metric_list])
            history["epoch_time"].append(time.perf_counter() - began)
            logs.after_epoch(opts.logger, (), epoch, history)
            if diverged_at >= 0:
                bar.close()
                params, model_state = kept()
                usable = _usable(trainer, ts._replace(params=params, model_state=model_state),
                                 hyper, x, y)
                best_kept = es is not None and int(es.best_epoch) >= 0
                raise TrainingDiverged(
                    _diverged_message(epoch, int(diverged_at), len(metrics["cost"]), usable,
                                      best_kept),
                    result((params, model_state)), epoch, int(diverged_at), usable,
                )
            if early_stopping is not None and es is not None:
                es, improved = _early_stopping_update(
                    early_stopping, es, history[early_stopping.monitor][-1], epoch
                )
                if bool(improved):
                    best = _copy((ts.params, ts.model_state))
                stopped = bool(es.stop)
            bar.update(
                epoch, {k: history[k][-1] for k in trainer.history_keys[1:] if history.get(k)}
            )
            last = stopped or epoch == epochs - 1
            written = None
            if store is not None and (
                (epoch + 1) % opts.checkpoint_every == 0 or last or stop.requested
            ):
                written = store.save(
                    epoch, (ts, es, best), {"history": history, "stopped": stopped}
                )
            logs.after_epoch(None, opts.callbacks, epoch, history)
            if stop.requested and not last:
                bar.close()
                hint = (
                    f"checkpoint {written} written; resume with resume=True (CLI: --resume)"
                    if written else "no checkpoint_dir, nothing saved"
                )
                raise TrainingInterrupted(
                    f"training interrupted by {stop.requested} after epoch {epoch}; {hint}",
                    result(kept()), epoch, written, stop.requested,
                )
            if stopped:
                break
        bar.close()
        return result(best if best is not None else (ts.params, ts.model_state))


def _usable(trainer: Trainer, ts: TrainState, hp: HyperParams, x: jax.Array, y: jax.Array) -> bool:
    """True when ``ts``'s parameters predict a finite loss on the training data."""
    return bool(np.isfinite(jax.device_get(run_evaluate(trainer, ts, hp, x, y)["loss"])))


def _diverged_message(epoch: int, step: int, steps: int, usable: bool, best: bool) -> str:
    kept = "the best epoch's parameters" if best else (
        "the parameters of the last step whose cost and parameters were finite"
    )
    state = "" if usable else (
        ", but they are already unusable (their predictions on the training data are not finite)"
    )
    return (
        f"training diverged: the cost or the parameters became NaN/inf at epoch {epoch}, step "
        f"{step - epoch * steps} of {steps} (global step {step}); {kept} are kept in "
        f"error.result{state}. Lower the learning rate or check the data's scale."
    )


def _place(trainer: Trainer, tree: Any) -> Any:
    """``tree`` on the default device, or replicated over the trainer's mesh."""
    if trainer.mesh is None:
        return jax.device_put(tree)
    return parallel.replicate(tree, trainer.mesh)


@jax.jit
def _copy(tree: Any) -> Any:
    """Fresh device buffers (the epoch donates its input state), in one program."""
    return jax.tree.map(jnp.copy, tree)


@functools.partial(jax.jit, static_argnums=0)
def _early_stopping_update(
    stopper: EarlyStopping, state: EarlyStoppingState, metric: Any, epoch: Any
) -> tuple[EarlyStoppingState, jax.Array]:
    """``stopper.update`` and whether it found a new best, as one program (run eagerly, its
    dozen element-wise operations would each compile on their own)."""
    new = stopper.update(state, metric, epoch)
    return new, stopper.improved(state, new)
