"""Lowering to loop nests: dims, bounds, projections and MAC counts checked by hand."""

from __future__ import annotations

import math

import pytest

from dslc.graph.layer_graph import build_graph
from dslc.lower.lower import (
    DataMovement,
    LoweringError,
    SharedProblem,
    count_macs,
    lower_graph,
    lower_layer,
    lower_network,
)
from dslc.lower.problem import Problem
from dslc.spec import network as spec


def axes(problem: Problem, tensor: str) -> list[str]:
    """Each axis of a tensor written as `coef*DIM + ...`, for comparison with hand forms."""
    found = problem.tensor(tensor)
    return [" + ".join(f"{c}*{problem.dims[d]}" for d, c in axis.terms) for axis in found.axes]


def bounds(problem: Problem) -> dict[str, int]:
    return dict(zip(problem.dims, problem.bounds, strict=True))


def extents(problem: Problem, tensor: str) -> list[int]:
    return [axis.extent(problem.bounds) for axis in problem.tensor(tensor).axes]


def lowered(layer: spec.Layer, *shapes: tuple[int, ...], batch: int = 1) -> Problem:
    problem = lower_layer(layer, shapes, batch)
    assert problem is not None
    assert problem.name == layer.name
    return problem


def test_conv() -> None:
    layer = spec.ConvLayer(name="c", inputs=("x",), out_channels=64, kernel=(3, 3),
                           pad=(1, 1))
    problem = lowered(layer, (32, 56, 56))
    assert problem.op == "conv"
    assert problem.dims == ("N", "K", "C", "P", "Q", "R", "S")
    assert problem.bounds == (1, 64, 32, 56, 56, 3, 3)
    assert axes(problem, "weight") == ["1*K", "1*C", "1*R", "1*S"]
    assert axes(problem, "input") == ["1*N", "1*C", "1*P + 1*R", "1*Q + 1*S"]
    assert axes(problem, "output") == ["1*N", "1*K", "1*P", "1*Q"]
    assert [t.role for t in problem.tensors] == ["weight", "input", "output"]
    assert problem.macs == 1 * 64 * 32 * 56 * 56 * 3 * 3 == 57_802_752
    # The padded input: 56 + 3 - 1 = 58 rows and columns.
    assert extents(problem, "input") == [1, 32, 58, 58]


def test_strided_dilated_conv_input_extents() -> None:
    layer = spec.ConvLayer(name="c", inputs=("x",), out_channels=16, kernel=(3, 3),
                           stride=(2, 2), pad=(2, 2), dilation=(2, 2))
    # Output: floor((32 + 4 - 2*2 - 1) / 2) + 1 = 16.
    problem = lowered(layer, (8, 32, 32), batch=2)
    assert bounds(problem) == {"N": 2, "K": 16, "C": 8, "P": 16, "Q": 16, "R": 3, "S": 3}
    assert axes(problem, "input") == ["1*N", "1*C", "2*P + 2*R", "2*Q + 2*S"]
    assert problem.macs == 2 * 16 * 8 * 16 * 16 * 3 * 3
    # The span of 2p + 2r: 2*(16-1) + 2*(3-1) + 1 = 35 rows of the 36-row padded input.
    assert extents(problem, "input") == [2, 8, 35, 35]


def test_rectangular_strided_conv() -> None:
    layer = spec.ConvLayer(name="c", inputs=("x",), out_channels=4, kernel=(3, 1),
                           stride=(2, 1))
    # rows (9 - 3) // 2 + 1 = 4, columns 9
    problem = lowered(layer, (2, 9, 9))
    assert bounds(problem) == {"N": 1, "K": 4, "C": 2, "P": 4, "Q": 9, "R": 3, "S": 1}
    # 2*(4-1) + (3-1) + 1 = 9 rows; the S = 1 term still appears with coefficient 1
    assert axes(problem, "input") == ["1*N", "1*C", "2*P + 1*R", "1*Q + 1*S"]
    assert extents(problem, "input") == [1, 2, 9, 9]


