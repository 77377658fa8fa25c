"""The course's recipe on Fashion-MNIST or CIFAR-10 (or MNIST), from download to test accuracy.

He initialization, batch norm, dropout and augmentation, Adam with learning-rate decay, early
stopping, and a vmapped sweep of the learning rate:

    python scripts/examples/image_recipe.py [--dataset fashion_mnist|cifar10|mnist]
                                            [--model recipe|lenet5|small_vgg] [--no-augment]
                                            [--quick] [--n N] [--epochs E] [--seed S]
                                            [--json PATH]

1. ``jaxdl.data.load(name)`` downloads the data set once into the cache
   (``~/.cache/jaxdl/datasets``, or ``$JAXDL_DATA_DIR``), checks its SHA-256 sums and returns
   ``uint8`` NHWC images with the published test split; 10% of the training images (stratified)
   are held out for validation. ``--n`` keeps a seeded random subset of the training images.
2. The pixels stay ``uint8`` (on the device too): the model is wrapped in
   ``jaxdl.layers.Standardized`` with the training split's per-channel statistics
   (``data.stats``), so each mini-batch becomes float32 ``x' = (x - mu_c) / sigma_c`` inside the
   compiled epoch, and the statistics travel with the model.
3. The CNN: augmentation (training only: a random horizontal flip, except for MNIST, whose
   mirrored digits are other symbols, and a random crop after padding by 1/8 of the width), then

       (Conv(f, 3x3) BatchNorm Relu) x 2  MaxPool(2x2)        f = 32   (quick: 8)
       (Conv(2f, 3x3) BatchNorm Relu) x 2 MaxPool(2x2)
       Flatten Dropout Dense(128) Relu Dropout Dense(10)

   He initialization (``initializer="he"``, the default) everywhere; the convolutions before
   a batch norm have no bias (its ``beta`` takes that place). ``--model lenet5`` or
   ``small_vgg`` trains that preset of :mod:`jaxdl.layers.presets` instead (no dropout
   layers), ``--no-augment`` leaves the augmentation out.
4. One vmapped ``jaxdl.sweep.run_sweep`` trains the CNN for each learning rate (Adam,
   exponential decay ``lr0 * decay_rate ** epoch``, keep_prob 0.7), with early stopping on the
   validation accuracy (each member keeps its best epoch's parameters). The learning rate with
   the best validation accuracy is chosen and its network is measured once on the test split.

``--quick`` uses a smaller CNN, two learning rates, a few epochs and (without ``--n``) 2000
training images: a check that everything runs (the tests run it on small files in the
data sets' own formats, served from 127.0.0.1), not a figure to compare.

Published reference accuracies for these data sets are in ``docs/topics/images.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from cnn_blocks import conv_stage

import jaxdl
from jaxdl import layers
from jaxdl.infra.atomic import write_json
from jaxdl.layers import presets
from jaxdl.layers.augment import RandomCrop, RandomFlip
from jaxdl.sweep import run_sweep

#: Shared hyperparameters: dropout's keep probability and the per-epoch decay of the rate.
SHARED = {"keep_prob": 0.7, "decay_rate": 0.95}


def augmentation(dataset: str, input_shape: Sequence[int]) -> list[Any]:
    """Flip (not for MNIST's digits) and a crop after padding by 1/8 of the image width (4
    pixels of CIFAR's 32, 3 of MNIST's 28)."""
    crop = RandomCrop(max(1, input_shape[1] // 8))
    return [crop] if dataset == "mnist" else [RandomFlip(0.5), crop]


def cnn(input_shape: Sequence[int], outputs: int, filters: int = 32) -> layers.Sequential:
    """Two conv blocks with batch norm, dropout before each dense layer (see the module
    docstring)."""
    blocks = [*conv_stage(filters, convs=2), *conv_stage(2 * filters, convs=2)]
    return layers.Sequential(
        *blocks, layers.Flatten(), layers.Dropout(),
        layers.Dense(128, initializer="he"), layers.Relu(), layers.Dropout(),
        layers.Dense(outputs, initializer="he"),
        input_shape=tuple(input_shape),
    )


def build(dataset: str, model: str, augment: bool, input_shape: Sequence[int], outputs: int,
          quick: bool = False) -> layers.Sequential:
    """The network ``model`` (``"recipe"``: :func:`cnn`; else a preset) with the data set's
    augmentation in front when ``augment``."""
    if model == "recipe":
        body = cnn(input_shape, outputs, filters=8 if quick else 32)
    else:
        body = presets.preset(model, input_shape, outputs)
    front = augmentation(dataset, input_shape) if augment else []
    return layers.Sequential(*front, *body.layers, input_shape=tuple(input_shape))


def accuracy(model: Any, params: Any, state: Any, x: np.ndarray, y: np.ndarray,
             batch: int = 1000) -> float:
    """Share of ``x`` whose largest logit is the label (evaluation mode, ``batch`` at a time)."""
    apply = jax.jit(lambda p, s, xb: jnp.argmax(model.apply(p, s, xb, train=False)[0], -1))
    hits = sum(int(jnp.sum(apply(params, state, x[i:i + batch]) == y[i:i + batch]))
               for i in range(0, len(y), batch))
    return hits / len(y)


def run(dataset: str = "fashion_mnist", quick: bool = False, n: int | None = None,
        epochs: int | None = None, seed: int = 0, model_name: str = "recipe",
        augment: bool = True) -> dict[str, Any]:
    """Load, standardize, sweep the learning rate, measure the chosen network; the figures."""
    if quick and n is None:
        n = 2000
    data = jaxdl.data.load(dataset, n=n, val_fraction=0.1, seed=seed)  # uint8, raw
    network = build(dataset, model_name, augment, data.x_train.shape[1:], data.num_classes, quick)
    model = layers.Standardized(network, data.stats)  # per-channel training statistics
    trainer = jaxdl.Trainer(model, optimizer="adam", schedule="exponential",
                            batch_size=64 if quick else 128)
    rates = (3e-3, 1e-2) if quick else (3e-4, 1e-3, 3e-3)
    epochs = epochs or (4 if quick else 30)
    swept = run_sweep([{"learning_rate": lr} for lr in rates],
                      (data.x_train, data.y_train, data.x_val, data.y_val), trainer=trainer,
                      hp=SHARED, epochs=epochs, seed=seed, patience=2 if quick else 5,
                      monitor="val_accuracy")
    best = swept.table[0]["config"]
    return {
        "dataset": dataset,
        "model": model_name,
        "augment": augment,
        "quick": quick,
        "input_dtype": str(data.x_train.dtype),
        "channel_mean": model.mean.tolist(),
        "channel_std": model.std.tolist(),
        "num_train": len(data.y_train),
        "num_val": len(data.y_val),
        "num_test": len(data.y_test),
        "parameters": model.num_params,
        "learning_rate": swept.configs[best]["learning_rate"],
        "best_epoch": swept.best_epoch[best],
        "epochs_run": len(swept.histories[best]["epoch"]),
        "val_accuracy": swept.table[0]["val_accuracy"],
        "test_accuracy": accuracy(model, swept.params[best], swept.model_state[best],
                                  data.x_test, data.y_test),
        "sweep": [{"learning_rate": swept.configs[row["config"]]["learning_rate"],
                   "val_accuracy": row["val_accuracy"], "best_epoch": row["best_epoch"],
                   "epochs_run": row["epochs_run"]} for row in swept.table],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist",
                        choices=("fashion_mnist", "cifar10", "mnist"))
    parser.add_argument("--model", default="recipe", choices=("recipe", "lenet5", "small_vgg"),
                        help="the recipe's CNN (default) or a preset of jaxdl.layers.presets")
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--quick", action="store_true",
                        help="a small CNN, few epochs, 2000 training images")
    parser.add_argument("--n", type=int, default=None,
                        help="a random subset of this many training images (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most epochs per learning rate (default 30; quick 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result = run(args.dataset, args.quick, args.n, args.epochs, args.seed, args.model,
                 not args.no_augment)
    print(f"{result['dataset']}: {result['num_train']} training, {result['num_val']} "
          f"validation, {result['num_test']} test images; {result['model']} CNN of "
          f"{result['parameters']:,} parameters, {'with' if result['augment'] else 'no'} "
          f"augmentation")
    for row in result["sweep"]:
        print(f"  learning_rate {row['learning_rate']:<8g} val accuracy "
              f"{row['val_accuracy']:.4f} (best epoch {row['best_epoch']} of "
              f"{row['epochs_run']})")
    print(f"test accuracy {result['test_accuracy']:.4f} (learning_rate "
          f"{result['learning_rate']:g}, chosen on the validation split)")
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
