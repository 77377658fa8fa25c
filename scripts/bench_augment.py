"""Per-epoch cost of augmentation inside the compiled epoch: a small CNN with ``RandomFlip`` +
``RandomCrop(4)`` in front against the same CNN without them, both timed with
``jaxdl.train.run_epoch`` in the same run (interleaved, median of ``--repeats``).

    python scripts/bench_augment.py [--repeats N] [--samples M] [--json PATH]

The CNN (28x28x1 inputs, batch 128, Adam):

    Conv(8, 3x3) Relu MaxPool(2x2) Conv(16, 3x3) Relu MaxPool(2x2) Flatten Dense(10)

Target: the augmented epoch at most 10% slower (``ratio <= 1.10``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import benchlib
import jax
import numpy as np
from examples.cnn_blocks import conv_stage

from jaxdl import layers
from jaxdl.infra.atomic import write_json
from jaxdl.layers.augment import RandomCrop, RandomFlip
from jaxdl.train import Keys, Trainer, run_epoch, run_init, trainer_hyperparams

IMAGE = (28, 28, 1)
TARGET = 1.10


def cnn(*augmentation: Any) -> layers.Sequential:
    """The benchmark CNN with ``augmentation`` layers in front."""
    return layers.Sequential(
        *augmentation,
        *conv_stage(8, batch_norm=False), *conv_stage(16, batch_norm=False),
        layers.Flatten(), layers.Dense(10),
        input_shape=IMAGE,
    )


def epoch_fn(model: layers.Sequential, x: np.ndarray, y: np.ndarray, batch: int):
    """A function running one more epoch of ``model`` (blocking until it is done)."""
    trainer = Trainer(model, batch_size=batch)
    hp = trainer_hyperparams(trainer, {"learning_rate": 1e-3})
    keys = Keys.from_seed(0)
    xd, yd = jax.device_put(x), jax.device_put(y)
    box = {"ts": run_init(trainer, keys.init, hp), "epoch": 0}

    def run() -> None:
        ts, metrics = run_epoch(trainer, box["ts"], hp, xd, yd, keys, box["epoch"])
        jax.block_until_ready((ts, metrics))
        box["ts"], box["epoch"] = ts, box["epoch"] + 1

    return run


def augment_fn(x: np.ndarray, batch: int):
    """A function applying flip + crop to every batch of ``x`` in one jitted scan."""
    flip, crop = RandomFlip(0.5), RandomCrop(4)
    batches = jax.device_put(x[: len(x) // batch * batch].reshape(-1, batch, *x.shape[1:]))

    @jax.jit
    def run_all(xs, key):
        def body(carry, inputs):
            xb, k = inputs
            k_flip, k_crop = jax.random.split(k)
            xb = flip.apply({}, {}, xb, train=True, key=k_flip)[0]
            xb = crop.apply({}, {}, xb, train=True, key=k_crop)[0]
            return carry + xb.sum(), None

        return jax.lax.scan(body, 0.0, (xs, jax.random.split(key, len(xs))))[0]

    box = {"epoch": 0}

    def run() -> None:
        jax.block_until_ready(run_all(batches, jax.random.key(box["epoch"])))
        box["epoch"] += 1

    return run


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, *IMAGE), dtype=np.float32)
    y = rng.integers(0, 10, args.samples).astype(np.int32)
    epochs = {
        "plain": epoch_fn(cnn(), x, y, args.batch),
        "flip+crop": epoch_fn(cnn(RandomFlip(0.5), RandomCrop(4)), x, y, args.batch),
    }
    augment = augment_fn(x, args.batch)
    epochs["augment only"] = augment
    timings = benchlib.measure(epochs, args.repeats)
    plain, augmented = timings["plain"].median_s, timings["flip+crop"].median_s
    alone = timings["augment only"].median_s
    result = {
        "device": jax.devices()[0].device_kind,
        "samples": args.samples,
        "batch": args.batch,
        "plain_s": plain,
        "augmented_s": augmented,
        "ratio": augmented / plain,
        "ratio_of_best": min(timings["flip+crop"].epochs_s) / min(timings["plain"].epochs_s),
        "augment_only_s": alone,
        "augment_share": alone / plain,
        "target": TARGET,
    }
    print(f"{result['device']}: epoch of {args.samples} 28x28x1 images, batch {args.batch}")
    print(f"  plain CNN        {plain * 1e3:8.1f} ms")
    print(f"  flip + crop(4)   {augmented * 1e3:8.1f} ms")
    print(f"  flip + crop only {alone * 1e3:8.1f} ms  (the transforms of every batch, no model)")
    print(f"  ratio            {result['ratio']:8.3f}  (target <= {TARGET}; of the best epochs "
          f"{result['ratio_of_best']:.3f}; transforms alone {result['augment_share']:.3f})")
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
