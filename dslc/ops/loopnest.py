"""The loop nest an operator lowers to, as plain data.

Owns `LoopNest` (ordered dims with bounds, and tensors whose axes are sums of
`(dim, coefficient)` terms) and `leading_dims`, the naming rule for batch-like leading axes
shared by `dense` and `matmul`. It is what an operator's lowering returns; dslc.lower turns it
into its `Problem` IR (merging repeated dims and dropping zero coefficients there), so this
package does not depend on the IR. A MAC-bearing operator performs one multiply-accumulate
per point of the nest: its MAC count is the product of the bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dslc.ops.shape import Shape

Role = Literal["input", "weight", "output"]
"""input: an activation from the graph; weight: a parameter; output: the result."""

Term = tuple[str, int]
"""`coefficient * dim` as (dim name, coefficient)."""

Axis = tuple[Term, ...]
"""One tensor axis: the sum of its terms (`p*stride + r*dilation` is two terms)."""


@dataclass(frozen=True, slots=True)
class LoopTensor:
    """A tensor of a loop nest: its name, its role and one index expression per axis."""

    name: str
    role: Role
    axes: tuple[Axis, ...]


@dataclass(frozen=True, slots=True)
class LoopNest:
    """A perfectly nested loop nest: dims (outermost first) and the tensors they index."""

    dims: tuple[tuple[str, int], ...]
    """(name, bound) per loop dimension, in loop order."""
    tensors: tuple[LoopTensor, ...]

    @property
    def macs(self) -> int:
        """Points of the nest: one multiply-accumulate each."""
        return math.prod(bound for _, bound in self.dims)


def leading_dims(shape: Shape, named: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """Dims for leading (batch-like) axes: `named` when the count matches, else A0, A1, .."""
    names = named if len(named) == len(shape) else tuple(f"A{i}" for i in range(len(shape)))
    return tuple(zip(names, shape, strict=True))
