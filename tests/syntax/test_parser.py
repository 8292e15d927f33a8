"""Parser unit tests: every construct of the language parses to the expected AST.

ASTs are compared through `sx`, which drops spans and turns nodes into nested tuples
(`("Call", "conv", [...])`), so that the expected trees stay readable. Spans are checked
separately where they matter.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dslc.diagnostics.diagnostic import Diagnostic
from dslc.diagnostics.span import SourceFile
from dslc.syntax import ast
from dslc.syntax.parser import grammar_rule_names, parse, read_source
from dslc.syntax.transform import ToAst


def sx(node: Any) -> Any:
    """A span-free, compact rendering of an AST node for comparisons."""
    if isinstance(node, ast.Ident):
        return node.text
    if isinstance(node, ast.Name):
        return node.ident.text
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Quantity):
        return ("Q", node.value, node.unit)
    if isinstance(node, ast.String):
        return ("S", node.value)
    if isinstance(node, tuple | list):
        return [sx(item) for item in node]
    if dataclasses.is_dataclass(node):
        values = [sx(getattr(node, f.name)) for f in dataclasses.fields(node)
                  if f.name != "span"]
        return (type(node).__name__, *values)
    return node


def parse_ok(text: str) -> ast.Module:
    module, diagnostics = parse(SourceFile.of("t.cd", text))
    assert diagnostics == [], [d.message for d in diagnostics]
    assert module is not None
    return module


def parse_err(text: str) -> Diagnostic:
    module, diagnostics = parse(SourceFile.of("t.cd", text))
    assert module is None or diagnostics, "expected a syntax error"
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def items(text: str) -> list[Any]:
    return [sx(item) for item in parse_ok(text).items]


def expr(text: str) -> Any:
    """The AST of one expression, parsed as the value of a property."""
    module = parse_ok(f"codesign c {{ v = {text} }}")
    decl = module.items[0]
    assert isinstance(decl, ast.CoDesignDecl)
    prop = decl.body[0]
    assert isinstance(prop, ast.Property)
    return sx(prop.value)


# ---- the grammar and the transformer agree ----------------------------------------------------


def test_every_grammar_rule_has_a_transformer_method() -> None:
    rules = grammar_rule_names()
    methods = {name for name in vars(ToAst) if not name.startswith("_")}
    assert rules - methods == set(), "grammar rules without a ToAst method"
    assert methods - rules == set(), "ToAst methods for rules the grammar does not have"


# ---- lexical ------------------------------------------------------------------------------


def test_empty_file_and_comments_only() -> None:
    assert items("") == []
    assert items("# nothing here\n   # still nothing\n") == []


def test_comments_anywhere() -> None:
    text = """# header
network n {   # trailing
    input x: [3, # inside a list
              8, 8]
    layer a = relu(x) # after a statement
} # after the block"""
    assert items(text) == [("NetworkDecl", "n", [
        ("InputStmt", "x", ("ListExpr", [3, 8, 8])),
        ("LayerStmt", "a", ("Call", "relu", [("Arg", None, "x")])),
    ])]


def test_hash_inside_a_string_is_not_a_comment() -> None:
    assert items('import "a#b.cd"') == [("ImportDecl", ("S", "a#b.cd"))]


