"""The README's demo table is generated from a demo run (scripts/readme_table.py) and matches
the stored results of the latest full run."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))

import readme_table  # noqa: E402

RESULTS = {
    "quick": False, "seed": 0, "seconds": 12.3, "backend": "cpu", "cpu_count": 2,
    "experiments": [{
        "number": 1, "name": "initialization", "seconds": 1.0,
        "runs": [{"run": "he", "train_accuracy": 1.0, "test_accuracy": 0.9, "cost": 0.01,
                  "note": "first-epoch cost 0.7", "loss": [0.7, 0.01]}],
        "findings": [{"claim": "He is best", "holds": True},
                     {"claim": "zeros at chance", "holds": False}],
    }],
}


def test_block_shows_the_table_timing_and_verdict():
    text = readme_table.block(readme_table.trim(RESULTS))
    assert text.startswith("### What `jaxdl demo` printed (seed 0, cpu, 2 CPU cores, 12 s)")
    assert " 1  initialization  he " in text and "[NO ] 1 zeros at chance" in text
    assert "1 of 2 expected findings held" in text
    assert "loss" not in readme_table.trim(RESULTS)["experiments"][0]["runs"][0]


def test_replace_touches_only_the_marked_region():
    readme = f"intro\n{readme_table.START}\nold\n{readme_table.END}\noutro\n"
    new = readme_table.replace(readme, "new\n")
    assert new == f"intro\n{readme_table.START}\nnew\n{readme_table.END}\noutro\n"
    with pytest.raises(ValueError, match="no"):
        readme_table.replace("no markers", "x")


def test_readme_matches_the_stored_demo_results():
    assert readme_table.main(["--check"]) == 0
