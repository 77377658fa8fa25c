"""Every public function and class has a docstring with a one-line summary and a ``>>>`` example
(which ``pytest --doctest-modules jaxdl`` runs), in every public module but those listed below."""

import inspect

import pytest
from test_namespace import public_modules, public_names

# Modules whose examples are still to be written; a module leaves this list with its last one.
EXAMPLES_TO_WRITE = {
    "jaxdl.checkpoint",
    "jaxdl.data.files",
    "jaxdl.logs",
    "jaxdl.sweep.merge",
    "jaxdl.sweep.pbt",
    "jaxdl.sweep.sharding",
    "jaxdl.sweep.state",
    "jaxdl.sweep.tpe",
}


def documented_objects():
    for name, module in sorted(public_modules().items()):
        for attr in public_names(module):
            value = getattr(module, attr)
            if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == name:
                yield name, attr, value


OBJECTS = list(documented_objects())
IDS = [f"{module}.{name}" for module, name, _ in OBJECTS]


@pytest.mark.parametrize(("module", "name", "value"), OBJECTS, ids=IDS)
def test_public_object_has_a_summary_and_an_example(module, name, value):
    doc = inspect.getdoc(value)
    assert doc and doc.splitlines()[0].strip(), f"{module}.{name} has no one-line summary"
    if module not in EXAMPLES_TO_WRITE:
        assert ">>>" in doc, f"{module}.{name}: add a short '>>>' example to its docstring"


def test_the_to_do_list_only_holds_modules_with_missing_examples():
    done = {m for m in EXAMPLES_TO_WRITE
            if all(">>>" in (inspect.getdoc(v) or "") for mod, _, v in OBJECTS if mod == m)}
    assert not done, f"every example of {sorted(done)} is written: remove it from the list"
    assert EXAMPLES_TO_WRITE <= set(public_modules())
