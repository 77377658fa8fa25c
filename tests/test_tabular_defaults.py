"""The defaults of ``jaxdl train`` and ``jaxdl sweep`` on a user's table (issue 25's quality
bar, measured in docs/benchmarks.md): ``jaxdl train`` penalizes the weights with ``--l2 1``
(scikit-learn's ``C = 1``) unless told otherwise, and the default sweep space searches ``l2``
on a log scale."""

import json

import numpy as np

from jaxdl import cli
from jaxdl.sweep import LogUniform
from jaxdl.sweep.default_space import L2_RANGE, default_space

TINY = ("--dataset", "moons", "--data-size", "80", "--hidden", "4", "--epochs", "3",
        "--no-plots")


def _train(tmp_path, capsys, name, *flags):
    out = tmp_path / name
    code = cli.main(["train", *TINY, *flags, "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return json.loads((out / "history.json").read_text())


def test_train_penalizes_the_weights_with_l2_1_by_default(tmp_path, capsys):
    default = _train(tmp_path, capsys, "default")
    one = _train(tmp_path, capsys, "one", "--l2", "1")
    none = _train(tmp_path, capsys, "none", "--l2", "0")
    assert default["hyperparameters"] == {"l2": 1.0}
    # the default run is the --l2 1 run, to the bit; --l2 0 trains without the penalty
    assert default["history"]["loss"] == one["history"]["loss"]
    assert default["history"]["val_loss"] == one["history"]["val_loss"]
    assert none["hyperparameters"] == {"l2": 0.0}
    assert none["history"]["loss"] != default["history"]["loss"]


def test_the_l2_default_is_in_train_help_and_not_in_a_sweep(capsys):
    try:
        cli.main(["train", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 1.0, scikit-learn's C = 1; 0 for none)" in text
    assert cli.build_parser().parse_args(["sweep"]).l2 is None  # searched, or fixed by a flag


def test_the_default_sweep_space_searches_l2_on_a_log_scale():
    space = default_space("adam", 1000)
    assert space["l2"] == LogUniform(*L2_RANGE) == LogUniform(1e-3, 10.0)
    assert "l2" not in default_space("adam", 1000, fixed={"l2"})  # --l2 VALUE fixes it
    from jaxdl.sweep import sample

    draws = np.log10([c["l2"] for c in sample({"l2": space["l2"]}, 0, 2000)])
    assert draws.min() >= -3 - 1e-6 and draws.max() <= 1 + 1e-6
    counts, _ = np.histogram(draws, bins=4, range=(-3, 1))
    assert counts.min() > 0.8 * 500  # uniform in log10(l2)
