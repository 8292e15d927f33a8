"""Shape inference, with expected shapes computed by hand from the operator definitions."""

from __future__ import annotations

import pytest

from dslc.graph.shapes import Shape, ShapeProblem, infer_shape
from dslc.ops.einsum import projection_span
from dslc.spec import network as spec


def conv(**kwargs: object) -> spec.ConvLayer:
    return spec.ConvLayer(name="c", inputs=("x",), **kwargs)


def pool(op: str = "maxpool", **kwargs: object) -> spec.PoolLayer:
    return spec.PoolLayer(name="p", inputs=("x",), op=op, **kwargs)


def index(*terms: tuple[str, int], offset: int = 0) -> spec.AffineIndex:
    return spec.AffineIndex(terms=tuple(spec.AffineTerm(dim=d, coefficient=c)
                                        for d, c in terms), offset=offset)


def tensor(name: str, role: str, *indices: spec.AffineIndex) -> spec.EinsumTensor:
    return spec.EinsumTensor(name=name, role=role, indices=indices)


def conv1d_einsum(inputs: tuple[str, ...] = ("x",)) -> spec.EinsumLayer:
    """O[k, p] += W[k, c, r] * I[c, p + r] with K=32, C=16, P=16, R=3."""
    return spec.EinsumLayer(
        name="e", inputs=inputs, dims=(("K", 32), ("C", 16), ("P", 16), ("R", 3)),
        tensors=(tensor("O", "output", index(("K", 1)), index(("P", 1))),
                 tensor("I", "input", index(("C", 1)), index(("P", 1), ("R", 1))),
                 tensor("W", "weight", index(("K", 1)), index(("C", 1)), index(("R", 1)))))


@pytest.mark.parametrize(("layer", "shape", "expected"), [
    # floor((224 + 2*3 - 1*(7-1) - 1) / 2) + 1 = floor(223 / 2) + 1 = 112
    (conv(out_channels=64, kernel=(7, 7), stride=(2, 2), pad=(3, 3)), (3, 224, 224),
     (64, 112, 112)),
    # dilation 2 widens a 3x3 kernel to 5: (32 + 2*2 - 2*2 - 1) // 1 + 1 = 32
    (conv(out_channels=8, kernel=(3, 3), pad=(2, 2), dilation=(2, 2)), (4, 32, 32),
     (8, 32, 32)),
    # rectangular: rows (10 - 2 - 1) // 1 + 1 = 8, columns (10 - 0 - 1) // 2 + 1 = 5
    (conv(out_channels=2, kernel=(3, 1), stride=(1, 2)), (1, 10, 10), (2, 8, 5)),
    # strided and not dividing evenly: (7 + 0 - 2 - 1) // 2 + 1 = 3
    (conv(out_channels=4, kernel=(3, 3), stride=(2, 2)), (2, 7, 7), (4, 3, 3)),
    # grouped: channels do not change the spatial size
    (conv(out_channels=32, kernel=(1, 1), groups=4), (16, 8, 8), (32, 8, 8)),
    # depthwise, multiplier 2: 32 * 2 channels, (112 + 2 - 2 - 1) // 2 + 1 = 56
    (spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                             multiplier=2), (32, 112, 112), (64, 56, 56)),
    (spec.DenseLayer(name="f", inputs=("x",), out_features=3072), (128, 768), (128, 3072)),
    (spec.DenseLayer(name="f", inputs=("x",), out_features=10), (512,), (10,)),
    (spec.DenseLayer(name="f", inputs=("x",), out_features=64), (12, 128, 768), (12, 128, 64)),
    # (112 + 2 - 2 - 1) // 2 + 1 = 56
    (pool(kernel=(3, 3), stride=(2, 2), pad=(1, 1)), (64, 112, 112), (64, 56, 56)),
    # 2x2 window, stride 2: (7 - 1 - 1) // 2 + 1 = 3
    (pool("avgpool", kernel=(2, 2), stride=(2, 2)), (8, 7, 7), (8, 3, 3)),
    (pool("avgpool", global_pool=True), (512, 7, 7), (512, 1, 1)),
    (spec.ElementwiseLayer(name="r", inputs=("x",), function="relu"), (64, 8, 8), (64, 8, 8)),
    (spec.FlattenLayer(name="f", inputs=("x",)), (512, 2, 3), (3072,)),
    (spec.ReshapeLayer(name="r", inputs=("x",), shape=(128, 12, 64)), (128, 768),
     (128, 12, 64)),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(1, 0, 2)), (128, 12, 64),
     (12, 128, 64)),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(2, 0, 1)), (3, 4, 5), (5, 3, 4)),
])
def test_single_input_shapes(layer: spec.Layer, shape: Shape, expected: Shape) -> None:
    assert infer_shape(layer, [shape]) == expected


def test_matmul_shapes() -> None:
    scores = spec.MatmulLayer(name="s", inputs=("q", "k"), transpose_b=True)
    # [12, 128, 64] x [12, 128, 64]^T -> [12, 128, 128]
    assert infer_shape(scores, [(12, 128, 64), (12, 128, 64)]) == (12, 128, 128)
    context = spec.MatmulLayer(name="c", inputs=("p", "v"))
    assert infer_shape(context, [(12, 128, 128), (12, 128, 64)]) == (12, 128, 64)
    plain = spec.MatmulLayer(name="m", inputs=("a", "b"))
    assert infer_shape(plain, [(4, 8), (8, 3)]) == (4, 3)


def test_elementwise_binary_ops_stretch_size_one_axes() -> None:
    add = spec.AddLayer(name="a", inputs=("x", "y"))
    assert infer_shape(add, [(64, 8, 8), (64, 8, 8)]) == (64, 8, 8)
    scale = spec.MulLayer(name="m", inputs=("x", "s"))
    # squeeze-excite: a per-channel scale [C, 1, 1] over the map [C, H, W]
    assert infer_shape(scale, [(64, 8, 8), (64, 1, 1)]) == (64, 8, 8)
    assert infer_shape(spec.AddLayer(name="a", inputs=("x", "y", "z")),
                       [(4, 4), (4, 4), (4, 4)]) == (4, 4)


def test_concat_adds_up_the_axis() -> None:
    channels = spec.ConcatLayer(name="c", inputs=("a", "b", "d"))
    assert infer_shape(channels, [(16, 8, 8), (24, 8, 8), (8, 8, 8)]) == (48, 8, 8)
    rows = spec.ConcatLayer(name="c", inputs=("a", "b"), axis=1)
    assert infer_shape(rows, [(16, 8, 8), (16, 4, 8)]) == (16, 12, 8)
    last = spec.ConcatLayer(name="c", inputs=("a", "b"), axis=-1)
    assert infer_shape(last, [(128, 64), (128, 32)]) == (128, 96)


def test_einsum_output_extents() -> None:
    # I spans the projection of p + r: (16-1) + (3-1) + 1 = 18 positions.
    assert infer_shape(conv1d_einsum(), [(16, 18)]) == (32, 16)
    # Without graph inputs the einsum is a free-standing loop nest.
    assert infer_shape(conv1d_einsum(inputs=()), []) == (32, 16)


def test_einsum_strided_and_negative_indices() -> None:
    # O[p] += I[2*p + r - 1]: span 2*(8-1) + (3-1) + 1 = 17; the offset does not widen it.
    layer = spec.EinsumLayer(
        name="e", inputs=("x",), dims=(("P", 8), ("R", 3)),
        tensors=(tensor("O", "output", index(("P", 1))),
                 tensor("I", "input", index(("P", 2), ("R", 1), offset=-1))))
    assert infer_shape(layer, [(17,)]) == (8,)
    # max - min + 1 for p - r over P=4, R=3: from -2 to 3, 6 values.
    assert projection_span(index(("P", 1), ("R", -1)), {"P": 4, "R": 3}) == 6


def problem_of(layer: spec.Layer, shapes: list[Shape]) -> ShapeProblem:
    problem = infer_shape(layer, shapes)
    assert isinstance(problem, ShapeProblem), problem
    assert problem.layer == layer.name
    assert problem.message
    return problem


