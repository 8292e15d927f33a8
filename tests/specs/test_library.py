"""The shipped library: every spec lints clean, and networks have their published sizes.

Exact MAC counts are hand-derived in each network file's header comment (per stage, from the
layer shapes); the published figures are torchvision's model docs ("GFLOPS", which counts
multiply-accumulates, at 224x224) and its ImageNet-1k top-1 accuracies of the V1 weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc.api import lint, load_network
from dslc.lower.lower import lower_network

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted([*ROOT.glob("specs/**/*.cd"), *ROOT.glob("examples/*.cd")])


def test_the_library_has_every_file() -> None:
    names = {path.stem for path in SPEC_FILES}
    assert {"alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "transformer_encoder",
            "eyeriss_like", "nvdla_like", "tpu_like", "shidiannao_like", "simple_ws_16x16",
            "simple_os_16x16", "quickstart", "codesign", "mapping"} <= names


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_lints_clean(path: Path) -> None:
    result = lint([path])
    assert result.errors == ()
    assert [d.code for d in result.diagnostics if d.severity.value == "warning"] == []


# (file, network, exact MACs hand-derived in the file, published GMACs, published top-1 %)
NETWORKS = [
    ("alexnet", "alexnet", 714_188_480, 0.71, 56.522),
    ("vgg16", "vgg16", 15_470_264_320, 15.47, 71.592),
    ("resnet18", "resnet18", 1_814_073_344, 1.81, 69.758),
    ("resnet50", "resnet50", 4_089_184_256, 4.09, 76.130),
    ("mobilenet_v2", "mobilenet_v2", 300_774_272, 0.30, 71.878),
]


@pytest.mark.parametrize(("file", "name", "exact", "published", "top1"), NETWORKS,
                         ids=[n[1] for n in NETWORKS])
def test_mac_counts_and_accuracy(file: str, name: str, exact: int, published: float,
                                 top1: float) -> None:
    network = load_network(ROOT / f"specs/networks/{file}.cd", name)
    macs = lower_network(network).macs
    assert macs == exact
    assert abs(macs / 1e9 - published) / published < 0.02
    assert network.accuracy == pytest.approx(top1 / 100)


def test_transformer_encoder_macs() -> None:
    # 4 projections 128*768*768, scores and context 12*128*128*64 each, FFN 2 x 128*768*3072.
    network = load_network(ROOT / "specs/networks/transformer_encoder.cd",
                           "transformer_encoder")
    lowered = lower_network(network)
    assert lowered.macs == 4 * 128 * 768 * 768 + 2 * 12 * 128 * 128 * 64 + \
        2 * 128 * 768 * 3072
    ops = sorted(p.op for p in lowered.problems)
    assert ops == ["dense"] * 6 + ["matmul"] * 2


def test_resnet50_deduplicates_repeated_layers() -> None:
    lowered = lower_network(load_network(ROOT / "specs/networks/resnet50.cd", "resnet50"))
    assert len(lowered.problems) == 54   # 53 convolutions and the classifier
    # conv1: 1. Stage 1: reduce, 3x3, expand (the 64->256 skip is the same loop nest) and the
    # repeated blocks' 256->64 reduce: 4. Stages 2-4: the first block's reduce, strided 3x3,
    # expand and skip, the repeats' reduce and unstrided 3x3: 6 each. Classifier: 1.
    assert len(lowered.distinct()) == 1 + 4 + 3 * 6 + 1
