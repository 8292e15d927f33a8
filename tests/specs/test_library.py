"""The shipped library and the examples: every file parses and lints clean, networks have
their published sizes, accelerators their published shapes.

Exact MAC counts are hand-derived in each network file's header comment (per layer or per
stage, from the layer shapes) and were re-derived independently from torchvision's layer
definitions. The published figures are torchvision's model docs ("GFLOPS", which counts
multiply-accumulates, at 224x224; the weights' metadata `_ops` gives them to three decimals)
and the ImageNet-1k top-1 accuracies of the V1 weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc import api
from dslc.graph.layer_graph import build_graph
from dslc.lower.lower import lower_network
from dslc.syntax.parser import parse, read_source

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted([*ROOT.glob("dslc/std/**/*.cd"), *ROOT.glob("examples/*.cd")])


def test_the_library_has_every_file() -> None:
    names = {path.stem for path in SPEC_FILES}
    assert {"alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "transformer_encoder",
            "eyeriss_like", "nvdla_like", "tpu_like", "shidiannao_like", "simple_ws_16x16",
            "simple_os_16x16", "quickstart", "codesign", "mapping"} <= names


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_parses(path: Path) -> None:
    source, diagnostics = read_source(str(path), path.read_bytes())
    assert source is not None and diagnostics == []
    module, diagnostics = parse(source)
    assert module is not None and diagnostics == []


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_lints_clean(path: Path) -> None:
    result = api.lint([path])
    assert result.errors == ()
    assert [d.code for d in result.diagnostics if d.severity.value == "warning"] == []


# (file and network, exact MACs hand-derived in the file, torchvision docs GMACs (2
# decimals), torchvision weights' `_ops` (3 decimals), top-1 % of the V1 weights)
NETWORKS = [
    ("alexnet", 714_188_480, 0.71, 0.714, 56.522),
    ("vgg16", 15_470_264_320, 15.47, 15.470, 71.592),
    ("resnet18", 1_814_073_344, 1.81, 1.814, 69.758),
    ("resnet50", 4_089_184_256, 4.09, 4.089, 76.130),
    ("mobilenet_v2", 300_774_272, 0.30, 0.301, 71.878),
]


@pytest.mark.parametrize(("name", "exact", "published", "ops", "top1"), NETWORKS,
                         ids=[n[0] for n in NETWORKS])
def test_mac_counts_and_accuracy(name: str, exact: int, published: float, ops: float,
                                 top1: float) -> None:
    network = api.network(api.compile(ROOT / f"dslc/std/networks/{name}.cd"), name)
    macs = lower_network(network).macs
    assert macs == exact
    assert abs(macs / 1e9 - published) / published < 0.02
    assert round(macs / 1e9, 3) == pytest.approx(ops)
    assert network.accuracy == pytest.approx(top1 / 100)


@pytest.mark.parametrize("name", [n[0] for n in NETWORKS] + ["transformer_encoder"])
def test_graph_and_lowering_agree(name: str) -> None:
    network = api.network(api.compile(ROOT / f"dslc/std/networks/{name}.cd"), name)
    assert build_graph(network).total_macs() == lower_network(network).macs


def test_transformer_encoder_macs() -> None:
    # 4 projections 128*768*768, scores and context 12*128*128*64 each, FFN 2 x 128*768*3072.
    network = api.network(api.compile(ROOT / "dslc/std/networks/transformer_encoder.cd"),
                           "transformer_encoder")
    lowered = lower_network(network)
    assert lowered.macs == 4 * 128 * 768 * 768 + 2 * 12 * 128 * 128 * 64 + \
        2 * 128 * 768 * 3072 == 931_135_488
    ops = sorted(p.op for p in lowered.problems)
    assert ops == ["dense"] * 6 + ["matmul"] * 2
    assert network.accuracy is None


def test_resnet50_deduplicates_repeated_layers() -> None:
    lowered = lower_network(api.network(api.compile(ROOT / "dslc/std/networks/resnet50.cd"),
                                        "resnet50"))
    assert len(lowered.problems) == 54   # 53 convolutions and the classifier
    # conv1: 1. Stage 1: reduce, 3x3, expand (the 64->256 skip is the same loop nest) and the
    # repeated blocks' 256->64 reduce: 4. Stages 2-4: the first block's reduce, strided 3x3,
    # expand and skip, the repeats' reduce and unstrided 3x3: 6 each. Classifier: 1.
    assert len(lowered.distinct()) == 1 + 4 + 3 * 6 + 1


KIB = 8 * 1024   # bits


# (accelerator, MAC units, clock Hz, node nm, word bits, {memory: size in bits}) as published:
# Eyeriss (Chen et al., ISCA 2016 / JSSC 2017), NVDLA nv_small (nvdla.org hardware manual;
# nvdla/hw spec/defs/nv_small.spec), TPU v1 (Jouppi et al., ISCA 2017), ShiDianNao (Du et al.,
# ISCA 2015); the simple arrays as the library defines them.
ACCELERATORS = [
    ("eyeriss_like", 168, 200e6, 65, 16,
     {"GLB": 108 * KIB, "ifmap_spad": 12 * 16, "weights_spad": 224 * 16, "psum_spad": 24 * 16}),
    ("nvdla_like", 64, 1e9, 45, 8, {"CBUF": 128 * KIB}),
    ("tpu_like", 256 * 256, 700e6, 28, 8, {"UB": 24 * 1024 * KIB, "ACC": 4 * 1024 * KIB}),
    ("shidiannao_like", 64, 1e9, 65, 16, {"NBin": 64 * KIB, "SB": 128 * KIB, "NBout": 64 * KIB}),
    ("simple_ws_16x16", 256, 1e9, 45, 16, {"GLB": 128 * KIB, "RF": 64 * 16}),
    ("simple_os_16x16", 256, 1e9, 45, 16, {"GLB": 128 * KIB, "RF": 64 * 16}),
]


@pytest.mark.parametrize(("name", "macs", "clock", "node", "word", "sizes"), ACCELERATORS,
                         ids=[a[0] for a in ACCELERATORS])
def test_accelerator_shapes(name: str, macs: int, clock: float, node: float, word: int,
                            sizes: dict[str, int]) -> None:
    accelerator = api.accelerator(api.compile(ROOT / f"dslc/std/accelerators/{name}.cd"), name)
    assert accelerator.mac_units == macs
    assert accelerator.clock_hz == clock
    assert accelerator.technology_nm == node
    assert accelerator.word_bits == word
    memories = {m.name: m for m in accelerator.memories}
    assert {level: memories[level].size_bits for level in sizes} == sizes
    assert accelerator.memories[0].size_bits is None   # off-chip DRAM outermost


def test_eyeriss_energies_follow_the_normalised_costs() -> None:
    # ISCA 2016 Table IV: RF 1x, global buffer 6x, DRAM 200x a MAC, per 16-bit access.
    accelerator = api.accelerator(api.compile(ROOT / "dslc/std/accelerators/eyeriss_like.cd"),
                                  "eyeriss_like")
    mac = accelerator.compute.energy_pj
    assert mac is not None
    per_word = {m.name: (m.read_energy_pj or 0.0) / m.block_words for m in accelerator.memories}
    assert per_word == pytest.approx({"DRAM": 200 * mac, "GLB": 6 * mac, "ifmap_spad": mac,
                                      "weights_spad": mac, "psum_spad": mac})


def test_mapping_example_fills_the_array() -> None:
    program = api.compile(ROOT / "examples/mapping.cd")
    assert not program.errors
    mapping = program.mappings["rs_conv3x3"]
    pe = next(level for level in mapping.levels if level.target == "PE")
    x = [loop.factor for loop in pe.spatial_x]
    y = [loop.factor for loop in pe.spatial_y]
    assert (x, y) == ([14], [3, 4])   # every one of the 14 x 12 PEs busy
