"""Elaboration tests: units to base units, spaces, points, names, and clean diagnostics."""

from __future__ import annotations

import pytest

from dslc.api import compile
from dslc.diagnostics.diagnostic import Diagnostic, UsageError
from dslc.sema.program import Program
from dslc.sema.units import UNITS, format_quantity
from dslc.spec.accelerator import AcceleratorSpec, FanoutSpec, MemorySpec


def program(text: str) -> Program:
    return compile("t.cd", text=text.encode())


def clean(text: str) -> Program:
    result = program(text)
    assert [(d.code, d.message) for d in result.diagnostics] == []
    return result


def codes(text: str) -> list[str]:
    return [d.code for d in program(text).diagnostics]


def only(text: str) -> Diagnostic:
    diagnostics = program(text).diagnostics
    assert len(diagnostics) == 1, [(d.code, d.message) for d in diagnostics]
    return diagnostics[0]


ACC = """
accelerator acc {{
    word  = 16b
    clock = 200MHz
    memory DRAM {{ width = 64b, read = 200pJ, write = 200pJ }}
    {body}
    compute MAC {{ energy = 1pJ }}
}}
"""


def accelerator(body: str, point: tuple[tuple[str, object], ...] = ()) -> AcceleratorSpec:
    return clean(ACC.format(body=body)).accelerators["acc"].instantiate(point)  # type: ignore[arg-type]


def memory(spec: AcceleratorSpec, name: str) -> MemorySpec:
    level = next(level for level in spec.hierarchy if level.name == name)
    assert isinstance(level, MemorySpec)
    return level


# ---- units ---------------------------------------------------------------------------------


def test_sizes_are_converted_to_bits() -> None:
    spec = accelerator("""
        memory GLB { size = 108KiB, width = 64b }
        memory A   { size = 2MiB }
        memory B   { size = 3KB }
        memory C   { size = 100B }
        memory D   { size = 6 bytes }
        memory E   { size = 12 words }
        memory F   { size = 12 words, word = 8b }
        memory G   { size = 1 word, holds = [weight] }
    """)
    assert memory(spec, "GLB").size_bits == 884736
    assert memory(spec, "GLB").width_bits == 64
    assert memory(spec, "GLB").block_words == 4
    assert memory(spec, "A").size_bits == 2 * 8 * 1024 * 1024
    assert memory(spec, "B").size_bits == 24000
    assert memory(spec, "C").size_bits == 800
    assert memory(spec, "D").size_bits == 48
    assert memory(spec, "E").size_bits == 192  # 12 words of the accelerator's 16-bit word
    assert memory(spec, "F").size_bits == 96  # the level's own 8-bit word
    assert memory(spec, "F").word_bits == 8
    assert memory(spec, "G").size_bits == 16


def test_frequency_energy_and_defaults() -> None:
    spec = accelerator("memory RF { size = 64 words }")
    assert spec.clock_hz == 2e8
    assert spec.word_bits == 16
    assert spec.technology_nm == 45.0
    dram = memory(spec, "DRAM")
    assert dram.size_bits is None  # no size: unbounded
    assert dram.read_energy_pj == 200.0
    assert memory(spec, "RF").width_bits == 16  # default width: one word
    assert spec.compute.energy_pj == 1.0
    assert spec.compute.word_bits == 16


@pytest.mark.parametrize(("energy", "pj"), [("5fJ", 0.005), ("1.5pJ", 1.5), ("2nJ", 2000.0)])
def test_energies_are_converted_to_pj(energy: str, pj: float) -> None:
    spec = accelerator(f"memory RF {{ size = 64 words, read = {energy} }}")
    assert memory(spec, "RF").read_energy_pj == pytest.approx(pj)


def test_power_and_bandwidth_become_per_cycle() -> None:
    spec = accelerator("""memory RF { size = 64 words, leakage = 2mW, bandwidth = 32GB/s,
                                      area = 1mm2 }""")
    rf = memory(spec, "RF")
    assert rf.leakage_pj_per_cycle == pytest.approx(10.0)  # 2 mW / 200 MHz = 10 pJ
    assert rf.read_bandwidth_words == pytest.approx(80.0)  # 256 Gb/s / 200 MHz / 16 b
    assert rf.write_bandwidth_words == pytest.approx(80.0)
    assert rf.shared_bandwidth
    assert rf.area_um2 == pytest.approx(1e6)


def test_words_per_cycle_bandwidth_and_buffering() -> None:
    spec = accelerator("memory RF { size = 64 words, read_bandwidth = 4, write_bandwidth = 2,"
                       " buffering = 2 }")
    rf = memory(spec, "RF")
    assert (rf.read_bandwidth_words, rf.write_bandwidth_words) == (4.0, 2.0)
    assert not rf.shared_bandwidth
    assert rf.buffering == 2


