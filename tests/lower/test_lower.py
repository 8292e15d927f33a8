"""Lowering to loop nests: dims, bounds, projections and MAC counts checked by hand."""

from __future__ import annotations

from pathlib import Path

from dslc.api import load_network
from dslc.lower.lower import lower_layer, lower_network
from dslc.lower.problem import Problem
from dslc.spec import network as spec

ROOT = Path(__file__).resolve().parents[2]


def axes(problem: Problem, tensor: str) -> list[str]:
    """Each axis of a tensor written as `coef*DIM + ...`, for comparison with hand forms."""
    found = problem.tensor(tensor)
    return [" + ".join(f"{c}*{problem.dims[d]}" for d, c in axis.terms) for axis in found.axes]


def test_strided_dilated_conv() -> None:
    layer = spec.ConvLayer(name="c", inputs=("x",), out_channels=16, kernel=(3, 3),
                           stride=(2, 2), pad=(2, 2), dilation=(2, 2))
    # Output: floor((32 + 4 - 4 - 1) / 2) + 1 = 16.
    problem = lower_layer(layer, ((8, 32, 32),), (16, 16, 16), batch=2)
    assert problem is not None
    assert dict(zip(problem.dims, problem.bounds, strict=True)) == {
        "N": 2, "K": 16, "C": 8, "P": 16, "Q": 16, "R": 3, "S": 3}
    assert axes(problem, "input") == ["1*N", "1*C", "2*P + 2*R", "2*Q + 2*S"]
    assert axes(problem, "weight") == ["1*K", "1*C", "1*R", "1*S"]
    assert axes(problem, "output") == ["1*N", "1*K", "1*P", "1*Q"]
    assert problem.macs == 2 * 16 * 8 * 16 * 16 * 3 * 3
    # The padded input the projection spans: 2*(16-1) + 2*(3-1) + 1 = 35 rows.
    assert problem.tensor_size(problem.tensor("input")) == 2 * 8 * 35 * 35


def test_grouped_conv_channel_projection() -> None:
    layer = spec.ConvLayer(name="g", inputs=("x",), out_channels=32, kernel=(1, 1), groups=4)
    problem = lower_layer(layer, ((16, 8, 8),), (32, 8, 8))
    assert problem is not None
    bounds = dict(zip(problem.dims, problem.bounds, strict=True))
    # 4 groups of 16/4 = 4 input and 32/4 = 8 output channels.
    assert (bounds["G"], bounds["C"], bounds["K"]) == (4, 4, 8)
    assert axes(problem, "input")[1] == "4*G + 1*C"
    assert axes(problem, "output")[1] == "8*G + 1*K"
    assert problem.macs == 32 * 4 * 8 * 8  # K_total * C_per_group * P * Q


def test_depthwise() -> None:
    layer = spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3), stride=(2, 2),
                                    pad=(1, 1))
    problem = lower_layer(layer, ((32, 112, 112),), (32, 56, 56))
    assert problem is not None
    assert problem.dims == ("N", "C", "P", "Q", "R", "S")
    assert axes(problem, "weight") == ["1*C", "1*R", "1*S"]
    assert axes(problem, "output") == ["1*N", "1*C", "1*P", "1*Q"]
    assert problem.macs == 32 * 56 * 56 * 9


def test_dense_over_sequence_and_matmul_with_heads() -> None:
    dense = lower_layer(spec.DenseLayer(name="q", inputs=("x",), out_features=768),
                        ((128, 768),), (128, 768))
    assert dense is not None
    assert dict(zip(dense.dims, dense.bounds, strict=True)) == {
        "N": 1, "S": 128, "K": 768, "C": 768}
    scores = lower_layer(spec.MatmulLayer(name="s", inputs=("q", "k"), transpose_b=True),
                         ((12, 128, 64), (12, 128, 64)), (12, 128, 128))
    assert scores is not None
    assert dict(zip(scores.dims, scores.bounds, strict=True)) == {
        "B": 1, "H": 12, "M": 128, "N": 128, "K": 64}
    assert axes(scores, "input_b") == ["1*B", "1*H", "1*N", "1*K"]
    assert [t.role for t in scores.tensors] == ["input", "input", "output"]
    assert scores.macs == 12 * 128 * 128 * 64


def test_identical_layers_share_a_key_and_strides_do_not() -> None:
    a = spec.ConvLayer(name="a", inputs=("x",), out_channels=64, kernel=(3, 3), pad=(1, 1))
    b = spec.ConvLayer(name="b", inputs=("y",), out_channels=64, kernel=(3, 3), pad=(1, 1))
    s = spec.ConvLayer(name="s", inputs=("y",), out_channels=64, kernel=(3, 3), pad=(1, 1),
                       stride=(2, 2))
    pa = lower_layer(a, ((64, 56, 56),), (64, 56, 56))
    pb = lower_layer(b, ((64, 56, 56),), (64, 56, 56))
    ps = lower_layer(s, ((64, 112, 112),), (64, 56, 56))
    assert pa is not None and pb is not None and ps is not None
    assert pa.key == pb.key
    assert pa.key != ps.key


def test_resnet18_macs_and_distinct_problems() -> None:
    network = load_network(ROOT / "specs/networks/resnet18.cd", "resnet18")
    lowered = lower_network(network)
    # conv1 118,013,952 + layer1 4 x 115,605,504 + 3 x 411,041,792 (layers 2-4) + fc 512,000
    assert lowered.macs == 1_814_073_344
    # 20 convolutions + fc; distinct: conv1, the 64-channel 3x3, and per stage of layers 2-4
    # the stride-2 3x3, the 3x3 repeated three times, and the 1x1 downsample; plus fc.
    assert len(lowered.problems) == 21
    assert len(lowered.distinct()) == 1 + 1 + 3 * 3 + 1
    movement = [layer.movement for layer in lowered.layers if layer.movement is not None]
    pool = next(m for m in movement if m.name == "pool1")
    assert (pool.input_words, pool.output_words) == (64 * 112 * 112, 64 * 56 * 56)
