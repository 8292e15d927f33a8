"""The package layering of dslc, read from the source: every import (top level or inside a
function) between dslc's packages must be an arrow of the table below, and the arrows must
form no cycle. docs/design/architecture.md draws the same table; a new arrow is a design
decision, made here and there together.

A package is a first-level name under dslc/ (`dslc/cost/` or `dslc/api.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dslc"

ALLOWED: dict[str, frozenset[str]] = {
    # the language front end
    "diagnostics": frozenset(),
    "syntax": frozenset({"diagnostics"}),
    "spec": frozenset(),
    # counting the points of affine indices (the operator registry's and the cost model's)
    "affine": frozenset(),
    # what one operator is; design spaces as values
    "ops": frozenset({"affine", "spec"}),
    "space": frozenset({"diagnostics", "spec"}),
    # from a concrete network to loop nests
    "graph": frozenset({"ops", "spec"}),
    "lower": frozenset({"graph", "ops", "spec"}),
    # from a concrete accelerator to its resolved model; mappings; the cost model
    "arch": frozenset({"spec"}),
    "mapping": frozenset({"arch", "lower", "spec"}),
    "cost": frozenset({"affine", "arch", "diagnostics", "lower", "mapping", "spec"}),
    "mapper": frozenset({"arch", "cost", "diagnostics", "lower", "mapping", "spec"}),
    # elaboration: source to spec values and design spaces
    "sema": frozenset({"arch", "diagnostics", "graph", "lower", "mapping", "ops", "space",
                       "spec", "syntax"}),
    # networks that run and train (torch, lazily: dslc.learn.require first)
    "learn": frozenset({"diagnostics", "graph", "ops", "space", "spec"}),
    # the joint search
    "codesign": frozenset({"arch", "cost", "diagnostics", "learn", "lower", "mapper", "space",
                           "spec"}),
    # models in, other tools' files out and in
    "interop": frozenset({"arch", "diagnostics", "lower", "mapping", "ops", "spec"}),
    # the edges: results out, the facade, the terminal
    "export": frozenset({"arch", "codesign", "cost", "lower", "mapper", "mapping"}),
    "api": frozenset({"arch", "codesign", "cost", "diagnostics", "export", "graph", "interop",
                      "learn", "lower", "mapper", "mapping", "sema", "space", "spec", "syntax"}),
    "report": frozenset({"api", "codesign", "cost", "export", "lower", "mapper", "mapping"}),
    "cli": frozenset({"api", "cost", "diagnostics", "export", "report"}),
}
CORE = ("cost", "mapping", "mapper", "codesign", "lower", "graph", "sema", "learn")
"""The issue's core packages: none of them may import the edges (api, cli, report)."""


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "dslc" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    """The dslc packages a file imports (any `import` or `from` statement, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "dslc":  # `from dslc import api, export` (not `__version__`)
                names = [f"dslc.{alias.name}" for alias in node.names
                         if not alias.name.startswith("__")]
        else:
            continue
        found.update(p for p in map(_package, names) if p is not None)
    return found


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts == ("__init__.py",) or relative.parts == ("__main__.py",):
            continue
        source = relative.parts[0].removesuffix(".py")
        graph.add_node(source)
        for target in _imports(path):
            if target != source:
                graph.add_edge(source, target, file=str(relative))
    return graph


GRAPH = _graph()


def test_every_package_is_in_the_table() -> None:
    assert set(GRAPH.nodes) == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_table(package: str) -> None:
    unexpected = {(target, GRAPH.edges[package, target]["file"])
                  for target in GRAPH.successors(package)
                  if target not in ALLOWED[package]}
    assert not unexpected, f"{package} imports outside its arrows: {sorted(unexpected)}"


def test_no_cycle_between_packages() -> None:
    assert list(nx.simple_cycles(GRAPH)) == []
    table = nx.DiGraph([(a, b) for a, targets in ALLOWED.items() for b in targets])
    assert list(nx.simple_cycles(table)) == []


def test_the_named_rules() -> None:
    for package in CORE:
        assert not ALLOWED[package] & {"api", "cli", "report", "export"}, package
    assert not ALLOWED["cost"] & {"mapper", "codesign"}
    assert "cost" not in ALLOWED["mapping"]
    assert not ALLOWED["diagnostics"]
    assert not ALLOWED["affine"]


def test_the_reader_sees_lazy_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import dslc.cost.model\nfrom dslc import api, export\n"
                      "def f() -> None:\n    from dslc.mapper.search import map_problem\n"
                      "from . import sibling\n")
    assert _imports(sample) == {"cost", "api", "export", "mapper"}
