"""Timeloop v3 files: `dslc export --to timeloop` and `dslc import-timeloop`, and the round
trip (export, read back: the same problem, accelerator and mapping, the identical cost)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.arch import ArchModel, resolve_accelerator  # noqa: E402
from dslc.cost.model import Cost, evaluate  # noqa: E402
from dslc.diagnostics.diagnostic import CannotRunError, DiagnosticError  # noqa: E402
from dslc.interop.timeloop import StudyLayer, export_study, read_study  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402
from dslc.mapping.mapping import mapping_from_spec  # noqa: E402
from dslc.spec.accelerator import FanoutSpec, MemorySpec  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

SMALL = """
network small {
    input x: [16, 8, 8]
    layer a = conv(x, out = 32, kernel = 3, pad = 1)
    layer b = conv(relu(a), out = 32, kernel = 3, pad = 1)
    layer c = conv(b, out = 32, kernel = 3, pad = 1)
    layer fc = dense(flatten(avgpool(c, global = true)), out = 10)
}
accelerator small_array {
    word = 16b
    clock = 500MHz
    memory DRAM { width = 64b, read = 200pJ, write = 200pJ }
    memory GLB  { size = 32KiB, width = 64b, read = 6pJ, write = 7pJ, update = 8pJ,
                  holds = [input, output], buffering = 2 }
    fanout PE   { mesh = 4 x 4, dataflow = weight_stationary }
    memory RF   { size = 64 words, read = 0.5pJ, write = 0.5pJ, leakage = 0.01pJ }
    compute MAC { energy = 0.8pJ, area = 300um2 }
}
"""


def _settled(arch: ArchModel) -> ArchModel:
    """The model without the record of which figures were estimated (after the round trip
    every figure is given)."""
    levels = tuple(dataclasses.replace(level, estimated=()) for level in arch.levels)
    return dataclasses.replace(arch, levels=levels,
                               compute=dataclasses.replace(arch.compute, estimated=()))


def test_mapping_block_round_trip() -> None:
    program = api.compile(REPO / "examples" / "mapping.cd")
    files = api.export_timeloop(program, mapping="rs_conv3x3")
    assert sorted(files) == [
        "README.txt", "arch/components/eyeriss_like.ART.yaml",
        "arch/components/eyeriss_like.ERT.yaml", "arch/eyeriss_like.arch.yaml",
        "map/layer1.0.a.map.yaml", "prob/layer1.0.a.prob.yaml"]
    arch_yaml = yaml.safe_load(files["arch/eyeriss_like.arch.yaml"])["architecture"]
    system = arch_yaml["subtree"][0]
    glb = system["local"][1]["attributes"]
    # 108 KiB of 16-bit words, read 64 bits (4 words) an access
    assert (glb["entries"], glb["depth"], glb["block-size"]) == (55_296, 13_824, 4)
    assert system["subtree"][0]["name"] == "PE[0..167]"  # 14 x 12
    mapping = yaml.safe_load(files["map/layer1.0.a.map.yaml"])["mapping"]
    dram = mapping[0]
    assert dram["factors"] == "N=1 K=4 C=1 P=4 Q=2 R=1 S=1"
    assert dram["permutation"].startswith("QPK")  # innermost first: K outermost
    spatial = next(m for m in mapping if m["type"] == "spatial")
    # x: P 14; y: R 3, C 4 (written outer to inner, so C innermost)
    assert (spatial["target"], spatial["split"]) == ("GLB", 1)
    assert spatial["permutation"].startswith("PCR")
    glb_keep = next(m for m in mapping if m["type"] == "datatype" and m["target"] == "GLB")
    assert (glb_keep["keep"], glb_keep["bypass"]) == (["Inputs", "Outputs"], ["Weights"])
    ert = yaml.safe_load(files["arch/components/eyeriss_like.ERT.yaml"])["ERT"]["tables"]
    assert {a["name"]: a["energy"] for a in ert[0]["actions"]}["read"] == 1200.0

    study = read_study(files)
    original = api.evaluate(program, "rs_conv3x3")
    arch = resolve_accelerator(study.accelerator)
    spec = program.mappings["rs_conv3x3"]
    source_arch = resolve_accelerator(api.accelerator(program, "eyeriss_like"))
    assert _settled(arch) == _settled(source_arch)
    [layer] = study.layers
    expected_problem = lower_network(api.network(program, "resnet18"), batch=1).problem(
        spec.layer)
    assert expected_problem is not None
    assert layer.problem == expected_problem
    assert layer.mapping == mapping_from_spec(spec, expected_problem, source_arch)
    imported = evaluate(layer.problem, arch, layer.mapping)
    assert imported == original
    assert imported.energy_pj == original.energy_pj and imported.cycles == 688_128


def test_whole_network_of_best_mappings_round_trips(tmp_path: Path) -> None:
    program = api.compile(text=SMALL)
    options = api.mapper_settings(search="heuristic", budget=300)
    files = api.export_timeloop(program, network_name="small", accelerator_name="small_array",
                                options=options)
    # b and c (C = 32) share one loop nest; a (C = 16) and fc have their own
    assert sorted(p for p in files if p.startswith("prob/")) == [
        "prob/a.prob.yaml", "prob/b.prob.yaml", "prob/fc.prob.yaml"]
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    study = api.import_timeloop(tmp_path)
    assert study.arch.clock_hz == 500e6
    assert [level.name for level in study.arch.levels] == ["DRAM", "GLB", "RF"]
    assert study.arch.levels[1].update_energy_pj == 8.0
    assert study.arch.levels[1].buffering == 2
    found = api.map_layer(program, "small", "a", "small_array", options=options)
    layer_a = next(layer for layer in study.layers if layer.name == "a")
    assert layer_a.mapping == found.result.mapping
    assert layer_a.cost == found.result.cost
    assert layer_a.cost.macs == 8 * 8 * 32 * 16 * 9


def test_cli_export_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, ["export", str(REPO / "examples" / "mapping.cd"),
                                     "--to", "timeloop", "--mapping", "rs_conv3x3",
                                     "-o", "study"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("wrote 6 files to study: 1 problem")
    back = runner.invoke(cli.app, ["import-timeloop", "study", "--format", "json"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout)["layers"][0]["cost"]["cycles"] == 688128
    assert json.loads(back.stdout)["estimated"] == []  # the export gives every energy
    assert back.stderr == ""
    # `-o STUDY.cd` writes the spec and says so on stderr, in either format (docs/cli.md:
    # "`wrote STUDY.cd` on stderr"; under JSON the note was missing).
    for args in ([], ["--format", "json"]):
        Path("study.cd").unlink(missing_ok=True)
        wrote = runner.invoke(cli.app, ["import-timeloop", "study", "-o", "study.cd", *args])
        assert wrote.exit_code == 0, wrote.output
        assert wrote.stderr == "wrote study.cd\n"
        assert "mapping " in Path("study.cd").read_text()
    assert json.loads(wrote.stdout)["layers"][0]["cost"]["cycles"] == 688128


def test_unreadable_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "a.arch.yaml").write_text("architecture: [unclosed\n")
    with pytest.raises(DiagnosticError) as caught:
        api.import_timeloop(tmp_path)
    assert caught.value.diagnostics[0].code == "E805"
    two_fanouts = api.compile(text="""
