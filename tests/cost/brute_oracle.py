"""An independent brute-force oracle for the cost model's access counts.

It does not import dslc's cost model (dslc.cost). It runs a mapping's loop nest the way
Timeloop's nest analysis does, loop by loop from the outermost, on explicit point sets, and
post-processes the per-level access statistics the way Timeloop's tiling does. Read from
NVlabs/timeloop (to learn, not copied): src/loop-analysis/nest-analysis.cpp (ComputeDeltas,
ComputeTemporalWorkingSet, FillSpatialDeltas, ComputeAccurateMulticastedAccesses,
CollectWorkingSets, InitPerLevelDimScales), src/workload/shape-models/operation-space.cpp
(SaveAndSubtractIfSameStride), src/loop-analysis/tiling.cpp (CollapseDataMovementNest,
ComputePartitionSizes, ComputeParentAccessShare, MaskTiles, ProcessOuterMaskedLevels,
ResetBackingStorageFillsPlaceHolder, ComputeReadUpdateReductionAccesses_Legacy) and
nest-analysis-tile-info.cpp (WeightedAccesses).

What it models, per memory level and tensor:

- The nest: per storage level, its temporal loops (outer to inner) then its spatial loops.
  A memory with several fanouts below it (dslc's Eyeriss-style columns, then PEs) is, as a
  Timeloop user writes it, one storage level per multicast block, the extra ones keeping
  nothing (`ArchModel.multicast_blocks` groups a `diagonal` fanout with the one above).
  Every storage level gets a factor-1 temporal loop on top, as Timeloop's nests always
  have one loop per dim per level: it is the level's storage boundary.
- Temporal loops: `mode="timeloop"` fires iterations #0 (weight 1) and #1 (weight f - 1)
  of each loop, as Timeloop's temporal extrapolation (its default) does; `mode="exact"`
  runs every iteration (TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION): the literal walk.
- A storage boundary's tile is the bounding box (per tensor axis, min..max of the axis'
  affine form) of the operation-space box its loops span; its delta against the previous
  visit of the same instance is kept only while the tile keeps moving by the same
  translation (reset on stride change), else the whole tile is the delta.
- Spatial loops: every child is run; children whose deltas are equal point sets are served
  by one parent access (multicast, and spatial reduction for outputs). Below the innermost
  memory the children are MAC operations (their data points). Link transfers are not
  modelled (TIMELOOP_DISABLE_LINK_TRANSFERS).
- Post-processing per tensor: partition sizes (the master spatial tile as the denominator),
  parent access share (fills), masking of bypassed levels (their children's accesses
  promoted to the next kept level above, rescaled), no fills at the backing store, and the
  legacy read/update split with first-read elision for outputs. One deliberate departure,
  dslc's: at every keeper of an output the elided first reads are at most the distinct
  output points one instance's operations touch (counted here by enumeration), and fills
  never go below zero. Timeloop subtracts its bounding-box partition from both, which
  over-counts first touches when an output tile has gaps (a grouped convolution's G*k + K
  with K split, an einsum's O[2p]): it then asserts or under-counts.

Counts are per instance of a level (Timeloop averages over instances; the oracle checks
they are uniform).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from dslc.arch import ArchModel
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import Mapping

Point = tuple[int, ...]
PointSet = frozenset[Point]


@dataclass(frozen=True)
class OLoop:
    dim: int
    factor: int
    spatial: bool
    storage: int  # index of the (Timeloop) storage level that owns the loop


@dataclass
class StorageLevel:
    name: str
    keep: frozenset[str]
    temporal: list[tuple[int, int]]  # (dim, factor) outer to inner
    spatial: list[tuple[int, int]]  # (dim, factor)
    memory: int | None  # dslc memory index, None for a block's keep-nothing level


@dataclass
class Stats:
    """Access statistics recorded at one storage level, per instance key:
    multicast factor -> accesses (a Fraction: weights can be extrapolated)."""

    per_instance: dict[tuple[int, ...], dict[int, Fraction]] = field(default_factory=dict)

    def add(self, key: tuple[int, ...], multicast: int, amount: Fraction) -> None:
        bucket = self.per_instance.setdefault(key, {})
        bucket[multicast] = bucket.get(multicast, Fraction(0)) + amount


@dataclass
class OracleResult:
    counts: dict[tuple[str, str], tuple[int, int, int]]
    """(memory name, tensor name) -> per-instance (reads, fills, updates), kept tensors."""
    compute_cycles: int
    distinct: dict[tuple[int, str], int]
    """(storage level index, tensor) -> distinct deltas served per parent access group
    (the multicast / spatial-reduction divisor observed), for the record."""


def storage_levels(mapping: Mapping, arch: ArchModel) -> list[StorageLevel]:
    block_of: dict[str, int] = {}
    for b, block in enumerate(arch.multicast_blocks):
        for f in block:
            block_of[arch.fanouts[f].name] = b
    levels: list[StorageLevel] = []
    for index, level in enumerate(mapping.levels):
        groups: list[list[tuple[int, int]]] = []
        previous: int | None = None
        for loop in level.spatial:
            if loop.factor == 1:
                continue
            block = block_of[loop.fanout]
            if block != previous:
                groups.append([])
                previous = block
            groups[-1].append((loop.dim, loop.factor))
        levels.append(StorageLevel(level.name, level.keep,
                                   [(lp.dim, lp.factor) for lp in level.temporal
                                    if lp.factor > 1],
                                   groups[0] if groups else [], index))
        for n, group in enumerate(groups[1:]):
            levels.append(StorageLevel(f"{level.name}#{n}", frozenset(), [], group, None))
    return levels


def axis_range(terms: Sequence[tuple[int, int]], low: Sequence[int],
               span: Sequence[int]) -> range:
    lo = hi = 0
    for d, c in terms:
        a, b = c * low[d], c * (low[d] + span[d] - 1)
        lo += min(a, b)
        hi += max(a, b)
    return range(lo, hi + 1)


def box(tensor: Tensor, low: Sequence[int], span: Sequence[int]) -> PointSet:
    """The tensor's AAHR (bounding box) of the operation-space box [low, low + span)."""
    return frozenset(itertools.product(*(axis_range(a.terms, low, span)
                                         for a in tensor.axes)))


