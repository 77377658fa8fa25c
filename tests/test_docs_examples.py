"""Every example on the documentation site runs as a user copies it into a fresh interpreter.

Two kinds of examples are checked:

* the ```python blocks of every ``docs/**/*.md`` page: each page's blocks run in order in one
  fresh namespace of their own (later blocks use earlier names, as when the page is copied top to
  bottom; no page relies on another), in a temporary working directory. A block that cannot run
  in a test carries ``<!-- skip-test: why -->`` on the line before its fence, as in README.md;
* the ``>>>`` examples of the docstrings that the API reference pages render: each runs with
  ``doctest`` in an EMPTY namespace, so it must import everything it uses (``--doctest-modules``
  runs them with the module's globals, where a missing ``import numpy as np`` goes unnoticed).
"""

from __future__ import annotations

import doctest
import importlib
import math
import re
import sys
import types
from pathlib import Path

import pytest
from test_readme import Block, blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def page_blocks(page: Path) -> list[Block]:
    """The python blocks of a docs page that are not marked ``skip-test``."""
    try:
        found = blocks(page.read_text())
    except ValueError as err:  # the parser names README.md; say which page it was
        raise ValueError(f"{page.relative_to(ROOT)}: {err}") from None
    return [b for b in found if b.language == "python" and not b.skip]


PAGES = sorted(p for p in DOCS.rglob("*.md") if page_blocks(p))


