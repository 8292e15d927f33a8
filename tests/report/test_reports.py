"""Reports that show what tells designs apart: engineering units, the parameters that vary
first and never cut (two tables when one does not fit), the `objective` key with its sign,
pairs.csv with one column per design parameter, and `to_pandas()`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dslc import api, cli, export
from dslc.report.codesign import design_columns, render_outcome
from dslc.report.cost import format_area, format_edp

TINY = Path(__file__).resolve().parent.parent / "codesign" / "tiny.cd"
QUICKSTART_LIKE = """network n {
    input x: [4, 6, 6]
    layer a = conv(x, out = 4, kernel = 3)
}
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 64KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
codesign one { networks = n accelerators = acc mapper { search = heuristic, budget = 50 } }
"""
PARAMS = ["depth", "kernel", "width", "flow", "glb", "rows"]
COLUMNS = ["depth", "kernel", "width", "flow", "glb_bits", "rows"]  # pairs.csv: with units


@pytest.fixture(scope="module")
def found() -> api.CoDesignRun:
    return api.search(api.compile(TINY), store=":memory:")


@pytest.mark.parametrize(("edp", "text"), [(1.101e8, "110.1 uJ*s"), (2.5e12, "2.5 J*s"),
                                           (3e9, "3 mJ*s"), (0.1633, "0.1633 pJ*s")])
def test_edp_in_engineering_units(edp: float, text: str) -> None:
    assert format_edp(edp) == text


def test_area_in_engineering_units() -> None:
    assert (format_area(1.179), format_area(0.06803), format_area(0.0012)) == \
        ("1.179 mm2", "0.06803 mm2", "1200 um2")


def test_the_varying_parameters_come_first(found: api.CoDesignRun) -> None:
    columns = design_columns(found.outcome)
    assert columns.headers() == PARAMS
    assert columns.fixed == ("network tiny_space", "accelerator grid")


def _render(found: api.CoDesignRun, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    console.print(render_outcome(found.outcome, width=width))
    return console.export_text()


def test_at_80_columns_nothing_is_cut(found: api.CoDesignRun) -> None:
    text = _render(found, 80)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines
               if not line.startswith(("strategy:", "reference:", "layers of"))) <= 80
    header = next(line for line in lines if line.split()[:2] == ["#", "depth"])
    assert header.split() == ["#", *PARAMS]  # the design table: every parameter in full
    first = next(line for line in lines if line.split()[:1] == ["1"])
    assert first.split() == ["1", "1", "1", "8", "weight_stationary", "4KiB", "8"]
    assert "best designs (minimize edp): figures" in text  # the figures on their own
    assert "…" not in text
    figures = next(line for line in lines if line.split()[:2] == ["#", "energy"])
    assert figures.split() == ["#", "energy", "latency", "EDP", "area"]
    assert "1.290 us" in text and "nJ" in text and "mm2" in text


def test_wide_terminals_get_one_table(found: api.CoDesignRun) -> None:
    text = _render(found, 160)
    assert ": figures" not in text
    header = next(line for line in text.splitlines() if line.split()[:2] == ["#", "depth"])
    assert header.split() == ["#", *PARAMS, "energy", "latency", "EDP", "area"]


def test_run_json_has_the_objective(found: api.CoDesignRun) -> None:
    data = export.outcome_to_json(found.outcome)
    assert list(data)[:4] == ["strategy", "reason", "objective", "pairs_total"]
    assert data["objective"] == "minimize edp"
    assert data["best"]["objective"] == data["best"]["edp"]


def test_a_maximised_objective_keeps_its_sign(found: api.CoDesignRun) -> None:
    best = found.outcome.best
    assert best is not None
    assert export.pair_json(best, -0.75, "maximize accuracy")["objective"] == 0.75
    assert export.pair_json(best, 0.75, "minimize edp")["objective"] == 0.75


def test_pairs_csv_has_a_column_per_parameter(found: api.CoDesignRun, tmp_path: Path) -> None:
    export.write_codesign(tmp_path, found.outcome)
    with (tmp_path / "pairs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [*export.PAIR_CSV_COLUMNS, *COLUMNS]
    assert len(rows) == found.outcome.pairs_evaluated
    best = rows[0]
    assert best["network"] == "tiny_space(depth=1, kernel=1, width=8)"
    assert (best["depth"], best["kernel"], best["width"], best["flow"], best["rows"]) == \
        ("1", "1", "8", "weight_stationary", "8")
    assert best["glb_bits"] == str(4 * 1024 * 8)  # base units (bits), so it plots as a number


SHARED_NAME = """network n {
    param k in {1, 3}
    param size in {4, 8}
    input x: [4, 6, 6]
    layer a = conv(x, out = size, kernel = k, pad = same)
}
accelerator acc {
    param size in {32KiB, 64KiB}
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = size, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
codesign sweep {
    networks = n accelerators = acc strategy = exhaustive
    mapper { search = heuristic, budget = 50 }
}
"""


def test_pairs_csv_columns_as_documented_with_a_name_both_kinds_use(tmp_path: Path) -> None:
    """docs/cli.md, `--out DIR`: pairs.csv has the columns `network, accelerator, objective,
    energy_pj, cycles, latency_s, edp, area_mm2, accuracy, feasible, pareto`, then the
    network's parameters and the accelerator's, each sorted by name, as `network.NAME` and
    `accelerator.NAME` when both kinds use a name, numbers in base units (sizes in bits)."""
    found = api.search(api.compile(text=SHARED_NAME), store=":memory:")
    export.write_codesign(tmp_path, found.outcome)
    with (tmp_path / "pairs.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "network", "accelerator", "objective", "energy_pj", "cycles", "latency_s", "edp",
        "area_mm2", "accuracy", "feasible", "pareto", "k", "network.size",
        "accelerator.size_bits"]
    assert len(rows) == 2 * 2 * 2 == found.outcome.pairs_evaluated
    assert {(row["k"], row["network.size"], row["accelerator.size_bits"]) for row in rows} == {
        (k, size, str(kib * 1024 * 8)) for k in ("1", "3") for size in ("4", "8")
        for kib in (32, 64)}


def test_to_pandas(found: api.CoDesignRun) -> None:
    pytest.importorskip("pandas")
    frame = found.to_pandas()
    assert list(frame.columns) == [*export.PAIR_CSV_COLUMNS, *COLUMNS]
    assert len(frame) == found.outcome.pairs_evaluated
    assert frame["width"].dtype.kind == "i" and frame["energy_pj"].dtype.kind == "f"
    assert frame.iloc[0]["flow"] == "weight_stationary"
    assert frame["edp"].min() == pytest.approx(found.outcome.best.metrics.edp)  # type: ignore[union-attr]
    design = api.run(api.compile(text=QUICKSTART_LIKE))
    layers = design.to_pandas()
    assert list(layers.columns) == list(export.LAYER_CSV_COLUMNS)
    assert list(layers["layer"]) == ["a"]


def test_single_design_json_has_the_objective(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.cd").write_text(QUICKSTART_LIKE)
    result = CliRunner().invoke(cli.app, ["run", "one.cd", "-f", "json", "--out", "out"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data)[:3] == ["network", "accelerator", "objective"]
    assert data["objective"] == "minimize edp"
    assert json.loads((tmp_path / "out" / "result.json").read_text())["objective"] == \
        "minimize edp"
    table = CliRunner().invoke(cli.app, ["run", "one.cd"])
    assert "EDP          " in table.stdout and "pJ*s" in table.stdout
    assert "mm2" in table.stdout


def test_dump_layers_table() -> None:
    result = CliRunner().invoke(cli.app, ["dump", str(TINY), "--stage", "layers"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert rows[0] == ["tiny_space:", "4", "layers"]
    assert rows[1] == ["layer", "op", "inputs", "output", "MACs", "weights"]
    assert rows[3] == ["a", "conv", "8x16x16", "8x16x16", "16,384", "64"]
    assert rows[6] == ["fc", "dense", "8", "10", "80", "80"]
    assert rows[-1] == ["total", "16,464", "144"]


def test_layer_table_of_resnet18() -> None:
    spec = Path(__file__).resolve().parent.parent.parent / "dslc/std/networks/resnet18.cd"
    rows = api.layer_table(api.compile(spec))["resnet18"]
    assert sum(r.macs for r in rows) == 1_814_073_344
    assert sum(r.weights for r in rows) == 11_678_912
    conv1 = rows[0]
    assert (conv1.op, conv1.inputs, conv1.output) == ("conv", ((3, 224, 224),), (64, 112, 112))


INFEASIBLE = TINY.read_text().replace(
    "    strategy     = auto",
    "    strategy     = exhaustive\n    constraint latency <= 1us\n    constraint area <= 0.1mm2")


def test_nothing_feasible_is_explained_per_constraint() -> None:
    found = api.search(api.compile(text=INFEASIBLE), store=":memory:")
    data = export.outcome_to_json(found.outcome)
    assert data["best"] is None
    why = data["infeasibility"]
    assert why["constraints"] == [
        {"constraint": "constraint latency <= 1us", "broken_by": 96, "ruled_out_by_bounds": 96},
        {"constraint": "constraint area <= 0.1mm2", "broken_by": 72, "ruled_out_by_bounds": 72}]
    assert (why["no_mapping"], why["unknown_accuracy"], why["ruled_out_unevaluated"]) == \
        (0, [], 0)
    closest = why["closest"]
    assert closest["network"] == "tiny_space(depth=1, kernel=1, width=8)"
    assert closest["accelerator"] == "grid(flow=weight_stationary, glb=4KiB, rows=8)"
    assert closest["excess"] == pytest.approx(1.29)  # 1.290 us against 1 us
    assert data["top"][0]["objective"] is None
    assert data["top"][0]["failure"] == "breaks constraint latency <= 1us"
    text = _render(found, 100)
    assert "no evaluated design meets the constraints" in text
    assert "  constraint latency <= 1us: rules out 96 of 96 evaluated pairs (96 of all 96 by " \
        "its bounds alone)" in text
    assert "  constraint area <= 0.1mm2: rules out 72 of 96 evaluated pairs (72 of all 96 by " \
        "its bounds alone)" in text
    assert "its worst by 29.0%" in text


def test_pairs_the_bounds_rule_out_are_explained_too() -> None:
    # The planner (strategy auto) evaluates none of them: the bounds say why.
    text = INFEASIBLE.replace("strategy     = exhaustive", "strategy     = auto")
    found = api.search(api.compile(text=text), store=":memory:")
    why = export.outcome_to_json(found.outcome)["infeasibility"]
    assert found.outcome.pairs_evaluated == 0
    assert [(c["broken_by"], c["ruled_out_by_bounds"]) for c in why["constraints"]] == \
        [(0, 96), (0, 72)]
    assert why["ruled_out_unevaluated"] == 96
    # No pair evaluated: the closest is the pair whose bounds come closest.
    closest = why["closest"]
    assert closest["by_bounds"] is True
    assert closest["network"] == "tiny_space(depth=1, kernel=1, width=8)"
    assert closest["accelerator"] == "grid(flow=weight_stationary, glb=4KiB, rows=8)"
    assert closest["breaks"] == ["constraint latency <= 1us", "constraint area <= 0.1mm2"]
    assert closest["excess"] == pytest.approx(1.29)  # its latency bound: 1.290 us, tight here
    rendered = _render(found, 300)
    assert "  96 more pairs ruled out by the constraints without evaluating them" in rendered
    assert (f"  closest by its bounds (no pair evaluated): {closest['network']} on "
            f"{closest['accelerator']} breaks constraint latency <= 1us, constraint area <= "
            "0.1mm2, its worst by at least 29.0%") in rendered


def test_the_closest_pair_by_bounds_has_the_smallest_worst_ratio() -> None:
    import numpy as np

    from dslc.codesign.bounds import _breaks, _closest
    from dslc.spec.codesign import ConstraintSpec

    latency = ConstraintSpec(metric="latency", op="<=", value=1.0, text="latency <= 1s")
    area = ConstraintSpec(metric="area", op="<=", value=2.0, text="area <= 2mm2")
    accuracy = ConstraintSpec(metric="accuracy", op=">=", value=0.5, text="accuracy >= 50%")
    spec = SimpleNamespace(constraints=(latency, area, accuracy))
    values = {"latency": np.array([[1.5, 1.2], [1.1, 3.0]]),  # lower bounds
              "area": np.array([[1.0, 2.6]]),  # exact, per accelerator
              "accuracy": np.array([[0.6], [0.4]])}  # exact, per network
    impossible = np.zeros((2, 2), dtype=bool)
    masks = [np.broadcast_to(_breaks(c, values[c.metric]), (2, 2)) for c in spec.constraints]
    # worst ratios: [[1.5, 1.3], [1.25, 3.0]]: network 1 on accelerator 0 misses by 1.25x
    # (its accuracy short of 50%), though its latency bound is the smallest over the limit
    assert _closest(spec, values, impossible, masks) == (  # type: ignore[arg-type]
        1, 0, ("latency <= 1s", "accuracy >= 50%"), pytest.approx(1.25))
    impossible[1, 0] = True  # a layer with no mapping there: never the closest
    assert _closest(spec, values, impossible, masks)[:2] == (0, 1)  # type: ignore[arg-type,index]


def test_a_network_missing_from_the_accuracy_table_is_reported(tmp_path: Path) -> None:
    spec = tmp_path / "acc.cd"
    spec.write_text(QUICKSTART_LIKE.replace("network n {", "network n {\n    param w in {4, 8}")
                    .replace("out = 4, kernel", "out = w, kernel")
                    .replace("codesign one { networks = n accelerators = acc",
                             'codesign one { networks = n accelerators = acc '
                             'accuracy = table("acc.csv") constraint accuracy >= 50%'))
    (tmp_path / "acc.csv").write_text("w,accuracy\n4,71%\n")
    found = api.search(api.compile(spec), store=":memory:")
    data = export.outcome_to_json(found.outcome)
    assert data["best"]["network"]["label"] == "n(w=4)"
    assert data["infeasibility"]["unknown_accuracy"] == ["n(w=8)"]
    missing = next(p for p in data["top"] if p["network"]["label"] == "n(w=8)")
    assert missing["objective"] is None
    assert missing["failure"] == ("breaks constraint accuracy >= 50% (the accuracy of n(w=8) "
                                  "is unknown: no accuracy is declared or listed for it)")


def test_the_pareto_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from dslc.report.codesign import colour_by, pareto_figure, plot_pareto

    text = TINY.read_text().replace(
        "    strategy     = auto",
        "    strategy     = exhaustive\n    constraint latency <= 20us")
    found = api.search(api.compile(text=text), store=":memory:")
    assert colour_by(found.outcome)[0] == "network depth"
    figure = pareto_figure(found.outcome)
    (axes,) = figure.axes  # type: ignore[attr-defined]
    assert axes.get_xlabel() == "latency (us)"
    assert axes.get_ylabel() == "energy (nJ)"
    assert axes.get_title() == "minimize edp: 32 feasible of 96 evaluated pairs"
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == ["depth=1", "depth=2", "energy-latency front", "best (minimize edp)",
                      "constraint latency <= 20us"]
    assert axes.get_legend().get_title().get_text() == "network depth"
    assert plot_pareto(found.outcome, tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_energy_by_level_and_the_breakdown_plot(tmp_path: Path) -> None:
    design = api.run(api.compile(text=QUICKSTART_LIKE))
    data = export.network_result_to_json(design.result, design.problems)
    by_level = data["energy_by_level_pj"]
    assert list(by_level) == ["DRAM", "GLB", "RF", "MAC"]
    assert sum(by_level.values()) == data["energy_pj"]  # exact: multiples of 2^-10 pJ
    (layer,) = data["layers"]
    assert layer["energy_by_level_pj"] == by_level
    console = Console(width=120, record=True, file=io.StringIO(), highlight=False)
    from dslc.report.run import breakdown_figure, plot_breakdown, render_run

    console.print(render_run(design.result, design.problems, design.codesign, "edp"))
    line = next(x for x in console.export_text().splitlines() if x.startswith("  by level"))
    names = [part.split()[0] for part in line.removeprefix("  by level   ").split(", ")]
    assert names == ["DRAM", "GLB", "RF", "MAC"]
    assert line.count("%)") == 4
    pytest.importorskip("matplotlib")
    figure = breakdown_figure(design.result)
    top, bottom, cycles = figure.axes  # type: ignore[attr-defined]
    assert top.get_ylabel().startswith("energy (")
    assert top.get_title() == "n on acc: energy per layer by level"
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["DRAM", "GLB", "RF", "MAC"]
    assert (bottom.get_ylabel(), cycles.get_ylabel()) == ("utilisation (%)", "cycles")
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["a"]
    assert plot_breakdown(design.result, tmp_path / "breakdown.png")
    assert (tmp_path / "breakdown.png").read_bytes()[:4] == b"\x89PNG"


UNITS = ("_bits", "_words", "_pj", "_hz", "_s", "_mm2", "_um2", "_nm", "_w", "_bits_per_s")
QUANTITIES = ("energy", "area", "size", "capacity", "latency", "clock", "freq", "time",
              "power", "bandwidth", "glb", "sram")
COUNTS = {"mapspace_size"}  # numbers of things, not quantities
RATIOS = "bounds.tightness."  # evaluated / bound per metric: no unit


def _keys(data: object, path: str = "") -> list[str]:
    """Every key of a JSON document, dotted; lists by their items."""
    if isinstance(data, dict):
        return [k for key, value in data.items()
                for k in (f"{path}{key}", *_keys(value, f"{path}{key}."))]
    if isinstance(data, list):
        return [k for item in data for k in _keys(item, path)]
    return []


def _unitless_quantities(data: object) -> list[str]:
    return [path for path in _keys(data)
            if (key := path.rsplit(".", 1)[-1].lower()) not in COUNTS
            and not path.startswith(RATIOS)
            and not path.rsplit(".", 2)[-2:][0].endswith(UNITS)  # names in `..._pj: {GLB: x}`
            and any(word in key for word in QUANTITIES) and not key.endswith(UNITS)]


def test_every_size_energy_frequency_and_area_key_says_its_unit(tmp_path: Path) -> None:
    text = TINY.read_text().replace("    param flow in", "    param clk in {200MHz, 1GHz}\n"
                                    "    param leak in {1pJ, 2pJ}\n    param flow in") \
        .replace("clock = 200MHz", "clock = clk").replace("energy = 1pJ", "energy = leak")
    found = api.search(api.compile(text=text), store=":memory:")
    data = export.outcome_to_json(found.outcome)
    assert data["best"]["accelerator"]["params"] == {
        "clk_hz": 1_000_000_000, "flow": "weight_stationary", "glb_bits": 32768, "leak_pj": 1,
        "rows": 8}
    assert _unitless_quantities(data) == []
    assert _unitless_quantities(export.plan_to_json(found.outcome.plan)) == []
    design = api.run(api.compile(text=QUICKSTART_LIKE))
    assert _unitless_quantities(export.network_result_to_json(design.result,
                                                              design.problems)) == []
    layer = design.result.layers[0]
    assert _unitless_quantities(export.cost_to_json(layer.result.cost)) == []  # dslc eval
    assert _unitless_quantities(export.map_result_to_json(  # dslc map
        layer.result, design.problems[layer.problem_key])) == []
    export.write_codesign(tmp_path, found.outcome)
    header = (tmp_path / "pairs.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["clk_hz", "flow", "glb_bits", "leak_pj", "rows"]
    assert _unitless_quantities({column: 0 for column in header}) == []
    # the check itself catches a bare size
    assert _unitless_quantities({"params": {"glb": 32768}}) == ["params.glb"]


def test_the_pareto_plot_with_accuracy_shows_the_objective_against_accuracy(
        tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from dslc.report.codesign import pareto_figure, plot_pareto

    rows = ["width,kernel,depth,accuracy"]
    rows += [f"{w},{k},{d},{50 + w * 0.6 + k * 3 + d * 2:.1f}%"
             for w in (8, 16, 32) for k in (1, 3) for d in (1, 2)]
    (tmp_path / "acc.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "s.cd").write_text(TINY.read_text().replace(
        "    strategy     = auto",
        '    strategy     = exhaustive\n    accuracy     = table("acc.csv")\n'
        "    constraint accuracy >= 60%\n    constraint latency <= 20us"))
    found = api.search(api.compile(tmp_path / "s.cd"), store=":memory:")
    figure = pareto_figure(found.outcome)
    left, right = figure.axes  # type: ignore[attr-defined]  # small multiples
    assert figure._suptitle.get_text() == \
        "minimize edp: 24 feasible of 96 evaluated pairs"  # type: ignore[attr-defined]
    assert (left.get_title(), left.get_xlabel(), left.get_ylabel()) == \
        ("energy against latency", "latency (us)", "energy (nJ)")
    assert (right.get_title(), right.get_xlabel(), right.get_ylabel()) == \
        ("edp against accuracy", "accuracy (%)", "edp (pJ*s)")
    assert [t.get_text() for t in right.get_legend().get_texts()] == \
        ["edp-accuracy front", "best (minimize edp)", "constraint accuracy >= 60%"]
    # No point on the drawn front is dominated in its panel (accuracy up, EDP down).
    (line,) = right.get_lines()[:1]
    xs, ys = line.get_xdata(), line.get_ydata()
    points = [(p.metrics.accuracy * 100, p.metrics.edp)  # type: ignore[union-attr,operator]
              for pair, p in found.outcome.results.items()
              if found.outcome.scores[pair] < float("inf")]
    for x, y in zip(xs, ys, strict=True):
        assert not any(a >= x and e <= y and (a, e) != (x, y) for a, e in points)
    best = found.outcome.best
    assert best is not None and best.metrics is not None
    assert (xs[-1], ys[-1]) == pytest.approx((100 * best.metrics.accuracy,  # type: ignore[operator]
                                              best.metrics.edp))
    assert plot_pareto(found.outcome, tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
