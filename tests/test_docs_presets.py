"""The guide's table of dataflow presets (docs/language/guide.md, "Dataflows") states what
`dslc.mapping.check.allowed_dims` allows on each axis, for a conv."""

from __future__ import annotations

from pathlib import Path

from dslc import api
from dslc.lower.lower import lower_network
from dslc.mapping.check import allowed_dims
from dslc.spec.accelerator import DATAFLOW_PRESETS, DataflowSpec

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "language" / "guide.md"
CONV = """network n {
    input x: [4, 8, 8]
    layer c = conv(x, out = 8, kernel = 3, groups = 2)
}
"""


def _table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in GUIDE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].strip("`") in DATAFLOW_PRESETS:
            x, y = (part.strip() for part in cells[3].split(";"))
            rows[cells[0].strip("`")] = (x, y)
    return rows


def test_the_guide_states_each_preset() -> None:
    problem = lower_network(api.network(api.compile(text=CONV), "n"), 1).problem("c")
    assert problem is not None
    table = _table()
    assert set(table) == set(DATAFLOW_PRESETS)
    for preset, (x_text, y_text) in table.items():
        x, y = allowed_dims(DataflowSpec(preset=preset), problem)  # type: ignore[arg-type]
        for allowed, text in ((x, x_text), (y, y_text)):
            if text == "any":
                assert allowed is None, preset
            else:
                assert allowed == frozenset(text.replace(" ", "").split(",")), preset


TEMPLATES = """template res(x) {
    layer a = conv(x, out = channels(x), kernel = 3, pad = 1)
    return relu(add(a, x))
}
template plain(x) {
    layer a = conv(x, out = 4, kernel = 1)
    return a
}
network n {
    input x: [4, 8, 8]
    layer b = res(x)
    layer c = plain(b)
    layer d = dense(flatten(c), out = 2)
}
"""


def test_template_layer_names_as_the_guide_says() -> None:
    # docs/language/guide.md, "Templates": `<layer>.<inner>`, `<layer>.out` for a returned
    # expression and `<layer>.out.<op>` for the calls nested in it.
    rows = api.layer_table(api.compile(text=TEMPLATES))["n"]
    assert [(r.name, r.op) for r in rows] == [
        ("b.a", "conv"), ("b.out.add", "add"), ("b.out", "elementwise"), ("c.a", "conv"),
        ("d.flatten", "flatten"), ("d", "dense")]
    assert "`b.out.<op>` (`b.out.add`)" in GUIDE.read_text()


def test_a_point_needs_every_parameter() -> None:
    # docs/language/guide.md, "Mappings": a missing parameter is E704 listing its values.
    tiny = (Path(__file__).resolve().parent / "codesign" / "tiny.cd").read_text()
    program = api.compile(text=tiny + "mapping m for tiny_space(depth = 1, kernel = 1, "
                          "width = 8).a on grid(rows = 8) { DRAM { } GLB { } PE { } RF { } }\n")
    (error,) = [d for d in program.diagnostics if d.is_error]
    assert error.code == "E704"
    assert error.message == "no value for parameter `glb` of accelerator `grid`"
    assert error.help == "add `glb = ...`; its values: 4KiB, 16KiB"
    assert "which must give every parameter that has more than one\nvalue (a missing one " \
        "is E704" in GUIDE.read_text()


SAMPLES = {"size": "64b", "words": "8 words", "energy": "1pJ", "frequency": "1GHz",
           "time": "1ns", "area": "100um2", "length": "28nm", "fraction": "50%",
           "bandwidth": "1GB/s", "power": "1mW", "cycles": "4 cycles", "number": "4"}
"""A value of each dimension (and a plain number)."""


def _units_table() -> list[tuple[str, str, set[str]]]:
    text = GUIDE.read_text().split("### Units of each property", 1)[1].split("\n\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in ("accelerator", "memory", "compute"):
            dims = {part.split(" (")[0].strip() for part in cells[2].split(", ")}
            for prop in cells[1].split(", "):
                rows.append((cells[0], prop.strip("`"), dims))
    return rows


def _accelerator(block: str, prop: str, value: str) -> str:
    blocks: dict[str, dict[str, str]] = {"accelerator": {"word": "16b", "clock": "1GHz"},
                                         "memory": {"size": "64KiB"}, "compute": {}}
    blocks[block][prop] = value

    def body(block: str) -> str:
        return ", ".join(f"{k} = {v}" for k, v in blocks[block].items())

    return (f"accelerator a {{ {body('accelerator')} memory DRAM {{ }} "
            f"memory M {{ {body('memory')} }} compute MAC {{ {body('compute')} }} }}\n")


def test_the_guide_states_the_units_of_every_property() -> None:
    rows = _units_table()
    assert len(rows) == 18
    for block, prop, dims in rows:
        accepted = {dim for dim, value in SAMPLES.items()
                    if not [d for d in api.compile(text=_accelerator(block, prop, value))
                            .diagnostics if d.is_error]}
        assert accepted == dims, (block, prop)
