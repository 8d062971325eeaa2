"""The folders are the architecture: checked over the package's import graph.

Every ``import parallel.x`` and ``from parallel.x import ...`` counts, module-level or
inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

from tests.conftest import ROOT

PKG = ROOT / "parallel"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            # the longest prefix that is one of our modules
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("parallel."):
                out.add(name)
    return out


def import_graph() -> nx.DiGraph:
    files = {_module(p): p for p in PKG.rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for mod, path in files.items():
        for dep in _imports(path, set(files)):
            if dep != mod and not mod.startswith(dep + "."):  # a package's own __init__
                g.add_edge(mod, dep)
    return g


def test_no_import_cycles() -> None:
    g = import_graph()
    # package __init__ modules that only re-export are not dependencies of their children
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_actual_worlds_never_import_the_artificial_world() -> None:
    g = import_graph()
    actual = [m for m in g if m.startswith("parallel.traffic.actual")]
    assert "parallel.traffic.actual.sumo" in actual
    for m in actual:
        bad = [d for d in nx.descendants(g, m) if d.startswith("parallel.traffic.artificial")]
        assert not bad, f"{m} reaches the artificial world through {bad}"


def test_core_knows_no_domain() -> None:
    g = import_graph()
    for m in (
        m for m in g if m.startswith(("parallel.core", "parallel.config", "parallel.metrics"))
    ):
        bad = [d for d in g.successors(m) if d.startswith(("parallel.traffic", "parallel.gan"))]
        assert not bad, f"{m} imports {bad}"


def test_the_graph_sees_lazy_imports() -> None:
    """The checker itself: an import inside a function is an edge too."""
    g = import_graph()
    assert g.has_edge("parallel.traffic.actual", "parallel.traffic.actual.sumo")
