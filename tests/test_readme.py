"""Every ```python and ```bash block of README.md runs, so the README cannot drift from the code.

Python blocks run in order in one namespace (later blocks use earlier names), in a temporary
working directory. Each bash block runs with ``bash -euo pipefail`` in its own temporary
directory, with ``jaxdl`` on the PATH running this checkout's ``python -m jaxdl``. A block that
cannot run in a test (package installs, the full demo, a GPU) carries a visible marker on the
line before its fence, ``<!-- skip-test: why -->``; every other block must pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*skip-test:\s*(.+?)\s*-->$")


class Block(NamedTuple):
    language: str
    line: int  # 1-based line of the opening fence
    code: str
    skip: str | None  # the reason given by a skip-test marker


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text, with their skip-test markers."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"README.md:{start + 1}: code block is never closed")
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()),
                      "")
        skip = SKIP.match(before)
        found.append(Block(match.group(1), start + 1, "\n".join(body) + "\n",
                           skip.group(1) if skip else None))
        i += 1
    return found


README_BLOCKS = blocks(README.read_text())
PYTHON = [b for b in README_BLOCKS if b.language == "python"]
BASH = [b for b in README_BLOCKS if b.language == "bash"]


def test_the_parser_finds_blocks_and_markers():
    text = "x\n<!-- skip-test: slow -->\n\n```bash\nrm -rf /\n```\n```python\nx = 1\n```\n"
    assert blocks(text) == [
        Block("bash", 4, "rm -rf /\n", "slow"),
        Block("python", 7, "x = 1\n", None),
    ]
    with pytest.raises(ValueError, match="never closed"):
        blocks("```python\nx = 1\n")


def test_the_readme_has_runnable_blocks_and_every_skip_says_why():
    assert len([b for b in PYTHON if not b.skip]) >= 4
    assert len([b for b in BASH if not b.skip]) >= 2
    skipped = [b for b in README_BLOCKS if b.skip]
    assert all(len(b.skip) > 5 for b in skipped)
    # The install commands stay near the top, before any other example.
    first_runnable = min(b.line for b in README_BLOCKS if b.language and not b.skip)
    installs = [b for b in BASH if "pip install" in b.code]
    assert installs and all(b.skip and b.line < first_runnable for b in installs)


@pytest.mark.slow
def test_python_blocks_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A registered module, as a script would be: dataclasses and pickling look classes up there.
    module = types.ModuleType("__readme__")
    monkeypatch.setitem(sys.modules, "__readme__", module)
    namespace = module.__dict__
    for block in PYTHON:
        if block.skip:
            continue
        code = compile(block.code, f"README.md:{block.line}", "exec")
        try:
            exec(code, namespace)
        except Exception as err:
            pytest.fail(f"README.md python block at line {block.line} failed: {err!r}")


def jaxdl_shim(folder: Path) -> Path:
    """A ``jaxdl`` executable that runs this checkout's ``python -m jaxdl``."""
    folder.mkdir()
    shim = folder / "jaxdl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m jaxdl "$@"\n')
    shim.chmod(0o755)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BASH if not b.skip], ids=lambda b: f"line{b.line}")
def test_bash_block_runs(block, tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{jaxdl_shim(tmp_path / 'bin')}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("JAX_PLATFORMS", "cpu")
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"README.md bash block at line {block.line} exited {done.returncode}\n"
        f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
