"""mkdocs hooks for the site's rendered HTML:

- docstrings cross-reference with reST roles (``:func:`fit```); the API pages show them as plain
  code instead of the literal role;
- formulas (``$...$`` and ``$$...$$``, which ``pymdownx.arithmatex`` marks in its generic mode)
  become MathML at build time with ``latex2mathml``, which browsers render natively: the site
  needs no script and no network to show its mathematics. A formula that does not convert
  fails the build.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

ROLE = re.compile(r":(?:func|class|data|meth|mod|attr|obj|exc):(<code>)")
INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
DISPLAY = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)


def to_mathml(tex: str, display: bool) -> str:
    """The MathML of one TeX formula (HTML-escaped as arithmatex leaves it).

    >>> to_mathml(r"\\hat v &lt; 1", display=False).startswith('<math xmlns=')
    True
    """
    from latex2mathml.converter import convert

    try:
        return convert(html_lib.unescape(tex).strip(), display="block" if display else "inline")
    except Exception as err:  # the converter raises its own types
        raise ValueError(f"formula ${tex}$ does not convert to MathML: {err}") from err


def render_math(html: str) -> str:
    """Every arithmatex formula in ``html`` replaced by its MathML."""
    html = DISPLAY.sub(lambda m: to_mathml(m.group(1), display=True), html)
    return INLINE.sub(lambda m: to_mathml(m.group(1), display=False), html)


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """Drop ``:func:`` and its kind from the rendered HTML, keeping the code span; formulas to
    MathML."""
    return render_math(ROLE.sub(r"\1", html))