def test_technology_and_percentages() -> None:
    text = ACC.format(body="memory RF { size = 64 words }").replace(
        "clock = 200MHz", "clock = 1GHz technology = 22nm")
    spec = clean(text).accelerators["acc"].instantiate()
    assert spec.technology_nm == 22.0
    assert spec.clock_hz == 1e9
    net = clean("network n { input x: [4] layer a = relu(x) accuracy = 71.5% }")
    assert net.networks["n"].instantiate().accuracy == pytest.approx(0.715)


def test_unit_table_is_consistent() -> None:
    assert UNITS["KiB"].factor == 8 * 1024
    assert UNITS["%"].factor == 0.01
    assert {u.dimension for u in UNITS.values()} >= {"size", "energy", "frequency", "time",
                                                      "area", "fraction"}
    assert format_quantity(884736, "size") == "108KiB"
    assert format_quantity(2e8, "frequency") == "200MHz"


def test_a_size_where_an_energy_is_expected() -> None:
    diagnostic = only(ACC.format(body="memory RF { size = 64 words, read = 64KiB }"))
    assert diagnostic.code == "E301"
    assert diagnostic.span is not None and diagnostic.span.text == "64KiB"


# ---- accelerator structure -------------------------------------------------------------------


def test_hierarchy_order_names_and_mesh() -> None:
    spec = accelerator("""
        memory GLB { size = 108KiB, holds = [input, output] }
        fanout PE  { mesh = 14 x 12, dataflow = row_stationary }
        memory RF  { size = 12 words, holds = [input] }
    """)
    assert [level.name for level in spec.hierarchy] == ["DRAM", "GLB", "PE", "RF"]
    fanout = spec.hierarchy[2]
    assert isinstance(fanout, FanoutSpec)
    assert (fanout.mesh_x, fanout.mesh_y) == (14, 12)
    assert fanout.dataflow.preset == "row_stationary"
    assert spec.mac_units == 168
    assert memory(spec, "GLB").holds == ("input", "output")
    assert memory(spec, "DRAM").holds == ("input", "weight", "output")


def test_explicit_dataflow_keeps_the_fanout_name() -> None:
    spec = accelerator("""
        fanout PE { mesh = 16 x 16, dataflow { x = [C], y = [K], stationary = weight } }
        memory RF { size = 64 words }
    """)
    fanout = spec.hierarchy[1]
    assert isinstance(fanout, FanoutSpec)
    assert fanout.name == "PE"
    assert (fanout.dataflow.x, fanout.dataflow.y) == (("C",), ("K",))
    assert fanout.dataflow.stationary == "weight"
    assert fanout.dataflow.preset is None


def test_one_dimensional_mesh() -> None:
    spec = accelerator("fanout PE { mesh = 8 } memory RF { size = 64 words }")
    fanout = spec.hierarchy[1]
    assert isinstance(fanout, FanoutSpec)
    assert (fanout.mesh_x, fanout.mesh_y) == (8, 1)


def test_weight_stationary_preset_sets_the_stationary_tensor() -> None:
    spec = accelerator("fanout PE { mesh = 4 x 4, dataflow = weight_stationary } "
                       "memory RF { size = 64 words }")
    fanout = spec.hierarchy[1]
    assert isinstance(fanout, FanoutSpec)
    assert fanout.dataflow.stationary == "weight"


def test_failed_level_does_not_make_the_fanout_last() -> None:
    # The duplicate `buf` is one error; the fanout still has a memory below it as written.
    text = ACC.format(body="memory buf { size = 1KiB } fanout PE { mesh = 2 x 2 } "
                           "memory buf { size = 64 words }")
    assert codes(text) == ["E202"]


# ---- spaces ---------------------------------------------------------------------------------


SPACE = """
accelerator fam {
    param rows in {8, 12, 16, 32}
    param cols in 8..16 step 4
    param glb  in {64KiB, 108KiB, 256KiB}
    param flow in {weight_stationary, output_stationary, row_stationary}
    word  = 16b
    clock = 200MHz
    memory DRAM { read = 200pJ, write = 200pJ }
    memory GLB  { size = glb }
    fanout PE   { mesh = rows x cols, dataflow = flow }
    memory RF   { size = 64 words }
    compute MAC { energy = 1pJ }
}
"""


def test_space_sizes_and_domains() -> None:
    result = program(SPACE)
    assert [d.code for d in result.diagnostics] == ["N701"]  # 108 points: checked on a sample
    entry = result.accelerators["fam"]
    assert entry.size == 4 * 3 * 3 * 3
    space = result.accelerators["fam"]
    assert [p.name for p in space.params] == ["rows", "cols", "glb", "flow"]
    assert space.params[1].values == (8, 12, 16)
    assert space.params[2].values == (64 * 8192, 108 * 8192, 256 * 8192)
    assert space.params[2].labels == ("64KiB", "108KiB", "256KiB")
    assert space.params[3].values == ("weight_stationary", "output_stationary",
                                      "row_stationary")
    assert space.size == entry.size


