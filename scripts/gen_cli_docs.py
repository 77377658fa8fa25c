"""The CLI reference, rendered from ``jaxdl.cli.build_parser()`` so it is never written twice.

``docs/cli.md`` holds the rendered reference between ``<!-- cli-reference -->`` and
``<!-- /cli-reference -->``, so it reads on its own in the repository;
``python scripts/gen_cli_docs.py --write`` refreshes it (a test checks that every flag is there).
``mkdocs.yml`` loads this file as a hook, which renders the section afresh at build time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # this checkout's jaxdl, also when mkdocs loads the hook
    sys.path.insert(0, str(ROOT))

MARKER = "<!-- cli-reference -->"
END = "<!-- /cli-reference -->"
PAGE = ROOT / "docs" / "cli.md"
WIDTH = "88"  # columns argparse wraps the help text to


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, in the order they were added."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser.format_help()`` wrapped to a fixed width (not the terminal's)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help().rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def render() -> str:
    """Markdown: the top-level help, then one section per subcommand."""
    from jaxdl.cli import build_parser

    parser = build_parser()
    parts = ["```text", f"$ {parser.prog} --help", help_text(parser), "```"]
    for name, sub in subcommands(parser).items():
        parts += ["", f"## `{parser.prog} {name}`", "", "```text",
                  f"$ {parser.prog} {name} --help", help_text(sub), "```"]
    return "\n".join(parts) + "\n"


def fill(markdown: str) -> str:
    """``markdown`` with a fresh reference between the markers (after ``MARKER`` alone, when
    the end marker is missing)."""
    if MARKER not in markdown:
        return markdown
    head, rest = markdown.split(MARKER, 1)
    tail = rest.split(END, 1)[1] if END in rest else rest
    return f"{head}{MARKER}\n\n{render()}\n{END}{tail}"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """mkdocs hook: the CLI reference rendered afresh on the page that holds the marker."""
    return fill(markdown)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        PAGE.write_text(fill(PAGE.read_text()))
    else:
        print(render(), end="")