def test_whitespace_insensitive() -> None:
    compact = items("network n{input x:[3,8,8]layer a=relu(x)}")
    spread = items("network\n n\n{\n input\n x\n :\n [3,\n 8,\n 8]\n layer a =\n relu(\n x)\n}")
    assert compact == spread


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("3.5", 3.5), (".5", 0.5), ("1e3", 1000.0), ("2.5E-2", 0.025),
])
def test_numbers(text: str, value: float) -> None:
    result = expr(text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(("text", "quantity"), [
    ("16b", (16.0, "b")), ("2B", (2.0, "B")), ("64KiB", (64.0, "KiB")),
    ("1MiB", (1.0, "MiB")), ("12 words", (12.0, "words")), ("1 word", (1.0, "word")),
    ("12\twords", (12.0, "words")), ("8 bits", (8.0, "bits")), ("4 bytes", (4.0, "bytes")),
    ("5fJ", (5.0, "fJ")), ("1.5pJ", (1.5, "pJ")), ("2nJ", (2.0, "nJ")),
    ("200MHz", (200.0, "MHz")), ("1GHz", (1.0, "GHz")), ("3ns", (3.0, "ns")),
    ("4us", (4.0, "us")), ("5ms", (5.0, "ms")), ("100um2", (100.0, "um2")),
    ("6mm2", (6.0, "mm2")), ("71.5%", (71.5, "%")), ("45nm", (45.0, "nm")),
    ("30GB/s", (30.0, "GB/s")), ("2GiB/s", (2.0, "GiB/s")), ("1e3pJ", (1000.0, "pJ")),
    ("100 cycles", (100.0, "cycles")), ("5mW", (5.0, "mW")),
])
def test_quantities(text: str, quantity: tuple[float, str]) -> None:
    assert expr(text) == ("Q", *quantity)


def test_symbol_units_must_touch_the_number() -> None:
    # `K = 32 B = 4` is two dims, not 32 bytes: a symbol unit after a space is a name.
    module = parse_ok("network n { layer o = einsum { dims K = 32 B = 4 output O[k, b] } }")
    decl = module.items[0]
    assert isinstance(decl, ast.NetworkDecl)
    layer = decl.body[0]
    assert isinstance(layer, ast.LayerStmt)
    assert sx(layer.value) == ("Einsum", [], [["K", 32], ["B", 4]],
                               [("EinsumTensorDecl", "output", "O", ["k", "b"])])


def test_range_is_not_a_decimal() -> None:
    assert expr("1..4") == ("RangeExpr", 1, 4, None)
    assert expr("1 .. 4") == ("RangeExpr", 1, 4, None)
    assert expr("1.5") == 1.5
    assert expr("0..10 step 2") == ("RangeExpr", 0, 10, 2)
    assert expr("a..b step c") == ("RangeExpr", "a", "b", "c")
    assert expr("64KiB..256KiB step 64KiB") == (
        "RangeExpr", ("Q", 64.0, "KiB"), ("Q", 256.0, "KiB"), ("Q", 64.0, "KiB"))
    assert expr("1..n+1") == ("RangeExpr", 1, ("Binary", "+", "n", 1), None)


def test_sets_and_lists() -> None:
    assert expr("{3, 5, 7}") == ("SetExpr", [3, 5, 7])
    assert expr("{3, 5, 7,}") == ("SetExpr", [3, 5, 7])
    assert expr("{}") == ("SetExpr", [])
    assert expr("[]") == ("ListExpr", [])
    assert expr("[input, output]") == ("ListExpr", ["input", "output"])
    assert expr("{64KiB, 108KiB}") == ("SetExpr", [("Q", 64.0, "KiB"), ("Q", 108.0, "KiB")])
    assert expr("{weight_stationary, row_stationary}") == (
        "SetExpr", ["weight_stationary", "row_stationary"])


def test_strings() -> None:
    assert expr('"accuracy.csv"') == ("S", "accuracy.csv")
    assert expr('"say \\"hi\\""') == ("S", 'say "hi"')
    assert expr('"back\\\\slash"') == ("S", "back\\slash")
    assert expr('""') == ("S", "")


def test_precedence_and_associativity() -> None:
    assert expr("1 + 2 * 3") == ("Binary", "+", 1, ("Binary", "*", 2, 3))
    assert expr("(1 + 2) * 3") == ("Binary", "*", ("Binary", "+", 1, 2), 3)
    assert expr("1 - 2 - 3") == ("Binary", "-", ("Binary", "-", 1, 2), 3)
    assert expr("8 / 2 // 2") == ("Binary", "//", ("Binary", "/", 8, 2), 2)
    assert expr("2 ^ 3 ^ 2") == ("Binary", "^", 2, ("Binary", "^", 3, 2))
    assert expr("-2 ^ 2") == ("Unary", "-", ("Binary", "^", 2, 2))
    assert expr("2 ^ -1") == ("Binary", "^", 2, ("Unary", "-", 1))
    assert expr("a - -b") == ("Binary", "-", "a", ("Unary", "-", "b"))
    assert expr("channels(x) * 4") == (
        "Binary", "*", ("Call", "channels", [("Arg", None, "x")]), 4)


# ---- the mesh `x` ---------------------------------------------------------------------------


def test_mesh() -> None:
    assert expr("14 x 12") == ("Mesh", 14, 12)
    assert expr("rows x cols") == ("Mesh", "rows", "cols")
    assert expr("(2 * r) x (c)") == ("Mesh", ("Binary", "*", 2, "r"), "c")
    assert expr("x x y") == ("Mesh", "x", "y")


def test_x_is_an_ordinary_name_elsewhere() -> None:
    text = """network n {
        input x: [3, 8, 8]
        layer a = add(x, x)
        layer b = relu(x)
        layer c = x
        block r = repeat 2 from x { relu(prev) }
    }"""
    decl = parse_ok(text).items[0]
    assert isinstance(decl, ast.NetworkDecl)
    assert [sx(s)[1] for s in decl.body] == ["x", "a", "b", "c", "r"]
    assert sx(decl.body[2]) == ("LayerStmt", "b", ("Call", "relu", [("Arg", None, "x")]))
    assert sx(decl.body[3]) == ("LayerStmt", "c", "x")
    # A dataflow's `x = [...]` is a property, not a mesh.
    acc = items("accelerator a { fanout PE { mesh = 4 x 4 dataflow { y = [K] x = [C] } } }")
    assert acc == [("AcceleratorDecl", "a", [("Component", "fanout", "PE", [
        ("Property", "mesh", ("Mesh", 4, 4)),
        ("SubBlock", "dataflow", [("Property", "y", ("ListExpr", ["K"])),
                                  ("Property", "x", ("ListExpr", ["C"]))]),
    ])])]


def test_mesh_without_spaces_is_an_error() -> None:
    diagnostic = parse_err("accelerator a { fanout PE { mesh = 14x12 } }")
    assert diagnostic.code == "E101"
    assert diagnostic.span is not None and diagnostic.span.text == "14x12"
    assert "14 x 12" in diagnostic.help


def test_unknown_unit_is_an_error_at_the_quantity() -> None:
    diagnostic = parse_err("accelerator a { memory M { size = 16kB } }")
    assert diagnostic.code == "E101"
    assert diagnostic.span is not None and diagnostic.span.text == "16kB"


# ---- declarations -------------------------------------------------------------------------


def test_imports() -> None:
    assert items('import "std/accelerators/eyeriss_like.cd"\nimport "../lib.cd"') == [
        ("ImportDecl", ("S", "std/accelerators/eyeriss_like.cd")),
        ("ImportDecl", ("S", "../lib.cd")),
    ]


def test_network_from_the_language_draft() -> None:
    text = """
network resnet_block {
    input x: [64, 56, 56]                      # C, H, W
    layer a = conv(x, out = 64, kernel = 3, pad = 1)
    layer b = conv(a, out = 64, kernel = 3, pad = 1)
    layer y = add(b, x)
}"""
    assert items(text) == [("NetworkDecl", "resnet_block", [
        ("InputStmt", "x", ("ListExpr", [64, 56, 56])),
        ("LayerStmt", "a", ("Call", "conv", [
            ("Arg", None, "x"), ("Arg", "out", 64), ("Arg", "kernel", 3), ("Arg", "pad", 1)])),
        ("LayerStmt", "b", ("Call", "conv", [
            ("Arg", None, "a"), ("Arg", "out", 64), ("Arg", "kernel", 3), ("Arg", "pad", 1)])),
        ("LayerStmt", "y", ("Call", "add", [("Arg", None, "b"), ("Arg", None, "x")])),
    ])]


def test_several_inputs_and_statements_in_any_order() -> None:
    # `input` after an expression must still start an input statement.
    text = """network n {
        param d in 1..4
        input x: [3, 8, 8]
        input y: [3, 8, 8]
        layer a = add(x, y)
        input z: [3, 8, 8]
        accuracy = 71.5%
        input w: [3, 8, 8]
    }"""
    decl = parse_ok(text).items[0]
    assert isinstance(decl, ast.NetworkDecl)
    assert [type(s).__name__ for s in decl.body] == [
        "ParamStmt", "InputStmt", "InputStmt", "LayerStmt", "InputStmt", "Property",
        "InputStmt"]


def test_network_space_from_the_language_draft() -> None:
    text = """
network mobile_space {
    input x: [3, 224, 224]
    param k1 in {3, 5, 7}
    param e1 in {3, 6}
    param d1 in 1..3
    layer stem = conv(x, out = 16, kernel = 3, stride = 2, pad = 1)
    block s1 = repeat d1 from stem { mbconv(prev, out = 24, expand = e1, kernel = k1) }
    layer head = dense(avgpool(s1, global = true), out = 1000)
}"""
    (decl,) = items(text)
    body = decl[2]
    assert body[1] == ("ParamStmt", "k1", ("SetExpr", [3, 5, 7]))
    assert body[3] == ("ParamStmt", "d1", ("RangeExpr", 1, 3, None))
    assert body[5] == ("RepeatStmt", "s1", "d1", "stem", [], ("Call", "mbconv", [
        ("Arg", None, "prev"), ("Arg", "out", 24), ("Arg", "expand", "e1"),
        ("Arg", "kernel", "k1")]))
    assert body[6] == ("LayerStmt", "head", ("Call", "dense", [
        ("Arg", None, ("Call", "avgpool", [("Arg", None, "s1"), ("Arg", "global", "true")])),
        ("Arg", "out", 1000)]))


def test_repeat_with_layers_and_result() -> None:
    text = """network n {
        input x: [8, 8, 8]
        block r = repeat 3 from x {
            layer a = conv(prev, out = 8, kernel = 3, pad = 1)
            layer b = relu(a)
            add(b, prev)
        }
        block s = repeat 2 from r { layer c = relu(prev) }
    }"""
    decl = parse_ok(text).items[0]
    assert isinstance(decl, ast.NetworkDecl)
    r, s = decl.body[1], decl.body[2]
    assert isinstance(r, ast.RepeatStmt) and isinstance(s, ast.RepeatStmt)
    assert [layer.name.text for layer in r.body] == ["a", "b"]
    assert sx(r.result) == ("Call", "add", [("Arg", None, "b"), ("Arg", None, "prev")])
    assert [layer.name.text for layer in s.body] == ["c"]
    assert s.result is None


def test_template_from_the_language_draft() -> None:
    text = """
template mbconv(x, out, expand, kernel, stride = 1) {
    layer e = conv(x, out = channels(x) * expand, kernel = 1)
    layer d = dwconv(e, kernel = kernel, stride = stride)
    layer p = conv(d, out = out, kernel = 1)
    return p
}"""
    (decl,) = items(text)
    assert decl[0] == "TemplateDecl"
    assert decl[1] == "mbconv"
    assert decl[2] == [("TemplateParam", "x", None), ("TemplateParam", "out", None),
                       ("TemplateParam", "expand", None), ("TemplateParam", "kernel", None),
                       ("TemplateParam", "stride", 1)]
    assert [stmt[1] for stmt in decl[3]] == ["e", "d", "p"]
    assert decl[3][0][2] == ("Call", "conv", [
        ("Arg", None, "x"),
        ("Arg", "out", ("Binary", "*", ("Call", "channels", [("Arg", None, "x")]), "expand")),
        ("Arg", "kernel", 1)])
    assert decl[4] == "p"


def test_template_without_parameters_and_trailing_comma() -> None:
    assert items("template t() { return 1 }") == [("TemplateDecl", "t", [], [], 1)]
    (decl,) = items("template t(a, b = 2,) { return a }")
    assert decl[2] == [("TemplateParam", "a", None), ("TemplateParam", "b", 2)]


def test_einsum_from_the_language_draft() -> None:
    text = """network n {
    layer o = einsum {
        dims   K = 32, C = 16, P = 16, R = 3
        output O[k, p]
        weight W[k, c, r]
        input  I[c, p + r]
    }
}"""
    decl = parse_ok(text).items[0]
    assert isinstance(decl, ast.NetworkDecl)
    layer = decl.body[0]
    assert isinstance(layer, ast.LayerStmt)
    assert sx(layer.value) == ("Einsum", [], [["K", 32], ["C", 16], ["P", 16], ["R", 3]], [
        ("EinsumTensorDecl", "output", "O", ["k", "p"]),
        ("EinsumTensorDecl", "weight", "W", ["k", "c", "r"]),
        ("EinsumTensorDecl", "input", "I", ["c", ("Binary", "+", "p", "r")]),
    ])


def test_einsum_with_arguments_and_optional_commas() -> None:
    module = parse_ok("""network n { layer o = einsum(a, b) {
        dims M = 4 N = 5, K = 6,
        input A[m, k], input B[k, n], output O[m, n]
        dims L = 2
    } }""")
    decl = module.items[0]
    assert isinstance(decl, ast.NetworkDecl)
    layer = decl.body[0]
    assert isinstance(layer, ast.LayerStmt)
    assert sx(layer.value) == ("Einsum", [("Arg", None, "a"), ("Arg", None, "b")],
                               [["M", 4], ["N", 5], ["K", 6], ["L", 2]], [
        ("EinsumTensorDecl", "input", "A", ["m", "k"]),
        ("EinsumTensorDecl", "input", "B", ["k", "n"]),
        ("EinsumTensorDecl", "output", "O", ["m", "n"]),
    ])


def test_role_words_are_names_outside_einsum() -> None:
    text = """network n {
        input weight: [4]
        layer output = relu(weight)
        layer input_proj = relu(output)
    }
    accelerator a { memory M { holds = [input, weight, output] compute_bits = 3 } }"""
    decls = items(text)
    assert decls[0][2][1] == ("LayerStmt", "output", ("Call", "relu", [("Arg", None, "weight")]))
    assert decls[0][2][2][1] == "input_proj"
    assert decls[1][2][0][3] == [
        ("Property", "holds", ("ListExpr", ["input", "weight", "output"])),
        ("Property", "compute_bits", 3)]


def test_accelerator_from_the_language_draft() -> None:
    text = """
accelerator eyeriss_like {
    word  = 16b
    clock = 200MHz
    memory DRAM  { width = 64b, read = 200pJ, write = 200pJ }       # no size: unbounded
    memory GLB   { size = 108KiB, width = 64b, holds = [input, output] }  # energy estimated
    fanout PE    { mesh = 14 x 12, dataflow = row_stationary }
    memory ifmap_spad   { size = 12 words,  holds = [input] }
    memory weights_spad { size = 224 words, holds = [weight] }
    memory psum_spad    { size = 24 words,  holds = [output] }
    compute MAC  { energy = 1pJ }
}"""
    (decl,) = items(text)
    assert decl[:2] == ("AcceleratorDecl", "eyeriss_like")
    body = decl[2]
    assert body[0] == ("Property", "word", ("Q", 16.0, "b"))
    assert body[1] == ("Property", "clock", ("Q", 200.0, "MHz"))
    assert body[2] == ("Component", "memory", "DRAM", [
        ("Property", "width", ("Q", 64.0, "b")), ("Property", "read", ("Q", 200.0, "pJ")),
        ("Property", "write", ("Q", 200.0, "pJ"))])
    assert body[4] == ("Component", "fanout", "PE", [
        ("Property", "mesh", ("Mesh", 14, 12)), ("Property", "dataflow", "row_stationary")])
    assert body[5][3] == [("Property", "size", ("Q", 12.0, "words")),
                          ("Property", "holds", ("ListExpr", ["input"]))]
    assert body[8] == ("Component", "compute", "MAC", [("Property", "energy", ("Q", 1.0, "pJ"))])


def test_accelerator_space_and_explicit_dataflow() -> None:
    text = """
accelerator eyeriss_family {
    param rows in {8, 12, 16, 32}
    param glb  in {64KiB, 108KiB, 256KiB}
    param flow in {weight_stationary, output_stationary, row_stationary}
    fanout PE { mesh = rows x cols, dataflow = flow }
    fanout Q  { mesh = 16 x 16, dataflow { x = [C], y = [K], stationary = weight } }
}"""
    (decl,) = items(text)
    body = decl[2]
    assert body[0] == ("ParamStmt", "rows", ("SetExpr", [8, 12, 16, 32]))
    assert body[2] == ("ParamStmt", "flow", ("SetExpr", [
        "weight_stationary", "output_stationary", "row_stationary"]))
    assert body[3] == ("Component", "fanout", "PE", [
        ("Property", "mesh", ("Mesh", "rows", "cols")), ("Property", "dataflow", "flow")])
    assert body[4][3][1] == ("SubBlock", "dataflow", [
        ("Property", "x", ("ListExpr", ["C"])), ("Property", "y", ("ListExpr", ["K"])),
        ("Property", "stationary", "weight")])


def test_mapping_from_the_language_draft() -> None:
    text = """
mapping ws for resnet_block.a on eyeriss_like {
    DRAM   { temporal [K 4] }
    GLB    { temporal [C 8, P 7, Q 7] }
    PE     { spatial x [Q 14], spatial y [S 3, C 4] }
    weights_spad { temporal [R 3], keep [weight] }
    psum_spad    { temporal [K 16, P 8, Q 4, C 2] }
}"""
    (decl,) = items(text)
    assert decl[:5] == ("MappingDecl", "ws", ("SpaceRef", "resnet_block", None), ["a"],
                        ("SpaceRef", "eyeriss_like", None))
    levels = decl[5]
    assert levels[0] == ("MapLevel", "DRAM", [
        ("Directive", "temporal", None, [("Loop", "K", 4)], [])])
    assert levels[2] == ("MapLevel", "PE", [
        ("Directive", "spatial", "x", [("Loop", "Q", 14)], []),
        ("Directive", "spatial", "y", [("Loop", "S", 3), ("Loop", "C", 4)], [])])
    assert levels[3] == ("MapLevel", "weights_spad", [
        ("Directive", "temporal", None, [("Loop", "R", 3)], []),
        ("Directive", "keep", None, [], ["weight"])])
    assert decl[6] == []


def test_mapping_with_points_dotted_layer_and_props() -> None:
    text = """mapping m for net(k1 = 3, d1 = 2).s1.0.e on acc(rows = 14) {
        batch = 2
        DRAM { temporal [K 4,], bypass [input, output] }
        RF { temporal [], keep [] }
    }"""
    (decl,) = items(text)
    assert decl[2] == ("SpaceRef", "net", [("Arg", "k1", 3), ("Arg", "d1", 2)])
    assert decl[3] == ["s1", "0", "e"]
    assert decl[4] == ("SpaceRef", "acc", [("Arg", "rows", 14)])
    assert decl[5][0][2][1] == ("Directive", "bypass", None, [], ["input", "output"])
    assert decl[5][1] == ("MapLevel", "RF", [("Directive", "temporal", None, [], []),
                                            ("Directive", "keep", None, [], [])])
    assert decl[6] == [("Property", "batch", 2)]


def test_codesign_from_the_language_draft() -> None:
    text = """
codesign explore {
    networks     = mobile_space
    accelerators = eyeriss_family
    batch        = 1
    objective    = minimize edp              # energy | latency | edp | an expression
    constraint   latency <= 5ms
    constraint   area <= 6mm2
    constraint   accuracy >= 72%             # needs an accuracy source
    accuracy     = table("accuracy.csv")
    strategy     = auto
    reference    = eyeriss_family(rows = 14, cols = 12, glb = 108KiB, flow = row_stationary)
    mapper       { search = auto, budget = 5000, seed = 1 }
}"""
    (decl,) = items(text)
    body = decl[2]
    assert body[0] == ("Property", "networks", "mobile_space")
    assert body[3] == ("Property", "objective", ("Objective", "minimize", "edp"))
    assert body[4] == ("ConstraintStmt", "latency", "<=", ("Q", 5.0, "ms"))
    assert body[6] == ("ConstraintStmt", "accuracy", ">=", ("Q", 72.0, "%"))
    assert body[7] == ("Property", "accuracy", ("Call", "table", [
        ("Arg", None, ("S", "accuracy.csv"))]))
    assert body[9] == ("Property", "reference", ("Call", "eyeriss_family", [
        ("Arg", "rows", 14), ("Arg", "cols", 12), ("Arg", "glb", ("Q", 108.0, "KiB")),
        ("Arg", "flow", "row_stationary")]))
    assert body[10] == ("SubBlock", "mapper", [
        ("Property", "search", "auto"), ("Property", "budget", 5000),
        ("Property", "seed", 1)])


@pytest.mark.parametrize("op", ["<=", ">=", "==", "<", ">"])
def test_constraint_operators(op: str) -> None:
    (decl,) = items(f"codesign c {{ constraint energy {op} 1nJ }}")
    assert decl[2] == [("ConstraintStmt", "energy", op, ("Q", 1.0, "nJ"))]


def test_objective_expressions() -> None:
    assert expr("maximize accuracy") == ("Objective", "maximize", "accuracy")
    assert expr("minimize energy * latency ^ 2") == ("Objective", "minimize", (
        "Binary", "*", "energy", ("Binary", "^", "latency", 2)))
    # A name that merely starts with a keyword is a name.
    assert expr("minimizer") == "minimizer"


def test_commas_between_properties_are_optional() -> None:
    with_commas = items("accelerator a { memory M { size = 1KiB, width = 64b, } }")
    without = items("accelerator a { memory M { size = 1KiB width = 64b } }")
    assert with_commas == without


def test_names_that_start_with_keywords() -> None:
    text = "accelerator a { memory M { size = 1KiB memory_bits = 3 compute_x = 4 } }"
    (decl,) = items(text)
    assert [p[1] for p in decl[2][0][3]] == ["size", "memory_bits", "compute_x"]


# ---- spans --------------------------------------------------------------------------------


def test_spans_cover_the_written_text() -> None:
    text = "network n {\n    layer a = conv(x, out = 64, kernel = 3)\n}\n"
    module = parse_ok(text)
    decl = module.items[0]
    assert isinstance(decl, ast.NetworkDecl)
    assert decl.name.span.text == "n"
    layer = decl.body[0]
    assert isinstance(layer, ast.LayerStmt)
    assert layer.span.text == "layer a = conv(x, out = 64, kernel = 3)"
    assert isinstance(layer.value, ast.Call)
    assert layer.value.args[1].span.text == "out = 64"
    assert layer.value.args[1].value.span.text == "64"
    assert layer.value.func.span.file.line_col(layer.value.func.span.start) == (2, 15)


def test_quantity_span_includes_a_spelled_unit() -> None:
    module = parse_ok("accelerator a { memory M { size = 12 words } }")
    decl = module.items[0]
    assert isinstance(decl, ast.AcceleratorDecl)
    component = decl.body[0]
    assert isinstance(component, ast.Component)
    prop = component.body[0]
    assert isinstance(prop, ast.Property)
    assert prop.value.span.text == "12 words"



def test_spans_as_lark_propagated_them() -> None:
    # The reductions give each node the extent lark's `propagate_positions` gave its tree:
    # from its first symbol to its last, keywords and brackets included, and a grouped
    # expression counts with its parentheses in its parent but not in itself.
    text = "codesign c { v = (a + b) * (c), w = ((f(x))) }"
    decl = parse_ok(text).items[0]
    assert isinstance(decl, ast.CoDesignDecl)
    first, second = decl.body
    assert isinstance(first, ast.Property) and isinstance(second, ast.Property)
    product = first.value
    assert isinstance(product, ast.Binary)
    assert (product.span.start, product.span.end) == (17, 30)
    assert product.span.text == "(a + b) * (c)"
    assert (product.left.span.start, product.left.span.end) == (18, 23)
    assert (product.right.span.start, product.right.span.end) == (28, 29)
    assert first.span.text == "v = (a + b) * (c),"
    assert second.value.span.text == "f(x)"
    assert second.span.text == "w = ((f(x)))"
    assert decl.span.text == text


def test_nesting_limit_is_counted_on_lark_tree_levels() -> None:
    # Three levels (the module, `codesign`, the property) above the value: 117 nested
    # lists or negations are the most that parse, and E106 points at the 121st level.
    for depth in (117, 118):
        for value in ("[" * depth + "1" + "]" * depth, "-" * depth + "1"):
            module, diagnostics = parse(SourceFile.of("t.cd", f"codesign c {{ v = {value} }}"))
            if depth == 117:
                assert module is not None and diagnostics == []
            else:
                assert module is None and [d.code for d in diagnostics] == ["E106"]
                assert diagnostics[0].span is not None
                assert diagnostics[0].span.start == 135


def test_parsing_in_threads_gives_each_file_its_own_tree() -> None:
    texts = [f"network n{i} {{\n    input x: [3, 8, 8]\n" + "".join(
        f"    layer a{j} = relu(x)\n" for j in range(200 + i)) + "}\n" for i in range(8)]
    expected = [parse_ok(text) for text in texts]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda text: parse(SourceFile.of("t.cd", text))[0], texts * 3))
    assert found == expected * 3
    assert [len(m.items[0].body) for m in found[:8]] == [201 + i for i in range(8)]