@pytest.mark.parametrize(("layer", "shapes", "attribute", "words"), [
    # add of 64 and 128 channels: the second operand is at fault
    (spec.AddLayer(name="a", inputs=("x", "y")), [(64, 8, 8), (128, 8, 8)], "1",
     "[64, 8, 8] and [128, 8, 8]"),
    (spec.MulLayer(name="m", inputs=("x", "y")), [(64, 8, 8), (64, 8)], "1", "cannot mul"),
    # a 7x7 kernel on a 5x5 map without padding: output (5 - 7) // 1 + 1 = -1 <= 0
    (conv(out_channels=8, kernel=(7, 7)), [(3, 5, 5)], "kernel", "padded input (5 + 2 x 0"),
    # 3x3 dilated by 3 spans 7 > 4 + 2*1 = 6: output (6 - 7) // 1 + 1 = 0
    (conv(out_channels=8, kernel=(3, 3), pad=(1, 1), dilation=(3, 3)), [(3, 4, 4)], "kernel",
     "spanning 7"),
    (pool(kernel=(3, 3), stride=(2, 2)), [(8, 2, 2)], "kernel", "larger than the padded"),
    (spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(5, 5)), [(8, 4, 4)], "kernel",
     "larger"),
    (conv(out_channels=8, kernel=(3, 3), groups=2), [(3, 8, 8)], "groups", "groups = 2"),
    (conv(out_channels=6, kernel=(3, 3), groups=4), [(8, 8, 8)], "groups", "divisible"),
    (conv(out_channels=8, kernel=(1, 1)), [(3, 8)], "0", "3-D"),
    (conv(out_channels=8, kernel=(1, 1), stride=(0, 1)), [(3, 8, 8)], "stride",
     "at least 1"),
    (conv(out_channels=8, kernel=(1, 1), pad=(-1, 0)), [(3, 8, 8)], "pad", "at least 0"),
    (spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3)), [(8, 8)], "0", "3-D"),
    (pool(kernel=(2, 2)), [(8,)], "0", "last two axes"),
    # matmul inner dimension: [4, 8] x [4, 8] reads K = 4 from the second operand
    (spec.MatmulLayer(name="m", inputs=("a", "b")), [(4, 8), (4, 8)], "1", "inner sizes"),
    (spec.MatmulLayer(name="m", inputs=("a", "b"), transpose_b=True), [(4, 8), (8, 3)], "1",
     "inner sizes"),
    (spec.MatmulLayer(name="m", inputs=("a", "b")), [(2, 4, 8), (3, 8, 4)], "1",
     "leading axes"),
    (spec.MatmulLayer(name="m", inputs=("a", "b")), [(8,), (8, 4)], "0", "at least 2"),
    (spec.ReshapeLayer(name="r", inputs=("x",), shape=(10, 10)), [(3, 5)], "shape",
     "15 elements"),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(0, 0)), [(3, 5)], "perm",
     "not a permutation"),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(1, 0)), [(3, 5, 7)], "perm",
     "not a permutation"),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(0, 2)), [(3, 5)], "perm",
     "not a permutation"),
    (spec.ConcatLayer(name="c", inputs=("a", "b")), [(16, 8, 8), (16, 4, 4)], "1",
     "on axis 1"),
    (spec.ConcatLayer(name="c", inputs=("a", "b")), [(16, 8, 8), (16, 64)], "1",
     "ranks differ"),
    (spec.ConcatLayer(name="c", inputs=("a", "b"), axis=3), [(16, 8, 8), (16, 8, 8)], "axis",
     "does not exist"),
    (spec.DenseLayer(name="f", inputs=("x",), out_features=4), [(0, 8)], "0", "empty axis"),
    (spec.ElementwiseLayer(name="r", inputs=("x", "y"), function="relu"), [(4,), (4,)], "1",
     "takes 1 input"),
    (spec.MatmulLayer(name="m", inputs=("a",)), [(4, 4)], "inputs", "takes 2 input"),
])
def test_shape_problems_name_the_attribute(layer: spec.Layer, shapes: list[Shape],
                                           attribute: str, words: str) -> None:
    problem = problem_of(layer, shapes)
    assert problem.attribute == attribute
    assert words in problem.message


def test_matmul_hint_suggests_the_transpose() -> None:
    plain = spec.MatmulLayer(name="m", inputs=("q", "k"))
    assert "transpose_b = true" in problem_of(plain, [(128, 64), (128, 64)]).hint
    transposed = spec.MatmulLayer(name="m", inputs=("p", "v"), transpose_b=True)
    assert "drop `transpose_b`" in problem_of(transposed, [(128, 128), (128, 64)]).hint


