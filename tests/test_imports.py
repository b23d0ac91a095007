"""The package's modules import one another without a circle, save the registration pattern.

The graph is read statically (ast), every import counted: at the top of a module, inside a
function, under `if TYPE_CHECKING:`. An edge goes to the module named: `from cnnviz.train import
backbones` is an edge to cnnviz.train.backbones, `from cnnviz.train import FinetuneConfig` one to
cnnviz.train (the package's __init__). Importing a submodule also runs its package's __init__;
that implicit step is not an edge here (a package's __init__ that hands on its submodules' names
would otherwise close a circle with each of them).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "cnnviz"

# The registration pattern, the one circle allowed: cnnviz.registry imports the package of
# architectures (lazily, in `_load`) so that their @register decorators run, and each of them
# imports cnnviz.registry for `register`. Without this edge the graph must have no cycle.
REGISTRATION = ("cnnviz.registry", "cnnviz.architectures")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports, anywhere in its code."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package (the package itself for __init__)
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_is_read_from_every_kind_of_import() -> None:
    """The reader itself, on modules whose imports are known: a lazy import inside a function
    (cnnviz.cli.train's `from cnnviz.train import ...`), `from package import submodule`, and the
    registration edge, inside `registry._load`."""
    graph = import_graph()
    assert "cnnviz.train" in graph["cnnviz.cli.train"]  # inside cmd_finetune
    assert "cnnviz.train.backbones" in graph["cnnviz.train.config"]
    assert "cnnviz.architectures" in graph["cnnviz.registry"]  # inside _load
    assert "cnnviz.registry" in graph["cnnviz.architectures.lenet"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_one_circle_is_the_registration_pattern() -> None:
    (circle,) = cycles(import_graph())
    assert set(REGISTRATION) <= set(circle)


def test_no_import_circle_without_the_registration_edge() -> None:
    graph = import_graph()
    source, target = REGISTRATION
    graph[source] = graph[source] - {target}
    assert cycles(graph) == []
