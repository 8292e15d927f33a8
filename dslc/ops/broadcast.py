"""The shape rule of the elementwise binary operators (`add`, `mul`).

Operands need equal ranks; a size-1 axis stretches to the other operand's size
(squeeze-excite's [C, 1, 1] scale over a [C, H, W] map), any other difference is a problem
at the operand that introduces it.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import AddLayer, MulLayer


def broadcast(layer: AddLayer | MulLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    """The common shape of the operands, or a problem at the first that does not fit."""
    result = shapes[0]
    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(result) or any(
                a != b and 1 not in (a, b) for a, b in zip(shape, result, strict=True)):
            return ShapeProblem(layer.name, str(index),
                                f"cannot {layer.op} {show(shapes[0])} and {show(shape)}",
                                "elementwise operands need equal ranks and, on each "
                                "axis, equal sizes or a size of 1")
        result = tuple(max(a, b) for a, b in zip(shape, result, strict=True))
    return result
