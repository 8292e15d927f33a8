"""A compiled (numba) twin of `BatchEvaluator`'s numpy path: the mapper's hot loop.

In: the batch arrays of `dslc.cost.batched` (batch last) and the evaluator's static tables
(`KernelTables`, built by `BatchEvaluator`). Out: `BatchCost`'s arrays filled in place, equal
to the numpy path and to the scalar model bit for bit (the property tests run both engines;
tests/cost/test_kernel.py compares them on shipped layers). Without the breakdown arrays
only the totals are written (`BatchEvaluator.totals`, the mapper's call).

Why a second implementation of the same rules: the numpy path streams ~250 whole-array
operations per chunk through memory. Here a block of 256 mappings goes through one small
function per stage; the regular stages (geometry, tiles, partitions, multicast, capacity,
cycles, energy) loop over the block's mappings innermost on rows that stay in L1, and only
the loop slots and the sliding-window sums, which depend on each mapping's loop order, run
mapping by mapping. That is 2-2.8x the numpy path on a conv (docs/performance.md). Integer
arithmetic is exact in any order, so the kernel restructures it (the sliding-window sum runs
over real loops only, from the innermost out, and stops at the first loop that moves a
single-dim axis); floating-point operations follow the numpy path's order exactly.

This module packs the tables and dispatches; the numba functions are in `kernel_numba`,
imported on first use. numba is optional (the `fast` extra). Without it, with DSLC_NO_JIT
set, or for tensors whose multicast has no closed form, the numpy path runs. The kernel is
compiled on first use and cached on disk by numba (12-20 s once per machine and source
version). The command line does not make a user wait for that: when the cache is cold it
claims the compile (`claim_compile`, a lock file beside numba's cache), starts it in a
background process (`dslc compile-kernel`) and runs its own command on the numpy path
(`deferred()`), which gives the same numbers; the next run loads the compiled kernel.

Validity alone (`BatchEvaluator.fits`, the mapper's pruning) runs here too when the kernel
is available: `run_fits` runs only the stages that depend on the factors (coverage, meshes
and dataflow, tiles, backing stores, capacity: `shape_block`) and counts nothing; the numpy
path is the fallback, as for `run`.

The mapper's compiled pieces are dispatched here too (`run_single_neighbourhood`,
`run_exchange_*`, `run_random_moves`, `run_filled_cuts`, `run_seen_*`, `run_argsort_middle`,
`run_search_batch`: a whole batch of the search in one call, `run_descend`: a group of
local descents in one call, and `run_rounds`: the heuristic's rounds until a restart is due,
in one call); docs/design/mapper.md, "What runs compiled", lists each with its numpy twin.
They do not decide anything of the search's strategy; only `run_descend` (each
neighbourhood's order) and `run_rounds` (the children's parents and moves, the keep moves)
draw random numbers, from the search's own numpy `Generator` and exactly as the Python
loops draw them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DISABLE_ENV = "DSLC_NO_JIT"
"""Set (to anything but empty or 0) to run the numpy path even when numba is installed."""

BLOCK = 256
"""Mappings per block of the kernel (the breakdown scratch of `run` has this width)."""

_compiled: ModuleType | None = None
_loaded = False
_deferred = 0
COMPILE_LOCK = "dslc-kernel.compiling"
"""The lock file, beside numba's cache index, of a compile in progress."""
STALE_LOCK_S = 600.0
"""A lock older than this is left over from a compile that died; it is taken over."""


