"""The analytical cost model, scalar reference: `evaluate(problem, arch, mapping) -> Cost`.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch.resolve_accelerator) and a
`Mapping` IR (dslc.mapping; a written `MappingSpec` goes through `mapping_from_spec` first).
Out: a `Cost` with reads, fills and updates per level and tensor (per instance and total),
energy per level and tensor, cycles, utilisation and area. An invalid mapping raises
`InvalidMappingError` with every reason. Written for clarity, one mapping at a time;
dslc.cost.batched is its vectorised twin and must agree with it exactly. It does not
resolve accelerators, build mappings from specs nor search mappings.

Counting follows Timeloop (NVlabs/timeloop: loop-analysis/nest-analysis.cpp,
loop-analysis/tiling.cpp, model/buffer.cpp) with its default settings; docs/design/cost-model.md
derives each rule. In short, for a tensor t:

- Tiles. Level i's tile spans its temporal loops, the spatial loops below it and every loop
  of the levels below; its words are the bounding box of the tensor's projections.
- Entries E(i) (the words entering one instance of level i). Timeloop walks the temporal
  loops above i firing iterations #0 and #1 of each loop and extrapolating #1 to the rest,
  and keeps a tile's residue across a step only while the tile keeps moving by the same
  translation ("reset on stride change"): a changed translation refetches the whole tile.
  With loops j = 1..m above i (outer to inner, factor f_j > 1, translation t_j of the tile in
  the tensor's coordinates), this sums to
      E = A + sum_j (f_1 ... f_(j-1)) (f_j - 1) delta_j,
      delta_j = A - overlap(U_j) if U_j == t_m else A,   U_j = t_j - sum_(k>j) t_k,
  where A is the tile's words and overlap(U) the words a tile shares with itself moved by U.
  A 3-wide window slid 16 times enters 3 + 15 = 18 words; a tile whose loops do not index t
  stays (t_j = 0: stationarity).
- Multicast, per spatial level. Across the spatial loops of one fanout (its X and Y axes),
  children whose deltas are the same set are served by one parent access; the others
  (partial overlaps too) are served separately. D(b) = the number of distinct translations
  of the children of block b in the tensor's coordinates (diagonal sharing between X and Y
  of one mesh included). Each fanout is its own block, as each spatial level is in Timeloop:
  two fanouts below one memory (Q on one, S on the next) multiply their D's, and data equal
  only across both (q + s) is not shared, unless the inner fanout is `diagonal`, which puts
  it in the block of the fanout above. D(o) of a memory is the product over its blocks. For
  outputs the same rule is spatial reduction: partial sums of one output reduced across PEs
  count once.
- Served words. content(i) = E(c) x D(i) ... D(c-1) where c is the next level below that
  keeps t (bypass: the levels between pass the traffic through, multiplying the multicast of
  their fanouts), or T x D(i) ... D(last) when no level below keeps t, T being every temporal
  factor (the MACs need their operands at every step).
- Read-only tensors: reads(i) = content(i); fills(i) = E(i), zero at the outermost keeper.
- Outputs (read-modify-write, first-read elision): updates(i) = content(i);
  reads(i) = content(i) - P(i); fills(i) = E(i) - P(i), zero at the outermost keeper; P(i),
  the partition size, is the number of distinct outputs one instance touches:
  P(0) = the whole tensor; through each block b of the memory above, outermost first,
  P <- P x (words of a child's tile) // (words of the union of the children's tiles of b).

Energy per level and tensor = per instance (ceil(reads/block) E_read + ceil(fills/block)
E_write + ceil(updates/block) E_update) x utilised instances, plus leakage x cycles x
utilised instances per level (all instances if the level is not `power_gated`), plus MACs x
E_mac (+ MAC leakage on the MAC units used, or all of them). Cycles = max(T, per level
ceil(reads / read bandwidth), ceil((fills + updates) / write bandwidth)), per instance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from dslc.affine import linked_groups
from dslc.arch import ArchModel, LevelModel
from dslc.cost.result import ComputeCost, Cost, LevelCost, TensorCost, quantize_pj
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import Mapping, check_mapping, padded_bounds, tile_extents

BANDWIDTH_SLACK = 1 - 1e-12
"""Words / bandwidth is shrunk by this factor before rounding up, so that 12 / 0.1 (which is
120.00000000000001 in floating point) takes 120 cycles, not 121."""

CYCLE_CAP = 1 << 62
"""The most bandwidth-bound cycles the batched twin, the compiled kernel and the lower bounds
count (they count in int64): words over a bandwidth far below one word per cycle can pass
2^63, which a cast to int64 wraps to a negative count, and the mapper then took the slowest
mappings for the fastest. Past the cap a candidate ranks at the cap (behind every mapping
below it) and a bound stays a lower bound; `evaluate` (this module) counts exactly."""


class InvalidMappingError(CannotRunError):
    """The mapping cannot run; `reasons` says why, one human-readable line each."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("the mapping cannot run", reasons)


