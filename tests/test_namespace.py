"""The public namespace: what ``import jaxdl`` reaches, with one meaning per public name."""

import inspect
import types
import warnings

import pytest

import jaxdl


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


def test_no_two_public_functions_share_a_name():
    shared = {n: sorted(v) for n, v in public_functions().items() if len(v) > 1}
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
