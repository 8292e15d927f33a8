"""Map-space constraints in the language: what `constraints` blocks elaborate to (on an
accelerator, in a mapper block, as `dslc map --constraints` text), their diagnostics
(E609, E610, E611, W601, with spans), lexicographic mapping objectives, and the constraints
reaching the mapper through `dslc map` and `dslc run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.codesign.request import mapper_options
from dslc.diagnostics.diagnostic import Diagnostic, DiagnosticError, UsageError
from dslc.mapper import NoValidMappingError
from dslc.sema.program import Program
from dslc.spec.constraints import (
    FactorRule,
    KeepConstraint,
    MapConstraints,
    OrderConstraint,
    SlotConstraint,
)

runner = CliRunner()

NET = """
network net {
    input x: [8, 8, 8]
    layer a = conv(x, out = 16, kernel = 3, pad = 1)   # K 16, C 8, P 8, Q 8, R 3, S 3
}
"""
ACC = """
accelerator tiny {{
    word  = 16b
    clock = 200MHz
    memory DRAM {{ read = 200pJ, write = 200pJ }}
    memory GLB  {{ size = 16KiB }}
    fanout PE   {{ mesh = 4 x 4, dataflow {{ x = [C], y = [K] }} }}
    memory RF   {{ size = 64 words, holds = [weight, output] }}
    compute MAC {{ energy = 1pJ }}
    {constraints}
}}
"""


def program(text: str) -> Program:
    return api.compile("t.cd", text=text.encode())


def found(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in program(text).diagnostics]


def only(text: str) -> Diagnostic:
    diagnostics = program(text).diagnostics
    assert len(diagnostics) == 1, [(d.code, d.message) for d in diagnostics]
    return diagnostics[0]


def acc(constraints: str) -> str:
    return NET + ACC.format(constraints=constraints)


def request(mapper: str, constraints: str = "") -> str:
    return acc(constraints) + f"""
codesign c {{
    networks     = net
    accelerators = tiny
    mapper {{ {mapper} }}
}}
"""


def test_an_accelerator_block_elaborates_to_its_constraints() -> None:
    text = acc("""constraints {
        DRAM { factors [R 1, S = 1] }
        GLB  { factors [K 4, C <= 8, P >= 2, Q all], forbid [R], order [K, ..., C],
               bypass [weight] }
        PE   { spatial x [C 4], idle y, allow x [C, K] }
        RF   { allow [K, R, S], keep [weight] order [..., R, S] }
    }""")
    assert found(text) == []
    spec = program(text).accelerators["tiny"].instantiate()
    origin = "accelerator `tiny`"
    assert spec.constraints == MapConstraints(
        slots=(SlotConstraint(target="DRAM", factors=(FactorRule(dim="R", value=1),
                                                     FactorRule(dim="S", value=1)),
                              origin=origin),
               SlotConstraint(target="GLB", factors=(
                   FactorRule(dim="K", value=4), FactorRule(dim="C", op="<=", value=8),
                   FactorRule(dim="P", op=">=", value=2), FactorRule(dim="Q", value=None)),
                   forbid=("R",), origin=origin),
               SlotConstraint(target="PE", axis="x", factors=(FactorRule(dim="C", value=4),),
                              allow=("C", "K"), origin=origin),
               SlotConstraint(target="PE", axis="y", allow=(), origin=origin),
               SlotConstraint(target="RF", allow=("K", "R", "S"), origin=origin)),
        orders=(OrderConstraint(target="GLB", outer=("K",), inner=("C",), origin=origin),
                OrderConstraint(target="RF", inner=("R", "S"), origin=origin)),
        keeps=(KeepConstraint(target="GLB", bypass=("weight",), origin=origin),
               KeepConstraint(target="RF", keep=("weight",), origin=origin)))
    assert spec.constraints.targets() == ("DRAM", "GLB", "PE", "RF")
    # An order without `...` lists every dim with a loop there.
    closed = program(acc("constraints { GLB { order [K, C] } }"))
    assert closed.accelerators["tiny"].instantiate().constraints.orders == (
        OrderConstraint(target="GLB", outer=("K", "C"), others=False, origin=origin),)


def test_constraints_may_use_the_accelerators_parameters() -> None:
    text = NET + """