@dataclass(frozen=True, slots=True)
class NestLoop:
    """One loop of the flattened nest (outermost first): dim, factor, owning level, kind,
    and its step: how far one iteration moves the dim (the product of the factors of every
    loop of the same dim nested inside it)."""

    dim: int
    factor: int
    level: int
    spatial: bool
    step: int


@dataclass(frozen=True, slots=True)
class TensorCounts:
    """Per-instance counts of one tensor at one level."""

    reads: int
    fills: int
    updates: int
    tile_words: int
    distinct_words: int


def flatten(mapping: Mapping) -> tuple[NestLoop, ...]:
    """The mapping as one loop nest, outermost first: each level's temporal loops, then the
    spatial loops of the fanout(s) below it (Timeloop places them innermost in the level)."""
    raw = [(loop.dim, loop.factor, index, spatial)
           for index, level in enumerate(mapping.levels)
           for loops, spatial in ((level.temporal, False), (level.spatial, True))
           for loop in loops if loop.factor > 1]
    nest = []
    for position, (dim, factor, level, spatial) in enumerate(raw):
        step = math.prod(f for d, f, _, _ in raw[position + 1:] if d == dim)
        nest.append(NestLoop(dim, factor, level, spatial, step))
    return tuple(nest)


def translation(tensor: Tensor, dim: int, amount: int) -> tuple[int, ...]:
    """How far the tensor's tile moves, per tensor axis, when `dim` moves by `amount`."""
    return tuple(sum(coef * amount for d, coef in axis.terms if d == dim)
                 for axis in tensor.axes)


def entries(tensor: Tensor, extents: Sequence[int], above: Sequence[NestLoop]) -> int:
    """Words entering one instance's tile as the temporal loops `above` run (Timeloop's delta
    sum with temporal extrapolation and reset on stride change; see the module docstring)."""
    axis_extents = [axis.extent(tuple(extents)) for axis in tensor.axes]
    tile = math.prod(axis_extents)
    loops = [loop for loop in above if loop.factor > 1 and not loop.spatial]
    if not loops:
        return tile
    moves = [translation(tensor, loop.dim, loop.step) for loop in loops]
    innermost = moves[-1]
    total = tile
    iterations_before = 1
    for j, loop in enumerate(loops):
        inner = [sum(move[a] for move in moves[j + 1:]) for a in range(len(axis_extents))]
        jump = tuple(moves[j][a] - inner[a] for a in range(len(axis_extents)))
        if jump == innermost:
            shared = math.prod(max(0, extent - abs(shift))
                               for extent, shift in zip(axis_extents, jump, strict=True))
            delta = tile - shared
        else:
            delta = tile
        total += iterations_before * (loop.factor - 1) * delta
        iterations_before *= loop.factor
    return total


def distinct_children(tensor: Tensor, spatial: Sequence[NestLoop]) -> int:
    """How many distinct tiles (distinct translations) of the tensor the children of one
    block of spatial loops hold: the multicast (or spatial-reduction) divisor.

    The translations are the sums of one multiple of each loop's move; loops that move
    disjoint sets of tensor axes combine independently, so the count is the product, over
    groups of loops linked by a shared axis, of the distinct sums within the group (a
    128 x 128 array is then two sets of 128, not a set of 16,384)."""
    moving = []
    for loop in spatial:
        move = translation(tensor, loop.dim, loop.step)
        axes = {a for a, shift in enumerate(move) if shift}
        if axes:  # a loop that does not move the tensor: its children share one tile
            moving.append((axes, (move, loop.factor)))
    count = 1
    for axes, members in linked_groups(moving):
        order = sorted(axes)
        offsets = {tuple(0 for _ in order)}
        for move, factor in members:
            offsets = {tuple(o + i * move[a] for o, a in zip(offset, order, strict=True))
                       for offset in offsets for i in range(factor)}
        count *= len(offsets)
    return count


