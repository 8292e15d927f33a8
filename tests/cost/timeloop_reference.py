"""A slow, literal re-enactment of Timeloop's nest analysis on explicit point sets.

Used by the tests to check the closed forms of dslc.cost.model on random small cases. It
follows Timeloop's procedure step by step instead of summing formulas:

- NestAnalysis::ComputeTemporalWorkingSet with temporal extrapolation: every temporal loop
  fires iteration #0 (weight 1) and iteration #1 (weight f - 1), depth first;
- OperationSpace::SaveAndSubtractIfSameStride: a tile keeps its residue only while it moves
  by the same translation as before, otherwise the whole tile is fetched again;
- ComputeAccurateMulticastedAccesses: children whose deltas are equal sets are served once;
- tiling.cpp: partition sizes from the master-spatial union tiles, parent access shares,
  MaskTiles' rescaling of the parent's accesses when a level is bypassed, and the legacy
  read/update/fill split with first-read elision for outputs.

Timeloop has one spatial level (one X x Y fanout) between two storage levels; an Eyeriss-style
array with two fanouts below one memory is written with a storage level between them that
keeps nothing. `reference_counts` does the same: every multicast block after a memory's first
becomes such a level (`with_spatial_levels`), so per-fanout multicast, the partition chain and
the bypass rescaling all come from the walk above, not from a formula.

Point sets are Python sets of tensor coordinates (bounding boxes, like Timeloop's AAHRs).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import LevelMapping, Mapping, SpatialLoop

Point = tuple[int, ...]


@dataclass(frozen=True)
class RefLoop:
    dim: int
    factor: int
    level: int
    spatial: bool
    step: int


def nest_of(mapping: Mapping) -> list[RefLoop]:
    raw = []
    for index, level in enumerate(mapping.levels):
        raw += [(loop.dim, loop.factor, index, False) for loop in level.temporal]
        raw += [(loop.dim, loop.factor, index, True) for loop in level.spatial]
    raw = [r for r in raw if r[1] > 1]
    nest = []
    for n, (dim, factor, level, spatial) in enumerate(raw):
        step = 1
        for other in raw[n + 1:]:
            if other[0] == dim:
                step *= other[1]
        nest.append(RefLoop(dim, factor, level, spatial, step))
    return nest


def tile_box(tensor: Tensor, base: Sequence[int], span: Sequence[int]) -> frozenset[Point]:
    """The data-space bounding box of the op-space box [base, base + span)."""
    ranges = []
    for axis in tensor.axes:
        low = sum(c * base[d] for d, c in axis.terms)
        high = sum(c * (base[d] + span[d] - 1) for d, c in axis.terms)
        ranges.append(range(low, high + 1))
    return frozenset(itertools.product(*ranges))


def extrapolated(loops: Sequence[RefLoop]) -> Iterator[tuple[tuple[int, ...], int]]:
    """(indices, weight) of the temporal iterations Timeloop actually runs, in order."""
    def walk(k: int, indices: tuple[int, ...], weight: int
             ) -> Iterator[tuple[tuple[int, ...], int]]:
        if k == len(loops):
            yield indices, weight
            return
        yield from walk(k + 1, (*indices, 0), weight)
        if loops[k].factor >= 2:
            yield from walk(k + 1, (*indices, 1), weight * (loops[k].factor - 1))
    return walk(0, (), 1)


class StrideState:
    """SaveAndSubtractIfSameStride for one tile of one tensor."""

    def __init__(self) -> None:
        self.last: frozenset[Point] = frozenset()
        self.last_min: Point | None = None
        self.translation: Point | None = None

    def step(self, tile: frozenset[Point]) -> frozenset[Point]:
        low = min(tile)
        moved = None if self.last_min is None else tuple(
            a - b for a, b in zip(low, self.last_min, strict=True))
        if self.translation is None:
            delta = tile - self.last
            self.translation = moved
        elif moved == self.translation:
            delta = tile - self.last
        else:
            delta = tile
            self.translation = None
        self.last, self.last_min = tile, low
        return delta


def base_of(ndims: int, loops: Sequence[RefLoop], indices: Sequence[int]) -> list[int]:
    base = [0] * ndims
    for loop, index in zip(loops, indices, strict=True):
        base[loop.dim] += index * loop.step
    return base


def with_spatial_levels(mapping: Mapping, block_of: dict[str, int] | None) -> Mapping:
    """The mapping as Timeloop's nest: a memory's spatial loops split by multicast block
    (`block_of`: fanout name -> block; None: one block per fanout), each block after the
    first under a storage level of its own that keeps nothing."""
    levels: list[LevelMapping] = []
    for level in mapping.levels:
        blocks: list[list[SpatialLoop]] = []
        previous: object = None
        for loop in level.spatial:
            key = loop.fanout if block_of is None else block_of[loop.fanout]
            if key != previous:
                blocks.append([])
                previous = key
            blocks[-1].append(loop)
        first = tuple(blocks[0]) if blocks else ()
        levels.append(LevelMapping(level.name, level.temporal, first, level.keep))
        for n, block in enumerate(blocks[1:]):
            levels.append(LevelMapping(f"{level.name}~{n}", (), tuple(block), frozenset()))
    return Mapping(tuple(levels), imperfect=mapping.imperfect)


def reference_counts(problem: Problem, mapping: Mapping,
                     block_of: dict[str, int] | None = None
                     ) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(level, tensor) -> per-instance (reads, fills, updates) of every kept tensor.
    `block_of` groups fanouts into multicast blocks (`ArchModel.multicast_blocks`)."""
    mapping = with_spatial_levels(mapping, block_of)
    nest = nest_of(mapping)
    nlevels = len(mapping.levels)
    ndims = len(problem.dims)
    spans = []
    for i in range(nlevels):
        span = [1] * ndims
        for loop in nest:
            if loop.level >= i:
                span[loop.dim] *= loop.factor
        spans.append(span)
    total_steps = math.prod(loop.factor for loop in nest if not loop.spatial)
    result: dict[tuple[str, str], tuple[int, int, int]] = {}
    for tensor in problem.tensors:
        tiles = [len(tile_box(tensor, [0] * ndims, spans[i])) for i in range(nlevels)]
        # Entries (fills before elision) of each level, as if every level kept the tensor.
        enter = []
        for i in range(nlevels):
            above = [loop for loop in nest if loop.level < i and not loop.spatial]
            state = StrideState()
            total = 0
            for indices, weight in extrapolated(above):
                tile = tile_box(tensor, base_of(ndims, above, indices), spans[i])
                total += weight * len(state.step(tile))
            enter.append(total)
        # Accesses into each level from its children with multicast (content, weighted).
        content: list[float] = []
        weighted: list[float] = []
        for j in range(nlevels):
            block = [loop for loop in nest if loop.spatial and loop.level == j]
            if j == nlevels - 1:
                points = set()
                for indices in itertools.product(*(range(loop.factor) for loop in block)):
                    op = base_of(ndims, block, indices)
                    points.add(tile_box(tensor, op, [1] * ndims))
                content.append(float(total_steps * len(points)))
                weighted.append(float(total_steps * max(1, math.prod(
                    loop.factor for loop in block))))
                continue
            above = [loop for loop in nest if loop.level <= j and not loop.spatial]
            states: dict[tuple[int, ...], StrideState] = {}
            served = 0.0
            weight_sum = 0.0
            for indices, weight in extrapolated(above):
                base = base_of(ndims, above, indices)
                groups: dict[frozenset[Point], int] = {}
                for child in itertools.product(*(range(loop.factor) for loop in block)):
                    offset = base_of(ndims, block, child)
                    child_base = [b + o for b, o in zip(base, offset, strict=True)]
                    tile = tile_box(tensor, child_base, spans[j + 1])
                    delta = states.setdefault(child, StrideState()).step(tile)
                    if delta:
                        groups[delta] = groups.get(delta, 0) + 1
                for delta, members in groups.items():
                    served += weight * len(delta)
                    weight_sum += weight * len(delta) * members
            content.append(served)
            weighted.append(weight_sum)
        # Partition sizes (ComputePartitionSizes).
        partition = [tiles[0]]
        for i in range(1, nlevels):
            block = [loop for loop in nest if loop.spatial and loop.level == i - 1]
            if block:
                union: set[Point] = set()
                for child in itertools.product(*(range(loop.factor) for loop in block)):
                    union |= tile_box(tensor, base_of(ndims, block, child), spans[i])
                lows = [min(p[a] for p in union) for a in range(len(tensor.axes))]
                highs = [max(p[a] for p in union) for a in range(len(tensor.axes))]
                box = math.prod(h - lo + 1 for lo, h in zip(lows, highs, strict=True))
                partition.append(partition[-1] * tiles[i] // box)
            else:
                partition.append(partition[-1])
        # MaskTiles: bypassed levels hand their children's accesses to the level above.
        kept = [tensor.name in level.keep for level in mapping.levels]
        content_now = list(content)
        for cur in range(nlevels - 1, 0, -1):
            if kept[cur]:
                continue
            outer = cur - 1
            fanout = max(1, math.prod(loop.factor for loop in nest
                                      if loop.spatial and loop.level == outer))
            factor = content_now[cur] * fanout / weighted[outer]
            content_now[outer] = content[outer] * factor
            weighted[outer] = weighted[outer] * factor
        keepers = [i for i in range(nlevels) if kept[i]]
        for position, i in enumerate(keepers):
            share = enter[i]
            served_here = round(content_now[i])
            if tensor.role == "output":
                reads = served_here - partition[i]
                updates = served_here
                fills = 0 if position == 0 else share - partition[i]
            else:
                reads, updates = served_here, 0
                fills = 0 if position == 0 else share
            result[(mapping.levels[i].name, tensor.name)] = (reads, fills, updates)
    return result
