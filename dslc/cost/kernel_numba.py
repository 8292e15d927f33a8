"""The numba functions of the compiled cost kernel (imported only by `dslc.cost.kernel`,
and only when numba is installed).

In: batch arrays (batch last) and the `KernelTables` arrays, unpacked. Out: BatchCost's
arrays filled in place. The kernel runs the batch in blocks of BLOCK mappings through one
function per stage. The regular stages loop over a block's mappings innermost (contiguous
rows that stay in L1 and that LLVM vectorises); the loop slots and the sliding-window sums,
which branch on each mapping's loops, run mapping by mapping. Separate stage functions keep
each one's live values few enough for the registers (one big function spilled constantly).

The functions live at module level, not in a closure: numba's disk cache keys a closure's
free variables by identity, so closures calling other jitted functions were compiled anew in
every process.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit


def _numba_random_interval() -> Any:
    """numba's translation of numpy's bounded integer draw (numpy's `random_interval`,
    on a Generator's bit generator), or None in a numba without it."""
    try:
        module = importlib.import_module("numba.np.random.random_methods")
    except ImportError:  # pragma: no cover
        return None
    return getattr(module, "random_interval", None)


_random_interval = _numba_random_interval()

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BLOCK = 256
"""Mappings per block (64-1,024 measured within noise of each other)."""


jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
jit_inline = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy",
                  inline="always")
"""For the small helpers taking arrays that run once per candidate: inlined in numba's IR,
so a call takes no reference on each array argument (two atomic operations each; the
reference counts were 6% of the search's time)."""


@jit
def gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


@jit
def quantize(x: float, quantum: float) -> float:
    return float(np.rint(x / quantum) * quantum)


CYCLE_CAP = 1 << 62
"""dslc.cost.model.CYCLE_CAP (a test checks they agree; this module imports no dslc)."""


@jit
def ceil_bandwidth(words: int, bandwidth: float, slack: float) -> int:
    if np.isnan(bandwidth) or words == 0:
        return 0
    # Saturated before the cast, which wraps a float past 2^63 to a negative count.
    return int(min(np.ceil(words / bandwidth * slack), float(CYCLE_CAP)))