accelerator two {
    word = 16b
    clock = 1GHz
    memory DRAM { width = 64b, read = 200pJ, write = 200pJ }
    fanout rows { mesh = 4 }
    fanout cols { mesh = 4 }
    memory RF   { size = 64 words }
    compute MAC { energy = 1pJ }
}
network n {
    input x: [8, 4, 4]
    layer a = conv(x, out = 8, kernel = 1)
}
""")
    with pytest.raises(DiagnosticError) as refused:
        api.export_timeloop(two_fanouts, network_name="n", layer="a", accelerator_name="two")
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.code == "E806" and "2 fanouts" in diagnostic.message


def test_malformed_values_are_e805_not_a_traceback(tmp_path: Path) -> None:
    program = api.compile(REPO / "examples" / "mapping.cd")
    files = api.export_timeloop(program, mapping="rs_conv3x3")
    broken = dict(files)
    broken["prob/layer1.0.a.prob.yaml"] = files["prob/layer1.0.a.prob.yaml"].replace(
        "instance: {N: 1", "instance: {N: one")
    with pytest.raises(DiagnosticError) as caught:
        read_study(broken)
    assert caught.value.diagnostics[0].code == "E805"
    # a residual is `K=4,3` (src/mapping/parser.cpp, ParseUserFactors); `K=-4` is no factor
    # timeloop-model reads (its pattern has no sign), so it is E805, not a residual
    # (quoted: in YAML's flow style a bare comma ends the value)
    for written, code in (("'N=1 K=4,3 C=1 P=4 Q=2 R=1 S=1'", "E806"),
                          ("N=1 K=-4 C=1 P=4 Q=2 R=1 S=1", "E805")):
        residual = dict(files)
        residual["map/layer1.0.a.map.yaml"] = files["map/layer1.0.a.map.yaml"].replace(
            "N=1 K=4 C=1 P=4 Q=2 R=1 S=1", written, 1)
        with pytest.raises(DiagnosticError) as refused:
            read_study(residual)
        assert refused.value.diagnostics[0].code == code
    for relative, text in broken.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    result = runner.invoke(cli.app, ["import-timeloop", str(tmp_path)])
    assert result.exit_code == 1 and "error[E805]" in result.stderr
    as_json = runner.invoke(cli.app, ["import-timeloop", str(tmp_path), "--format", "json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["diagnostics"][0]["code"] == "E805"


def test_study_as_a_spec_costs_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """`dslc import-timeloop DIR -o study.cd`: the accelerator with every figure stated, an
    einsum network per problem and a mapping block per mapping; evaluated by `dslc eval`,
    each costs what the study costs."""
    monkeypatch.chdir(tmp_path)
    program = api.compile(REPO / "examples" / "mapping.cd")
    for relative, text in api.export_timeloop(program, mapping="rs_conv3x3").items():
        (tmp_path / "study" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "study" / relative).write_text(text)
    result = runner.invoke(cli.app, ["import-timeloop", "study", "-o", "study.cd"])
    assert result.exit_code == 0, result.output
    text = Path("study.cd").read_text()
    assert "input input[N, C, P + R, Q + S]" in text
    assert "input input_data: [1, 64, 58, 58]" in text  # 56 + 3 - 1 rows and columns
    spec = api.compile("study.cd")
    assert not spec.errors
    cost = api.evaluate(spec, "layer1_0_a_mapping")
    original = api.evaluate(program, "rs_conv3x3")
    assert (cost.energy_pj, cost.cycles, cost.area_mm2) == (
        original.energy_pj, original.cycles, original.area_mm2)
    assert [[(t.reads, t.fills, t.updates) for t in level.tensors] for level in cost.levels] \
        == [[(t.reads, t.fills, t.updates) for t in level.tensors] for level in original.levels]


@pytest.mark.parametrize(("path", "old", "new", "says"), [
    ("arch/eyeriss_like.arch.yaml", "entries: 55296", "entries: 1000000000000000000000",
     "memory `GLB`: size_bits"),
    ("arch/eyeriss_like.arch.yaml", "dslc_mesh: [14, 12]", "dslc_mesh: [4611686018427387904, 4]",
     "fanout `PE`: mesh_x"),
    ("arch/eyeriss_like.arch.yaml", "dslc_clock_hz: 200000000.0", "dslc_clock_hz: 1.0e-300",
     "accelerator `eyeriss_like`: clock_hz"),
    ("prob/layer1.0.a.prob.yaml", "instance: {N: 1,", "instance: {N: 0,",
     "`instance` bound N = 0 is outside 1 to 2,147,483,647"),
    ("prob/layer1.0.a.prob.yaml", "K: 64,", "K: 2000000000,",
     "3,612,672,000,000,000 MACs, more than the limit"),
])
def test_values_past_the_limits_are_e302(path: str, old: str, new: str, says: str) -> None:
    """An imported study is held to the language's limits (dslc/spec/limits.py): a figure
    past one is E302 naming the file, the component and the field, not a study that runs
    into the cost model's integer overflow. (K = 2e9: 2e9 x 64 x 56 x 56 x 3 x 3 MACs.)"""
    program = api.compile(REPO / "examples" / "mapping.cd")
    files = dict(api.export_timeloop(program, mapping="rs_conv3x3"))
    assert old in files[path]
    files[path] = files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E302"
    assert diagnostic.message.startswith(f"{path}: ") and says in diagnostic.message


