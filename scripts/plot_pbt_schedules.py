"""Draw the README's PBT figure: the schedules population-based training finds on moons.

The README's search example (a batch-norm and dropout MLP, learning rate and keep_prob searched)
with a population of 8 over 18 epochs, exploiting and exploring every 3 epochs:

    python scripts/plot_pbt_schedules.py --out docs/img/search_pbt_schedules.png
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from jaxdl import sweep
from jaxdl.data import datasets
from jaxdl.nn import MLP
from jaxdl.train import Trainer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="search_pbt_schedules.png", help="PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = datasets.load("moons", n=400, seed=args.seed)
    trainer = Trainer(MLP((2, 16, 16, 2), batch_norm=True, dropout=True), batch_size=64)
    space = sweep.Space(learning_rate=sweep.LogUniform(1e-3, 0.3),
                        keep_prob=sweep.Uniform(0.6, 1.0))
    pbt = sweep.population_based_training(space, data, trainer=trainer, population=8,
                                          interval=3, epochs=18, seed=args.seed)
    sweep.plot_schedules(pbt, args.out)
    best = pbt.best()
    print(f"{args.out}: best member {best['config']}, val_accuracy {best['val_accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
