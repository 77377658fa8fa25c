"""mkdocs hook: docstrings cross-reference with reST roles (``:func:`fit```); the API pages
show them as plain code instead of the literal role."""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|data|meth|mod|attr|obj|exc):(<code>)")


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """Drop ``:func:`` and its kind from the rendered HTML, keeping the code span."""
    return ROLE.sub(r"\1", html)
