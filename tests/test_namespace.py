"""The public namespace: what ``import jaxdl`` reaches, with one meaning per public name."""

import inspect
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import jaxdl

ROOT = Path(__file__).resolve().parents[1]


def public_modules() -> dict[str, types.ModuleType]:
    """Every jaxdl module reachable from ``import jaxdl`` through public attributes: the names
    in ``__all__``, or, in a module without one, its public submodules (not what it imports)."""
    found: dict[str, types.ModuleType] = {}
    todo = [jaxdl]
    while todo:
        module = todo.pop()
        if module.__name__ in found:
            continue
        found[module.__name__] = module
        for name in public_names(module):
            value = getattr(module, name)
            if not isinstance(value, types.ModuleType):
                continue
            listed = hasattr(module, "__all__") and value.__name__.startswith("jaxdl.")
            if listed or value.__name__.startswith(module.__name__ + "."):
                todo.append(value)
    return found


def public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in vars(module) if n[0] != "_"]


def public_functions() -> dict[str, set[str]]:
    """Public function/class name -> the qualified names of the distinct objects it denotes."""
    by_name: dict[str, set[str]] = {}
    for module in public_modules().values():
        for name in public_names(module):
            value = getattr(module, name)
            if (inspect.isfunction(value) or inspect.isclass(value)) and getattr(
                value, "__module__", ""
            ).startswith("jaxdl"):
                by_name.setdefault(name, set()).add(f"{value.__module__}.{value.__qualname__}")
    return by_name


@pytest.mark.parametrize("name", ["sweep", "data", "checkpoint", "optim", "normalize"])
def test_subpackages_are_reachable_from_import_jaxdl(name):
    assert isinstance(getattr(jaxdl, name), types.ModuleType)
    assert f"jaxdl.{name}" in public_modules() or getattr(jaxdl, name).__name__ in public_modules()


def test_the_walk_covers_the_documented_modules():
    modules = public_modules()
    for name in ("jaxdl.sweep", "jaxdl.sweep.spaces", "jaxdl.data.datasets", "jaxdl.checkpoint",
                 "jaxdl.optim", "jaxdl.data.normalize", "jaxdl.init", "jaxdl.ewa"):
        assert name in modules
    assert len(public_functions()) > 50


# Names that every module of a kind defines with the same meaning, so ``module.name`` reads right.
PER_MODULE_PROTOCOL = {
    "from_config": "rebuild a saved model of this module from its to_config() dict",
    "get": "look an entry of this module's registry up by name (init.get, metrics.get)",
}


def test_no_two_public_functions_share_a_name():
    shared = {
        n: sorted(v)
        for n, v in public_functions().items()
        if len(v) > 1 and n not in PER_MODULE_PROTOCOL
    }
    assert not shared, f"public names with more than one meaning: {shared}"


def test_every_name_in_all_exists():
    for module in public_modules().values():
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{module.__name__}.__all__ lists missing {name!r}"


def test_renamed_functions_keep_their_old_names_with_a_warning():
    with pytest.warns(DeprecationWarning, match="restore"):
        assert jaxdl.checkpoint.load is jaxdl.checkpoint.restore
    with pytest.warns(DeprecationWarning, match="fit_standardizer"):
        assert jaxdl.data.normalize.fit is jaxdl.data.normalize.fit_standardizer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "load" not in dir(jaxdl.checkpoint)
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            jaxdl.checkpoint.nope  # noqa: B018


def test_import_jaxdl_is_light_and_side_effect_free(tmp_path):
    """``import jaxdl`` (and so every doctest's collection) loads no optional heavy library and
    writes nothing."""
    code = (
        "import sys, jaxdl; "
        "print(sorted(m for m in ('sklearn', 'matplotlib', 'pandas', 'optax', 'flax', 'torch') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []
