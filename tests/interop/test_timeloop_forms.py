"""Timeloop study forms read as timeloop-model reads them, or refused with a code (each
decided from NVlabs/timeloop's source, cited per test): cluster sizes (src/model/buffer.cpp
ParseSpecs, src/model/topology.cpp ParseAccelergyERT), factors that do not cover a bound
(src/mapping/parser.cpp ParseAndConstruct), bad ERT/ART figures, and problem-file forms
(src/workload/workload.cpp ParseWorkload, src/workload/problem-shape.cpp Shape::Parse)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.arch import resolve_accelerator  # noqa: E402
from dslc.cost.model import Cost, evaluate  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.interop.timeloop import read_study  # noqa: E402
from dslc.spec.accelerator import MemorySpec  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ARCH = "arch/eyeriss_like.arch.yaml"
ERT = "arch/components/eyeriss_like.ERT.yaml"
ART = "arch/components/eyeriss_like.ART.yaml"
PROB = "prob/layer1.0.a.prob.yaml"
MAP = "map/layer1.0.a.map.yaml"
runner = CliRunner()


def _files() -> dict[str, str]:
    return dict(api.export_timeloop(api.compile(REPO / "examples" / "mapping.cd"),
                                    mapping="rs_conv3x3"))


def _refused(files: dict[str, str], code: str) -> str:
    with pytest.raises(DiagnosticError) as caught:
        read_study(files)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code, diagnostic.message
    assert diagnostic.help, "every refusal says what to do"
    return diagnostic.message


def _glb(files: dict[str, str]) -> MemorySpec:
    glb = next(c for c in read_study(files).accelerator.hierarchy if c.name == "GLB")
    assert isinstance(glb, MemorySpec)
    return glb


# ---- 1. cluster sizes ------------------------------------------------------------------------

_GLB_ATTRS = ("        word-bits: 16\n        datawidth: 16\n        width: 64\n"
              "        block-size: 4\n        entries: 55296\n        depth: 13824\n")


@pytest.mark.parametrize(("old", "new", "says"), [
    # a width of two blocks: timeloop-model reads width / (word_bits x block_size) = 2 as the
    # cluster size (BufferLevel::ParseSpecs) and divides the ERT energies by it
    # (ParseAccelergyERT); dslc read a 128-bit block of 8 words
    ("width: 64\n        block-size: 4\n", "width: 128\n        block-size: 4\n",
     "memory `GLB` has a cluster size of 2 (width = 128, word_bits = 16, block_size = 4: "
     "timeloop-model reads width / (word_bits x block_size) as one)"),
    # an explicit cluster size was ignored
    ("width: 64\n        block-size: 4\n", "width: 256\n        block-size: 4\n"
     "        cluster-size: 4\n", "memory `GLB` has a cluster size of 4 (timeloop-model"),
    ("width: 64\n        block-size: 4\n", "block-size: 4\n        cluster_size: 3\n",
     "memory `GLB` has a cluster size of 3 (timeloop-model"),
])
def test_a_cluster_size_is_refused_naming_the_memory(old: str, new: str, says: str) -> None:
    files = _files()
    assert files[ARCH].count(_GLB_ATTRS) == 1
    files[ARCH] = files[ARCH].replace(_GLB_ATTRS, _GLB_ATTRS.replace(old, new), 1)
    message = _refused(files, "E806")
    assert message.startswith(f"{ARCH}: {says}"), message
    assert "Timeloop shares an access among the instances of a cluster" in message


@pytest.mark.parametrize(("old", "new", "says"), [
    # timeloop-model asserts width % (word_bits x block_size) == 0
    ("width: 64\n", "width: 72\n", "memory `GLB`: width = 72 bits is not a multiple of "
     "word_bits x block_size = 16 x 4; timeloop-model stops on it"),
    # block size, word bits and cluster size that disagree with the width: it exits
    ("block-size: 4\n", "block-size: 4\n        cluster_size: 2\n",
     "memory `GLB`: block_size x word_bits x cluster_size = 4 x 16 x 2 is not the width, 64"),
])
def test_widths_timeloop_stops_on_are_e805(old: str, new: str, says: str) -> None:
    files = _files()
    files[ARCH] = files[ARCH].replace(_GLB_ATTRS, _GLB_ATTRS.replace(old, new), 1)
    assert _refused(files, "E805").startswith(f"{ARCH}: {says}")


def test_a_width_without_a_block_size_is_the_block() -> None:
    """timeloop-model, given a width and neither a block size nor a cluster size, sets the
    block to width / word_bits (64 / 16 = 4 words) and a depth counts those blocks: 13,824
    x 4 = 55,296 words. dslc read blocks of 1 word and 13,824 words. A cluster size of 1
    changes nothing."""
    files = _files()
    bare = "        word-bits: 16\n        width: 64\n        depth: 13824\n"
    files[ARCH] = files[ARCH].replace(_GLB_ATTRS, bare, 1)
    glb = _glb(files)
    assert (glb.size_bits, glb.width_bits) == (55296 * 16, 64)
    files[ARCH] = files[ARCH].replace(bare, bare + "        cluster-size: 1\n", 1)
    assert (_glb(files).size_bits, _glb(files).width_bits) == (55296 * 16, 64)


def test_word_width_is_the_word() -> None:
    """BufferLevel::ParseSpecs reads the word from `word-bits`, else `word_width`, else
    `datawidth`; dslc read `word_width` not at all (16 bits)."""
    files = _conv1d()
    files["arch/a.arch.yaml"] = CONV1D_ARCH.replace("word_bits: 16", "word_width: 8")
    dram = read_study(files).accelerator.hierarchy[0]
    assert isinstance(dram, MemorySpec) and (dram.word_bits, dram.width_bits) == (8, 8)


# ---- 2. factors that do not multiply up to a bound -------------------------------------------


@pytest.mark.parametrize("form", ["table", "json"])
def test_factors_short_of_the_bound_are_e805_naming_file_dim_product_bound(
        tmp_path: Path, form: str) -> None:
    """timeloop-model refuses the mapping ("product of all factors of dimension K is 32,
    which is not equal to the dimension size of the workload 64", then exit(1):
    ParseAndConstruct, src/mapping/parser.cpp); dslc said "cannot run", without a code."""
    files = _files()
    files[MAP] = files[MAP].replace("K=4 C=1", "K=2 C=1", 1)  # DRAM: K 2 x psum_spad K 16
    files[MAP] = files[MAP].replace("Q=28 R=1", "Q=7 R=1", 1)  # GLB: Q 7 x DRAM Q 2
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    result = runner.invoke(cli.app, ["import-timeloop", str(tmp_path), "--format", form])
    assert result.exit_code == 1
    k = (f"{MAP}: the factors of K multiply to 32, but its bound in the problem is 64; "
         "timeloop-model refuses such a mapping (\"product of all factors of dimension K is "
         "32, which is not equal to the dimension size of the workload 64\")")
    q = f"{MAP}: the factors of Q multiply to 14, but its bound in the problem is 56"
    k_help = ("multiply one of K's factors by 2 (at `DRAM`, say); every dim's temporal and "
              "spatial factors, over all levels, multiply to its bound")
    if form == "json":
        diagnostics = json.loads(result.stdout)["diagnostics"]
        assert [d["code"] for d in diagnostics] == ["E805", "E805"]
        assert diagnostics[0]["message"] == k and diagnostics[0]["help"] == k_help
        assert diagnostics[1]["message"].startswith(q)
    else:
        assert f"error[E805]: {k}" in result.stderr and f"help: {k_help}" in result.stderr
        assert f"error[E805]: {q}" in result.stderr
        assert "cannot run" not in result.output


# ---- 3. ERT and ART figures -----------------------------------------------------------------


@pytest.mark.parametrize(("path", "old", "new", "says"), [
    (ERT, "{name: read, arguments: null, energy: 36.0}",
     "{name: read, arguments: null, energy: .nan}", "`GLB` action `read` energy = nan pJ"),
    (ERT, "{name: read, arguments: null, energy: 36.0}",
     "{name: read, arguments: null, energy: .inf}", "`GLB` action `read` energy = inf pJ"),
    (ERT, "{name: write, arguments: null, energy: 36.0}",
     "{name: write, arguments: null, energy: -2}", "`GLB` action `write` energy = -2.0 pJ"),
    (ART, "{name: system.GLB, area: 1277384.021333333}", "{name: system.GLB, area: .nan}",
     "`GLB` area = nan um^2"),
])
def test_bad_table_figures_name_the_table_and_the_action(path: str, old: str, new: str,
                                                         says: str) -> None:
    """A NaN, infinite or negative figure was E302 naming the architecture's file."""
    files = _files()
    assert old in files[path]
    files[path] = files[path].replace(old, new, 1)
    message = _refused(files, "E302")
    assert message.startswith(f"{path}: {says}: a figure from 0 to "), message


# ---- 4. problem-file forms -------------------------------------------------------------------

CONV1D = """problem:
  version: '0.4'
  shape:
    name: conv1d
    dimensions: [K, C, P, R]
    coefficients:
    - {name: Wstride, default: 1}
    - {name: Wdilation, default: 1}
    data_spaces:
    - {name: Weights, projection: [[[K]], [[C]], [[R]]]}
    - {name: Inputs, projection: [[[C]], [[P, Wstride], [R, Wdilation]]]}
    - {name: Outputs, projection: [[[K]], [[P]]], read_write: true}
  instance: {K: 4, C: 2, P: 8, R: 3, Wstride: 2, Wdilation: 3}
"""
CONV1D_ARCH = """architecture:
  version: '0.4'
  subtree:
  - name: system
    local:
    - {name: DRAM, class: DRAM, attributes: {word_bits: 16, block_size: 1}}
    - {name: MAC, class: intmac, attributes: {datawidth: 16}}
"""
CONV1D_MAP = """mapping:
- {target: DRAM, type: temporal, factors: K=4 C=2 P=8 R=3, permutation: RPCK}
"""


def _conv1d(problem: str = CONV1D) -> dict[str, str]:
    return {"arch/a.arch.yaml": CONV1D_ARCH, "prob/l.prob.yaml": problem,
            "map/l.map.yaml": CONV1D_MAP}