# ---- read as timeloop-model reads them (NVlabs/timeloop src/mapping/parser.cpp) --------------


def _rs_conv3x3_files() -> dict[str, str]:
    return dict(api.export_timeloop(api.compile(REPO / "examples" / "mapping.cd"),
                                    mapping="rs_conv3x3"))


def test_a_partial_permutation_puts_the_missing_dims_outermost() -> None:
    """Timeloop pads a permutation that leaves dims out by appending them (innermost first,
    so outermost), in declaration order. They were put innermost: `QP` at DRAM with K = 4
    read as P, Q, K (outer to inner) where Timeloop runs K, P, Q, another mapping with
    another cost."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    full = read_study(files).layers[0]
    assert [(loop.dim, loop.factor) for loop in full.mapping.levels[0].temporal] == [
        (1, 4), (3, 4), (4, 2)]  # K 4, P 4, Q 2 (dims N K C P Q R S)
    files[path] = files[path].replace("permutation: QPKNCRS", "permutation: QP", 1)
    partial = read_study(files).layers[0]
    assert partial.mapping == full.mapping
    files[path] = files[path].replace("permutation: QP", "permutation: KQ", 1)
    # innermost first K, Q, then N C P R S appended: outer to inner S R P C N Q K
    assert [(loop.dim, loop.factor) for loop in
            read_study(files).layers[0].mapping.levels[0].temporal] == [(3, 4), (4, 2), (1, 4)]


def test_a_permutation_written_as_a_list_is_refused() -> None:
    """timeloop-model reads a permutation only as a string and ignores a list (its loops
    then come in an order of its own): dslc took the list's order, another mapping than
    Timeloop's, without a word."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    files[path] = files[path].replace("permutation: QPKNCRS",
                                      "permutation: [Q, P, K, N, C, R, S]", 1)
    with pytest.raises(DiagnosticError) as raised:
        read_study(files)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "E805"
    assert diagnostic.message.startswith(f"{path}: `DRAM`: `permutation` is a list")


def test_a_permutation_with_blanks_reads_as_without() -> None:
    """timeloop-model reads a permutation a character at a time, skipping blanks: `Q P K`
    is `QPK` (dslc took the blanks for dims and refused it)."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    full = read_study(files).layers[0]
    files[path] = files[path].replace("permutation: QPKNCRS", "permutation: Q P  K", 1)
    assert read_study(files).layers[0].mapping == full.mapping


def test_energies_no_table_gives_are_named_as_estimated(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A component with neither an ERT entry nor `vector-access-energy` gets dslc's
    estimated energies, where Timeloop would use its own: `import-timeloop` names it, in
    the JSON (`estimated`) and in a note on stderr, in either format."""
    files = _rs_conv3x3_files()
    ert, arch = "arch/components/eyeriss_like.ERT.yaml", "arch/eyeriss_like.arch.yaml"
    start = files[ert].index("  - name: system.GLB\n")
    end = files[ert].index("  - name: system.PE[0..167].ifmap_spad")
    files[ert] = files[ert][:start] + files[ert][end:]
    assert files[arch].count("vector-access-energy: 36.0\n") == 1
    files[arch] = files[arch].replace("        vector-access-energy: 36.0\n", "", 1)
    assert read_study(files).estimated == ("GLB",)
    assert read_study(_rs_conv3x3_files()).estimated == ()
    for relative, text in files.items():
        (tmp_path / "study" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "study" / relative).write_text(text)
    monkeypatch.chdir(tmp_path)
    note = ("no ERT entry or vector-access-energy gives the energies of `GLB`: they are "
            "dslc's estimate (Timeloop would use its own)\n")
    for args in ([], ["--format", "json"]):
        result = runner.invoke(cli.app, ["import-timeloop", "study", *args])
        assert result.exit_code == 0, result.output
        assert result.stderr == note
    assert json.loads(result.stdout)["estimated"] == ["GLB"]


