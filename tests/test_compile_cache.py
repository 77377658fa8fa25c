"""The persistent compilation cache: user-only folder, switches, atomic entries, several processes
and damaged entries."""

from __future__ import annotations

import doctest
import os
import stat
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxdl.cli import build_parser
from jaxdl.infra import compile_cache

ROOT = Path(__file__).resolve().parents[1]

# A few jitted programs; prints the number of cache hits and misses of this process.
PROGRAM = """
import jax, jax.numpy as jnp
from jaxdl.infra import compile_cache
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
assert compile_cache.enable() is not None
x = jnp.ones((16, 16))
for k in range(3):
    x = jax.jit(lambda a, k=k: jnp.tanh(a @ a.T) + k)(x)
print(float(x.sum()))
hits = events.count("/jax/compilation_cache/cache_hits")
misses = events.count("/jax/compilation_cache/cache_misses")
print("hits", hits, "misses", misses)
"""


def _env(cache_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != compile_cache.ENV_DISABLE}
    env.update(XDG_CACHE_HOME=str(cache_home), PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    return env


def _run(args: list[str], cache_home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=_env(cache_home), capture_output=True, text=True,
        timeout=300, cwd=cache_home,
    )


def _counts(out: str) -> tuple[int, int]:
    words = out.split()
    return int(words[words.index("hits") + 1]), int(words[words.index("misses") + 1])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.delenv(compile_cache.ENV_DISABLE, raising=False)
    yield tmp_path / "home-cache"
    compile_cache.disable()


def test_default_folder_is_private_and_under_xdg_cache_home(cache_home):
    folder = Path(compile_cache.enable())
    assert folder == cache_home / "jaxdl" / "xla" == compile_cache.default_directory()
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0


def test_home_cache_when_xdg_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compile_cache.default_directory() == tmp_path / ".cache" / "jaxdl" / "xla"


def test_existing_folder_is_made_private_and_shared_one_refused(cache_home, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    compile_cache.enable(mine)
    assert _mode(mine) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="writable by other users"):
        compile_cache.enable(shared)


def test_environment_variable_turns_it_off(cache_home, monkeypatch):
    monkeypatch.setenv(compile_cache.ENV_DISABLE, "1")
    assert compile_cache.enable() is None
    assert compile_cache.enable_for_command(turned_off=False) is None
    assert not cache_home.exists()
    monkeypatch.setenv(compile_cache.ENV_DISABLE, "0")
    assert compile_cache.enable() is not None


def test_cli_flag_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["gradcheck"]).no_compile_cache is False
    assert parser.parse_args(["--no-compile-cache", "gradcheck"]).no_compile_cache is True
    assert parser.parse_args(["gradcheck", "--no-compile-cache"]).no_compile_cache is True
    assert compile_cache.enable_for_command(turned_off=True) is None


def test_unusable_folder_only_prints_a_note(cache_home, capsys):
    cache_home.mkdir(parents=True)
    (cache_home / "jaxdl").write_text("a file where the folder should be")
    assert compile_cache.enable_for_command(turned_off=False) is None
    assert "compile cache off" in capsys.readouterr().err


def test_atomic_file_cache_round_trip(tmp_path):
    cache = compile_cache.AtomicFileCache(tmp_path)
    assert cache.get("k") is None
    cache.put("k", b"first")
    cache.put("k", b"second")  # replaced: a damaged entry heals on the next miss
    assert cache.get("k") == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k-cache"]  # no temporary file left
    with pytest.raises(ValueError, match="key"):
        cache.put("", b"x")


def test_importing_the_library_leaves_the_cache_off(tmp_path):
    code = "import jaxdl, jax; print(jax.config.jax_compilation_cache_dir)"
    done = _run(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


@pytest.mark.slow
def test_several_processes_share_the_folder_and_a_later_one_hits(tmp_path):
    procs = [  # started together on an empty folder: they write the same entries at once
        subprocess.Popen(
            [sys.executable, "-c", PROGRAM], env=_env(tmp_path), cwd=tmp_path, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Error reading persistent compilation cache" not in err
        outs.append(out)
    later = _run(["-c", PROGRAM], tmp_path)
    assert later.returncode == 0, later.stderr
    assert "Error reading persistent compilation cache" not in later.stderr
    hits, misses = _counts(later.stdout)
    assert hits >= 3 and misses == 0
    assert {o.splitlines()[0] for o in outs} == {later.stdout.splitlines()[0]}
    assert not [p for p in (tmp_path / "jaxdl" / "xla").iterdir() if p.name.startswith(".tmp")]


@pytest.mark.slow
def test_damaged_entries_do_not_break_a_train_run_and_heal(tmp_path):
    out = tmp_path / "out"
    argv = ["-m", "jaxdl", "train", "--dataset", "moons", "--data-size", "200", "--epochs", "2",
            "--no-plots", "--out", str(out)]
    first = _run(argv, tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "jaxdl" / "xla"
    entries = sorted(folder.iterdir())
    assert entries and _mode(folder) == 0o700
    garbage = b"\x00not an executable\xff" * 7
    for entry in entries:
        entry.write_bytes(garbage)
    second = _run([*argv, "--overwrite"], tmp_path)  # the first run's --out is used
    assert second.returncode == 0, second.stderr
    assert "Error reading persistent compilation cache" in second.stderr  # JAX noticed, went on
    assert second.stdout.splitlines()[-3:] == first.stdout.splitlines()[-3:]  # same results
    assert all(e.read_bytes() != garbage for e in entries)  # rewritten after the miss


def test_docstring_examples_run(cache_home):
    result = doctest.testmod(compile_cache)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.slow
def test_bench_script_second_run_reads_everything_from_the_cache():
    sys.path.insert(0, str(ROOT / "scripts"))
    import bench_compile_cache

    report = bench_compile_cache.run("moons", epochs=1, no_cache_run=False)
    first, second = report["first"], report["second"]
    assert first["cache_misses"] > 0 and first["cache_hits"] == 0
    assert second["cache_hits"] == first["cache_misses"] and second["cache_misses"] == 0
    assert report["cache_entries"] == first["cache_misses"]
    assert report["second_over_first"] == second["compile_s"] / first["compile_s"]
    assert report["no_cache"] is None