def point_of(tensor: Tensor, op: Sequence[int]) -> Point:
    return tuple(sum(c * op[d] for d, c in a.terms) for a in tensor.axes)


class Walker:
    def __init__(self, problem: Problem, levels: list[StorageLevel], mode: str) -> None:
        self.problem = problem
        self.tensors = problem.tensors
        self.levels = levels
        self.mode = mode
        ndims = len(problem.dims)
        self.ndims = ndims
        # Flatten outermost first: per storage level a factor-1 boundary loop, its
        # temporal loops, its spatial loops.
        self.nest: list[OLoop] = []
        self.boundary: list[int] = []  # nest index of each storage level's boundary loop
        for s, level in enumerate(levels):
            self.boundary.append(len(self.nest))
            self.nest.append(OLoop(0, 1, False, s))
            self.nest += [OLoop(d, f, False, s) for d, f in level.temporal]
            self.nest += [OLoop(d, f, True, s) for d, f in level.spatial]
        n = len(self.nest)
        # Step of each loop (Timeloop's vector stride) and span of the tile at each loop.
        self.step = [math.prod(lp.factor for lp in self.nest[k + 1:] if lp.dim == loop.dim)
                     for k, loop in enumerate(self.nest)]
        self.span = []
        for k in range(n):
            span = [1] * ndims
            for lp in self.nest[k:]:
                span[lp.dim] *= lp.factor
            self.span.append(span)
        self.stats = [[Stats() for _ in self.tensors] for _ in levels]
        self.state: dict[tuple[int, tuple[int, ...], int], tuple[PointSet, Point | None,
                                                               bool]] = {}
        self.groups_seen: dict[tuple[int, str], set[int]] = {}
        self.macs = Fraction(0)
        self.tile_size = [[0] * len(self.tensors) for _ in levels]
        self.master_size = [[0] * len(self.tensors) for _ in levels]
        self.spatial_fanout = [math.prod(f for _, f in level.spatial) for level in levels]

    def touched_points(self, s: int, t: int) -> int:
        """Distinct points of tensor t the operations of instance 0 of storage level s touch
        (every loop run in full but the spatial loops above s, fixed at 0)."""
        tensor = self.tensors[t]
        values: list[set[int]] = [{0} for _ in range(self.ndims)]
        for k, loop in enumerate(self.nest):
            if loop.spatial and loop.storage < s:
                continue
            values[loop.dim] = {v + i * self.step[k] for v in values[loop.dim]
                                for i in range(loop.factor)}
        dims = sorted({d for a in tensor.axes for d, _ in a.terms})
        points = set()
        for chosen in itertools.product(*(sorted(values[d]) for d in dims)):
            op = [0] * self.ndims
            for d, v in zip(dims, chosen, strict=True):
                op[d] = v
            points.add(point_of(tensor, op))
        return len(points)

    def iterations(self, factor: int) -> list[tuple[int, Fraction]]:
        if self.mode == "exact" or factor == 1:
            return [(i, Fraction(1)) for i in range(factor)]
        return [(0, Fraction(1)), (1, Fraction(factor - 1))]

    def run(self) -> None:
        self.visit(0, [0] * self.ndims, (), Fraction(1))

    def tile(self, k: int, base: Sequence[int], t: int) -> PointSet:
        return box(self.tensors[t], base, self.span[k])

    def boundary_delta(self, k: int, base: list[int], key: tuple[int, ...]
                       ) -> list[PointSet]:
        """Delta of each tensor's tile at storage boundary loop k for instance `key`."""
        s = self.nest[k].storage
        deltas = []
        for t in range(len(self.tensors)):
            tile = self.tile(k, base, t)
            self.tile_size[s][t] = max(self.tile_size[s][t], len(tile))
            last, translation, _ = self.state.get((k, key, t), (frozenset(), None, False))
            moved: Point | None = None
            if last:
                moved = tuple(a - b for a, b in zip(min(tile), min(last), strict=True))
            if translation is None:
                delta = tile - last
                self.state[(k, key, t)] = (tile, moved, True)
            elif moved == translation:
                delta = tile - last
                self.state[(k, key, t)] = (tile, translation, True)
            else:
                delta = tile
                self.state[(k, key, t)] = (tile, None, True)
            deltas.append(delta)
        return deltas

    def visit(self, k: int, base: list[int], key: tuple[int, ...], weight: Fraction
              ) -> list[PointSet] | None:
        """Run loop k (and everything inside it) at `base`; return the deltas when k is a
        storage boundary."""
        loop = self.nest[k]
        s = loop.storage
        if k == self.boundary[s]:
            # Entering a storage level: first run what is inside, then take the delta.
            self.run_inside(k, base, key, weight)
            return self.boundary_delta(k, base, key)
        self.run_inside(k, base, key, weight)
        return None

    def run_inside(self, k: int, base: list[int], key: tuple[int, ...],
                   weight: Fraction) -> None:
        loop = self.nest[k]
        s = loop.storage
        last = k == len(self.nest) - 1
        if loop.spatial:
            if self.nest[k - 1].spatial:
                return  # handled by the first spatial loop of the group
            group = [j for j in range(k, len(self.nest))
                     if self.nest[j].spatial and self.nest[j].storage == s]
            end = group[-1] + 1
            master = self.span[k]
            for t, tensor in enumerate(self.tensors):
                self.master_size[s][t] = max(self.master_size[s][t],
                                             len(box(tensor, base, master)))
            children: list[list[PointSet]] = []
            for idx in itertools.product(*(range(self.nest[j].factor) for j in group)):
                child = list(base)
                for j, i in zip(group, idx, strict=True):
                    child[self.nest[j].dim] += i * self.step[j]
                if end == len(self.nest):
                    children.append([frozenset([point_of(tensor, child)])
                                     for tensor in self.tensors])
                    self.macs += weight
                else:
                    deltas = self.visit(end, child, (*key, *idx), weight)
                    assert deltas is not None
                    children.append(deltas)
            self.record(s, key, children, weight)
            return
        # Temporal loop.
        inner_is_child_boundary = not last and self.nest[k + 1].storage != s
        inner_is_group = not last and self.nest[k + 1].spatial
        for i, w in self.iterations(loop.factor):
            child = list(base)
            child[loop.dim] += i * self.step[k]
            if last:
                self.macs += weight * w
                self.record(s, key, [[frozenset([point_of(tensor, child)])
                                      for tensor in self.tensors]], weight * w)
            elif inner_is_child_boundary:
                deltas = self.visit(k + 1, child, key, weight * w)
                assert deltas is not None
                self.record(s, key, [deltas], weight * w)
            elif inner_is_group:
                self.run_inside(k + 1, child, key, weight * w)
            else:
                self.visit(k + 1, child, key, weight * w)

    def record(self, s: int, key: tuple[int, ...], children: list[list[PointSet]],
               weight: Fraction) -> None:
        for t, tensor in enumerate(self.tensors):
            self.stats[s][t].per_instance.setdefault(key, {})
            groups: dict[PointSet, int] = {}
            for deltas in children:
                if deltas[t]:
                    groups[deltas[t]] = groups.get(deltas[t], 0) + 1
            for delta, members in groups.items():
                self.stats[s][t].add(key, members, weight * len(delta))
            self.groups_seen.setdefault((s, tensor.name), set()).add(len(groups))


