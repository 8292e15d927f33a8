"""Extreme values in every numeric slot never make an internal error (issue 17): a
hypothesis property drives each slot of a small spec (dims and operator attributes, batch,
mesh, words (accelerator, memory, MAC), memory sizes and widths, clock, technology, read,
write, update and MAC energies, leakages, areas, bandwidths (shared, read, write),
buffering, a network's accuracy, a constraint's limit, top_k, max_pairs, time_limit, mapper
budget and seed, the objective's exponent) with extreme values through lint, eval and map,
and asserts that each gives a diagnostic or a result; never E900 (an exception other than
a UserError), never a NaN or negative energy, never a utilisation above 100%.

Legal dims stay small (at most 7, or 2^31-1's neighbours only where elaboration rejects
them): a huge but legal dim makes the map-space count slow, which is another worker's part
of issue 17 (dslc/mapper/space.py). Every other slot takes values across its whole range,
at and past both ends."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dslc import api
from dslc.diagnostics.diagnostic import UserError

TYPICAL = {
    "c": "4", "h": "6", "out": "4", "kernel": "3", "stride": "1", "mesh_x": "2",
    "mesh_y": "2", "word": "16b", "glb": "4KiB", "glb_width": "64b", "rf": "64 words",
    "clock": "1GHz", "read": "100pJ", "mac": "1pJ", "leak": "1mW", "area": "1um2",
    "bw": "4", "batch": "1", "budget": "50", "seed": "1", "exp": "1",
    "write": "100pJ", "update": "10pJ", "rbw": "8", "wbw": "8", "buffering": "1",
    "glb_word": "16b", "mac_word": "16b", "mac_area": "10um2", "mac_leak": "0.01pJ",
    "tech": "45nm", "top_k": "1", "max_pairs": "10", "time_limit": "600s",
    "accuracy": "70%", "limit": "1J",
}
_DIMS = ["0", "-1", "1", "7", "1.5", "2^31", "2^62", "10^38", "1e300", "(2^31 - 1) * 0"]
_SIZES = ["0b", "1b", "1e-300b", "16b", "1KiB", f"{2**60}b", f"{2**61}b", "1e300b", "-8b"]
_ENERGIES = ["0pJ", "1e-300pJ", "1fJ", "1mJ", "2mJ", "1e300pJ", "-1pJ"]
EXTREMES = {
    "c": _DIMS, "h": _DIMS, "out": _DIMS, "kernel": ["0", "1", "6", "7", "2^31", "-2"],
    "stride": ["0", "2", "7", "2^40"],
    "mesh_x": ["0", "1", "65536", "65537", "2^62", "1e300", "-3"],
    "mesh_y": ["0", "1", "65536", "65537", "2^62"],
    "word": ["1b", "65536b", "65537b", "0b", "1e300b", "1e-300b"],
    "glb": _SIZES, "glb_width": ["16b", "1e300b", f"{2**60}b", f"{2**61}b"],
    "rf": _SIZES, "clock": ["1e-300Hz", "0Hz", "1Hz", "1000GHz", "1001GHz", "1e300Hz"],
    "read": _ENERGIES, "mac": _ENERGIES,
    "leak": ["0W", "1e-300W", "1e6W", "1e300W", "1mJ", "2mJ"],
    "area": ["0um2", "1e-300um2", "1e6mm2", "1e7mm2", "1e300um2"],
    "bw": ["1e-300", "1e-9", f"{2**32}", f"{2**33}", "1e300", "0", "1e-300GB/s",
           "1e300GB/s"],
    "batch": ["0", "2", "65536", "65537", "2^62", "-1"],
    "budget": ["1", "1000000000", "1000000001", "2^62", "0"],
    "seed": ["0", f"{2**63 - 1}", f"{2**63}", "-1"],
    "exp": ["2", "8", "9", "100", "-8", "-100", "0.5"],
    "write": _ENERGIES, "update": _ENERGIES,
    "rbw": ["0", "1e-300", "1e-9", f"{2**32}", f"{2**33}", "1e300", "-1"],
    "wbw": ["0", "1e-300", f"{2**32}", "1e300", "-1"],
    "buffering": ["0", "-1", "1", "2", "1.5", "2^62", "1e300"],
    "glb_word": ["1b", "0b", "65536b", "65537b", "1e300b", "-16b"],
    "mac_word": ["1b", "0b", "65537b", "1e300b"],
    "mac_area": ["0um2", "-1um2", "1e12um2", "1e13um2", "1e300um2"],
    "mac_leak": ["0pJ", "-1pJ", "1e-300pJ", "1mJ", "2mJ", "1e300pJ", "1e300W"],
    "tech": ["0nm", "1nm", "1000nm", "1001nm", "1e-300nm", "1e300nm", "-45nm"],
    "top_k": ["0", "1", f"{2**63 - 1}", f"{2**63}", "-1"],
    "max_pairs": ["0", "1", f"{2**63 - 1}", f"{2**63}", "-1"],
    "time_limit": ["1e-300s", "0s", "-1s", "1e300s", "1e-300ns"],
    "accuracy": ["0%", "100%", "101%", "-1%", "1e300%", "1e-300%", "0", "1", "2"],
    "limit": ["0J", "1e-300pJ", "1e300pJ", "-1J"],
}


def spec_text(slots: dict[str, str]) -> str:
    return f"""
