"""The ``jaxdl`` command: ``train``, ``sweep``, ``gradcheck``, ``demo``, ``predict``, ``evaluate``.

    jaxdl train --dataset moons --hidden 16,16 --optimizer adam --lr 0.01 --epochs 200
    jaxdl sweep --dataset moons --optimizer momentum --lr 1e-4:1 --beta 0.9:0.999 --configs 32
    jaxdl sweep --space space.toml --epochs 30
    jaxdl gradcheck
    jaxdl demo --quick --out jaxdl-out
    jaxdl train --data table.csv --target label --save model
    jaxdl predict --model model --data new.csv --out predictions.csv
    jaxdl evaluate --model model --data test.csv

Layer sizes given with ``--hidden`` are the hidden layers; the input width and the output layer
come from the dataset (one sigmoid unit for two classes, a softmax unit per class otherwise).
Exit status (each failure is reported as one ``jaxdl: error: ...`` line on stderr):

- 0: done
- 1: the run failed (training diverged, every sweep config diverged, a gradient check failed),
  or jaxdl hit a bug (the traceback is printed with a request to report it)
- 2: bad command line or input (including an unusable checkpoint directory)
- 3: a file or directory could not be read or written (the message names the path)
- 130: interrupted by SIGINT or SIGTERM (``train`` first checkpoints the finished epoch,
  ``sweep`` the finished chunk, and both say how to resume); a second signal, or one while the
  command starts, stops it at once with one line

Before a command runs, its output paths are checked and ``--out`` is taken for the run
(:mod:`jaxdl.outputs`): a used ``--out`` is refused unless ``--overwrite`` or ``--resume``.

Modules: ``parser`` (``build_parser``: the subcommands), ``options`` (the groups of options
train and sweep share) with ``values`` (their value types), ``errors`` (exit statuses, one-line
errors, bug reports), ``build`` (dataset, model and trainer from the options), ``splits``
(``--val-data``/``--test-data`` files, fractions of 0), ``train``, ``sweep``, ``tables`` (the
printed tables and the closing line), ``data`` (your data files, saved models, ``predict``,
``evaluate``) and ``tools`` (``gradcheck``, ``demo``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from jaxdl import outputs
from jaxdl.cli.build import announce_removed
from jaxdl.cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_USAGE,
    PROG,
    run_command,
)
from jaxdl.cli.options import EPOCHS, HP_FLAGS, OPTIMIZER, HelpFormatter
from jaxdl.cli.parser import build_parser
from jaxdl.cli.sweep import sweep_header
from jaxdl.infra import (
    compile_cache,
    devices,
    interrupt,  # installs the command's signal handlers (see launched_as_command)
)
from jaxdl.sweep.spaces import read_space

__all__ = [
    "EPOCHS",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_IO",
    "EXIT_USAGE",
    "HP_FLAGS",
    "OPTIMIZER",
    "PROG",
    "HelpFormatter",
    "build_parser",
    "main",
    "read_space",
    "sweep_header",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jaxdl`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    SIGINT and SIGTERM are handled from the first line on (:class:`jaxdl.infra.interrupt.
    CommandSignals`); the output paths are checked and ``--out`` is held for the run
    (:func:`jaxdl.outputs.reserve`; ``train`` and ``sweep`` take it once their input is
    checked, in :func:`jaxdl.cli.build.load_data`).

    >>> main(["--version"])
    jaxdl ...
    0
    """
    signals = interrupt.command_signals()
    mine = signals is None
    if signals is None:
        signals = interrupt.CommandSignals().install()
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
        compile_cache.enable_for_command(turned_off=args.no_compile_cache)
        if args.command in ("sweep", "train"):  # sweep: each core trains its own members;
            devices.cpu_device_per_core()         # train: a CNN's batches split over the cores
        args.run = _owning_outputs(args.run)
        signals.running = True
        if getattr(args, "checkpoint_dir", None):
            signals.saved = (f"what was saved in {args.checkpoint_dir} stays (--resume "
                             "continues from it)")
        return run_command(args)
    finally:
        signals.running, signals.finished = False, not mine
        if mine:
            signals.uninstall()


def _owning_outputs(command: Callable[[argparse.Namespace], int]
                    ) -> Callable[[argparse.Namespace], int]:
    """``command`` run with its outputs checked and ``--out`` held (:mod:`jaxdl.outputs`)."""

    def run(args: argparse.Namespace) -> int:
        reservation = outputs.reserve(args)
        try:
            if args.command == "demo":  # train and sweep take it after their input checks
                announce_removed(outputs.take(args))
            return command(args)
        finally:
            reservation.release()

    run.__name__ = getattr(command, "__name__", "run")
    return run
