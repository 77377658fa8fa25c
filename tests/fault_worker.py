"""A training process for tests/test_faults.py to kill, interrupt and corrupt.

    python tests/fault_worker.py CHECKPOINT_DIR OUT.npz
    python tests/fault_worker.py cli ARGS...        # jaxdl's main with the same hooks

Always resumes (a fresh directory simply starts at epoch 0). Environment hooks:
``FAULT_EPOCH_SLEEP`` (seconds each epoch takes longer, so a kill lands inside an epoch) and
``FAULT_HANG_WRITE`` (the epoch whose checkpoint write stops halfway, before the rename, and
hangs). It prints ``EPOCH e`` as each epoch starts and ``WRITING`` when a write hangs.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from jaxdl.checkpoint import file_format
from jaxdl.nn import MLP
from jaxdl.train import Trainer, TrainingInterrupted, fit, fitting

TRAINER = Trainer(MLP((4, 12, 2), batch_norm=True, dropout=True), optimizer="adam", batch_size=32)
HP = {"learning_rate": 0.01, "keep_prob": 0.9, "l2": 0.01}
EPOCHS = 10


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int32)


def run(checkpoint_dir: str | None = None, **kwargs):
    x, y = data()
    return fit(TRAINER, x, y, validation=(x[:50], y[:50]), hp=HP, epochs=EPOCHS, seed=1,
               checkpoint_dir=checkpoint_dir, progress=False, **kwargs)


def _install_hooks() -> None:
    sleep = float(os.environ.get("FAULT_EPOCH_SLEEP", "0"))
    hang = int(os.environ.get("FAULT_HANG_WRITE", "-1"))
    run_epoch, atomic_write = fitting.run_epoch, file_format.atomic_write

    def slow_epoch(trainer, ts, hp, x, y, keys, epoch):
        print(f"EPOCH {epoch}", flush=True)
        out = run_epoch(trainer, ts, hp, x, y, keys, epoch)
        time.sleep(sleep)
        return out

    def hanging_write(path, write, mode="w"):
        if not path.endswith(f"ckpt-{hang:06d}.npz"):
            return atomic_write(path, write, mode)

        def half(f):
            write(f)
            f.truncate(f.tell() // 2)
            f.flush()
            print("WRITING", flush=True)
            time.sleep(600)

        return atomic_write(path, half, mode)

    fitting.run_epoch, file_format.atomic_write = slow_epoch, hanging_write


def main(checkpoint_dir: str, out: str) -> int:
    _install_hooks()
    try:
        result = run(checkpoint_dir, resume=True)
    except TrainingInterrupted as err:
        print(f"INTERRUPTED {err.epoch} {err.checkpoint}", flush=True)
        return 130
    leaves = {f"leaf_{i}": np.asarray(v) for i, v in enumerate(_leaves(result))}
    np.savez(out, **leaves)
    return 0


def _leaves(result) -> list:
    import jax

    return jax.tree.leaves((result.params, result.model_state, result.opt_state)) + [
        np.asarray(result.history["loss"]), np.asarray(result.history["val_loss"])
    ]


if __name__ == "__main__":
    if sys.argv[1] == "cli":
        from jaxdl import cli

        _install_hooks()
        sys.exit(cli.main(sys.argv[2:]))
    sys.exit(main(*sys.argv[1:]))
