"""The cost model vectorised with numpy over a batch of mappings: the mapper's hot path.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch), the keep choices (each
one frozenset of tensor names per memory level) and a `MappingBatch` of B mappings as arrays
(layout below), each naming its keep choice. Out: `BatchCost`, arrays of validity, energy, cycles,
utilisation and the per-level, per-tensor, per-instance reads, fills and updates. The
numbers are exactly those of the scalar reference dslc.cost.model (same rules, same
floating-point operation order, energies quantised the same way); the property tests check
it. There is no Python loop per mapping: the Python loops run over levels, tensors and
tensor axes, a few hundred numpy calls per batch whatever its size. With numba installed,
`evaluate`, `totals` and `fits` run the compiled twin in dslc.cost.kernel instead (the same
numbers, 2-3x faster); `engine` says which runs.

Array layout (int64, batch last; L memory levels outermost first, D problem dims, F fanouts
in hierarchy order; each fanout's loops belong to the memory directly above it):

- temporal_factors [L, D, B]: the temporal factor of dim d at level l (1 = no loop). One
  temporal loop per dim per level, as in Timeloop's mapping format.
- temporal_order [L, D, B]: a permutation of 0..D-1 per level and mapping: the dim of each
  loop slot, outer to inner (factor-1 slots are ignored: only the order of real loops
  matters).
- spatial_x, spatial_y [F, D, B]: the spatial factor of dim d across X / Y of fanout f.
- Results are batch-last too: [B] totals, [L, B] per level, [L, T, B] per level and tensor.

Why this layout: a mapper draws factorisations and permutations independently, so they are
separate dense arrays; with the batch last, every per-(level, dim) quantity is one
contiguous row of B values, so the cumulative products and sums along the short level and
loop axes run as a handful of whole-row vector operations (numpy's reductions along a short
inner axis are several times slower). `encode` builds a batch from `Mapping` IRs (tests,
`dslc eval`); the mapper fills the arrays directly.

Closed forms used here (each equal to the scalar model's direct computation):
- entries of a tensor whose axes each have one dim (weights, outputs, matmul operands):
  A x the product of the factors of every temporal loop above the level down to the
  innermost one that indexes the tensor (no tile can overlap its moved self);
- entries of a sliding-window tensor: the scalar model's sum, with the axes split into
  single-dim axes (any movement there refetches the whole tile) and multi-dim axes;
- tensor coordinates (loop steps times coefficients) are held in int32: tensors must be
  smaller than 2^31 along every axis; counts are int64;
- distinct children across a block of spatial loops, per tensor axis: F for one dim; for
  two dims with strides w1, w2 (g = gcd): F1 F2 - max(0, F1 - w2/g) max(0, F2 - w1/g) (the
  chains of equal sums i w1 + j w2); the product over axes. Tensors where a dim feeds two
  axes, or an axis has three dims, fall back to enumeration per distinct parameter row.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel
from dslc.cost import kernel
from dslc.cost.model import BANDWIDTH_SLACK, CYCLE_CAP
from dslc.cost.result import ENERGY_QUANTUM_PJ
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.check import allowed_dims
from dslc.mapping.mapping import Mapping

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MappingBatch:
    """B mappings of one problem on one accelerator that share their keep sets."""

    temporal_factors: IntArray
    """[L, D, B] temporal factor of each dim at each level."""
    temporal_order: IntArray
    """[L, D, B] dim of each temporal loop slot, outer to inner."""
    spatial_x: IntArray
    """[F, D, B] spatial factor of each dim across X of each fanout."""
    spatial_y: IntArray
    """[F, D, B] spatial factor of each dim across Y of each fanout."""
    keep: IntArray | None = None
    """[B] index of each mapping's keep set in the evaluator's `keep_choices` (None: all
    use the first)."""

    @property
    def size(self) -> int:
        return int(self.temporal_factors.shape[-1])

    def part(self, chosen: slice | IntArray) -> MappingBatch:
        """The mappings `chosen` (a slice or indices along the batch axis)."""
        return MappingBatch(self.temporal_factors[..., chosen], self.temporal_order[..., chosen],
                            self.spatial_x[..., chosen], self.spatial_y[..., chosen],
                            None if self.keep is None else self.keep[chosen])

    def keep_ids(self) -> IntArray:
        if self.keep is None:
            return np.zeros(self.size, dtype=np.int64)
        return self.keep


@dataclass(frozen=True, slots=True)
class BatchCost:
    """Costs of a batch (levels outermost first, tensors in problem order)."""

    valid: BoolArray
    """[B] whether the mapping can run (coverage, meshes, dataflow, holds, capacity)."""
    energy_pj: FloatArray
    """[B] total energy (computed for invalid mappings too; filter with `valid`)."""
    cycles: IntArray
    """[B]"""
    compute_cycles: IntArray
    """[B] the product of every temporal factor."""
    utilization: FloatArray
    """[B] MACs / (cycles x MAC units)."""
    reads: IntArray
    """[L, T, B] per instance (0 where the level does not keep the tensor)."""
    fills: IntArray
    """[L, T, B] per instance."""
    updates: IntArray
    """[L, T, B] per instance."""
    utilized_instances: IntArray
    """[L, B]"""
    tensor_energy_pj: FloatArray
    """[L, T, B] access energy, all utilised instances."""
    leakage_energy_pj: FloatArray
    """[L, B]"""
    compute_energy_pj: FloatArray
    """[B] MAC energy plus MAC leakage."""
    tensors: tuple[str, ...]
    levels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchTotals:
    """What a search needs of each mapping of a batch (BatchCost without the breakdown)."""

    valid: BoolArray
    """[B] whether the mapping can run."""
    energy_pj: FloatArray
    """[B] total energy (computed for invalid mappings too)."""
    cycles: IntArray
    """[B]"""
    compute_cycles: IntArray
    """[B]"""
    utilization: FloatArray
    """[B]"""


CHUNK = 8192
"""Mappings per internal chunk (measured best on a 3-level conv; see cost-model.md)."""


def _quantize(energy: FloatArray) -> FloatArray:
    result: FloatArray = np.round(energy / ENERGY_QUANTUM_PJ) * ENERGY_QUANTUM_PJ
    return result


def _blocks(words: IntArray, block: int) -> IntArray:
    """Accesses of `block` words needed for `words` words (rounded up)."""
    if block == 1:
        return words
    result: IntArray = -(-words // block)
    return result


def _ceil_bandwidth(words: IntArray, bandwidth: float | None) -> IntArray:
    if bandwidth is None:
        return np.zeros_like(words)
    # Saturated at CYCLE_CAP before the cast: a float past 2^63 casts to a negative int64.
    cycles = np.minimum(np.ceil(words / bandwidth * BANDWIDTH_SLACK), CYCLE_CAP
                        ).astype(np.int64)
    return np.where(words == 0, 0, cycles)


@dataclass(frozen=True, slots=True)
class _TensorPlan:
    """Static facts about one tensor: its axes as (dims, coefficients) and how to count it."""

    index: int
    tensor: Tensor
    axes: tuple[tuple[tuple[int, int], ...], ...]
    relevant: BoolArray
    """[D] dims that index the tensor."""
    simple: BoolArray
    """[D] dims that appear in a single-dim axis."""
    sliding_axes: tuple[tuple[tuple[int, int], ...], ...]
    """Axes with two or more dims (sliding windows)."""
    closed_form_multicast: bool


class BatchEvaluator:
    """Precomputes everything static about (problem, accelerator, keep choices); evaluates
    batches. Each mapping of a batch picks one of `keep_choices` (`MappingBatch.keep`):
    the counts below a level depend on which levels keep a tensor, but the tiles and the
    traffic between loop levels do not, so one batch mixes keep sets at little cost."""

    def __init__(self, problem: Problem, arch: ArchModel,
                 keep: Sequence[frozenset[str]], *, imperfect: bool = False,
                 more_keeps: Sequence[Sequence[frozenset[str]]] = ()) -> None:
        """`keep` is keep choice 0 (one set of tensor names per memory level);
        `more_keeps` are choices 1, 2, ..."""
        self.problem = problem
        self.imperfect = imperfect
        """Accept padded factors, as `Mapping.imperfect` does (the padded problem runs)."""
        self.arch = arch
        self.nlevels = len(arch.levels)
        self.ndims = len(problem.dims)
        choices = (keep, *more_keeps)
        for choice in choices:
            if len(choice) != self.nlevels:
                raise ValueError(f"{len(choice)} keep sets for {self.nlevels} memory levels")
        self.keep_choices = tuple(tuple(frozenset(k) for k in choice) for choice in choices)
        self.fanouts = arch.fanouts
        self.blocks = arch.multicast_blocks
        """Fanout indices per multicast block (one per fanout unless `diagonal`)."""
        self.level_blocks = tuple(
            tuple(b for b, block in enumerate(self.blocks)
                  if self.fanouts[block[0]].owner == i) for i in range(self.nlevels))
        """Per memory level, its blocks outermost first."""
        self.bounds = np.array(problem.bounds, dtype=np.int64)
        self.plans = tuple(self._plan(i, t) for i, t in enumerate(problem.tensors))
        names = [t.name for t in problem.tensors]
        # kept[k, l, t]: keep choice k keeps tensor t at level l.
        self.kept = np.array([[[name in level_keep for name in names] for level_keep in choice]
                              for choice in self.keep_choices], dtype=np.bool_)
        # The outermost level keeping each tensor (-1: nowhere), per choice.
        self.first_keeper = np.where(self.kept.any(axis=1), np.argmax(self.kept, axis=1), -1)
        # Choices that keep a tensor a level cannot hold, or keep a tensor nowhere, are
        # invalid whatever the factors.
        self.static_valid = np.array([
            all(t.role in level.holds
                for level, level_keep in zip(arch.levels, choice, strict=True)
                for t in problem.tensors if t.name in level_keep)
            and all(any(t.name in level_keep for level_keep in choice)
                    for t in problem.tensors)
            and all(level_keep <= set(names) for level_keep in choice)
            for choice in self.keep_choices], dtype=np.bool_)
        allowed = np.ones((len(self.fanouts), 2, self.ndims), dtype=np.bool_)
        for f, fanout in enumerate(self.fanouts):
            for axis, dims in enumerate(allowed_dims(fanout.dataflow, problem)):
                if dims is not None:
                    allowed[f, axis] = [name in dims for name in problem.dims]
        self.allowed = allowed
        self._bases: dict[tuple[int, int], IntArray] = {}
        self.tables = self._kernel_tables() \
            if all(plan.closed_form_multicast for plan in self.plans) else None
        """The compiled kernel's tables (None: a tensor's multicast needs enumeration, which
        only the numpy path does)."""

    @property
    def engine(self) -> str:
        """`numba` when `evaluate` runs the compiled kernel, else `numpy`."""
        return "numpy" if self._compiled is None else "numba"

    @property
    def compiled_tables(self) -> kernel.KernelTables | None:
        """The kernel's tables when the compiled kernel runs here, else None (for compiled
        callers of `kernel_numba.fits`: the mapper's filled seeds)."""
        return self._compiled

    @property
    def _compiled(self) -> kernel.KernelTables | None:
        """The kernel's tables when the compiled kernel runs here, else None."""
        return self.tables if self.tables is not None and kernel.available() else None

    def _kernel_tables(self) -> kernel.KernelTables:
        arch, problem = self.arch, self.problem
        ntensors = len(problem.tensors)
        # At least one column each: a problem of scalar tensors still gets 2-D tables.
        naxes = max((len(plan.axes) for plan in self.plans), default=0) or 1
        nterms = max((len(terms) for plan in self.plans for terms in plan.axes),
                     default=0) or 1
        axis_count = np.zeros(ntensors, dtype=np.int64)
        axis_terms = np.zeros((ntensors, naxes), dtype=np.int64)
        axis_dim = np.zeros((ntensors, naxes, nterms), dtype=np.int64)
        axis_coef = np.zeros((ntensors, naxes, nterms), dtype=np.int64)
        coef_dense = np.zeros((ntensors, naxes, self.ndims), dtype=np.int64)
        for plan in self.plans:
            axis_count[plan.index] = len(plan.axes)
            for a, terms in enumerate(plan.axes):
                axis_terms[plan.index, a] = len(terms)
                for k, (d, coef) in enumerate(terms):
                    axis_dim[plan.index, a, k] = d
                    axis_coef[plan.index, a, k] = coef
                    coef_dense[plan.index, a, d] += coef
        nan = float("nan")
        level_floats = np.full((self.nlevels, 6), nan)
        level_ints = np.zeros((self.nlevels, 8), dtype=np.int64)
        for i, level in enumerate(arch.levels):
            read_bw, write_bw = level.read_bandwidth_words, level.write_bandwidth_words
            if level.shared_bandwidth:
                read_bw, write_bw = (read_bw if read_bw is not None else write_bw), None
            level_floats[i] = (level.read_energy_pj, level.write_energy_pj,
                               level.update_energy_pj, level.leakage_pj_per_cycle,
                               nan if read_bw is None else read_bw,
                               nan if write_bw is None else write_bw)
            block = level.block_words
            level_ints[i] = (bool(level.fanouts),
                             -1 if level.size_words is None else level.size_words,
                             level.buffering, block, level.instances,
                             bool(self.kept[:, i].any()),
                             block.bit_length() - 1 if block & (block - 1) == 0 else -1,
                             level.power_gated)
        compute = arch.compute
        return kernel.KernelTables(
            ints=np.array([self.nlevels, self.ndims, ntensors, len(self.fanouts),
                           int(self.imperfect), problem.macs, compute.power_gated],
                          dtype=np.int64),
            fanout_owner=np.array([f.owner for f in self.fanouts], dtype=np.int64),
            fanout_block=np.array([b for b, block in enumerate(self.blocks) for _ in block],
                                  dtype=np.int64),
            level_blocks=np.cumsum([0, *(len(blocks) for blocks in self.level_blocks)],
                                   dtype=np.int64),
            fanout_mesh=np.array([(f.mesh_x, f.mesh_y) for f in self.fanouts],
                                 dtype=np.int64).reshape(-1, 2),
            allowed=self.allowed, level_ints=level_ints, level_floats=level_floats,
            shared=np.array([level.shared_bandwidth for level in arch.levels], dtype=np.bool_),
            axis_count=axis_count, axis_terms=axis_terms, axis_dim=axis_dim,
            axis_coef=axis_coef, coef_dense=coef_dense,
            tensor_flags=np.array([(plan.tensor.role == "output", bool(plan.sliding_axes))
                                   for plan in self.plans], dtype=np.int64),
            relevant=np.array([plan.relevant for plan in self.plans], dtype=np.bool_),
            simple=np.array([plan.simple for plan in self.plans], dtype=np.bool_),
            whole_words=np.array([problem.tensor_size(plan.tensor) for plan in self.plans],
                                 dtype=np.int64),
            kept=self.kept, first_keeper=self.first_keeper.astype(np.int64),
            static_valid=self.static_valid, bounds=self.bounds,
            compute_floats=np.array([
                self._problem_mac_energy_pj(), compute.energy_pj,
                compute.leakage_pj_per_cycle, BANDWIDTH_SLACK, ENERGY_QUANTUM_PJ]),
            compute_instances=compute.instances)

    def _problem_mac_energy_pj(self) -> float:
        """The problem's MACs times the MAC energy, quantised (perfect mappings)."""
        energy = self.problem.macs * self.arch.compute.energy_pj
        return float(np.round(energy / ENERGY_QUANTUM_PJ) * ENERGY_QUANTUM_PJ)

    def _plan(self, index: int, tensor: Tensor) -> _TensorPlan:
        relevant = np.zeros(self.ndims, dtype=np.bool_)
        simple = np.zeros(self.ndims, dtype=np.bool_)
        uses = [0] * self.ndims
        axes = tuple(tuple(axis.terms) for axis in tensor.axes)
        for terms in axes:
            for d, _ in terms:
                relevant[d] = True
                uses[d] += 1
            if len(terms) == 1:
                simple[terms[0][0]] = True
        return _TensorPlan(
            index, tensor, axes, relevant, simple,
            tuple(terms for terms in axes if len(terms) >= 2),
            all(u <= 1 for u in uses) and all(len(terms) <= 2 for terms in axes))

    # -- geometry (batch-last arrays: dims on axis -2, mappings on axis -1) ----------------

    @staticmethod
    def _extent(terms: tuple[tuple[int, int], ...], spans: IntArray) -> IntArray:
        """Extent of one tensor axis when dim d spans spans[..., d, :] (1 for an axis no dim
        indexes: an einsum's constant index, `W[k, 0]`)."""
        if not terms:
            ones: IntArray = np.ones_like(spans[..., 0, :])
            return ones
        if len(terms) == 1 and abs(terms[0][1]) == 1:
            result: IntArray = spans[..., terms[0][0], :]
            return result
        offset = 1 - sum(abs(coef) for _, coef in terms)
        extent: IntArray = abs(terms[0][1]) * spans[..., terms[0][0], :] + offset
        for d, coef in terms[1:]:
            extent = extent + abs(coef) * spans[..., d, :]
        return extent

    def _words(self, plan: _TensorPlan, spans: IntArray) -> IntArray:
        words = self._extent(plan.axes[0], spans)
        for terms in plan.axes[1:]:
            words = words * self._extent(terms, spans)
        return words

    def _distinct(self, plan: _TensorPlan, factors: IntArray, inner: IntArray) -> IntArray:
        """[B] distinct child tiles across a block with spatial factors `factors` [D, B] whose
        children's tiles span `inner` [D, B] (the innermost spatial step of each dim)."""
        if not plan.closed_form_multicast:
            return self._distinct_enumerated(plan, factors, inner)
        count = np.ones(factors.shape[1], dtype=np.int64)
        for terms in plan.axes:
            if not terms:
                continue  # a constant axis: every child holds the same index
            if len(terms) == 1:
                count = count * factors[terms[0][0]]
                continue
            (d1, c1), (d2, c2) = terms
            f1, f2 = factors[d1], factors[d2]
            w1, w2 = abs(c1) * inner[d1], abs(c2) * inner[d2]
            g = np.gcd(w1, w2)
            count = count * (f1 * f2 - np.maximum(0, f1 - w2 // g)
                             * np.maximum(0, f2 - w1 // g))
        return count

    def _distinct_enumerated(self, plan: _TensorPlan, factors: IntArray,
                             inner: IntArray) -> IntArray:
        dims = [d for d in range(self.ndims) if plan.relevant[d]]
        rows = np.concatenate([factors[dims], inner[dims]], axis=0).T
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        counts = np.empty(len(unique), dtype=np.int64)
        for r, row in enumerate(unique):
            fs = [int(v) for v in row[:len(dims)]]
            steps = [int(v) for v in row[len(dims):]]
            offsets = set()
            for indices in itertools.product(*(range(f) for f in fs)):
                offsets.add(tuple(
                    sum(coef * indices[dims.index(d)] * steps[dims.index(d)]
                        for d, coef in terms) for terms in plan.axes))
            counts[r] = len(offsets)
        result: IntArray = counts[inverse.reshape(-1)]
        return result

    # -- evaluation ---------------------------------------------------------------------

    def totals(self, batch: MappingBatch) -> BatchTotals:
        """The totals of `evaluate` (equal to them), without the per-level, per-tensor
        breakdown: the mapper's call. The compiled kernel then keeps the breakdown in one
        block's scratch instead of writing ~40 values per mapping to fresh memory."""
        tables = self._compiled
        if tables is None:
            cost = self.evaluate(batch)
            return BatchTotals(cost.valid, cost.energy_pj, cost.cycles, cost.compute_cycles,
                               cost.utilization)
        size = batch.size
        result = BatchTotals(valid=np.empty(size, dtype=np.bool_), energy_pj=np.empty(size),
                             cycles=np.empty(size, dtype=np.int64),
                             compute_cycles=np.empty(size, dtype=np.int64),
                             utilization=np.empty(size))
        kernel.run(tables, batch.temporal_factors, batch.temporal_order,
                   batch.spatial_x, batch.spatial_y, batch.keep_ids(), {
                       name: getattr(result, name) for name in (
                           "valid", "energy_pj", "cycles", "compute_cycles", "utilization")})
        return result

    def evaluate(self, batch: MappingBatch) -> BatchCost:
        """Costs of every mapping of the batch (see the module docstring for the layout).

        The compiled kernel, when it runs, fills the results in one call. The numpy path
        evaluates the batch in chunks of CHUNK mappings written into preallocated results:
        the temporaries then stay small enough for the allocator to reuse them and for the
        cache to hold them."""
        size = batch.size
        nlevels, ntensors = self.nlevels, len(self.problem.tensors)
        tables = self._compiled
        # The kernel writes every element; the numpy path leaves non-kept entries at 0.
        counts = np.zeros if tables is None else np.empty
        result = BatchCost(
            valid=np.empty(size, dtype=np.bool_), energy_pj=np.empty(size),
            cycles=np.empty(size, dtype=np.int64), compute_cycles=np.empty(size, np.int64),
            utilization=np.empty(size),
            reads=counts((nlevels, ntensors, size), dtype=np.int64),
            fills=counts((nlevels, ntensors, size), dtype=np.int64),
            updates=counts((nlevels, ntensors, size), dtype=np.int64),
            utilized_instances=np.empty((nlevels, size), dtype=np.int64),
            tensor_energy_pj=counts((nlevels, ntensors, size)),
            leakage_energy_pj=np.empty((nlevels, size)), compute_energy_pj=np.empty(size),
            tensors=tuple(t.name for t in self.problem.tensors),
            levels=tuple(level.name for level in self.arch.levels))
        if tables is not None:
            kernel.run(tables, batch.temporal_factors, batch.temporal_order,
                       batch.spatial_x, batch.spatial_y, batch.keep_ids(), {
                           name: getattr(result, name) for name in (
                               "valid", "energy_pj", "cycles", "compute_cycles",
                               "utilization", "reads", "fills", "updates",
                               "utilized_instances", "tensor_energy_pj",
                               "leakage_energy_pj", "compute_energy_pj")})
            return result
        for start in range(0, size, CHUNK):
            part = slice(start, min(size, start + CHUNK))
            self._evaluate(batch.part(part), result, part)
        return result

    def _evaluate(self, batch: MappingBatch, out: BatchCost, part: slice) -> None:
        """Evaluate one chunk into `out[..., part]`."""
        arch, problem = self.arch, self.problem
        nlevels, ndims = self.nlevels, self.ndims
        ft = batch.temporal_factors
        order = batch.temporal_order
        sx, sy = batch.spatial_x, batch.spatial_y
        size = ft.shape[-1]
        keep_ids = batch.keep_ids()
        kept = self.kept.transpose(1, 2, 0)[:, :, keep_ids]  # [L, T, B]
        single = len(self.keep_choices) == 1
        spatial = np.ones_like(ft)
        for f, fanout in enumerate(self.fanouts):
            spatial[fanout.owner] *= sx[f] * sy[f]
        extents = np.ones((nlevels + 1, ndims, size), dtype=np.int64)
        for i in range(nlevels - 1, -1, -1):
            extents[i] = extents[i + 1] * ft[i] * spatial[i]
        steps = spatial * extents[1:]
        compute_cycles = np.prod(ft.reshape(-1, size), axis=0)
        # Per level, each dim's range one instance runs: the whole range over the spatial
        # factors above the level (what `first_touches` needs).
        ranges = np.empty((nlevels, ndims, size), dtype=np.int64)
        ranges[0] = extents[0]
        for i in range(1, nlevels):
            ranges[i] = ranges[i - 1] // spatial[i - 1]
        block_units = np.prod(spatial, axis=1)
        utilized = np.ones((nlevels, size), dtype=np.int64)
        for i in range(1, nlevels):
            utilized[i] = utilized[i - 1] * block_units[i - 1]
        # Per multicast block: its spatial factors [D, B] and the extents of one child's tile
        # (the level below, times the blocks nested inside it under the same memory).
        block_factors: list[IntArray] = []
        for members in self.blocks:
            factors = sx[members[0]] * sy[members[0]]
            for f in members[1:]:
                factors = factors * sx[f] * sy[f]
            block_factors.append(factors)
        block_inner: list[IntArray] = [extents[0]] * len(self.blocks)
        for o in range(nlevels):
            inner = extents[o + 1]
            for b in reversed(self.level_blocks[o]):
                block_inner[b] = inner
                inner = inner * block_factors[b]

        # The temporal loops above the innermost level as slots in nest order (level-major,
        # outer to inner); level i's loops above are the first i*D slots.
        above_order = order[:nlevels - 1]
        slots = above_order.shape[0] * ndims
        slot_dims = above_order.reshape(slots, size)
        # One flat index, built in place, gathers every per-slot quantity: much cheaper than
        # take_along_axis, which builds broadcast index arrays on every call.
        gather = np.multiply(above_order.reshape(slots, size), size)
        gather += self._slot_base(nlevels - 1, size)
        f_slot = ft[:nlevels - 1].reshape(-1).take(gather)
        nontrivial = f_slot > 1
        cum_f = _running(np.multiply, f_slot)
        weight = np.empty_like(f_slot)
        if slots:
            weight[0] = f_slot[0] - 1
            np.multiply(cum_f[:-1], f_slot[1:] - 1, out=weight[1:])
        # How far each real loop moves its dim (0 for factor-1 slots, which never move).
        step_slot = steps[:nlevels - 1].reshape(-1).take(gather)
        step_slot = (step_slot * nontrivial).astype(np.int32)
        # Dim membership tests as bit masks: two cheap integer operations per slot row instead
        # of a gather from a per-dim table.
        real_bits = np.where(nontrivial, np.left_shift(1, slot_dims), 0)
        last_real = _last_per_level(nontrivial, nlevels, ndims)
        loops = _Slots(slot_dims, nontrivial, cum_f, weight, step_slot, real_bits, last_real)

        ntensors = len(problem.tensors)
        reads = out.reads[..., part]
        fills = out.fills[..., part]
        updates = out.updates[..., part]
        tiles = np.zeros((nlevels, ntensors, size), dtype=np.int64)
        for plan in self.plans:
            t = plan.index
            tile = self._words(plan, extents[:nlevels])
            tiles[:, t] = tile
            enter = self._entries(plan, tile, extents, loops)
            # Per level, the product of its blocks' distinct children (None: no fanout).
            multicast: list[IntArray | None] = []
            for o in range(nlevels):
                distinct: IntArray | None = None
                for b in self.level_blocks[o]:
                    count = self._distinct(plan, block_factors[b], block_inner[b])
                    distinct = count if distinct is None else distinct * count
                multicast.append(distinct)
            # Partitions through each block of the level above, outermost first, rounded
            # down at every block (Timeloop's chain through its spatial levels).
            partition = [tile[0]]
            for i in range(1, nlevels):
                share = partition[-1]
                for b in self.level_blocks[i - 1]:
                    child = tile[i] if b == self.level_blocks[i - 1][-1] \
                        else self._words(plan, block_inner[b])
                    union = self._words(plan, block_inner[b] * block_factors[b])
                    share = share * child // union
                partition.append(share)
            output = plan.tensor.role == "output"
            # First reads elided: at most the outputs an instance's operations touch
            # (model.first_touches).
            first = [np.minimum(partition[i], np.prod(ranges[i][plan.relevant], axis=0))
                     for i in range(nlevels)] if output else partition
            # served[i]: what level i hands down if it keeps the tensor: the entries of the
            # next keeper below (or every MAC's operand), times the distinct children of
            # each fanout on the way.
            # With one keep choice the keepers are known here: plain branches instead of
            # masks (the common case outside the mapper).
            held: list[BoolArray] | list[bool] = [bool(k) for k in self.kept[0, :, t]] \
                if single else list(kept[:, t])
            above: BoolArray | bool = False  # a keeper above level i
            served: list[IntArray] = [compute_cycles] * nlevels
            below = compute_cycles
            for i in range(nlevels - 1, -1, -1):
                if i < nlevels - 1:
                    below = _pick(held[i + 1], enter[i + 1], below)
                distinct = multicast[i]
                if distinct is not None:
                    below = below * distinct
                served[i] = below
            for i in range(nlevels):
                if held[i] is False:
                    continue
                refill = held[i] & above
                if output:
                    reads[i, t] = _pick(held[i], served[i] - first[i], 0)
                    updates[i, t] = _pick(held[i], served[i], 0)
                    if refill is not False:
                        fills[i, t] = _pick(refill, np.maximum(enter[i] - partition[i], 0),
                                            0)
                else:
                    reads[i, t] = _pick(held[i], served[i], 0)
                    if refill is not False:
                        fills[i, t] = _pick(refill, enter[i], 0)
                above = above | held[i]
        valid = self._valid(extents, tiles, sx, sy, keep_ids, kept)

        cycles = compute_cycles.copy()
        level_reads = reads.sum(axis=1)
        level_writes = fills.sum(axis=1) + updates.sum(axis=1)
        for i, level in enumerate(arch.levels):
            if level.shared_bandwidth:
                shared = level.read_bandwidth_words if level.read_bandwidth_words is not None \
                    else level.write_bandwidth_words
                bound = _ceil_bandwidth(level_reads[i] + level_writes[i], shared)
            else:
                bound = np.maximum(_ceil_bandwidth(level_reads[i], level.read_bandwidth_words),
                                   _ceil_bandwidth(level_writes[i],
                                                   level.write_bandwidth_words))
            cycles = np.maximum(cycles, bound)

        tensor_energy = out.tensor_energy_pj[..., part]
        leakage = out.leakage_energy_pj[..., part]
        for i, level in enumerate(arch.levels):
            # Whole rows of tensors at once: a tensor the level does not keep has no
            # accesses there, so its energy is 0 as in the scalar model.
            if self.kept[:, i].any():
                block = level.block_words
                per_instance = (_blocks(reads[i], block) * level.read_energy_pj
                                + _blocks(fills[i], block) * level.write_energy_pj
                                + _blocks(updates[i], block) * level.update_energy_pj)
                tensor_energy[i] = _quantize(per_instance * utilized[i])
            if level.leakage_pj_per_cycle:
                # On the utilised instances (Timeloop), or all of them when not gated.
                leaking = utilized[i] if level.power_gated else level.instances
                leakage[i] = _quantize(level.leakage_pj_per_cycle * cycles * leaking)
            else:
                leakage[i] = 0.0
        compute = arch.compute
        if self.imperfect:
            run_macs = np.prod(extents[0], axis=0)
            mac_energy: FloatArray | float = _quantize(run_macs * compute.energy_pj)
        else:
            mac_energy = self._problem_mac_energy_pj()
        mac_leaking = utilized[nlevels - 1] * block_units[nlevels - 1] \
            if compute.power_gated else compute.instances
        compute_energy = mac_energy + _quantize(compute.leakage_pj_per_cycle * cycles
                                                * mac_leaking)
        out.energy_pj[part] = tensor_energy.sum(axis=(0, 1)) + leakage.sum(axis=0) \
            + compute_energy
        # In floats: cycles times instances can pass 2^63 (a cast would wrap it).
        out.utilization[part] = problem.macs / (cycles.astype(np.float64) * compute.instances)
        out.valid[part] = valid
        out.cycles[part] = cycles
        out.compute_cycles[part] = compute_cycles
        out.utilized_instances[..., part] = utilized
        out.compute_energy_pj[part] = compute_energy

    def _slot_base(self, levels: int, size: int) -> IntArray:
        """[levels * D, size] the flat offset of (level, mapping) in a [levels, D, size]
        array (cached per chunk size)."""
        key = (levels, size)
        base = self._bases.get(key)
        if base is None:
            rows = np.repeat(np.arange(levels, dtype=np.int64) * self.ndims * size, self.ndims)
            base = self._bases[key] = rows[:, None] + np.arange(size, dtype=np.int64)
        return base

    def fits(self, batch: MappingBatch) -> BoolArray:
        """[B] the `valid` of `evaluate` without counting anything: factor coverage, meshes,
        dataflow, holds, backing stores and capacity. The mapper prunes with it before
        evaluating (a few numpy operations per level and tensor, or the compiled kernel's
        validity stages)."""
        ft, sx, sy = batch.temporal_factors, batch.spatial_x, batch.spatial_y
        tables = self._compiled
        if tables is not None:
            return kernel.run_fits(tables, ft, sx, sy, batch.keep_ids())
        nlevels, size = self.nlevels, batch.size
        spatial = np.ones_like(ft)
        for f, fanout in enumerate(self.fanouts):
            spatial[fanout.owner] *= sx[f] * sy[f]
        extents = np.ones((nlevels + 1, self.ndims, size), dtype=np.int64)
        for i in range(nlevels - 1, -1, -1):
            extents[i] = extents[i + 1] * ft[i] * spatial[i]
        tiles = np.zeros((nlevels, len(self.plans), size), dtype=np.int64)
        for plan in self.plans:
            tiles[:, plan.index] = self._words(plan, extents[:nlevels])
        keep_ids = batch.keep_ids()
        return self._valid(extents, tiles, sx, sy, keep_ids,
                           self.kept.transpose(1, 2, 0)[:, :, keep_ids])

    def _valid(self, extents: IntArray, tiles: IntArray, sx: IntArray, sy: IntArray,
               keep_ids: IntArray, kept: BoolArray) -> BoolArray:
        """[B] validity from the tile extents [L+1, D, B], tile words [L, T, B], and the
        keep choices [B] with what they keep [L, T, B]."""
        if self.imperfect:
            covered = self._padded_within_rule(extents, sx, sy)
        else:
            covered = np.all(extents[0] == self.bounds[:, None], axis=0)
        valid: BoolArray = covered & self.static_valid[keep_ids]
        single = len(self.keep_choices) == 1
        for plan in self.plans:
            whole = self._words(plan, extents[0]) if self.imperfect \
                else self.problem.tensor_size(plan.tensor)
            if single:
                first_level = int(self.first_keeper[0, plan.index])
                if first_level >= 0:
                    valid &= ~covered | (tiles[first_level, plan.index] >= whole)
                continue
            first = self.first_keeper[keep_ids, plan.index]
            outermost = np.take_along_axis(tiles[:, plan.index], np.maximum(first, 0)[None],
                                           axis=0)[0]
            valid &= ~covered | (first < 0) | (outermost >= whole)
        for i, level in enumerate(self.arch.levels):
            if level.size_words is not None and self.kept[:, i].any():
                used = np.sum(tiles[i] * kept[i], axis=0)
                # used x buffering <= size without the product (the kernel's `capacity`).
                valid &= used <= level.size_words // level.buffering
        for f, fanout in enumerate(self.fanouts):
            valid &= np.prod(sx[f], axis=0) <= fanout.mesh_x
            valid &= np.prod(sy[f], axis=0) <= fanout.mesh_y
            valid &= ~np.any((sx[f] > 1) & ~self.allowed[f, 0][:, None], axis=0)
            valid &= ~np.any((sy[f] > 1) & ~self.allowed[f, 1][:, None], axis=0)
        return valid

    def _padded_within_rule(self, extents: IntArray, sx: IntArray, sy: IntArray) -> BoolArray:
        """[B] every dim covered, and padded by less than one step of its outermost loop
        (the rule of `mapping_issues` for imperfect mappings)."""
        total = extents[0]
        first = np.ones_like(total)
        # Walk the nest from the inside out so the outermost real loop's factor wins; within
        # a level the temporal loops come before its fanouts' spatial loops, X before Y.
        owned: dict[int, list[int]] = {}
        for f, fanout in enumerate(self.fanouts):
            owned.setdefault(fanout.owner, []).append(f)
        spatial_factors = extents[:-1] // extents[1:]
        for i in range(self.nlevels - 1, -1, -1):
            for f in reversed(owned.get(i, [])):
                for factors in (sy[f], sx[f]):
                    np.copyto(first, factors, where=factors > 1)
            temporal = spatial_factors[i]
            for f in owned.get(i, []):
                temporal = temporal // (sx[f] * sy[f])
            np.copyto(first, temporal, where=temporal > 1)
        bounds = self.bounds[:, None]
        ok = (total >= bounds) & (total - bounds < total // first)
        result: BoolArray = np.all(ok, axis=0)
        return result

    def _entries(self, plan: _TensorPlan, tile: IntArray, extents: IntArray,
                 loops: _Slots) -> list[IntArray]:
        """Per level, [B] words entering one instance's tile as the temporal loops above it
        run (the scalar model's `entries`, vectorised; see the module docstring)."""
        ndims = self.ndims
        enter = [tile[0]]
        if not plan.sliding_axes:
            # A x the factors of the loops above, down to the innermost one that indexes the
            # tensor (a single-dim axis never overlaps its moved self). The running product of
            # the factors never decreases along the nest, so its value at the innermost
            # relevant loop is its maximum over the relevant loops.
            relevant = (loops.real_bits & _bits(plan.relevant)) != 0
            reach = np.ones(tile.shape[-1], dtype=np.int64)
            at_relevant = loops.cum_f * relevant
            for i in range(1, self.nlevels):
                reach = np.maximum(reach, np.max(at_relevant[(i - 1) * ndims:i * ndims], axis=0))
                enter.append(tile[i] * reach)
            return enter
        # A loop that moves the tile along a single-dim axis, there or further in, never keeps
        # a residue (that axis does not overlap its moved self): the whole tile comes in.
        moves_simple = ((loops.real_bits & _bits(plan.simple)) != 0).astype(np.int32)
        simple_before = _running(np.add, moves_simple) - moves_simple
        moves = []
        prefix = []
        innermost = []
        for terms in plan.sliding_axes:
            if all(c == 1 for _, c in terms):
                touches = (loops.real_bits & sum(1 << d for d, _ in terms)) != 0
                move = np.where(touches, loops.steps, 0)
            else:
                coef = np.zeros(ndims, dtype=np.int32)
                for d, c in terms:
                    coef[d] = c
                move = np.take(coef, loops.dims) * loops.steps
            moves.append(move)
            prefix.append(_running(np.add, move))
            # The move of the innermost real loop above each level (0 if none: a slot that
            # is not a real loop has no move).
            innermost.append([np.take_along_axis(move, np.maximum(last, 0)[None], axis=0)[0]
                              for last in loops.last_real])
        for i in range(1, self.nlevels):
            above = i * ndims
            simple_total = simple_before[above - 1] + moves_simple[above - 1]
            ok = simple_before[:above] == simple_total
            kept = np.ones((1, tile.shape[-1]), dtype=np.int32)
            for terms in plan.axes:
                if len(terms) < 2:
                    kept = kept * self._extent(terms, extents[i]).astype(np.int32)
            for move, total, last_moves, terms in zip(moves, prefix, innermost,
                                                      plan.sliding_axes, strict=True):
                jump = move[:above] - (total[above - 1] - total[:above])
                ok &= jump == last_moves[i - 1]
                extent = self._extent(terms, extents[i]).astype(np.int32)
                kept = kept * np.maximum(0, extent - np.abs(jump))
            saved = np.einsum("ij,ij->j", loops.weight[:above], kept * ok)
            enter.append(tile[i] * loops.cum_f[above - 1] - saved)
        return enter


@dataclass(frozen=True, slots=True)
class _Slots:
    """The temporal loops above the innermost level, one row per (level, order slot)."""

    dims: IntArray
    """[M, B] the dim of each slot."""
    nontrivial: BoolArray
    cum_f: IntArray
    """[M, B] product of the factors of this slot and every slot before it."""
    weight: IntArray
    """[M, B] (product of the factors before the slot) x (factor - 1): how many of the
    iterations are this loop's steps (the others are inner loops' steps or the start)."""
    steps: npt.NDArray[np.int32]
    """[M, B] how far one iteration of the slot's loop moves its dim (0 if factor 1)."""
    real_bits: IntArray
    """[M, B] 1 << dim for slots with a real loop (factor > 1), else 0."""
    last_real: list[IntArray]
    """Per level i >= 1 (index i - 1): [B] slot of the innermost real loop above it, or -1."""


def _bits(flags: BoolArray) -> int:
    """The bit mask of the dims flagged true."""
    return sum(1 << d for d, flag in enumerate(flags) if flag)


def _pick(mask: BoolArray | bool, value: IntArray, other: IntArray | int) -> IntArray:
    """`value` where `mask`, else `other` (a plain bool picks the whole row)."""
    if mask is True:
        return value
    if mask is False:
        return np.broadcast_to(np.asarray(other, dtype=np.int64), value.shape)
    result: IntArray = np.where(mask, value, other)
    return result


def _running(op: np.ufunc, rows: npt.NDArray[np.generic]) -> IntArray:
    """Running `op` down axis 0, row by row (numpy's axis-0 accumulate is slow for short,
    wide arrays)."""
    out = np.empty(rows.shape, dtype=np.result_type(rows.dtype, np.int32)
                   if rows.dtype == np.bool_ else rows.dtype)
    if rows.shape[0]:
        out[0] = rows[0]
    for r in range(1, rows.shape[0]):
        op(out[r - 1], rows[r], out=out[r])
    return out


def _last_per_level(real: BoolArray, nlevels: int, ndims: int) -> list[IntArray]:
    """Per level i >= 1 (index i - 1): [B] the last real slot among the first i*D, or -1."""
    rows = np.arange(real.shape[0], dtype=np.int64)[:, None]
    at = np.where(real, rows, -1)
    lasts = []
    current = np.full(real.shape[1:], -1, dtype=np.int64)
    for i in range(1, nlevels):
        current = np.maximum(current, np.max(at[(i - 1) * ndims:i * ndims], axis=0))
        lasts.append(current)
    return lasts


def encode(mappings: Sequence[Mapping], problem: Problem,
           arch: ArchModel) -> tuple[MappingBatch, tuple[frozenset[str], ...]]:
    """Arrays for `mappings` (not the hot path) and their shared keep sets.

    Raises ValueError when the mappings do not share their keep sets or a level has two
    temporal loops of one dim (the batch layout has one slot per dim per level)."""
    nlevels, ndims = len(arch.levels), len(problem.dims)
    fanout_index = {f.name: i for i, f in enumerate(arch.fanouts)}
    size = len(mappings)
    ft = np.ones((nlevels, ndims, size), dtype=np.int64)
    order = np.tile(np.arange(ndims, dtype=np.int64)[:, None], (nlevels, 1, size))
    sx = np.ones((len(arch.fanouts), ndims, size), dtype=np.int64)
    sy = np.ones_like(sx)
    keep: tuple[frozenset[str], ...] | None = None
    for b, mapping in enumerate(mappings):
        kept = tuple(level.keep for level in mapping.levels)
        if keep is None:
            keep = kept
        elif kept != keep:
            raise ValueError("the mappings of a batch must share their keep sets")
        if len(mapping.levels) != nlevels:
            raise ValueError(f"mapping {b} has {len(mapping.levels)} levels, "
                             f"the accelerator {nlevels}")
        for i, level in enumerate(mapping.levels):
            dims = [loop.dim for loop in level.temporal]
            if len(set(dims)) != len(dims):
                raise ValueError(f"mapping {b} has two temporal loops of one dim at "
                                 f"`{level.name}`; the batch layout has one slot per dim")
            for loop in level.temporal:
                ft[i, loop.dim, b] = loop.factor
            rest = [d for d in range(ndims) if d not in dims]
            order[i, :, b] = dims + rest
            for unrolled in level.spatial:
                target = sx if unrolled.axis == "x" else sy
                target[fanout_index[unrolled.fanout], unrolled.dim, b] *= unrolled.factor
    if keep is None:
        keep = tuple(frozenset() for _ in range(nlevels))
    return MappingBatch(ft, order, sx, sy), keep


def evaluate_batch(problem: Problem, arch: ArchModel, keep: Sequence[frozenset[str]],
                   batch: MappingBatch) -> BatchCost:
    """One-shot convenience; reuse a BatchEvaluator when evaluating many batches."""
    return BatchEvaluator(problem, arch, keep).evaluate(batch)