def test_einsum_problems() -> None:
    # extent mismatch: I spans [16, 18], the argument is [16, 20]
    extent = problem_of(conv1d_einsum(), [(16, 20)])
    assert extent.attribute == "0" and "spans [16, 18]" in extent.message
    # rank mismatch: two indices, a 3-D argument
    rank = problem_of(conv1d_einsum(), [(16, 18, 1)])
    assert rank.attribute == "0" and "2 indices" in rank.message
    count = problem_of(conv1d_einsum(inputs=("x", "y")), [(16, 18), (16, 18)])
    assert count.attribute == "inputs"
    unknown = spec.EinsumLayer(
        name="e", inputs=(), dims=(("K", 4),),
        tensors=(tensor("O", "output", index(("K", 1))), tensor("W", "weight", index(("Z", 1)))))
    assert problem_of(unknown, []).attribute == "W"
    no_output = spec.EinsumLayer(
        name="e", inputs=(), dims=(("K", 4),), tensors=(tensor("W", "weight", index(("K", 1))),))
    assert problem_of(no_output, []).attribute == "tensors"
    zero = spec.EinsumLayer(
        name="e", inputs=(), dims=(("K", 0),),
        tensors=(tensor("O", "output", index(("K", 1))), tensor("W", "weight", index(("K", 1)))))
    assert problem_of(zero, []).attribute == "dims"


def test_shapes_must_follow_the_inputs() -> None:
    with pytest.raises(ValueError, match="2 inputs but 1 shapes"):
        infer_shape(spec.AddLayer(name="a", inputs=("x", "y")), [(4,)])


def test_einsum_output_with_gaps_and_collisions_is_refused() -> None:
    # O[2p + 2r] (P 4, R 2): several operations update one element (p + r equal) and the
    # 9-wide box 0..8 holds 5 touched elements (the odd ones are gaps): the cost model
    # cannot count its first touches (docs/design/cost-model.md, section 4).
    def layer(*terms: tuple[str, int]) -> spec.EinsumLayer:
        return spec.EinsumLayer(
            name="e", inputs=(), dims=(("P", 4), ("R", 2)),
            tensors=(tensor("O", "output", index(*terms)), tensor("W", "weight", index(("R", 1))),
                     tensor("I", "weight", index(("P", 1)))))

    refused = problem_of(layer(("P", 2), ("R", 2)), [])
    assert refused.attribute == "O" and "gaps" in refused.message
    # Gaps alone (O[2p], one-to-one) or collisions alone (O[p + r], gap-free) are counted.
    assert infer_shape(layer(("P", 2)), []) == (7,)
    assert infer_shape(layer(("P", 1), ("R", 1)), []) == (5,)
    assert infer_shape(layer(("P", 2), ("R", 1)), []) == (8,)


def test_einsum_output_with_gaps_and_collisions_is_refused_past_the_enumeration() -> None:
    # P x R = 90,000 index points, past COUNT_LIMIT: O[2p + 2r] was let through (and its
    # first touches miscounted); one axis is counted on its box instead of by enumeration.
    def layer(*terms: tuple[str, int]) -> spec.EinsumLayer:
        return spec.EinsumLayer(
            name="e", inputs=(), dims=(("P", 300), ("R", 300)),
            tensors=(tensor("O", "output", index(*terms)), tensor("W", "weight", index(("R", 1))),
                     tensor("I", "weight", index(("P", 1)))))

    refused = problem_of(layer(("P", 2), ("R", 2)), [])
    assert refused.attribute == "O" and "gaps" in refused.message
    refused = problem_of(layer(("P", 2), ("R", -2)), [])
    assert refused.attribute == "O" and "gaps" in refused.message
    assert infer_shape(layer(("P", 1), ("R", 1)), []) == (599,)  # collisions, no gaps
    assert infer_shape(layer(("P", 2), ("R", 600)), []) == (2 * 299 + 600 * 299 + 1,)  # 1:1


def test_einsum_output_of_two_terms_is_checked_past_the_box_limit() -> None:
    # O[2p + 2r] with P 2^25 and R 2: 2^26 operations onto the even values 0..2^26, so
    # 2^25 + 1 elements in a box 2^26 + 1 wide: collisions and gaps. The box is past the
    # bit-set's limit (2^26); a two-term axis is counted by its closed form whatever its
    # box, so the output is refused (it was let through and miscounted).
    layer = spec.EinsumLayer(
        name="e", inputs=(), dims=(("P", 1 << 25), ("R", 2)),
        tensors=(tensor("O", "output", index(("P", 2), ("R", 2))),
                 tensor("W", "weight", index(("R", 1))), tensor("I", "weight", index(("P", 1)))))
    refused = problem_of(layer, [])
    assert refused.attribute == "O" and "gaps" in refused.message
