"""AccelForge 1.0.467 files: `dslc export --to accelforge` (structure, checked without
AccelForge) and, when a Python with AccelForge is given in $DSLC_ACCELFORGE_PYTHON, the
counts AccelForge's model gives on an export, against counts made by hand.

The hand-counted case: conv1d O[p] += W[r] * I[p + r], P = 8, R = 3, on
DRAM > Buf (holds input and output: weights bypass it) > PE (2 x 1) > RF > MAC, mapped
DRAM [P 2] > Buf [R 3] > PE x [P 2] > RF [P 2]."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.arch import ArchModel, resolve_accelerator  # noqa: E402
from dslc.cost.model import evaluate  # noqa: E402
from dslc.cost.result import Cost  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.interop.accelforge import export_study  # noqa: E402
from dslc.interop.timeloop import StudyLayer  # noqa: E402
from dslc.lower.problem import Problem, Projection, Tensor  # noqa: E402
from dslc.mapping.mapping import Mapping, mapping_from_spec  # noqa: E402
from dslc.spec.accelerator import (  # noqa: E402
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "benchmarks" / "accelforge_run.py"
runner = CliRunner()

CONV1D = Problem("conv1d", ("P", "R"), (8, 3), (
    Tensor("weight", "weight", (Projection(((1, 1),)),)),
    Tensor("input", "input", (Projection(((0, 1), (1, 1))),)),
    Tensor("output", "output", (Projection(((0, 1),)),)),
), op="conv")


def _small() -> tuple[ArchModel, Mapping]:
    spec = AcceleratorSpec(name="small", word_bits=16, clock_hz=1e9, hierarchy=(
        MemorySpec(name="DRAM", word_bits=16, width_bits=64, read_energy_pj=100.0,
                   write_energy_pj=100.0, leakage_pj_per_cycle=0.0, area_um2=0.0),
        MemorySpec(name="Buf", size_bits=64 * 16, word_bits=16, width_bits=16,
                   read_energy_pj=2.0, write_energy_pj=3.0, leakage_pj_per_cycle=0.0,
                   area_um2=100.0, holds=("input", "output")),
        FanoutSpec(name="PE", mesh_x=2, mesh_y=1, dataflow=DataflowSpec(preset="free")),
        MemorySpec(name="RF", size_bits=8 * 16, word_bits=16, width_bits=16,
                   read_energy_pj=0.5, write_energy_pj=0.5, leakage_pj_per_cycle=0.0,
                   area_um2=10.0)),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0, area_um2=50.0,
                            leakage_pj_per_cycle=0.0))
    arch = resolve_accelerator(spec)

    def level(target: str, temporal: tuple[tuple[str, int], ...] = (),
              x: tuple[tuple[str, int], ...] = ()) -> MappingLevelSpec:
        return MappingLevelSpec(target=target,
                                temporal=tuple(LoopSpec(dim=d, factor=f) for d, f in temporal),
                                spatial_x=tuple(LoopSpec(dim=d, factor=f) for d, f in x),
                                spatial_y=(), keep=None)

    written = MappingSpec(name="m", network="n", layer="conv1d", accelerator="small",
                          levels=(level("DRAM", (("P", 2),)), level("Buf", (("R", 3),)),
                                  level("PE", x=(("P", 2),)), level("RF", (("P", 2),))))
    return arch, mapping_from_spec(written, CONV1D, arch)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor(
    "!", lambda loader, tag, node: {"!": tag, **loader.construct_mapping(node, deep=True)})


def _files() -> dict[str, Any]:
    arch, mapping = _small()
    files = export_study(arch, (StudyLayer("conv1d", CONV1D, mapping),))
    assert sorted(files) == ["README.txt", "arch/small.arch.yaml",
                             "mapping/conv1d.mapping.yaml", "workload/conv1d.workload.yaml"]
    return {path: text if path.endswith(".txt") else yaml.load(text, Loader=_Loader)
            for path, text in files.items()}


def test_workload_is_one_einsum_with_projections() -> None:
    workload = _files()["workload/conv1d.workload.yaml"]["workload"]
    assert workload["bits_per_value"] == {"All": 16}
    assert workload["iteration_space_shape"] == {"p": "0 <= p < 8", "r": "0 <= r < 3"}
    (einsum,) = workload["einsums"]
    assert einsum["name"] == "conv1d"
    assert einsum["tensor_accesses"] == [
        {"name": "Weight", "projection": {"R": "r"}},
        {"name": "Input", "projection": {"INPUT0": "p + r"}},
        {"name": "Output", "projection": {"P": "p"}, "output": True}]
    assert einsum["renames"] == {"input": "Input", "output": "Output", "weight": "Weight"}


def test_architecture_nodes_units_and_bypass() -> None:
    nodes = _files()["arch/small.arch.yaml"]["arch"]["nodes"]
    assert [(n["!"], n["name"]) for n in nodes] == [
        ("Memory", "DRAM"), ("Memory", "Buf"), ("Container", "PE"), ("Memory", "RF"),
        ("Compute", "MAC")]
    dram, buf, pe, rf, mac = nodes
    assert dram["size"] == "inf" and buf["size"] == 64 * 16 and rf["size"] == 8 * 16
    # a read or write action moves one block (the width): 64 bits = 4 words at DRAM
    assert (dram["bits_per_action"], buf["bits_per_action"]) == (64, 16)
    assert dram["bits_per_value"] == {"All": 16}
    actions = {a["name"]: a for a in buf["actions"]}
    assert actions["read"]["energy"] == pytest.approx(2e-12)   # pJ -> J
    assert actions["write"]["energy"] == pytest.approx(3e-12)
    assert actions["read"]["throughput"] == "inf"
    assert buf["area"] == pytest.approx(100e-12)                # um^2 -> m^2
    assert buf["tensors"] == {"keep": "Nothing", "may_keep": "input | output"}
    assert pe["spatial"] == [{"name": "X", "fanout": 2, "power_gateable": True},
                             {"name": "Y", "fanout": 1, "power_gateable": True}]
    assert mac["actions"] == [{"name": "compute", "energy": pytest.approx(1e-12),
                               "throughput": 1e9}]  # one MAC per cycle: latency in s


def test_mapping_looptree_factors_order_and_bypass() -> None:
    nodes = _files()["mapping/conv1d.mapping.yaml"]["mapping"]["nodes"]
    # Tile shapes are the product of the same-dim factors inside each loop (P: 2 x 2 x 2).
    # Each Storage node sits as high as Timeloop's reuse reaches: RF's Output tile is not
    # refilled across Buf's R loop (R does not index it), so it sits above that loop; RF's
    # Weight and Input sit above the spatial loop (it partitions instances, not time), below
    # the R loop that indexes them. Weights bypass Buf: no Weight in Buf's node.
    assert nodes == [
        {"!": "Storage", "tensors": ["Weight", "Input", "Output"], "component": "DRAM"},
        {"!": "Temporal", "rank_variable": "p", "tile_shape": 4},
        {"!": "Storage", "tensors": ["Input", "Output"], "component": "Buf"},
        {"!": "Storage", "tensors": ["Output"], "component": "RF"},
        {"!": "Temporal", "rank_variable": "r", "tile_shape": 1},
        {"!": "Storage", "tensors": ["Weight", "Input"], "component": "RF"},
        {"!": "Spatial", "rank_variable": "p", "tile_shape": 2, "name": "X",
         "component": "PE"},
        {"!": "Temporal", "rank_variable": "p", "tile_shape": 1},
        {"!": "Compute", "einsum": "conv1d", "component": "MAC"}]


def test_what_accelforge_cannot_state_is_e806() -> None:
    arch, mapping = _small()
    levels = tuple(level if level.name != "Buf" else
                   level.__class__(**{**{f: getattr(level, f) for f in level.__slots__},
                                      "update_energy_pj": 9.0})
                   for level in arch.levels)
    odd = ArchModel(arch.name, arch.clock_hz, arch.technology_nm, levels, arch.compute,
                    arch.spec)
    with pytest.raises(DiagnosticError) as caught:
        export_study(odd, (StudyLayer("conv1d", CONV1D, mapping),))
    assert caught.value.diagnostics[0].code == "E806"
    assert "update energy" in caught.value.diagnostics[0].message


def test_cli_export_to_accelforge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, ["export", str(REPO / "examples" / "mapping.cd"),
                                     "--to", "accelforge", "--mapping", "rs_conv3x3",
                                     "-o", "study"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("wrote 4 files to study: 1 problem")
    assert sorted(p.relative_to("study").as_posix() for p in Path("study").rglob("*")
                  if p.is_file()) == [
        "README.txt", "arch/eyeriss_like.arch.yaml", "mapping/layer1.0.a.mapping.yaml",
        "workload/layer1.0.a.workload.yaml"]
    assert "accelforge==1.0.467" in Path("study/README.txt").read_text()


def test_network_export_writes_one_workload_and_mapping_per_distinct_layer() -> None:
    program = api.compile(text="""