def first_touches(tensor: Tensor, extents: Sequence[Sequence[int]],
                  spatial_above: Sequence[int]) -> int:
    """At most how many distinct elements of `tensor` the operations of one instance of a
    level touch: per dim that indexes it, the dim's whole range (the outermost tile's
    extent) over the spatial factors above the level, multiplied. Exact when the tensor's
    projection is one-to-one (every built-in operator's output), an upper bound otherwise.
    Timeloop's partition size counts bounding-box words instead, which over-counts first
    touches when an output tile has gaps (a grouped convolution's channel axis G*k + K with
    K split, an einsum's O[2p]): the elided reads then exceed the touches, and Timeloop
    stops on its assertion content >= partition or under-counts the reads."""
    dims = sorted(tensor.dims())
    return math.prod(extents[0][d] // spatial_above[d] for d in dims)


def box_words(tensor: Tensor, extents: Sequence[int]) -> int:
    return math.prod(axis.extent(tuple(extents)) for axis in tensor.axes)


def multicast_blocks(nest: Sequence[NestLoop], mapping: Mapping,
                     block_of: dict[str, int] | None = None) -> list[list[list[NestLoop]]]:
    """Per level, its spatial loops (outermost first) grouped into multicast blocks: by
    default one block per fanout (Timeloop resolves multicast per spatial level);
    `block_of` maps fanout names to blocks (`ArchModel.multicast_blocks`: a diagonal fanout
    shares the block of the fanout above it)."""
    blocks: list[list[list[NestLoop]]] = [[] for _ in mapping.levels]
    for index, level in enumerate(mapping.levels):
        spatial = [loop for loop in nest if loop.spatial and loop.level == index]
        real = [loop for loop in level.spatial if loop.factor > 1]
        previous: object = None
        for loop, written in zip(spatial, real, strict=True):
            key = written.fanout if block_of is None else \
                block_of.get(written.fanout, written.fanout)
            if key != previous:
                blocks[index].append([])
                previous = key
            blocks[index][-1].append(loop)
    return blocks


def access_counts(problem: Problem, mapping: Mapping, block_of: dict[str, int] | None = None
                  ) -> tuple[tuple[dict[str, TensorCounts], ...], int]:
    """Per level (outermost first) the per-instance counts of each kept tensor, and the
    temporal iterations T (compute cycles). The mapping is assumed valid; `block_of` groups
    fanouts into multicast blocks (see `multicast_blocks`)."""
    nest = flatten(mapping)
    nlevels = len(mapping.levels)
    ndims = len(problem.dims)
    extents = tile_extents(mapping, ndims)
    steps_total = math.prod(loop.factor for loop in nest if not loop.spatial)
    blocks = multicast_blocks(nest, mapping, block_of)
    counts: list[dict[str, TensorCounts]] = [{} for _ in range(nlevels)]
    spatial_above = [[math.prod(loop.factor for loop in nest
                                if loop.spatial and loop.level < i and loop.dim == d)
                      for d in range(ndims)] for i in range(nlevels)]
    for tensor in problem.tensors:
        keepers = [i for i, level in enumerate(mapping.levels) if tensor.name in level.keep]
        tiles = [box_words(tensor, extents[i]) for i in range(nlevels)]
        enter = [entries(tensor, extents[i],
                         [loop for loop in nest if loop.level < i and not loop.spatial])
                 for i in range(nlevels)]
        # Each block multiplies what passes it by its distinct children; blocks below one
        # memory multiply (as Timeloop's spatial levels with a bypassed level between do).
        multicast = [math.prod(distinct_children(tensor, block) for block in blocks[o])
                     for o in range(nlevels)]
        partition = [tiles[0]]
        for i in range(1, nlevels):
            # Timeloop's chain: through each block of the level above, P x (a child's tile)
            # // (the union of the children's tiles), rounded down at every block.
            share = partition[-1]
            child = list(extents[i])
            inner: list[list[int]] = []
            for block in reversed(blocks[i - 1]):
                inner.append(list(child))
                for loop in block:
                    child[loop.dim] *= loop.factor
            for block, below in zip(blocks[i - 1], reversed(inner), strict=True):
                union = list(below)
                for loop in block:
                    union[loop.dim] *= loop.factor
                share = share * box_words(tensor, below) // box_words(tensor, union)
            partition.append(share)
        is_output = tensor.role == "output"
        for position, i in enumerate(keepers):
            child_keeper = keepers[position + 1] if position + 1 < len(keepers) else None
            if child_keeper is None:
                served = steps_total * math.prod(multicast[i:])
            else:
                served = enter[child_keeper] * math.prod(multicast[i:child_keeper])
            fills = 0 if position == 0 else enter[i]
            if is_output:
                # First-read elision: the outputs arriving at an instance for the first time
                # are at most those its operations touch, however many words the partition's
                # bounding boxes count (see first_touches); a partition inflated by gaps
                # elides every fill, never more.
                reads = served - min(partition[i], first_touches(tensor, extents,
                                                                 spatial_above[i]))
                updates = served
                if position > 0:
                    fills = max(0, fills - partition[i])
            else:
                reads, updates = served, 0
            counts[i][tensor.name] = TensorCounts(reads, fills, updates, tiles[i], partition[i])
    return tuple(counts), steps_total


def bandwidth_cycles(words: int, bandwidth: float | None) -> int:
    """Cycles to move `words` at `bandwidth` words per cycle (0 when unlimited)."""
    if bandwidth is None or words == 0:
        return 0
    return math.ceil(words / bandwidth * BANDWIDTH_SLACK)


def level_cycles(level: LevelModel, reads: int, writes: int) -> int:
    """Bandwidth-bound cycles of one instance of a level (Timeloop's per-level slowdown)."""
    if level.shared_bandwidth:
        shared = level.read_bandwidth_words if level.read_bandwidth_words is not None \
            else level.write_bandwidth_words
        return bandwidth_cycles(reads + writes, shared)
    return max(bandwidth_cycles(reads, level.read_bandwidth_words),
               bandwidth_cycles(writes, level.write_bandwidth_words))


def access_energy_pj(level: LevelModel, counts: TensorCounts) -> float:
    """Energy of one instance's accesses: each action rounded up to whole block accesses."""
    block = level.block_words
    return (math.ceil(counts.reads / block) * level.read_energy_pj
            + math.ceil(counts.fills / block) * level.write_energy_pj
            + math.ceil(counts.updates / block) * level.update_energy_pj)


def padded_problem(problem: Problem, mapping: Mapping) -> Problem:
    """The problem an (imperfect) mapping runs: its bounds raised to the factor products."""
    bounds = padded_bounds(mapping, problem)
    if bounds == problem.bounds:
        return problem
    return dataclasses.replace(problem, bounds=bounds, key="")


def evaluate(problem: Problem, arch: ArchModel, mapping: Mapping, *,
             check: bool = True) -> Cost:
    """The cost of one mapping. Raises InvalidMappingError (a CannotRunError) when `check`
    finds the mapping invalid; with check=False an invalid mapping is counted as if it ran."""
    if check:
        reasons = check_mapping(mapping, problem, arch)
        if reasons:
            raise InvalidMappingError(reasons)
    # An imperfect mapping runs the padded problem: padded iterations take cycles, move
    # padded data and spend MAC energy; only the real MACs count as useful (utilisation).
    run = padded_problem(problem, mapping)
    block_of = {arch.fanouts[f].name: b for b, block in enumerate(arch.multicast_blocks)
                for f in block}
    counts, compute_cycles = access_counts(run, mapping, block_of)
    nest = flatten(mapping)
    utilized = [math.prod(loop.factor for loop in nest if loop.spatial and loop.level < i)
                for i in range(len(mapping.levels))]
    mac_units_used = math.prod(loop.factor for loop in nest if loop.spatial)
    cycles = compute_cycles
    for level, level_counts in zip(arch.levels, counts, strict=True):
        reads = sum(c.reads for c in level_counts.values())
        writes = sum(c.fills + c.updates for c in level_counts.values())
        cycles = max(cycles, level_cycles(level, reads, writes))
    levels = []
    for level, level_counts, used in zip(arch.levels, counts, utilized, strict=True):
        tensors = []
        for tensor in problem.tensors:
            found = level_counts.get(tensor.name)
            if found is None:
                continue
            tensors.append(TensorCost(
                tensor.name, found.reads, found.fills, found.updates,
                found.reads * used, found.fills * used, found.updates * used,
                found.tile_words, found.distinct_words,
                quantize_pj(access_energy_pj(level, found) * used)))
        access = sum(t.energy_pj for t in tensors)
        # Timeloop charges leakage on the utilised instances; idle ones are power gated
        # unless the level says otherwise.
        leaking = used if level.power_gated else level.instances
        leakage = quantize_pj(level.leakage_pj_per_cycle * cycles * leaking)
        reads = sum(c.reads for c in level_counts.values())
        writes = sum(c.fills + c.updates for c in level_counts.values())
        levels.append(LevelCost(
            level.name, level.instances, used, tuple(tensors), access, leakage,
            access + leakage, level_cycles(level, reads, writes), level.size_words,
            sum(t.tile_words for t in tensors) * level.buffering,
            level.area_um2 * level.instances))
    compute = arch.compute
    mac_energy = quantize_pj(run.macs * compute.energy_pj)
    mac_leaking = mac_units_used if compute.power_gated else compute.instances
    mac_leakage = quantize_pj(compute.leakage_pj_per_cycle * cycles * mac_leaking)
    compute_cost = ComputeCost(compute.name, compute.instances, mac_units_used, run.macs,
                               compute.energy_pj, mac_energy, mac_leakage,
                               mac_energy + mac_leakage, compute.area_um2 * compute.instances)
    energy = sum(level.energy_pj for level in levels) + compute_cost.energy_pj
    area_um2 = sum(level.area_um2 for level in levels) + compute_cost.area_um2
    return Cost(
        layer=problem.name, accelerator=arch.name, macs=problem.macs,
        compute_cycles=compute_cycles, cycles=cycles, clock_hz=arch.clock_hz,
        utilization=problem.macs / (cycles * compute.instances),
        energy_pj=energy, levels=tuple(levels), compute=compute_cost, area_mm2=area_um2 / 1e6)
