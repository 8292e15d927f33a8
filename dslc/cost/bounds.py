"""Lower bounds on a layer's energy and cycles on accelerators, without mapping the layer.

In: a `Problem`, resolved accelerators gathered into an `ArchTable` (one row per accelerator,
levels padded), and whether the map space allows imperfect factorisations. Out:
`LayerBounds`: per accelerator, an energy in pJ and a cycle count that no mapping of the
layer in the mapper's map space (dslc.mapper.space) can beat under the cost model's counting
rules (dslc.cost.model). The co-design
planner sums them over a network's layers to bound a pair without evaluating it; `dslc run`
reports each layer's distance from them. docs/design/bounds.md derives every term.

In short, with MACs the layer's multiply-accumulates, S the spatial factors of a mapping and
D(t) the distinct data of tensor t across the spatial instances:

- MACs: every MAC costs its energy (an imperfect mapping pads: more, never fewer).
- Each tensor has a backing store, the outermost level keeping it, which holds all of it:
  its distinct words are read there (written, for outputs) at least once. The mapper's map
  space keeps at the outermost memory every tensor that memory may hold, so that memory is
  the store of those; any other tensor's store is a level that may hold its role and has
  room for the whole tensor (the tensors a level backs must fit in it together).
- Each MAC gets its operands from, and sends its partial sum to, the innermost level keeping
  that tensor; that level serves T x D(below) words per instance, MACs x D(t) / S in all,
  where S / D(t) (the multicast, or spatial reduction, of t) is at most what the fanouts
  below that level can unroll of the dims t ignores. If that level is not the backing store,
  every word also enters it once.
- Leakage: every cycle, a power-gated level leaks on the instances a mapping uses (at
  least one, and at least MACs / (the parallelism below it) instance-cycles), a level that
  is not on every instance.
- Cycles: at least MACs over the largest spatial unrolling the meshes and dataflows allow,
  and at least a backing store's compulsory words over its bandwidth when only one level
  can back the tensor.

Each term is a minimum over the choices a mapping could make (which level backs a tensor,
which serves it), taken per tensor: the bound is valid for every mapping, not tight for every
layer; `benchmarks/bench_bounds.py` measures how tight it is. Everything is computed with
numpy over all accelerators at once, one layer at a time. It does not search mappings.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dslc.affine import axis_values, linked_groups
from dslc.arch import ArchModel, FanoutModel
from dslc.cost.model import CYCLE_CAP
from dslc.cost.result import ENERGY_QUANTUM_PJ
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.check import allowed_dims
from dslc.mapping.factors import divisors
from dslc.spec.accelerator import DataflowSpec

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ROLES = ("input", "weight", "output")
SLACK = 1 - 1e-9
"""Real-valued quotients are shrunk by this before rounding up to whole cycles, so that
floating-point error never lifts a bound above an exact count."""


@dataclass(frozen=True, slots=True)
class FanoutShape:
    """What a fanout contributes to a bound: where it sits, its mesh and its dataflow."""

    owner: int
    """The memory level directly above it."""
    mesh_x: int
    mesh_y: int
    dataflow: DataflowSpec


@dataclass(frozen=True, slots=True)
class ArchTable:
    """Accelerators as arrays: row a is `archs[a]`, level columns padded to the deepest.
    Energies are per word (a block access shares its energy among its words)."""

    archs: tuple[ArchModel, ...]
    valid: BoolArray
    """[A, L] the level exists."""
    read_pj: FloatArray
    write_pj: FloatArray
    update_pj: FloatArray
    size_words: FloatArray
    """[A, L] capacity divided by the buffering (inf: unbounded)."""
    instances: FloatArray
    holds: BoolArray
    """[A, L, 3] the level may keep a tensor of role ROLES[r]."""
    read_bw: FloatArray
    """[A, L] words per cycle per instance (inf: unlimited)."""
    write_bw: FloatArray
    shared_bw: BoolArray
    mac_pj: FloatArray
    leak_pj_per_cycle: FloatArray
    """[A, L] leakage of one instance of the level per cycle (0: none or no level)."""
    leak_gated: BoolArray
    """[A, L] the level is power gated: it leaks on the instances a mapping uses only."""
    mac_leak_pj_per_cycle: FloatArray
    """[A] leakage of one MAC unit per cycle."""
    mac_gated: BoolArray
    """[A] the MAC units are power gated."""
    mac_instances: FloatArray
    """[A] MAC units."""
    fanouts: tuple[tuple[FanoutShape, ...], ...]
    """Distinct fanout arrangements; `fanout_index[a]` is accelerator a's."""
    fanout_index: IntArray

    def __len__(self) -> int:
        return len(self.archs)


