"""docs/cli.md, `dslc eval`: the JSON's figures and the relations the table of keys states
between them (`cycles` the max of the compute cycles and every level's bandwidth-bound
cycles, `compute_cycles` the product of the temporal factors, `latency_s` cycles / clock,
`utilization` macs / (cycles x MAC units), `area_mm2` the memories and the MAC units,
`used_words` kept tiles x buffering, a level's `tensors` only those it keeps, per-instance
accesses, energies multiples of 2^-10 pJ), on a small bandwidth-bound mapping whose figures
are counted by hand, through the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from dslc import cli

SPEC = """
network n {
    input x: [4, 6, 6]
    layer a = conv(x, out = 4, kernel = 3)
}
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b, bandwidth = 0.5 }
    memory GLB { size = 4KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 128 words, buffering = 2 }
    compute MAC { }
}
mapping m for n.a on acc {
    DRAM { }
    GLB  { temporal [C 2, R 3], bypass [weight, input, output] }
    PE   { spatial x [K 2], spatial y [C 2] }
    RF   { temporal [K 2, S 3, Q 4, P 4] }
}
"""


def _energies(data: object) -> list[float]:
    if isinstance(data, dict):
        return [value for key, value in data.items() if key.endswith("energy_pj")
                and key != "energy_per_mac_pj"] + [
            found for value in data.values() for found in _energies(value)]
    if isinstance(data, list):
        return [found for value in data for found in _energies(value)]
    return []


def test_the_eval_json_relations_on_a_mapping_counted_by_hand(tmp_path: Path) -> None:
    (tmp_path / "m.cd").write_text(SPEC)
    result = CliRunner().invoke(cli.app, ["eval", str(tmp_path / "m.cd"), "--mapping", "m",
                                          "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # The layer: K 4 x C 4 x P 4 x Q 4 x R 3 x S 3 = 2,304 MACs on 2 x 2 MAC units.
    assert (data["layer"], data["accelerator"], data["macs"]) == ("a", "acc", 2304)
    # Temporal factors: GLB C 2, R 3; RF K 2, S 3, Q 4, P 4.
    assert data["compute_cycles"] == 2 * 3 * 2 * 3 * 4 * 4 == 576
    dram, glb, rf = data["levels"]
    assert [dram["name"], glb["name"], rf["name"]] == ["DRAM", "GLB", "RF"]
    # The GLB bypasses everything: DRAM streams every weight (4 x 4 x 3 x 3) and input
    # (4 x 6 x 6) word once and takes every output (4 x 4 x 4) once, 352 words at half a
    # word a cycle: 704 cycles, more than the 576 of compute.
    assert {t: (v["reads"], v["updates"]) for t, v in dram["tensors"].items()} == {
        "weight": (144, 0), "input": (144, 0), "output": (0, 64)}
    assert dram["cycles"] == 704 and dram["capacity_words"] is None
    assert data["cycles"] == max(data["compute_cycles"], *(lv["cycles"] for lv in
                                                          data["levels"])) == 704
    assert data["latency_s"] == 704 / 1e9
    assert data["utilization"] == 2304 / (704 * 4)
    assert glb["tensors"] == {} and glb["used_words"] == 0 and glb["capacity_words"] == 2048
    # RF tiles (each PE has one channel, R is a GLB loop): weight K 2 x S 3 = 6, input one
    # channel of 4 x (4 + 3 - 1) = 24, output K 2 x P 4 x Q 4 = 32; kept twice (buffering).
    assert {t: v["tile_words"] for t, v in rf["tensors"].items()} == {
        "weight": 6, "input": 24, "output": 32}
    assert rf["used_words"] == (6 + 24 + 32) * 2
    assert (rf["instances"], rf["utilized_instances"]) == (4, 4)
    for tensor in rf["tensors"].values():
        for kind in ("reads", "fills", "updates"):
            assert tensor[kind] == 4 * tensor[f"{kind}_per_instance"]
    assert rf["tensors"]["weight"]["reads"] == 2304  # one per MAC
    for level in data["levels"]:
        assert level["energy_pj"] == level["access_energy_pj"] + level["leakage_energy_pj"]
        assert math.fsum(t["energy_pj"] for t in level["tensors"].values()) == \
            level["access_energy_pj"]
    compute = data["compute"]
    assert (compute["instances"], compute["utilized_instances"], compute["macs"]) == (4, 4, 2304)
    # Area: every memory (its instances included) and the MAC units, in um2 -> mm2.
    assert math.isclose(data["area_mm2"], (sum(lv["area_um2"] for lv in data["levels"]) +
                                           compute["area_um2"]) / 1e6, rel_tol=1e-12)
    # Energies are multiples of 2^-10 pJ: every total is exactly the sum of its parts.
    energies = _energies(data)
    assert len(energies) >= 15
    assert all(float(value * 1024).is_integer() for value in energies), energies
    assert sum(lv["energy_pj"] for lv in data["levels"]) + compute["energy_pj"] == \
        data["energy_pj"]
