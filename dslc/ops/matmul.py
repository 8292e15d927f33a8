"""`matmul`: the product of two activations, [.., M, K] x [.., K, N] -> [.., M, N].

Both operands need equal leading axes; with `transpose_b` the second is [.., N, K] (as keys
are in attention). Work: M*N*K per leading position; no weights (both operands are
activations).

Loop nest: B (the batch: N is the operand dim, as in BLAS), one dim per leading axis (H for
[H, M, K], A0 A1 .. beyond), M, N, K. Two tensors of role input: `input` [B, .., M, K] and
`input_b` [B, .., K, N] ([B, .., N, K] with `transpose_b`); output [B, .., M, N]; no weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.loopnest import Axis, LoopNest, LoopTensor, leading_dims
from dslc.ops.operator import Example, Operator, Spelling, Workload
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import MatmulLayer

TRANSPOSE_B = Attribute("transpose_b", "bool", "take the second operand as [.., N, K]",
                        default=False)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> MatmulLayer:
    return MatmulLayer(name=name, inputs=inputs, transpose_b=attrs.flag(TRANSPOSE_B))


def _shape(layer: MatmulLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    a, b = shapes[0], shapes[1]
    for index, shape in enumerate((a, b)):
        if len(shape) < 2:
            return ShapeProblem(layer.name, str(index),
                                f"matmul operands need at least 2 axes, got {show(shape)}")
    if len(a) != len(b) or a[:-2] != b[:-2]:
        return ShapeProblem(layer.name, "1",
                            f"leading axes differ: {show(a[:-2])} and {show(b[:-2])}",
                            "both operands need the same batch or head axes")
    k_b, n = (b[-1], b[-2]) if layer.transpose_b else (b[-2], b[-1])
    if a[-1] != k_b:
        layout = "[.., N, K]" if layer.transpose_b else "[.., K, N]"
        hint = ("the first operand's last axis must equal the second's "
                + ("last axis (with `transpose_b`)" if layer.transpose_b else
                   "second-to-last axis"))
        if not layer.transpose_b and a[-1] == b[-1]:
            hint = "set `transpose_b = true`: the second operand looks like [.., N, K]"
        elif layer.transpose_b and a[-1] == b[-2]:
            hint = "drop `transpose_b`: the second operand looks like [.., K, N]"
        return ShapeProblem(layer.name, "1",
                            f"inner sizes differ: {show(a)} has K = {a[-1]} but the second "
                            f"operand {show(b)}, read as {layout}, has K = {k_b}", hint)
    return (*a[:-2], a[-2], n)


def _workload(layer: MatmulLayer, inputs: tuple[Shape, ...], output: Shape) -> Workload:
    return Workload(math.prod(output) * inputs[0][-1], 0)


def _lower(layer: MatmulLayer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> LoopNest:
    a, b = inputs[0], inputs[1]
    lead = leading_dims(a[:-2], ("H",))
    n = b[-2] if layer.transpose_b else b[-1]
    lead_axes: tuple[Axis, ...] = ((("B", 1),), *(((dim, 1),) for dim, _ in lead))
    b_axes: tuple[Axis, ...] = ((("N", 1),), (("K", 1),)) if layer.transpose_b else \
        ((("K", 1),), (("N", 1),))
    return LoopNest((("B", batch), *lead, ("M", a[-2]), ("N", n), ("K", a[-1])), (
        LoopTensor("input", "input", (*lead_axes, (("M", 1),), (("K", 1),))),
        LoopTensor("input_b", "input", (*lead_axes, *b_axes)),
        LoopTensor("output", "output", (*lead_axes, (("M", 1),), (("N", 1),))),
    ))


OPERATOR = Operator(
    spellings=(Spelling("matmul", "product of two activations [.., M, K] x [.., K, N]"),),
    layer=MatmulLayer, min_inputs=2, max_inputs=2, attributes=(TRANSPOSE_B,),
    bind=_bind, shape=_shape, workload=_workload, lower=_lower,
    example=Example("matmul(x0, x1, transpose_b = true)", ((4, 6, 8), (4, 5, 8))),
)