def test_grouped_conv() -> None:
    layer = spec.ConvLayer(name="g", inputs=("x",), out_channels=32, kernel=(3, 3),
                           pad=(1, 1), groups=4)
    problem = lowered(layer, (16, 8, 8))
    # 4 groups of 16/4 = 4 input and 32/4 = 8 output channels.
    assert problem.dims == ("G", "N", "K", "C", "P", "Q", "R", "S")
    assert bounds(problem) == {"G": 4, "N": 1, "K": 8, "C": 4, "P": 8, "Q": 8, "R": 3, "S": 3}
    assert axes(problem, "weight") == ["1*G", "1*K", "1*C", "1*R", "1*S"]
    assert axes(problem, "input") == ["1*N", "4*G + 1*C", "1*P + 1*R", "1*Q + 1*S"]
    assert axes(problem, "output") == ["1*N", "8*G + 1*K", "1*P", "1*Q"]
    # The channel projections cover every channel exactly: 4*(4-1) + (4-1) + 1 = 16, and 32.
    assert extents(problem, "input")[1] == 16
    assert extents(problem, "output")[1] == 32
    assert problem.macs == 32 * 4 * 8 * 8 * 9  # K_total * C_per_group * P * Q * R * S
    assert problem.tensor_size(problem.tensor("weight")) == 32 * 4 * 9


def test_depthwise() -> None:
    layer = spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3), stride=(2, 2),
                                    pad=(1, 1))
    problem = lowered(layer, (32, 112, 112))
    assert problem.op == "dwconv"
    assert problem.dims == ("N", "C", "P", "Q", "R", "S")
    assert bounds(problem) == {"N": 1, "C": 32, "P": 56, "Q": 56, "R": 3, "S": 3}
    assert axes(problem, "weight") == ["1*C", "1*R", "1*S"]
    assert axes(problem, "input") == ["1*N", "1*C", "2*P + 1*R", "2*Q + 1*S"]
    assert axes(problem, "output") == ["1*N", "1*C", "1*P", "1*Q"]
    assert problem.macs == 32 * 56 * 56 * 9


def test_depthwise_with_multiplier() -> None:
    layer = spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3), multiplier=2)
    problem = lowered(layer, (8, 10, 10))
    assert problem.dims == ("N", "C", "M", "P", "Q", "R", "S")
    assert bounds(problem) == {"N": 1, "C": 8, "M": 2, "P": 8, "Q": 8, "R": 3, "S": 3}
    assert axes(problem, "weight") == ["1*C", "1*M", "1*R", "1*S"]
    assert axes(problem, "output") == ["1*N", "2*C + 1*M", "1*P", "1*Q"]
    assert extents(problem, "output") == [1, 16, 8, 8]
    assert problem.macs == 16 * 64 * 9


def test_dense_over_a_sequence() -> None:
    problem = lowered(spec.DenseLayer(name="q", inputs=("x",), out_features=3072), (128, 768),
                      batch=2)
    assert problem.op == "dense"
    assert bounds(problem) == {"N": 2, "S": 128, "K": 3072, "C": 768}
    assert axes(problem, "input") == ["1*N", "1*S", "1*C"]
    assert axes(problem, "weight") == ["1*K", "1*C"]
    assert axes(problem, "output") == ["1*N", "1*S", "1*K"]
    assert problem.macs == 2 * 128 * 3072 * 768


def test_dense_on_a_vector_and_on_heads() -> None:
    fc = lowered(spec.DenseLayer(name="fc", inputs=("x",), out_features=1000), (512,))
    assert bounds(fc) == {"N": 1, "K": 1000, "C": 512}
    assert axes(fc, "input") == ["1*N", "1*C"]
    heads = lowered(spec.DenseLayer(name="h", inputs=("x",), out_features=32), (12, 128, 64))
    assert bounds(heads) == {"N": 1, "H": 12, "S": 128, "K": 32, "C": 64}
    assert axes(heads, "output") == ["1*N", "1*H", "1*S", "1*K"]
    deep = lowered(spec.DenseLayer(name="d", inputs=("x",), out_features=5), (2, 3, 4, 6))
    assert deep.dims == ("N", "A0", "A1", "A2", "K", "C")


def test_matmul_with_heads_and_transpose_b() -> None:
    scores = lowered(spec.MatmulLayer(name="s", inputs=("q", "k"), transpose_b=True),
                     (12, 128, 64), (12, 128, 64))
    assert scores.op == "matmul"
    assert bounds(scores) == {"B": 1, "H": 12, "M": 128, "N": 128, "K": 64}
    assert [(t.name, t.role) for t in scores.tensors] == [
        ("input", "input"), ("input_b", "input"), ("output", "output")]
    assert axes(scores, "input") == ["1*B", "1*H", "1*M", "1*K"]
    assert axes(scores, "input_b") == ["1*B", "1*H", "1*N", "1*K"]
    assert axes(scores, "output") == ["1*B", "1*H", "1*M", "1*N"]
    assert scores.macs == 12 * 128 * 128 * 64
    context = lowered(spec.MatmulLayer(name="c", inputs=("p", "v")),
                      (12, 128, 128), (12, 128, 64), batch=3)
    assert bounds(context) == {"B": 3, "H": 12, "M": 128, "N": 64, "K": 128}
    assert axes(context, "input_b") == ["1*B", "1*H", "1*K", "1*N"]
    assert context.macs == 3 * 12 * 128 * 64 * 128


