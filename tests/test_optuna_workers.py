"""Many workers, one Optuna study: three ``jaxdl sweep --strategy optuna`` processes share a
journal file (and, where ``.ci/run`` started one, a PostgreSQL database). One is SIGKILLed while
its batch trains: its running trials are failed by heartbeat and retried once by the workers
that go on (or by the worker restarted in its place); every trial ends finished, no finished
trial is trained twice, and every trial's value equals a single-worker run of the same trials."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip("optuna")

from jaxdl.cli import main  # noqa: E402
from jaxdl.sweep.optuna_search.heartbeat import FlockLock  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState
HEARTBEAT = 2  # seconds; a trial without a heartbeat for 2 * HEARTBEAT is failed
TRIALS = 4  # per worker, 2 per batch
ARGS = ["sweep", "--dataset", "moons", "--data-size", "300", "--strategy", "optuna",
        "--sampler", "random", "--pruner", "none", "--trials-per-batch", "2", "--epochs", "3",
        "--lr", "1e-3:1", "--no-plots", "--heartbeat", str(HEARTBEAT)]  # fmt: skip


def worker_args(storage: str, out, trials: int = TRIALS, study: str = "s") -> list[str]:
    return [*ARGS, "--configs", str(trials), "--storage", storage, "--study-name", study,
            "--out", str(out)]  # fmt: skip


def start(storage: str, out, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "JAX_NUM_CPU_DEVICES": "1"}  # a worker on one device
    return subprocess.Popen([sys.executable, "-m", "jaxdl", *worker_args(storage, out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def load(storage: str, name: str = "s"):
    if "://" in storage:
        return optuna.load_study(study_name=name, storage=storage)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(storage)))


def trials_of(study, pid: int) -> list:
    return [t for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("worker", "").endswith(f":{pid}")]  # fmt: skip


def rows(out) -> list[dict]:
    with open(out / "sweep.csv") as f:
        return list(csv.DictReader(f))


def three_workers_one_killed(tmp_path, storage: str, single: str) -> None:
    """The scenario of the module docstring; ``single`` is a second storage for the
    single-worker run."""
    procs = [start(storage, tmp_path / f"w{k}") for k in range(2)]
    # the victim's batches train long enough to be caught training (its trials never finish)
    victim = start(storage, tmp_path / "w2", "--epochs", "3000")
    procs.append(victim)
    deadline = time.monotonic() + 240
    try:
        while True:  # kill the victim once its first batch has reported an epoch
            if victim.poll() is not None:
                pytest.fail("the worker finished before it was killed:\n" + victim.stdout.read())
            try:
                running = [t for t in trials_of(load(storage), victim.pid)
                           if t.state == State.RUNNING and t.intermediate_values]  # fmt: skip
            except KeyError:  # the study is not created yet
                running = []
            if running:
                break
            assert time.monotonic() < deadline, "the victim never started a batch"
            time.sleep(0.2)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.monotonic()
        for proc in procs[:2]:
            output = proc.communicate(timeout=300)[0]
            assert proc.returncode == 0, output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    victim_trials = trials_of(load(storage), victim.pid)
    # running, or failed already by a worker that went on after the grace period
    in_flight = {t.number for t in victim_trials if t.state != State.COMPLETE}
    victim_done = [t for t in victim_trials if t.state == State.COMPLETE]
    assert len(in_flight) == 2 and not victim_done
    # the dead worker restarted: it fails what is still stale and takes what is queued
    time.sleep(max(0.0, 2 * HEARTBEAT + 0.5 - (time.monotonic() - killed)))
    assert main(worker_args(storage, tmp_path / "w3")) == 0

    study = load(storage)
    trials = study.trials
    assert all(t.state in (State.COMPLETE, State.FAIL) for t in trials), [t.state for t in trials]
    failed = {t.number for t in trials if t.state == State.FAIL}
    assert failed == in_flight  # the killed batch, failed by heartbeat, and nothing else
    retries = {t.system_attrs["failed_trial"]: t for t in trials
               if "failed_trial" in t.system_attrs}  # fmt: skip
    assert sorted(retries) == sorted(failed)  # each retried once
    for number, retry in retries.items():
        assert retry.state == State.COMPLETE
        assert retry.params == trials[number].params
    complete = [t for t in trials if t.state == State.COMPLETE]
    assert len(complete) == 3 * TRIALS + len(victim_done)
    # nothing trained twice: each worker's table has its own complete trials, once each
    pids = {k: proc.pid for k, proc in enumerate(procs[:2])} | {3: os.getpid()}
    for k, pid in pids.items():
        mine = [t for t in complete if t.user_attrs["worker"].endswith(f":{pid}")]
        assert len(rows(tmp_path / f"w{k}")) == len(mine) == TRIALS
    rates = [t.params["learning_rate"] for t in complete]
    assert len(set(rates)) == len(rates)

    # a single worker trains the same trials (enqueued in a new study) to the same values
    one = optuna.create_study(study_name="one", storage=_storage(single))
    for t in complete:
        one.enqueue_trial(t.params)
    assert main(worker_args(single, tmp_path / "single", trials=len(complete), study="one")) == 0
    alone = {t.params["learning_rate"]: t.value for t in load(single, "one").trials}
    assert len(alone) == len(complete)
    for t in complete:
        assert alone[t.params["learning_rate"]] == pytest.approx(t.value, rel=2e-5, abs=1e-6)


def _storage(storage: str):
    """``storage`` to write: a journal file locked as the workers lock it."""
    if "://" in storage:
        return storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(storage, lock_obj=FlockLock(storage)))


@pytest.mark.slow
def test_three_workers_on_a_journal_file_one_killed(tmp_path):
    three_workers_one_killed(tmp_path, str(tmp_path / "study.log"), str(tmp_path / "one.log"))


def test_three_workers_on_postgresql_one_killed(tmp_path):
    url = os.environ.get("JAXDL_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server: .ci/run starts one and sets JAXDL_TEST_POSTGRES "
                    "(see its output for why it could not)")
    pytest.importorskip("sqlalchemy")
    # the database is the tests' own (.ci/run made it): emptied first
    for summary in optuna.study.get_all_study_summaries(storage=url):
        optuna.delete_study(study_name=summary.study_name, storage=url)
    three_workers_one_killed(tmp_path, url, url)