def _memory(study_files: dict[str, str], name: str) -> MemorySpec:
    return next(c for c in read_study(study_files).accelerator.hierarchy
                if isinstance(c, MemorySpec) and c.name == name)


def test_energies_are_the_ert_actions_timeloop_charges() -> None:
    """timeloop-model charges a read the first of `random_read`, `read` in the ERT, a fill
    the first of `random_fill`, `random_write`, `fill`, `write`, an update the first of
    `random_update`, `random_write`, `update`, `write`, a MAC the first of `mac_random`,
    `mult_random`, `mac`, `mult`, `compute`, and an action listed once per argument
    combination (Accelergy's `address_delta`, `data_delta`) the most expensive. The
    importer read `read`, `write`, `update` and `MAC` only, and the last of repeated ones:
    36 pJ GLB reads listed as 36 then 30 read as 30, a fill costed `write` where Timeloop
    charges `random_fill`, and a MAC given only as `compute` was left to the estimator."""
    files = _rs_conv3x3_files()
    ert = "arch/components/eyeriss_like.ERT.yaml"
    glb_read = "    - {name: read, arguments: null, energy: 36.0}\n"
    assert files[ert].count(glb_read) == 1
    files[ert] = files[ert].replace(glb_read, (
        "    - {name: read, arguments: {address_delta: 1}, energy: 36.0}\n"
        "    - {name: read, arguments: {address_delta: 0}, energy: 30.0}\n"
        "    - {name: random_fill, arguments: null, energy: 40.0}\n"
        "    - {name: random_update, arguments: null, energy: 41.0}\n"))
    mac = ("    - {name: MAC, arguments: null, energy: 1.5}\n"
           "    - {name: mac_random, arguments: null, energy: 1.5}\n")
    assert mac in files[ert]
    files[ert] = files[ert].replace(mac, "    - {name: compute, energy: 2.5}\n")
    glb = _memory(files, "GLB")
    assert (glb.read_energy_pj, glb.write_energy_pj, glb.update_energy_pj) == (36.0, 40.0, 41.0)
    assert read_study(files).accelerator.compute.energy_pj == 2.5


def test_a_table_named_with_a_range_at_its_end_is_that_component() -> None:
    """`system.PE[0..167].psum_spad[0..0]` is `psum_spad` (Timeloop strips the range); it was
    split at the range's dots, read as a component `0]` that nothing is, and psum_spad's
    energies came from `vector-access-energy`."""
    files = _rs_conv3x3_files()
    ert = "arch/components/eyeriss_like.ERT.yaml"
    table = "- name: system.PE[0..167].psum_spad\n    actions:\n    - {name: read, "
    assert table in files[ert]
    files[ert] = files[ert].replace(table, table.replace("psum_spad", "psum_spad[0..0]"), 1)
    files[ert] = files[ert].replace(
        table.replace("psum_spad", "psum_spad[0..0]") + "arguments: null, energy: 1.5}",
        table.replace("psum_spad", "psum_spad[0..0]") + "arguments: null, energy: 2.0}", 1)
    assert _memory(files, "psum_spad").read_energy_pj == 2.0


NESTED = """
network n {
    input x: [16, 8, 8]
    layer a = conv(x, out = 32, kernel = 3, pad = 1)
}
accelerator nested {
    word = 16b
    clock = 1GHz
    memory DRAM    { width = 64b, read = 200pJ, write = 200pJ }
    memory GLB     { size = 32KiB, width = 64b, read = 6pJ, write = 6pJ }
    fanout cluster { mesh = 4 }
    memory LB      { size = 1KiB, read = 2pJ, write = 2pJ }
    fanout PE      { mesh = 4 x 4 }
    memory RF      { size = 64 words, read = 0.5pJ, write = 0.5pJ }
    compute MAC    { energy = 1pJ }
}
mapping m for n.a on nested {
    DRAM    { temporal [K 2] }
    GLB     { temporal [K 4, Q 2, C 4] }
    cluster { spatial x [K 4] }
    LB      { temporal [C 4, P 2] }
    PE      { spatial x [P 4], spatial y [Q 4] }
    RF      { temporal [R 3, S 3] }
}
"""


def _nested_files() -> tuple[dict[str, str], Cost]:
    program = api.compile(text=NESTED)
    return dict(api.export_timeloop(program, mapping="m")), api.evaluate(program, "m")


