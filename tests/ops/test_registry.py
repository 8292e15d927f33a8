"""The registry is the one list of operators: of the spec union, the grammar and the guide."""

from __future__ import annotations

import ast as pyast
import re
import sys
import typing
from pathlib import Path

from helpers_ops import elaborate

from dslc.ops import registry
from dslc.spec import network as spec

REPO = Path(__file__).resolve().parent.parent.parent
OPS = REPO / "dslc" / "ops"


def test_every_entry_builds_a_layer_of_the_union_and_every_member_has_an_entry() -> None:
    # `Layer` is a static union (pydantic discriminates on it), so a new operator's spec
    # class must be added there by hand; this is the test that notices when it is not.
    union = typing.get_args(spec.Layer)[0]
    members = set(typing.get_args(union))
    built = [entry.layer for entry in registry.OPERATORS]
    assert len(built) == len(set(built))
    assert set(built) == members


def test_lookup_by_name_and_by_layer() -> None:
    for entry in registry.OPERATORS:
        for name in entry.names:
            assert registry.lookup(name) is entry
    assert registry.lookup("conv2d") is None
    assert tuple(sorted(n for e in registry.OPERATORS for n in e.names)) == registry.NAMES
    layer = spec.DenseLayer(name="f", inputs=("x",), out_features=4)
    assert registry.for_layer(layer) is registry.lookup("linear")


def test_the_grammar_s_operator_keywords_are_in_the_registry() -> None:
    # Calls by name (`conv(...)`) reach the registry through elaboration; an operator with
    # its own syntax is a grammar rule opening with its keyword and the call's arguments.
    grammar = (REPO / "dslc" / "syntax" / "grammar.lark").read_text("utf-8")
    keywords = re.findall(r'^\w+:\s*"(\w+)"\s*\[?call_args', grammar, re.MULTILINE)
    assert keywords == ["einsum"]
    for keyword in keywords:
        entry = registry.lookup(keyword)
        assert entry is not None and entry.bind is None and entry.listing == "syntax"


def test_every_spelling_elaborates_and_other_names_do_not() -> None:
    for entry in registry.OPERATORS:
        if entry.bind is None:
            continue
        first = entry.names[0]
        assert entry.example.call.startswith(first + "(")
        for name in entry.names:
            network, problems = elaborate(name + entry.example.call[len(first):],
                                          entry.example.inputs)
            assert not problems, (name, [p.message for p in problems])
            assert network is not None and isinstance(network.layers[-1], entry.layer)
    _, problems = elaborate("conv2d(x0, out = 4, kernel = 1)", ((3, 8, 8),))
    assert [(p.code, p.help) for p in problems] == [("E207", "did you mean `conv`?")]


def test_the_guide_names_only_registry_operators() -> None:
    guide = (REPO / "docs" / "language" / "guide.md").read_text("utf-8")
    paragraph = guide[guide.index("The operators:"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    names = set(re.findall(r"`(\w+)`", paragraph))
    attributes = {a.name for e in registry.OPERATORS for a in e.attributes} | {"same"}
    assert names - attributes <= set(registry.NAMES)
    assert {"conv", "dwconv", "dense", "linear", "matmul", "maxpool", "avgpool", "add", "mul",
            "concat", "flatten", "reshape", "transpose", "relu"} <= names


def _imports(path: Path) -> set[str]:
    tree = pyast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, pyast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_ops_imports_only_the_spec_models_affine_counts_and_the_standard_library() -> None:
    for path in sorted(OPS.glob("*.py")):
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "dslc":
                assert module == "dslc.ops" or module == "dslc.affine" or module.startswith(
                    ("dslc.ops.", "dslc.spec")), (
                    f"{path.name} imports {module}")
            else:
                assert top in sys.stdlib_module_names or top == "__future__", (
                    f"{path.name} imports {module}")