network n {{
    accuracy = {slots["accuracy"]}
    input x: [{slots["c"]}, {slots["h"]}, {slots["h"]}]
    layer a = conv(x, out = {slots["out"]}, kernel = {slots["kernel"]}, stride = {slots["stride"]})
}}
accelerator acc {{
    word  = {slots["word"]}
    clock = {slots["clock"]}
    technology = {slots["tech"]}
    memory DRAM {{ width = 64b, read = {slots["read"]}, write = {slots["write"]},
                  bandwidth = {slots["bw"]} }}
    memory GLB  {{ size = {slots["glb"]}, width = {slots["glb_width"]}, leakage = {slots["leak"]},
                  update = {slots["update"]}, read_bandwidth = {slots["rbw"]},
                  write_bandwidth = {slots["wbw"]}, buffering = {slots["buffering"]},
                  word = {slots["glb_word"]} }}
    fanout PE   {{ mesh = {slots["mesh_x"]} x {slots["mesh_y"]} }}
    memory RF   {{ size = {slots["rf"]}, area = {slots["area"]} }}
    compute MAC {{ energy = {slots["mac"]}, word = {slots["mac_word"]}, area = {slots["mac_area"]},
                  leakage = {slots["mac_leak"]} }}
}}
codesign c {{
    networks = n
    accelerators = acc
    batch = {slots["batch"]}
    objective = minimize energy ^ {slots["exp"]} * latency
    top_k = {slots["top_k"]}
    max_pairs = {slots["max_pairs"]}
    time_limit = {slots["time_limit"]}
    constraint energy <= {slots["limit"]}
    mapper {{ search = heuristic, budget = {slots["budget"]}, seed = {slots["seed"]} }}
}}
"""


@st.composite
def specs(draw: st.DrawFn) -> dict[str, str]:
    """One to four slots at extreme values, the others typical."""
    chosen = draw(st.sets(st.sampled_from(sorted(EXTREMES)), min_size=1, max_size=4))
    return TYPICAL | {slot: draw(st.sampled_from(EXTREMES[slot])) for slot in chosen}


def _check_cost(cost: object) -> None:
    energy = cost.energy_pj
    utilization = cost.utilization
    assert math.isfinite(energy) and energy >= 0, energy
    assert 0 <= utilization <= 1 + 1e-12, utilization
    assert cost.cycles >= 0
    latency = cost.latency_s
    assert math.isfinite(latency) and latency >= 0, latency


def _dims(slots: dict[str, str]) -> dict[str, int] | None:
    """The conv's loop bounds when its numbers are plain small integers, else None."""
    try:
        c, h, k, r, s = (int(slots[key]) for key in ("c", "h", "out", "kernel", "stride"))
    except ValueError:
        return None
    if min(c, h, k, r, s) < 1 or h < r:
        return None
    p = (h - r) // s + 1
    return {"K": k, "C": c, "P": p, "Q": p, "R": r, "S": r}