# ---- syntax errors --------------------------------------------------------------------------


def test_unexpected_character() -> None:
    diagnostic = parse_err("network n { layer a = $x }")
    assert diagnostic.code == "E101"
    assert diagnostic.span is not None and diagnostic.span.text == "$"


def test_single_quotes_get_a_hint() -> None:
    diagnostic = parse_err("import 'a.cd'")
    assert diagnostic.code == "E101"
    assert "double quotes" in diagnostic.help


def test_unexpected_token_lists_what_was_expected() -> None:
    diagnostic = parse_err("network n { layer a = conv(x, out = 3 kernel = 3) }")
    assert diagnostic.code == "E102"
    assert diagnostic.span is not None and diagnostic.span.text == "kernel"
    assert "`,`" in diagnostic.label and "`)`" in diagnostic.label


def test_unexpected_end_points_at_the_unclosed_bracket() -> None:
    diagnostic = parse_err("network n {\n    layer a = conv(x, out = 3\n")
    assert diagnostic.code == "E103"
    assert [label.span.text for label in diagnostic.related] == ["("]


def test_only_the_first_syntax_error_is_reported() -> None:
    _, diagnostics = parse(SourceFile.of("t.cd", "network { } network { } $ $"))
    assert [d.code for d in diagnostics] == ["E102"]