def test_matmul_without_and_with_more_leading_axes() -> None:
    plain = lowered(spec.MatmulLayer(name="m", inputs=("a", "b")), (4, 8), (8, 3))
    assert bounds(plain) == {"B": 1, "M": 4, "N": 3, "K": 8}
    deep = lowered(spec.MatmulLayer(name="m", inputs=("a", "b")), (2, 5, 4, 8), (2, 5, 8, 3))
    assert bounds(deep) == {"B": 1, "A0": 2, "A1": 5, "M": 4, "N": 3, "K": 8}
    assert deep.macs == 2 * 5 * 4 * 3 * 8


def index(*terms: tuple[str, int], offset: int = 0) -> spec.AffineIndex:
    return spec.AffineIndex(terms=tuple(spec.AffineTerm(dim=d, coefficient=c)
                                        for d, c in terms), offset=offset)


def conv1d_einsum(out: str = "K") -> spec.EinsumLayer:
    """O[k, p] += W[k, c, r] * I[c, p + r - 1] with K=32, C=16, P=16, R=3 (K named `out`)."""
    return spec.EinsumLayer(
        name="e", inputs=("x",), dims=((out, 32), ("C", 16), ("P", 16), ("R", 3)), tensors=(
            spec.EinsumTensor(name="O", role="output",
                              indices=(index((out, 1)), index(("P", 1)))),
            spec.EinsumTensor(name="W", role="weight",
                              indices=(index((out, 1)), index(("C", 1)), index(("R", 1)))),
            spec.EinsumTensor(name="I", role="input",
                              indices=(index(("C", 1)), index(("P", 1), ("R", 1), offset=-1))),
        ))


def test_einsum_keeps_its_dims_and_tensors() -> None:
    problem = lowered(conv1d_einsum(), (16, 18))
    assert problem.op == "einsum"
    assert bounds(problem) == {"K": 32, "C": 16, "P": 16, "R": 3}
    assert [(t.name, t.role) for t in problem.tensors] == [
        ("O", "output"), ("W", "weight"), ("I", "input")]
    assert axes(problem, "I") == ["1*C", "1*P + 1*R"]
    assert extents(problem, "I") == [16, 18]
    assert problem.macs == 32 * 16 * 16 * 3


def test_einsum_gains_a_batch_dim_on_activations() -> None:
    problem = lowered(conv1d_einsum(), (16, 18), batch=4)
    assert problem.dims == ("N", "K", "C", "P", "R")
    assert axes(problem, "I") == ["1*N", "1*C", "1*P + 1*R"]
    assert axes(problem, "O") == ["1*N", "1*K", "1*P"]
    assert axes(problem, "W") == ["1*K", "1*C", "1*R"]
    assert problem.macs == 4 * 32 * 16 * 16 * 3


def test_einsum_batch_dim_avoids_declared_names() -> None:
    # An einsum that names a dim N gets its batch as B.
    renamed = conv1d_einsum(out="N")
    problem = lowered(renamed, (16, 18), batch=2)
    assert problem.dims == ("B", "N", "C", "P", "R")
    assert axes(problem, "O") == ["1*B", "1*N", "1*P"]
    # With both N and B declared, the batch is N0.
    both = spec.EinsumLayer(
        name="e", inputs=(), dims=(("N", 2), ("B", 3)), tensors=(
            spec.EinsumTensor(name="O", role="output", indices=(index(("N", 1)),)),
            spec.EinsumTensor(name="I", role="input", indices=(index(("N", 1)),)),
            spec.EinsumTensor(name="W", role="weight", indices=(index(("B", 1)),))))
    problem = lowered(both, batch=5)
    assert problem.dims == ("N0", "N", "B")
    assert axes(problem, "I") == ["1*N0", "1*N"]
    assert problem.macs == 5 * 2 * 3


def test_layers_without_macs_lower_to_none() -> None:
    assert lower_layer(spec.PoolLayer(name="p", inputs=("x",), op="maxpool", kernel=(2, 2),
                                      stride=(2, 2)), [(4, 8, 8)]) is None
    assert lower_layer(spec.AddLayer(name="a", inputs=("x", "y")), [(4,), (4,)]) is None