def test_subtree_ranges_count_per_instance_of_the_parent() -> None:
    """Timeloop and Accelergy multiply ranges down the tree: `PE[0..15]` inside
    `cluster[0..3]` is 64 PEs. The exporter wrote the total (`PE[0..63]`, 256 PEs to them),
    and the importer divided by the instances above (a study's `PE[0..15]` inside
    `cluster[0..3]` read as 4 PEs a cluster, 16 RFs where Timeloop has 64)."""
    files, original = _nested_files()
    tree = yaml.safe_load(files["arch/nested.arch.yaml"])["architecture"]["subtree"][0]
    cluster = tree["subtree"][0]
    assert cluster["name"] == "cluster[0..3]"
    assert cluster["subtree"][0]["name"] == "PE[0..15]"
    rf = cluster["subtree"][0]["local"][0]
    assert (rf["name"], rf["attributes"]["instances"], rf["attributes"]["meshX"]) == (
        "RF", 64, 16)
    study = read_study(files)
    arch = resolve_accelerator(study.accelerator)
    assert [level.instances for level in arch.levels] == [1, 1, 4, 64]
    assert evaluate(study.layers[0].problem, arch, study.layers[0].mapping) == original
    # without dslc's attributes (instances, dslc_mesh), as Timeloop's own files: the mesh is
    # meshX wide (RF meshX 16 = 4 clusters x 4 PEs across)
    bare = dict(files)
    bare["arch/nested.arch.yaml"] = "\n".join(
        line for line in files["arch/nested.arch.yaml"].splitlines()
        if "instances:" not in line and "dslc_mesh" not in line) + "\n"
    study = read_study(bare)
    fanouts = [c for c in study.accelerator.hierarchy if isinstance(c, FanoutSpec)]
    assert [(f.name, f.mesh_x, f.mesh_y) for f in fanouts] == [("cluster", 4, 1), ("PE", 4, 4)]
    arch = resolve_accelerator(study.accelerator)
    assert evaluate(study.layers[0].problem, arch, study.layers[0].mapping) == original


def test_a_local_array_below_a_subtree_grows_its_fanout() -> None:
    """Timeloop counts `RF[0..3]` inside `PE[0..3]` inside `cluster[0..3]` as 4 x 4 x 4 = 64
    RFs (Topology::ParseTreeSpecs), 16 wide (meshX), below 16 LBs 4 wide: one fanout of 4 x
    4, as the study written with `PE[0..15]`; it was E806. (Its sibling MAC needs its own
    `[0..3]`: a range multiplies only its component.)"""
    files, original = _nested_files()
    path = "arch/nested.arch.yaml"
    bare = "\n".join(line for line in files[path].splitlines()
                     if "instances:" not in line and "dslc_mesh" not in line) + "\n"
    assert "name: PE[0..15]" in bare and "- name: RF\n" in bare
    bare = bare.replace("name: PE[0..15]", "name: PE[0..3]").replace(
        "- name: RF\n", "- name: RF[0..3]\n").replace("- name: MAC\n", "- name: MAC[0..3]\n")
    study = read_study({**files, path: bare})
    fanouts = [c for c in study.accelerator.hierarchy if isinstance(c, FanoutSpec)]
    assert [(f.name, f.mesh_x, f.mesh_y) for f in fanouts] == [("cluster", 4, 1), ("PE", 4, 4)]
    arch = resolve_accelerator(study.accelerator)
    assert evaluate(study.layers[0].problem, arch, study.layers[0].mapping) == original


@pytest.mark.parametrize(("old", "new", "code", "says"), [
    # Timeloop takes `instances` over the tree's ranges
    ("instances: 64", "instances: 16", "E805",
     "`RF`: `instances` = 16, but the tree of subtrees gives 64"),
    ("meshX: 16", "meshX: 8", "E805", "`RF`: `meshX` = 8, but the tree of subtrees gives 16"),
    # a local array: Timeloop multiplies that component alone (2 x 64 RFs), and then takes
    # the `instances` written over it
    ("- name: RF\n", "- name: RF[0..1]\n", "E805",
     "`RF`: `instances` = 64, but the tree of subtrees gives 128"),
    # a network was a memory level; a class Timeloop skips was one too
    ("class: regfile", "class: XY_NoC", "E806", "`RF` is a network-on-chip (class XY_NoC)"),
    ("class: regfile", "class: wire", "E806", "`RF` has class `wire`, neither storage"),
    ("class: regfile", "class: intmac", "E805", "two compute components, `RF` and `MAC`"),
    # an adder is not Timeloop's arithmetic unit (topology.hpp computeClasses: mac, intmac,
    # fpmac, compute); dslc took it for the MAC unit, a second one or the only one
    ("class: regfile", "class: intadder", "E806",
     "`RF` has class `intadder`: an adder is not the unit timeloop-model counts MACs on"),
    ("class: intmac", "class: fpadder", "E806", "`MAC` has class `fpadder`: an adder is not"),
])
def test_what_timeloop_reads_otherwise_is_refused(old: str, new: str, code: str,
                                                 says: str) -> None:
    files, _ = _nested_files()
    path = "arch/nested.arch.yaml"
    assert old in files[path], files[path]
    files[path] = files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code and diagnostic.message.startswith(f"{path}: "), \
        diagnostic.message
    assert says in diagnostic.message


def test_dims_timeloop_cannot_name_are_not_exported() -> None:
    """timeloop-model reads a permutation one character a dim and `factors` as letters then
    digits: dims KA and C2 were written with a list for a permutation (not read: Timeloop
    orders the loops arbitrarily, with a warning) and `C2=4` (read as C = 2)."""
    program = api.compile(text="""
network n {
    input x: [16, 18]
    layer o = einsum(x) {
        dims   KA = 32, C2 = 16, P = 16, R = 3
        output O[ka, p]
        weight W[ka, c2, r]
        input  I[c2, p + r]
    }
}
accelerator acc {
    word = 16b
    clock = 1GHz
    memory DRAM { width = 64b, read = 200pJ, write = 200pJ }
    memory RF   { size = 4KiB, read = 0.5pJ, write = 0.5pJ }
    compute MAC { energy = 0.8pJ }
}
""")
    with pytest.raises(DiagnosticError) as refused:
        api.export_timeloop(program, network_name="n", layer="o", accelerator_name="acc",
                            options=api.mapper_settings(search="heuristic", budget=100))
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.code == "E806"
    assert diagnostic.message == "dims KA, C2: Timeloop's mappings name each dim by one letter"


