"""Mapping spec models: a fixed mapping of one layer onto one accelerator, as written.

Levels are listed outermost first and name a memory or a fanout of the accelerator. Temporal
loops are outer to inner. Spatial loops belong to a fanout (X or Y of its mesh). `keep` lists
the tensors a memory keeps; the others bypass it (None: keep all that the memory holds).
Consistency with the problem and the accelerator is checked in dslc.sema; the cost model's
hot-path mapping IR is built from this in dslc.mapping.
"""

from __future__ import annotations

from pydantic import Field

from dslc.spec.base import Point, Spec
from dslc.spec.limits import MAX_BATCH


class LoopSpec(Spec):
    """One loop: a dimension and its factor at this level."""

    dim: str
    """The problem dimension (K, C, P, ... or an einsum dim)."""
    factor: int = Field(gt=0)
    """Its trip count at this level."""


class MappingLevelSpec(Spec):
    """What one level of the hierarchy does in the mapping."""

    target: str
    """The memory or fanout this entry is for."""
    temporal: tuple[LoopSpec, ...] = ()
    """Temporal loops at this level, outer to inner."""
    spatial_x: tuple[LoopSpec, ...] = ()
    """Spatial loops across the fanout's X (fanouts only)."""
    spatial_y: tuple[LoopSpec, ...] = ()
    """Spatial loops across the fanout's Y (fanouts only)."""
    keep: tuple[str, ...] | None = None
    """Tensors kept at this memory (None: every tensor it holds)."""


class MappingSpec(Spec):
    """A fixed mapping of a layer of a network onto an accelerator."""

    name: str
    """The mapping's name."""
    network: str
    """The network the layer belongs to."""
    network_point: Point = ()
    """Parameter values picking a network from a space (empty for a fixed network)."""
    layer: str
    """The layer's (dotted) name."""
    accelerator: str
    """The accelerator."""
    accelerator_point: Point = ()
    """Parameter values picking a design from a design space."""
    batch: int = Field(default=1, gt=0, le=MAX_BATCH)
    """The batch size N."""
    imperfect: bool = False
    """Allow factors whose product exceeds a dim's bound: the dim is padded (ceil
    factorisation), as long as no iteration of its outermost loop is wholly padding."""
    levels: tuple[MappingLevelSpec, ...]
    """Per-level loops, outermost first."""