def test_the_pages_with_examples_are_found():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"index.md", "topics/gradient-checking.md", "topics/optimization.md"} <= names
    skipped = [b for p in DOCS.rglob("*.md") for b in blocks(p.read_text()) if b.skip]
    assert all(len(b.skip) > 5 for b in skipped), "say why a block is skipped"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_examples_run_in_order_in_a_fresh_namespace(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A registered module, as a script would be: dataclasses and pickling look classes up there.
    module = types.ModuleType("__docs_page__")
    monkeypatch.setitem(sys.modules, "__docs_page__", module)
    where = page.relative_to(ROOT)
    for block in page_blocks(page):
        code = compile(block.code, f"{where}:{block.line}", "exec")
        try:
            exec(code, module.__dict__)
        except Exception as err:
            pytest.fail(f"{where}: the python block at line {block.line} failed: {err!r}")


# The modules whose docstring examples import what they use. The few modules rendered on the
# API pages that are not listed yet (jaxdl.gradcheck.flat_loss, jaxdl.layers.conv,
# jaxdl.layers.convolution, ...) follow; add each here once its examples pass in an empty
# namespace. jaxdl.saved.file_format stays out: its register_model example registers a model
# type under a global name, and the module's own doctest (the same process) registers it too.
MODULES = [
    "jaxdl.train.fitting",
    "jaxdl.train.options",
    "jaxdl.train.trainer",
    "jaxdl.gradcheck.check",
    "jaxdl.early_stopping",
    "jaxdl.losses",
    "jaxdl.metrics",
    "jaxdl.init",
    "jaxdl.ewa",
    "jaxdl.batchnorm",
    "jaxdl.dropout",
    "jaxdl.nn",
    "jaxdl.model",
    "jaxdl.hyperparams",
    "jaxdl.data.normalize",
    "jaxdl.data.datasets",
    "jaxdl.data.toy",
    "jaxdl.data.batches",
    "jaxdl.optim",
    "jaxdl.optim.aliases",
    "jaxdl.optim.base",
    "jaxdl.optim.clipping",
    "jaxdl.optim.one_of",
    "jaxdl.optim.registry",
    "jaxdl.optim.schedules",
    "jaxdl.optim.transforms",
    "jaxdl.layers",
    "jaxdl.layers.activations",
    "jaxdl.layers.base",
    "jaxdl.layers.combinators",
    "jaxdl.layers.dense",
    "jaxdl.layers.dropout",
    "jaxdl.layers.flatten",
    "jaxdl.layers.mlp",
    "jaxdl.layers.norm",
    "jaxdl.layers.pool",
    "jaxdl.layers.presets",
    "jaxdl.layers.reshape",
    "jaxdl.layers.standardize",
    "jaxdl.sweep.blocks",
    "jaxdl.sweep.buckets",
    "jaxdl.sweep.chunking",
    "jaxdl.sweep.default_space",
    "jaxdl.sweep.distributions",
    "jaxdl.sweep.engine",
    "jaxdl.sweep.hyperband",
    "jaxdl.sweep.interruption",
    "jaxdl.sweep.journal",
    "jaxdl.sweep.lineage",
    "jaxdl.sweep.loop",
    "jaxdl.sweep.merge",
    "jaxdl.sweep.options",
    "jaxdl.sweep.pbt",
    "jaxdl.sweep.recording",
    "jaxdl.sweep.rungs",
    "jaxdl.sweep.sharding",
    "jaxdl.sweep.state",
    "jaxdl.sweep.strategies",
    "jaxdl.sweep.tpe",
    "jaxdl.checkpoint.directory",
    "jaxdl.checkpoint.file_format",
    "jaxdl.saved.saved_model",
    "jaxdl.saved.saved_arrays",
    "jaxdl.saved.manifest",
    "jaxdl.saved.model_directory",
    "jaxdl.saved.loaded_model",
    "jaxdl.saved.model_fit",
    "jaxdl.logs",
    "jaxdl.logs.tensorboard",
    "jaxdl.gradcheck.finite_differences",
    "jaxdl.gradcheck.float64",
    "jaxdl.gradcheck.kinks",
    "jaxdl.train.compiled",
    "jaxdl.train.epoch",
    "jaxdl.train.state",
    "jaxdl.data.encoding",
    "jaxdl.data.files",
    "jaxdl.data.inputs",
    "jaxdl.data.columns",
    "jaxdl.data.csv_files",
    "jaxdl.data.dataframes",
    "jaxdl.infra.atomic",
    "jaxdl.checks",
    "jaxdl.infra.devices",
    "jaxdl.evaluation",
    "jaxdl.cli.tables",
    "jaxdl.cli.describe",
]


def public_doctests(module_name: str) -> list[doctest.DocTest]:
    """The docstring examples of a module and of its public functions, classes and methods, each
    with an empty namespace."""
    module = importlib.import_module(module_name)
    found = doctest.DocTestFinder().find(module, globs={})
    public = [t for t in found if t.examples
              and not any(part.startswith("_") for part in t.name.split(".")[1:])]
    return sorted(public, key=lambda t: t.name)


DOCTESTS = [t for name in MODULES for t in public_doctests(name)]

# pytest's NUMBER option flag (set in pyproject), which the stdlib doctest lacks: a float in the
# expected output matches any float that rounds to it at the precision written.
NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")


class NumberChecker(doctest.OutputChecker):
    """doctest's checker plus pytest's ``NUMBER``: ``0.1`` matches ``0.10000002384185791``."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        wants, gots = list(NUMBER.finditer(want)), list(NUMBER.finditer(got))
        if len(wants) != len(gots):
            return False
        pieces, end = [], 0
        for w, g in zip(wants, gots):
            digits = w.group().lower().split("e")
            fraction = digits[0].split(".")[1] if "." in digits[0] else ""
            precision = len(fraction) - (int(digits[1]) if len(digits) > 1 else 0)
            close = math.isclose(float(w.group()), float(g.group()), rel_tol=0,
                                 abs_tol=10.0 ** -precision)
            pieces += [got[end:g.start()], w.group() if close else g.group()]
            end = g.end()
        return super().check_output(want, "".join(pieces) + got[end:], optionflags)


def test_the_number_checker_follows_the_written_precision():
    check = NumberChecker().check_output
    assert check("[0.1, 0.2]\n", "[0.10000002384185791, 0.20000004768371582]\n", 0)
    assert check("('flower', 120, 0.0)\n", "('flower', 120, -0.0)\n", 0)
    assert check("1e-08\n", "1.0000001e-08\n", 0)
    assert not check("[0.1, 0.2]\n", "[0.1, 0.4]\n", 0)
    assert not check("0.12\n", "0.15\n", 0)
    assert not check("1 2\n", "1 3\n", 0)


def test_every_listed_module_has_examples():
    modules = {t.name.rsplit(".", 1)[0] for t in DOCTESTS} | {t.name for t in DOCTESTS}
    assert all(name in modules or any(m.startswith(name + ".") for m in modules)
               for name in MODULES)
    assert len(DOCTESTS) > 100


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda t: t.name)
def test_docstring_example_runs_in_an_empty_namespace(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert set(test.globs) <= {"__name__"}  # doctest's own; nothing of the module
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(checker=NumberChecker(), optionflags=flags)
    report: list[str] = []
    result = runner.run(test, out=report.append, clear_globs=True)
    assert not result.failed, "".join(report)