@jit
def blocks(words: int, block: int, shift: int) -> int:
    """ceil(words / block); a shift for the usual power-of-two blocks (a 64-bit
    division, three per tensor and level, was a tenth of the kernel's time)."""
    if shift >= 0:
        return (words + block - 1) >> shift
    return -((-words) // block)


@jit
def geometry(ft: IntArray, sx: IntArray, sy: IntArray, start: int, n: int,
             fanout_owner: IntArray, spatial: IntArray, extents: IntArray,
             steps: IntArray, compute_cycles: IntArray, utilized: IntArray) -> None:
    nlevels, ndims = ft.shape[0], ft.shape[1]
    for i in range(nlevels):
        for d in range(ndims):
            for bb in range(n):
                spatial[i, d, bb] = 1
    for f in range(fanout_owner.shape[0]):
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


@jit
def loop_slots(ft: IntArray, order: IntArray, start: int, n: int, steps: IntArray,
               real_dim: IntArray, real_cum: IntArray, real_step: IntArray,
               real_above: IntArray) -> None:
    """Per mapping, the real loops (factor > 1) above the innermost level, outer to
    inner: the only loops that move a tile (a factor-1 loop has no steps)."""
    nlevels, ndims = ft.shape[0], ft.shape[1]
    # Slot by slot across the block: each mapping's chain of dependent stores then
    # interleaves with the other mappings' (stores land at [slot, mapping]).
    running = np.ones(n, dtype=np.int64)
    nreal = np.zeros(n, dtype=np.int64)
    for bb in range(n):
        real_above[0, bb] = 0
    for level in range(nlevels - 1):
        for slot in range(ndims):
            for bb in range(n):
                d = order[level, slot, start + bb]
                # Indices read from data are cast to unsigned: numba then skips the
                # negative-index wraparound (half the time of such a lookup).
                du = np.uint64(d)
                f_t = ft[level, du, start + bb]
                # Branch-free: a factor-1 slot is written, then overwritten (whether a
                # slot is real is a coin toss the branch predictor loses).
                cum = running[bb] * f_t
                running[bb] = cum
                r = nreal[bb]
                ru = np.uint64(r)
                real_dim[ru, bb] = d
                real_cum[ru, bb] = cum
                real_step[ru, bb] = steps[level, du, bb]
                nreal[bb] = r + (f_t > 1)
        for bb in range(n):
            real_above[level + 1, bb] = nreal[bb]


@jit
def validity(ft: IntArray, sx: IntArray, sy: IntArray, start: int, n: int,
             keep: IntArray, imperfect: bool, fanout_owner: IntArray,
             fanout_mesh: IntArray, allowed: BoolArray, static_valid: BoolArray,
             bounds: IntArray, extents: IntArray, valid: BoolArray, covered: BoolArray,
             counter: IntArray, other: IntArray) -> None:
    """Keep choice, coverage, meshes and dataflow (capacity comes with the tiles)."""
    nlevels, ndims, nfanouts = ft.shape[0], ft.shape[1], fanout_owner.shape[0]
    for bb in range(n):
        valid[bb] = static_valid[np.uint64(keep[bb])]
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


@jit
def tile_words(t: int, n: int, axis_count: IntArray, axis_terms: IntArray,
               axis_dim: IntArray, axis_coef: IntArray, extents: IntArray,
               tiles: IntArray, axis_extents: IntArray) -> None:
    """Tile words of tensor t at every level, and each axis's extent there."""
    for i in range(tiles.shape[0]):
        for bb in range(n):
            tiles[i, t, bb] = 1
        for a in range(axis_count[t]):
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


@jit
def entries_plain(t: int, n: int, relevant: BoolArray, real_dim: IntArray,
                  real_cum: IntArray, real_above: IntArray, tiles: IntArray,
                  enter: IntArray) -> None:
    """Entries of a tensor without sliding axes: A x the running factor product at the
    innermost loop above that indexes the tensor."""
    for bb in range(n):
        enter[0, bb] = tiles[0, t, bb]
        for i in range(1, tiles.shape[0]):
            reach = 1
            for r in range(real_above[i, bb] - 1, -1, -1):
                ru = np.uint64(r)
                if relevant[t, np.uint64(real_dim[ru, bb])]:
                    reach = real_cum[ru, bb]
                    break
            enter[i, bb] = tiles[i, t, bb] * reach


@jit
def entries_sliding(t: int, n: int, axis_count: IntArray, axis_terms: IntArray,
                    coef_dense: IntArray, simple: BoolArray, real_dim: IntArray,
                    real_cum: IntArray, real_step: IntArray, real_above: IntArray,
                    tiles: IntArray, axis_extents: IntArray, enter: IntArray) -> None:
    """Entries of a tensor with sliding-window axes: every iteration brings the tile
    minus its overlap with the previous one (the numpy path's sum, restructured)."""
    naxes = axis_count[t]
    sliding = np.empty(naxes, dtype=np.int64)
    nsliding = 0
    for a in range(naxes):
        if axis_terms[t, a] >= 2:
            sliding[nsliding] = a
            nsliding += 1
    suffix = np.empty(nsliding, dtype=np.int64)
    last_move = np.empty(nsliding, dtype=np.int64)
    for bb in range(n):
        enter[0, bb] = tiles[0, t, bb]
        for i in range(1, tiles.shape[0]):
            inner = real_above[i, bb] - 1
            base = 1
            for a in range(naxes):
                if axis_terms[t, a] < 2:
                    base *= axis_extents[i, a, bb]
            for s in range(nsliding):
                suffix[s] = 0
                if inner >= 0:
                    iu = np.uint64(inner)
                    last_move[s] = coef_dense[t, np.uint64(sliding[s]),
                                              np.uint64(real_dim[iu, bb])] \
                        * real_step[iu, bb]
                else:
                    last_move[s] = 0
            # From the innermost loop out: `suffix` sums the moves of the loops inside;
            # a loop on a single-dim axis ends the reuse of every loop outside it.
            saved = 0
            for r in range(inner, -1, -1):
                ru = np.uint64(r)
                du = np.uint64(real_dim[ru, bb])
                if simple[t, du]:
                    break
                kept_words = base
                ok = True
                step = real_step[ru, bb]
                for s in range(nsliding):
                    au = np.uint64(sliding[s])
                    move = coef_dense[t, au, du] * step
                    jump = move - suffix[s]
                    suffix[s] += move
                    ok &= jump == last_move[s]
                    overlap = axis_extents[i, au, bb] - abs(jump)
                    kept_words *= overlap if overlap > 0 else 0
                if ok:
                    # This loop's iterations: (its factor - 1) x the loops outside.
                    before = real_cum[np.uint64(r - 1), bb] if r > 0 else 1
                    saved += (real_cum[ru, bb] - before) * kept_words
            total_iterations = real_cum[inner, bb] if inner >= 0 else 1
            enter[i, bb] = tiles[i, t, bb] * total_iterations - saved


@jit
def block_geometry(sx: IntArray, sy: IntArray, start: int, n: int, fanout_block: IntArray,
                   level_blocks: IntArray, extents: IntArray, block_spatial: IntArray,
                   block_inner: IntArray) -> None:
    """Per multicast block of a level with several: its spatial factors, and (but for the
    innermost) the extents of one child's tile, the level below times the blocks nested
    inside it. A level's only block needs neither: its factors are the level's spatial
    factors and its children are the level below (`counts` reads those directly)."""
    nlevels, ndims = extents.shape[0] - 1, extents.shape[1]
    for f in range(fanout_block.shape[0]):
        b = fanout_block[f]
        o = 0
        while level_blocks[o + 1] <= b:
            o += 1
        if level_blocks[o + 1] - level_blocks[o] < 2:
            continue
        first = f == 0 or fanout_block[f - 1] != b
        for d in range(ndims):
            for bb in range(n):
                factor = sx[f, d, start + bb] * sy[f, d, start + bb]
                block_spatial[b, d, bb] = factor if first else block_spatial[b, d, bb] * factor
    for o in range(nlevels):
        first_block, last = level_blocks[o], level_blocks[o + 1] - 1
        if last - first_block < 1:
            continue
        for b in range(last - 1, first_block - 1, -1):
            below = extents[o + 1] if b + 1 == last else block_inner[b + 1]
            for d in range(ndims):
                for bb in range(n):
                    block_inner[b, d, bb] = below[d, bb] * block_spatial[b + 1, d, bb]


@jit
def box(t: int, n: int, axis_count: IntArray, axis_terms: IntArray, axis_dim: IntArray,
        axis_coef: IntArray, spans: IntArray, factors: IntArray, scale: bool,
        words: IntArray, other: IntArray) -> None:
    """Words of tensor t's bounding box when dim d spans spans[d] (times factors[d] when
    `scale`), for each mapping of the block."""
    for bb in range(n):
        words[bb] = 1
    for a in range(axis_count[t]):
        for bb in range(n):
            other[bb] = 1
        for kk in range(axis_terms[t, a]):
            c = abs(axis_coef[t, a, kk])
            d = axis_dim[t, a, kk]
            if scale:
                for bb in range(n):
                    other[bb] += c * (spans[d, bb] * factors[d, bb] - 1)
            else:
                for bb in range(n):
                    other[bb] += c * (spans[d, bb] - 1)
        for bb in range(n):
            words[bb] *= other[bb]


@jit
def counts(t: int, base: int, n: int, keep: IntArray, level_blocks: IntArray,
           axis_count: IntArray, axis_terms: IntArray, axis_dim: IntArray,
           axis_coef: IntArray, tensor_flags: IntArray, relevant: BoolArray, kept: BoolArray,
           spatial: IntArray, extents: IntArray, block_spatial: IntArray,
           block_inner: IntArray, compute_cycles: IntArray,
           tiles: IntArray, enter: IntArray, partition: IntArray, below: IntArray,
           served: IntArray, counter: IntArray, other: IntArray, child: IntArray,
           out_reads: IntArray, out_fills: IntArray, out_updates: IntArray) -> None:
    """Reads, fills and updates of tensor t at every level."""
    nlevels = tiles.shape[0]
    naxes = axis_count[t]
    # Partitions through each multicast block of the level above, outermost first,
    # rounded down at every block (outputs: the first fill is not read).
    for bb in range(n):
        partition[0, bb] = tiles[0, t, bb]
    for i in range(1, nlevels):
        for bb in range(n):
            partition[i, bb] = partition[i - 1, bb]
        first, last = level_blocks[i - 1], level_blocks[i] - 1
        for b in range(first, last + 1):
            factors = spatial[i - 1] if first == last else block_spatial[b]
            inner = extents[i] if b == last else block_inner[b]
            box(t, n, axis_count, axis_terms, axis_dim, axis_coef, inner, factors, True,
                counter, other)
            if b == last:  # a child of the innermost block is a tile of level i
                for bb in range(n):
                    union = counter[bb]
                    tile = tiles[i, t, bb]
                    if union != tile:
                        partition[i, bb] = partition[i, bb] * tile // union
                continue
            box(t, n, axis_count, axis_terms, axis_dim, axis_coef, inner, factors, False,
                child, other)
            for bb in range(n):
                union = counter[bb]
                if union != child[bb]:
                    partition[i, bb] = partition[i, bb] * child[bb] // union
    ndims = extents.shape[1]
    # served[i]: what level i hands down if it keeps the tensor.
    for bb in range(n):
        below[bb] = compute_cycles[bb]
    for i in range(nlevels - 1, -1, -1):
        if i < nlevels - 1:
            for bb in range(n):
                if kept[np.uint64(keep[bb]), i + 1, t]:
                    below[bb] = enter[i + 1, bb]
        # Distinct child tiles across each multicast block's spatial loops.
        first, last = level_blocks[i], level_blocks[i + 1] - 1
        for b in range(first, last + 1):
            factors = spatial[i] if first == last else block_spatial[b]
            inner = extents[i + 1] if b == last else block_inner[b]
            for a in range(naxes):
                if axis_terms[t, a] == 0:
                    continue  # a constant axis (an einsum's `W[k, 0]`): one tile for all
                if axis_terms[t, a] == 1:
                    d = axis_dim[t, a, 0]
                    for bb in range(n):
                        below[bb] *= factors[d, bb]
                    continue
                d1 = axis_dim[t, a, 0]
                d2 = axis_dim[t, a, 1]
                c1 = abs(axis_coef[t, a, 0])
                c2 = abs(axis_coef[t, a, 1])
                for bb in range(n):
                    f1 = factors[d1, bb]
                    f2 = factors[d2, bb]
                    distinct = f1 * f2
                    if f1 > 1 and f2 > 1:
                        w1 = c1 * inner[d1, bb]
                        w2 = c2 * inner[d2, bb]
                        g = gcd(w1, w2)
                        r1 = f1 - w2 // g
                        r2 = f2 - w1 // g
                        distinct -= (r1 if r1 > 0 else 0) * (r2 if r2 > 0 else 0)
                    below[bb] *= distinct
        for bb in range(n):
            served[i, bb] = below[bb]
    output = tensor_flags[t, 0] != 0
    for bb in range(n):
        k = np.uint64(keep[bb])
        b = base + bb
        above_keeps = False
        for i in range(nlevels):
            if not kept[k, i, t]:
                out_reads[i, t, b] = 0
                out_fills[i, t, b] = 0
                out_updates[i, t, b] = 0
                continue
            if output:
                # First reads elided: at most the outputs an instance's operations touch,
                # per dim indexing the tensor its whole range over the spatial factors above
                # the level (model.first_touches), multiplied.
                touched = 1
                for d in range(ndims):
                    if relevant[t, d]:
                        run = extents[0, d, bb]
                        for j in range(i):
                            # most spatial factors are 1: no division for them (the hot
                            # path), and floor(floor(a / b) / c) = floor(a / (b c))
                            factor = spatial[j, d, bb]
                            if factor != 1:
                                run //= factor
                        touched *= run
                first = touched if touched < partition[i, bb] else partition[i, bb]
                out_reads[i, t, b] = served[i, bb] - first
                out_updates[i, t, b] = served[i, bb]
                refill = enter[i, bb] - partition[i, bb]
                out_fills[i, t, b] = refill if above_keeps and refill > 0 else 0
            else:
                out_reads[i, t, b] = served[i, bb]
                out_updates[i, t, b] = 0
                out_fills[i, t, b] = enter[i, bb] if above_keeps else 0
            above_keeps = True


@jit
def backing_store(t: int, n: int, keep: IntArray, imperfect: bool, axis_count: IntArray,
                  axis_terms: IntArray, axis_dim: IntArray, axis_coef: IntArray,
                  whole_words: IntArray, first_keeper: IntArray, extents: IntArray,
                  tiles: IntArray, covered: BoolArray, valid: BoolArray) -> None:
    """The outermost keeper of tensor t must hold all of it (the padded tensor when
    imperfect)."""
    for bb in range(n):
        first_level = first_keeper[np.uint64(keep[bb]), t]
        if not covered[bb] or first_level < 0:
            continue
        whole = whole_words[t]
        if imperfect:
            whole = 1
            for a in range(axis_count[t]):
                extent = 1
                for kk in range(axis_terms[t, a]):
                    c = abs(axis_coef[t, a, kk])
                    extent += c * (extents[0, axis_dim[t, a, kk], bb] - 1)
                whole *= extent
        if tiles[np.uint64(first_level), t, bb] < whole:
            valid[bb] = False


@jit
def capacity(n: int, keep: IntArray, level_ints: IntArray, kept: BoolArray,
             tiles: IntArray, valid: BoolArray, counter: IntArray) -> None:
    for i in range(tiles.shape[0]):
        size_words = level_ints[i, 1]
        if size_words < 0 or not level_ints[i, 5]:
            continue
        for bb in range(n):
            counter[bb] = 0
        for t in range(tiles.shape[1]):
            for bb in range(n):
                if kept[np.uint64(keep[bb]), i, t]:
                    counter[bb] += tiles[i, t, bb]
        # used x buffering <= size, as used <= size // buffering: the same for positive
        # integers, without the product (a batched tensor of 2^60 words, buffered, passes
        # 2^63).
        room = size_words // level_ints[i, 2]
        for bb in range(n):
            valid[bb] &= counter[bb] <= room


@jit
def cycles_energy(start: int, base: int, n: int, imperfect: bool, macs: int,
                  level_ints: IntArray, level_floats: FloatArray, shared: BoolArray,
                  compute_floats: FloatArray, compute_instances: int, compute_gated: bool,
                  spatial: IntArray, extents: IntArray,
                  compute_cycles: IntArray, utilized: IntArray, valid: BoolArray,
                  cycles: IntArray, energy_sum: FloatArray, r_sum: IntArray,
                  w_sum: IntArray, out_valid: BoolArray, out_energy: FloatArray,
                  out_cycles: IntArray,
                  out_compute_cycles: IntArray, out_utilization: FloatArray,
                  out_reads: IntArray, out_fills: IntArray, out_updates: IntArray,
                  out_utilized: IntArray, out_tensor_energy: FloatArray,
                  out_leakage: FloatArray, out_compute_energy: FloatArray) -> None:
    """Cycles (bandwidth bounds) and energy, in the numpy path's order of
    floating-point operations. Totals go to `start + bb`, the breakdown to `base + bb`;
    `r_sum` and `w_sum` are scratch of a block's length."""
    nlevels, ntensors = out_reads.shape[0], out_reads.shape[1]
    mac_energy_const, mac_energy, mac_leak, slack, quantum = (
        compute_floats[0], compute_floats[1], compute_floats[2], compute_floats[3],
        compute_floats[4])
    for bb in range(n):
        cycles[bb] = compute_cycles[bb]
    for i in range(nlevels):
        read_bw = level_floats[i, 4]
        write_bw = level_floats[i, 5]
        # Unlimited bandwidths bound nothing (ceil_bandwidth gives 0).
        if np.isnan(read_bw) and (shared[i] or np.isnan(write_bw)):
            continue
        # The words read and written across the tensors, the block innermost (integer
        # sums: the same whatever their order).
        for bb in range(n):
            r_sum[bb] = 0
            w_sum[bb] = 0
        for t in range(ntensors):
            for bb in range(n):
                r_sum[bb] += out_reads[i, t, base + bb]
                w_sum[bb] += out_fills[i, t, base + bb] + out_updates[i, t, base + bb]
        for bb in range(n):
            r_words = r_sum[bb]
            w_words = w_sum[bb]
            if shared[i]:
                bound = ceil_bandwidth(r_words + w_words, read_bw, slack)
            else:
                bound = max(ceil_bandwidth(r_words, read_bw, slack),
                            ceil_bandwidth(w_words, write_bw, slack))
            if bound > cycles[bb]:
                cycles[bb] = bound
    for bb in range(n):
        energy_sum[bb] = 0.0
    for i in range(nlevels):
        block_words = level_ints[i, 3]
        shift = level_ints[i, 6]
        read_pj, write_pj, update_pj = (level_floats[i, 0], level_floats[i, 1],
                                        level_floats[i, 2])
        for t in range(ntensors):
            if level_ints[i, 5]:
                for bb in range(n):
                    b = base + bb
                    per_instance = (
                        blocks(out_reads[i, t, b], block_words, shift) * read_pj
                        + blocks(out_fills[i, t, b], block_words, shift) * write_pj
                        + blocks(out_updates[i, t, b], block_words, shift) * update_pj)
                    energy = quantize(per_instance * utilized[i, bb], quantum)
                    out_tensor_energy[i, t, b] = energy
                    energy_sum[bb] += energy
            else:
                for bb in range(n):
                    out_tensor_energy[i, t, base + bb] = 0.0
                    energy_sum[bb] += 0.0
    for bb in range(n):
        b = start + bb
        leakage_sum = 0.0
        for i in range(nlevels):
            leak = level_floats[i, 3]
            # On the utilised instances (Timeloop), or all of them when not power gated.
            leaking = utilized[i, bb] if level_ints[i, 7] else level_ints[i, 4]
            leakage = quantize(leak * cycles[bb] * leaking, quantum) \
                if leak != 0.0 else 0.0
            out_leakage[i, base + bb] = leakage
            leakage_sum += leakage
            out_utilized[i, base + bb] = utilized[i, bb]
        if imperfect:
            run_macs = 1
            for d in range(extents.shape[1]):
                run_macs *= extents[0, d, bb]
            mac_total = quantize(run_macs * mac_energy, quantum)
        else:
            mac_total = mac_energy_const
        mac_leaking = compute_instances
        if compute_gated and mac_leak != 0.0:
            mac_leaking = utilized[nlevels - 1, bb]
            for d in range(spatial.shape[1]):
                mac_leaking *= spatial[nlevels - 1, d, bb]
        compute_energy = mac_total + quantize(mac_leak * cycles[bb] * mac_leaking, quantum)
        out_energy[b] = energy_sum[bb] + leakage_sum + compute_energy
        # In floats: cycles times instances can pass 2^63 (int64 would wrap).
        out_utilization[b] = macs / (float(cycles[bb]) * compute_instances)
        out_valid[b] = valid[bb]
        out_cycles[b] = cycles[bb]
        out_compute_cycles[b] = compute_cycles[bb]
        out_compute_energy[base + bb] = compute_energy


@jit
def kernel(ft: IntArray, order: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray,
           ints: IntArray, fanout_owner: IntArray, fanout_block: IntArray,
           level_blocks: IntArray, fanout_mesh: IntArray,
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
    nlevels, ndims, ntensors = ints[0], ints[1], ints[2]
    imperfect = ints[4] != 0
    size = ft.shape[2]
    (spatial, extents, steps, compute_cycles, utilized, valid, covered, keep, counter, other,
     tiles, axis_extents) = shape_scratch(nlevels, ndims, ntensors, axis_terms.shape[1])
    (block_spatial, block_inner, child, enter, partition, below, served, cycles, energy_sum,
     real_dim, real_cum, real_step, real_above) = cost_scratch(nlevels, ndims,
                                                               level_blocks[nlevels])
    # Without the breakdown (arrays of one block), each block overwrites the last.
    detail = out_reads.shape[2] == size
    for start in range(0, size, BLOCK):
        n = min(BLOCK, size - start)
        shape_block(ft, sx, sy, keep_ids, start, n, imperfect, fanout_owner, fanout_mesh,
                    allowed, level_ints, axis_count, axis_terms, axis_dim, axis_coef,
                    whole_words, kept, first_keeper, static_valid, bounds, spatial, extents,
                    steps, compute_cycles, utilized, valid, covered, keep, counter, other,
                    tiles, axis_extents)
        base = start if detail else 0
        cost_block(ft, order, sx, sy, start, base, n, ints, fanout_block,
                   level_blocks, level_ints, level_floats, shared, axis_count, axis_terms,
                   axis_dim, axis_coef, coef_dense, tensor_flags, relevant, simple, kept,
                   compute_floats, compute_instances, spatial, extents, steps,
                   compute_cycles, utilized, valid, keep, counter, other, tiles,
                   axis_extents, block_spatial, block_inner, child, enter, partition,
                   below, served, cycles, energy_sum, real_dim, real_cum, real_step,
                   real_above, out_valid, out_energy, out_cycles, out_compute_cycles,
                   out_utilization, out_reads, out_fills, out_updates, out_utilized,
                   out_tensor_energy, out_leakage, out_compute_energy)


@jit
def cost_scratch(nlevels: int, ndims: int, nblocks: int) -> tuple[
        IntArray, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray, IntArray,
        FloatArray, IntArray, IntArray, IntArray, IntArray]:
    """One block's arrays for `cost_block`: the multicast blocks' spatial factors and inner
    extents, a child count, entries, partitions, what is below, what is served, cycles,
    energy, and the real loops' dims, cumulative products, steps and levels above."""
    blk = BLOCK
    nslots = max((nlevels - 1) * ndims, 1)
    nblocks = max(nblocks, 1)
    return (np.empty((nblocks, ndims, blk), dtype=np.int64),
            np.empty((nblocks, ndims, blk), dtype=np.int64), np.empty(blk, dtype=np.int64),
            np.empty((nlevels, blk), dtype=np.int64), np.empty((nlevels, blk), dtype=np.int64),
            np.empty(blk, dtype=np.int64), np.empty((nlevels, blk), dtype=np.int64),
            np.empty(blk, dtype=np.int64), np.empty(blk),
            np.empty((nslots + 1, blk), dtype=np.int64),
            np.empty((nslots + 1, blk), dtype=np.int64),
            np.empty((nslots + 1, blk), dtype=np.int64),
            np.empty((nlevels, blk), dtype=np.int64))


@jit
def cost_block(ft: IntArray, order: IntArray, sx: IntArray, sy: IntArray, start: int,
               base: int, n: int, ints: IntArray, fanout_block: IntArray,
               level_blocks: IntArray, level_ints: IntArray, level_floats: FloatArray,
               shared: BoolArray, axis_count: IntArray, axis_terms: IntArray,
               axis_dim: IntArray, axis_coef: IntArray, coef_dense: IntArray,
               tensor_flags: IntArray, relevant: BoolArray, simple: BoolArray,
               kept: BoolArray, compute_floats: FloatArray, compute_instances: int,
               spatial: IntArray, extents: IntArray, steps: IntArray,
               compute_cycles: IntArray, utilized: IntArray, valid: BoolArray,
               keep: IntArray, counter: IntArray, other: IntArray, tiles: IntArray,
               axis_extents: IntArray, block_spatial: IntArray, block_inner: IntArray,
               child: IntArray, enter: IntArray, partition: IntArray, below: IntArray,
               served: IntArray, cycles: IntArray, energy_sum: FloatArray,
               real_dim: IntArray, real_cum: IntArray, real_step: IntArray,
               real_above: IntArray, out_valid: BoolArray, out_energy: FloatArray,
               out_cycles: IntArray, out_compute_cycles: IntArray,
               out_utilization: FloatArray, out_reads: IntArray, out_fills: IntArray,
               out_updates: IntArray, out_utilized: IntArray,
               out_tensor_energy: FloatArray, out_leakage: FloatArray,
               out_compute_energy: FloatArray) -> None:
    """The stages after `shape_block` for the block of `n` mappings at `start` of `ft`,
    `order`, `sx`, `sy` (`shape_block`'s arrays hold them at 0 ... n - 1): the real loops,
    the multicast blocks, every tensor's entries and counts, cycles and energy (totals to
    `start + bb`, the breakdown to `base + bb`)."""
    ntensors = ints[2]
    imperfect, macs, compute_gated = ints[4] != 0, ints[5], ints[6] != 0
    loop_slots(ft, order, start, n, steps, real_dim, real_cum, real_step, real_above)
    block_geometry(sx, sy, start, n, fanout_block, level_blocks, extents, block_spatial,
                   block_inner)
    for t in range(ntensors):
        if tensor_flags[t, 1]:
            entries_sliding(t, n, axis_count, axis_terms, coef_dense, simple,
                            real_dim, real_cum, real_step, real_above, tiles,
                            axis_extents[t], enter)
        else:
            entries_plain(t, n, relevant, real_dim, real_cum, real_above, tiles,
                          enter)
        counts(t, base, n, keep, level_blocks, axis_count, axis_terms, axis_dim,
               axis_coef, tensor_flags, relevant, kept, spatial, extents, block_spatial,
               block_inner, compute_cycles,
               tiles, enter, partition, below, served, counter, other, child, out_reads,
               out_fills, out_updates)
    cycles_energy(start, base, n, imperfect, macs, level_ints, level_floats, shared,
                  compute_floats, compute_instances, compute_gated, spatial, extents,
                  compute_cycles, utilized, valid, cycles, energy_sum,
                  below, child,  # free once the counts are in: scratch of a block
                  out_valid, out_energy, out_cycles, out_compute_cycles, out_utilization,
                  out_reads, out_fills, out_updates, out_utilized, out_tensor_energy,
                  out_leakage, out_compute_energy)


@jit
def shape_scratch(nlevels: int, ndims: int, ntensors: int, naxes: int) -> tuple[
        IntArray, IntArray, IntArray, IntArray, IntArray, BoolArray, BoolArray, IntArray,
        IntArray, IntArray, IntArray, IntArray]:
    """One block's arrays for `shape_block`: spatial, extents, steps, compute cycles,
    utilised instances, valid, covered, keep choices, two counters, tiles, axis extents."""
    blk = BLOCK
    return (np.empty((nlevels, ndims, blk), dtype=np.int64),
            np.empty((nlevels + 1, ndims, blk), dtype=np.int64),
            np.empty((nlevels, ndims, blk), dtype=np.int64),
            np.empty(blk, dtype=np.int64), np.empty((nlevels, blk), dtype=np.int64),
            np.empty(blk, dtype=np.bool_), np.empty(blk, dtype=np.bool_),
            np.empty(blk, dtype=np.int64), np.empty(blk, dtype=np.int64),
            np.empty(blk, dtype=np.int64), np.empty((nlevels, ntensors, blk), dtype=np.int64),
            np.empty((ntensors, nlevels, naxes, blk), dtype=np.int64))


@jit
def shape_block(ft: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray, start: int,
                n: int, imperfect: bool, fanout_owner: IntArray, fanout_mesh: IntArray,
                allowed: BoolArray, level_ints: IntArray, axis_count: IntArray,
                axis_terms: IntArray, axis_dim: IntArray, axis_coef: IntArray,
                whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
                static_valid: BoolArray, bounds: IntArray, spatial: IntArray,
                extents: IntArray, steps: IntArray, compute_cycles: IntArray,
                utilized: IntArray, valid: BoolArray, covered: BoolArray, keep: IntArray,
                counter: IntArray, other: IntArray, tiles: IntArray,
                axis_extents: IntArray) -> None:
    """The stages that depend on the factors alone, for one block: geometry, validity,
    every tensor's tiles and backing store, capacity (`valid` is then final)."""
    for bb in range(n):
        keep[bb] = keep_ids[start + bb]
    geometry(ft, sx, sy, start, n, fanout_owner, spatial, extents, steps, compute_cycles,
             utilized)
    validity(ft, sx, sy, start, n, keep, imperfect, fanout_owner, fanout_mesh, allowed,
             static_valid, bounds, extents, valid, covered, counter, other)
    for t in range(tiles.shape[1]):
        tile_words(t, n, axis_count, axis_terms, axis_dim, axis_coef, extents, tiles,
                   axis_extents[t])
        backing_store(t, n, keep, imperfect, axis_count, axis_terms, axis_dim, axis_coef,
                      whole_words, first_keeper, extents, tiles, covered, valid)
    capacity(n, keep, level_ints, kept, tiles, valid, counter)


@jit
def fits(ft: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray, ints: IntArray,
         fanout_owner: IntArray, fanout_mesh: IntArray, allowed: BoolArray,
         level_ints: IntArray, axis_count: IntArray, axis_terms: IntArray,
         axis_dim: IntArray, axis_coef: IntArray, whole_words: IntArray, kept: BoolArray,
         first_keeper: IntArray, static_valid: BoolArray, bounds: IntArray,
         out_valid: BoolArray) -> None:
    """The kernel's `valid` alone (`shape_block` only)."""
    (spatial, extents, steps, compute_cycles, utilized, valid, covered, keep, counter, other,
     tiles, axis_extents) = shape_scratch(ints[0], ints[1], ints[2], axis_terms.shape[1])
    fits_first(ft.shape[2], ft, sx, sy, keep_ids, ints, fanout_owner, fanout_mesh, allowed,
               level_ints, axis_count, axis_terms, axis_dim, axis_coef, whole_words, kept,
               first_keeper, static_valid, bounds, spatial, extents, steps, compute_cycles,
               utilized, valid, covered, keep, counter, other, tiles, axis_extents,
               out_valid)


@jit
def fits_first(size: int, ft: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray,
               ints: IntArray, fanout_owner: IntArray, fanout_mesh: IntArray,
               allowed: BoolArray, level_ints: IntArray, axis_count: IntArray,
               axis_terms: IntArray, axis_dim: IntArray, axis_coef: IntArray,
               whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
               static_valid: BoolArray, bounds: IntArray, spatial: IntArray,
               extents: IntArray, steps: IntArray, compute_cycles: IntArray,
               utilized: IntArray, valid: BoolArray, covered: BoolArray, keep: IntArray,
               counter: IntArray, other: IntArray, tiles: IntArray, axis_extents: IntArray,
               out_valid: BoolArray) -> None:
    """`fits` of the first `size` mappings, with `shape_scratch`'s arrays given (so that a
    caller asking many times allocates them once)."""
    imperfect = ints[4] != 0
    for start in range(0, size, BLOCK):
        n = min(BLOCK, size - start)
        shape_block(ft, sx, sy, keep_ids, start, n, imperfect, fanout_owner, fanout_mesh,
                    allowed, level_ints, axis_count, axis_terms, axis_dim, axis_coef,
                    whole_words, kept, first_keeper, static_valid, bounds, spatial, extents,
                    steps, compute_cycles, utilized, valid, covered, keep, counter, other,
                    tiles, axis_extents)
        for bb in range(n):
            out_valid[start + bb] = valid[bb]


@jit
def compact_block(n: int, valid: BoolArray, chosen: IntArray, spatial: IntArray,
                  extents: IntArray, steps: IntArray, compute_cycles: IntArray,
                  utilized: IntArray, keep: IntArray, tiles: IntArray,
                  axis_extents: IntArray) -> int:
    """`shape_block`'s arrays of the valid mappings of a block of `n` moved to its front in
    block order (their positions into `chosen`); returns how many. Forward in place: a
    valid mapping's position is never below the one it moves to."""
    m = 0
    for bb in range(n):
        if valid[bb]:
            chosen[m] = bb
            m += 1
    if m == n:
        return m
    for i in range(spatial.shape[0]):
        for d in range(spatial.shape[1]):
            for j in range(m):
                spatial[i, d, j] = spatial[i, d, chosen[j]]
                steps[i, d, j] = steps[i, d, chosen[j]]
    for i in range(extents.shape[0]):
        for d in range(extents.shape[1]):
            for j in range(m):
                extents[i, d, j] = extents[i, d, chosen[j]]
    for i in range(utilized.shape[0]):
        for j in range(m):
            utilized[i, j] = utilized[i, chosen[j]]
    for i in range(tiles.shape[0]):
        for t in range(tiles.shape[1]):
            for j in range(m):
                tiles[i, t, j] = tiles[i, t, chosen[j]]
    for t in range(axis_extents.shape[0]):
        for i in range(axis_extents.shape[1]):
            for a in range(axis_extents.shape[2]):
                for j in range(m):
                    axis_extents[t, i, a, j] = axis_extents[t, i, a, chosen[j]]
    for j in range(m):
        compute_cycles[j] = compute_cycles[chosen[j]]
        keep[j] = keep[chosen[j]]
        valid[j] = True
    return m


@jit
def fit_and_cost(ft: IntArray, sx: IntArray, sy: IntArray, keep_ids: IntArray,
                 orders: IntArray, order_at: IntArray, ints: IntArray,
                 fanout_owner: IntArray, fanout_block: IntArray, level_blocks: IntArray,
                 fanout_mesh: IntArray, allowed: BoolArray, level_ints: IntArray,
                 level_floats: FloatArray, shared: BoolArray, axis_count: IntArray,
                 axis_terms: IntArray, axis_dim: IntArray, axis_coef: IntArray,
                 coef_dense: IntArray, tensor_flags: IntArray, relevant: BoolArray,
                 simple: BoolArray, whole_words: IntArray, kept: BoolArray,
                 first_keeper: IntArray, static_valid: BoolArray, bounds: IntArray,
                 compute_floats: FloatArray, compute_instances: int, fitting: BoolArray,
                 out_valid: BoolArray, out_energy: FloatArray, out_cycles: IntArray) -> int:
    """`fits` on every mapping of `ft`, `sx`, `sy`, `keep_ids` (into `fitting`), then the
    kernel's totals of the fitting ones, in order, into `out_valid`, `out_energy` and
    `out_cycles` (at 0, 1, ...: as `kernel` on those mappings alone; mapping k's loop order
    is `orders[:, :, order_at[k]]`); returns how many fit. Each block's stages that depend
    on the factors alone (`shape_block`) run once, not again for the fitting mappings."""
    nlevels, ndims, ntensors = ints[0], ints[1], ints[2]
    imperfect = ints[4] != 0
    size = ft.shape[2]
    nfanouts = sx.shape[0]
    (spatial, extents, steps, compute_cycles, utilized, valid, covered, keep, counter, other,
     tiles, axis_extents) = shape_scratch(nlevels, ndims, ntensors, axis_terms.shape[1])
    (block_spatial, block_inner, child, enter, partition, below, served, cycles, energy_sum,
     real_dim, real_cum, real_step, real_above) = cost_scratch(nlevels, ndims,
                                                               level_blocks[nlevels])
    chosen = np.empty(BLOCK, dtype=np.int64)
    # The fitting mappings' factors, orders and spatial factors, in order.
    e_ft = np.empty((nlevels, ndims, size), dtype=np.int64)
    e_order = np.empty((nlevels, ndims, size), dtype=np.int64)
    e_sx = np.empty((nfanouts, ndims, size), dtype=np.int64)
    e_sy = np.empty((nfanouts, ndims, size), dtype=np.int64)
    # The breakdown's arrays: one block's, overwritten block by block.
    out_reads = np.empty((nlevels, ntensors, BLOCK), dtype=np.int64)
    out_fills = np.empty((nlevels, ntensors, BLOCK), dtype=np.int64)
    out_updates = np.empty((nlevels, ntensors, BLOCK), dtype=np.int64)
    out_utilized = np.empty((nlevels, BLOCK), dtype=np.int64)
    out_tensor_energy = np.empty((nlevels, ntensors, BLOCK))
    out_leakage = np.empty((nlevels, BLOCK))
    out_compute_energy = np.empty(BLOCK)
    out_compute_cycles = np.empty(size, dtype=np.int64)
    out_utilization = np.empty(size)
    done = 0
    for start in range(0, size, BLOCK):
        n = min(BLOCK, size - start)
        shape_block(ft, sx, sy, keep_ids, start, n, imperfect, fanout_owner, fanout_mesh,
                    allowed, level_ints, axis_count, axis_terms, axis_dim, axis_coef,
                    whole_words, kept, first_keeper, static_valid, bounds, spatial, extents,
                    steps, compute_cycles, utilized, valid, covered, keep, counter, other,
                    tiles, axis_extents)
        for bb in range(n):
            fitting[start + bb] = valid[bb]
        m = compact_block(n, valid, chosen, spatial, extents, steps, compute_cycles,
                          utilized, keep, tiles, axis_extents)
        if m == 0:
            continue
        for s in range(nlevels):
            for d in range(ndims):
                for j in range(m):
                    e_ft[s, d, done + j] = ft[s, d, start + chosen[j]]
                    e_order[s, d, done + j] = orders[s, d, order_at[start + chosen[j]]]
        for f in range(nfanouts):
            for d in range(ndims):
                for j in range(m):
                    e_sx[f, d, done + j] = sx[f, d, start + chosen[j]]
                    e_sy[f, d, done + j] = sy[f, d, start + chosen[j]]
        cost_block(e_ft, e_order, e_sx, e_sy, done, 0, m, ints, fanout_block,
                   level_blocks, level_ints, level_floats, shared, axis_count, axis_terms,
                   axis_dim, axis_coef, coef_dense, tensor_flags, relevant, simple, kept,
                   compute_floats, compute_instances, spatial, extents, steps,
                   compute_cycles, utilized, valid, keep, counter, other, tiles,
                   axis_extents, block_spatial, block_inner, child, enter, partition,
                   below, served, cycles, energy_sum, real_dim, real_cum, real_step,
                   real_above, out_valid, out_energy, out_cycles, out_compute_cycles,
                   out_utilization, out_reads, out_fills, out_updates, out_utilized,
                   out_tensor_energy, out_leakage, out_compute_energy)
        done += m
    return done


@jit
def candidate_keys(factors: IntArray, orders: IntArray, keeps: IntArray, ordered: int,
                   multipliers: npt.NDArray[np.uint64], out: npt.NDArray[np.uint64]) -> None:
    """The mapper's de-duplication keys (dslc.mapper.search.candidate_keys): the same sums
    modulo 2^64 over the factors (one pass per column), the loop ranks and the keep choice
    (one pass per candidate), the same mixing."""
    nslots, ndims, size = factors.shape
    ranks_at = nslots * ndims
    keep_at = ranks_at + ordered * ndims
    # The factors' terms column by column (contiguous rows, batch last), then each
    # candidate's loop ranks, its keep choice and the mixing.
    for b in range(size):
        out[b] = np.uint64(0)
    column = 0
    for s in range(nslots):
        for d in range(ndims):
            multiplier = multipliers[column]
            for b in range(size):
                out[b] += np.uint64(factors[s, d, b]) * multiplier
            column += 1
    # The loop ranks level by level and position by position, the batch innermost (rows
    # of the batch stay in cache; sums modulo 2^64 do not depend on the order of terms).
    rank = np.empty(size, dtype=np.uint64)
    for level in range(ordered):
        for b in range(size):
            rank[b] = np.uint64(0)
        row = ranks_at + level * ndims
        for position in range(ndims):
            for b in range(size):
                dim = orders[level, position, b]
                if factors[level, dim, b] > 1:
                    rank[b] += np.uint64(1)
                    out[b] += rank[b] * multipliers[row + dim]
    keep_multiplier = multipliers[keep_at]
    for b in range(size):
        key = out[b] + np.uint64(keeps[b]) * keep_multiplier
        key ^= key >> np.uint64(31)
        key *= np.uint64(0x9E3779B97F4A7C15)
        key ^= key >> np.uint64(29)
        out[b] = key


# -- the mapper's neighbourhoods (dslc.mapper.space.MapSpace.all_neighbours and
# exchange_moves, dslc.mapper.search's descents): the same candidates in the same order,
# built in one pass instead of a few dozen small numpy operations per descent step.

@jit
def factor_parts(value: int, whole: bool, out: IntArray) -> int:
    """The distinct primes of `value` ascending (or, `whole`, its divisors above 1
    ascending) into `out` (room for `part_room(value, whole)`); returns how many. Both by
    trial division up to the square root, so a huge factor costs its root, not itself."""
    count = 0
    if whole:
        k = 2
        while k * k <= value:
            if value % k == 0:
                out[count] = k
                count += 1
            k += 1
        # The cofactors of the small divisors, largest small divisor first: ascending.
        for i in range(count - 1, -1, -1):
            big = value // out[i]
            if big != out[i]:
                out[count] = big
                count += 1
        if value > 1:
            out[count] = value
            count += 1
        return count
    n = value
    p = 2
    while p * p <= n:
        if n % p == 0:
            out[count] = p
            count += 1
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        out[count] = n
        count += 1
    return count


@jit
def part_room(value: int, whole: bool) -> int:
    """Room `factor_parts` needs: a 64-bit value has at most 15 distinct primes, and at
    most 2 sqrt(value) divisors."""
    if not whole:
        return 64
    return 2 * int(np.sqrt(value)) + 4


@jit
def factor_moves(factors: IntArray, movable: BoolArray, whole: bool) -> IntArray:
    """[M, 4] (dim, source, destination, part) rows, as `MapSpace.factor_moves`."""
    nslots, ndims = factors.shape
    # Room for the most parts of any factor, first: an array grown inside the loop would
    # take and drop a reference on every pass.
    room = 64
    for d in range(ndims):
        for source in range(nslots):
            value = factors[source, d]
            if value != 1 and movable[d, source]:
                room = max(room, part_room(value, whole))
    parts = np.empty(room, dtype=np.int64)
    total = 0
    for d in range(ndims):
        dests = 0
        for s in range(nslots):
            if movable[d, s]:
                dests += 1
        for source in range(nslots):
            value = factors[source, d]
            if value == 1 or not movable[d, source]:
                continue
            total += factor_parts(value, whole, parts) * (dests - 1)
    moves = np.empty((total, 4), dtype=np.int64)
    m = 0
    for d in range(ndims):
        for source in range(nslots):
            value = factors[source, d]
            if value == 1 or not movable[d, source]:
                continue
            count = factor_parts(value, whole, parts)
            for i in range(count):
                for dest in range(nslots):
                    if dest != source and movable[d, dest]:
                        moves[m, 0] = d
                        moves[m, 1] = source
                        moves[m, 2] = dest
                        moves[m, 3] = parts[i]
                        m += 1
    return moves


@jit
def parent_copies(factors: IntArray, orders: IntArray, keep: int, count: int
                  ) -> tuple[IntArray, IntArray, IntArray]:
    """`count` copies of one candidate (`factors [S, D]`, `orders [L, D]`, keep choice
    `keep`), batch last: what a descent's neighbourhoods then change."""
    nslots, ndims = factors.shape
    nlevels = orders.shape[0]
    out_f = np.empty((nslots, ndims, count), dtype=np.int64)
    out_o = np.empty((nlevels, ndims, count), dtype=np.int64)
    out_k = np.full(count, keep, dtype=np.int64)
    for s in range(nslots):  # row by row: contiguous writes (batch last)
        for d in range(ndims):
            out_f[s, d, :] = factors[s, d]
    for level in range(nlevels):
        for p in range(ndims):
            out_o[level, p, :] = orders[level, p]
    return out_f, out_o, out_k


@jit
def single_neighbourhood(factors: IntArray, orders: IntArray, keep: int, movable: BoolArray,
                         others: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """A descent's single moves, batch last, as `MapSpace.all_neighbours` (each distinct
    prime of each factor to each other slot, then each pair of real loops of an ordered
    level swapped; keep `keep`) followed by the tiling with each keep set of `others`."""
    ndims = factors.shape[1]
    nlevels = orders.shape[0]
    moves = factor_moves(factors, movable, False)
    nmoves = moves.shape[0]
    nswaps = 0
    for level in range(nlevels - 1):
        real = 0
        for p in range(ndims):
            if factors[level, orders[level, p]] > 1:
                real += 1
        nswaps += real * (real - 1) // 2
    size = nmoves + nswaps + others.size
    out_f, out_o, out_k = parent_copies(factors, orders, keep, size)
    for m in range(nmoves):
        d, source, dest, part = moves[m, 0], moves[m, 1], moves[m, 2], moves[m, 3]
        out_f[source, d, m] //= part
        out_f[dest, d, m] *= part
    b = nmoves
    for level in range(nlevels - 1):
        for a in range(ndims):
            if factors[level, orders[level, a]] <= 1:
                continue
            for c in range(a + 1, ndims):
                if factors[level, orders[level, c]] <= 1:
                    continue
                out_o[level, a, b] = orders[level, c]
                out_o[level, c, b] = orders[level, a]
                b += 1
    for i in range(others.size):
        out_k[b] = others[i]
        b += 1
    return out_f, out_o, out_k


@jit
def exchange_pairs(factors: IntArray, movable: BoolArray) -> tuple[IntArray, IntArray]:
    """A descent's exchange moves from `factors [S, D]`, as `MapSpace.exchange_moves` over
    the moves of whole divisors: the moves [M, 4] and the pairs [P, 2] (first move, second
    move), in the same order. Both moves of a pair are of different dims, so both can
    always be made (`exchange_take` makes them)."""
    moves = factor_moves(factors, movable, True)
    nmoves = moves.shape[0]
    # The moves by source slot, ascending within each (a counting sort): the second moves
    # of move i are those out of its destination, met in the same order as a scan of all.
    nslots = factors.shape[0]
    first = np.zeros(nslots + 1, dtype=np.int64)
    for j in range(nmoves):
        first[moves[j, 1] + 1] += 1
    for slot in range(nslots):
        first[slot + 1] += first[slot]
    filled = first.copy()
    by_source = np.empty(nmoves, dtype=np.int64)
    for j in range(nmoves):
        by_source[filled[moves[j, 1]]] = j
        filled[moves[j, 1]] += 1
    # Counted, then written: an array grown inside the loop would take and drop a
    # reference on every pass (numba's reference counts were a third of a descent's).
    count = 0
    for i in range(nmoves):
        dest = moves[i, 2]
        for q in range(first[dest], first[dest + 1]):
            j = by_source[q]
            if exchange_pair(moves, i, j):
                count += 1
    pairs = np.empty((count, 2), dtype=np.int64)
    count = 0
    for i in range(nmoves):
        dest = moves[i, 2]
        for q in range(first[dest], first[dest + 1]):
            j = by_source[q]
            if exchange_pair(moves, i, j):
                pairs[count, 0] = i
                pairs[count, 1] = j
                count += 1
    return moves, pairs


@jit_inline
def exchange_pair(moves: IntArray, i: int, j: int) -> bool:
    """Whether moves i and j (j out of i's destination) make an exchange: different dims,
    parts within a factor of two of each other."""
    if moves[i, 0] == moves[j, 0]:
        return False
    ratio = moves[i, 3] / moves[j, 3]
    return not (ratio > 2 or ratio < 0.5)


@jit
def exchange_take(factors: IntArray, orders: IntArray, keep: int, moves: IntArray,
                  pairs: IntArray, take: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The candidates of pairs `take` (indices into `pairs`), batch last: `factors` with
    both moves of the pair made, `orders` and `keep` unchanged."""
    out_f, out_o, out_k = parent_copies(factors, orders, keep, take.size)
    for b in range(take.size):
        for m in (pairs[take[b], 0], pairs[take[b], 1]):
            d, source, dest, part = moves[m, 0], moves[m, 1], moves[m, 2], moves[m, 3]
            out_f[source, d, b] //= part
            out_f[dest, d, b] *= part
    return out_f, out_o, out_k


@jit
def filled_cuts(order_dims: IntArray, order_values: IntArray, unrolled_x: IntArray,
                unrolled_y: IntArray, nlevels: int, ints: IntArray, fanout_owner: IntArray,
                fanout_mesh: IntArray, allowed: BoolArray, level_ints: IntArray,
                axis_count: IntArray, axis_terms: IntArray, axis_dim: IntArray,
                axis_coef: IntArray, whole_words: IntArray, kept: BoolArray,
                first_keeper: IntArray, static_valid: BoolArray, bounds: IntArray
                ) -> IntArray:
    """[B, n] the level of each prime of the mapper's filled seeds (dslc.mapper.search
    `_Search._filled`): for each row of `order_dims`/`order_values` (primes innermost
    first), from the innermost ordered level out, the longest run of the next primes that
    still fits (`fits`, keep choice 0, spatial factors `unrolled_x/y [F, D]`): every
    shorter run fitting too, as the numpy path has it; what is left stays at level 0. The
    same cuts as the numpy path, which tries every run length at once; here each row tries
    one more prime per round until one does not fit (one `fits` call per round for the
    rows still growing), so the runs that cannot fit are not built."""
    size, n = order_dims.shape
    ndims = bounds.size
    nfanouts = unrolled_x.shape[0]
    cut = np.zeros(size, dtype=np.int64)
    slot_of = np.zeros((size, n), dtype=np.int64)
    growing = np.empty(size, dtype=np.int64)
    longest = np.zeros(size, dtype=np.int64)
    valid = np.empty(size, dtype=np.bool_)
    # One round's candidates (the first `count` columns) and the scratch of their `fits`,
    # allocated once: a round may hold only a few rows.
    ft = np.empty((nlevels, ndims, size), dtype=np.int64)
    sx = np.empty((nfanouts, ndims, size), dtype=np.int64)
    sy = np.empty((nfanouts, ndims, size), dtype=np.int64)
    for c in range(size):
        for f in range(nfanouts):
            for d in range(ndims):
                sx[f, d, c] = unrolled_x[f, d]
                sy[f, d, c] = unrolled_y[f, d]
    keep_ids = np.zeros(size, dtype=np.int64)
    (spatial, extents, steps, compute_cycles, utilized, block_valid, covered, keep, counter,
     other, tiles, axis_extents) = shape_scratch(ints[0], ints[1], ints[2],
                                                 axis_terms.shape[1])
    for level in range(nlevels - 1, 0, -1):
        count = 0
        for r in range(size):
            longest[r] = 0
            if cut[r] < n:
                growing[count] = r
                count += 1
        while count:
            # Each growing row with one more prime at this level than fits so far.
            for i in range(nlevels):
                for d in range(ndims):
                    for c in range(count):
                        ft[i, d, c] = 1
            for c in range(count):
                r = growing[c]
                end = cut[r] + longest[r] + 1
                for i in range(n):
                    at = level if cut[r] <= i < end else slot_of[r, i]
                    ft[at, order_dims[r, i], c] *= order_values[r, i]
            fits_first(count, ft, sx, sy, keep_ids, ints, fanout_owner, fanout_mesh,
                       allowed, level_ints, axis_count, axis_terms, axis_dim, axis_coef,
                       whole_words, kept, first_keeper, static_valid, bounds, spatial,
                       extents, steps, compute_cycles, utilized, block_valid, covered,
                       keep, counter, other, tiles, axis_extents, valid)
            still = 0
            for c in range(count):
                r = growing[c]
                if valid[c]:
                    longest[r] += 1
                    if cut[r] + longest[r] < n:
                        growing[still] = r
                        still += 1
            count = still
        for r in range(size):
            for i in range(cut[r], cut[r] + longest[r]):
                slot_of[r, i] = level
            cut[r] += longest[r]
    return slot_of


@jit
def random_moves(factors: IntArray, orders: IntArray, parents: IntArray, moving: BoolArray,
                 dims: IntArray, source: IntArray, dest: IntArray, pick: IntArray,
                 level: IntArray, a: IntArray, b: IntArray, primes: IntArray,
                 prime_values: IntArray, movable: BoolArray,
                 check_source: bool) -> tuple[IntArray, IntArray]:
    """The mapper's random children (dslc.mapper.space.MapSpace.neighbours): per child, a
    copy of its parent, then per round r (rows of the draws) a prime of dim `dims` moved
    from slot `source` to `dest` where `moving`, else two positions of one level's order
    swapped; a move that cannot be made leaves the child as it was. `primes` has a row per
    value, or, when `prime_values` is not empty, a row per entry of it (sorted values). The
    numpy twin's rules exactly (`MapSpace._random_moves`)."""
    nslots, ndims = factors.shape[0], factors.shape[1]
    nlevels = orders.shape[0]
    size = parents.size
    child_f = np.empty((nslots, ndims, size), dtype=np.int64)
    child_o = np.empty((nlevels, ndims, size), dtype=np.int64)
    top = primes.shape[0] - 1
    # The copies row by row (batch last: each row's writes contiguous), then the moves.
    for s in range(nslots):
        for d in range(ndims):
            for c in range(size):
                child_f[s, d, c] = factors[s, d, parents[c]]
    for lv in range(nlevels):
        for p in range(ndims):
            for c in range(size):
                child_o[lv, p, c] = orders[lv, p, parents[c]]
    for c in range(size):
        for r in range(moving.shape[0]):
            if moving[r, c]:
                d, src, dst = dims[r, c], source[r, c], dest[r, c]
                value = child_f[src, d, c]
                if prime_values.size:
                    row = min(np.searchsorted(prime_values, value), top)
                else:
                    row = min(value, top)
                count = 0
                for k in range(primes.shape[1]):
                    if primes[row, k] != 0:
                        count += 1
                prime = primes[row, pick[r, c] % max(1, count)]
                if value > 1 and dst != src and movable[d, dst] and prime > 0 \
                        and (not check_source or movable[d, src]):
                    child_f[src, d, c] //= prime
                    child_f[dst, d, c] *= prime
            else:
                lv, x, y = level[r, c], a[r, c], b[r, c]
                first = child_o[lv, x, c]
                child_o[lv, x, c] = child_o[lv, y, c]
                child_o[lv, y, c] = first
    return child_f, child_o


@jit
def seen_claim(table_keys: npt.NDArray[np.uint64], table_columns: IntArray, count: int,
               keys: npt.NDArray[np.uint64], columns: IntArray, fresh: IntArray) -> int:
    """The mapper's remembered keys (dslc.mapper.search._Seen), an open-addressing hash
    table with linear probing (size a power of two, at most half full; the keys are
    mixed already, so their low bits index it): each key's column into `columns`; a key
    not held is inserted at column `count`, `count + 1`, ... in batch order and its
    position written to `fresh`. Returns how many were inserted."""
    inserted = 0
    for b in range(keys.size):
        column = seen_probe(table_keys, table_columns, keys[b], count + inserted)
        columns[b] = column
        if column == count + inserted:
            fresh[inserted] = b
            inserted += 1
    return inserted


@jit_inline
def seen_probe(table_keys: npt.NDArray[np.uint64], table_columns: IntArray,
               key: np.uint64, new_column: int) -> int:
    """The column of `key` in `seen_claim`'s table; a key not held is inserted with
    `new_column` (which is then returned: columns below it are taken)."""
    mask = np.uint64(table_keys.size - 1)
    slot = key & mask
    while True:
        column = table_columns[slot]
        if column < 0:
            table_keys[slot] = key
            table_columns[slot] = new_column
            return new_column
        if table_keys[slot] == key:
            return int(column)
        slot = (slot + np.uint64(1)) & mask


@jit
def seen_grow(table_keys: npt.NDArray[np.uint64], table_columns: IntArray
              ) -> tuple[npt.NDArray[np.uint64], IntArray]:
    """`seen_claim`'s table at twice the size, every key re-inserted."""
    size = 2 * table_keys.size
    keys = np.zeros(size, dtype=np.uint64)
    columns = np.full(size, -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for i in range(table_keys.size):
        if table_columns[i] < 0:
            continue
        slot = table_keys[i] & mask
        while columns[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        keys[slot] = table_keys[i]
        columns[slot] = table_columns[i]
    return keys, columns


@jit
def seen_room(table_keys: npt.NDArray[np.uint64], table_columns: IntArray,
              seen_scores: FloatArray, count: int, size: int
              ) -> tuple[npt.NDArray[np.uint64], IntArray, FloatArray]:
    """The remembered table and scores with room for `size` more candidates after `count`
    (each doubled as often as needed, as `_Search` grows them before a batch)."""
    while 2 * (count + size) > table_keys.size:
        table_keys, table_columns = seen_grow(table_keys, table_columns)
    end = count + size
    if end > seen_scores.shape[1]:
        grown = np.full((seen_scores.shape[0], 2 * end), np.inf)
        grown[:, :count] = seen_scores[:, :count]
        seen_scores = grown
    return table_keys, table_columns, seen_scores


@jit
def take_best(best: int, scores: FloatArray, factors: IntArray, orders: IntArray,
              keeps: IntArray, best_s: FloatArray, best_f: IntArray, best_o: IntArray,
              best_k: IntArray) -> None:
    """The search's best (`best_s`, `best_f`, `best_o`, `best_k`, in place) replaced by
    candidate `best` of a batch (-1: none fitted) when its scores come first."""
    if best >= 0 and lex_less(scores[:, best], best_s):
        best_s[:] = scores[:, best]
        best_f[:, :] = factors[:, :, best]
        best_o[:, :] = orders[:, :, best]
        best_k[0] = keeps[best]


# -- the mapper's batches (dslc.mapper.search._Search.run_batch and score_all): every step
# between the candidates and their scores in one call.

OBJECTIVE_ENERGY = 0
OBJECTIVE_CYCLES = 1
OBJECTIVE_EDP = 2
"""Codes of the mapper's named objectives (dslc.mapper.search.OBJECTIVES) for
`search_batch`: energy (pJ), cycles, energy x cycles."""


@jit
def search_batch(factors: IntArray, orders: IntArray, keeps: IntArray,
                 spatial_fanout: IntArray, spatial_axis: IntArray, spatial_extent: IntArray,
                 multipliers: npt.NDArray[np.uint64], table_keys: npt.NDArray[np.uint64],
                 table_columns: IntArray, count: int, seen_scores: FloatArray,
                 objectives: IntArray, ints: IntArray, fanout_owner: IntArray,
                 fanout_block: IntArray, level_blocks: IntArray, fanout_mesh: IntArray,
                 allowed: BoolArray, level_ints: IntArray, level_floats: FloatArray,
                 shared: BoolArray, axis_count: IntArray, axis_terms: IntArray,
                 axis_dim: IntArray, axis_coef: IntArray, coef_dense: IntArray,
                 tensor_flags: IntArray, relevant: BoolArray, simple: BoolArray,
                 whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
                 static_valid: BoolArray, bounds: IntArray, compute_floats: FloatArray,
                 compute_instances: int, out_scores: FloatArray, out_fresh: IntArray
                 ) -> tuple[int, int, int]:
    """One batch of the mapper's search (`factors [S, D, B]`: the temporal slots, then the
    spatial slots, slot i >= L on fanout `spatial_fanout[i - L]`'s axis `spatial_axis`
    (0: X) with at most `spatial_extent` instances; `orders [L, D, B]`, `keeps [B]`), as
    `_Search.score_all` does it in numpy: candidates outside the meshes score inf; the
    others' keys (`candidate_keys`) are claimed in `seen_claim`'s table, each distinct key
    not held before, in batch order, taking columns `count`, `count + 1`, ...; those
    candidates are pruned and the fitting ones costed in one pass (`fit_and_cost`: `fits`,
    then `kernel`'s totals, without the factor-only stages twice) and
    scored (`objectives`: OBJECTIVE_* codes, inf where invalid or not fitting) into their
    columns of `seen_scores [K, >= count + B]`. Writes every candidate's scores into
    `out_scores [K, B]` and the positions of the new ones into `out_fresh`; returns (how
    many were new, how many of them fit, the position of the best new one: the first of
    the least scores in lexicographic order, -1 when none has a finite score). The table
    must have room: at most half full after `count + B` keys."""
    nslots, ndims, size = factors.shape
    nlevels = orders.shape[0]
    nfanouts = fanout_owner.size
    nobj = objectives.size
    ordered = nlevels - 1
    columns = np.full(size, -1, dtype=np.int64)
    keys = np.empty(size, dtype=np.uint64)
    candidate_keys(factors, orders, keeps, ordered, multipliers, keys)
    # Within the meshes: each spatial slot's product, the batch innermost.
    inside = np.ones(size, dtype=np.bool_)
    product = np.empty(size, dtype=np.int64)
    for i in range(nslots - nlevels):
        for b in range(size):
            product[b] = 1
        for d in range(ndims):
            for b in range(size):
                product[b] *= factors[nlevels + i, d, b]
        extent = spatial_extent[i]
        for b in range(size):
            inside[b] &= product[b] <= extent
    # Touch each key's slot first: independent loads whose cache misses overlap, where the
    # probes below wait on one miss at a time (the table is cold after the last batch's
    # costing; the probes' misses were 5% of the search). The sum is stored only so that
    # the loads stay.
    mask = np.uint64(table_keys.size - 1)
    touched = np.int64(0)
    for b in range(size):
        slot = keys[b] & mask
        touched += table_columns[slot] + np.int64(table_keys[slot] & np.uint64(1))
    product[0] = touched
    fresh = 0
    for b in range(size):
        if not inside[b]:
            continue
        column = seen_probe(table_keys, table_columns, keys[b], count + fresh)
        columns[b] = column
        if column == count + fresh:
            out_fresh[fresh] = b
            fresh += 1
    # The new candidates' cost-model arrays, then the fitting ones'.
    ft = np.empty((nlevels, ndims, fresh), dtype=np.int64)
    sx = np.ones((nfanouts, ndims, fresh), dtype=np.int64)
    sy = np.ones((nfanouts, ndims, fresh), dtype=np.int64)
    keep_ids = np.empty(fresh, dtype=np.int64)
    for s in range(nlevels):  # row by row: contiguous writes
        for d in range(ndims):
            for k in range(fresh):
                ft[s, d, k] = factors[s, d, out_fresh[k]]
    for i in range(nslots - nlevels):
        target = sx if spatial_axis[i] == 0 else sy
        for d in range(ndims):
            for k in range(fresh):
                target[spatial_fanout[i], d, k] = factors[nlevels + i, d, out_fresh[k]]
    for k in range(fresh):
        keep_ids[k] = keeps[out_fresh[k]]
    valid = np.empty(fresh, dtype=np.bool_)
    out_valid = np.empty(fresh, dtype=np.bool_)
    out_energy = np.empty(fresh)
    out_cycles = np.empty(fresh, dtype=np.int64)
    fitting = fit_and_cost(ft, sx, sy, keep_ids, orders, out_fresh, ints, fanout_owner,
                           fanout_block, level_blocks, fanout_mesh, allowed, level_ints,
                           level_floats, shared, axis_count, axis_terms, axis_dim,
                           axis_coef, coef_dense, tensor_flags, relevant, simple,
                           whole_words, kept, first_keeper, static_valid, bounds,
                           compute_floats, compute_instances, valid, out_valid, out_energy,
                           out_cycles)
    # Scores into the new columns (the numpy path's operations: cycles as float64).
    j = 0
    for k in range(fresh):
        column = count + k
        for o in range(nobj):
            seen_scores[o, column] = np.inf
        if not valid[k]:
            continue
        if out_valid[j]:
            energy, cycles = out_energy[j], np.float64(out_cycles[j])
            for o in range(nobj):
                code = objectives[o]
                seen_scores[o, column] = energy if code == OBJECTIVE_ENERGY else (
                    cycles if code == OBJECTIVE_CYCLES else energy * cycles)
        j += 1
    best = -1
    for k in range(fresh):
        column = count + k
        if not np.isfinite(seen_scores[0, column]):
            continue
        if best < 0:
            best = k
            continue
        for o in range(nobj):
            here, there = seen_scores[o, column], seen_scores[o, count + best]
            if here < there:
                best = k
                break
            if here > there:
                break
    for b in range(size):
        column = columns[b]
        for o in range(nobj):
            out_scores[o, b] = np.inf if column < 0 else seen_scores[o, column]
    return fresh, fitting, -1 if best < 0 else out_fresh[best]


@jit
def argsort_middle(keys: FloatArray, out: IntArray) -> bool:
    """`np.argsort(keys, axis=1)` of `keys [L, D, B]` into `out` (the mapper's random loop
    orders, dslc.mapper.space.MapSpace.random_orders), by counting: the position of dim i
    in a column is how many of its keys are below key i, D^2 comparisons run along the batch
    without a branch (a sort of a handful of keys per column costs more in mispredicted
    branches, numpy's too). Distinct keys have one argsort; returns False when a column
    holds equal keys (`out` is then not to be used: numpy's sort decides their order)."""
    nlevels, ndims, size = keys.shape
    rank = np.empty(size, dtype=np.int64)
    ties = 0
    for level in range(nlevels):
        for i in range(ndims):
            for b in range(size):
                rank[b] = 0
            for j in range(ndims):
                if j == i:
                    continue
                for b in range(size):
                    rank[b] += keys[level, j, b] < keys[level, i, b]
                    ties += keys[level, j, b] == keys[level, i, b]
            for b in range(size):
                out[level, rank[b], b] = i
    return ties == 0


# -- the mapper's local descents (dslc.mapper.search._Search.descend): every step of a
# group of descents in one call.

if _random_interval is not None:
    @jit
    def draw_permutation(rng: np.random.Generator, n: int) -> IntArray:
        """`rng.permutation(n)`, the same numbers and the same draws (numpy's shuffle:
        Fisher-Yates from the end, each index by numpy's bounded draw on the Generator's
        bit generator), without numba's generic swaps through 0-d views (4-5x faster)."""
        out = np.arange(n)
        bitgen = rng.bit_generator
        for i in range(n - 1, 0, -1):
            j = np.intp(_random_interval(bitgen, i))
            held = out[i]
            out[i] = out[j]
            out[j] = held
        return out
else:  # pragma: no cover - a numba without the module: its own permutation
    @jit
    def draw_permutation(rng: np.random.Generator, n: int) -> IntArray:
        """`rng.permutation(n)`."""
        return rng.permutation(n)


@jit_inline
def lex_less(a: FloatArray, b: FloatArray) -> bool:
    """Whether scores `a` come before `b` in lexicographic order (Python's tuple `<`)."""
    for o in range(a.size):
        if a[o] != b[o]:
            return bool(a[o] < b[o])
    return False


@jit
def single_moves(factors: IntArray, orders: IntArray, movable: BoolArray
                 ) -> tuple[IntArray, IntArray]:
    """A descent's single moves as `single_neighbourhood` orders them, unbuilt: the factor
    moves [M, 4] (`factor_moves`) and the loop swaps [W, 3] (level, position a, position
    b), the keep sets after them."""
    ndims = factors.shape[1]
    nlevels = orders.shape[0]
    moves = factor_moves(factors, movable, False)
    nswaps = 0
    for level in range(nlevels - 1):
        real = 0
        for p in range(ndims):
            if factors[level, orders[level, p]] > 1:
                real += 1
        nswaps += real * (real - 1) // 2
    swaps = np.empty((nswaps, 3), dtype=np.int64)
    w = 0
    for level in range(nlevels - 1):
        for a in range(ndims):
            if factors[level, orders[level, a]] <= 1:
                continue
            for c in range(a + 1, ndims):
                if factors[level, orders[level, c]] <= 1:
                    continue
                swaps[w, 0] = level
                swaps[w, 1] = a
                swaps[w, 2] = c
                w += 1
    return moves, swaps


@jit
def descent_ready(i: int, rng: np.random.Generator, cur_f: list[IntArray],
                  cur_o: list[IntArray], cur_k: IntArray, steps: IntArray, exchange: BoolArray,
                  has_moves: BoolArray, at: IntArray, sizes: IntArray,
                  pair_moves: list[IntArray],
                  pair_list: list[IntArray], permutation: list[IntArray],
                  movable: BoolArray, keep_offsets: IntArray, keep_values: IntArray,
                  max_steps: int) -> bool:
    """`_Search._ready` for descent `i`: its next neighbourhood (single moves, then
    exchange moves) and the random order it is taken in, drawn from `rng` as numpy's
    `Generator.permutation` draws it; False when the descent has ended. A neighbourhood is
    kept as its moves, built only when taken: `pair_moves[i]` the factor moves (rows of
    `factor_moves`), `pair_list[i]` the loop swaps of `single_moves` (single moves) or the
    pairs of `exchange_pairs` (exchange moves)."""
    while steps[i] < max_steps:
        if has_moves[i] and at[i] < sizes[i]:
            return True
        if has_moves[i]:
            if exchange[i]:
                return False
            exchange[i] = True
        keep = cur_k[i]
        if exchange[i]:
            moves, pairs = exchange_pairs(cur_f[i], movable)
            pair_moves[i] = moves
            pair_list[i] = pairs
            sizes[i] = pairs.shape[0]
        else:
            # `single_neighbourhood`'s candidates, in its order, kept as their moves (built
            # when taken): the factor moves, the loop swaps (level, a, b), the keep sets.
            moves, swaps = single_moves(cur_f[i], cur_o[i], movable)
            pair_moves[i] = moves
            pair_list[i] = swaps
            sizes[i] = moves.shape[0] + swaps.shape[0] + keep_offsets[keep + 1] \
                - keep_offsets[keep]
        has_moves[i] = True
        permutation[i] = draw_permutation(rng, sizes[i])
        at[i] = 0
    return False


@jit
def descend(rng: np.random.Generator, start_f: IntArray, start_o: IntArray,
            start_k: IntArray, start_s: FloatArray, limit: int, evaluated: int,
            best_s: FloatArray, best_f: IntArray, best_o: IntArray, best_k: IntArray,
            movable: BoolArray, keep_offsets: IntArray, keep_values: IntArray, lanes: int,
            chunk: int, min_share: int, max_steps: int,
            spatial_fanout: IntArray, spatial_axis: IntArray, spatial_extent: IntArray,
            multipliers: npt.NDArray[np.uint64], table_keys: npt.NDArray[np.uint64],
            table_columns: IntArray, count: int, seen_scores: FloatArray,
            objectives: IntArray, ints: IntArray, fanout_owner: IntArray,
            fanout_block: IntArray, level_blocks: IntArray, fanout_mesh: IntArray,
            allowed: BoolArray, level_ints: IntArray, level_floats: FloatArray,
            shared: BoolArray, axis_count: IntArray, axis_terms: IntArray,
            axis_dim: IntArray, axis_coef: IntArray, coef_dense: IntArray,
            tensor_flags: IntArray, relevant: BoolArray, simple: BoolArray,
            whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
            static_valid: BoolArray, bounds: IntArray, compute_floats: FloatArray,
            compute_instances: int
            ) -> tuple[int, int, npt.NDArray[np.uint64], IntArray, FloatArray]:
    """Local descents from each start (`start_f [S, D, N]`, `start_o [L, D, N]`, keep
    choices `start_k [N]`, scores `start_s [K, N]`), exactly as
    `dslc.mapper.search._Search.descend` runs them with `search_batch` per batch: `lanes`
    at a time in lockstep, in the order given, each taking a share of max(chunk // active,
    min_share) of its neighbourhood per batch in the random order `descent_ready` drew, and
    moving to the first least of its share when that is better than where it is; at most
    `max_steps` moves each; while `evaluated < limit` (limit < 0: no limit). Every random
    number is drawn from `rng` (a numpy Generator, whose state advances) in the order the
    Python loop draws it, so the same seed gives the same descents. The search's best
    (`best_s [K]`, `best_f [S, D]`, `best_o [L, D]`, `best_k [1]`) is updated in place.
    Returns (evaluated, count, the table's keys and columns, seen_scores): the remembered
    table and scores, grown when they had no room (then new arrays)."""
    nslots, ndims, nstarts = start_f.shape
    nlevels = start_o.shape[0]
    nobj = objectives.size
    cur_f = [np.ascontiguousarray(start_f[:, :, i]) for i in range(nstarts)]
    cur_o = [np.ascontiguousarray(start_o[:, :, i]) for i in range(nstarts)]
    cur_k = start_k.copy()
    cur_s = start_s.copy()
    steps = np.zeros(nstarts, dtype=np.int64)
    exchange = np.zeros(nstarts, dtype=np.bool_)
    has_moves = np.zeros(nstarts, dtype=np.bool_)
    at = np.zeros(nstarts, dtype=np.int64)
    sizes = np.zeros(nstarts, dtype=np.int64)
    empty2 = np.empty((0, 0), dtype=np.int64)
    empty1 = np.empty(0, dtype=np.int64)
    pair_moves = [empty2 for _ in range(nstarts)]
    pair_list = [empty2 for _ in range(nstarts)]
    permutation = [empty1 for _ in range(nstarts)]
    active = np.empty(lanes, dtype=np.int64)
    nactive = 0
    waiting = 0  # the next start to take
    takes = np.empty(lanes, dtype=np.int64)
    while limit < 0 or evaluated < limit:
        kept_lanes = 0
        for a in range(nactive):
            i = active[a]
            if descent_ready(i, rng, cur_f, cur_o, cur_k, steps, exchange, has_moves, at,
                             sizes, pair_moves, pair_list,
                             permutation, movable, keep_offsets, keep_values, max_steps):
                active[kept_lanes] = i
                kept_lanes += 1
        nactive = kept_lanes
        while waiting < nstarts and nactive < lanes:
            i = waiting
            waiting += 1
            if descent_ready(i, rng, cur_f, cur_o, cur_k, steps, exchange, has_moves, at,
                             sizes, pair_moves, pair_list,
                             permutation, movable, keep_offsets, keep_values, max_steps):
                active[nactive] = i
                nactive += 1
        if nactive == 0:
            break
        share = max(chunk // nactive, min_share)
        size = 0
        for a in range(nactive):
            i = active[a]
            takes[a] = min(at[i] + share, sizes[i]) - at[i]
            size += takes[a]
        factors = np.empty((nslots, ndims, size), dtype=np.int64)
        orders = np.empty((nlevels, ndims, size), dtype=np.int64)
        keeps = np.empty(size, dtype=np.int64)
        # Each descent's share: copies of where it is (filled row by row: contiguous
        # writes), then each candidate's move.
        b = 0
        for a in range(nactive):
            i = active[a]
            here_f, here_o = cur_f[i], cur_o[i]
            for s in range(nslots):
                for d in range(ndims):
                    value = here_f[s, d]
                    for k in range(b, b + takes[a]):
                        factors[s, d, k] = value
            for lv in range(nlevels):
                for p in range(ndims):
                    value = here_o[lv, p]
                    for k in range(b, b + takes[a]):
                        orders[lv, p, k] = value
            for k in range(b, b + takes[a]):
                keeps[k] = cur_k[i]
            order = permutation[i]
            moves = pair_moves[i]
            listed = pair_list[i]
            nmoves = moves.shape[0]
            for j in range(at[i], at[i] + takes[a]):
                c = order[j]
                if exchange[i]:
                    for m in (listed[c, 0], listed[c, 1]):
                        d, source, dest, part = moves[m, 0], moves[m, 1], moves[m, 2], \
                            moves[m, 3]
                        factors[source, d, b] //= part
                        factors[dest, d, b] *= part
                elif c < nmoves:
                    d, source, dest, part = moves[c, 0], moves[c, 1], moves[c, 2], \
                        moves[c, 3]
                    factors[source, d, b] //= part
                    factors[dest, d, b] *= part
                elif c < nmoves + listed.shape[0]:
                    w = c - nmoves
                    lv, x, y = listed[w, 0], listed[w, 1], listed[w, 2]
                    orders[lv, x, b] = here_o[lv, y]
                    orders[lv, y, b] = here_o[lv, x]
                else:
                    keep = cur_k[i]
                    keeps[b] = keep_values[keep_offsets[keep] + c - nmoves - listed.shape[0]]
                b += 1
            at[i] += takes[a]
        # The batch, as `_Search._compiled_batch` runs it (the table and the scores grown
        # first when they have no room).
        table_keys, table_columns, seen_scores = seen_room(table_keys, table_columns,
                                                           seen_scores, count, size)
        out_scores = np.empty((nobj, size))
        out_fresh = np.empty(size, dtype=np.int64)
        fresh, fitting, best = search_batch(
            factors, orders, keeps, spatial_fanout, spatial_axis, spatial_extent,
            multipliers, table_keys, table_columns, count, seen_scores, objectives, ints,
            fanout_owner, fanout_block, level_blocks, fanout_mesh, allowed, level_ints,
            level_floats, shared, axis_count, axis_terms, axis_dim, axis_coef, coef_dense,
            tensor_flags, relevant, simple, whole_words, kept, first_keeper, static_valid,
            bounds, compute_floats, compute_instances, out_scores, out_fresh)
        count += fresh
        evaluated += fitting
        take_best(best, out_scores, factors, orders, keeps, best_s, best_f, best_o, best_k)
        # Each descent moves to the first least of its share when it improves.
        offset = 0
        for a in range(nactive):
            i = active[a]
            least = offset
            for j in range(offset + 1, offset + takes[a]):
                if lex_less_at(out_scores, j, out_scores, least):
                    least = j
            if lex_less_at(out_scores, least, cur_s, i):
                cur_f[i] = np.ascontiguousarray(factors[:, :, least])
                cur_o[i] = np.ascontiguousarray(orders[:, :, least])
                cur_k[i] = keeps[least]
                cur_s[:, i] = out_scores[:, least]
                steps[i] += 1
                has_moves[i] = False
                exchange[i] = False
                at[i] = 0
            offset += takes[a]
    return evaluated, count, table_keys, table_columns, seen_scores


# -- the mapper's rounds (dslc.mapper.search._Search.heuristic, after the starts' descents):
# random children of the population, their batch, the selection of the population and the
# elite, the stalls, in one call until a restart is due.

@jit_inline
def lex_less_at(a: FloatArray, i: int, b: FloatArray, j: int) -> bool:
    """`lex_less(a[:, i], b[:, j])` without the column views."""
    for o in range(a.shape[0]):
        if a[o, i] != b[o, j]:
            return bool(a[o, i] < b[o, j])
    return False


@jit
def pool_select(a_f: IntArray, a_o: IntArray, a_k: IntArray, a_s: FloatArray,
                b_f: IntArray, b_o: IntArray, b_k: IntArray, b_s: FloatArray,
                b_cols: IntArray, most: int
                ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """`_Pool.select([a, b])` (dslc.mapper.search) where pool b is the batch's columns
    `b_cols` (factors `b_f [S, D, B]`, ...): the `most` best candidates with a finite first
    score, in lexicographic order of their scores, ties in the order given (a, then b), as
    numpy's stable sort ranks them: each candidate goes after every one before it that is
    not worse."""
    na = a_k.size
    total = na + b_cols.size
    top = np.empty(most, dtype=np.int64)  # < na: a's column; else b_cols[index - na]
    n = 0
    for i in range(total):
        x_s, x = (a_s, i) if i < na else (b_s, b_cols[i - na])
        if not np.isfinite(x_s[0, x]):
            continue
        at = n
        while at > 0:
            t = top[at - 1]
            y_s, y = (a_s, t) if t < na else (b_s, b_cols[t - na])
            if not lex_less_at(x_s, x, y_s, y):
                break
            at -= 1
        if at >= most:
            continue
        last = min(n, most - 1)
        for j in range(last, at, -1):
            top[j] = top[j - 1]
        top[at] = i
        n = min(n + 1, most)
    nslots, ndims = a_f.shape[0], a_f.shape[1]
    nlevels = a_o.shape[0]
    nobj = b_s.shape[0]
    out_f = np.empty((nslots, ndims, n), dtype=np.int64)
    out_o = np.empty((nlevels, ndims, n), dtype=np.int64)
    out_k = np.empty(n, dtype=np.int64)
    out_s = np.empty((nobj, n))
    for j in range(n):
        t = top[j]
        if t < na:
            out_f[:, :, j] = a_f[:, :, t]
            out_o[:, :, j] = a_o[:, :, t]
            out_k[j] = a_k[t]
            out_s[:, j] = a_s[:, t]
        else:
            c = b_cols[t - na]
            out_f[:, :, j] = b_f[:, :, c]
            out_o[:, :, j] = b_o[:, :, c]
            out_k[j] = b_k[c]
            out_s[:, j] = b_s[:, c]
    return out_f, out_o, out_k, out_s


@jit
def random_children(rng: np.random.Generator, pop_f: IntArray, pop_o: IntArray, size: int,
                    primes: IntArray, prime_values: IntArray, movable: BoolArray,
                    check_source: bool) -> tuple[IntArray, IntArray, IntArray]:
    """`MapSpace.neighbours` (dslc.mapper.space): `size` children of random parents of
    `pop_f [S, D, P]`, `pop_o [L, D, P]`, one or two moves each, every draw made from `rng`
    as numpy makes it there (numba's `Generator.integers` and `random` are numpy's
    algorithms on the same bit generator), then `random_moves`. Returns (factors, orders,
    parents)."""
    nslots, ndims = pop_f.shape[0], pop_f.shape[1]
    nlevels = pop_o.shape[0]
    moving = np.empty((2, size), dtype=np.bool_)
    dims = np.empty((2, size), dtype=np.int64)
    source = np.empty((2, size), dtype=np.int64)
    dest = np.empty((2, size), dtype=np.int64)
    pick = np.empty((2, size), dtype=np.int64)
    level = np.empty((2, size), dtype=np.int64)
    pos_a = np.empty((2, size), dtype=np.int64)
    pos_b = np.empty((2, size), dtype=np.int64)
    parents = rng.integers(0, pop_f.shape[2], size)
    for r in range(2):  # in `neighbours`' order
        uniform = rng.random(size)
        for c in range(size):
            moving[r, c] = uniform[c] < 0.7
        dims[r] = rng.integers(0, ndims, size)
        source[r] = rng.integers(0, nslots, size)
        dest[r] = rng.integers(0, nslots, size)
        pick[r] = rng.integers(0, 1 << 30, size)
        level[r] = rng.integers(0, nlevels, size)
        pos_a[r] = rng.integers(0, ndims, size)
        pos_b[r] = rng.integers(0, ndims, size)
    factors, orders = random_moves(pop_f, pop_o, parents, moving, dims, source, dest, pick,
                                   level, pos_a, pos_b, primes, prime_values, movable,
                                   check_source)
    return factors, orders, parents


@jit
def rounds(rng: np.random.Generator, pop_f: IntArray, pop_o: IntArray, pop_k: IntArray,
           pop_s: FloatArray, eli_f: IntArray, eli_o: IntArray, eli_k: IntArray,
           eli_s: FloatArray, kick: bool, reference: FloatArray, stalls: int, idle: int,
           most_stalls: int, most_idle: int, budget: int, evaluated: int,
           best_s: FloatArray, best_f: IntArray, best_o: IntArray, best_k: IntArray,
           round_size: int, population: int, keep_offsets: IntArray, keep_values: IntArray,
           primes: IntArray, prime_values: IntArray, movable: BoolArray, check_source: bool,
           spatial_fanout: IntArray, spatial_axis: IntArray, spatial_extent: IntArray,
           multipliers: npt.NDArray[np.uint64], table_keys: npt.NDArray[np.uint64],
           table_columns: IntArray, count: int, seen_scores: FloatArray,
           objectives: IntArray, ints: IntArray, fanout_owner: IntArray,
           fanout_block: IntArray, level_blocks: IntArray, fanout_mesh: IntArray,
           allowed: BoolArray, level_ints: IntArray, level_floats: FloatArray,
           shared: BoolArray, axis_count: IntArray, axis_terms: IntArray,
           axis_dim: IntArray, axis_coef: IntArray, coef_dense: IntArray,
           tensor_flags: IntArray, relevant: BoolArray, simple: BoolArray,
           whole_words: IntArray, kept: BoolArray, first_keeper: IntArray,
           static_valid: BoolArray, bounds: IntArray, compute_floats: FloatArray,
           compute_instances: int
           ) -> tuple[int, int, npt.NDArray[np.uint64], IntArray, FloatArray, IntArray,
                      IntArray, IntArray, FloatArray, IntArray, IntArray, IntArray,
                      FloatArray, int, int]:
    """The rounds of `dslc.mapper.search._Search.heuristic` (`_rounds`): one round, then
    more while `evaluated < budget`, `idle < most_idle`, the population (`pop_*`: factors
    [S, D, P], orders, keeps, scores [K, P]; not empty when called) is not empty and
    `stalls < most_stalls`, exactly as its Python loop runs them (`_neighbours`,
    `run_batch`, `_Pool.select`); with `kick`, first the restart's kicked copies of the
    elite (`_kicked`: two rounds of moves each, one batch, the population the best of them;
    none: an idle restart, and it returns): per round `round_size` children of
    random parents (`MapSpace.neighbours`' draws, then `random_moves`; with more than one
    keep choice, a neighbouring keep choice drawn per parent and a quarter of the children
    moved to their parent's), one `search_batch`, the population and the elite (`eli_*`)
    re-selected from themselves and the candidates evaluated (the best `population`), a
    stall counted unless the search's best (`best_*`, updated in place) beat `reference`
    (updated in place), an idle round counted when nothing new was evaluated. Every random
    number is drawn from `rng` as numpy draws it there (numba's `Generator.integers` and
    `random` are numpy's algorithms on the same bit generator). Returns (evaluated, count,
    the table's keys and columns, seen_scores, the population's four arrays, the elite's,
    stalls, idle)."""
    nobj = objectives.size
    nkeeps = keep_offsets.size - 1
    size = round_size
    kicking = kick
    first = True  # the caller checked the budget before its restart: this round runs
    before = evaluated
    while kicking or first or (evaluated < budget and idle < most_idle and pop_k.size > 0
                               and stalls < most_stalls):
        keeps = np.empty(size, dtype=np.int64)
        if kicking:  # `_kicked`: two rounds of moves from the elite, the parents' keeps
            kicked_f, kicked_o, parents = random_children(
                rng, eli_f, eli_o, size, primes, prime_values, movable, check_source)
            factors, orders, again = random_children(
                rng, kicked_f, kicked_o, size, primes, prime_values, movable, check_source)
            for c in range(size):
                keeps[c] = eli_k[parents[again[c]]]
        else:  # `_neighbours`
            first = False
            before = evaluated
            nparents = pop_k.size
            factors, orders, parents = random_children(
                rng, pop_f, pop_o, size, primes, prime_values, movable, check_source)
            for c in range(size):
                keeps[c] = pop_k[parents[c]]
            if nkeeps > 1:  # a neighbouring keep choice per parent, then who moves to it
                moved = np.empty(nparents, dtype=np.int64)
                for p in range(nparents):
                    keep = pop_k[p]
                    options = keep_offsets[keep + 1] - keep_offsets[keep]
                    moved[p] = keep if options == 0 else \
                        keep_values[keep_offsets[keep] + rng.integers(0, options)]
                uniform = rng.random(size)
                for c in range(size):
                    if uniform[c] < 0.25:
                        keeps[c] = moved[parents[c]]
        # The batch, as `_Search._compiled_batch` runs it.
        table_keys, table_columns, seen_scores = seen_room(table_keys, table_columns,
                                                           seen_scores, count, size)
        out_scores = np.empty((nobj, size))
        out_fresh = np.empty(size, dtype=np.int64)
        fresh, fitting, best = search_batch(
            factors, orders, keeps, spatial_fanout, spatial_axis, spatial_extent,
            multipliers, table_keys, table_columns, count, seen_scores, objectives, ints,
            fanout_owner, fanout_block, level_blocks, fanout_mesh, allowed, level_ints,
            level_floats, shared, axis_count, axis_terms, axis_dim, axis_coef, coef_dense,
            tensor_flags, relevant, simple, whole_words, kept, first_keeper, static_valid,
            bounds, compute_floats, compute_instances, out_scores, out_fresh)
        count += fresh
        evaluated += fitting
        take_best(best, out_scores, factors, orders, keeps, best_s, best_f, best_o, best_k)
        idle = idle + 1 if evaluated == before else 0
        # `run_batch`'s pool: the new candidates that fit, in batch order.
        taken = 0
        for j in range(fresh):
            if np.isfinite(out_scores[0, out_fresh[j]]):
                out_fresh[taken] = out_fresh[j]
                taken += 1
        chosen = out_fresh[:taken]
        if kicking:  # the population is the best of the kicked copies (`_kicked`)
            kicking = False
            pop_f, pop_o, pop_k, pop_s = pool_select(
                pop_f[:, :, :0].copy(), pop_o[:, :, :0].copy(), pop_k[:0].copy(),
                np.empty((nobj, 0)), factors, orders, keeps, out_scores, chosen, population)
            if pop_k.size == 0:  # `heuristic` counts an idle restart and goes on
                idle += 1
                break
            continue
        pop_f, pop_o, pop_k, pop_s = pool_select(pop_f, pop_o, pop_k, pop_s, factors,
                                                 orders, keeps, out_scores, chosen,
                                                 population)
        eli_f, eli_o, eli_k, eli_s = pool_select(eli_f, eli_o, eli_k, eli_s, factors,
                                                 orders, keeps, out_scores, chosen,
                                                 population)
        if lex_less(best_s, reference):
            reference[:] = best_s
            stalls = 0
        else:
            stalls += 1
    return (evaluated, count, table_keys, table_columns, seen_scores, pop_f, pop_o, pop_k,
            pop_s, eli_f, eli_o, eli_k, eli_s, stalls, idle)