def available() -> bool:
    """Whether the compiled kernel can run here (numba installed and not disabled)."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0") or _deferred:
        return False
    return _module() is not None


@contextmanager
def deferred() -> Iterator[None]:
    """Within this block, `available()` is False: the numpy path runs (the same numbers)
    while the kernel compiles elsewhere. Worker processes started meanwhile inherit it
    (through DSLC_NO_JIT in the environment)."""
    global _deferred
    _deferred += 1
    before = os.environ.get(DISABLE_ENV)
    os.environ[DISABLE_ENV] = "1"
    try:
        yield
    finally:
        _deferred -= 1
        if before is None:
            os.environ.pop(DISABLE_ENV, None)
        else:
            os.environ[DISABLE_ENV] = before


def _index_path() -> str | None:
    module = _module()
    if module is None:
        return None
    try:
        return str(module.kernel._cache._cache_file._index_path)
    except AttributeError:
        return None


def claim_compile() -> str | None:
    """When the kernel is available but not in numba's disk cache: the path of a lock file
    this process now holds (whoever holds it compiles the kernel and removes it), or ""
    when another process is compiling it already. None when there is nothing to compile or
    no lock can be taken (the kernel then compiles in this process on first use)."""
    if not available() or cached_on_disk():
        return None
    index = _index_path()
    if index is None:
        return None
    lock = os.path.join(os.path.dirname(index), COMPILE_LOCK)
    for _ in range(2):
        try:
            os.makedirs(os.path.dirname(lock), exist_ok=True)
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return lock
        except FileExistsError:
            try:
                if time.time() - os.path.getmtime(lock) < STALE_LOCK_S:
                    return ""
                os.remove(lock)
            except OSError:
                continue  # removed meanwhile: try again
        except OSError:
            return None
    return None


def _module() -> ModuleType | None:
    global _compiled, _loaded
    if not _loaded:
        _loaded = True
        try:
            import numba
        except ImportError:
            return None
        try:
            from dslc.cost import kernel_numba
        except RuntimeError:
            # No writable place for numba's cache next to the package (a read-only
            # install): cache under the temporary directory instead.
            numba.config.CACHE_DIR = os.path.join(  # type: ignore[attr-defined]
                tempfile.gettempdir(), "dslc-numba")
            from dslc.cost import kernel_numba
        assert kernel_numba.BLOCK == BLOCK
        _compiled = kernel_numba
    return _compiled


def cached_on_disk() -> bool:
    """Whether numba's disk cache holds the kernel already, so its first call loads it (under
    a second) rather than compiles it (about 20 s). Best effort, from numba's cache index:
    True when it cannot tell, or when the kernel is not available."""
    if _module() is None:
        return True
    index = _index_path()
    return True if index is None else os.path.exists(index)


@dataclass(frozen=True, slots=True)
class KernelTables:
    """Everything static about (problem, accelerator, keep choices), as flat numpy arrays
    the kernel reads; `BatchEvaluator` builds them (names mirror its attributes)."""

    ints: IntArray
    """[7] levels, dims, tensors, fanouts, imperfect (0/1), MACs of the problem, MAC units
    power gated (0/1: leakage on the units used, or on all)."""
    fanout_owner: IntArray
    """[F] memory level owning each fanout."""
    fanout_block: IntArray
    """[F] the multicast block of each fanout (blocks numbered outermost first)."""
    level_blocks: IntArray
    """[L + 1] the blocks of level i are level_blocks[i] .. level_blocks[i + 1] - 1."""
    fanout_mesh: IntArray
    """[F, 2] mesh X and Y."""
    allowed: BoolArray
    """[F, 2, D] dims a fanout axis may unroll."""
    level_ints: IntArray
    """[L, 8] has fanouts, size in words (-1: unbounded), buffering, block words,
    instances, some keep choice keeps something here (0/1), log2 of the block words (-1: not
    a power of two), power gated (0/1: leakage on the instances used, or on all)."""
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
    """MAC units in the whole accelerator."""

    def arguments(self) -> tuple[Any, ...]:
        """The tables in the order of `kernel_numba.kernel`'s parameters."""
        return (self.ints, self.fanout_owner, self.fanout_block, self.level_blocks,
                self.fanout_mesh, self.allowed, self.level_ints,
                self.level_floats, self.shared, self.axis_count, self.axis_terms,
                self.axis_dim, self.axis_coef, self.coef_dense, self.tensor_flags,
                self.relevant, self.simple, self.whole_words, self.kept, self.first_keeper,
                self.static_valid, self.bounds, self.compute_floats, self.compute_instances)


