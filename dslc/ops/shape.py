"""Shapes and shape problems, shared by every operator's shape rule.

Owns `Shape` (a tensor shape without the batch), `ShapeProblem` (why a layer has no output
shape: the layer, the source attribute or input position at fault, a message and a hint) and
the checks several operators share. A shape rule returns a `Shape` or a `ShapeProblem`; it
never raises for a user's mistake. Elaboration turns problems into E401 at the attribute's
span, which is why `attribute` is spelled as the user writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

Shape = tuple[int, ...]
"""A tensor shape without the batch axis."""


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    """Why a layer's output shape cannot be inferred."""

    layer: str
    """The layer (or network input) at fault."""
    attribute: str
    """The source attribute at fault (`kernel`, `out`, ...) or the input's index as a string."""
    message: str
    """What is wrong, with the sizes involved."""
    hint: str = ""
    """How to fix it, where there is an obvious fix."""


def show(shape: Shape) -> str:
    """A shape as the language writes it: `[64, 56, 56]`."""
    return "[" + ", ".join(str(size) for size in shape) + "]"


def rank_problem(layer: str, op: str, shape: Shape, rank: int, what: str, index: int = 0
                 ) -> ShapeProblem | None:
    """A problem at input `index` unless `shape` has exactly `rank` axes."""
    if len(shape) == rank:
        return None
    return ShapeProblem(layer, str(index),
                        f"`{op}` needs a {rank}-D {what} input, got {show(shape)}",
                        "flatten or reshape the input first" if len(shape) > rank else
                        "reshape the input first")
