"""`flatten`: all axes into one. No MACs, no weights, no loop nest."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops.attributes import AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem
from dslc.spec.network import FlattenLayer


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> FlattenLayer:
    return FlattenLayer(name=name, inputs=inputs)


def _shape(layer: FlattenLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    return (math.prod(shapes[0]),)


OPERATOR = Operator(
    spellings=(Spelling("flatten", "flatten to one axis"),),
    layer=FlattenLayer, min_inputs=1, max_inputs=1, attributes=(),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("flatten(x0)", ((4, 2, 3),)),
)