def run(tables: KernelTables, ft: IntArray, order: IntArray, sx: IntArray, sy: IntArray,
        keep_ids: IntArray, out: dict[str, npt.NDArray[Any]]) -> None:
    """Evaluate the batch into the arrays of `out`: BatchCost's fields for the whole batch.
    Without the breakdown fields (reads, fills, updates, utilized_instances,
    tensor_energy_pj, leakage_energy_pj, compute_energy_pj), only the totals are kept."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    nlevels, ntensors = int(tables.ints[0]), int(tables.ints[2])
    scratch = {"reads": np.empty((nlevels, ntensors, BLOCK), dtype=np.int64),
               "fills": np.empty((nlevels, ntensors, BLOCK), dtype=np.int64),
               "updates": np.empty((nlevels, ntensors, BLOCK), dtype=np.int64),
               "utilized_instances": np.empty((nlevels, BLOCK), dtype=np.int64),
               "tensor_energy_pj": np.empty((nlevels, ntensors, BLOCK)),
               "leakage_energy_pj": np.empty((nlevels, BLOCK)),
               "compute_energy_pj": np.empty(BLOCK)} if "reads" not in out else out
    batch = (np.ascontiguousarray(a, dtype=np.int64) for a in (ft, order, sx, sy, keep_ids))
    compiled.kernel(*batch, *tables.arguments(),
                    out["valid"], out["energy_pj"], out["cycles"], out["compute_cycles"],
                    out["utilization"], scratch["reads"], scratch["fills"], scratch["updates"],
                    scratch["utilized_instances"], scratch["tensor_energy_pj"],
                    scratch["leakage_energy_pj"], scratch["compute_energy_pj"])


def run_fits(tables: KernelTables, ft: IntArray, sx: IntArray, sy: IntArray,
             keep_ids: IntArray) -> BoolArray:
    """[B] the `valid` of `run` alone (BatchEvaluator.fits)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    valid = np.empty(ft.shape[-1], dtype=np.bool_)
    compiled.fits(*(np.ascontiguousarray(a, dtype=np.int64) for a in (ft, sx, sy, keep_ids)),
                  tables.ints, tables.fanout_owner, tables.fanout_mesh, tables.allowed,
                  tables.level_ints, tables.axis_count, tables.axis_terms, tables.axis_dim,
                  tables.axis_coef, tables.whole_words, tables.kept, tables.first_keeper,
                  tables.static_valid, tables.bounds, valid)
    return valid


def run_candidate_keys(factors: IntArray, orders: IntArray, keeps: IntArray, ordered: int,
                       multipliers: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """[B] the mapper's de-duplication keys, compiled (equal to its numpy version)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    keys = np.empty(factors.shape[-1], dtype=np.uint64)
    compiled.candidate_keys(*(np.ascontiguousarray(a, dtype=np.int64)
                              for a in (factors, orders, keeps)), ordered, multipliers, keys)
    return keys


def run_single_neighbourhood(factors: IntArray, orders: IntArray, keep: int,
                             movable: BoolArray, others: list[int]
                             ) -> tuple[IntArray, IntArray, IntArray]:
    """A local descent's single moves, compiled (dslc.mapper.space.MapSpace.
    single_neighbourhood: the same candidates in the same order)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[IntArray, IntArray, IntArray] = compiled.single_neighbourhood(
        np.ascontiguousarray(factors, dtype=np.int64),
        np.ascontiguousarray(orders, dtype=np.int64), keep, movable,
        np.array(others, dtype=np.int64))
    return found


def run_exchange_pairs(factors: IntArray, movable: BoolArray) -> tuple[IntArray, IntArray]:
    """A local descent's exchange moves as (moves, pairs), compiled
    (`kernel_numba.exchange_pairs`; `run_exchange_take` builds the candidates)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[IntArray, IntArray] = compiled.exchange_pairs(
        np.ascontiguousarray(factors, dtype=np.int64), movable)
    return found


def run_exchange_take(factors: IntArray, orders: IntArray, keep: int, moves: IntArray,
                      pairs: IntArray, take: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The candidates of exchange pairs `take`, batch last (`kernel_numba.exchange_take`)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[IntArray, IntArray, IntArray] = compiled.exchange_take(
        np.ascontiguousarray(factors, dtype=np.int64),
        np.ascontiguousarray(orders, dtype=np.int64), keep, moves, pairs,
        np.ascontiguousarray(take, dtype=np.int64))
    return found


def run_filled_cuts(tables: KernelTables, order_dims: IntArray, order_values: IntArray,
                    unrolled_x: IntArray, unrolled_y: IntArray, nlevels: int) -> IntArray:
    """[B, n] the levels of the mapper's filled seeds' primes, compiled
    (`kernel_numba.filled_cuts`: the cuts of dslc.mapper.search's numpy path)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: IntArray = compiled.filled_cuts(
        *(np.ascontiguousarray(a, dtype=np.int64)
          for a in (order_dims, order_values, unrolled_x, unrolled_y)), nlevels,
        tables.ints, tables.fanout_owner, tables.fanout_mesh, tables.allowed,
        tables.level_ints, tables.axis_count, tables.axis_terms, tables.axis_dim,
        tables.axis_coef, tables.whole_words, tables.kept, tables.first_keeper,
        tables.static_valid, tables.bounds)
    return found