network two {
    input x: [8, 6, 6]
    layer a = conv(x, out = 8, kernel = 3, pad = 1)
    layer b = conv(a, out = 8, kernel = 3, pad = 1)
    layer c = dense(flatten(b), out = 4)
}
accelerator acc {
    word = 16b
    clock = 1GHz
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 8KiB, read = 2pJ, write = 2pJ }
    fanout PE   { mesh = 4 x 4 }
    memory RF   { size = 16 words, read = 0.5pJ, write = 0.5pJ }
    compute MAC { energy = 1pJ }
}
""")
    files = api.export_accelforge(program, network_name="two", accelerator_name="acc",
                                  options=api.mapper_settings(search="heuristic",
                                                              budget=300))
    # a and b are one loop nest (written once, named after a); c is another
    assert sorted(files) == ["README.txt", "arch/acc.arch.yaml", "mapping/a.mapping.yaml",
                             "mapping/c.mapping.yaml", "workload/a.workload.yaml",
                             "workload/c.workload.yaml"]
    dense = yaml.load(files["workload/c.workload.yaml"], Loader=_Loader)["workload"]
    assert dense["einsums"][0]["name"] == "c"


def test_two_fanouts_below_a_memory_and_two_loops_over_one_dim_are_written() -> None:
    # Timeloop v3 refuses both (E806); AccelForge states them: one Container per fanout,
    # any number of loops per rank variable (tile shapes 4, then 2, then 1 for P = 8).
    spec = AcceleratorSpec(name="two", word_bits=16, clock_hz=1e9, hierarchy=(
        MemorySpec(name="DRAM", word_bits=16, width_bits=16, read_energy_pj=100.0,
                   write_energy_pj=100.0, leakage_pj_per_cycle=0.0, area_um2=0.0),
        FanoutSpec(name="cols", mesh_x=2, mesh_y=1, dataflow=DataflowSpec(preset="free")),
        FanoutSpec(name="rows", mesh_x=3, mesh_y=1, dataflow=DataflowSpec(preset="free")),
        MemorySpec(name="RF", size_bits=16 * 16, word_bits=16, width_bits=16,
                   read_energy_pj=0.5, write_energy_pj=0.5, leakage_pj_per_cycle=0.0,
                   area_um2=10.0)),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0, area_um2=50.0,
                            leakage_pj_per_cycle=0.0))
    arch = resolve_accelerator(spec)
    written = MappingSpec(name="m", network="n", layer="conv1d", accelerator="two", levels=(
        MappingLevelSpec(target="DRAM", temporal=(LoopSpec(dim="P", factor=2),
                                                  LoopSpec(dim="P", factor=2)),
                         spatial_x=(), spatial_y=(), keep=None),
        MappingLevelSpec(target="cols", temporal=(), spatial_x=(LoopSpec(dim="P", factor=2),),
                         spatial_y=(), keep=None),
        MappingLevelSpec(target="rows", temporal=(), spatial_x=(LoopSpec(dim="R", factor=3),),
                         spatial_y=(), keep=None)))
    mapping = mapping_from_spec(written, CONV1D, arch)
    files = export_study(arch, (StudyLayer("conv1d", CONV1D, mapping),))
    nodes = yaml.load(files["arch/two.arch.yaml"], Loader=_Loader)["arch"]["nodes"]
    assert [(n["!"], n["name"]) for n in nodes] == [
        ("Memory", "DRAM"), ("Container", "cols"), ("Container", "rows"), ("Memory", "RF"),
        ("Compute", "MAC")]
    loops = [(n["!"], n["rank_variable"], n["tile_shape"], n.get("component"))
             for n in yaml.load(files["mapping/conv1d.mapping.yaml"],
                                Loader=_Loader)["mapping"]["nodes"] if "rank_variable" in n]
    assert loops == [("Temporal", "p", 4, None), ("Temporal", "p", 2, None),
                     ("Spatial", "p", 1, "cols"), ("Spatial", "r", 1, "rows")]
    with pytest.raises(DiagnosticError) as caught:  # Timeloop v3 cannot state it
        _timeloop_files(arch, mapping)
    assert caught.value.diagnostics[0].code == "E806"


def _timeloop_files(arch: ArchModel, mapping: Mapping) -> dict[str, str]:
    from dslc.interop.timeloop import export_study as timeloop_study

    return timeloop_study(arch, (StudyLayer("conv1d", CONV1D, mapping),))


def test_bandwidth_buffering_and_diagonal() -> None:
    spec = AcceleratorSpec(name="bw", word_bits=16, clock_hz=2e8, hierarchy=(
        MemorySpec(name="DRAM", word_bits=16, width_bits=64, read_energy_pj=100.0,
                   write_energy_pj=100.0, leakage_pj_per_cycle=0.0, area_um2=0.0,
                   read_bandwidth_words=8, write_bandwidth_words=4),
        MemorySpec(name="Buf", size_bits=101 * 16, word_bits=16, width_bits=32,
                   read_energy_pj=2.0, write_energy_pj=2.0, leakage_pj_per_cycle=0.5,
                   area_um2=0.0, buffering=2, read_bandwidth_words=2,
                   write_bandwidth_words=2, shared_bandwidth=True),
        FanoutSpec(name="PE", mesh_x=2, mesh_y=1, dataflow=DataflowSpec(preset="free")),
        FanoutSpec(name="PE2", mesh_x=3, mesh_y=1, dataflow=DataflowSpec(preset="free"),
                   diagonal=True),
        MemorySpec(name="RF", size_bits=8 * 16, word_bits=16, width_bits=16,
                   read_energy_pj=0.5, write_energy_pj=0.5, leakage_pj_per_cycle=0.0,
                   area_um2=0.0)),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0, area_um2=0.0,
                            leakage_pj_per_cycle=0.0))
    arch = resolve_accelerator(spec)
    _, mapping = _small()
    with pytest.raises(DiagnosticError) as caught:
        export_study(arch, (StudyLayer("conv1d", CONV1D, mapping),))
    assert "diagonal" in caught.value.diagnostics[0].message
    without_diagonal = (*spec.hierarchy[:3], spec.hierarchy[4])
    plain = resolve_accelerator(spec.model_copy(update={"hierarchy": without_diagonal}))
    dram, buf = yaml.load(export_study(plain, ())["arch/bw.arch.yaml"],
                          Loader=_Loader)["arch"]["nodes"][:2]
    # 8 words a cycle = 2 blocks of 4 words, at 200 MHz: 4e8 reads/s; writes 4 words = 2e8
    assert [a["throughput"] for a in dram["actions"]] == [4e8, 2e8]
    assert dram["total_latency"] == "max(a.n_calls / a.throughput for a in actions)"
    # double buffered: the tiles must fit floor(101 / 2) = 50 words = 800 bits
    assert buf["size"] == 50 * 16
    # one shared port: reads and writes add up over it (2 words = 1 block a cycle)
    assert buf["total_latency"] == ("(actions['read'].n_calls + actions['write'].n_calls) "
                                    "/ actions['read'].throughput")
    assert buf["actions"][0]["throughput"] == 2e8
    assert buf["leak_power"] == pytest.approx(0.5e-12 * 2e8)  # pJ per cycle x clock, W


def test_benchmark_says_so_without_accelforge(tmp_path: Path) -> None:
    for python in (str(tmp_path / "no-such-python"), sys.executable):
        env = {k: v for k, v in os.environ.items() if k != "DSLC_ACCELFORGE_PYTHON"}
        run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_accelforge.py"),
                              "--accelforge-python", python, "--results", "-"],
                             capture_output=True, text=True, check=False, env=env, timeout=300)
        if python == sys.executable and _accelforge_python() == sys.executable:
            continue  # this Python has AccelForge: the benchmark would run
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("no Python with accelforge==1.0.467")


# ---- AccelForge itself, on the hand-counted case --------------------------------------------

# Hand counts (totals over instances, words). Tiles: RF per PE: W 1, I 2 (p, p+1 at one r),
# O 2; Buf: I 6 (P 4 x R 3 window), O 4. MACs 8 x 3 = 24.
# AccelForge refills a tile on every iteration of every loop above its Storage node:
#   RF W: DRAM p 2 x Buf r 3 = 6 fills of 1 word per PE, x 2 PEs = 12; read by every MAC: 24
#   RF I: 6 fills of 2 words x 2 PEs = 24 (no sliding-window reuse); reads 24
#   RF O: one residency per DRAM p, first fill skipped: writes = 24 MAC updates; AccelForge
#         reads every output word written (accumulate, or drain up): 24
#   Buf I: DRAM p 2 fills of 6 = 12; serves the RF fills (P across PEs indexes I: no
#         multicast): 24.   Buf O: 2 drains of 2 words from 2 PEs = 8 writes, 8 reads (drain)
#   DRAM W: 12 RF fills, multicast across the PEs (P does not index W): 6 reads
#   DRAM I: 12 reads (Buf's fills);  DRAM O: 8 writes
ACCELFORGE_COUNTS = {
    ("DRAM", "Weight"): (6, 0), ("DRAM", "Input"): (12, 0), ("DRAM", "Output"): (0, 8),
    ("Buf", "Input"): (24, 12), ("Buf", "Output"): (8, 8),
    ("RF", "Weight"): (24, 12), ("RF", "Input"): (24, 24), ("RF", "Output"): (24, 24),
}
# Timeloop v3 (dslc) differs in two conventions (docs/interop.md):
#   sliding windows: a tile moved by a loop step refetches only the words it did not hold:
#     DRAM/Buf I: 6 + (6 - 2 shared by windows 4 apart) = 10; RF I per PE: 2 per DRAM p,
#     + 1 new word per r step = 4, twice = 8, x 2 PEs = 16, so Buf serves 16;
#   outputs: reads = updates - first touches (no read before the first accumulation, the
#     drain up counted at the parent only): RF O 24 - 8 = 16, Buf O 8 - 8 = 0.
DSLC_COUNTS = {
    **ACCELFORGE_COUNTS, ("DRAM", "Input"): (10, 0), ("Buf", "Input"): (16, 10),
    ("RF", "Input"): (24, 16), ("RF", "Output"): (16, 24), ("Buf", "Output"): (0, 8),
}
BLOCK = {"DRAM": 4, "Buf": 1, "RF": 1}


def _dslc_counts(cost: Cost) -> dict[tuple[str, str], tuple[int, int]]:
    names = {"weight": "Weight", "input": "Input", "output": "Output"}
    return {(level.name, names[t.name]): (t.reads, t.fills + t.updates)
            for level in cost.levels for t in level.tensors
            if t.reads or t.fills or t.updates}


def test_dslc_counts_of_the_hand_counted_case() -> None:
    arch, mapping = _small()
    cost = evaluate(CONV1D, arch, mapping)
    assert cost.macs == 24 and cost.cycles == 12  # 24 MACs on 2 PEs
    assert _dslc_counts(cost) == DSLC_COUNTS


def _accelforge_python() -> str | None:
    path = os.environ.get("DSLC_ACCELFORGE_PYTHON")
    if not path:
        return None
    found = subprocess.run([path, "-c", "import accelforge"], capture_output=True,
                           check=False)
    return path if found.returncode == 0 else None


@pytest.mark.slow
@pytest.mark.skipif(_accelforge_python() is None,
                    reason="set DSLC_ACCELFORGE_PYTHON to a Python with accelforge==1.0.467")
def test_accelforge_counts_the_export_as_counted_by_hand(tmp_path: Path) -> None:
    arch, mapping = _small()
    for relative, text in export_study(arch, (StudyLayer("conv1d", CONV1D, mapping),)
                                       ).items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    python = _accelforge_python()
    assert python is not None
    run = subprocess.run([python, str(RUNNER), str(tmp_path)], capture_output=True,
                         text=True, check=False, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.split("=== accelforge_run results ===", 1)[1]
                        )[str(tmp_path)]["conv1d"]
    assert "error" not in result, result
    actions = result["actions"]
    counts = {}
    for (level, tensor) in ACCELFORGE_COUNTS:
        block = BLOCK[level]
        counts[(level, tensor)] = (round(actions[f"{level}/{tensor}/read"] * block),
                                   round(actions[f"{level}/{tensor}/write"] * block))
    assert counts == ACCELFORGE_COUNTS
    assert actions["MAC/None/compute"] == 24
    # 24 MACs on 2 PEs at 1 GHz: 12 cycles, as dslc counts
    assert result["total_latency"] * 1e9 == pytest.approx(12)
    # energy from the counts: DRAM 100 pJ per 4-word action, Buf read 2 / write 3 pJ, RF
    # 0.5 pJ, MAC 1 pJ (AccelForge charges fractions of a block: no rounding up; its sums
    # carry float noise of ~1e-9)
    expected_pj = (100 * (6 + 12 + 8) / 4 + 2 * (24 + 8) + 3 * (12 + 8)
                   + 0.5 * (24 + 12 + 24 + 24 + 24 + 24) + 1 * 24)
    assert result["total_energy"] * 1e12 == pytest.approx(expected_pj, rel=1e-6)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "slow or not slow"]))
