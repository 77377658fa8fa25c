"""``jaxdl gradcheck`` and ``jaxdl demo``: the commands that train nothing of yours."""

from __future__ import annotations

import argparse
import os
import sys

from jaxdl.cli.build import plots_wanted


def gradcheck_command(args: argparse.Namespace) -> int:
    """``jaxdl gradcheck``: print :func:`jaxdl.gradcheck.check_mlp`'s report.

    Returns:
      The exit status: 0 when the check passes, 1 when it fails.

    >>> from jaxdl.cli import build_parser
    >>> gradcheck_command(build_parser().parse_args(["gradcheck", "--sizes", "2,3,2"]))
    gradient check PASSED: ...
    0
    """
    from jaxdl.gradcheck import check_mlp

    result = check_mlp(args.seed, sizes=args.sizes, batch=args.batch, lambd=args.lambd,
                       epsilon=args.epsilon, threshold=args.threshold)
    print(result)
    return 0 if result.passed else 1


def demo_command(args: argparse.Namespace) -> int:
    """``jaxdl demo``: run the course's experiments (:func:`jaxdl.demo.run`), print the summary
    table and write ``results.json`` and the plots into ``--out``.

    Returns:
      The exit status, 0.

    >>> from jaxdl.cli import build_parser
    >>> demo_command(build_parser().parse_args(["demo", "--only", "0", "--no-plots"]))
    Traceback (most recent call last):
    ...
    ValueError: unknown experiment '0'; use ...
    """
    from jaxdl import demo

    want_plots = plots_wanted(args)
    results = demo.run(
        args.out, quick=args.quick, seed=args.seed, only=args.only, plots=want_plots,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(demo.format_table(results))
    pngs = sum(len([p for p in e["plots"] if p.endswith(".png")]) for e in results["experiments"])
    print(f"wrote {os.path.join(args.out, 'results.json')}"
          + (f" and {pngs} plots" if want_plots else ""))
    return 0
