"""Access counts of a mapping: reads, fills and updates per level and tensor (scalar reference).

Input: a `Problem`, an `AcceleratorSpec` and a valid `MappingSpec` (see dslc.mapping.check).
Output: `AccessCounts`, per memory level and kept tensor, per instance and in total. Written for
clarity, not speed; the batched model must agree with it. Energy, cycles and the estimator are
built on these counts elsewhere.

The rules (DESIGN.md, "Cost model semantics", Timeloop's counting):
- The mapping is one loop nest, outermost first: each memory's temporal loops, each fanout's
  spatial loops (X then Y). A memory's tile spans the loops it owns and every loop below it.
- A level's instances are the product of the fanouts above it; its utilised instances the
  product of the spatial factors above it. Counts are per instance; totals multiply by the
  utilised instances.
- Fills of a tile: the first tile, then on every transition of the temporal loops above the
  level only the elements not already held (a box minus its overlap with the previous box).
  A loop that does not index the tensor moves nothing (stationarity); a loop further out
  resets the inner ones, and the overlap is then what it is, usually nothing.
- A parent serves the union of what its children below the fanouts between them need, each
  distinct element once (multicast; partial sums reduced in space count once). A child with
  no storage for the tensor (the MACs) needs its operand at every step.
- Bypass: a tensor's chain is the memories that keep it; reads are charged at the nearest
  keeping level above.
- Outputs: each residency of a partial-sum tile ends with a write-back (an update at the
  parent); re-entering a tile re-reads the partial sums from the parent, except the first
  touch of each output, which starts from zero. At the level next to the MACs,
  reads = updates - distinct outputs first touched.

Known limit: a parent's reads are the entries of the union of its children's tiles. Where
children's tiles overlap (an input halo across PEs, e.g. spatial P with R in the tile) and a
temporal step moves them, an element that one child held before and another child now needs
is not counted again; without inter-PE forwarding it should be (Timeloop counts the union of
the children's new elements per step). Exact elsewhere: children that are identical
(multicast) or disjoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dslc.lower.problem import Problem, Tensor
from dslc.spec.accelerator import AcceleratorSpec, FanoutSpec, MemorySpec
from dslc.spec.mapping import MappingSpec


@dataclass(frozen=True, slots=True)
class NestLoop:
    """One loop of the flattened nest: dim index, factor, the component owning it."""

    dim: int
    factor: int
    owner: int
    spatial: bool


@dataclass(frozen=True, slots=True)
class TensorCounts:
    """Accesses of one tensor at one level, per instance."""

    reads: int
    fills: int
    updates: int
    tile_words: int


@dataclass(frozen=True, slots=True)
class LevelCounts:
    name: str
    instances: int
    utilized_instances: int
    tensors: dict[str, TensorCounts]


@dataclass(frozen=True, slots=True)
class AccessCounts:
    """Per memory level (outermost first), per kept tensor; `macs` and per-MAC-unit steps."""

    macs: int
    steps: int
    mac_units_used: int
    levels: tuple[LevelCounts, ...]

    def level(self, name: str) -> LevelCounts:
        return next(level for level in self.levels if level.name == name)


def flatten(problem: Problem, accelerator: AcceleratorSpec, mapping: MappingSpec
            ) -> tuple[NestLoop, ...]:
    """The mapping as one loop nest, outermost first."""
    entries = {level.target: level for level in mapping.levels}
    nest: list[NestLoop] = []
    for owner, component in enumerate(accelerator.hierarchy):
        entry = entries.get(component.name)
        if entry is None:
            continue
        spatial = isinstance(component, FanoutSpec)
        loops = (*entry.spatial_x, *entry.spatial_y) if spatial else entry.temporal
        for loop in loops:
            if loop.factor > 1:
                nest.append(NestLoop(problem.dim_index(loop.dim), loop.factor, owner, spatial))
    return tuple(nest)


def box_words(tensor: Tensor, extents: Sequence[int]) -> int:
    """Elements of a tensor's bounding box when dim d spans extents[d]."""
    return math.prod(axis.extent(tuple(extents)) for axis in tensor.axes)


def _axis_shift(tensor: Tensor, shift: Sequence[int]) -> list[int]:
    return [sum(coef * shift[d] for d, coef in axis.terms) for axis in tensor.axes]


def entries(tensor: Tensor, extents: Sequence[int], outer: Sequence[NestLoop],
            steps: Sequence[int], storage: bool = True) -> int:
    """Elements entering a tile of `extents` as the temporal loops `outer` run (outer first).

    `steps[j]` is how far loop j moves its dim: the product of every loop of that dim nested
    inside it, temporal or spatial. Without storage every step needs the whole tile again (an
    operand fed to the MACs)."""
    tile = box_words(tensor, extents)
    if not storage:
        return tile * math.prod(loop.factor for loop in outer)
    axis_extents = [axis.extent(tuple(extents)) for axis in tensor.axes]
    total = tile
    for j, loop in enumerate(outer):
        transitions = (loop.factor - 1) * math.prod(k.factor for k in outer[:j])
        if transitions == 0:
            continue
        shift = [0] * len(extents)
        shift[loop.dim] += steps[j]
        for k in range(j + 1, len(outer)):
            shift[outer[k].dim] -= (outer[k].factor - 1) * steps[k]
        overlap = math.prod(max(0, extent - abs(moved)) for extent, moved in
                            zip(axis_extents, _axis_shift(tensor, shift), strict=True))
        total += transitions * (tile - overlap)
    return total