def test_lower_layer_rejects_bad_shapes_and_batches() -> None:
    layer = spec.ConvLayer(name="c", inputs=("x",), out_channels=4, kernel=(5, 5))
    with pytest.raises(LoweringError, match="cannot lower `c`") as caught:
        lower_layer(layer, [(3, 4, 4)])
    assert caught.value.problem.attribute == "kernel"
    with pytest.raises(ValueError, match="batch"):
        lower_layer(layer, [(3, 8, 8)], batch=0)


def conv3x3(name: str, source: str, channels: int, stride: int = 1) -> spec.ConvLayer:
    return spec.ConvLayer(name=name, inputs=(source,), out_channels=channels, kernel=(3, 3),
                          stride=(stride, stride), pad=(1, 1))


def test_identical_layers_share_a_key_and_strides_do_not() -> None:
    network = spec.NetworkSpec(
        name="dedup", inputs=(spec.InputSpec(name="x", shape=(64, 56, 56)),),
        layers=(
            conv3x3("a", "x", 64),
            spec.ElementwiseLayer(name="r", inputs=("a",), function="relu"),
            conv3x3("b", "r", 64),
            spec.AddLayer(name="y", inputs=("b", "x")),
            conv3x3("c", "y", 64),
            conv3x3("s", "c", 64, stride=2),
            spec.PoolLayer(name="g", inputs=("s",), op="avgpool", global_pool=True),
        ))
    result = lower_network(network)
    a, b, c, s = (result.problem(name) for name in "abcs")
    assert a is not None and b is not None and c is not None and s is not None
    assert a.key == b.key == c.key
    assert a.key != s.key
    distinct = result.distinct()
    assert list(distinct) == [a.key, s.key]  # in order of first use
    assert distinct[a.key] == SharedProblem(a, ("a", "b", "c"))
    assert distinct[s.key].layers == ("s",)
    assert result.problem("r") is None
    assert result.movements == (
        DataMovement("r", "elementwise", 64 * 56 * 56, 64 * 56 * 56),
        DataMovement("y", "add", 2 * 64 * 56 * 56, 64 * 56 * 56),
        DataMovement("g", "avgpool", 64 * 28 * 28, 64),
    )
    assert [layer.op for layer in result.layers] == [
        "conv", "elementwise", "conv", "add", "conv", "conv", "avgpool"]
    with pytest.raises(KeyError):
        result.problem("nowhere")


def test_batch_scales_movement_and_keys_differ() -> None:
    network = spec.NetworkSpec(
        name="b", inputs=(spec.InputSpec(name="x", shape=(8, 8, 8)),),
        layers=(conv3x3("a", "x", 8),
                spec.ElementwiseLayer(name="r", inputs=("a",), function="relu")))
    one, four = lower_network(network), lower_network(network, batch=4)
    assert four.macs == 4 * one.macs
    assert four.movements[0].input_words == 4 * 8 * 8 * 8
    assert list(four.distinct()) != list(one.distinct())


def test_shape_problems_are_carried_and_failed_layers_left_out() -> None:
    network = spec.NetworkSpec(
        name="broken", inputs=(spec.InputSpec(name="x", shape=(3, 4, 4)),),
        layers=(spec.ConvLayer(name="big", inputs=("x",), out_channels=4, kernel=(7, 7)),
                spec.ElementwiseLayer(name="r", inputs=("big",), function="relu"),
                conv3x3("fine", "x", 4)))
    result = lower_network(network)
    assert [(p.layer, p.attribute) for p in result.shape_problems] == [("big", "kernel")]
    assert [layer.name for layer in result.layers] == ["fine"]


