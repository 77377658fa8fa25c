"""The site's formulas become MathML at build time (scripts/docs_hooks.py): no script, no
network."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
pytest.importorskip("latex2mathml")
import docs_hooks  # noqa: E402


def test_inline_and_display_formulas_become_mathml():
    html = ('<p>a <span class="arithmatex">\\(\\hat v &lt; 1\\)</span> b</p>'
            '<div class="arithmatex">\\[\\frac{1}{2}\\]</div>')
    out = docs_hooks.render_math(html)
    assert "arithmatex" not in out and out.count("<math") == 2
    assert 'display="block"' in out and "<mfrac>" in out and "<mover" in out


def test_a_formula_that_does_not_convert_names_itself():
    with pytest.raises(ValueError, match=r"\$a\^\$ does not convert"):
        docs_hooks.render_math('<span class="arithmatex">\\(a^\\)</span>')


def test_the_site_loads_no_script_from_a_network():
    config = (ROOT / "mkdocs.yml").read_text()
    assert "extra_javascript" not in config and "mathjax" not in config.lower()