def arch_table(archs: Sequence[ArchModel]) -> ArchTable:
    """The accelerators' figures as arrays (one Python step per accelerator, done once)."""
    count = len(archs)
    depth = max((len(arch.levels) for arch in archs), default=1)
    shape = (count, depth)
    valid = np.zeros(shape, dtype=bool)
    read, write, update = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    size = np.full(shape, np.inf)
    instances = np.ones(shape)
    holds = np.zeros((*shape, len(ROLES)), dtype=bool)
    read_bw, write_bw = np.full(shape, np.inf), np.full(shape, np.inf)
    shared = np.zeros(shape, dtype=bool)
    mac_pj, leak, gated = np.zeros(count), np.zeros(shape), np.ones(shape, dtype=bool)
    mac_leak, mac_gated, mac_units = np.zeros(count), np.ones(count, dtype=bool), \
        np.ones(count)
    arrangements: dict[tuple[FanoutShape, ...], int] = {}
    fanout_index = np.zeros(count, dtype=np.int64)
    for a, arch in enumerate(archs):
        for i, level in enumerate(arch.levels):
            valid[a, i] = True
            read[a, i] = level.read_energy_pj / level.block_words
            write[a, i] = level.write_energy_pj / level.block_words
            update[a, i] = level.update_energy_pj / level.block_words
            if level.size_words is not None:
                size[a, i] = level.size_words / level.buffering
            instances[a, i] = level.instances
            for r, role in enumerate(ROLES):
                holds[a, i, r] = role in level.holds
            if level.read_bandwidth_words is not None:
                read_bw[a, i] = level.read_bandwidth_words
            if level.write_bandwidth_words is not None:
                write_bw[a, i] = level.write_bandwidth_words
            shared[a, i] = level.shared_bandwidth
            leak[a, i] = level.leakage_pj_per_cycle
            gated[a, i] = level.power_gated
        mac_pj[a] = arch.compute.energy_pj
        mac_leak[a] = arch.compute.leakage_pj_per_cycle
        mac_gated[a] = arch.compute.power_gated
        mac_units[a] = arch.compute.instances
        key = tuple(_shape(f) for f in arch.fanouts)
        fanout_index[a] = arrangements.setdefault(key, len(arrangements))
    for array in (read, write, update, size, instances, read_bw, write_bw, mac_pj, leak,
                  gated, mac_leak, mac_gated, mac_units):
        array.setflags(write=False)
    return ArchTable(tuple(archs), valid, read, write, update, size, instances, holds,
                     read_bw, write_bw, shared, mac_pj, leak, gated, mac_leak, mac_gated,
                     mac_units, tuple(arrangements), fanout_index)


def _shape(fanout: FanoutModel) -> FanoutShape:
    return FanoutShape(fanout.owner, fanout.mesh_x, fanout.mesh_y, fanout.dataflow)


@dataclass(frozen=True, slots=True)
class LayerBounds:
    """Per accelerator of an `ArchTable`: what no valid mapping of the layer beats."""

    energy_pj: FloatArray
    cycles: IntArray
    compute_cycles: IntArray
    """The compute part of `cycles`: MACs over the largest spatial unrolling."""


# ---- spatial unrolling: what the meshes and dataflows allow -------------------------------


