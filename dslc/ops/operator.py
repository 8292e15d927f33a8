"""The registry entry: what one network operator (or family of spellings) is.

Owns `Operator` and the small records it is made of: `Spelling` (a source name and the
reference's line for it), `Workload` (per-sample MACs and weights) and `Example` (a call with
input shapes). An entry is data and pure functions over spec layers; it does not produce
diagnostics (binders raise what the `AttributeReader` gives them), build graphs or know the
`Problem` IR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.loopnest import LoopNest
from dslc.ops.shape import Shape, ShapeProblem

LayerT = TypeVar("LayerT")


@dataclass(frozen=True, slots=True)
class Workload:
    """What one sample of a layer computes: MACs and multiplier parameters (no biases)."""

    macs: int
    weights: int


Binder = Callable[[str, str, tuple[str, ...], AttributeReader], LayerT]
"""(spelling called, layer name, input tensor names, attributes) -> the spec layer."""

ShapeRule = Callable[[LayerT, Sequence[Shape]], Shape | ShapeProblem]
"""(layer, input shapes in `layer.inputs` order) -> its output shape, batch excluded.
Called only with an allowed number of inputs, none of them with an empty axis."""

WorkloadRule = Callable[[LayerT, tuple[Shape, ...], Shape], Workload]
"""(layer, input shapes, output shape) -> its per-sample MACs and weight count."""

LowerRule = Callable[[LayerT, tuple[Shape, ...], Shape, int], LoopNest]
"""(layer, input shapes, output shape, batch) -> its loop nest."""

Listing = Literal["table", "functions", "syntax"]
"""Where the language reference lists an operator: a table row per spelling, the sentence
of elementwise functions, or (einsum, which has its own syntax) the section's prose."""


@dataclass(frozen=True, slots=True)
class Spelling:
    """A name the language accepts for an operator, and the reference's line for it."""

    name: str
    doc: str


NO_WORK = Workload(0, 0)
"""The workload of pooling, elementwise and data-layout layers."""


def no_work(layer: object, inputs: tuple[Shape, ...], output: Shape) -> Workload:
    """The workload rule of operators without MACs or weights."""
    return NO_WORK


@dataclass(frozen=True, slots=True)
class Example:
    """A small use of an operator, for tests and docs.

    `call` is source text calling the operator's first spelling on tensors named x0, x1, ..
    (other spellings take the same arguments); `inputs` are their shapes, batch excluded.
    """

    call: str
    inputs: tuple[Shape, ...]


@dataclass(frozen=True, slots=True)
class Operator(Generic[LayerT]):
    """One registry entry: an operator and every rule that defines it."""

    spellings: tuple[Spelling, ...]
    """Its source names, canonical first (aliases and family members after)."""
    layer: type[LayerT]
    """The spec class it builds; no other entry builds it."""
    min_inputs: int
    """Fewest tensor inputs."""
    max_inputs: int | None
    """Most tensor inputs; None is unbounded."""
    attributes: tuple[Attribute, ...]
    """Its keyword attributes, in the reference's order."""
    bind: Binder[LayerT] | None
    """Builds the spec layer of a call; None for an operator with its own syntax (einsum),
    which elaboration builds from the syntax tree."""
    shape: ShapeRule[LayerT]
    """Its output shape or why there is none."""
    workload: WorkloadRule[LayerT]
    """Its per-sample MACs and weights, independent of loop-nest conventions."""
    lower: LowerRule[LayerT] | None
    """Its loop nest; None for an operator without MACs (it only moves data)."""
    example: Example
    listing: Listing = "table"
    """Where the language reference lists it."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every spelling's name."""
        return tuple(spelling.name for spelling in self.spellings)

    def attribute(self, name: str) -> Attribute | None:
        """The keyword attribute called `name`, if it has one."""
        return next((a for a in self.attributes if a.name == name), None)