def _input_axis(problem: str) -> tuple[tuple[tuple[int, int], ...], int]:
    """The input's second axis (terms of (dim, coefficient)) and the input's size."""
    layer = read_study(_conv1d(problem)).layers[0].problem
    inputs = next(t for t in layer.tensors if t.name == "input")
    return inputs.axes[1].terms, layer.tensor_size(inputs)


def test_strides_and_dilations_in_the_instance_replace_the_defaults() -> None:
    """ParseWorkloadInstance: a coefficient's value in the instance replaces its default.
    Input width = Wstride x (P - 1) + Wdilation x (R - 1) + 1 = 2 x 7 + 3 x 2 + 1 = 21, x C 2
    = 42 words."""
    assert _input_axis(CONV1D) == (((2, 2), (3, 3)), 42)
    # defaults: 7 + 2 + 1 = 10, x 2 = 20
    assert _input_axis(CONV1D.replace(", Wstride: 2, Wdilation: 3", "")) == \
        (((2, 1), (3, 1)), 20)


def test_a_dim_twice_in_an_axis_is_one_term_and_a_zero_coefficient_none() -> None:
    """A projection is a sum of terms: `[[P], [P]]` is 2P (Projection holds one term per dim,
    as dslc.lower builds it), and a coefficient of 0 leaves its dim out of the axis (it
    does not index the tensor). Kept as written, the repeated P counted as two independent
    dims: touched_words took 2 x 8 - 1 = 15 values for an axis of 8 (0, 2, .., 14), a lower
    bound on DRAM traffic above what a mapping costs, and a zero stride made P index the
    input."""
    from dslc.cost.bounds import touched_words

    twice = CONV1D.replace("[[P, Wstride], [R, Wdilation]]", "[[P], [P]]")
    assert _input_axis(twice)[0] == ((2, 2),)
    layer = read_study(_conv1d(twice)).layers[0].problem
    inputs = next(t for t in layer.tensors if t.name == "input")
    assert touched_words(layer, inputs) == 2 * 8  # C x the 8 even rows 0..14
    assert inputs.dims() == frozenset({1, 2})
    zero = CONV1D.replace("Wstride: 2,", "Wstride: 0,")
    assert _input_axis(zero)[0] == ((3, 3),)
    inputs = next(t for t in read_study(_conv1d(zero)).layers[0].problem.tensors
                  if t.name == "input")
    assert inputs.dims() == frozenset({1, 3})  # C and R: P does not index it