def check(slots: dict[str, str]) -> str:
    """Lint, eval and map one spec; what it got to: 'diagnostic', 'eval' or 'map'."""
    text = spec_text(slots)
    dims = _dims(slots)
    if dims is not None:  # a mapping block with every loop at DRAM, for `dslc eval`
        loops = ", ".join(f"{d} {b}" for d, b in dims.items())
        text += f"mapping m for n.a on acc {{ DRAM {{ temporal [{loops}] }} }}\n"
    program = api.compile(text=text)  # raises nothing: diagnostics are on the program
    assert all(d.code != "E900" for d in program.diagnostics)
    if program.errors:
        return "diagnostic"
    reached = "lint"
    if "m" in program.mappings:
        try:
            _check_cost(api.evaluate(program, "m"))
            reached = "eval"
        except UserError:
            pass
    try:
        options = api.mapper_settings(search="heuristic", budget=min(int(slots["budget"]), 50),
                                      seed=int(slots["seed"]))
        found = api.map_layer(program, "n", "a", "acc", options=options,
                              batch=int(slots["batch"]))
    except UserError:
        return reached
    _check_cost(found.result.cost)
    return "map"


def test_every_extreme_value_alone() -> None:
    """Each slot at each of its extreme values, the others typical: a sweep, so that every
    value is met (hypothesis below combines them)."""
    assert check(TYPICAL) == "map"
    mapped = set()
    for slot, values in sorted(EXTREMES.items()):
        for value in values:
            if check(TYPICAL | {slot: value}) == "map":
                mapped.add((slot, value))
    # Legal extremes reach the mapper and give sane figures (not only diagnostics).
    assert {("clock", "1000GHz"), ("clock", "1Hz"), ("read", "1e-300pJ"), ("mac", "1mJ"),
            ("glb", f"{2**60}b"), ("bw", "1e-9"), ("bw", f"{2**32}"), ("leak", "1e6W"),
            ("area", "1e6mm2"), ("batch", "65536"), ("seed", f"{2**63 - 1}"),
            ("mesh_x", "65536"), ("word", "1b"), ("exp", "-8")} <= mapped


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_extreme_values_give_a_diagnostic_or_a_sane_result(slots: dict[str, str]) -> None:
    check(slots)


@pytest.mark.parametrize(("objective", "extra", "lines"), [
    ("minimize energy / 0", [], [
        "the objective `minimize energy / 0` is not a finite number for any of the 2 evaluated "
        "pairs that meet the constraints, so none can be ranked: it overflows a double or "
        "divides by zero: write it so that it stays finite",
        "no evaluated design has a finite objective"]),
    ("minimize energy * 1e300 * 1e300", [], [
        "the objective `minimize energy * 1e300 * 1e300` is not a finite number for any of "
        "the 2 evaluated pairs that meet the constraints, so none can be ranked: it overflows "
        "a double or divides by zero: write it so that it stays finite",
        "no evaluated design has a finite objective"]),
    ("maximize accuracy / edp", [], [
        "the objective `maximize accuracy / edp` is not a finite number for any of the 2 "
        "evaluated pairs that meet the constraints, so none can be ranked: the accuracy it "
        "needs is unknown: declare it or list it in an accuracy table",
        "no evaluated design has a finite objective"]),
    ("minimize edp", ["--time-limit", "1e-300"], ["no pair was evaluated"]),
])
def test_a_run_without_a_ranked_pair_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, objective: str, extra: list[str],
        lines: list[str]) -> None:
    """No pair ranked, yet none breaks a constraint: the run says why (it printed `no
    evaluated design meets the constraints`, with no constraint, and JSON said nothing)."""
    from typer.testing import CliRunner

    from dslc import cli
    from tests.test_cli import SMALL_SPACE

    monkeypatch.chdir(tmp_path)
    Path("space.cd").write_text(SMALL_SPACE.replace(
        "codesign one {", f"codesign one {{ objective = {objective} strategy = exhaustive"))
    runner = CliRunner()
    args = ["run", "space.cd", "--cache", ":memory:", *extra]
    table = runner.invoke(cli.app, args, terminal_width=400)
    assert table.exit_code == 0, table.output
    shown = [line.strip() for line in table.stdout.splitlines()]
    assert all(line in shown for line in lines), table.stdout
    assert "no evaluated design meets the constraints" not in table.stdout
    data = json.loads(runner.invoke(cli.app, [*args, "--format", "json"]).stdout)
    assert data["best"] is None
    assert [line for line in data["log"] if line in lines] == lines[:-1]
