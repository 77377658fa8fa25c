"""Failing a dead worker's trials, so that the study's other workers retry them.

Workers share a study through its storage; a worker that dies (killed, preempted, out of memory)
leaves its batch's trials ``RUNNING`` for ever. Optuna's heartbeat fixes that: a live worker
records a heartbeat of each of its running trials every ``heartbeat_interval`` seconds, and any
worker that starts a batch first fails the trials whose last heartbeat is older than
``grace_period`` (``optuna.storages.fail_stale_trials``), and
``optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)`` queues each of them once more
(a ``WAITING`` trial with the same parameters, which the next ``study.ask()`` of any worker
takes). A trial that finished is never retried, so nothing is trained twice.

Optuna's ``RDBStorage`` (PostgreSQL, MySQL, SQLite) takes ``heartbeat_interval`` and
``grace_period`` itself; its ``JournalStorage`` does not, so :func:`journal_storage` gives a
journal storage with the same heartbeat (each heartbeat a trial system attribute
``jaxdl:heartbeat``, the wall-clock time). :class:`Heartbeat` records the heartbeats of one
batch's trials on a background thread while the batch trains (Optuna records them only inside
``study.optimize``; a batch is asked and told).
"""

from __future__ import annotations

import functools
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from jaxdl.sweep.optuna_search.space import require_optuna

HEARTBEAT_ATTR = "jaxdl:heartbeat"


def _check_seconds(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number of seconds, got {value!r}")
    return value


def retry_once() -> Any:
    """Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)`` (its experimental warning
    silenced): a heartbeat-stale trial is queued again once, with the same parameters.

    >>> type(retry_once()).__name__
    'RetryHeartbeatStaleTrialCallback'
    """
    optuna = require_optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)


@functools.cache
def _journal_class() -> type:
    require_optuna()
    from optuna.storages import JournalStorage

    # Optuna's heartbeat interface (RDBStorage implements it): fail_stale_trials and the
    # retry callback read a storage through it.
    from optuna.storages._heartbeat import BaseHeartbeat
    from optuna.trial import TrialState

    class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
        """``JournalStorage`` with Optuna's heartbeat (see the module docstring)."""

        def __init__(self, backend: Any, heartbeat_interval: int, grace_period: int,
                     heartbeat_stale_trial_callback: Any) -> None:  # fmt: skip
            super().__init__(backend)
            self.heartbeat_interval = heartbeat_interval
            self.grace_period = grace_period
            self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback

        def record_heartbeat(self, trial_id: int) -> None:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            now = time.time()
            stale = []
            for trial in self.get_all_trials(study_id, deepcopy=False,
                                             states=(TrialState.RUNNING,)):  # fmt: skip
                start = trial.datetime_start.timestamp() if trial.datetime_start else now
                if now - trial.system_attrs.get(HEARTBEAT_ATTR, start) > self.grace_period:
                    stale.append(trial._trial_id)
            return stale

        def get_heartbeat_interval(self) -> int | None:
            return self.heartbeat_interval

        def get_heartbeat_stale_trial_callback(self) -> Any:
            return self.heartbeat_stale_trial_callback

    return HeartbeatJournalStorage


