"""`transpose`: a permutation of the axes. No MACs, no weights, no loop nest."""

from __future__ import annotations

from collections.abc import Sequence

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import TransposeLayer

PERM = Attribute("perm", "int_list", "input axis of each output axis", True)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> TransposeLayer:
    return TransposeLayer(name=name, inputs=inputs, perm=attrs.int_list(PERM))


def _shape(layer: TransposeLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if sorted(layer.perm) != list(range(len(shape))):
        return ShapeProblem(layer.name, "perm",
                            f"{list(layer.perm)} is not a permutation of the {len(shape)} "
                            f"axes of {show(shape)}",
                            f"list each axis 0..{len(shape) - 1} once" if shape else "")
    return tuple(shape[axis] for axis in layer.perm)


OPERATOR = Operator(
    spellings=(Spelling("transpose", "permute axes"),),
    layer=TransposeLayer, min_inputs=1, max_inputs=1, attributes=(PERM,),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("transpose(x0, perm = [2, 0, 1])", ((3, 4, 5),)),
)