accelerator fam {
    param rows in {2, 4}
    word  = 16b
    clock = 200MHz
    memory DRAM { read = 200pJ, write = 200pJ }
    fanout PE   { mesh = rows x 4 }
    memory RF   { size = 64 words }
    compute MAC { energy = 1pJ }
    constraints { PE { spatial x [K rows] } }
}
"""
    assert found(text) == []
    space = program(text).accelerators["fam"]
    rules = [space.instantiate(point).constraints.slots[0].factors[0].value
             for point in space.points()]
    assert rules == [2, 4]


def test_an_idle_axis_in_the_dataflow_is_allowed() -> None:
    # `y = []` on a mesh wider than 1 leaves Y idle (it used to be E502).
    text = NET + ACC.format(constraints="").replace("y = [K]", "y = []")
    assert found(text) == []
    found_mapping = api.map_layer(program(text), "net", "a", "tiny",
                                  options=api.mapper_settings(budget=300))
    assert all(loop.axis == "x" for level in found_mapping.result.mapping.levels
               for loop in level.spatial)


@pytest.mark.parametrize(("constraints", "message"), [
    ("constraints { GLBB { factors [K 4] } }", "accelerator `tiny` has no level `GLBB`"),
    ("constraints { GLB { factors [K 4] } GLB { forbid [R] } }",
     "level `GLB` is constrained twice"),
    ("constraints { GLB { spatial x [K 4] } }", "`GLB` is a memory: it takes no `spatial`"),
    ("constraints { PE { factors [K 4] } }", "`PE` is a fanout: it takes no `factors`"),
    ("constraints { PE { keep [input] } }", "`PE` is a fanout: it takes no `keep`"),
    ("constraints { PE { idle z } }", "unknown mesh axis `z`"),
    ("constraints { GLB { forbid x [K] } }", "`GLB` is a memory: it has no mesh axis"),
    ("constraints { GLB { factors [K 0] } }", "the factor of `K` must be at least 1, found 0"),
    ("constraints { GLB { factors [K <= all] } }", "`all` is a factor, not a bound: write "
                                                   "`K all`"),
    ("constraints { GLB { forbid [R, R] } }", "`R` is listed twice"),
    ("constraints { GLB { order [K, ..., C, ...] } }", "an order has at most one `...`"),
    ("constraints { GLB { order [...] } }", "an order lists at least one dim"),
    ("constraints { GLB { forbid [R] forbid [S] } }", "`forbid` is given twice for `GLB`"),
    ("constraints { GLB { forbid [R] } } constraints { RF { forbid [R] } }",
     "accelerator `tiny` has two `constraints` blocks"),
])
def test_invalid_constraints_are_e609(constraints: str, message: str) -> None:
    diagnostic = only(acc(constraints))
    assert (diagnostic.code, diagnostic.message) == ("E609" if "at least 1" not in message
                                                     else "E302", message)


@pytest.mark.parametrize(("constraints", "code", "message"), [
    ("constraints { PE { spatial x [C 8] } }", "E610",
     "the spatial factors fixed at `PE` X need 8 instances (C 8), the mesh has 4 there"),
    ("constraints { PE { spatial y [C 2] } }", "E610",
     "the dataflow of `PE` does not unroll `C` across Y"),
    ("constraints { PE { idle y, spatial y [K 2] } }", "E610",
     "`K` is fixed to 2 at `PE` Y, but the axis is idle"),
    ("constraints { GLB { factors [R 3], forbid [R] } }", "E610",
     "`R` is fixed to 3 at `GLB`, but it is forbidden there"),
    ("constraints { GLB { factors [K 4], allow [C] } }", "E610",
     "`K` is fixed to 4 at `GLB`, but only C may have loops there"),
    ("constraints { GLB { factors [K >= 8, K <= 4] } }", "E609", "`K` is listed twice"),
    ("constraints { GLB { factors [K 4], order [C, P] } }", "E610",
     "`K` has a factor above 1 at `GLB`, but the order [C, P] has no `...`: only the dims it "
     "lists have loops there"),
    ("constraints { GLB { factors [Q all] } RF { factors [Q all] } }", "E610",
     "`Q` cannot have its whole bound (`all`) at `GLB` and `RF`"),
    ("constraints { GLB { keep [weight], bypass [weight] } }", "E610",
     "`weight` must be both kept at `GLB` and bypass it"),
    ("constraints { RF { keep [input] } }", "E611",
     "`RF` cannot keep `input`: it holds only weight, output"),
    ("constraints { DRAM { bypass [output] } }", "E611",
     "`output` cannot bypass `DRAM`: the outermost memory is the backing store and keeps every "
     "tensor"),
])
def test_contradictions_are_e610_and_impossible_keeps_e611(constraints: str, code: str,
                                                           message: str) -> None:
    diagnostic = only(acc(constraints))
    assert (diagnostic.code, diagnostic.message) == (code, message)
    assert diagnostic.span is not None and diagnostic.span.text in constraints


def test_forced_keeps_that_cannot_fit_one_word_each() -> None:
    text = acc("constraints { RF { keep [weight, output] } }").replace("size = 64 words, holds",
                                                                       "size = 1 words, holds")
    messages = found(text)
    assert ("E610", "`RF` must keep 2 tensors (output, weight), but it holds 1 word: not even "
                    "one word of each fits") in messages


def test_a_mapper_block_takes_constraints_and_a_lexicographic_objective() -> None:
    text = request("""objective = [latency, energy]
        constraints { GLB { factors [K 2] } PE { spatial x [C 4] } RF { bypass [output] } }""",
                   "constraints { RF { forbid [R] } }")
    assert found(text) == []
    spec = program(text).codesigns["c"]
    assert spec.mapper.objective == ("latency", "energy")
    origin = "the mapper of `c`"
    assert spec.mapper.constraints == MapConstraints(
        slots=(SlotConstraint(target="GLB", factors=(FactorRule(dim="K", value=2),),
                              origin=origin),
               SlotConstraint(target="PE", axis="x", factors=(FactorRule(dim="C", value=4),),
                              origin=origin)),
        keeps=(KeepConstraint(target="RF", bypass=("output",), origin=origin),))
    options = mapper_options(spec)
    assert options.objective == ("latency", "energy")
    assert options.constraints == spec.mapper.constraints
    # One name in a list is that objective.
    single = program(request("objective = [energy]")).codesigns["c"]
    assert single.mapper.objective == "energy"


@pytest.mark.parametrize(("mapper", "code", "message"), [
    ("objective = [latency, area]", "E705", "unknown mapping objective `area`"),
    ("objective = [energy, energy]", "E705", "`energy` is listed twice"),
    ("objective = []", "E705", "the objective list is empty"),
    ("constraints { GLBB { forbid [R] } }", "E609", "accelerator `tiny` has no level `GLBB`"),
    ("constraints { GLB { factors [K 2] } }", "E610",
     "`K` gets two factors at `GLB`: 4 (accelerator `tiny`) and 2 here"),
    ("constraints { GLB { factors [Z 2] } }", "W601", "no layer of `net` has a dim `Z`"),
    ("constraints { GLB { keep [psum] } }", "W601", "no layer of `net` has a tensor `psum`"),
])
def test_mapper_block_diagnostics(mapper: str, code: str, message: str) -> None:
    diagnostic = only(request(mapper, "constraints { GLB { factors [K 4] } }"
                              if "K 2" in mapper else ""))
    assert (diagnostic.code, diagnostic.message) == (code, message)


def test_request_constraints_may_name_levels_of_any_searched_accelerator() -> None:
    other = """