class FlockLock:
    """The journal file's write lock as ``fcntl.flock`` on ``<path>.flock``: the kernel releases
    it when its process dies, so a SIGKILLed worker cannot leave the file locked (Optuna's
    default symlink lock then stalls every other worker for 30 s, longer than a short grace
    period, and their live trials would be taken for dead). Every process writing the journal
    must use this lock: open it with :func:`journal_storage`, or
    ``JournalFileBackend(path, lock_obj=FlockLock(path))``.

    >>> import os, tempfile
    >>> lock = FlockLock(os.path.join(tempfile.mkdtemp(), "study.log"))
    >>> lock.acquire()
    True
    >>> lock.release()
    """

    def __init__(self, path: str) -> None:
        self._path = f"{path}.flock"
        self._file: Any = None

    def acquire(self) -> bool:
        import fcntl

        handle = open(self._path, "a")  # noqa: SIM115 - held until release()
        fcntl.flock(handle, fcntl.LOCK_EX)
        self._file = handle
        return True

    def release(self) -> None:
        import fcntl

        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def journal_storage(path: str, heartbeat_interval: int, grace_period: int | None = None) -> Any:
    """An Optuna journal storage on the file ``path`` (created if missing; many processes may
    share it, locking it with :class:`FlockLock`) with a heartbeat: a running trial whose
    worker has recorded no heartbeat for ``grace_period`` seconds is failed by the next worker
    that starts a batch and retried once.

    Args:
      path: the journal file (e.g. ``study.log``).
      heartbeat_interval: seconds between a worker's heartbeats.
      grace_period: seconds without a heartbeat before a trial is failed (default
        ``2 * heartbeat_interval``, as Optuna's).

    Returns:
      An ``optuna.storages.JournalStorage`` with the heartbeat.

    Examples:
      >>> import os, tempfile, optuna
      >>> path = os.path.join(tempfile.mkdtemp(), "study.log")
      >>> study = optuna.create_study(storage=journal_storage(path, heartbeat_interval=30))
      >>> study._storage.get_heartbeat_interval(), study._storage.grace_period
      (30, 60)
    """
    require_optuna()
    from optuna.storages.journal import JournalFileBackend

    _check_seconds("heartbeat_interval", heartbeat_interval)
    grace = 2 * heartbeat_interval if grace_period is None else grace_period
    _check_seconds("grace_period", grace)
    backend = JournalFileBackend(path, lock_obj=FlockLock(path))  # type: ignore[arg-type]
    return _journal_class()(backend, heartbeat_interval, grace, retry_once())


def heartbeat_interval(study: Any) -> int | None:
    """Seconds between heartbeats of ``study``'s storage; ``None`` where it has none.

    >>> import optuna
    >>> heartbeat_interval(optuna.create_study()) is None
    True
    """
    get = getattr(study._storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


def fail_stale_trials(study: Any) -> None:
    """Fail ``study``'s running trials whose heartbeat is older than the storage's grace period
    and queue their retries (``optuna.storages.fail_stale_trials``); nothing where the storage
    has no heartbeat.

    >>> import optuna
    >>> fail_stale_trials(optuna.create_study())
    """
    optuna = require_optuna()
    if heartbeat_interval(study) is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class Heartbeat:
    """Records a heartbeat of each of ``trials`` now and then every interval of ``study``'s
    storage, on a daemon thread, until :meth:`stop`; nothing where the storage has none.

    >>> import optuna
    >>> study = optuna.create_study()
    >>> beat = Heartbeat(study, [study.ask()])
    >>> beat.stop()
    """

    def __init__(self, study: Any, trials: Sequence[Any]) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        interval = heartbeat_interval(study)
        if interval is None or not trials:
            return
        storage, ids = study._storage, [trial._trial_id for trial in trials]
        self._beat(storage, ids)
        self._thread = threading.Thread(target=self._run, args=(storage, ids, interval),
                                        name="jaxdl-optuna-heartbeat", daemon=True)
        self._thread.start()

    @staticmethod
    def once(study: Any, trial: Any) -> None:
        """One heartbeat of ``trial`` (right after ``study.ask()``)."""
        if heartbeat_interval(study) is not None:
            Heartbeat._beat(study._storage, [trial._trial_id])

    @staticmethod
    def _beat(storage: Any, ids: list[int]) -> None:
        for trial_id in ids:
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 - told meanwhile (or failed by another worker)
                pass

    def _run(self, storage: Any, ids: list[int], interval: int) -> None:
        while not self._stop.wait(interval):
            self._beat(storage, ids)

    def stop(self) -> None:
        """End the heartbeats (before the trials are told)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
