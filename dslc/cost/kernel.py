"""A compiled (numba) twin of `BatchEvaluator`'s numpy path: one loop per mapping.

In: the batch arrays of `dslc.cost.batched` (batch last) and the evaluator's static tables,
packed by `KernelTables.build`. Out: the same `BatchCost` arrays, filled in place, equal to
the numpy path and the scalar model bit for bit (the property tests run every engine).

Why a second implementation of the same rules: the numpy path streams about 250 whole-array
operations per chunk through memory; here the ~20 small per-mapping quantities (tile
extents, loop slots, entries) stay in registers and a few small scratch arrays, which is
2-3x faster on a conv (docs/performance.md). Integer arithmetic is exact in any order, so
the kernel is free to restructure it (the sliding-window sum runs from the innermost loop
out, stopping at the first loop that moves a single-dim axis); floating-point operations
follow the numpy path's order exactly.

numba is optional (the `fast` extra). Without it, or for tensors whose multicast has no
closed form, `available()` is false and the numpy path runs. The kernel is compiled on
first use and cached on disk (numba's `cache=True`: seconds once per machine).

Not here: the numpy path's chunking (the kernel needs no temporaries), validity without
costs (`BatchEvaluator.fits` stays numpy: it is a few operations per level).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DISABLE_ENV = "DSLC_NO_JIT"
"""Set (to anything but empty or 0) to run the numpy path even when numba is installed."""

_compiled: Callable[..., None] | None = None
_loaded = False


def available() -> bool:
    """Whether the compiled kernel can run here (numba installed and not disabled)."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return False
    return _kernel() is not None


def _kernel() -> Callable[..., None] | None:
    global _compiled, _loaded
    if not _loaded:
        _loaded = True
        try:
            import numba  # noqa: F401
        except ImportError:
            _compiled = None
        else:
            _compiled = _define()
    return _compiled


@dataclass(frozen=True, slots=True)
class KernelTables:
    """Everything static about (problem, accelerator, keep choices), as flat numpy arrays
    the kernel reads (names mirror BatchEvaluator's attributes)."""

    ints: IntArray
    """[6] levels, dims, tensors, fanouts, imperfect (0/1), MACs of the problem."""
    fanout_owner: IntArray
    """[F] memory level owning each fanout."""
    fanout_mesh: IntArray
    """[F, 2] mesh X and Y."""
    allowed: BoolArray
    """[F, 2, D] dims a fanout axis may unroll."""
    level_ints: IntArray
    """[L, 6] has fanouts, size in words (-1: unbounded), buffering, block words,
    instances, some keep choice keeps something here (0/1)."""
    level_floats: FloatArray
    """[L, 6] read, write, update energy (pJ), leakage (pJ/cycle), read and write
    bandwidth (words/cycle; NaN: unlimited). With a shared port, the read column holds the
    shared bandwidth and the write column is NaN (see `shared`)."""
    shared: BoolArray
    """[L] the level's reads and writes share one port."""
    axis_count: IntArray
    """[T] axes of each tensor."""
    axis_terms: IntArray
    """[T, A] terms of each axis."""
    axis_dim: IntArray
    """[T, A, K] the dim of each term."""
    axis_coef: IntArray
    """[T, A, K] the coefficient of each term."""
    coef_dense: IntArray
    """[T, A, D] the coefficient of each dim in each axis (0: not there)."""
    tensor_flags: IntArray
    """[T, 2] is the output (0/1), has sliding (multi-dim) axes (0/1)."""
    relevant: BoolArray
    """[T, D] dims that index the tensor."""
    simple: BoolArray
    """[T, D] dims in a single-dim axis of the tensor."""
    whole_words: IntArray
    """[T] the tensor's size (perfect mappings)."""
    kept: BoolArray
    """[K, L, T] keep choice k keeps tensor t at level l."""
    first_keeper: IntArray
    """[K, T] the outermost level keeping the tensor (-1: none)."""
    static_valid: BoolArray
    """[K] keep choices valid whatever the factors."""
    bounds: IntArray
    """[D] the problem's bounds."""
    compute_floats: FloatArray
    """[5] quantised MAC energy of the problem (pJ), MAC energy (pJ), MAC leakage
    (pJ/cycle), bandwidth slack, energy quantum (pJ)."""
    compute_instances: int

    def arguments(self) -> tuple[Any, ...]:
        return (self.ints, self.fanout_owner, self.fanout_mesh, self.allowed, self.level_ints,
                self.level_floats, self.shared, self.axis_count, self.axis_terms,
                self.axis_dim, self.axis_coef, self.coef_dense, self.tensor_flags,
                self.relevant, self.simple,
                self.whole_words, self.kept, self.first_keeper, self.static_valid,
                self.bounds, self.compute_floats, self.compute_instances)


