"""Elaborating one operator call the way lint does, without a whole program."""

from __future__ import annotations

from dslc.diagnostics.diagnostic import Diagnostic
from dslc.ops.shape import Shape
from dslc.sema.evaluate import Scope
from dslc.sema.network import build_network
from dslc.spec.network import NetworkSpec
from dslc.syntax import ast
from dslc.syntax.parser import parse, read_source


def network_text(call: str, inputs: tuple[Shape, ...]) -> str:
    """A network with inputs x0, x1, .. of the given shapes and one layer `y = call`."""
    lines = [f"    input x{i}: [{', '.join(map(str, shape))}]" for i, shape in enumerate(inputs)]
    return "network t {\n" + "\n".join(lines) + f"\n    layer y = {call}\n}}\n"


def elaborate(call: str, inputs: tuple[Shape, ...]
              ) -> tuple[NetworkSpec | None, list[Diagnostic]]:
    """The network of `network_text(call, inputs)` as elaboration builds it, or why not."""
    file, problems = read_source("example.cd", network_text(call, inputs).encode())
    assert file is not None, problems
    module, problems = parse(file)
    assert module is not None, [p.message for p in problems]
    decl = next(item for item in module.items if isinstance(item, ast.NetworkDecl))
    build = build_network(decl, {}, Scope({}), ())
    return build.spec, build.diagnostics


def build(call: str, inputs: tuple[Shape, ...]) -> NetworkSpec:
    """The network of one call that must elaborate cleanly."""
    network, problems = elaborate(call, inputs)
    assert network is not None and not problems, [p.message for p in problems]
    return network
