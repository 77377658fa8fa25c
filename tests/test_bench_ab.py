"""scripts/bench_ab.py on a minute workload against this very commit: both trees run, and each
printed ratio is the quotient of the two medians printed beside it. No timing is checked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_bench_ab_prints_ratios_of_its_medians():
    done = subprocess.run(
        [sys.executable, "scripts/bench_ab.py", "--base", "HEAD", "--rounds", "1", "--repeats", "1",
         "--tiny"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("base HEAD, 1 rounds")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"jaxdl_scan", "jaxdl_scan_cpu", "jaxdl_loop", "jaxdl_loop_cpu"}
    for cells in rows.values():
        head, base, ratio = map(float, cells[1:4])
        assert head > 0 and base > 0
        assert ratio == pytest.approx(head / base, rel=5e-3)