def test_bounds_written_directly_under_problem_are_read() -> None:
    """The v0.3 layout: ParseWorkload reads the bounds (and coefficients) from `problem`
    itself when there is no `instance` ("backwards-compat"). dslc required `instance`."""
    direct = CONV1D.replace("  instance: {K: 4, C: 2, P: 8, R: 3, Wstride: 2, Wdilation: 3}\n",
                            "  K: 4\n  C: 2\n  P: 8\n  R: 3\n  Wstride: 2\n  Wdilation: 3\n")
    assert "instance" not in direct
    assert _input_axis(direct) == (((2, 2), (3, 3)), 42)
    study = read_study(_conv1d(direct))
    assert study.layers[0].problem.bounds == (4, 2, 8, 3)
    files = _files()
    flat = files[PROB].replace("  instance: {N: 1, K: 64, C: 64, P: 56, Q: 56, R: 3, S: 3}\n",
                               "  N: 1\n  K: 64\n  C: 64\n  P: 56\n  Q: 56\n  R: 3\n  S: 3\n")
    assert flat != files[PROB]
    assert read_study({**files, PROB: flat}).layers == read_study(files).layers
    with pytest.raises(DiagnosticError) as caught:
        read_study({**files, PROB: flat.replace("  S: 3\n", "")})
    assert caught.value.diagnostics[0].message == \
        f"{PROB}: `problem` (no `instance`) has no bound for S"


def test_a_projection_of_dim_names_is_one_axis_a_name() -> None:
    """Shape::Parse reads `projection: [K, C, R, S]` (an array of names) as one axis per
    dim. dslc refused it ("expected a list")."""
    files = _files()
    written = "    - name: Weights\n      projection:\n      - - [K]\n      - - [C]\n" \
        "      - - [R]\n      - - [S]\n"
    assert written in files[PROB]
    names = {**files, PROB: files[PROB].replace(
        written, "    - name: Weights\n      projection: [K, C, R, S]\n", 1)}
    assert read_study(names).layers == read_study(files).layers


@pytest.mark.parametrize(("old", "new", "code", "says"), [
    # a name for the shape: timeloop-model reads a file of its own problem-shape directories
    ("  shape:\n    name: conv1d\n", "  shape: cnn-layer\n  unused:\n    name: conv1d\n",
     "E806", "the problem names its shape, `cnn-layer`, which timeloop-model reads from a "
     "file in its problem-shape directories"),
    ("  shape:\n    name: conv1d\n", "  unused:\n    name: conv1d\n", "E806",
     "the problem has no `shape`, so timeloop-model would read its own cnn-layer shape"),
    # Shape::Parse asserts a coefficient's default
    ("{name: Wdilation, default: 1}", "{name: Wdilation}", "E805",
     "coefficient `Wdilation` has no `default`, which timeloop-model requires"),
    # a stride the shape does not declare: timeloop-model ignores it
    ("Wstride: 2, Wdilation: 3}", "Wstride: 2, Wdilation: 3, Hstride: 2}", "E805",
     "`instance` gives Hstride, neither a dim nor a coefficient of the shape: "
     "timeloop-model ignores it"),
    # Shape::Parse exits on a dim of more than one character
    ("dimensions: [K, C, P, R]", "dimensions: [K, C, P, RR]", "E805",
     "dims RR: timeloop-model reads only dims named by one character"),
    ("    name: conv1d\n", "    name: conv1d\n    flatten: [{name: X, dimensions: [K, C]}]\n",
     "E806", "`flatten` (Timeloop's flattened dimensions) has no dslc counterpart"),
    ("Wstride: 2, Wdilation: 3}", "Wstride: 2, Wdilation: 3, commonDensity: 0.5}", "E806",
     "`commonDensity` (sparsity) has no dslc counterpart"),
    ("projection: [[[K]], [[C]], [[R]]]", "projection: [K, [[C]], [[R]]]", "E805",
     "`Weights` projection mixes dim names and lists of terms"),
])
def test_problem_forms_timeloop_reads_otherwise_are_refused(old: str, new: str, code: str,
                                                            says: str) -> None:
    assert old in CONV1D
    message = _refused(_conv1d(CONV1D.replace(old, new, 1)), code)
    assert message.startswith(f"prob/l.prob.yaml: {says}"), message