@lru_cache(maxsize=1 << 16)
def _axis_parallelism(mesh: int, bounds: tuple[int, ...], imperfect: bool) -> int:
    """The largest product of spatial factors of these dims on one mesh axis of `mesh`
    instances: factors dividing the bounds (perfect mappings) or any up to them."""
    if imperfect:
        return min(mesh, math.prod(bounds))
    products = {1}
    for bound in bounds:
        products = {p * d for p in products for d in divisors(bound) if p * d <= mesh}
    return max(products)


def _axis_dims(fanout: FanoutShape, problem: Problem) -> tuple[frozenset[int], frozenset[int]]:
    """Dim indices the dataflow lets X and Y unroll."""
    every = frozenset(range(len(problem.dims)))
    x, y = (every if names is None else frozenset(problem.dims.index(n) for n in names
                                                  if n in problem.dims)
            for names in allowed_dims(fanout.dataflow, problem))
    return x, y


def _sharing_dims(problem: Problem, tensor: Tensor) -> tuple[frozenset[int], int]:
    """Dims across which instances can share a tensor's data, and the most sharing they
    allow: the dims that do not index it (fully), and the dims of its sliding-window axes
    (`p + r`: instances at equal sums share), which give at most the product of all but the
    largest bound of the axis."""
    bounds = problem.bounds
    relevant = tensor.dims()
    free = frozenset(range(len(bounds))) - relevant
    limit = math.prod(bounds[d] for d in free)
    window: set[int] = set()
    for axis in tensor.axes:
        if len(axis.terms) > 1:
            dims = [d for d, _ in axis.terms]
            window.update(dims)
            sizes = sorted(bounds[d] for d in dims)
            limit *= math.prod(sizes[:-1])
    return free | frozenset(window), limit


@dataclass(frozen=True, slots=True)
class _Unrolling:
    """For one fanout arrangement and one problem: the largest spatial unrolling below each
    memory level, and the most a tensor can be shared (multicast, or reduced) below it."""

    parallelism: tuple[int, ...]
    """[level] the most instances the fanouts below the level can occupy; [0] is every
    fanout (the compute parallelism)."""
    sharing: tuple[tuple[float, ...], ...]
    """[level][tensor] the largest S / D(t) below the level."""


def _unrolling(problem: Problem, fanouts: tuple[FanoutShape, ...], levels: int,
               imperfect: bool) -> _Unrolling:
    bounds = problem.bounds
    axes: list[tuple[int, int, frozenset[int]]] = []  # (owner, mesh, dims)
    for fanout in fanouts:
        x, y = _axis_dims(fanout, problem)
        axes += [(fanout.owner, fanout.mesh_x, x), (fanout.owner, fanout.mesh_y, y)]
    sharing_of = [_sharing_dims(problem, t) for t in problem.tensors]
    parallelism: list[int] = []
    sharing: list[tuple[float, ...]] = []
    for level in range(levels):
        below = [(mesh, dims) for owner, mesh, dims in axes if owner >= level]
        reachable = frozenset().union(*(dims for _, dims in below)) if below else frozenset()
        per_axis = math.prod(_axis_parallelism(mesh, tuple(bounds[d] for d in sorted(dims)),
                                               imperfect) for mesh, dims in below)
        # Dims shared by two axes count once: the whole unrolling divides their bounds.
        level_parallelism = min(per_axis, math.prod(bounds[d] for d in reachable))
        parallelism.append(level_parallelism)
        shares = []
        for dims, limit in sharing_of:
            per_axis_share = math.prod(
                _axis_parallelism(mesh, tuple(bounds[d] for d in sorted(axis & dims)),
                                  imperfect) for mesh, axis in below)
            shares.append(float(min(per_axis_share, limit, level_parallelism)))
        sharing.append(tuple(shares))
    return _Unrolling(tuple(parallelism), tuple(sharing))


# ---- the bounds --------------------------------------------------------------------------