accelerator other {
    word  = 16b
    clock = 200MHz
    memory DRAM { read = 200pJ, write = 200pJ }
    memory SRAM { size = 32KiB }
    compute MAC { energy = 1pJ }
}
"""
    text = acc("") + other + """
codesign both {
    networks     = net
    accelerators = [tiny, other]
    mapper { constraints { GLB { factors [K 2] } SRAM { forbid [R] } } }
}
"""
    assert found(text) == []
    bad = text.replace("SRAM { forbid", "SRAMM { forbid")
    assert found(bad) == [("E609", "any accelerator of the request has no level `SRAMM`")]


# ---- through the API and the command line ---------------------------------------------------


@pytest.fixture
def spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "spec.cd"
    path.write_text(request("search = heuristic, budget = 1000",
                            "constraints { RF { forbid [R, S] } }")
                    .replace("mapper { search", "mapper { objective = [latency, energy], "
                                                "constraints { PE { spatial y [K 4] } }, search"))
    return path


def test_map_constraints_text_is_checked_against_the_accelerator(spec_file: Path) -> None:
    compiled = api.compile(spec_file)
    found_constraints = api.map_constraints(compiled, "GLB { factors [K 2] } PE { idle y }",
                                            "tiny")
    assert found_constraints == MapConstraints(
        slots=(SlotConstraint(target="GLB", factors=(FactorRule(dim="K", value=2),),
                              origin="--constraints"),
               SlotConstraint(target="PE", axis="y", allow=(), origin="--constraints")))
    with pytest.raises(DiagnosticError) as raised:
        api.map_constraints(compiled, "RF { factors [R 3] }", "tiny")
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E610", "`R` is fixed to 3 at `RF`, but it is forbidden there (accelerator `tiny`)")
    assert diagnostic.span is not None and diagnostic.span.file.path == "--constraints"
    assert diagnostic.span.text == "R 3"
    with pytest.raises(DiagnosticError) as raised:
        api.map_constraints(compiled, "GLB { factors [K 2 }", "tiny")
    assert raised.value.diagnostics[0].code == "E102"


def test_map_layer_obeys_the_accelerators_and_the_given_constraints(spec_file: Path) -> None:
    compiled = api.compile(spec_file)
    given = api.map_constraints(compiled, "GLB { factors [K 2] }", "tiny")
    options = api.mapper_settings(budget=1000, objective="latency,energy", constraints=given)
    result = api.map_layer(compiled, "net", "a", "tiny", options=options)
    dims = result.problem.dims
    levels = {level.name: level for level in result.result.mapping.levels}
    assert [(dims[loop.dim], loop.factor) for loop in levels["GLB"].temporal
            if dims[loop.dim] == "K"] == [("K", 2)]
    assert not any(dims[loop.dim] in ("R", "S") for loop in levels["RF"].temporal)
    unconstrained = api.map_layer(compiled, "net", "a", "tiny", options=api.mapper_settings(
        budget=1000, objective="latency,energy"))
    assert result.result.mapspace_size < unconstrained.result.mapspace_size
    with pytest.raises(UsageError, match=r"the constraints name dim `Z`, which layer `a` does "
                                         r"not have"):
        api.map_layer(compiled, "net", "a", "tiny", options=api.mapper_settings(
            constraints=MapConstraints(slots=(SlotConstraint(target="GLB", forbid=("Z",)),))))
    with pytest.raises(UsageError, match=r"repeated"):
        api.mapper_settings(objective="energy,energy")
    with pytest.raises(NoValidMappingError) as raised:
        api.map_layer(compiled, "net", "a", "tiny", options=api.mapper_settings(
            constraints=api.map_constraints(compiled, "GLB { factors [K 3] }", "tiny")))
    assert raised.value.reasons == (
        "the factors fixed for `K` multiply to 3, which does not divide its bound 16: `GLB` "
        "[K 3] (--constraints)",)


def test_dslc_map_takes_objectives_and_constraints(spec_file: Path) -> None:
    result = runner.invoke(cli.app, [
        "map", "spec.cd", "-n", "net", "-l", "a", "-a", "tiny", "--format", "json",
        "--budget", "1000", "--objective", "latency,energy",
        "--constraints", "GLB { factors [K 2] } PE { idle y }"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    glb = next(level for level in data["mapping"]["levels"] if level["name"] == "GLB")
    assert ["K", 2] in glb["temporal"]
    assert glb["fanouts"].get("PE", {}).get("y", []) == []
    conflict = runner.invoke(cli.app, ["map", "spec.cd", "-n", "net", "-l", "a", "-a", "tiny",
                                       "--constraints", "GLB { factors [K 3] }"])
    assert conflict.exit_code == 1
    assert "error: no valid mapping of `a` on `tiny`:" in conflict.output
    assert "the factors fixed for `K` multiply to 3, which does not divide its bound 16" in \
        conflict.output
    invalid = runner.invoke(cli.app, ["map", "spec.cd", "-n", "net", "-l", "a", "-a", "tiny",
                                      "--constraints", "PE { spatial x [C 8] }"])
    assert invalid.exit_code == 1
    assert "error[E610]: the spatial factors fixed at `PE` X need 8 instances" in invalid.output
    assert " --> --constraints:1:17" in invalid.output
    unknown = runner.invoke(cli.app, ["map", "spec.cd", "-n", "net", "-l", "a", "-a", "tiny",
                                      "--objective", "delay"])
    assert unknown.exit_code == 2


@pytest.mark.parametrize(("constraints", "message"), [
    ("GLB { factors [Z 4] }", "error: the constraints name dim `Z`, which layer `a` does not "
                              "have (its dims: N, K, C, P, Q, R, S)"),
    ("GLB { keep [psum] }", "error: the constraints name tensor `psum`, which layer `a` does "
                            "not have (its tensors: input, output, weight)")])
def test_dslc_map_constraints_on_a_dim_or_tensor_the_layer_lacks_are_usage_errors(
        spec_file: Path, constraints: str, message: str) -> None:
    """docs/cli.md, `dslc map`: mistakes in --constraints are diagnostics (exit 1), but "a
    dim or tensor the layer does not have is a usage error (exit 2)"."""
    args = ["map", "spec.cd", "-n", "net", "-l", "a", "-a", "tiny", "--constraints",
            constraints]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""
    as_json = runner.invoke(cli.app, [*args, "--format", "json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"]["kind"] == "usage"


def test_dslc_run_maps_with_the_requests_constraints(spec_file: Path) -> None:
    design = api.run(api.compile(spec_file))
    assert design.options.objective_text == "latency, energy"
    (layer,) = design.result.layers
    mapping = layer.result.mapping
    dims = ("N", "K", "C", "P", "Q", "R", "S")
    spatial_y = [(loop.dim, loop.factor) for level in mapping.levels for loop in level.spatial
                 if loop.axis == "y"]
    assert spatial_y == [(dims.index("K"), 4)]
    rf = mapping.level("RF")
    assert not any(loop.dim in (dims.index("R"), dims.index("S")) for loop in rf.temporal)
    result = runner.invoke(cli.app, ["run", "spec.cd", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["layers"][0]["mapspace_size"] == layer.result.mapspace_size


def test_orders_of_a_request_and_its_accelerator_agree_as_the_mapper_decides() -> None:
    # `dslc lint` and the mapper decide with one rule (dslc.mapping.constraints `arrange`):
    # `[K, C]` and `[..., C]` agree (C is last in both) and map; `[K, ...]` and `[..., K]`
    # hold together when K is GLB's one loop or has none there, so both lint clean and map
    # (they were E610, "disagree"); only loops fixed factors force there can conflict.
    text = request("search = heuristic, budget = 300, constraints { GLB { order [..., C] } }",
                   "constraints { GLB { order [K, C] } }")
    assert found(text) == []
    (layer,) = api.run(program(text)).result.layers
    glb = layer.result.mapping.level("GLB")
    assert [loop.dim for loop in glb.temporal] in ([], [1], [2], [1, 2])  # K 1, C 2
    both = request("search = heuristic, budget = 300, constraints { GLB { order [..., K] } }",
                   "constraints { GLB { order [K, ...] } }")
    assert found(both) == []
    (layer,) = api.run(program(both)).result.layers
    glb = [loop.dim for loop in layer.result.mapping.level("GLB").temporal]
    assert 1 not in glb or glb == [1]  # K alone, or no K loop
    clash = request("constraints { GLB { order [C, ...], factors [C 2] } }",
                    "constraints { GLB { order [K, ...], factors [K 4] } }")
    assert found(clash) == [("E610", "`K` and `C` must have loops at `GLB` (factors [K 4] "
                                     "(accelerator `tiny`), factors [C 2]), but no order of "
                                     "them obeys order [K, ...] (accelerator `tiny`) and order "
                                     "[C, ...]")]
    (diagnostic,) = program(clash).diagnostics
    assert diagnostic.span is not None and diagnostic.help