def test_the_conv1d_study_costs_what_it_should() -> None:
    """The hand-written study evaluates: 4 x 2 x 8 x 3 = 192 MACs, each reading its weight
    and input from DRAM and updating its output there (no buffer between)."""
    study = read_study(_conv1d())
    assert study.layers[0].problem.macs == 192


# ---- 5. timeloopfe's flat architecture --------------------------------------------------------


def _flat(files: dict[str, str]) -> dict[str, str]:
    """The rs_conv3x3 study as timeloopfe's v4_to_v3 transpiler writes it for
    timeloop-model: every component in one `local` list named with its total instances
    (`ifmap_spad[1..168]`), meshX and meshY on each, and before the components with a
    fanout a dummy storage level `inter_PE_spatial` (class dummy_storage, width, depth and
    datawidth 1) that keeps nothing and carries the fanout's spatial loops."""
    tree = yaml.safe_load(files[ARCH])["architecture"]["subtree"][0]
    pe = tree.pop("subtree")[0]
    local = []
    for component, total, mesh in [(c, 1, (1, 1)) for c in tree["local"]] + [
            (c, 168, (14, 12)) for c in pe["local"]]:
        attributes = {k: v for k, v in component["attributes"].items()
                      if not k.startswith("dslc_") and k != "instances"}
        attributes.update(meshX=mesh[0], meshY=mesh[1], power_gated_at=component["name"])
        if component["name"] == "ifmap_spad":
            local.append({"name": "inter_PE_spatial[1..1]", "class": "dummy_storage",
                          "attributes": {"width": 1, "depth": 1, "datawidth": 1,
                                         "technology": -1, "meshX": 1, "meshY": 1}})
        local.append({"name": f"{component['name']}[1..{total}]",
                      "class": component["class"], "attributes": attributes})
    flat = {"architecture": {"version": "0.4", "subtree": [
        {"name": "system_top_level", "attributes": tree["attributes"], "local": local}]}}
    ert = yaml.safe_load(files[ERT])
    for table in ert["ERT"]["tables"]:
        table["name"] = table["name"].replace("system.PE[0..167].", "system_top_level.")
    ert["ERT"]["tables"].append({"name": "system_top_level.inter_PE_spatial[1..1]",
                                 "actions": [{"name": n, "energy": 0.0} for n in
                                             ("read", "write", "update", "leak")]})
    art = yaml.safe_load(files[ART])
    art["ART"]["tables"].append({"name": "system_top_level.inter_PE_spatial[1..1]",
                                 "area": 0.0})
    entries = yaml.safe_load(files[MAP])["mapping"]
    for entry in entries:
        if entry["type"] == "spatial":
            entry["target"] = "inter_PE_spatial"
    entries += [{"target": "inter_PE_spatial", "type": "temporal",
                 "factors": "N=1,K=1,C=1,P=1,Q=1,R=1,S=1", "permutation": "NKCPQRS"},
                {"target": "inter_PE_spatial", "type": "bypass",
                 "bypass": ["Weights", "Inputs", "Outputs"]}]
    return {**files, ARCH: yaml.safe_dump(flat), ERT: yaml.safe_dump(ert),
            ART: yaml.safe_dump(art), MAP: yaml.safe_dump({"mapping": entries})}


