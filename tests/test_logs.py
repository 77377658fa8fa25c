"""Per-epoch logs: metrics.jsonl, TensorBoard event files read back, the fit callback hook."""

import glob
import os
import sys

import numpy as np
import pytest

from jaxdl import MLP, Trainer, fit, logs
from jaxdl.data.datasets import load

DATA = load("moons", n=60, seed=0)


def _fit(**kwargs):
    trainer = Trainer(MLP((2, 4, 1)), batch_size=16)
    return fit(trainer, DATA.x_train, DATA.y_train, validation=(DATA.x_val, DATA.y_val),
               hp={"learning_rate": 0.05}, epochs=3, **kwargs)


def test_jsonl_has_one_flushed_line_per_epoch(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines_seen = []

    def callback(epoch, history):
        # flushed before the callback runs: the file already holds this epoch
        lines_seen.append(len(logs.read_jsonl(path)))
        assert history["epoch"][-1] == epoch

    logger = logs.JsonlLogger(path)
    result = _fit(logger=logger, callbacks=[callback])
    logger.close()
    records = logs.read_jsonl(path)
    assert lines_seen == [1, 2, 3]
    assert [r["epoch"] for r in records] == [0, 1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert [r[key] for r in records] == pytest.approx(result.history[key])
    assert "member" not in records[0]


def test_bad_logger_and_callbacks_are_rejected():
    with pytest.raises(TypeError, match="logger must have log_epoch"):
        _fit(logger=object())
    with pytest.raises(TypeError, match="callbacks must be callables"):
        _fit(callbacks=[1])


def test_tensorboard_scalars_read_back(tmp_path):
    pytest.importorskip("tensorboardX")
    logger = logs.TensorBoardLogger(tmp_path / "tb")
    result = _fit(logger=logger)
    logger.close()
    assert sorted(os.listdir(tmp_path / "tb")) == ["train", "validation"]
    runs = {run: logs.read_scalars(tmp_path / "tb" / run) for run in ("train", "validation")}
    for run, tag, key in [("train", "loss", "loss"), ("train", "accuracy", "accuracy"),
                          ("train", "learning_rate", "learning_rate"),
                          ("validation", "loss", "val_loss"),
                          ("validation", "accuracy", "val_accuracy")]:
        steps, values = zip(*runs[run][tag])
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, result.history[key], rtol=1e-6)
    # the same tags in both runs (TensorBoard overlays them), no val_ tag anywhere
    assert {"loss", "accuracy"} <= set(runs["train"]) & set(runs["validation"])
    assert not any(tag.startswith("val_") for tags in runs.values() for tag in tags)


def test_sweep_logs_every_member_and_its_hparams(tmp_path):
    pytest.importorskip("tensorboardX")
    from jaxdl.sweep import run_sweep

    jsonl = logs.JsonlLogger(tmp_path / "metrics.jsonl")
    board = logs.TensorBoardLogger(tmp_path / "tb")
    configs = [{"learning_rate": 0.01}, {"learning_rate": 0.1}]
    results = run_sweep(configs, DATA, trainer=Trainer(MLP((2, 4, 1)), batch_size=16),
                        epochs=2, logger=logs.Loggers([jsonl, board]))
    jsonl.close()
    board.close()
    records = logs.read_jsonl(tmp_path / "metrics.jsonl")
    assert sorted((r["member"], r["epoch"]) for r in records) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for r in records:
        history = results.histories[r["member"]]
        assert r["val_loss"] == pytest.approx(history["val_loss"][r["epoch"]])
    for member in (0, 1):
        run = tmp_path / "tb" / f"member-{member:03d}"
        assert [s for s, _ in logs.read_scalars(run / "validation")["loss"]] == [0, 1]
        assert [s for s, _ in logs.read_scalars(run / "train")["loss"]] == [0, 1]
        scalars = logs.read_scalars(run)
        assert scalars["hparam/val_loss"][0][1] == pytest.approx(results.row(member)["val_loss"])
        # the hparams plugin's session records name the hyperparameters
        blob = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(run, "events*")))
        assert b"learning_rate" in blob and b"hparams" in blob


