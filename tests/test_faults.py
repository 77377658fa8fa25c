"""Fault injection in real processes: SIGKILL mid-epoch and mid-write, two writers, SIGINT and
SIGTERM, a corrupt newest checkpoint, a file-size limit. Every resume is bit-exact.

The kill moments are random; the seed is in every failure message (set FAULT_SEED to replay).
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import fault_worker
import numpy as np
import pytest

from jaxdl import checkpoint
from jaxdl.history import without_timing

WORKER = str(Path(__file__).with_name("fault_worker.py"))
ROOT = str(Path(__file__).resolve().parents[1])
SEED = int(os.environ.get("FAULT_SEED", time.time_ns() % 2**32))
RNG = np.random.default_rng(SEED)


def start(*args, **env):
    env = {**os.environ, "PYTHONPATH": ROOT, **{k: str(v) for k, v in env.items()}}
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(proc, marker, timeout=180):
    """Read ``proc``'s stdout until a line starts with ``marker``; returns that line. A failure
    says whether the process exited (and how) or timed out, and every line it printed.

    Reads the pipe's raw file descriptor: a buffered ``readline`` may pull several lines into
    Python's buffer at once, where ``select`` (which watches the descriptor) no longer sees
    them, so a marker that arrived together with the line before it would be missed.
    """
    fd, start_time, pending, seen = proc.stdout.fileno(), time.monotonic(), b"", []
    while time.monotonic() < start_time + timeout:
        *lines, pending = pending.split(b"\n")  # complete lines, then the partial one
        for line in map(bytes.decode, lines):
            if line.startswith(marker):
                return line.strip()
            seen.append(line)
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:  # end of output: the process has exited
                break
            pending += chunk
    exited = proc.poll()
    proc.kill()
    stdout, stderr = proc.communicate()
    raise AssertionError(
        f"no {marker!r} (seed {SEED}) after {time.monotonic() - start_time:.0f} s; "
        f"{'exit code ' + str(exited) if exited is not None else 'still running, killed'}; "
        f"stdout {chr(10).join(seen) + pending.decode() + stdout!r}; stderr {stderr[-3000:]!r}"
    )


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def newest_epoch(directory):
    return checkpoint.epoch_of(checkpoint.list_checkpoints(directory)[-1])


def test_wait_for_sees_a_marker_that_arrives_with_the_line_before():
    """Both lines in one write, then silence: a buffered readline would swallow the marker."""
    code = "import sys, time; sys.stdout.write('EPOCH 3\\nWRITING\\n'); sys.stdout.flush(); " \
           "time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert wait_for(proc, "WRITING", timeout=20) == "WRITING"
    finally:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run, in this process."""
    return [np.asarray(v) for v in fault_worker._leaves(fault_worker.run())]