def test_a_mapping_that_cannot_run_names_its_layer(tmp_path: Path) -> None:
    """A study holds a mapping per layer; the error said only `the mapping cannot run`
    (here psum_spad, 8 words, cannot keep its 16 outputs)."""
    files = _rs_conv3x3_files()
    path = "arch/eyeriss_like.arch.yaml"
    assert files[path].count("entries: 24\n") == 1
    files[path] = files[path].replace("entries: 24\n", "entries: 8\n")
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    with pytest.raises(CannotRunError) as caught:
        api.import_timeloop(tmp_path)
    assert str(caught.value) == (f"the mapping of layer layer1.0.a (layer1.0.a.map.yaml in "
                                 f"{tmp_path}) cannot run")
    assert caught.value.reasons == ("tiles kept at `psum_spad` need 16 words (output 16), it "
                                    "holds 8: 8 words over",)


def test_a_spatial_entry_without_split_puts_every_loop_on_x() -> None:
    """docs/interop.md: a missing `split` puts every spatial loop on X (Timeloop's default,
    `split` = the number of dims)."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    assert files[path].count("permutation: PCRNKQS, split: 1}") == 1
    files[path] = files[path].replace("permutation: PCRNKQS, split: 1}",
                                      "permutation: PCRNKQS}", 1)
    glb = read_study(files).layers[0].mapping.levels[1]
    assert [(loop.dim, loop.factor, loop.axis) for loop in glb.spatial] == [
        (5, 3, "x"), (2, 4, "x"), (3, 14, "x")]  # permutation PCR...: P innermost


def test_a_best_mapping_with_a_dim_on_both_axes_is_searched_again_for_timeloop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Timeloop has one spatial loop per dim and level, so a mapping that unrolls P on
    both X and Y of one fanout cannot be written (E806, and the whole export failed). The
    export of the mapper's mappings searches such a layer again with the dim forbidden on
    Y, and on X, writes the better, and says so in README.txt (and `dslc export` on
    stderr); a layer whose best mapping Timeloop can state is written as found."""
    program = api.compile("t.cd", text=b'import "std/networks/mobilenet_v2.cd"\n'
                                       b'import "std/accelerators/simple_os_16x16.cd"\n'
                                       b'import "std/accelerators/simple_ws_16x16.cd"\n')
    options = api.mapper_settings(budget=2000)
    found = api.map_layer(program, "mobilenet_v2", "b2.d", "simple_os_16x16", options=options)
    dims = found.problem.dims

    def doubled(mapping: object) -> list[str]:
        return sorted({dims[loop.dim] for level in mapping.levels  # type: ignore[attr-defined]
                       for loop in level.spatial
                       if sum(o.dim == loop.dim for o in level.spatial) > 1})

    assert doubled(found.result.mapping) == ["P"]  # the case: P on both X and Y
    with pytest.raises(DiagnosticError, match="unrolls P twice"):  # as found: E806
        export_study(found.arch, (StudyLayer("b2.d", found.problem, found.result.mapping),))
    files = api.export_timeloop(program, network_name="mobilenet_v2", layer="b2.d",
                                accelerator_name="simple_os_16x16", options=options)
    [layer] = read_study(files).layers
    assert doubled(layer.mapping) == []
    readme = files["README.txt"]
    assert readme.count("Mappings re-searched for Timeloop:") == 1
    assert "- layer b2.d: the best mapping found unrolls P on both axes of `PE`" in readme
    assert "which Timeloop cannot state; written: the best with P not on " in readme
    # The written mapping is its layer's own cost model figure, read back exactly.
    assert evaluate(layer.problem, found.arch, layer.mapping) == \
        evaluate(found.problem, found.arch, layer.mapping)
    # On simple_ws_16x16 the best mapping of b2.d is written as the mapper found it.
    ws = api.map_layer(program, "mobilenet_v2", "b2.d", "simple_ws_16x16", options=options)
    assert doubled(ws.result.mapping) == []
    files = api.export_timeloop(program, network_name="mobilenet_v2", layer="b2.d",
                                accelerator_name="simple_ws_16x16", options=options)
    assert "re-searched" not in files["README.txt"]
    assert read_study(files).layers[0].mapping == ws.result.mapping
    # `dslc export` prints the README's notes on stderr.
    monkeypatch.chdir(tmp_path)
    Path("t.cd").write_text('import "std/networks/mobilenet_v2.cd"\n'
                            'import "std/accelerators/simple_os_16x16.cd"\n')
    result = runner.invoke(cli.app, ["export", "t.cd", "-n", "mobilenet_v2", "-l", "b2.d",
                                     "-a", "simple_os_16x16", "-o", "study"])
    assert result.exit_code == 0, result.output
    notes = (Path("study") / "README.txt").read_text().split("\n\n")[-1].rstrip()
    assert notes.startswith("Mappings re-searched for Timeloop:\n- layer b2.d: ")
    assert result.stderr.endswith(notes + "\n")


# ---- the forms timeloop-model and timeloopfe accept (src/mapping/parser.cpp,
# ParseUserFactors / ParseAndConstruct / FindTargetStorageLevel; timeloopfe
# common/version_transpilers/v4_to_v3.py) --------------------------------------------------