def test_bad_utf8() -> None:
    source, diagnostics = read_source("t.cd", b"network n {}\n# caf\xe9\n")
    assert source is None
    assert [d.code for d in diagnostics] == ["E104"]
    assert diagnostics[0].span is not None
    assert diagnostics[0].span.file.line_col(diagnostics[0].span.start) == (2, 6)


def test_utf8_with_bom_is_fine() -> None:
    source, diagnostics = read_source("t.cd", "\ufeffnetwork n {}".encode())
    assert diagnostics == []
    assert source is not None and source.text == "network n {}"


@pytest.mark.parametrize("literal", ["1" * 400, "1e400", "9" * 320 + ".0", "1e301pJ"])
def test_number_too_large(literal: str) -> None:
    _, diagnostics = parse(SourceFile.of("t.cd", f"codesign c {{ v = {literal} }}"))
    assert [d.code for d in diagnostics] == ["E105"]
    assert diagnostics[0].span is not None and diagnostics[0].span.text == literal


@pytest.mark.parametrize(("literal", "value"), [
    ("1" + "0" * 300, 10**300), ("1e300", 1e300), ("1" + "0" * 300 + ".0", 1e300),
    ("0" * 400 + "7", 7), ("9" * 300, 10**300 - 1)])
def test_a_number_at_most_1e300_is_its_value(literal: str, value: float) -> None:
    """docs/language/guide.md: "a number literal at most 1e300 (E105)". The bound is on the
    value: 10^300 written out in digits is the limit itself, and leading zeros add nothing
    (both were E105, `number too large`, by counting 301 characters)."""
    assert expr(literal) == value
    assert type(expr(literal)) is type(value)


@pytest.mark.parametrize("literal", ["1" + "0" * 299 + "1", "2" + "0" * 300])
def test_an_integer_just_past_1e300_is_e105(literal: str) -> None:
    diagnostic = parse_err(f"codesign c {{ v = {literal} }}")
    assert diagnostic.code == "E105"
    assert diagnostic.help == "numbers must be at most 1e300"


def test_nesting_too_deep() -> None:
    deep = "[" * 200 + "1" + "]" * 200
    diagnostic = parse_err(f"codesign c {{ v = {deep} }}")
    assert diagnostic.code == "E106"
    assert parse_err(f"codesign c {{ v = {'-' * 500}1 }}").code == "E106"
    shallow = "[" * 50 + "1" + "]" * 50
    parse_ok(f"codesign c {{ v = {shallow} }}")


def test_parentheses_do_not_nest_the_tree() -> None:
    # Grouping leaves no node behind, so even deep parentheses are fine.
    assert expr("(" * 1000 + "1" + ")" * 1000) == 1


def test_file_too_large() -> None:
    """docs/language/guide.md: "a file at most 4,000,000 characters (E107)"."""
    diagnostic = parse_err("#" * 4_000_001)
    assert diagnostic.code == "E107"
    parse_ok("#" * 4_000_000)
