"""Regenerate the README's demo table and timing from a demo run's results.json.

    jaxdl demo --out jaxdl-out && python scripts/readme_table.py jaxdl-out/results.json

Replaces the text between the ``<!-- demo-table -->`` and ``<!-- /demo-table -->`` markers of
README.md with a heading (seed, backend, CPU count, total seconds) and the summary that
``jaxdl demo`` printed (``jaxdl.demo.format_table``), and stores the numbers the table needs in
docs/demo-results.json, from which a test checks that the README still matches. ``--check``
only compares and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from jaxdl.demo import format_table
from jaxdl.infra.atomic import atomic_write, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
STORED = os.path.join(ROOT, "docs", "demo-results.json")
START, END = "<!-- demo-table -->", "<!-- /demo-table -->"
RUN_KEYS = ("run", "train_accuracy", "test_accuracy", "cost", "note")


def trim(results: dict[str, Any]) -> dict[str, Any]:
    """The part of results.json the table shows (no curves)."""
    keep = ("quick", "seed", "seconds", "cpu_seconds", "jax_version", "backend", "cpu_count")
    return {
        **{k: results[k] for k in keep if k in results},
        "experiments": [
            {
                "number": e["number"], "name": e["name"], "seconds": e["seconds"],
                "runs": [{k: r.get(k) for k in RUN_KEYS} for r in e["runs"]],
                "findings": e["findings"],
            }
            for e in results["experiments"]
        ],
    }


def block(results: dict[str, Any]) -> str:
    """The README text between the markers."""
    cores = results.get("cpu_count")
    where = f"{results['backend']}" + (f", {cores} CPU cores" if cores else "")
    mode = "--quick" if results["quick"] else ""
    findings = [f for e in results["experiments"] for f in e["findings"]]
    held = sum(f["holds"] for f in findings)
    verdict = (f"All {len(findings)} expected findings held" if held == len(findings)
               else f"{held} of {len(findings)} expected findings held")
    return (
        f"### What `jaxdl demo{' ' + mode if mode else ''}` printed (seed {results['seed']}, "
        f"{where}, {results['seconds']:.0f} s"
        + (f", {results['cpu_seconds']:.0f} s of CPU" if "cpu_seconds" in results else "")
        + ")\n\n"
        f"```text\n{format_table(results)}\n```\n\n"
        f"{verdict} (the `[yes]` lines above). This block is written by "
        "`scripts/readme_table.py` from the demo's results.json.\n"
    )


def replace(readme: str, text: str) -> str:
    """``readme`` with the marked region replaced by ``text``."""
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise ValueError(f"README has no {START} ... {END} region")
    return pattern.sub(lambda _: f"{START}\n{text}{END}", readme)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", help="results.json of a demo run (default: the "
                        "stored docs/demo-results.json)")
    parser.add_argument("--readme", default=README, help="README to update")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a diff")
    args = parser.parse_args(argv)
    with open(args.results or STORED) as f:
        results = trim(json.load(f))
    with open(args.readme) as f:
        current = f.read()
    updated = replace(current, block(results))
    if args.check:
        if updated != current:
            print(f"{args.readme}: the demo table differs from the results; run "
                  "scripts/readme_table.py", file=sys.stderr)
            return 1
        return 0
    if args.results:
        write_json(STORED, results)
    atomic_write(args.readme, lambda f: f.write(updated))
    print(f"updated {args.readme}" + (f" and {STORED}" if args.results else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
