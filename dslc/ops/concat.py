"""`concat`: two or more tensors joined along `axis` (0, the channels, by default).

Shape: the operands agree on every other axis; the joined axis is their sum. A negative
axis counts from the end (specs built in Python may use it; the language takes 0 and up).
No MACs, no weights, no loop nest.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import ConcatLayer

AXIS = Attribute("axis", "nonneg_int", "axis to join along (default 0, channels)", default=0)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> ConcatLayer:
    return ConcatLayer(name=name, inputs=inputs, axis=attrs.integer(AXIS))


def _shape(layer: ConcatLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    first = shapes[0]
    rank = len(first)
    if not -rank <= layer.axis < rank:
        return ShapeProblem(layer.name, "axis",
                            f"axis {layer.axis} does not exist in {show(first)}",
                            f"use an axis from 0 to {rank - 1}" if rank else "")
    axis = layer.axis % rank
    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != rank:
            return ShapeProblem(layer.name, str(index),
                                f"cannot concat {show(first)} and {show(shape)}: their "
                                "ranks differ")
        off_axis = [i for i in range(rank) if i != axis and shape[i] != first[i]]
        if off_axis:
            return ShapeProblem(layer.name, str(index),
                                f"{show(shape)} does not match {show(first)} on axis "
                                f"{off_axis[0]}", f"only axis {axis} may differ")
    total = sum(shape[axis] for shape in shapes)
    return (*first[:axis], total, *first[axis + 1:])


OPERATOR = Operator(
    spellings=(Spelling("concat", "concatenation"),),
    layer=ConcatLayer, min_inputs=2, max_inputs=None, attributes=(AXIS,),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("concat(x0, x1, axis = 1)", ((4, 8, 8), (4, 2, 8))),
)