TOUCHED_ENUMERATION_LIMIT = 1 << 16
"""Most points `touched_words` enumerates for axes that share a dim (beyond it, a lower
bound: the most values any one of those axes takes)."""


def _values(problem: Problem, terms: tuple[tuple[int, int], ...]) -> int:
    """Distinct values one tensor axis takes over the whole loop nest (counted whatever its
    box: the bounds need the number, and counting is linear in the box)."""
    return axis_values([(c, problem.bounds[d]) for d, c in terms], limit=None)


def touched_words(problem: Problem, tensor: Tensor) -> int:
    """Distinct elements of a tensor the loop nest touches (a strided 1x1 convolution skips
    rows of its input; the bounding box would count them). Axes indexed by disjoint dims
    vary independently (the product of their values); axes that share a dim (an einsum's
    `X[p, p]` touches P elements, not P^2) are counted together, by enumeration, or (past
    TOUCHED_ENUMERATION_LIMIT points) as the most values one of them takes: a lower bound
    either way, which is what the bounds need."""
    words = 1
    for dims, members in linked_groups([({d for d, _ in axis.terms}, axis.terms)
                                        for axis in tensor.axes]):
        if len(members) == 1:
            words *= _values(problem, members[0])
            continue
        order = sorted(dims)
        if math.prod(problem.bounds[d] for d in order) > TOUCHED_ENUMERATION_LIMIT:
            words *= max(_values(problem, terms) for terms in members)
            continue
        points = set()
        for values in itertools.product(*(range(problem.bounds[d]) for d in order)):
            at = dict(zip(order, values, strict=True))
            points.add(tuple(sum(c * at[d] for d, c in terms) for terms in members))
        words *= len(points)
    return words


def _backing_assignment(by_store: list[FloatArray], wholes: list[float],
                        size_words: FloatArray) -> FloatArray:
    """The least total over the tensors' choices of backing store, where the whole tensors a
    level backs must fit in it together ([A] per accelerator)."""
    count, depth = size_words.shape
    candidates = [[level for level in range(depth) if np.isfinite(costs[:, level]).any()]
                  for costs in by_store]
    best = np.full(count, np.inf)
    for choice in itertools.product(*candidates):
        total = np.zeros(count)
        for costs, level in zip(by_store, choice, strict=True):
            total = total + costs[:, level]
        for level in set(choice):
            held = sum(w for w, chosen in zip(wholes, choice, strict=True) if chosen == level)
            total = np.where(size_words[:, level] >= held, total, np.inf)
        best = np.minimum(best, total)
    return best


def _leakage(table: ArchTable, macs: float, cycles: IntArray,
             parallelism: FloatArray) -> FloatArray:
    """[A] the least leakage energy: per cycle, a level leaks on its utilised instances U
    (the product of the spatial factors above it) when power gated, else on every instance.
    A mapping runs cycles >= T (its temporal iterations) and >= the cycle bound, with U >= 1;
    and T x U x (the spatial factors below the level) >= MACs, the factors below never
    exceeding the level's parallelism P (per dim, the padded total over the factors below is
    at least B / min(s, B): the compute-cycle argument), so cycles x U >= max(the cycle
    bound, MACs / P). For the MAC units (nothing below them) that is max(cycles, MACs)."""
    bound = cycles.astype(np.float64)[:, None]
    gated = np.maximum(bound, macs / parallelism)
    levels = table.leak_pj_per_cycle * np.where(table.leak_gated, gated,
                                                bound * table.instances)
    mac_cycles = np.where(table.mac_gated, np.maximum(bound[:, 0], macs),
                          bound[:, 0] * table.mac_instances)
    result: FloatArray = levels.sum(axis=1) + table.mac_leak_pj_per_cycle * mac_cycles
    return result