def run_random_moves(factors: IntArray, orders: IntArray, parents: IntArray,
                     draws: list[npt.NDArray[Any]], primes: IntArray,
                     prime_values: IntArray | None, movable: BoolArray,
                     check_source: bool) -> tuple[IntArray, IntArray]:
    """The mapper's random children from their parents and draws (moving, dim, source,
    destination, pick, level, a, b; [rounds, B] each), compiled
    (`kernel_numba.random_moves`)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    moving, *rest = draws
    found: tuple[IntArray, IntArray] = compiled.random_moves(
        np.ascontiguousarray(factors, dtype=np.int64),
        np.ascontiguousarray(orders, dtype=np.int64),
        np.ascontiguousarray(parents, dtype=np.int64), np.ascontiguousarray(moving),
        *(np.ascontiguousarray(a, dtype=np.int64) for a in rest), primes,
        np.zeros(0, dtype=np.int64) if prime_values is None else prime_values, movable,
        check_source)
    return found


def run_seen_claim(table_keys: npt.NDArray[np.uint64], table_columns: IntArray, count: int,
                   keys: npt.NDArray[np.uint64]) -> tuple[IntArray, IntArray]:
    """([B] the column of each key, [F] the positions of the keys inserted) of the mapper's
    remembered keys (`kernel_numba.seen_claim`, which updates the table in place)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    columns = np.empty(keys.size, dtype=np.int64)
    fresh = np.empty(keys.size, dtype=np.int64)
    inserted = compiled.seen_claim(table_keys, table_columns, count,
                                   np.ascontiguousarray(keys, dtype=np.uint64), columns, fresh)
    return columns, fresh[:inserted]


def run_seen_grow(table_keys: npt.NDArray[np.uint64], table_columns: IntArray
                  ) -> tuple[npt.NDArray[np.uint64], IntArray]:
    """The mapper's remembered keys in a table twice the size (`kernel_numba.seen_grow`)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[npt.NDArray[np.uint64], IntArray] = compiled.seen_grow(table_keys,
                                                                          table_columns)
    return found


def run_seen_room(table_keys: npt.NDArray[np.uint64], table_columns: IntArray,
                  seen_scores: FloatArray, count: int, size: int
                  ) -> tuple[npt.NDArray[np.uint64], IntArray, FloatArray]:
    """The mapper's remembered keys and scores with room for `size` more candidates after
    `count` (`kernel_numba.seen_room`, as the compiled descents and rounds grow them)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[npt.NDArray[np.uint64], IntArray, FloatArray] = compiled.seen_room(
        table_keys, table_columns, seen_scores, count, size)
    return found


