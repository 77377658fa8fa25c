"""scripts/examples/digits_cnn.py --quick: the CNN beats the built-in MLP on the digits test
split (both swept over the same configs and refit with fit on the same data)."""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "examples"))

import digits_cnn  # noqa: E402


@pytest.mark.slow
def test_quick_cnn_beats_the_mlp(tmp_path, capsys):
    out = tmp_path / "digits.json"
    digits_cnn.main(["--quick", "--json", str(out)])
    result = json.loads(out.read_text())
    cnn, mlp = result["cnn"]["test_accuracy"], result["mlp"]["test_accuracy"]
    assert cnn > mlp and cnn > 0.97, (cnn, mlp)
    assert len(result["cnn"]["sweep"]) == len(digits_cnn.configs(quick=True)) == 2
    assert result["cnn"]["epochs"] >= 1 and result["num_test"] == 359
    assert "cnn: test accuracy" in capsys.readouterr().out