def run(tables: KernelTables, ft: IntArray, order: IntArray, sx: IntArray, sy: IntArray,
        keep_ids: IntArray, out: dict[str, npt.NDArray[Any]]) -> None:
    """Evaluate the batch into the arrays of `out` (BatchCost's fields, full batch)."""
    kernel = _kernel()
    assert kernel is not None, "the compiled kernel is not available"
    kernel(*(np.ascontiguousarray(a, dtype=np.int64) for a in (ft, order, sx, sy, keep_ids)),
           *tables.arguments(),
           out["valid"], out["energy_pj"], out["cycles"], out["compute_cycles"],
           out["utilization"], out["reads"], out["fills"], out["updates"],
           out["utilized_instances"], out["tensor_energy_pj"], out["leakage_energy_pj"],
           out["compute_energy_pj"])


def _define() -> Callable[..., None]:
    """Compile-on-first-call definitions (numba is imported only here)."""
    from numba import njit

    jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
    inline = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy",
                  inline="always")

    @inline
    def gcd(a: int, b: int) -> int:
        while b:
            a, b = b, a % b
        return a

    @inline
    def quantize(x: float, quantum: float) -> float:
        return float(np.rint(x / quantum) * quantum)

    @inline
    def ceil_bandwidth(words: int, bandwidth: float, slack: float) -> int:
        if np.isnan(bandwidth) or words == 0:
            return 0
        return int(np.ceil(words / bandwidth * slack))

    @inline
    def blocks(words: int, block: int) -> int:
        if block == 1:
            return words
        return -((-words) // block)

    @jit
    def kernel(ft: IntArray, order: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray,
               ints: IntArray, fanout_owner: IntArray, fanout_mesh: IntArray,
               allowed: BoolArray, level_ints: IntArray, level_floats: FloatArray,
               shared: BoolArray, axis_count: IntArray, axis_terms: IntArray,
               axis_dim: IntArray, axis_coef: IntArray, coef_dense: IntArray,
               tensor_flags: IntArray, relevant: BoolArray, simple: BoolArray,
               whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
               static_valid: BoolArray, bounds: IntArray, compute_floats: FloatArray,
               compute_instances: int,
               out_valid: BoolArray, out_energy: FloatArray, out_cycles: IntArray,
               out_compute_cycles: IntArray, out_utilization: FloatArray,
               out_reads: IntArray, out_fills: IntArray, out_updates: IntArray,
               out_utilized: IntArray, out_tensor_energy: FloatArray,
               out_leakage: FloatArray, out_compute_energy: FloatArray) -> None:
        nlevels, ndims, ntensors, nfanouts = ints[0], ints[1], ints[2], ints[3]
        imperfect, macs = ints[4] != 0, ints[5]
        mac_energy_const, mac_energy, mac_leak, slack, quantum = (
            compute_floats[0], compute_floats[1], compute_floats[2], compute_floats[3],
            compute_floats[4])
        size = ft.shape[2]
        naxes_max = axis_terms.shape[1]
        nslots = max((nlevels - 1) * ndims, 1)
        # Mappings go in blocks: the regular stages loop over a block's mappings innermost
        # (contiguous rows that stay in L1, which LLVM vectorises); only the loop slots and
        # the sliding-window sums, which branch on each mapping's loops, run per mapping.
        blk = 256
        spatial = np.empty((nlevels, ndims, blk), dtype=np.int64)
        extents = np.empty((nlevels + 1, ndims, blk), dtype=np.int64)
        steps = np.empty((nlevels, ndims, blk), dtype=np.int64)
        compute_cycles = np.empty(blk, dtype=np.int64)
        utilized = np.empty((nlevels, blk), dtype=np.int64)
        valid = np.empty(blk, dtype=np.bool_)
        covered = np.empty(blk, dtype=np.bool_)
        keep = np.empty(blk, dtype=np.int64)
        counter = np.empty(blk, dtype=np.int64)
        other = np.empty(blk, dtype=np.int64)
        tiles = np.empty((nlevels, ntensors, blk), dtype=np.int64)
        axis_extents = np.empty((nlevels, naxes_max, blk), dtype=np.int64)
        enter = np.empty((nlevels, blk), dtype=np.int64)
        partition = np.empty((nlevels, blk), dtype=np.int64)
        below = np.empty(blk, dtype=np.int64)
        served = np.empty((nlevels, blk), dtype=np.int64)
        cycles = np.empty(blk, dtype=np.int64)
        energy_sum = np.empty(blk)
        # The real loops (factor > 1) above the innermost level, outer to inner, per mapping:
        # the only ones that move a tile (a factor-1 loop has no steps: weight 0, no move).
        real_dim = np.empty((blk, nslots + 1), dtype=np.int64)
        real_cum = np.empty((blk, nslots + 1), dtype=np.int64)
        real_weight = np.empty((blk, nslots + 1), dtype=np.int64)
        real_step = np.empty((blk, nslots + 1), dtype=np.int64)
        real_above = np.empty((blk, nlevels), dtype=np.int64)
        suffix = np.empty(naxes_max, dtype=np.int64)
        sliding_axes = np.empty((ntensors, naxes_max), dtype=np.int64)
        last_move = np.empty(naxes_max, dtype=np.int64)

        for start in range(0, size, blk):
            n = min(blk, size - start)
            stop = start + n
            keep[:n] = keep_ids[start:stop]
            # -- geometry --
            for i in range(nlevels):
                for d in range(ndims):
                    for bb in range(n):
                        spatial[i, d, bb] = 1
            for f in range(nfanouts):
                o = fanout_owner[f]
                for d in range(ndims):
                    for bb in range(n):
                        spatial[o, d, bb] *= sx[f, d, start + bb] * sy[f, d, start + bb]
            for d in range(ndims):
                for bb in range(n):
                    extents[nlevels, d, bb] = 1
            for bb in range(n):
                compute_cycles[bb] = 1
            for i in range(nlevels - 1, -1, -1):
                for d in range(ndims):
                    for bb in range(n):
                        f_t = ft[i, d, start + bb]
                        compute_cycles[bb] *= f_t
                        step = spatial[i, d, bb] * extents[i + 1, d, bb]
                        steps[i, d, bb] = step
                        extents[i, d, bb] = step * f_t
            for bb in range(n):
                utilized[0, bb] = 1
            for i in range(1, nlevels):
                for bb in range(n):
                    utilized[i, bb] = utilized[i - 1, bb]
                for d in range(ndims):
                    for bb in range(n):
                        utilized[i, bb] *= spatial[i - 1, d, bb]

            # -- real loops above the innermost level (per mapping) --
            for bb in range(n):
                running = 1
                nreal = 0
                real_above[bb, 0] = 0
                for level in range(nlevels - 1):
                    for slot in range(ndims):
                        d = order[level, slot, start + bb]
                        f_t = ft[level, d, start + bb]
                        # Branch-free: a factor-1 slot is written and then overwritten
                        # (whether a slot is real is a coin toss the predictor loses).
                        real_dim[bb, nreal] = d
                        real_weight[bb, nreal] = running * (f_t - 1)
                        running *= f_t
                        real_cum[bb, nreal] = running
                        real_step[bb, nreal] = steps[level, d, bb]
                        nreal += f_t > 1
                    real_above[bb, level + 1] = nreal

            # -- validity: keep choice, coverage, meshes, dataflow --
            for bb in range(n):
                valid[bb] = static_valid[keep[bb]]
                covered[bb] = True
            if imperfect:
                for bb in range(n):
                    for d in range(ndims):
                        first = 1
                        for i in range(nlevels - 1, -1, -1):
                            for f in range(nfanouts - 1, -1, -1):
                                if fanout_owner[f] == i:
                                    if sy[f, d, start + bb] > 1:
                                        first = sy[f, d, start + bb]
                                    if sx[f, d, start + bb] > 1:
                                        first = sx[f, d, start + bb]
                            if ft[i, d, start + bb] > 1:
                                first = ft[i, d, start + bb]
                        total = extents[0, d, bb]
                        if not (total >= bounds[d] and total - bounds[d] < total // first):
                            covered[bb] = False
            else:
                for d in range(ndims):
                    for bb in range(n):
                        covered[bb] &= extents[0, d, bb] == bounds[d]
            for bb in range(n):
                valid[bb] &= covered[bb]
            for f in range(nfanouts):
                for bb in range(n):
                    counter[bb] = 1
                    other[bb] = 1
                for d in range(ndims):
                    for bb in range(n):
                        counter[bb] *= sx[f, d, start + bb]
                        other[bb] *= sy[f, d, start + bb]
                    if not allowed[f, 0, d]:
                        for bb in range(n):
                            valid[bb] &= sx[f, d, start + bb] <= 1
                    if not allowed[f, 1, d]:
                        for bb in range(n):
                            valid[bb] &= sy[f, d, start + bb] <= 1
                for bb in range(n):
                    valid[bb] &= (counter[bb] <= fanout_mesh[f, 0]) \
                        & (other[bb] <= fanout_mesh[f, 1])

            # -- tensors --
            for t in range(ntensors):
                naxes = axis_count[t]
                for i in range(nlevels):
                    for bb in range(n):
                        tiles[i, t, bb] = 1
                    for a in range(naxes):
                        for bb in range(n):
                            axis_extents[i, a, bb] = 1
                        for kk in range(axis_terms[t, a]):
                            c = abs(axis_coef[t, a, kk])
                            d = axis_dim[t, a, kk]
                            if c == 1:
                                for bb in range(n):
                                    axis_extents[i, a, bb] += extents[i, d, bb] - 1
                            else:
                                for bb in range(n):
                                    axis_extents[i, a, bb] += c * (extents[i, d, bb] - 1)
                        for bb in range(n):
                            tiles[i, t, bb] *= axis_extents[i, a, bb]
                for bb in range(n):
                    enter[0, bb] = tiles[0, t, bb]
                if tensor_flags[t, 1] == 0:
                    # A x the running factor product at the innermost relevant loop.
                    for bb in range(n):
                        for i in range(1, nlevels):
                            reach = 1
                            for r in range(real_above[bb, i] - 1, -1, -1):
                                if relevant[t, real_dim[bb, r]]:
                                    reach = real_cum[bb, r]
                                    break
                            enter[i, bb] = tiles[i, t, bb] * reach
                else:
                    nsliding = 0
                    for a in range(naxes):
                        if axis_terms[t, a] >= 2:
                            sliding_axes[t, nsliding] = a
                            nsliding += 1
                    for bb in range(n):
                        for i in range(1, nlevels):
                            inner = real_above[bb, i] - 1
                            base = 1
                            for a in range(naxes):
                                if axis_terms[t, a] < 2:
                                    base *= axis_extents[i, a, bb]
                            for s_axis in range(nsliding):
                                a = sliding_axes[t, s_axis]
                                suffix[s_axis] = 0
                                if inner >= 0:
                                    last_move[s_axis] = coef_dense[t, a, real_dim[bb, inner]] \
                                        * real_step[bb, inner]
                                else:
                                    last_move[s_axis] = 0
                            # From the innermost loop out: `suffix` sums the moves of the
                            # loops inside; a loop on a single-dim axis ends the reuse of
                            # every loop outside it.
                            saved = 0
                            for r in range(inner, -1, -1):
                                d = real_dim[bb, r]
                                if simple[t, d]:
                                    break
                                kept_words = base
                                ok = True
                                step = real_step[bb, r]
                                for s_axis in range(nsliding):
                                    a = sliding_axes[t, s_axis]
                                    move = coef_dense[t, a, d] * step
                                    jump = move - suffix[s_axis]
                                    suffix[s_axis] += move
                                    ok &= jump == last_move[s_axis]
                                    overlap = axis_extents[i, a, bb] - abs(jump)
                                    kept_words *= overlap if overlap > 0 else 0
                                if ok:
                                    saved += real_weight[bb, r] * kept_words
                            total_iterations = real_cum[bb, inner] if inner >= 0 else 1
                            enter[i, bb] = tiles[i, t, bb] * total_iterations - saved
                # Partitions below fanouts (outputs: the first fill is not read).
                for bb in range(n):
                    partition[0, bb] = tiles[0, t, bb]
                for i in range(1, nlevels):
                    if not level_ints[i - 1, 0]:
                        for bb in range(n):
                            partition[i, bb] = partition[i - 1, bb]
                        continue
                    for bb in range(n):
                        counter[bb] = 1
                    for a in range(naxes):
                        for bb in range(n):
                            other[bb] = 1
                        for kk in range(axis_terms[t, a]):
                            c = abs(axis_coef[t, a, kk])
                            d = axis_dim[t, a, kk]
                            for bb in range(n):
                                other[bb] += c * (extents[i, d, bb] * spatial[i - 1, d, bb] - 1)
                        for bb in range(n):
                            counter[bb] *= other[bb]
                    for bb in range(n):
                        union = counter[bb]
                        tile = tiles[i, t, bb]
                        partition[i, bb] = partition[i - 1, bb] if union == tile \
                            else partition[i - 1, bb] * tile // union
                for bb in range(n):
                    below[bb] = compute_cycles[bb]
                for i in range(nlevels - 1, -1, -1):
                    if i < nlevels - 1:
                        for bb in range(n):
                            if kept[keep[bb], i + 1, t]:
                                below[bb] = enter[i + 1, bb]
                    if level_ints[i, 0]:
                        # Distinct child tiles across the fanouts' spatial loops.
                        for a in range(naxes):
                            if axis_terms[t, a] == 1:
                                d = axis_dim[t, a, 0]
                                for bb in range(n):
                                    below[bb] *= spatial[i, d, bb]
                                continue
                            d1 = axis_dim[t, a, 0]
                            d2 = axis_dim[t, a, 1]
                            c1 = abs(axis_coef[t, a, 0])
                            c2 = abs(axis_coef[t, a, 1])
                            for bb in range(n):
                                f1 = spatial[i, d1, bb]
                                f2 = spatial[i, d2, bb]
                                distinct = f1 * f2
                                if f1 > 1 and f2 > 1:
                                    w1 = c1 * extents[i + 1, d1, bb]
                                    w2 = c2 * extents[i + 1, d2, bb]
                                    g = gcd(w1, w2)
                                    r1 = f1 - w2 // g
                                    r2 = f2 - w1 // g
                                    distinct -= (r1 if r1 > 0 else 0) * (r2 if r2 > 0 else 0)
                                below[bb] *= distinct
                    for bb in range(n):
                        served[i, bb] = below[bb]
                output = tensor_flags[t, 0] != 0
                for bb in range(n):
                    k = keep[bb]
                    above_keeps = False
                    for i in range(nlevels):
                        if not kept[k, i, t]:
                            out_reads[i, t, start + bb] = 0
                            out_fills[i, t, start + bb] = 0
                            out_updates[i, t, start + bb] = 0
                            continue
                        if output:
                            out_reads[i, t, start + bb] = served[i, bb] - partition[i, bb]
                            out_updates[i, t, start + bb] = served[i, bb]
                            out_fills[i, t, start + bb] = \
                                enter[i, bb] - partition[i, bb] if above_keeps else 0
                        else:
                            out_reads[i, t, start + bb] = served[i, bb]
                            out_updates[i, t, start + bb] = 0
                            out_fills[i, t, start + bb] = enter[i, bb] if above_keeps else 0
                        above_keeps = True
                    # The outermost keeper must hold the whole tensor.
                    first_level = first_keeper[k, t]
                    if covered[bb] and first_level >= 0:
                        whole = whole_words[t]
                        if imperfect:
                            whole = 1
                            for a in range(naxes):
                                extent = 1
                                for kk in range(axis_terms[t, a]):
                                    c = abs(axis_coef[t, a, kk])
                                    extent += c * (extents[0, axis_dim[t, a, kk], bb] - 1)
                                whole *= extent
                        if tiles[first_level, t, bb] < whole:
                            valid[bb] = False
            for i in range(nlevels):
                capacity = level_ints[i, 1]
                if capacity >= 0 and level_ints[i, 5]:
                    for bb in range(n):
                        counter[bb] = 0
                    for t in range(ntensors):
                        for bb in range(n):
                            if kept[keep[bb], i, t]:
                                counter[bb] += tiles[i, t, bb]
                    buffering = level_ints[i, 2]
                    for bb in range(n):
                        valid[bb] &= counter[bb] * buffering <= capacity

            # -- cycles --
            for bb in range(n):
                cycles[bb] = compute_cycles[bb]
            for i in range(nlevels):
                read_bw = level_floats[i, 4]
                write_bw = level_floats[i, 5]
                for bb in range(n):
                    r_words = 0
                    w_words = 0
                    for t in range(ntensors):
                        r_words += out_reads[i, t, start + bb]
                        w_words += out_fills[i, t, start + bb] + out_updates[i, t, start + bb]
                    if shared[i]:
                        bound = ceil_bandwidth(r_words + w_words, read_bw, slack)
                    else:
                        bound = max(ceil_bandwidth(r_words, read_bw, slack),
                                    ceil_bandwidth(w_words, write_bw, slack))
                    if bound > cycles[bb]:
                        cycles[bb] = bound

            # -- energy, in the numpy path's order of floating-point operations --
            for bb in range(n):
                energy_sum[bb] = 0.0
            for i in range(nlevels):
                block_words = level_ints[i, 3]
                read_pj, write_pj, update_pj = (level_floats[i, 0], level_floats[i, 1],
                                                level_floats[i, 2])
                for t in range(ntensors):
                    if level_ints[i, 5]:
                        for bb in range(n):
                            b = start + bb
                            per_instance = (blocks(out_reads[i, t, b], block_words) * read_pj
                                            + blocks(out_fills[i, t, b], block_words) * write_pj
                                            + blocks(out_updates[i, t, b], block_words)
                                            * update_pj)
                            energy = quantize(per_instance * utilized[i, bb], quantum)
                            out_tensor_energy[i, t, b] = energy
                            energy_sum[bb] += energy
                    else:
                        for bb in range(n):
                            out_tensor_energy[i, t, start + bb] = 0.0
                            energy_sum[bb] += 0.0
            for bb in range(n):
                leakage_sum = 0.0
                for i in range(nlevels):
                    leak = level_floats[i, 3]
                    leakage = quantize(leak * cycles[bb] * level_ints[i, 4], quantum) \
                        if leak != 0.0 else 0.0
                    out_leakage[i, start + bb] = leakage
                    leakage_sum += leakage
                    out_utilized[i, start + bb] = utilized[i, bb]
                if imperfect:
                    run_macs = 1
                    for d in range(ndims):
                        run_macs *= extents[0, d, bb]
                    mac_total = quantize(run_macs * mac_energy, quantum)
                else:
                    mac_total = mac_energy_const
                compute_energy = mac_total + quantize(mac_leak * cycles[bb] * compute_instances,
                                                      quantum)
                b = start + bb
                out_energy[b] = energy_sum[bb] + leakage_sum + compute_energy
                out_utilization[b] = macs / (cycles[bb] * compute_instances)
                out_valid[b] = valid[bb]
                out_cycles[b] = cycles[bb]
                out_compute_cycles[b] = compute_cycles[bb]
                out_compute_energy[b] = compute_energy

    return kernel