def test_instantiate_a_point() -> None:
    result = program(SPACE)
    point = (("cols", 12), ("flow", "row_stationary"), ("glb", 108 * 8192), ("rows", 14))
    with pytest.raises(UsageError, match="14 is not a value of `rows`"):
        result.accelerators["fam"].instantiate(point)
    point = (("cols", 12), ("flow", "row_stationary"), ("glb", 108 * 8192), ("rows", 16))
    spec = result.accelerators["fam"].instantiate(point)
    assert spec.point == point
    assert memory(spec, "GLB").size_bits == 884736
    fanout = spec.hierarchy[2]
    assert isinstance(fanout, FanoutSpec)
    assert (fanout.mesh_x, fanout.mesh_y, fanout.dataflow.preset) == (16, 12, "row_stationary")


def test_point_order_is_mixed_radix() -> None:
    space = program(SPACE).accelerators["fam"]
    assert space.point_at(0) == (
        ("cols", 8), ("flow", "weight_stationary"), ("glb", 64 * 8192.0), ("rows", 8))
    # The last parameter varies fastest.
    assert dict(space.point_at(1))["flow"] == "output_stationary"
    last = space.point_at(space.size - 1)
    assert dict(last) == {"rows": 32, "cols": 16, "glb": 256 * 8192.0,
                          "flow": "row_stationary"}
    assert space.index_of(last) == space.size - 1
    assert [space.index_of(point) for point in space.points()] == list(range(space.size))
    # A point given as a mapping, with a value that is equal but not identical, resolves.
    assert space.resolve({**dict(last), "glb": 256 * 8192 * (1 + 1e-12)}) == last


@pytest.mark.parametrize(("domain", "values"), [
    ("{3, 5, 7}", (3, 5, 7)),
    ("1..4", (1, 2, 3, 4)),
    ("0..10 step 5", (0, 5, 10)),
    ("1..10 step 4", (1, 5, 9)),
    ("4..4", (4,)),
    ("{2, 2, 3}", (2, 3)),
    ("[1, 2]", (1, 2)),
])
def test_parameter_domains(domain: str, values: tuple[int, ...]) -> None:
    text = f"network n {{ param p in {domain} input x: [p + 1] layer a = relu(x) }}"
    entry = clean(text).networks["n"]
    assert entry.params[0].values == values


def test_quantity_range_with_step() -> None:
    text = SPACE.replace("{64KiB, 108KiB, 256KiB}", "64KiB..256KiB step 64KiB")
    entry = program(text).accelerators["fam"]
    assert entry.params[2].values == (64 * 8192, 128 * 8192, 192 * 8192, 256 * 8192)


@pytest.mark.parametrize(("domain", "code"), [
    ("{}", "E701"), ("4..1", "E701"), ("1..4 step 0", "E302"), ("1..4 step -1", "E302"),
    ("1KiB..4KiB step 1pJ", "E301"), ("1KiB..4KiB step 0KiB", "E302"),
    ("1KiB..4KiB", "E303"), ("3", "E303"), ("1..1000000", "E302"), ("{[1, 2]}", "E303"),
])
def test_bad_domains_report_once(domain: str, code: str) -> None:
    # One error for the domain; the parameter's uses are not reported again.
    text = f"network n {{ param p in {domain} input x: [3] layer a = relu(x) }}"
    assert codes(text) == [code]


def test_duplicate_parameter() -> None:
    diagnostic = only("network n { param p in {1} param p in {2} input x: [p] "
                      "layer a = relu(x) }")
    assert diagnostic.code == "E202"


def test_unused_parameter_is_a_warning_only_when_the_space_builds() -> None:
    assert codes("network n { param p in {1, 2} input x: [3] layer a = relu(x) }") == ["W201"]
    assert codes("network n { param p in {1, 2} input x: [3] layer a = relu(y) }") == ["E201"]


# ---- points ---------------------------------------------------------------------------------


def _reference(args: str) -> list[str]:
    text = SPACE + (
        "network net { input x: [3, 8, 8] layer a = conv(x, out = 4, kernel = 3) }\n"
        f"codesign c {{ networks = net, accelerators = fam, reference = fam({args}) }}")
    return [d.code for d in program(text).diagnostics if d.code != "N701"]


