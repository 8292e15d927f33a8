"""`dslc.api.evaluate` and `dslc eval`: a hand-counted dense layer, errors, and energy
conservation on every mapping block shipped in examples/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.diagnostics.diagnostic import UsageError
from dslc.export import cost_to_json

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

# A dense layer, 4 inputs -> 2 outputs (K = 2, C = 4: 8 MACs), on DRAM above a 16-word RF.
# DRAM runs K (2 steps), the RF runs C (4 steps) and keeps every tensor.
DENSE = """network n { input x: [4] layer fc = dense(x, out = 2) }
accelerator a {
    word = 16b
    clock = 1GHz
    memory DRAM { read = 10pJ, write = 10pJ, leakage = 0pJ }
    memory RF   { size = 16 words, read = 1pJ, write = 1pJ, leakage = 0pJ }
    compute MAC { energy = 2pJ }
}
mapping m for n.fc on a {
    DRAM { temporal [K 2] }
    RF   { temporal [C 4] }
}
mapping too_small for n.fc on a {
    DRAM { temporal [K 2, C 4] }
}
"""


@pytest.fixture
def dense(tmp_path: Path) -> Path:
    path = tmp_path / "dense.cd"
    path.write_text(DENSE)
    return path


def test_hand_counted_dense_layer(dense: Path) -> None:
    cost = api.evaluate(api.compile(dense), "m")
    rf, dram = cost.level("RF"), cost.level("DRAM")
    # RF weight: a 4-word tile (C) that K replaces: 2 x 4 = 8 fills; one read per MAC.
    assert (rf.tensor("weight").fills, rf.tensor("weight").reads) == (8, 8)
    # RF input: K does not index it, so the 4 words stay: 4 fills, 8 reads.
    assert (rf.tensor("input").fills, rf.tensor("input").reads) == (4, 8)
    # RF output: one word per K step, updated by each of its 4 MACs (8 updates); the first
    # update of each of the 2 outputs needs no read (8 - 2 = 6 reads) and nothing is filled.
    out = rf.tensor("output")
    assert (out.updates, out.reads, out.fills) == (8, 6, 0)
    # DRAM serves the RF's fills (8 weight, 4 input words) and takes 2 output updates.
    assert (dram.tensor("weight").reads, dram.tensor("input").reads) == (8, 4)
    assert (dram.tensor("output").updates, dram.tensor("output").reads) == (2, 0)
    # Energy: DRAM (12 reads + 2 updates) x 10 pJ = 140; RF (22 reads + 12 fills + 8 updates)
    # x 1 pJ = 42; MACs 8 x 2 pJ = 16; total 198 pJ.
    assert (dram.energy_pj, rf.energy_pj, cost.compute.energy_pj) == (140.0, 42.0, 16.0)
    assert cost.energy_pj == 198.0
    # Cycles: the 8 temporal steps (no bandwidth limits); one MAC unit, fully used.
    assert (cost.cycles, cost.utilization) == (8, 1.0)


def test_eval_cli_json_and_table(dense: Path) -> None:
    result = runner.invoke(cli.app, ["eval", str(dense), "--mapping", "m", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["layer"], data["accelerator"], data["macs"]) == ("fc", "a", 8)
    assert data["energy_pj"] == 198.0 and data["cycles"] == 8
    assert [level["name"] for level in data["levels"]] == ["DRAM", "RF"]
    assert data["levels"][1]["tensors"]["output"]["reads_per_instance"] == 6
    table = runner.invoke(cli.app, ["eval", str(dense), "-m", "m"])
    assert table.exit_code == 0
    assert "198 pJ" in table.output and "RF" in table.output


def test_eval_errors(dense: Path) -> None:
    unknown = runner.invoke(cli.app, ["eval", str(dense), "-m", "nope"])
    assert unknown.exit_code == 2
    assert "no mapping `nope`" in unknown.output and "m, too_small" in unknown.output
    with pytest.raises(UsageError, match=r"no mapping `nope`.*m, too_small"):
        api.evaluate(api.compile(dense), "nope")


def test_a_mapping_that_cannot_run_is_explained(dense: Path) -> None:
    # Nothing below DRAM is mapped, so the RF must hold all 8 + 4 + 2 = 14 words of the
    # whole layer; they fit in 16. Shrinking the RF to 8 words makes lint reject it (E605).
    small = dense.read_text().replace("size = 16 words", "size = 8 words")
    dense.write_text(small)
    result = runner.invoke(cli.app, ["eval", str(dense), "-m", "too_small"])
    assert result.exit_code == 1
    assert "E605" in result.output


def _shipped_mappings() -> list[tuple[Path, str]]:
    found = []
    for path in sorted((REPO / "examples").glob("*.cd")):
        program = api.compile(path)
        found += [(path, name) for name in sorted(program.mappings)]
    return found


@pytest.mark.parametrize(("path", "name"), _shipped_mappings(),
                         ids=lambda value: getattr(value, "name", value))
def test_energy_conservation_on_shipped_mappings(path: Path, name: str) -> None:
    cost = api.evaluate(api.compile(path), name)
    data = cost_to_json(cost)
    parts = [t["energy_pj"] for lv in data["levels"] for t in lv["tensors"].values()]
    parts += [lv["leakage_energy_pj"] for lv in data["levels"]]
    parts += [data["compute"]["mac_energy_pj"], data["compute"]["leakage_energy_pj"]]
    assert sum(parts) == data["energy_pj"]  # exact: every part is a multiple of 2^-10 pJ
    for level in data["levels"]:
        assert math.fsum(t["energy_pj"] for t in level["tensors"].values()) + \
            level["leakage_energy_pj"] == level["energy_pj"]
    assert cost.compute.macs == cost.macs > 0


def test_there_is_a_shipped_mapping() -> None:
    assert _shipped_mappings()


def test_eyeriss_row_stationary_example() -> None:
    # examples/mapping.cd: weights bypass the GLB, so DRAM streams them to the spads once
    # per (P, Q) step of the DRAM loops [K 4, P 4, Q 2] below K: 64*64*3*3 words x 8.
    cost = api.evaluate(api.compile(REPO / "examples" / "mapping.cd"), "rs_conv3x3")
    assert cost.level("DRAM").tensor("weight").reads == 64 * 64 * 9 * 8
    # 14 x 12 PEs all used; 115,605,504 MACs over 168 PEs = 688,128 cycles, no stalls.
    assert cost.compute.utilized_instances == 168
    assert cost.cycles == 115_605_504 // 168 == 688_128


TWIN = """
network twin {
    input x: [8, 8, 8]
    layer a = conv(x, out = 8, kernel = 3, pad = 1)
    layer b = conv(a, out = 8, kernel = 3, pad = 1)
}
accelerator small {
    word = 16b
    clock = 1GHz
    memory DRAM { read = 100pJ, write = 100pJ }
    memory GLB  { size = 4KiB }
    fanout PE   { mesh = 4 x 2, dataflow = weight_stationary }
    memory RF   { size = 32 words }
    compute MAC { energy = 1pJ }
}
codesign one {
    networks = twin
    accelerators = small
    objective = minimize energy
    mapper { search = heuristic, budget = 400, seed = 3 }
}
"""


def test_map_and_run_cli(tmp_path: Path) -> None:
    spec = tmp_path / "twin.cd"
    spec.write_text(TWIN)
    mapped = runner.invoke(cli.app, ["map", str(spec), "-n", "twin", "-l", "a", "-a", "small",
                                     "--budget", "400", "--format", "json"])
    assert mapped.exit_code == 0, mapped.output
    data = json.loads(mapped.stdout)
    assert data["macs"] == 8 * 8 * 8 * 8 * 9 and data["evaluated"] > 0
    assert [level["name"] for level in data["mapping"]["levels"]] == ["DRAM", "GLB", "RF"]
    # docs/cli.md, `dslc map`: the `dslc eval` object plus these keys; `search` is the
    # strategy that ran (`auto` resolved), `design` the network and accelerator as written.
    assert list(data)[-6:] == ["mapping", "mapspace_size", "mapspace_bounds", "evaluated",
                               "search", "design"]
    assert data["search"] in ("exhaustive", "heuristic", "random")
    assert data["design"] == {"network": "twin", "accelerator": "small"}
    for level in data["mapping"]["levels"]:
        assert list(level) == ["name", "temporal", "spatial", "fanouts", "keeps"]
    out = tmp_path / "out"
    ran = runner.invoke(cli.app, ["run", str(spec), "--format", "json", "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    # docs/cli.md, `dslc run` of one design: the JSON keys, and each layer's.
    assert set(result) == {"network", "accelerator", "objective", "energy_pj", "cycles",
                           "latency_s", "edp", "area_mm2", "distinct_problems",
                           "energy_by_level_pj", "layers", "search_seconds"}
    assert result["edp"] == result["energy_pj"] * result["latency_s"]
    assert result["distinct_problems"] == 1  # b has a's loop nest
    for layer in result["layers"]:
        assert set(layer) == {"name", "problem_key", "energy_pj", "energy_by_level_pj",
                              "cycles", "utilization", "bound_cycles", "bound_energy_pj",
                              "mapspace_size", "mapspace_bounds", "evaluated", "shared_with",
                              "mapping"}
    assert [layer["name"] for layer in result["layers"]] == ["a", "b"]
    assert result["layers"][1]["shared_with"] == "a"
    assert result["energy_pj"] == math.fsum(layer["energy_pj"] for layer in result["layers"])
    for layer in result["layers"]:
        assert layer["energy_pj"] >= layer["bound_energy_pj"]
        assert layer["cycles"] >= layer["bound_cycles"] == 8 * 8 * 8 * 8 * 9 // 8
    saved = json.loads((out / "result.json").read_text())
    assert "search_seconds" not in saved and saved["layers"] == result["layers"]
    assert (out / "layers.csv").read_text().splitlines()[0].startswith("layer,problem_key")
    unknown = runner.invoke(cli.app, ["map", str(spec), "-n", "twin", "-l", "zz", "-a", "small"])
    assert unknown.exit_code == 2 and "no layer `zz`" in unknown.output
