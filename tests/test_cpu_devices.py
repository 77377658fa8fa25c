"""``jaxdl.infra.devices.cpu_device_per_core``: before JAX starts it gives JAX one CPU device per
core (what ``jaxdl sweep`` does, so each core trains its own members), keeps a count the user chose,
and changes nothing once JAX runs; ``jaxdl train`` does not ask for it."""

import os
import subprocess
import sys

import pytest

from jaxdl import cli

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
PROBE = ("import jax; from jaxdl import devices; "
         "print(devices.cpu_device_per_core(), jax.device_count('cpu'))")


def child(args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    done = subprocess.run([sys.executable, *args], env={**base, "JAX_PLATFORMS": "cpu", **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_one_device_per_core_before_jax_starts():
    assert child(["-c", PROBE]).split() == [str(CORES), str(CORES)]


@pytest.mark.parametrize("env", [{"JAX_NUM_CPU_DEVICES": "3"},
                                 {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}])
def test_a_count_the_user_chose_is_kept(env):
    assert child(["-c", PROBE], **env).split() == ["None", "3"]


def test_nothing_changes_once_jax_runs():
    probe = "import jax; jax.devices(); " + PROBE.split("; ", 1)[1]
    assert child(["-c", probe]).split() == ["None", "1"]


@pytest.mark.skipif(CORES < 2, reason="one core: one device either way")
def test_the_sweep_command_splits_configs_over_the_cores(tmp_path):
    tiny = ["--data-size", "60", "--hidden", "4", "--batch-size", "16", "--epochs", "1",
            "--no-compile-cache", "--no-plots"]
    sweep = child(["-m", "jaxdl.cli", "sweep", *tiny, "--lr", "1e-3:0.3", "--configs", "4",
                   "--out", str(tmp_path)])
    assert f"configs split over {CORES}" in sweep.splitlines()[0]


def test_train_and_sweep_ask_for_them_and_the_other_commands_do_not(monkeypatch, tmp_path):
    """``sweep`` spreads its members over the cores; ``train`` then chooses per model whether
    a mini-batch splits over them (``parallel.cpu_split``); ``predict`` keeps JAX's count."""
    calls = []
    monkeypatch.setattr(cli.devices, "cpu_device_per_core", lambda: calls.append(1))
    assert cli.main(["train", "--resume"]) == 2  # fails on its input, after the device choice
    assert calls == [1]
    assert cli.main(["sweep", "--resume"]) == 2
    assert calls == [1, 1]
    missing = str(tmp_path / "no-model")
    assert cli.main(["predict", "--model", missing, "--data", missing]) == 2
    assert calls == [1, 1]
