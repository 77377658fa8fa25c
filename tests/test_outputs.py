"""Every output directory is owned by one run: --out refused when used (unless --overwrite or
--resume of the same run), locked, never written through a symlink; output paths checked
before the first epoch; logs equal to an uninterrupted run's after kill and resume; signals end
the command with one line."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jaxdl import cli, logs, outputs
from jaxdl.infra import dirlock
from jaxdl.sweep import state

ROOT = str(Path(__file__).resolve().parents[1])
WORKER = str(Path(__file__).with_name("fault_worker.py"))
TINY = ["--data-size", "60", "--hidden", "4", "--batch-size", "16", "--no-plots"]
SWEEP = ["sweep", "--lr", "1e-3:1e-1", "--configs", "4", "--epochs", "4", "--data-size", "60",
         "--hidden", "4", "--batch-size", "16", "--no-plots"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err, code_seen, code, *words):
    lines = err.strip().splitlines()
    assert code_seen == code, err
    assert len(lines) == 1 and "error:" in lines[0], err
    for word in words:
        assert word in lines[0], (word, lines[0])


def untimed(records):
    """Log records without wall times (they differ from run to run)."""
    return [{k: v for k, v in r.items() if "time" not in k} for r in records]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


# -- 1. --out is owned ---------------------------------------------------------------------
def test_a_used_out_is_refused_before_anything_is_written(tmp_path, capsys):
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    assert run(capsys, "train", *TINY, "--epochs", "2", "--checkpoint-dir", ckpt,
               "--out", out)[0] == 0
    before = snapshot(out)
    assert len(logs.read_jsonl(out / "metrics.jsonl")) == 2
    # another fresh run into the same --out: refused, naming what is there
    code, stdout, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", out)
    one_error(err, code, 2, f"--out {out}", "history.json", "metrics.jsonl", "--overwrite")
    assert "epochs" not in stdout and snapshot(out) == before
    # a fresh run into the used checkpoint directory: refused before the log is touched
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--checkpoint-dir", ckpt,
                       "--out", tmp_path / "other")
    one_error(err, code, 2, str(ckpt), "--resume")
    assert not (tmp_path / "other" / "metrics.jsonl").exists()
    # a sweep rerun into it without --resume
    code, _, err = run(capsys, *SWEEP, "--out", out)
    one_error(err, code, 2, "metrics.jsonl")
    assert snapshot(out) == before
    # --resume of another run (another checkpoint directory) is refused too
    assert run(capsys, "train", *TINY, "--epochs", "1", "--checkpoint-dir", tmp_path / "c2",
               "--out", tmp_path / "o2")[0] == 0
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--checkpoint-dir",
                       tmp_path / "c2", "--resume", "--out", out)
    one_error(err, code, 2, "another run")
    assert snapshot(out) == before


def test_overwrite_removes_only_the_files_jaxdl_wrote(tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    (out / "notes.txt").write_text("mine")
    precious = tmp_path / "precious.png"
    precious.write_text("not a plot")
    (out / "curves.png").symlink_to(precious)  # a link where jaxdl writes a plot
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", out, "--overwrite")
    assert code == 0, err
    assert "removed" in err and "curves.png" in err
    assert (out / "notes.txt").read_text() == "mine"
    assert precious.read_text() == "not a plot" and not (out / "curves.png").exists()
    assert [r["epoch"] for r in logs.read_jsonl(out / "metrics.jsonl")] == [0, 1]
    assert sorted(os.listdir(out)) == ["history.json", "metrics.jsonl", "notes.txt"]


def test_a_second_run_into_one_out_is_refused_by_the_lock(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    held = dirlock.acquire(str(out), "--out directory")  # a live run holds it
    try:
        code, stdout, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", out)
    finally:
        dirlock.release(held)
    one_error(err, code, 2, "in use by another run", f"PID {os.getpid()}")
    assert "epochs" not in stdout
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", out)[0] == 0
    assert not (out / dirlock.LOCK).exists()  # released, and no trace of the lock left


def test_each_command_has_its_own_default_out():
    parser = cli.build_parser()
    defaults = {c: parser.parse_args([c]).out for c in ("train", "sweep", "demo")}
    assert defaults == outputs.DEFAULT_OUT
    assert len(set(defaults.values())) == 3
    assert parser.parse_args(["demo", "--overwrite"]).overwrite


def test_the_listed_demo_plots_are_the_ones_the_demo_writes():
    names = set()
    for path in Path(ROOT, "jaxdl", "demo").glob("*.py"):
        names |= set(re.findall(r'"(\d_\w+\.png)"', path.read_text()))
    assert names and names <= set(outputs.OUTPUT_FILES["demo"])


# -- 2. symlinks are not followed --------------------------------------------------------------
@pytest.mark.parametrize("where", ["checkpoint", "out"])
def test_a_symlinked_lock_is_an_error_and_its_target_is_untouched(tmp_path, capsys, where):
    folder = tmp_path / where
    folder.mkdir()
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    (folder / dirlock.LOCK).symlink_to(target)
    code, stdout, err = run(capsys, "train", *TINY, "--epochs", "1", "--out",
                            folder if where == "out" else tmp_path / "o",
                            *(["--checkpoint-dir", folder] if where == "checkpoint" else []))
    one_error(err, code, 2, str(folder / dirlock.LOCK), "symlink")
    assert target.read_text() == "keep me" and "epochs" not in stdout


def test_a_symlinked_sweep_log_is_an_error_and_its_target_is_untouched(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / state.METRICS_FILE).symlink_to(target)
    with pytest.raises(ValueError, match="symlink"):
        state.Journal(folder, {}, resume=False)
    assert target.read_text() == "keep me"


def test_an_emptied_sweep_log_is_not_padded_with_nul_bytes(tmp_path):
    journal = state.Journal(tmp_path, {"seed": "0"}, resume=False)
    journal.append([{"epoch": 0, "member": 0, "loss": 0.5}])
    journal.save({"rung": 0}, {})
    journal.close()
    (tmp_path / state.METRICS_FILE).write_bytes(b"")  # emptied by hand
    with pytest.warns(UserWarning, match="fewer than"):
        resumed = state.Journal(tmp_path, {"seed": "0"}, resume=True)
    resumed.append([{"epoch": 1, "member": 0, "loss": 0.25}])
    resumed.close()
    data = (tmp_path / state.METRICS_FILE).read_bytes()
    assert b"\0" not in data and logs.read_jsonl(tmp_path / state.METRICS_FILE) == [
        {"epoch": 1, "member": 0, "loss": 0.25}]


# -- 3. output paths checked at startup ----------------------------------------------------
@pytest.mark.parametrize("case", ["save-parent-is-a-file", "save-is-out", "ckpt-in-save",
                                  "out-is-ckpt", "save-is-data"])
def test_colliding_output_paths_are_refused_before_training(tmp_path, capsys, case):
    (tmp_path / "file").write_text("x")
    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    argv = {
        "save-parent-is-a-file": ["--save", tmp_path / "file" / "model"],
        "save-is-out": ["--save", tmp_path / "o", "--out", tmp_path / "o"],
        "ckpt-in-save": ["--save", tmp_path / "m", "--checkpoint-dir", tmp_path / "m" / "c"],
        "out-is-ckpt": ["--out", tmp_path / "c", "--checkpoint-dir", tmp_path / "c"],
        "save-is-data": ["--data", table, "--save", table],
    }[case]
    if "--out" not in argv:
        argv += ["--out", tmp_path / "out"]
    if "--data" not in argv:
        argv = [*TINY, *argv]
    code, stdout, err = run(capsys, "train", "--epochs", "1", *argv)
    words = {"save-parent-is-a-file": ["not a directory"], "save-is-out": ["--save", "--out"],
             "ckpt-in-save": ["--checkpoint-dir", "--save"],
             "out-is-ckpt": ["--out", "--checkpoint-dir"], "save-is-data": ["--data", "--save"]}
    one_error(err, code, 3 if case == "save-parent-is-a-file" else 2, *words[case])
    assert "epochs" not in stdout  # refused before any training
    assert not (tmp_path / "out" / "metrics.jsonl").exists()


# -- 4. resume ----------------------------------------------------------------------------------
def test_resume_needs_checkpoints_and_enough_epochs(tmp_path, capsys):
    code, stdout, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", tmp_path / "o",
                            "--checkpoint-dir", tmp_path / "missing", "--resume")
    one_error(err, code, 2, "does not exist", "nothing to resume")
    assert "epochs" not in stdout
    ckpt = tmp_path / "ckpt"
    assert run(capsys, "train", *TINY, "--epochs", "3", "--out", tmp_path / "o",
               "--checkpoint-dir", ckpt)[0] == 0
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", tmp_path / "o",
                       "--checkpoint-dir", ckpt, "--resume")
    one_error(err, code, 2, "already ran 3 epochs", "--epochs 2")
    code, _, err = run(capsys, *SWEEP, "--checkpoint-dir", tmp_path / "empty", "--resume",
                       "--out", tmp_path / "s")
    one_error(err, code, 2, "nothing to resume")


def _start(*argv, **env):
    env = {**os.environ, "PYTHONPATH": ROOT, **{k: str(v) for k, v in env.items()}}
    return subprocess.Popen([sys.executable, WORKER, "cli", *map(str, argv)], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(proc, marker):
    from test_faults import wait_for

    return wait_for(proc, marker)


@pytest.mark.slow
def test_train_logs_after_kill_and_resume_equal_an_uninterrupted_run(tmp_path, capsys):
    """Checkpoints every 3 epochs and a SIGKILL during epoch 5: the killed run logged epochs
    0-4, its checkpoint holds 0-2; the resumed run's logs hold every epoch once."""
    argv = ["train", *TINY, "--epochs", "7", "--checkpoint-every", "3", "--lr", "0.05"]
    tensorboard = pytest.importorskip("jaxdl.logs").tensorboard_available()
    a = tmp_path / "a"
    extra = ["--tensorboard", a / "tb"] if tensorboard else []
    proc = _start(*argv, "--out", a, "--checkpoint-dir", a / "c", *extra, FAULT_EPOCH_SLEEP=0.4)
    _wait_for(proc, "EPOCH 5")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert len(logs.read_jsonl(a / "metrics.jsonl")) == 5  # epochs 0-4; checkpoint: 0-2
    assert run(capsys, *argv, "--out", a, "--checkpoint-dir", a / "c", *extra,
               "--resume")[0] == 0
    b = tmp_path / "b"
    assert run(capsys, *argv, "--out", b, *(["--tensorboard", b / "tb"] if extra else []))[0] == 0
    resumed, straight = logs.read_jsonl(a / "metrics.jsonl"), logs.read_jsonl(b / "metrics.jsonl")
    assert [r["epoch"] for r in resumed] == list(range(7))
    assert untimed(resumed) == untimed(straight)
    if extra:
        for name in ("train", "validation"):
            got, want = logs.read_scalars(a / "tb" / name), logs.read_scalars(b / "tb" / name)
            assert got and {k: v for k, v in got.items() if "time" not in k} == {
                k: v for k, v in want.items() if "time" not in k}