def test_point_resolution() -> None:
    full = "rows = 16, cols = 12, glb = 108KiB, flow = row_stationary"
    assert _reference(full) == []
    assert _reference("rows = 14, cols = 12, glb = 108KiB, flow = row_stationary") == ["E702"]
    assert _reference("rows = 16, cols = 12, glb = 100KiB, flow = row_stationary") == ["E702"]
    assert _reference("rows = 16, cols = 12, glb = 108, flow = row_stationary") == ["E702"]
    assert _reference("rows = 16, cols = 12, glb = 108KiB, flow = free") == ["E702"]
    assert _reference(full + ", depth = 3") == ["E703"]
    assert _reference("rows = 16, cols = 12, glb = 108KiB") == ["E704"]
    assert _reference(full + ", rows = 8") == ["E210"]
    assert _reference("16, cols = 12, glb = 108KiB, flow = row_stationary") == ["E303"]


def test_points_fill_single_valued_parameters() -> None:
    result = clean("accelerator a { param w in {16b} word = w clock = 1GHz "
                   "memory D { } compute M { } }")
    space = result.accelerators["a"]
    assert space.resolve() == (("w", 16),)
    assert space.instantiate().word_bits == 16


def test_points_outside_a_space_are_usage_errors_that_name_the_values() -> None:
    space = program(SPACE).accelerators["fam"]
    with pytest.raises(UsageError, match=r"no value for parameter `rows`.*8, 12, 16, 32"):
        space.instantiate({"cols": 12, "glb": 108 * 8192, "flow": "row_stationary"})
    with pytest.raises(UsageError, match="has no parameter `depth`"):
        space.resolve({"depth": 3})
    with pytest.raises(UsageError, match="no point 108"):
        space.point_at(108)


# ---- networks -----------------------------------------------------------------------------


NET = """
template blk(x, out, kernel = 3) {
    layer c = conv(x, out = out, kernel = kernel, pad = same)
    layer r = relu(c)
    return r
}
network n {
    input x: [3, 8, 8]
    param d in 1..3 step 2
    layer a = blk(x, 4)
    block s = repeat d from a { layer q = conv(prev, out = channels(prev) * 2, kernel = 1) }
    layer h = dense(flatten(s), out = 10)
}
"""


def test_layer_names_of_templates_repeats_and_nested_calls() -> None:
    result = clean(NET)
    assert result.networks["n"].size == 2
    network = result.networks["n"].instantiate((("d", 3),))
    assert [layer.name for layer in network.layers] == [
        "a.c", "a.r", "s.0.q", "s.1.q", "s.2.q", "h.flatten", "h"]
    assert network.point == (("d", 3),)
    channels = [getattr(layer, "out_channels", None) for layer in network.layers]
    assert channels[2:5] == [8, 16, 32]


def test_network_builds_at_every_point_of_its_space() -> None:
    result = clean(NET)
    for point in ((("d", 1),), (("d", 3),)):
        network = result.networks["n"].instantiate(point)
        repeats = [layer for layer in network.layers if layer.name.startswith("s.")]
        assert len(repeats) == point[0][1]


def test_shape_errors_point_at_the_offending_layer() -> None:
    diagnostic = only("""network n {
        input x: [64, 8, 8]
        layer a = conv(x, out = 128, kernel = 1)
        layer y = add(a, x)
    }""")
    assert diagnostic.code == "E401"
    assert diagnostic.span is not None and diagnostic.span.text == "x"


def test_a_failed_layer_is_reported_once() -> None:
    # `a` fails; `b` and `c` use it and are not reported again.
    text = """network n {
        input x: [3, 8, 8]
        layer a = conv(x, out = 4)
        layer b = relu(a)
        layer c = add(a, b)
    }"""
    assert codes(text) == ["E209"]


def test_repeat_count_limits() -> None:
    base = "network n {{ input x: [3] block r = repeat {n} from x {{ relu(prev) }} }}"
    assert codes(base.format(n=0)) == ["E404"]  # no layers
    assert codes(base.format(n=-1)) == ["E403"]
    assert codes(base.format(n="1.5")) == ["E403"]
    assert codes(base.format(n=10**9)) == ["E403"]


def test_the_codesign_properties_examples_elaborate() -> None:
    """Each `e.g. `...`` of a co-design property's help (the reference's table) is a value
    the property takes (`time_limit`'s said `30min`, which is not a quantity)."""
    import re

    from dslc.sema.codesign import CODESIGN_PROPERTIES

    base = """
network n { input x: [3, 8, 8] layer a = conv(x, out = 4, kernel = 3) }
accelerator acc { word = 16b clock = 1GHz memory DRAM { width = 64b }
    fanout PE { mesh = 2 x 2 } memory RF { size = 64 words } compute MAC { } }
"""
    for name in ("time_limit",):
        (example,) = re.findall(r"e\.g\. `([^`]+)`", CODESIGN_PROPERTIES[name])
        clean(base + f"codesign c {{ networks = n accelerators = acc {name} = {example} }}")
