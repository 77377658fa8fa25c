"""Every dotted ``jaxdl.`` name that the README and the docs mention resolves, as a user would
reach it: import the longest module prefix, then look the rest up as attributes. And the names
that used to hide a module behind a function now name the module."""

import importlib
import re
import types
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import jaxdl

ROOT = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"\bjaxdl(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def mentioned_names() -> list[str]:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    names = set()
    for path in texts:
        for name in DOTTED.findall(path.read_text()):
            names.add(name.rstrip("."))
    return sorted(n for n in names if not n.endswith((".py", ".md", ".json", ".toml")))


def resolve(name: str):
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            value = getattr(value, attr)
        return value
    raise ModuleNotFoundError(name)


def test_the_docs_mention_many_names():
    assert len(mentioned_names()) > 50


@pytest.mark.parametrize("name", mentioned_names())
def test_every_dotted_name_in_readme_and_docs_resolves(name):
    resolve(name)


@pytest.mark.parametrize("name", ["gradcheck", "dropout", "hyperparams"])
def test_a_name_is_the_module_not_a_function_hiding_it(name):
    module = importlib.import_module(f"jaxdl.{name}")
    assert getattr(jaxdl, name) is module
    assert isinstance(module, types.ModuleType)


def test_readme_spellings_reach_the_functions():
    assert jaxdl.gradcheck.check_model.__name__ == "check_model"
    assert jaxdl.gradcheck.gradcheck.__name__ == "gradcheck"
    assert jaxdl.dropout.split.__name__ == "split"


def test_calling_the_modules_still_works_for_a_release_with_a_warning():
    key, a = jax.random.key(0), jnp.ones((4, 8))
    with pytest.warns(DeprecationWarning, match=r"jaxdl\.dropout\.dropout\(\.\.\.\)"):
        out = jaxdl.dropout(key, a, keep_prob=0.5)
    assert (out == jaxdl.dropout.dropout(key, a, keep_prob=0.5)).all()
    loss = lambda p, x: jnp.sum(jnp.tanh(p * x))  # noqa: E731
    with pytest.warns(DeprecationWarning, match=r"jaxdl\.gradcheck\.gradcheck\(\.\.\.\)"):
        old = jaxdl.gradcheck(loss, jnp.ones(3), jnp.arange(3.0))
    new = jaxdl.gradcheck.gradcheck(loss, jnp.ones(3), jnp.arange(3.0))
    assert old.difference == new.difference


MOVED = ("finite_differences", "flat_loss")


@pytest.fixture(scope="module")
def first_imports():
    """What a fresh interpreter's first import of each old path raises with warnings as errors
    (one interpreter for both: neither old path is imported before its own ``import``)."""
    import subprocess
    import sys

    code = "import warnings; warnings.simplefilter('error')\n" + "".join(
        f"try:\n    import jaxdl.{old}\nexcept DeprecationWarning as w:\n    print({old!r}, w)\n"
        for old in MOVED)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


@pytest.mark.parametrize("old", MOVED)
def test_moved_modules_keep_their_old_path_with_a_warning(old, first_imports):
    assert f"jaxdl.{old} moved to jaxdl.gradcheck.{old}" in first_imports[old]
    new = importlib.import_module(f"jaxdl.gradcheck.{old}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        shim = importlib.import_module(f"jaxdl.{old}")
    assert shim.param_paths is new.param_paths