@pytest.mark.slow
def test_sweep_logs_after_a_crash_and_resume_equal_an_uninterrupted_run(tmp_path, capsys,
                                                                          monkeypatch):
    """A crash after a chunk's lines are logged but before its snapshot is saved: the resumed
    sweep's metrics.jsonl holds each (epoch, member) once, as an uninterrupted sweep's."""
    argv = [*SWEEP, "--strategy", "halving", "--min-epochs", "1"]
    assert run(capsys, *argv, "--out", tmp_path / "b")[0] == 0
    original, calls = state.Journal.save, []

    def crash(journal, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated crash before the snapshot")
        return original(journal, *args, **kwargs)

    monkeypatch.setattr(state.Journal, "save", crash)
    assert run(capsys, *argv, "--out", tmp_path / "a", "--checkpoint-dir", tmp_path / "c")[0] == 1
    monkeypatch.setattr(state.Journal, "save", original)
    assert run(capsys, *argv, "--out", tmp_path / "a", "--checkpoint-dir", tmp_path / "c",
               "--resume")[0] == 0
    resumed = logs.read_jsonl(tmp_path / "a" / "metrics.jsonl")
    keys = [(r["epoch"], r["member"]) for r in resumed]
    assert len(keys) == len(set(keys))
    assert untimed(resumed) == untimed(logs.read_jsonl(tmp_path / "b" / "metrics.jsonl"))


# -- 5. signals -------------------------------------------------------------------------------
def test_sigterm_on_a_sweep_is_deferred_and_says_what_was_saved(tmp_path, capsys, monkeypatch):
    original, calls = state.Journal.append, []

    def append(journal, lines):  # SIGTERM arrives during the second chunk
        original(journal, lines)
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(state.Journal, "append", append)
    argv = [*SWEEP, "--out", tmp_path / "out", "--checkpoint-dir", tmp_path / "c"]
    code, _, err = run(capsys, *argv)
    assert code == 130, err
    assert "SIGTERM: stopping after the current chunk" in err
    assert f"saved in {tmp_path / 'c'}" in err and "nothing saved" not in err
    assert "Traceback" not in err
    monkeypatch.setattr(state.Journal, "append", original)
    assert run(capsys, *argv, "--resume")[0] == 0


def test_ctrl_c_while_jax_loads_is_one_line_and_exit_130(tmp_path):
    """SIGINT as soon as ``import jaxdl`` has imported jaxdl.infra.interrupt, while JAX still loads
    (``-X importtime`` prints each import as it completes)."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "jaxdl", "train", "--epochs", "1",
         "--data-size", "60", "--out", tmp_path / "o"],
        env={**os.environ, "PYTHONPATH": ROOT}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    seen = []
    for line in proc.stderr:
        seen.append(line.split("|")[-1].strip())
        if seen[-1] == "jaxdl.infra.interrupt":
            break
    else:
        proc.kill()
        raise AssertionError(f"jaxdl.infra.interrupt was never imported: {seen[-5:]}")
    assert "jax" not in seen, "JAX loaded before the handler was installed"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert lines == ["jaxdl: interrupted by SIGINT while starting; nothing saved"], err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once_with_one_line(tmp_path):
    ckpt = tmp_path / "c"
    proc = _start("train", *TINY, "--epochs", "6", "--out", tmp_path / "o", "--checkpoint-dir",
                  ckpt, FAULT_EPOCH_SLEEP=3)
    _wait_for(proc, "EPOCH 1")
    proc.send_signal(signal.SIGINT)
    import time

    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"jaxdl: second SIGINT: stopped at once; what was saved in {ckpt} stays (--resume "
        "continues from it)"], err


def test_used_tensorboard_files_count_as_outputs(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    tb = tmp_path / "tb"
    assert run(capsys, "train", *TINY, "--epochs", "2", "--out", tmp_path / "a",
               "--tensorboard", tb)[0] == 0
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", tmp_path / "b",
                       "--tensorboard", tb)
    one_error(err, code, 2, f"TensorBoard files in {tb}")
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", tmp_path / "b",
               "--tensorboard", tb, "--overwrite")[0] == 0
    assert [step for step, _ in logs.read_scalars(tb / "train")["loss"]] == [0]


def test_a_checkpoint_directory_in_use_is_refused_before_anything_is_written(tmp_path, capsys):
    ckpt = tmp_path / "c"
    ckpt.mkdir()
    held = dirlock.acquire(str(ckpt), "checkpoint directory")  # a live run trains there
    try:
        code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", tmp_path / "o",
                           "--checkpoint-dir", ckpt)
    finally:
        dirlock.release(held)
    one_error(err, code, 2, "in use by another run")
    assert not (ckpt / outputs.RUN_FILE).exists() and not (tmp_path / "o").exists()


def test_the_demo_refuses_an_out_holding_its_results(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    code, stdout, err = run(capsys, "demo", "--quick", "--only", "1", "--out", tmp_path)
    one_error(err, code, 2, "results.json", "--overwrite")
    assert stdout == "" and (tmp_path / "results.json").read_text() == "{}"