def test_timeloopfe_flat_form_costs_what_the_tree_costs() -> None:
    """Timeloop's instances of a local `X[1..N]` are N times the subtrees' product
    (Topology::ParseTreeSpecs) and a fanout is the ratio of two levels' instances, so the
    flat form is the tree's hierarchy with a dummy level above the fanout. The dummy is a
    storage level to Timeloop (its class contains `storage`) that keeps nothing (timeloopfe's
    dummy_constraints bypass every data space, factors 1), so it is read, and counted, as
    such: no reads, fills or updates, and its table's figures (0 here). It was E806 ("an
    array inside its subtree")."""
    files = _files()

    def cost(study_files: dict[str, str]) -> Cost:
        study = read_study(study_files)
        layer = study.layers[0]
        return evaluate(layer.problem, resolve_accelerator(study.accelerator), layer.mapping)

    nested, flat = cost(files), cost(_flat(files))
    hierarchy = read_study(_flat(files)).accelerator.hierarchy
    assert [(c.name, type(c).__name__) for c in hierarchy] == [
        ("DRAM", "MemorySpec"), ("GLB", "MemorySpec"), ("inter_PE_spatial", "MemorySpec"),
        ("ifmap_spad_array", "FanoutSpec"), ("ifmap_spad", "MemorySpec"),
        ("weights_spad", "MemorySpec"), ("psum_spad", "MemorySpec")]
    fanout = hierarchy[3]
    assert (fanout.mesh_x, fanout.mesh_y) == (14, 12)
    assert (flat.energy_pj, flat.cycles, flat.area_mm2, flat.macs) == (
        nested.energy_pj, nested.cycles, nested.area_mm2, nested.macs)
    # 1.348 mJ and 688,128 cycles, as the tree's (docs/interop.md, "Round trip")
    assert (round(flat.energy_pj / 1e9, 3), flat.cycles) == (1.348, 688128)
    levels = {level.name: level for level in flat.levels}
    dummy = levels.pop("inter_PE_spatial")
    assert dummy.energy_pj == 0
    assert levels == {level.name: level for level in nested.levels}


@pytest.mark.parametrize(("old", "new", "code", "says"), [
    # fewer instances than the component above: no fanout Timeloop can have
    ("name: psum_spad[1..168]", "name: psum_spad[1..84]", "E805",
     "`psum_spad[1..84]`: 84 instances below a component of 168; timeloop-model's fanout "
     "between them, 84 / 168, is not a whole number"),
    # a mesh 5 wide holds no 168 instances in rows
    ("meshX: 14", "meshX: 5", "E805",
     "`ifmap_spad[1..168]`: a mesh 5 wide is no mesh of 168 instances per instance of the "
     "1-wide mesh above"),
    # BufferLevel::ValidateTopology asserts meshX x meshY = instances
    ("meshY: 12", "meshY: 11", "E805",
     "`ifmap_spad`: `meshY` = 11, but the tree of subtrees gives 12"),
    # power gating at another level: Timeloop gates the leakage with that level's use
    ("power_gated_at: psum_spad", "power_gated_at: GLB", "E806",
     "`psum_spad` is power gated at `GLB`"),
])
def test_flat_forms_read_otherwise_are_refused(old: str, new: str, code: str,
                                               says: str) -> None:
    files = _flat(_files())
    assert old in files[ARCH], files[ARCH]
    files[ARCH] = files[ARCH].replace(old, new, 1)
    assert _refused(files, code).startswith(f"{ARCH}: {says}")


def test_a_local_array_above_a_subtree_names_the_forms_to_use() -> None:
    """Arrays of their own followed by a subtree mix the two forms: E806 saying which to
    write."""
    files = _files()
    files[ARCH] = "\n".join(line for line in files[ARCH].splitlines()
                            if "instances:" not in line and "meshX:" not in line)
    files[ARCH] = files[ARCH].replace("    - name: GLB\n", "    - name: GLB[0..1]\n", 1)
    message = _refused(files, "E806")
    assert message == (f"{ARCH}: `PE[0..167]` is a subtree below components that are arrays "
                       "of their own (a local `X[1..N]`); dslc reads either form, not both "
                       "in one tree")


def test_an_axis_with_no_terms_is_a_constant_index_and_round_trips() -> None:
    """Shape::Parse reads an axis of no terms as an empty expression (one value), and dslc
    exports an einsum's constant index (`W[k, c, 0]`) so; its import refused that axis
    (E805 "an axis with no terms") on dslc's own export."""
    program = api.compile(text='''
import "std/accelerators/eyeriss_like.cd"
network n {
    input x: [4, 6]
    layer y = einsum(x) { dims K = 8, C = 4, P = 6 output O[k, p] weight W[k, c, 0] input I[c, p] }
}
''')
    assert not program.errors
    from dslc.lower.lower import lower_network

    [problem] = lower_network(api.network(program, "n"), 1).problems
    files = api.export_timeloop(program, network_name="n", accelerator_name="eyeriss_like")
    [written] = [text for path, text in files.items() if path.endswith(".prob.yaml")]
    assert "      - []\n" in written
    [layer] = read_study(dict(files)).layers
    assert layer.problem.tensor("weight").axes == problem.tensor("W").axes
    assert layer.problem.tensor("weight").axes[2].terms == ()
