"""Shape inference, with expected shapes computed by hand from the operator definitions."""

from __future__ import annotations

import pytest

from dslc.graph.shapes import ShapeProblem, infer_shape
from dslc.spec import network as spec


def conv(**kwargs: object) -> spec.ConvLayer:
    return spec.ConvLayer(name="c", inputs=("x",), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("layer", "shape", "expected"), [
    # floor((224 + 2*3 - 7) / 2) + 1 = 112
    (conv(out_channels=64, kernel=(7, 7), stride=(2, 2), pad=(3, 3)), (3, 224, 224),
     (64, 112, 112)),
    # dilation 2 widens a 3x3 kernel to 5: (32 + 2*2 - 5) // 1 + 1 = 32
    (conv(out_channels=8, kernel=(3, 3), pad=(2, 2), dilation=(2, 2)), (4, 32, 32), (8, 32, 32)),
    # rectangular: (10 - 3) // 1 + 1 = 8 rows, (10 - 1) // 2 + 1 = 5 columns
    (conv(out_channels=2, kernel=(3, 1), stride=(1, 2)), (1, 10, 10), (2, 8, 5)),
    (spec.DepthwiseConvLayer(name="d", inputs=("x",), kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                             multiplier=2), (32, 112, 112), (64, 56, 56)),
    (spec.DenseLayer(name="f", inputs=("x",), out_features=3072), (128, 768), (128, 3072)),
    (spec.PoolLayer(name="p", inputs=("x",), op="maxpool", kernel=(3, 3), stride=(2, 2),
                    pad=(1, 1)), (64, 112, 112), (64, 56, 56)),
    (spec.PoolLayer(name="p", inputs=("x",), op="avgpool", global_pool=True), (512, 7, 7),
     (512, 1, 1)),
    (spec.FlattenLayer(name="f", inputs=("x",)), (512, 1, 1), (512,)),
    (spec.ReshapeLayer(name="r", inputs=("x",), shape=(128, 12, 64)), (128, 768),
     (128, 12, 64)),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(1, 0, 2)), (128, 12, 64), (12, 128, 64)),
])
def test_single_input_shapes(layer: spec.Layer, shape: tuple[int, ...],
                             expected: tuple[int, ...]) -> None:
    assert infer_shape(layer, [shape]) == expected


def test_matmul_attention_shapes() -> None:
    scores = spec.MatmulLayer(name="s", inputs=("q", "k"), transpose_b=True)
    assert infer_shape(scores, [(12, 128, 64), (12, 128, 64)]) == (12, 128, 128)
    context = spec.MatmulLayer(name="c", inputs=("p", "v"))
    assert infer_shape(context, [(12, 128, 128), (12, 128, 64)]) == (12, 128, 64)


def test_concat_adds_the_axis() -> None:
    layer = spec.ConcatLayer(name="c", inputs=("a", "b"))
    assert infer_shape(layer, [(16, 8, 8), (24, 8, 8)]) == (40, 8, 8)


def test_einsum_output_extents() -> None:
    # O[k, p] += W[k, c, r] * I[c, p + r]: I spans P + R - 1 = 18 positions.
    layer = spec.EinsumLayer(
        name="e", inputs=("x",), dims=(("K", 32), ("C", 16), ("P", 16), ("R", 3)),
        tensors=(
            spec.EinsumTensor(name="O", role="output", indices=(
                spec.AffineIndex(terms=(spec.AffineTerm(dim="K", coefficient=1),)),
                spec.AffineIndex(terms=(spec.AffineTerm(dim="P", coefficient=1),)))),
            spec.EinsumTensor(name="I", role="input", indices=(
                spec.AffineIndex(terms=(spec.AffineTerm(dim="C", coefficient=1),)),
                spec.AffineIndex(terms=(spec.AffineTerm(dim="P", coefficient=1),
                                        spec.AffineTerm(dim="R", coefficient=1))))),
            spec.EinsumTensor(name="W", role="weight", indices=(
                spec.AffineIndex(terms=(spec.AffineTerm(dim="K", coefficient=1),)),
                spec.AffineIndex(terms=(spec.AffineTerm(dim="C", coefficient=1),)),
                spec.AffineIndex(terms=(spec.AffineTerm(dim="R", coefficient=1),)))),
        ))
    assert infer_shape(layer, [(16, 18)]) == (32, 16)
    problem = infer_shape(layer, [(16, 20)])
    assert isinstance(problem, ShapeProblem) and problem.attribute == "0"


@pytest.mark.parametrize(("layer", "shapes", "attribute"), [
    (spec.AddLayer(name="a", inputs=("x", "y")), [(64, 8, 8), (128, 8, 8)], "1"),
    (conv(out_channels=8, kernel=(7, 7)), [(3, 5, 5)], "kernel"),
    (conv(out_channels=8, kernel=(3, 3), groups=2), [(3, 8, 8)], "groups"),
    (conv(out_channels=8, kernel=(1, 1)), [(3, 8)], "0"),
    (spec.MatmulLayer(name="m", inputs=("a", "b")), [(4, 8), (4, 8)], "1"),
    (spec.ReshapeLayer(name="r", inputs=("x",), shape=(10, 10)), [(3, 5)], "shape"),
    (spec.TransposeLayer(name="t", inputs=("x",), perm=(0, 0)), [(3, 5)], "perm"),
    (spec.ConcatLayer(name="c", inputs=("a", "b")), [(16, 8, 8), (16, 4, 4)], "1"),
])
def test_shape_problems_name_the_attribute(layer: spec.Layer, shapes: list[tuple[int, ...]],
                                           attribute: str) -> None:
    problem = infer_shape(layer, shapes)
    assert isinstance(problem, ShapeProblem)
    assert problem.attribute == attribute
    assert problem.layer == layer.name
