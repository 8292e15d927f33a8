"""`reshape`: the same elements under a new shape. No MACs, no weights, no loop nest."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import ReshapeLayer

SHAPE = Attribute("shape", "int_list", "the new shape", True)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> ReshapeLayer:
    shape = attrs.int_list(SHAPE)
    if any(size < 1 for size in shape):
        raise attrs.invalid(SHAPE, "reshape dimensions must be positive")
    return ReshapeLayer(name=name, inputs=inputs, shape=shape)


def _shape(layer: ReshapeLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if any(size < 1 for size in layer.shape):
        return ShapeProblem(layer.name, "shape",
                            f"{show(layer.shape)} has an axis smaller than 1")
    if math.prod(layer.shape) != math.prod(shape):
        return ShapeProblem(layer.name, "shape",
                            f"{show(shape)} has {math.prod(shape)} elements but "
                            f"{show(layer.shape)} has {math.prod(layer.shape)}",
                            "a reshape keeps the element count")
    return layer.shape


OPERATOR = Operator(
    spellings=(Spelling("reshape", "reinterpret with a new shape"),),
    layer=ReshapeLayer, min_inputs=1, max_inputs=1, attributes=(SHAPE,),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("reshape(x0, shape = [8, 4, 6])", ((16, 12),)),
)
