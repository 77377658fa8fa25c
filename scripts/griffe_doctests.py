"""griffe extension (loaded by mkdocstrings, see mkdocs.yml): ``>>>`` examples written outside
an ``Examples:`` section are shown as Python code blocks, not as markdown text (where an output
such as ``[1.0, 0.5]`` would read as a link)."""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each run of ``>>>`` lines and their output in a fenced python block.

    Examples:
      >>> print(fence_doctests("Sum:\\n\\n>>> 1 + 1\\n2\\n\\nDone."))
      Sum:
      <BLANKLINE>
      ```python
      >>> 1 + 1
      2
      ```
      <BLANKLINE>
      Done.
    """
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(f"{indent}```python")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class FencedDoctests(griffe.Extension):
    """Fence the free-standing doctest examples of every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
