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