def run_search_batch(tables: KernelTables, factors: IntArray, orders: IntArray,
                     keeps: IntArray, spatial: IntArray, multipliers: npt.NDArray[np.uint64],
                     table_keys: npt.NDArray[np.uint64], table_columns: IntArray, count: int,
                     seen_scores: FloatArray, objectives: IntArray
                     ) -> tuple[FloatArray, IntArray, int, int]:
    """One batch of the mapper's search in one call (`kernel_numba.search_batch`: mesh
    check, keys, the remembered table, pruning, costing and scoring; `spatial [S - L, 3]`
    the fanout, axis (0: X) and extent of each spatial slot): ([K, B] every candidate's
    scores, the positions of the candidates not seen before, how many of those fit, the
    position of the best of them or -1). The table and `seen_scores` are updated in place
    and must have room for B more keys."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    scores = np.empty((objectives.size, factors.shape[-1]))
    fresh = np.empty(factors.shape[-1], dtype=np.int64)
    inserted, fitting, best = compiled.search_batch(
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (factors, orders, keeps)),
        *np.ascontiguousarray(spatial.T), multipliers, table_keys, table_columns, count,
        seen_scores, objectives, *tables.arguments(), scores, fresh)
    return scores, fresh[:inserted], int(fitting), int(best)


def run_argsort_middle(keys: FloatArray) -> IntArray | None:
    """`np.argsort(keys, axis=1)` of `keys [L, D, B]`, compiled (`kernel_numba.
    argsort_middle`); None when a column holds equal keys (numpy's sort then decides)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    out = np.empty(keys.shape, dtype=np.int64)
    return out if compiled.argsort_middle(np.ascontiguousarray(keys), out) else None


def run_descend(rng: np.random.Generator, tables: KernelTables, starts: tuple[IntArray, ...],
                start_scores: FloatArray, limit: int, evaluated: int,
                best: tuple[FloatArray, IntArray, IntArray, IntArray], movable: BoolArray,
                keep_neighbours: tuple[IntArray, IntArray], shape: tuple[int, int, int, int],
                spatial: IntArray, multipliers: npt.NDArray[np.uint64],
                table_keys: npt.NDArray[np.uint64], table_columns: IntArray, count: int,
                seen_scores: FloatArray, objectives: IntArray
                ) -> tuple[int, int, npt.NDArray[np.uint64], IntArray, FloatArray]:
    """The mapper's local descents from `starts` (factors, orders, keep choices; batch
    last) in one call (`kernel_numba.descend`: the descents of dslc.mapper.search
    `_Search.descend`, the same candidates, batches and random draws from `rng`). `best`
    (scores [K], factors, orders, keep [1]) is updated in place; `keep_neighbours` is each
    keep choice's neighbours as (offsets, values); `shape` is (lanes, chunk, least share,
    most steps). Returns (evaluated, count, table keys, table columns, seen scores)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    found: tuple[int, int, npt.NDArray[np.uint64], IntArray, FloatArray] = compiled.descend(
        rng, *(np.ascontiguousarray(a, dtype=np.int64) for a in starts),
        np.ascontiguousarray(start_scores, dtype=np.float64), limit, evaluated, *best,
        movable, *keep_neighbours, *shape, *np.ascontiguousarray(spatial.T), multipliers,
        table_keys, table_columns, count, seen_scores, objectives, *tables.arguments())
    return found


def run_rounds(rng: np.random.Generator, tables: KernelTables,
               population: tuple[IntArray, IntArray, IntArray, FloatArray],
               elite: tuple[IntArray, IntArray, IntArray, FloatArray], kick: bool,
               reference: FloatArray,
               counters: tuple[int, int, int, int, int, int],
               best: tuple[FloatArray, IntArray, IntArray, IntArray],
               shape: tuple[int, int], keep_neighbours: tuple[IntArray, IntArray],
               moves: tuple[IntArray, IntArray, BoolArray, bool], spatial: IntArray,
               multipliers: npt.NDArray[np.uint64], table_keys: npt.NDArray[np.uint64],
               table_columns: IntArray, count: int, seen_scores: FloatArray,
               objectives: IntArray) -> tuple[Any, ...]:
    """The mapper's rounds until a restart is due (`kernel_numba.rounds`: the rounds of
    dslc.mapper.search `_Search.heuristic`, the same children, batches, selections and
    random draws from `rng`; with `kick`, first a restart's kicked copies of the elite).
    `population` and `elite` are (factors, orders, keeps, scores); `counters` (stalls,
    idle, most stalls, most idle, budget, evaluated); `best` and `reference` (the best the
    stalls are counted against) are updated in place; `shape` is (children per round,
    population); `moves` is `MapSpace.random_move_tables`. Returns (evaluated, count, table
    keys, table columns, seen scores, the population's four arrays, the elite's, stalls,
    idle)."""
    compiled = _module()
    assert compiled is not None, "the compiled kernel is not available"
    pools = [np.ascontiguousarray(a, dtype=dtype) for pool in (population, elite)
             for a, dtype in zip(pool, (np.int64, np.int64, np.int64, np.float64),
                                 strict=True)]
    found: tuple[Any, ...] = compiled.rounds(
        rng, *pools, kick, reference, *counters, *best, *shape, *keep_neighbours, *moves,
        *np.ascontiguousarray(spatial.T), multipliers, table_keys, table_columns, count,
        seen_scores, objectives, *tables.arguments())
    return found