_DRAM_FACTORS = "factors: N=1 K=4 C=1 P=4 Q=2 R=1 S=1,"


@pytest.mark.parametrize("written", [
    "factors: N1 K4 C1 P4 Q2 R1 S1,",            # no `=`: the pattern's `=*` takes none
    "factors: 'K = 4, P=4 Q = 2',",              # blanks, commas (timeloopfe's join), 1s left out
    "factors: [N=1, K=4, C=1, P=4, Q=2, R=1, S=1],",  # timeloopfe's v4 list
    "factors: 'K=4 P=4 Q=2 # DRAM: K, then the rows',",  # `#` on is a comment
    "factors: K=4 P=4 Q=2#tiles,",
    "factors: 'N=1 K=4,4 C=1 P=4 Q=2',",         # a residual equal to the factor: perfect
])
def test_factor_forms_timeloop_reads_give_the_written_mapping(written: str) -> None:
    """Each was E805 (`bad factor`, or a list's items as one) though timeloop-model reads
    it as K = 4, P = 4, Q = 2 at DRAM: DRAM's loops outer to inner K 4, P 4, Q 2."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    full = read_study(files).layers[0].mapping
    assert _DRAM_FACTORS in files[path]
    files[path] = files[path].replace(_DRAM_FACTORS, written, 1)
    mapping = read_study(files).layers[0].mapping
    assert [(loop.dim, loop.factor) for loop in mapping.levels[0].temporal] == [
        (1, 4), (3, 4), (4, 2)]
    assert mapping == full


def test_a_zero_factor_is_the_whole_bound() -> None:
    """timeloop-model reads `K=0` as K's whole bound ("Interpreting 0 to mean full problem
    dimension instead of residue", ParseUserFactors); dslc refused it as a residual (E806).
    K = 64: 0 at DRAM and 1 at psum_spad is the same mapping as 64 and 1."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    files[path] = files[path].replace("N=1 K=16 C=1", "N=1 K=1 C=1", 1)
    written = dict(files)
    written[path] = files[path].replace("N=1 K=4 C=1", "N=1 K=64 C=1", 1)
    files[path] = files[path].replace("N=1 K=4 C=1", "N=1 K=0 C=1", 1)
    mapping = read_study(files).layers[0].mapping
    assert [(loop.dim, loop.factor) for loop in mapping.levels[0].temporal] == [
        (1, 64), (3, 4), (4, 2)]
    assert [loop.factor for loop in mapping.levels[4].temporal] == []
    assert mapping == read_study(written).layers[0].mapping