def layer_bounds(problem: Problem, table: ArchTable, *, imperfect: bool = False
                 ) -> LayerBounds:
    """Energy and cycles no valid mapping of `problem` beats, on every accelerator of
    `table` (see the module docstring; `imperfect`: the map space pads dims)."""
    count, depth = table.valid.shape
    macs = float(problem.macs)
    unrollings = [_unrolling(problem, fanouts, depth, imperfect) for fanouts in table.fanouts]
    parallelism = np.array([u.parallelism for u in unrollings], dtype=np.float64)
    sharing = np.array([u.sharing for u in unrollings], dtype=np.float64)  # [F, L, T]
    parallelism = parallelism[table.fanout_index]  # [A, L]
    sharing = sharing[table.fanout_index]  # [A, L, T]
    compute_par = parallelism[:, 0].astype(np.int64)
    compute_cycles = -(-problem.macs // compute_par)
    energy = macs * table.mac_pj
    reads_at = np.zeros((count, depth))  # compulsory words per level, for bandwidth
    writes_at = np.zeros((count, depth))
    deeper = np.triu(np.ones((depth, depth), dtype=bool), k=1)  # [outer, inner], inner below
    by_store: list[FloatArray] = []  # per tensor [A, L]: its least traffic energy, backed at L
    wholes: list[float] = []
    for t, tensor in enumerate(problem.tensors):
        role = ROLES.index(tensor.role)
        words = float(touched_words(problem, tensor))
        whole = float(problem.tensor_size(tensor))
        may_hold = table.valid & table.holds[:, :, role]
        backs = may_hold & (table.size_words >= whole)
        # The map space keeps at the outermost memory every tensor it holds (mapper.md):
        # there, that memory is the backing store.
        outermost = may_hold[:, 0]
        backs[outermost, 1:] = False
        served = macs / sharing[:, :, t]  # [A, L] words the innermost keeper serves
        if tensor.role == "output":
            # The backing store serving the MACs itself: every partial sum is an update,
            # and every one after the first of an output in an instance a read too (each
            # instance of the store holds at most the whole tensor).
            same = table.update_pj * np.maximum(words, served) + \
                table.read_pj * np.maximum(0.0, served - whole * table.instances)
            split = (table.update_pj * words)[:, :, None] + \
                (table.update_pj * served)[:, None, :]
        else:
            same = table.read_pj * np.maximum(words, served)
            split = (table.read_pj * words)[:, :, None] + \
                ((table.write_pj * words) + table.read_pj * served)[:, None, :]
        split = np.where(may_hold[:, None, :] & deeper[None], split, np.inf)
        by_store.append(np.where(backs, np.minimum(same, split.min(axis=2)), np.inf))
        wholes.append(whole)
        # Bandwidth: only a tensor with one possible backing store pins its traffic there.
        only = backs.sum(axis=1) == 1
        target = writes_at if tensor.role == "output" else reads_at
        target += np.where(only[:, None] & backs, words, 0.0)
    energy = energy + _backing_assignment(by_store, wholes, table.size_words)
    per_instance_reads = reads_at / table.instances
    per_instance_writes = writes_at / table.instances
    separate = np.maximum(per_instance_reads / table.read_bw,
                          per_instance_writes / table.write_bw)
    # One shared port runs at the read bandwidth when one is given (as the cost model does).
    port = np.where(np.isfinite(table.read_bw), table.read_bw, table.write_bw)
    together = (per_instance_reads + per_instance_writes) / port
    transfer = np.where(table.shared_bw, together, separate).max(axis=1)
    # Saturated before the cast (CYCLE_CAP): still a lower bound of the exact count.
    transfer_cycles = np.minimum(np.ceil(transfer * SLACK), CYCLE_CAP).astype(np.int64)
    cycles = np.maximum(compute_cycles, transfer_cycles)
    energy = energy + _leakage(table, macs, cycles, parallelism)
    # The cost model rounds each energy part to ENERGY_QUANTUM_PJ (half to even), so a sum
    # of parts can fall below the exact sum by half a quantum per part.
    parts = depth * (len(problem.tensors) + 1) + 2
    margin = parts * ENERGY_QUANTUM_PJ / 2
    return LayerBounds(np.maximum(0.0, energy * SLACK - margin), cycles, compute_cycles)
