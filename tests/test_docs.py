"""The documentation site covers the public API and the CLI (``mkdocs build --strict`` runs in
``.ci/run``; these checks are the fast part)."""

import argparse
import importlib.util
import re
from pathlib import Path

from test_namespace import public_modules

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_modules() -> set[str]:
    found = set()
    for page in (DOCS / "api").glob("*.md"):
        found |= set(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), re.M))
    return found


def test_every_public_module_has_an_api_reference():
    documented = documented_modules()
    missing = []
    for name, module in public_modules().items():
        if name == "jaxdl" or name in documented:
            continue
        # A package is covered when its submodules are (jaxdl.sweep by jaxdl.sweep.spaces, ...).
        if hasattr(module, "__path__") and any(d.startswith(name + ".") for d in documented):
            continue
        missing.append(name)
    assert not missing, f"add a '::: module' block to a page of docs/api/ for {missing}"


def test_the_cli_reference_is_rendered_from_the_parser():
    from jaxdl.cli import build_parser

    gen = load_script("gen_cli_docs")
    assert gen.MARKER in (DOCS / "cli.md").read_text()
    parser = build_parser()
    text = gen.render()
    commands = gen.subcommands(parser)
    assert {"train", "sweep", "gradcheck", "demo"} <= set(commands)
    for name, sub in commands.items():
        assert f"## `jaxdl {name}`" in text
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, f"jaxdl {name} {flag} is missing from the CLI reference"
    page = gen.on_page_markdown("# CLI\n\n" + gen.MARKER + "\n", page=None)
    assert "$ jaxdl train --help" in page and page.count("$ jaxdl train --help") == 1
    assert gen.on_page_markdown(page, page=None) == page  # rendering twice changes nothing
    assert all(isinstance(p, argparse.ArgumentParser) for p in commands.values())


def test_the_committed_cli_reference_lists_every_flag():
    """docs/cli.md reads on its own in the repository (refresh: scripts/gen_cli_docs.py
    --write); the site renders it afresh."""
    gen = load_script("gen_cli_docs")
    committed = (DOCS / "cli.md").read_text()
    assert gen.END in committed
    from jaxdl.cli import build_parser

    for name, sub in gen.subcommands(build_parser()).items():
        assert f"## `jaxdl {name}`" in committed
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in committed, (f"docs/cli.md lacks jaxdl {name} {flag}: run "
                                           "python scripts/gen_cli_docs.py --write")


def test_pages_link_only_existing_images():
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (page.parent / target).resolve().is_file(), f"{page}: missing image {target}"


def test_reST_roles_render_as_code():
    hooks = load_script("docs_hooks")
    html = 'see :func:<code>fit</code> and :class:<code>Trainer</code>'
    assert hooks.on_page_content(html, page=None) == "see <code>fit</code> and <code>Trainer</code>"


def test_free_standing_doctests_are_fenced_for_the_api_pages():
    fence = load_script("griffe_doctests").fence_doctests
    text = "Sum:\n\n  >>> [1, 2][0]\n  1\n\nDone.\n```python\n>>> kept\n```"
    assert fence(text) == (
        "Sum:\n\n  ```python\n  >>> [1, 2][0]\n  1\n  ```\n\nDone.\n```python\n>>> kept\n```"
    )
