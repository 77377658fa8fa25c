"""Every public function and class has a docstring with a one-line summary and a ``>>>`` example
(which ``pytest --doctest-modules jaxdl`` runs): every one reachable through a public name,
checked in the module that defines it."""

import inspect

import pytest
from test_namespace import public_modules, public_names


def documented_objects():
    """Every jaxdl function and class reachable through a public name, once, under the module
    that defines it."""
    seen = {}
    for _, module in sorted(public_modules().items()):
        for attr in public_names(module):
            value = getattr(module, attr)
            ours = value.__module__.startswith("jaxdl.") if hasattr(value, "__module__") else False
            if (inspect.isfunction(value) or inspect.isclass(value)) and ours:
                seen[id(value)] = (value.__module__, value.__qualname__, value)
    return sorted(seen.values(), key=lambda item: item[:2])


OBJECTS = documented_objects()
IDS = [f"{module}.{name}" for module, name, _ in OBJECTS]


@pytest.mark.parametrize(("module", "name", "value"), OBJECTS, ids=IDS)
def test_public_object_has_a_summary_and_an_example(module, name, value):
    doc = inspect.getdoc(value)
    assert doc and doc.splitlines()[0].strip(), f"{module}.{name} has no one-line summary"
    assert ">>>" in doc, f"{module}.{name}: add a short '>>>' example to its docstring"


def test_objects_defined_outside_the_public_modules_are_checked_too():
    modules = {module for module, _, _ in OBJECTS}
    assert {"jaxdl.gradcheck.check", "jaxdl.early_stopping", "jaxdl.layers.dense"} <= modules