@pytest.mark.parametrize(("written", "code", "says"), [
    # a max-factor constraint: timeloop-model's mapping parser skips it (K stays 1)
    ("N=1 K<=4 C=1", "E805", "`K<=4` is not a factor"),
    # letters then digits: `C2=4` is C = 2 to timeloop-model, and `=4` is dropped
    ("N=1 K=4 C2=4", "E805", "`C2=4` is not a factor"),
    ("N=1 K=4 Z=1", "E805", "factor `Z=1` names Z, not a dim of the problem"),
    ("N=1 K=4 C=1 K=4", "E805", "two factors for K"),
    ("N=1 K=4 C=1 P=4 Q=2 R=1 S=1 junk", "E805", "`junk` is not a factor"),
    # past a C int (timeloop-model's std::stoi throws)
    ("N=1 K=1099511627776 C=1", "E302", "factor K=1099511627776 is outside 1 to 2,147,483,647"),
])
def test_factors_timeloop_would_misread_are_refused(written: str, code: str,
                                                    says: str) -> None:
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    files[path] = files[path].replace("N=1 K=4 C=1", written, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code, diagnostic.message
    assert diagnostic.message.startswith(f"{path}: `DRAM`") and says in diagnostic.message
    assert diagnostic.help


def test_entry_types_and_numbered_targets_timeloop_reads() -> None:
    """timeloopfe's `type: dataspace` (its transpiler writes `bypass`) and a target given as
    a storage level's number (0 the innermost, FindTargetStorageLevel) were E805."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    full = read_study(files).layers[0].mapping
    files[path] = files[path].replace("type: datatype", "type: dataspace").replace(
        "target: DRAM", "target: 4").replace("target: psum_spad", "target: 0")
    assert read_study(files).layers[0].mapping == full
    files[path] = files[path].replace("target: 4", "target: 5", 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    assert caught.value.diagnostics[0].message == (
        f"{path}: a mapping entry targets storage level 5; the architecture has levels 0 "
        "to 4 (0 the innermost)")


@pytest.mark.parametrize(("old", "new", "says"), [
    ("permutation: QPKNCRS}", "permutation: QPKNCRS, no_temporal_reuse: [Weights]}",
     "`DRAM`: `no_temporal_reuse` has no dslc counterpart"),
    ("- target: DRAM\n  type: datatype\n", "- target: DRAM\n  type: datatype\n"
     "  passthrough: [Inputs]\n", "`DRAM`: `passthrough` has no dslc counterpart"),
    ("mapping:\n", "mapping:\n- {target: GLB, type: skew, modulo: 4, terms: []}\n",
     "`GLB`: a `skew` entry has no dslc counterpart"),
])
def test_entry_options_dslc_does_not_model_are_e806(old: str, new: str, says: str) -> None:
    """timeloop-model reads these (ParseAndConstruct) and counts otherwise; dslc ignored
    them, and gave counts Timeloop does not."""
    files = _rs_conv3x3_files()
    path = "map/layer1.0.a.map.yaml"
    assert old in files[path]
    files[path] = files[path].replace(old, new, 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E806" and says in diagnostic.message, diagnostic.message


# ---- memory attributes as timeloop-model reads them (src/model/buffer.cpp,
# BufferLevel::ParseSpecs; src/compound-config/hyphens-to-underscores.cpp) -----------------

_GLB_SIZE = "        entries: 55296\n        depth: 13824\n"


def _glb_bits(files: dict[str, str]) -> int | None:
    glb = next(c for c in read_study(files).accelerator.hierarchy if c.name == "GLB")
    assert isinstance(glb, MemorySpec)
    return glb.size_bits


@pytest.mark.parametrize(("size", "spelled"), [
    # Timeloop v3 and timeloopfe spell `block_size` (hyphens are its deprecated spelling):
    # the depth is 13,824 blocks of 4 words, 55,296 words of 16 bits; read as blocks of 1
    ("        depth: 13824\n", True),
    ("        memory_depth: 13824\n", False),
    ("        data_storage_depth: 13824\n", False),
    # 108 KiB of 16-bit words: 108 x 1024 x 8 / 16 = 55,296 words; read as unbounded
    ("        sizeKB: 108\n", False),
])
def test_memory_sizes_timeloop_reads(size: str, spelled: bool) -> None:
    files = _rs_conv3x3_files()
    path = "arch/eyeriss_like.arch.yaml"
    assert _glb_bits(files) == 55296 * 16
    assert _GLB_SIZE in files[path]
    files[path] = files[path].replace(_GLB_SIZE, size, 1)
    if spelled:
        for old in ("word-bits", "block-size", "multiple-buffering", "vector-access-energy"):
            files[path] = files[path].replace(old, old.replace("-", "_"))
    assert _glb_bits(files) == 884736


def test_underscore_spellings_give_the_same_accelerator() -> None:
    files = _rs_conv3x3_files()
    path = "arch/eyeriss_like.arch.yaml"
    original = read_study(files).accelerator
    for old in ("word-bits", "block-size", "multiple-buffering", "vector-access-energy"):
        files[path] = files[path].replace(old, old.replace("-", "_"))
    assert read_study(files).accelerator == original
    files[path] = files[path].replace("block_size: 4", "block_size: 4\n        block-size: 2", 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    assert caught.value.diagnostics[0].message == (
        f"{path}: `DRAM`: `block-size` and `block_size` (the same attribute to "
        "timeloop-model) differ")


def test_a_v4_study_with_tags_names_its_form() -> None:
    """timeloopfe's `!Component` tags were "not YAML" (E805); read as plain values, the
    study reaches the diagnostic that says what to do."""
    files = _rs_conv3x3_files()
    path = "arch/eyeriss_like.arch.yaml"
    files[path] = ("architecture:\n  version: 0.4\n  nodes:\n  - !Container {name: system}\n"
                   "  - !Component {name: MAC, class: intmac}\n")
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E806" and "the `nodes` form" in diagnostic.message


@pytest.mark.parametrize("other", ["        entries: 55296\n", "        depth: 13824\n",
                                   "        memory_depth: 13824\n"])
def test_sizekb_beside_entries_or_a_depth_is_refused(other: str) -> None:
    """BufferLevel::ParseSpecs asserts that `sizeKB` is absent beside `entries` or a depth
    (timeloop-model stops); dslc took the entries or the depth and ignored `sizeKB`."""
    files = _rs_conv3x3_files()
    path = "arch/eyeriss_like.arch.yaml"
    files[path] = files[path].replace(_GLB_SIZE, other + "        sizeKB: 64\n", 1)
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E805" and diagnostic.help == "give one of them"
    assert diagnostic.message.endswith("both give its size; timeloop-model stops on it (an "
                                       "assert in BufferLevel::ParseSpecs)")


def test_import_timeloop_json_is_the_documented_document(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/cli.md: `--format json` prints `{"accelerator": <spec>, "layers": [{"name",
    "cost": <dslc eval JSON>}], "estimated": [<component>]}`: these keys, and each cost is
    `dslc eval`'s object for the same mapping, figure for figure (the round trip is exact)."""
    monkeypatch.chdir(tmp_path)
    spec = str(REPO / "examples" / "mapping.cd")
    assert runner.invoke(cli.app, ["export", spec, "--to", "timeloop", "--mapping",
                                   "rs_conv3x3", "-o", "study"]).exit_code == 0
    back = runner.invoke(cli.app, ["import-timeloop", "study", "--format", "json"])
    assert back.exit_code == 0, back.output
    data = json.loads(back.stdout)
    assert list(data) == ["accelerator", "layers", "estimated"]
    assert isinstance(data["accelerator"], dict) and data["estimated"] == []
    (layer,) = data["layers"]
    assert list(layer) == ["name", "cost"]
    evaluated = json.loads(runner.invoke(cli.app, ["eval", spec, "--mapping", "rs_conv3x3",
                                                   "--format", "json"]).stdout)
    assert list(layer["cost"]) == list(evaluated)
    figures = ("macs", "cycles", "compute_cycles", "latency_s", "utilization", "energy_pj",
               "area_mm2")
    assert {key: layer["cost"][key] for key in figures} == {
        key: evaluated[key] for key in figures}