def resnet18() -> spec.NetworkSpec:
    """torchvision's ResNet-18 at 224x224 (basic blocks, 1x1 strided downsampling)."""
    layers: list[spec.Layer] = [
        spec.ConvLayer(name="conv1", inputs=("x",), out_channels=64, kernel=(7, 7),
                       stride=(2, 2), pad=(3, 3)),
        spec.ElementwiseLayer(name="relu1", inputs=("conv1",), function="relu"),
        spec.PoolLayer(name="pool1", inputs=("relu1",), op="maxpool", kernel=(3, 3),
                       stride=(2, 2), pad=(1, 1)),
    ]
    previous, channels = "pool1", 64
    for stage, out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}.{block}"
            layers += [conv3x3(f"{name}.conv1", previous, out, stride),
                       spec.ElementwiseLayer(name=f"{name}.relu1", inputs=(f"{name}.conv1",),
                                             function="relu"),
                       conv3x3(f"{name}.conv2", f"{name}.relu1", out)]
            skip = previous
            if stride != 1 or channels != out:
                skip = f"{name}.downsample"
                layers.append(spec.ConvLayer(name=skip, inputs=(previous,), out_channels=out,
                                             kernel=(1, 1), stride=(stride, stride)))
            layers += [spec.AddLayer(name=f"{name}.add", inputs=(f"{name}.conv2", skip)),
                       spec.ElementwiseLayer(name=f"{name}.relu2", inputs=(f"{name}.add",),
                                             function="relu")]
            previous, channels = f"{name}.relu2", out
    layers += [spec.PoolLayer(name="avgpool", inputs=(previous,), op="avgpool",
                              global_pool=True),
               spec.FlattenLayer(name="flatten", inputs=("avgpool",)),
               spec.DenseLayer(name="fc", inputs=("flatten",), out_features=1000)]
    return spec.NetworkSpec(name="resnet18", inputs=(spec.InputSpec(name="x",
                                                                    shape=(3, 224, 224)),),
                            layers=tuple(layers))


def test_resnet18_macs_and_distinct_problems() -> None:
    graph = build_graph(resnet18())
    assert graph.ok
    result = lower_graph(graph)
    # conv1: 64*112*112 * 3*7*7 = 118,013,952. layer1: 4 convs of 64*56*56 * 64*9 =
    # 115,605,504 each. Layers 2-4 each total 411,041,792 (e.g. layer2: the strided 3x3
    # 128*28*28*64*9 = 57,802,752, three 3x3 of 128*28*28*128*9 = 115,605,504 and the 1x1
    # downsample 128*28*28*64 = 6,422,528; the channel doubling and the halved map cancel
    # in later stages). fc: 512 * 1000.
    expected = 118_013_952 + 4 * 115_605_504 + 3 * 411_041_792 + 512_000
    assert expected == 1_814_073_344
    assert result.macs == expected
    assert count_macs(graph) == graph.total_macs() == expected
    # 20 convolutions and fc; distinct: conv1, the 64-channel 3x3, per stage of layers 2-4
    # the strided 3x3, the repeated 3x3 and the 1x1 downsample, and fc.
    assert len(result.problems) == 21
    assert len(result.distinct()) == 1 + 1 + 3 * 3 + 1
    shared = result.distinct()[result.problem("layer1.0.conv1").key]  # type: ignore[union-attr]
    assert shared.layers == ("layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1",
                             "layer1.1.conv2")
    pool = next(m for m in result.movements if m.name == "pool1")
    assert (pool.input_words, pool.output_words) == (64 * 112 * 112, 64 * 56 * 56)
    # Multiplier weights only (no biases or batch norm): torchvision's 11,689,512 parameters
    # less 1,000 fc biases and 2 x 4,800 batch-norm parameters.
    assert graph.total_weights() == 11_689_512 - 1_000 - 9_600


def test_graph_workload_agrees_with_the_loop_nests() -> None:
    network = spec.NetworkSpec(
        name="mixed",
        inputs=(spec.InputSpec(name="x", shape=(16, 9, 9)),
                spec.InputSpec(name="s", shape=(6, 128, 64)),
                spec.InputSpec(name="v", shape=(16, 18))),
        layers=(
            spec.ConvLayer(name="g", inputs=("x",), out_channels=32, kernel=(3, 3),
                           stride=(2, 2), pad=(1, 1), groups=4),
            spec.DepthwiseConvLayer(name="d", inputs=("g",), kernel=(3, 3), multiplier=3),
            spec.DenseLayer(name="q", inputs=("s",), out_features=64),
            spec.MatmulLayer(name="m", inputs=("q", "s"), transpose_b=True),
            conv1d_einsum().model_copy(update={"inputs": ("v",)}),
        ))
    graph = build_graph(network)
    assert graph.ok
    for batch in (1, 3):
        result = lower_graph(graph, batch)
        for layer in graph.topological_layers():
            problem = result.problem(layer.name)
            assert problem is not None
            stats = graph.stats(layer.name, batch)
            assert stats.macs == problem.macs, layer.name
            weights = [t for t in problem.tensors if t.role == "weight"]
            assert stats.weight_elements == sum(problem.tensor_size(t) for t in weights)
            # Outputs are not padded: the loop nest's output is the graph's tensor.
            assert problem.tensor_size(problem.output) == batch * math.prod(
                graph.shape(layer.name))
        assert count_macs(graph, batch) == graph.total_macs(batch)