def test_without_tensorboardx_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX fails
    assert not logs.tensorboard_available()
    with pytest.raises(ImportError, match=r"pip install .*jaxdl\[tensorboard\]"):
        logs.TensorBoardLogger("unused")


class _Recorder:
    def __init__(self):
        self.epochs, self.hparams = [], {}

    def log_epoch(self, epoch, values, member=None):
        self.epochs.append((member, epoch, values["val_loss"]))

    def log_hparams(self, member, hparams, metrics):
        self.hparams[member] = (hparams, metrics)

    def close(self):
        pass


@pytest.mark.parametrize("strategy, options", [
    ("hyperband", {"eta": 2}),
    ("tpe", {"n": 2, "rounds": 2}),
    ("pbt", {"n": 3, "interval": 1}),
])
def test_every_search_strategy_logs_members_as_its_results_number_them(strategy, options):
    from jaxdl.sweep import LogUniform
    from jaxdl.sweep.strategies import search

    log = _Recorder()
    results = search({"learning_rate": LogUniform(1e-3, 0.3)}, DATA,
                     trainer=Trainer(MLP((2, 4, 1)), batch_size=16), strategy=strategy,
                     epochs=2, logger=log, **options)
    assert len(set((m, e) for m, e, _ in log.epochs)) == len(log.epochs)  # no member twice
    assert sorted(log.hparams) == list(range(len(results.configs)))
    if strategy == "pbt":  # a slot's final history is its lineage's; the log, what it trained
        assert sorted((m, e) for m, e, _ in log.epochs) == [(m, e) for m in range(3)
                                                            for e in range(2)]
        return
    for member, epoch, val_loss in log.epochs:
        history = results.histories[member]
        assert val_loss == pytest.approx(history["val_loss"][history["epoch"].index(epoch)])


def test_a_resumed_jsonl_log_is_cut_back_to_the_epoch_it_continues(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = logs.JsonlLogger(path)
    for epoch in range(5):  # a run killed after logging epochs 0-4, checkpointed at 2
        log.log_epoch(epoch, {"loss": 1.0 / (epoch + 1)})
    log.close()
    with open(path, "a") as f:
        f.write('{"epoch": 5, "lo')  # torn by the kill
    log = logs.JsonlLogger(path, append=True)
    for epoch in range(3, 6):
        log.log_epoch(epoch, {"loss": 1.0 / (epoch + 1)})
    log.close()
    assert logs.read_jsonl(path) == [{"epoch": e, "loss": 1.0 / (e + 1)} for e in range(6)]
    log = logs.JsonlLogger(path, append=True)  # sweep lines: cut at the same (epoch, member)
    log.log_epoch(0, {"loss": 9.0}, member=1)  # no such line: everything is kept
    log.close()
    assert len(logs.read_jsonl(path)) == 7


def test_a_symlinked_jsonl_log_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    (tmp_path / "metrics.jsonl").symlink_to(target)
    for append in (False, True):
        with pytest.raises(ValueError, match="metrics.jsonl.*symlink"):
            logs.JsonlLogger(tmp_path / "metrics.jsonl", append=append)
    assert target.read_text() == "keep me"


def test_a_resumed_tensorboard_run_holds_each_step_once(tmp_path):
    pytest.importorskip("tensorboardX")
    for member in (None, 2):
        log = logs.TensorBoardLogger(tmp_path)
        for epoch in range(5):
            log.log_epoch(epoch, {"loss": float(epoch)}, member=member)
        log.close()
    run = tmp_path / "member-002" / "train"
    (events,) = glob.glob(os.path.join(run, "events*"))
    with open(events, "ab") as f:
        f.write(b"\x10\x00\x00")  # a torn record
    log = logs.TensorBoardLogger(tmp_path)  # resumed from epoch 2's checkpoint
    for epoch in range(3, 6):
        log.log_epoch(epoch, {"loss": 10.0 + epoch}, member=2)
    log.close()
    want = [(e, float(e)) for e in range(3)] + [(e, 10.0 + e) for e in range(3, 6)]
    assert logs.read_scalars(run) == {"loss": want}
    assert logs.read_scalars(tmp_path / "train") == {
        "loss": [(e, float(e)) for e in range(5)]}
