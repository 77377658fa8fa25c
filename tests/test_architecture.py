"""The library's layers (docs/architecture.md): a module imports only from its own layer or the
layers below it, and no two modules import each other, directly or round a longer circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxdl"

# Bottom to top; a top-level module or package of jaxdl belongs to exactly one layer.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations": ("typing", "checks", "infra",
                    # old paths of the infra modules the docs and examples named, for one release:
                    "deprecation", "atomic", "compile_cache", "devices", "parallel"),
    "course math": ("init", "ewa", "losses", "metrics", "dropout", "batchnorm", "optim",
                    "hyperparams"),
    "models": ("model", "nn", "layers", "adapters"),
    "data": ("data",),
    "training": ("shapes", "early_stopping", "history", "evaluation", "logs", "plots",
                 "checkpoint", "train"),
    "search": ("sweep",),
    "tools": ("gradcheck", "finite_differences", "flat_loss", "diagnostics", "saved",
              # old path of evaluation's model scoring, for one release:
              "scoring"),
    "surfaces": ("outputs", "cli", "demo", "__main__"),
}
RANK = {name: i for i, names in enumerate(LAYERS.values()) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """The jaxdl modules ``path`` imports when it is imported (module level, outside
    ``if TYPE_CHECKING:``), resolved to module names."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else ():
            if isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - sub.level + 1]
                                    + ([base] if base else []))
                if base.startswith("jaxdl"):
                    for alias in sub.names:
                        full = PACKAGE.parent / f"{base}.{alias.name}".replace(".", "/")
                        is_module = full.with_suffix(".py").exists() or full.is_dir()
                        found.add(f"{base}.{alias.name}" if is_module else base)
            elif isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names if a.name.startswith("jaxdl")}
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {m: {i for i in runtime_imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_top_level_module_has_a_layer():
    missing = sorted({top(m) for m in MODULES if top(m)} - set(RANK))
    assert not missing, f"add {missing} to a layer in LAYERS and in docs/architecture.md"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if top(m)))
def test_imports_go_down_the_layers(module):
    upward = sorted(i for i in GRAPH[module] if top(i) and RANK[top(i)] > RANK[top(module)])
    assert not upward, f"{module} imports from a higher layer: {upward}"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph`` (module -> modules it imports): Tarjan's strongly
    connected components of more than one module. A package's ``__init__`` importing its own
    submodules is how a package is built, not a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for n in graph[m]:
            if n.startswith(m + "."):
                continue
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            component = []
            while True:
                n = stack.pop()
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in graph:
        if m not in index:
            visit(m)
    return found


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "p": {"p.x"}, "p.x": {"d"}, "d": set()}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_import_circles():
    assert not circles(GRAPH), f"import circles: {circles(GRAPH)}"