def oracle_counts(problem: Problem, arch: ArchModel, mapping: Mapping,
                  mode: str = "timeloop") -> OracleResult:
    levels = storage_levels(mapping, arch)
    walker = Walker(problem, levels, mode)
    walker.run()
    nlev = len(levels)
    counts: dict[tuple[str, str], tuple[int, int, int]] = {}
    for t, tensor in enumerate(problem.tensors):
        size = [walker.tile_size[s][t] for s in range(nlev)]
        # Per-instance access statistics (multicast -> accesses), averaged over instances.
        stats: list[dict[int, Fraction]] = []
        for s in range(nlev):
            per = walker.stats[s][t].per_instance
            merged: dict[int, Fraction] = {}
            for bucket in per.values():
                for m, a in bucket.items():
                    merged[m] = merged.get(m, Fraction(0)) + a
            totals = {tuple(sorted((m, a) for m, a in b.items() if a)) for b in per.values()}
            assert len(totals) <= 1, f"non-uniform instances at {levels[s].name}"
            stats.append({m: a / len(per) for m, a in merged.items()} if per else {})
        fanout = walker.spatial_fanout
        # Partition sizes: outermost holds the tensor; inward, x size // denominator where
        # the denominator is the parent's master spatial tile when it has spatial loops.
        partition = [0] * nlev
        partition[0] = size[0]
        for s in range(1, nlev):
            denom = walker.master_size[s - 1][t] if levels[s - 1].spatial else size[s]
            partition[s] = partition[s - 1] * size[s] // denom
        content = [sum(st.values(), Fraction(0)) for st in stats]
        # Parent access share (before masking): from the next level out.
        share = [Fraction(0)] * nlev
        for s in range(1, nlev):
            share[s] = sum((a * m for m, a in stats[s - 1].items()), Fraction(0)) / \
                max(1, fanout[s - 1])
        # Masking, innermost first.
        kept = [tensor.name in level.keep for level in levels]
        alive = [True] * nlev
        for s in range(nlev - 1, -1, -1):
            if kept[s]:
                continue
            outer = s - 1
            while outer >= 0 and not alive[outer]:
                outer -= 1
            if outer < 0:
                alive[s] = False
                break
            weighted = sum((a * m for m, a in stats[outer].items()), Fraction(0))
            factor = content[s] * max(1, fanout[outer]) / weighted if weighted else Fraction(0)
            stats[outer] = {m: a * factor for m, a in stats[outer].items()}
            content[outer] = sum(stats[outer].values(), Fraction(0))
            alive[s] = False
        # Outermost masked levels: reset; the first unmasked one has no parent share.
        for s in range(nlev):
            if not kept[s]:
                alive[s] = False
                continue
            share[s] = Fraction(0)
            break
        outermost_alive = next(s for s in range(nlev) if alive[s] and kept[s])
        for s in range(nlev):
            if not (alive[s] and kept[s]):
                continue
            served = content[s]
            if tensor.role == "output":
                updates = round(served)
                # dslc's rule where Timeloop's bounding-box partition over-counts first
                # touches (gapped output tiles): the first reads elided are at most the
                # distinct points the instance's operations touch (enumerated here), and
                # the first fills elided at most every fill.
                reads = round(served - min(partition[s], walker.touched_points(s, t)))
                fills = max(0, round(share[s] - partition[s]))
            else:
                reads = round(served)
                updates = 0
                fills = share[s]
            if s == outermost_alive:
                fills = 0
            assert Fraction(fills).denominator == 1, (levels[s].name, tensor.name, fills)
            memory = levels[s].memory
            assert memory is not None
            counts[(mapping.levels[memory].name, tensor.name)] = (int(reads), int(fills),
                                                                  int(updates))
    assert walker.macs.denominator == 1
    distinct = {(s, name): max(seen) for (s, name), seen in walker.groups_seen.items()}
    compute = math.prod(f for level in levels for _, f in level.temporal)
    return OracleResult(counts, compute, distinct)
