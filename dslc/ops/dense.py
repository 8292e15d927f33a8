"""`dense` (alias `linear`): a fully connected layer over the last axis; leading axes are kept.

Shape: [.., D] -> [.., K]. Work: one K x D product per leading position; K*D weights.

Loop nest over [.., D]: N, one dim per leading axis, K (out features), C (in features);
leading axes are S for [S, D], H S for [H, S, D] and A0 A1 .. beyond. Input [N, .., C],
weight [K, C], output [N, .., K].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.loopnest import Axis, LoopNest, LoopTensor, leading_dims
from dslc.ops.operator import Example, Operator, Spelling, Workload
from dslc.ops.shape import Shape, ShapeProblem
from dslc.spec.network import DenseLayer

OUT = Attribute("out", "pos_int", "output features", True)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> DenseLayer:
    return DenseLayer(name=name, inputs=inputs, out_features=attrs.integer(OUT))


def _shape(layer: DenseLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if not shape:
        return ShapeProblem(layer.name, "0", "`dense` acts on the last axis but its input "
                            "is a scalar")
    return (*shape[:-1], layer.out_features)


def _workload(layer: DenseLayer, inputs: tuple[Shape, ...], output: Shape) -> Workload:
    features = inputs[0][-1]
    return Workload(math.prod(output) * features, layer.out_features * features)


def _lower(layer: DenseLayer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> LoopNest:
    shape = inputs[0]
    lead = leading_dims(shape[:-1], ("S",) if len(shape) == 2 else ("H", "S"))
    lead_axes: tuple[Axis, ...] = tuple(((dim, 1),) for dim, _ in lead)
    return LoopNest((("N", batch), *lead, ("K", layer.out_features), ("C", shape[-1])), (
        LoopTensor("weight", "weight", ((("K", 1),), (("C", 1),))),
        LoopTensor("input", "input", ((("N", 1),), *lead_axes, (("C", 1),))),
        LoopTensor("output", "output", ((("N", 1),), *lead_axes, (("K", 1),))),
    ))


OPERATOR = Operator(
    spellings=(Spelling("dense", "fully connected layer over the last axis"),
               Spelling("linear", "alias of dense")),
    layer=DenseLayer, min_inputs=1, max_inputs=1, attributes=(OUT,),
    bind=_bind, shape=_shape, workload=_workload, lower=_lower,
    example=Example("dense(x0, out = 16)", ((10, 32),)),
)