@pytest.mark.slow
def test_kills_interrupts_two_writers_and_corruption_resume_bit_exact(tmp_path, reference):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.npz"
    # 1. A hangs halfway through writing checkpoint 3 while holding the directory.
    a = start(ckpt, out, FAULT_HANG_WRITE=3)
    wait_for(a, "WRITING")
    # 2. A second writer is refused, naming the owner.
    b = start(ckpt, out)
    _, err = b.communicate(timeout=180)
    assert b.returncode == 1 and f"in use by another run (PID {a.pid} on" in err, err
    # 3. SIGKILL during the checkpoint write: a half-written temporary file is left behind.
    kill(a)
    (stale,) = ckpt.glob(".tmp-*ckpt-000003.npz")
    assert newest_epoch(ckpt) == 2
    # 4. SIGKILL at a random moment inside the epochs after the resume.
    c = start(ckpt, out, FAULT_EPOCH_SLEEP=0.2)
    wait_for(c, "EPOCH 3")
    time.sleep(RNG.uniform(0.0, 0.5))
    kill(c)
    assert not stale.exists(), "stale temporary file not removed"
    for path in checkpoint.list_checkpoints(str(ckpt)):
        checkpoint.read(path)  # every file left is intact
    # 5. SIGTERM: the epoch finishes, is checkpointed, and the process exits 130.
    d = start(ckpt, out, FAULT_EPOCH_SLEEP=0.3)
    line = wait_for(d, "EPOCH")
    d.send_signal(signal.SIGTERM)
    stdout, err = d.communicate(timeout=120)
    assert d.returncode == 130, (SEED, stdout, err)
    assert "Traceback" not in err, err
    (reported,) = re.findall(r"^INTERRUPTED (\d+) ", stdout, re.M)
    # the epoch running when the signal arrived (a later one only if the signal was delivered
    # after that epoch ended, as on a loaded machine) finishes and is the newest checkpoint
    assert int(reported) >= int(line.split()[1]), (line, stdout)
    assert newest_epoch(ckpt) == int(reported)
    # 6. The newest checkpoint is corrupted; the resume falls back and says so.
    newest = checkpoint.list_checkpoints(str(ckpt))[-1]
    with open(newest, "r+b") as f:
        f.seek(os.path.getsize(newest) // 2)
        f.write(b"\x00\xff" * 4)
    e = start(ckpt, out)
    _, err = e.communicate(timeout=180)
    assert e.returncode == 0, err
    assert "CheckpointWarning" in err and os.path.basename(newest) in err
    with np.load(out) as done:
        resumed = [done[f"leaf_{i}"] for i in range(len(done.files))]
    assert len(resumed) == len(reference)
    for got, want in zip(resumed, reference):
        np.testing.assert_array_equal(got, want, err_msg=f"seed {SEED}")


@pytest.mark.slow
def test_cli_interrupt_exits_130_with_a_resume_hint(tmp_path):
    argv = ["train", "--data-size", "60", "--hidden", "4", "--batch-size", "16", "--epochs", "6",
            "--no-plots", "--out", str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path / "c")]
    proc = start("cli", *argv, FAULT_EPOCH_SLEEP=0.3)
    line = wait_for(proc, "EPOCH")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    epoch = int(re.match(r"jaxdl: interrupted by SIGINT after epoch (\d+);", lines[0])[1])
    assert epoch >= int(line.split()[1]), (line, lines)  # the running epoch, or a later one
    assert lines[0] == (
        f"jaxdl: interrupted by SIGINT after epoch {epoch}; checkpoint "
        f"{tmp_path / 'c' / f'ckpt-{epoch:06d}.npz'} written; rerun the same command with "
        "--resume to continue"
    )
    # The resumed run ends exactly where an uninterrupted one does.
    from jaxdl import cli

    assert cli.main([*argv, "--resume"]) == 0
    resumed = json.loads((tmp_path / "out" / "history.json").read_text())
    argv[argv.index("--out") + 1] = str(tmp_path / "straight")
    argv[argv.index("--checkpoint-dir") + 1] = str(tmp_path / "c2")
    assert cli.main(argv) == 0
    straight = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert without_timing(resumed["history"]) == without_timing(straight["history"])


def test_a_full_disk_is_found_before_training(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, no root needed) makes every write past 16 KiB fail the
    way a full disk does; the output directory's probe catches it before any training."""

    out = tmp_path / "out"
    command = f"ulimit -f 16 && exec {sys.executable} -m jaxdl.cli train --epochs 1 --out {out}"
    done = subprocess.run(["bash", "-c", command], env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == f"jaxdl: error: cannot write to {out}: File too large"
    assert "epochs" not in done.stdout and not any(out.iterdir())


def test_deferred_records_the_first_signal_and_a_second_interrupts_at_once():
    from jaxdl.infra.interrupt import Deferred

    before = signal.getsignal(signal.SIGTERM)
    with Deferred() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert stop.requested == "SIGTERM"
        with pytest.raises(KeyboardInterrupt, match="second SIGINT"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) is before


def test_cli_sweep_interrupted_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    from jaxdl import cli
    from jaxdl.sweep import strategies

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(strategies, "search", interrupted)
    code = cli.main(["sweep", "--lr", "1e-3:1e-1", "--data-size", "40", "--no-plots", "--out",
                     str(tmp_path)])
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines() == ["jaxdl: interrupted; nothing saved"]