def _kept(memory: MemorySpec, keep: tuple[str, ...] | None, tensor: Tensor) -> bool:
    if keep is None:
        return tensor.role in memory.holds
    return tensor.name in keep or tensor.role in keep


def access_counts(problem: Problem, accelerator: AcceleratorSpec,
                  mapping: MappingSpec) -> AccessCounts:
    """Reads, fills and updates per level and tensor of a valid mapping."""
    nest = flatten(problem, accelerator, mapping)
    hierarchy = accelerator.hierarchy
    keeps = {level.target: level.keep for level in mapping.levels}
    memory_at = {i: c for i, c in enumerate(hierarchy) if isinstance(c, MemorySpec)}
    memories = sorted(memory_at)
    ndims = len(problem.dims)

    def extents_below(owner: int, extra_spatial_from: int | None = None) -> list[int]:
        """Dim spans of loops owned at or below `owner` (a tile), optionally widened by the
        spatial loops owned from `extra_spatial_from` down to `owner` (a union)."""
        ext = [1] * ndims
        for loop in nest:
            if loop.owner >= owner or (extra_spatial_from is not None and loop.spatial
                                       and extra_spatial_from <= loop.owner < owner):
                ext[loop.dim] *= loop.factor
        return ext

    def temporal_above(owner: int) -> list[NestLoop]:
        return [loop for loop in nest if loop.owner < owner and not loop.spatial]

    step_of = {id(loop): math.prod(k.factor for k in nest[i + 1:] if k.dim == loop.dim)
               for i, loop in enumerate(nest)}

    def steps(outer: Sequence[NestLoop]) -> list[int]:
        return [step_of[id(loop)] for loop in outer]

    def instances(owner: int) -> tuple[int, int]:
        total = math.prod(c.instances for c in hierarchy[:owner] if isinstance(c, FanoutSpec))
        used = math.prod(loop.factor for loop in nest if loop.spatial and loop.owner < owner)
        return total, used

    def distinct(tensor: Tensor, extents: Sequence[int], outer: Sequence[NestLoop]) -> int:
        span = list(extents)
        for loop in outer:
            span[loop.dim] *= loop.factor
        return box_words(tensor, span)

    all_temporal = [loop for loop in nest if not loop.spatial]
    counts: dict[int, dict[str, list[int]]] = {i: {} for i in memories}
    tiles: dict[int, dict[str, int]] = {i: {} for i in memories}
    for tensor in problem.tensors:
        chain = [i for i in memories if _kept(memory_at[i], keeps.get(memory_at[i].name),
                                                tensor)]
        for i in chain:
            counts[i][tensor.name] = [0, 0, 0]  # reads, fills, updates
            tiles[i][tensor.name] = box_words(tensor, extents_below(i))
        is_output = tensor.role == "output"
        for parent, child in zip(chain, [*chain[1:], None], strict=True):
            if child is None:
                # The MACs: every step needs its operand; one read per distinct element
                # across the fanouts below (multicast), one update per reduced output.
                union = extents_below(len(hierarchy), extra_spatial_from=parent)
                served = entries(tensor, union, all_temporal, steps(all_temporal),
                                 storage=False)
                if is_output:
                    first = distinct(tensor, extents_below(parent), temporal_above(parent))
                    counts[parent][tensor.name][2] += served
                    counts[parent][tensor.name][0] += served - first
                else:
                    counts[parent][tensor.name][0] += served
                continue
            outer = temporal_above(child)
            own = extents_below(child)
            child_entries = entries(tensor, own, outer, steps(outer))
            union = extents_below(child, extra_spatial_from=parent)
            union_entries = entries(tensor, union, outer, steps(outer))
            if is_output:
                counts[child][tensor.name][1] += child_entries - distinct(tensor, own, outer)
                counts[parent][tensor.name][2] += union_entries
                counts[parent][tensor.name][0] += union_entries - distinct(tensor, union, outer)
            else:
                counts[child][tensor.name][1] += child_entries
                counts[parent][tensor.name][0] += union_entries
    levels = []
    for i in memories:
        total, used = instances(i)
        levels.append(LevelCounts(
            hierarchy[i].name, total, used,
            {name: TensorCounts(r, f, u, tiles[i][name])
             for name, (r, f, u) in counts[i].items()}))
    return AccessCounts(problem.macs, math.prod(loop.factor for loop in all_temporal),
                        math.prod(loop.factor for loop in nest if loop.spatial),
                        tuple(levels))
