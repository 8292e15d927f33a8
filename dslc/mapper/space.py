"""The map space of one problem on one accelerator: what the mapper chooses from.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch) and its map-space
constraints (`MapConstraints`, dslc.spec.constraints: the accelerator's and the request's
combined). Out: a `MapSpace` that counts its size (exactly, or bounds when that would take
more than a fixed amount of work), samples candidates, perturbs them (the heuristic's
moves), enumerates them all (exhaustive search), and turns a chosen candidate into the
`Mapping` IR, all within the constraints. Its construction and count take bounded time and
memory whatever the bounds and however deep the hierarchy: a dim's splits are counted by
formula before they are built, and sampled beyond `SPLIT_ROWS`; the counting programmes
estimate their size before they run (docs/design/mapper.md, "Building and counting the
space in bounded work"). It does not evaluate costs (dslc.cost.batched) nor decide what is
best (dslc.mapper.search).

A candidate is two integer arrays, batch last like the cost model's:
- `factors [S, D, B]`: the factor of dim d in slot s. The slots are one temporal slot per
  memory level (outermost first), then one spatial slot per fanout axis whose mesh extent is
  above 1 (fanouts in hierarchy order, X before Y). A dim's factors multiply to its bound
  (perfect factorisation); a slot the dataflow does not allow for a dim holds 1.
- `orders [L, D, B]`: per memory level, the dims of its temporal loops outer to inner.

Keep sets (bypass) are chosen per search pass (the batched model shares them per batch):
`keep_choices` lists them, the memories' `holds` first.

Equivalences pruned, each exact for the cost model (docs/design/mapper.md argues each):
1. loops of factor 1 are not loops: only the relative order of real loops counts;
2. the order of the innermost memory's loops is irrelevant (no level below it refills);
3. two adjacent loops of a level whose dims index the same tensors, each only through
   single-dim axes, may be swapped: only the order with the lower dim first is kept.
Within a level whose order is constrained, rule 3 applies among the loops the constraint
leaves free. The size counts factorisations allowed by the dataflow, the meshes and the
constraints, times distinct loop orders, times keep sets; capacity is not counted (it is
pruned before evaluation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel
from dslc.cost import kernel
from dslc.cost.batched import MappingBatch
from dslc.lower.problem import Problem
from dslc.mapper.constraints import (
    Resolved,
    Rule,
    describe_rules,
    forced_keep_overflow,
    order_cases,
    resolve,
    slot_name,
)
from dslc.mapper.errors import NoValidMappingError, SearchLimitError
from dslc.mapping.check import allowed_dims
from dslc.mapping.constraints import arrange, factor_holds, order_checks
from dslc.mapping.factors import (
    count_proper_splits,
    count_splits,
    divisors,
    prime_powers,
)
from dslc.mapping.factors import prime_factors as prime_factors
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop
from dslc.spec.constraints import MapConstraints

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a factor of a dim can go: a memory level's temporal loops or a fanout axis."""

    level: int
    """The memory level whose mapping entry holds the loop (a fanout's owner)."""
    fanout: int
    """Index of the fanout in `ArchModel.fanouts`; -1 for a temporal slot."""
    axis: Literal["x", "y", ""]
    extent: int
    """Mesh extent of a spatial slot (0 for temporal slots: unbounded)."""

    @property
    def spatial(self) -> bool:
        return self.fanout >= 0


SPLIT_ROWS = 1 << 16
"""A dim's splits are listed in full when there are at most this many (counted by formula
before any is built); beyond, `MapSpace.splits` holds a seeded sample (`SAMPLED_ROWS`)."""
SAMPLED_ROWS = 1 << 12
"""Splits drawn (uniformly, seeded) for a dim with more than `SPLIT_ROWS` of them, besides
each spatial part's split with every temporal factor outermost."""
COUNT_WORK = 1 << 26
"""Most cell updates the exact count may take (`count_size`); a space whose programme would
take more reports bounds instead (`SpaceSize`)."""
OBJECT_WORK = 1 << 21
"""Most cell updates the exact count takes in Python integers, when int64 could overflow."""
DENSE_PRIMES = 1 << 12
"""`MapSpace._primes` has a row per value up to the largest total when it is at most this
(else a row per divisor of the totals)."""
PADDED_COUNT_TOTALS = 256
"""Most padded totals (over the dims) whose split tables `_padded_bounds` builds to tighten
the bounds of an imperfect space; past it the looser bounds stand. A dim has up to the
largest mesh extent of them (65,536): building them all took 38 s for a 16-MAC layer at
batch 65,536 on a 65,536-wide mesh."""
MAX_BOUND = (1 << 62) - 1
"""The largest bound (padded total) the map space takes: the cost model counts in int64."""


Candidates = tuple[IntArray, IntArray, IntArray]
"""(factors [S, D, B], orders [L, D, B], keep choices [B])."""


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """The candidates a local descent may move to from one candidate: `size` of them,
    `take(indices)` builds those at `indices` (batch last), so a descent that moves after
    one share of a large neighbourhood does not build the rest."""

    size: int
    take: Callable[[IntArray], Candidates]

    @staticmethod
    def of(candidates: Candidates) -> Neighbourhood:
        """A neighbourhood of candidates already built."""
        factors, orders, keeps = candidates
        return Neighbourhood(int(keeps.size), lambda at: (factors[:, :, at], orders[:, :, at],
                                                          keeps[at]))


def ordered_splits(n: int, slots: int) -> list[tuple[int, ...]]:
    """Every way to write n as an ordered product of `slots` factors, lexicographic."""
    if slots == 1:
        return [(n,)]
    return [(first, *rest) for first in divisors(n)
            for rest in ordered_splits(n // first, slots - 1)]


def _divisors(n: int) -> tuple[int, ...]:
    """The divisors of n above 1, ascending."""
    return divisors(n)[1:]


def order_classes(problem: Problem) -> tuple[int, ...]:
    """Per dim, a class id: dims of one class (size > 1) index the same tensors, each only
    through single-dim axes, so adjacent loops of one class commute (equivalence 3)."""
    signatures: list[tuple[object, ...]] = []
    for d in range(len(problem.dims)):
        uses = []
        simple = True
        for t, tensor in enumerate(problem.tensors):
            for a, axis in enumerate(tensor.axes):
                if any(dim == d for dim, _ in axis.terms):
                    uses.append((t, a))
                    if len(axis.terms) > 1:
                        simple = False
        tensors = tuple(sorted({t for t, _ in uses}))
        signatures.append((tensors,) if simple else ("unique", d))
    ids: dict[tuple[object, ...], int] = {}
    return tuple(ids.setdefault(sig, len(ids)) for sig in signatures)


@cache
def distinct_orders(classes: tuple[int, ...]) -> int:
    """Distinct orders of loops whose dims have these class ids (one entry per loop, in dim
    order): permutations in which adjacent loops of one class keep their dim order (by
    brute force: the reference `orders_of_sizes` is tested against)."""
    count = 0
    for perm in itertools.permutations(range(len(classes))):
        if all(not (classes[a] == classes[b] and a > b) for a, b in itertools.pairwise(perm)):
            count += 1
    return count


@cache
def stirling2(m: int, j: int) -> int:
    """Stirling numbers of the second kind: partitions of m labelled items into j blocks."""
    if m == j:
        return 1
    if j == 0 or j > m:
        return 0
    return j * stirling2(m - 1, j) + stirling2(m - 1, j - 1)


def fold_weight(m: int, j: int) -> int:
    """(-1)^(m-j) S(m, j): the weight of j glued blocks of a class with m loops at a level
    (`orders_of_sizes`)."""
    return -stirling2(m, j) if (m - j) % 2 else stirling2(m, j)


@cache
def orders_of_sizes(sizes: tuple[int, ...]) -> int:
    """`distinct_orders` of loops whose classes have these sizes, by inclusion-exclusion:
    a set of forced descents between adjacent loops of one class glues each class's m
    loops into j decreasing blocks (S(m, j) ways), and the blocks of all classes then order
    freely ((sum j)! ways), so the count is the sum over j of prod (-1)^(m-j) S(m, j) times
    (sum j)!. A class of one loop has weight 1 at j = 1: all-distinct dims give k!."""
    total = 0
    for js in itertools.product(*(range(1, m + 1) if m else (0,) for m in sizes)):
        total += math.prod(fold_weight(m, j) for m, j in zip(sizes, js, strict=True)) \
            * math.factorial(sum(js))
    return total


def canonical_orders(dims: tuple[int, ...], classes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The distinct orders (outer to inner) of the real loops `dims` (ascending)."""
    return [perm for perm in itertools.permutations(dims)
            if all(not (classes[a] == classes[b] and a > b) for a, b in itertools.pairwise(perm))]


SplitKey = tuple[tuple[int, ...], int, tuple[int, ...], tuple[Slot, ...], tuple[int, ...],
                 tuple[Rule, ...]]
"""(totals, bound, allowed slots, slots, slots in nest order, factor rules): what a dim's
splits depend on."""

Part = tuple[int, ...]
"""A dim's factors on every spatial slot of the space (1 where it may not go)."""


@dataclass(frozen=True, slots=True)
class SplitTable:
    """A dim's factorisations: listed in full, or a seeded sample when there are too many,
    with their counts per spatial part."""

    rows: IntArray
    """[n, S] the splits (read-only), lexicographic in the allowed slots' factors."""
    exact: bool
    """`rows` are every split (else a uniform seeded sample plus each spatial part's split
    with every temporal factor outermost)."""
    parts: tuple[tuple[Part, int, int, int], ...]
    """(spatial part, quotient left for the temporal slots, fewest, most splits with it):
    the counts are equal when known exactly (listed rows, or the closed form when the dim
    has no factor rules and no padding)."""
    closed_form: bool
    """The splits are every product of a spatial part and an ordered factorisation of its
    quotient over the dim's temporal slots (no rules, no padding): counted by formula."""

    @property
    def fewest(self) -> int:
        return sum(low for _, _, low, _ in self.parts)

    @property
    def most(self) -> int:
        return sum(high for _, _, _, high in self.parts)


def _spatial_parts(total: int, slots: tuple[Slot, ...], spatial: tuple[int, ...]
                   ) -> list[tuple[int, ...]]:
    """Every tuple of factors of `total` on the `spatial` slots (indices into `slots`)
    within their mesh extents whose product divides `total`."""
    found: list[tuple[int, ...]] = [()]
    for s in spatial:
        found = [(*part, v) for part in found
                 for v in divisors(total // math.prod(part)) if v <= slots[s].extent]
    return found


@cache
def _compositions(e: int, t: int) -> IntArray:
    """[C(e + t - 1, t - 1), t] every way to place e copies of a prime on t slots."""
    if t == 0:
        return np.zeros((1 if e == 0 else 0, 0), dtype=np.int64)
    if t == 1:
        return np.array([[e]], dtype=np.int64)
    bars = np.array(list(itertools.combinations(range(e + t - 1), t - 1)),
                    dtype=np.int64).reshape(-1, t - 1)
    edges = np.concatenate([np.full((len(bars), 1), -1), bars,
                            np.full((len(bars), 1), e + t - 1)], axis=1)
    return np.diff(edges, axis=1) - 1


def _temporal_rows(m: int, t: int) -> IntArray:
    """[count_splits(m, t), t] every ordered factorisation of m over t slots (none when
    there is no slot and m is above 1: a dim the constraints leave no temporal slot)."""
    if t == 0:
        return np.zeros((1 if m == 1 else 0, 0), dtype=np.int64)
    rows = np.ones((1, t), dtype=np.int64)
    for p, e in prime_powers(m):
        powers = p ** _compositions(e, t)
        rows = (rows[:, None, :] * powers[None, :, :]).reshape(-1, t)
    return rows


def _sampled_temporal(rng: np.random.Generator, m: int, t: int, size: int) -> IntArray:
    """[size, t] uniformly random ordered factorisations of m over t slots (each prime's
    copies placed by a uniform stars-and-bars draw: every factorisation equally likely)."""
    rows = np.ones((size, t), dtype=np.int64)
    if size == 0 or t == 0:
        return rows  # (no temporal slot: the only split, when m is 1, is empty)
    for p, e in prime_powers(m):
        if t == 1:
            rows[:, 0] *= p ** e
            continue
        bars = np.sort(np.argsort(rng.random((size, e + t - 1)), axis=1)[:, :t - 1], axis=1)
        edges = np.concatenate([np.full((size, 1), -1), bars,
                                np.full((size, 1), e + t - 1)], axis=1)
        rows *= p ** (np.diff(edges, axis=1) - 1)
    return rows


def sampled_note(dims: Iterable[str]) -> str:
    """The last reason of a SearchLimitError found among sampled splits: which dims' splits
    were sampled, and the way out."""
    names = ", ".join(f"`{dim}`" for dim in dict.fromkeys(dims))
    return (f"(among the sampled splits of {names}; splits the sample missed may fit: state "
            "the factors the rules allow (`K 4`, `K all`) rather than bounds on them)")


RULED_ROWS = 16
"""Under bounds (`<=`, `>=`) at temporal slots, a sampled table lists every split of a
spatial part that obeys them when there are at most this many (or the part's share of the
sample, if larger), instead of sampling: a rule few splits obey is then never missed."""
RULED_NODES = 20_000
"""Most partial splits the listing visits before it leaves the part to the sample."""


def _ruled_splits(m: int, temporal: tuple[int, ...], rules: tuple[Rule, ...], limit: int
                  ) -> IntArray | None:
    """[n, t] every factorisation of m over the `temporal` slots whose factors obey the
    rules at those slots (`=`, `<=`, `>=`), when there are at most `limit` and listing them
    visits at most RULED_NODES partial splits; else None. Lexicographic, so deterministic."""
    low = [1] * len(temporal)
    high = [m] * len(temporal)
    for slot, op, value in rules:
        if slot not in temporal:
            continue
        i = temporal.index(slot)
        if op in ("=", ">="):
            low[i] = max(low[i], value)
        if op in ("=", "<="):
            high[i] = min(high[i], value)
    if not temporal:
        return np.ones((1 if m == 1 else 0, 0), dtype=np.int64)
    # The least product the slots from i on must reach (their lower bounds).
    least_after = [math.prod(low[i:]) for i in range(len(temporal) + 1)]
    values = divisors(m)
    found: list[tuple[int, ...]] = []
    visited = 0
    stack: list[tuple[int, int, tuple[int, ...]]] = [(0, m, ())]
    while stack:
        i, left, prefix = stack.pop()
        visited += 1
        if visited > RULED_NODES:
            return None
        if i == len(temporal) - 1:
            if low[i] <= left <= high[i]:
                found.append((*prefix, left))
                if len(found) > limit:
                    return None
            continue
        for value in reversed(values):  # popped ascending
            if value > left or value > high[i]:
                continue
            if value >= low[i] and left % value == 0 and left // value >= least_after[i + 1]:
                stack.append((i + 1, left // value, (*prefix, value)))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, len(temporal))


def _sampled_rules(rng: np.random.Generator, m: int, temporal: tuple[int, ...],
                   rules: tuple[Rule, ...], size: int) -> IntArray:
    """[size, t] random factorisations of m over the `temporal` slots, uniform among those
    whose factors the rules fix (`=` a value, `all` the whole quotient at one slot) are in
    place: a rule that few splits obey still gets splits (the bounds `<=`, `>=` and the
    spatial slots' rules are filtered afterwards). Under bounds at temporal slots, every
    split that obeys them instead when they are few (`_ruled_splits`, RULED_ROWS)."""
    if any(op in ("<=", ">=") and slot in temporal for slot, op, _ in rules) and \
            not any(op == "all" and slot in temporal for slot, op, _ in rules):
        listed = _ruled_splits(m, temporal, rules, max(size, RULED_ROWS))
        if listed is not None:
            return listed
    pinned = {slot: value for slot, op, value in rules if op == "=" and slot in temporal}
    whole = [slot for slot, op, _ in rules if op == "all" and slot in temporal]
    if whole:
        pinned = {slot: (m if slot == whole[0] else 1) for slot in temporal}
    rest = m // math.prod(pinned.values()) if m % math.prod(pinned.values()) == 0 else 0
    free = [i for i, slot in enumerate(temporal) if slot not in pinned]
    rows = np.ones((size if rest else 0, len(temporal)), dtype=np.int64)
    if rest and (free or rest == 1):
        rows[:, free] = _sampled_temporal(rng, rest, len(free), size)
        for i, slot in enumerate(temporal):
            if slot in pinned:
                rows[:, i] = pinned[slot]
    elif rest:
        rows = rows[:0]
    return rows


_ROW_MULTIPLIERS = np.random.default_rng(0xD15C).integers(
    0, 1 << 63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
"""Odd 64-bit multipliers, one per column: `_distinct_rows`' keys."""


def _distinct_rows(rows: IntArray, totals: IntArray) -> tuple[IntArray, IntArray]:
    """Each distinct row once (any order) with its total (equal rows have equal totals):
    by a 64-bit key per row, checked against the rows themselves, which is what
    `np.unique(rows, axis=0)` gives without sorting rows of a hundred columns and more (an
    array of many fanouts: 10^5 rows of 150 slots took seconds)."""
    if len(rows) == 0 or rows.shape[1] > _ROW_MULTIPLIERS.size:
        found, first_at = np.unique(rows, axis=0, return_index=True)
        return found, totals[first_at]
    keys = rows.astype(np.uint64) @ _ROW_MULTIPLIERS[:rows.shape[1]]
    _, first_at, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if not np.array_equal(rows[first_at][inverse.reshape(-1)], rows):  # two rows, one key
        found, first_at = np.unique(rows, axis=0, return_index=True)
        return found, totals[first_at]
    return rows[first_at], totals[first_at]


@lru_cache(maxsize=4096)
def split_table(totals: tuple[int, ...], bound: int, allowed: tuple[int, ...],
                slots: tuple[Slot, ...], nest: tuple[int, ...],
                rules: tuple[Rule, ...] = ()) -> SplitTable:
    """Every factorisation of a dim of `bound` (multiplying to one of `totals`) over its
    `allowed` slots within the meshes, without a wholly idle outermost step, that satisfies
    the dim's factor `rules`; a seeded sample of them when there are more than SPLIT_ROWS.
    The count comes first, by formula (spatial parts x ordered factorisations of the rest),
    so the work is bounded by SPLIT_ROWS whatever the bound. Cached: layers and
    accelerators share most of their dims' keys."""
    spatial_all = tuple(s for s, slot in enumerate(slots) if slot.spatial)
    spatial = tuple(s for s in allowed if slots[s].spatial)
    temporal = tuple(s for s in allowed if not slots[s].spatial)
    at = [spatial_all.index(s) for s in spatial]
    candidates: list[tuple[int, Part, int, int]] = []  # (total, part, quotient, splits)
    for total in totals:
        for values in _spatial_parts(total, slots, spatial):
            on_all = [1] * len(spatial_all)
            for i, v in zip(at, values, strict=True):
                on_all[i] = v
            m = total // math.prod(values)
            candidates.append((total, tuple(on_all), m, count_splits(m, len(temporal))))
    most = sum(c for *_, c in candidates)
    closed_form = not rules and totals == (bound,)
    exact = most <= SPLIT_ROWS
    blocks: list[IntArray] = []
    block_totals: list[IntArray] = []
    rng = np.random.default_rng(0x5B17)
    if not exact:
        weights = np.array([float(c) for *_, c in candidates])
        picks = rng.choice(len(candidates), size=SAMPLED_ROWS, p=weights / weights.sum())
        drawn = np.bincount(picks, minlength=len(candidates))
        first = next((s for s in nest if s in temporal), None)
    undrawn: list[int] = []
    for i, (total, part, m, _) in enumerate(candidates):
        if exact:
            rows_t = _temporal_rows(m, len(temporal))
        elif drawn[i] == 0:
            # No sample (and no random draw): only the outermost split below, built for
            # all such parts at once (an array of many fanouts has 10^5 parts or more).
            undrawn.append(i)
            continue
        else:
            rows_t = _sampled_rules(rng, m, temporal, rules, int(drawn[i]))
            if first is not None:  # the split with every temporal factor outermost
                outer = np.ones((1, len(temporal)), dtype=np.int64)
                outer[0, temporal.index(first)] = m
                rows_t = np.concatenate([outer, rows_t])
        if len(rows_t) == 0:
            continue
        rows = np.ones((len(rows_t), len(slots)), dtype=np.int64)
        rows[:, list(temporal)] = rows_t
        for i_s, s in enumerate(spatial_all):
            rows[:, s] = part[i_s]
        blocks.append(rows)
        block_totals.append(np.full(len(rows), total, dtype=np.int64))
    if undrawn and first is not None:
        # The order of the rows does not matter: the sample is made unique and sorted below.
        rows = np.ones((len(undrawn), len(slots)), dtype=np.int64)
        rows[:, first] = [candidates[i][2] for i in undrawn]
        rows[:, list(spatial_all)] = [candidates[i][1] for i in undrawn]
        blocks.append(rows)
        block_totals.append(np.array([candidates[i][0] for i in undrawn], dtype=np.int64))
    rows = np.concatenate(blocks) if blocks else np.ones((0, len(slots)), dtype=np.int64)
    row_totals = np.concatenate(block_totals) if blocks else np.ones(0, dtype=np.int64)
    keep = np.ones(len(rows), dtype=np.bool_)
    if totals != (bound,) and len(rows):  # no wholly idle outermost step
        ordered = rows[:, list(nest)]
        outermost = ordered[np.arange(len(rows)), np.argmax(ordered > 1, axis=1)]
        keep &= row_totals - bound < row_totals // outermost
    for slot, op, value in rules:
        keep &= factor_holds(op, value, rows[:, slot], row_totals)
    rows, row_totals = rows[keep], row_totals[keep]
    if not exact:
        rows, row_totals = _distinct_rows(rows, row_totals)
    totals_rank = np.searchsorted(np.array(totals), row_totals)
    order = np.lexsort([*(rows[:, s] for s in reversed(allowed)), totals_rank])
    rows = np.ascontiguousarray(rows[order])
    rows.flags.writeable = False
    found: dict[Part, int] = {}
    for listed_part in rows[:, list(spatial_all)].tolist():
        found[tuple(listed_part)] = found.get(tuple(listed_part), 0) + 1
    # Per spatial part: the quotient (of the first total: the closed form has one) and
    # the splits with it before rules and padding.
    parts: dict[Part, tuple[int, int]] = {}
    for _, key_part, m, count in candidates:
        quotient, before = parts.get(key_part, (m, 0))
        parts[key_part] = (quotient, before + count)
    table: list[tuple[Part, int, int, int]] = []
    for part, (m, high) in parts.items():
        listed = found.get(part, 0)
        if exact:
            low = high = listed
        elif closed_form:
            low = high
        else:
            low = listed
        if high:
            table.append((part, m, low, high))
    return SplitTable(rows, exact, tuple(table), closed_form)


Signature = tuple[tuple[Part, tuple[tuple[tuple[int, ...], int], ...]], ...]
"""((spatial part, ((counted-level loop mask, count), ...)), ...): a dim's splits counted."""


def split_signatures(key: SplitKey, ordered_levels: int,
                     uncounted: tuple[int, ...] = ()) -> Signature:
    """A dim's splits counted by spatial part, then by which ordered levels get a loop that
    takes part in the level's order (not at the `uncounted` levels, whose order constraint
    pins this dim's loop). From the listed splits, or by formula (the closed form: a mask
    of j levels, with i of the r other temporal slots also taking a factor, has
    C(r, i) * count_proper_splits(q, j + i) splits of the quotient q)."""
    table = split_table(*key)
    slots = key[3]
    spatial_all = [s for s, slot in enumerate(slots) if slot.spatial]
    counted = [level for level in range(ordered_levels) if level not in uncounted]
    if table.exact:
        if len(table.rows) == 0:
            return ()
        spatial = table.rows[:, spatial_all]
        masks = np.zeros((len(table.rows), ordered_levels), dtype=np.int64)
        masks[:, counted] = table.rows[:, counted] > 1
        keys, counts = np.unique(np.concatenate([spatial, masks], axis=1), axis=0,
                                 return_counts=True)
        grouped: dict[Part, list[tuple[tuple[int, ...], int]]] = {}
        for row, count in zip(keys.tolist(), counts.tolist(), strict=True):
            grouped.setdefault(tuple(row[:len(spatial_all)]), []).append(
                (tuple(row[len(spatial_all):]), count))
        return tuple((part, tuple(found)) for part, found in grouped.items())
    if not table.closed_form:
        raise ValueError("the signatures of a sampled dim need the closed form")
    temporal = [s for s in key[2] if not slots[s].spatial]
    mine = [level for level in counted if level in temporal]
    rest = len(temporal) - len(mine)
    result = []
    for part, m, _, _ in table.parts:
        found: list[tuple[tuple[int, ...], int]] = []
        for bits in itertools.product((0, 1), repeat=len(mine)):
            j = sum(bits)
            ways = sum(math.comb(rest, i) * count_proper_splits(m, j + i)
                       for i in range(rest + 1))
            if ways:
                mask = [0] * ordered_levels
                for level, bit in zip(mine, bits, strict=True):
                    mask[level] = bit
                found.append((tuple(mask), ways))
        result.append((part, tuple(found)))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class SpaceSize:
    """How many candidates a map space holds: exactly (`lower == upper`), or between two
    bounds when counting exactly would take more than COUNT_WORK (docs/design/mapper.md)."""

    lower: int
    upper: int

    @property
    def exact(self) -> bool:
        return self.lower == self.upper

    def scaled(self, factor: int) -> SpaceSize:
        return SpaceSize(self.lower * factor, self.upper * factor)

    def __str__(self) -> str:
        if self.exact:
            return f"{self.lower:,}"
        return f"between {_short(self.lower)} and {_short(self.upper)}"


def _short(n: int) -> str:
    """A count for a report line: grouped digits below 10^12, else d.ddde<exponent> (the
    digits truncated, not rounded: a huge bound is no float)."""
    if n < 10 ** 12:
        return f"{n:,}"
    digits = str(n)
    return f"{digits[0]}.{digits[1:4]}e{len(digits) - 1}"


@dataclass(slots=True)
class _Programme:
    """The counting programme's arrays and work (`count_size`): one axis per spatial slot
    (the reachable products of the factors there), one per counted level (loops of the
    finished classes), and while a class of several dims is open one more per counted level
    (that class's loops there)."""

    spatial: list[tuple[int, ...]]
    """Per spatial slot, the reachable products of factors (ascending)."""
    work: int = 0
    """Cell updates done."""
    peak: float = 0.0
    """The largest magnitude any cell reached (the float pass)."""


def _reachable(signatures: list[Signature], extents: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Per spatial slot, the products of factors of the dims (any prefix of them) there
    that fit the mesh, 1 first."""
    found = []
    for a, extent in enumerate(extents):
        products = {1}
        for signature in signatures:
            values = {part[a] for part, _ in signature}
            products |= {p * v for p in products for v in values if p * v <= extent}
        found.append(tuple(sorted(products)))
    return found


def _moves(reach: tuple[int, ...], value: int) -> tuple[IntArray, IntArray]:
    """(source, destination) indices of the products that stay reachable times `value`."""
    index = {p: i for i, p in enumerate(reach)}
    pairs = [(i, index[p * value]) for i, p in enumerate(reach) if p * value in index]
    array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def _shifted(state: npt.NDArray[Any], reach: Sequence[tuple[int, ...]], part: Part
             ) -> tuple[npt.NDArray[Any], list[IntArray]]:
    """`state`'s entries whose spatial products stay reachable times `part` (its leading
    axes, one per spatial axis), and the indices they move to along each axis."""
    source = state
    targets = []
    for axis, (products, value) in enumerate(zip(reach, part, strict=True)):
        src, dst = _moves(products, value)
        source = np.take(source, src, axis=axis)
        targets.append(dst)
    return source, targets


def _run(signatures: list[Signature], classes: list[int], extents: tuple[int, ...],
         levels: int, width: int, dtype: type, signed: bool, track: _Programme
         ) -> int | float:
    """One pass of the counting programme (`count_size`) in `dtype`; with `signed` False
    the fold weights are taken absolute (the float pass that bounds every magnitude)."""
    reach = track.spatial
    nspatial = len(reach)
    shape = (*(len(r) for r in reach), *(width + 1,) * levels)
    state: npt.NDArray[Any] = np.zeros(shape, dtype=dtype)
    state[(0,) * len(shape)] = 1
    position = 0
    while position < len(signatures):
        end = position
        while end < len(signatures) and classes[end] == classes[position]:
            end += 1
        size = end - position
        inner = size > 1  # a class of several dims: its own loop-count axes, then a fold
        if inner:
            state = _expand(state, size, levels)
        shift_base = nspatial + (levels if inner else 0)
        for signature in signatures[position:end]:
            grown = np.zeros_like(state)
            for part, masks in signature:
                source, targets = _shifted(state, reach, part)
                acc = np.zeros_like(source)
                for mask, ways in masks:
                    into = [slice(None)] * source.ndim
                    fro = [slice(None)] * source.ndim
                    for level, bit in enumerate(mask):
                        if bit:
                            into[shift_base + level] = slice(1, None)
                            fro[shift_base + level] = slice(0, -1)
                    acc[tuple(into)] += ways * source[tuple(fro)]
                    track.work += source.size
                grown[np.ix_(*targets) if nspatial else ()] += acc
            state = grown
            if dtype is float:
                track.peak = max(track.peak, float(np.max(np.abs(state))))
        if inner:
            fold: npt.NDArray[Any] = np.zeros((width + 1, size + 1, width + 1), dtype=dtype)
            for j_done in range(width + 1):
                for m in range(size + 1):
                    for j in range(m + 1):
                        if j_done + j <= width:
                            weight = fold_weight(m, j)
                            fold[j_done, m, j_done + j] = weight if signed else abs(weight)
            for level in range(levels):
                state = np.tensordot(state, fold, axes=([nspatial + level,
                                                         nspatial + levels], [0, 1]))
                state = np.moveaxis(state, -1, nspatial + level)
                track.work += state.size * (size + 1) * (width + 1)
            if dtype is float:
                track.peak = max(track.peak, float(np.max(np.abs(state))))
        position = end
    counts = state.reshape(-1, *(width + 1,) * levels).sum(axis=0) if nspatial else state
    factorials = [math.factorial(k) for k in range(width + 1)]
    if dtype is float:
        weights = np.ones((width + 1,) * levels)
        for level in range(levels):
            view = [1] * levels
            view[level] = width + 1
            weights = weights * np.array(factorials, dtype=float).reshape(view)
        total_f = float(np.sum(counts * weights))
        track.peak = max(track.peak, total_f, float(np.max(np.abs(counts))))
        return total_f
    total = 0
    for index, value in np.ndenumerate(counts):
        if value:
            total += int(value) * math.prod(factorials[k] for k in index)
    return total


def _expand(state: npt.NDArray[Any], size: int, levels: int) -> npt.NDArray[Any]:
    """`state` with `levels` new trailing axes of `size + 1` (its entries at index 0)."""
    grown = np.zeros((*state.shape, *(size + 1,) * levels), dtype=state.dtype)
    corner: tuple[slice | int, ...] = (*(slice(None),) * state.ndim, *(0,) * levels)
    grown[corner] = state
    return grown


def count_size(signatures: list[Signature], classes: list[int], extents: tuple[int, ...],
               levels: int) -> tuple[SpaceSize | None, int]:
    """Candidates (factorisations x distinct orders, no keep sets) from each dim's split
    signatures (dims of one class adjacent), or None when the programme would take more
    than COUNT_WORK cell updates; and the cell updates it did.

    The programme runs over the dims; its state counts partial factorisations by the
    product of their factors on each mesh axis and, per counted level, the loops placed
    there. The distinct orders of a level depend only on how many loops each class has
    there (`orders_of_sizes`): for classes of one dim that is k!, so a level's state is its
    loop count k; a class of several dims gets its own loop-count axes while its dims are
    added, then folds them into the level's count with the inclusion-exclusion weights
    (-1)^(m-j) S(m, j). At the end each cell is weighed by the product of its levels' k!.
    A float pass with absolute weights bounds every cell; below 2^53 it is the exact count
    (no signs), else the programme runs again in int64 (below 2^62) or in Python integers
    (small programmes), else the float result is returned as tight bounds (no signs) or
    None."""
    if any(len(signature) == 0 for signature in signatures):
        return SpaceSize(0, 0), 0
    reach = _reachable(signatures, extents)
    width = len(signatures)
    cells = math.prod(len(r) for r in reach) * (width + 1) ** levels
    largest = max((classes.count(c) for c in set(classes)), default=1)
    if largest > 1:
        cells *= (largest + 1) ** levels
    updates = cells * sum(len(masks) for signature in signatures for _, masks in signature)
    if updates > COUNT_WORK:
        return None, 0
    signed = largest > 1
    track = _Programme(reach)
    estimate = float(_run(signatures, classes, extents, levels, width, float, False, track))
    if not signed and track.peak < 2 ** 52:
        exact = round(estimate)
        return SpaceSize(exact, exact), track.work
    again = _Programme(reach)
    if track.peak < 2 ** 61 or updates <= OBJECT_WORK:
        exact = int(_run(signatures, classes, extents, levels, width,
                         np.int64 if track.peak < 2 ** 61 else object, True, again))
        return SpaceSize(exact, exact), track.work + again.work
    if not signed:  # a float sum of non-negative terms: relative error below 2^-30
        return SpaceSize(math.floor(estimate * (1 - 2 ** -30)),
                         math.ceil(estimate * (1 + 2 ** -30))), track.work
    return None, track.work


def _dim_axis(array: npt.NDArray[Any], axis: int, vector: npt.NDArray[Any]
              ) -> npt.NDArray[Any]:
    """`vector` shaped to broadcast along `axis` of `array`."""
    view = [1] * array.ndim
    view[axis] = len(vector)
    return vector.reshape(view)


@lru_cache(maxsize=64)
def _prime_table_of(values: Sequence[int]) -> IntArray:
    """[V, P] the distinct primes (ascending, 0-padded) of each value (0: none). Shared by
    every map space asking for the same values (a network's layers mostly ask for the same
    few tables, and one took milliseconds to build): never written."""
    primes = [sorted(set(prime_factors(v))) if v else [] for v in values]
    width = max(1, max(len(p) for p in primes))
    table = np.zeros((len(primes), width), dtype=np.int64)
    for row, ps in enumerate(primes):
        table[row, :len(ps)] = ps
    return table


@lru_cache(maxsize=256)
def _level_subsets(classes: tuple[int, ...]) -> tuple[tuple[tuple[slice, ...],
                                                          tuple[slice, ...], int], ...]:
    """`_symmetric_run`'s step of one level, per set of dims with a loop there: the slices
    of the counts it moves (into, from) and its distinct loop orders (dims of one class
    are interchangeable). The same for every layer with these classes."""
    subsets = []
    for chosen in itertools.product((0, 1), repeat=len(classes)):
        members = [classes[d] for d in range(len(classes)) if chosen[d]]
        sizes = tuple(members.count(c) for c in sorted(set(members)))
        subsets.append((tuple(slice(1, None) if bit else slice(None) for bit in chosen),
                        tuple(slice(0, -1) if bit else slice(None) for bit in chosen),
                        orders_of_sizes(sizes) if members else 1))
    return tuple(subsets)


def _symmetric_run(weights: list[list[tuple[Part, list[int]]]], classes: list[int],
                   reach: list[tuple[int, ...]], levels: int, dtype: type
                   ) -> tuple[int | float, float]:
    """One pass of `count_symmetric` in `dtype`: (total, the largest value met)."""
    caps = [len(dim[0][1]) - 1 for dim in weights]
    nspatial = len(reach)
    # N[j]: over the levels, each choosing the set of dims with a loop there (weighed by
    # its distinct orders), how many ways leave dim d with loops at j[d] levels.
    ndims = len(weights)
    ways: npt.NDArray[Any] = np.zeros([cap + 1 for cap in caps], dtype=dtype)
    ways[(0,) * ndims] = 1
    peak = 0.0
    subsets = _level_subsets(tuple(classes))
    for _ in range(levels):
        grown = np.zeros_like(ways)
        for into, fro, orders in subsets:
            grown[into] += orders * ways[fro]
        ways = grown
        if dtype is float:
            peak = max(peak, float(ways.max()))
    # A[spatial products, j]: the splits of every dim within the meshes with dim d's loops
    # on a given set of j[d] counted levels.
    splits: npt.NDArray[Any] = np.zeros((*(len(r) for r in reach), *(1,) * ndims),
                                        dtype=dtype)
    splits[(0,) * splits.ndim] = 1
    for d, dim in enumerate(weights):
        shape = list(splits.shape)
        shape[nspatial + d] = caps[d] + 1
        grown = np.zeros(shape, dtype=dtype)
        for part, vector in dim:
            source, targets = _shifted(splits, reach, part)
            grown[np.ix_(*targets) if nspatial else ()] += source * _dim_axis(
                source, nspatial + d, np.array(vector, dtype=dtype))
        splits = grown
        if dtype is float:
            peak = max(peak, float(splits.max()))
    per_j = splits.reshape(-1, *ways.shape).sum(axis=0) if nspatial else splits
    if dtype is float:
        total_f = float(np.sum(per_j * ways))
        return total_f, max(peak, total_f, float(per_j.max()))
    total = sum(int(a) * int(b) for a, b in zip(per_j.reshape(-1).tolist(),
                                                 ways.reshape(-1).tolist(), strict=True))
    return total, peak


def count_symmetric(weights: list[list[tuple[Part, list[int]]]], classes: list[int],
                    extents: tuple[int, ...], levels: int) -> tuple[SpaceSize | None, int]:
    """Candidates (no keep sets) when every dim's splits with loops on a given set of j
    counted levels number the same whichever the set (`weights[d]`: per spatial part, that
    number for j = 0, 1, ...): no constraints, no padding. Then the levels are alike and
    the count splits in two: per vector j (dim d has loops on j[d] levels), N[j], the ways
    the levels choose their loops' dims weighed by each level's distinct orders (a
    programme over the levels, 2^D subsets each), and A[j], the splits within the meshes
    with those loops on given levels (a programme over the dims and the spatial products);
    the count is the sum of N[j] A[j]. No subtractions: a float pass is exact below 2^52;
    else int64 (every value below 2^61) or Python integers when small (OBJECT_WORK), else
    bounds 2^-30 apart. Returns None
    when the programme would take more than COUNT_WORK updates; and the updates done."""
    reach = _reachable([tuple((part, ()) for part, _ in dim) for dim in weights], extents)
    ndims = len(weights)
    cells = math.prod(len(dim[0][1]) for dim in weights)
    updates = cells * levels * 2 ** ndims + cells * math.prod(len(r) for r in reach) * sum(
        len(dim) for dim in weights)
    if updates > COUNT_WORK:
        return None, 0
    estimate, peak = _symmetric_run(weights, classes, reach, levels, float)
    if peak < 2 ** 52:
        return SpaceSize(round(estimate), round(estimate)), updates
    if peak < 2 ** 61 or updates <= OBJECT_WORK:
        exact = int(_symmetric_run(weights, classes, reach, levels,
                                   np.int64 if peak < 2 ** 61 else object)[0])
        return SpaceSize(exact, exact), 2 * updates
    return SpaceSize(math.floor(estimate * (1 - 2 ** -30)),
                     math.ceil(estimate * (1 + 2 ** -30))), updates


def tiling_bounds(tables: list[SplitTable], extents: tuple[int, ...]) -> tuple[int, int]:
    """(fewest, most) factorisations of all dims together within the meshes: a programme
    over the spatial products only, exact when every table's counts are and it takes at
    most OBJECT_WORK steps; else the dims apart (at least the splits of one combination of
    spatial parts that fits: those without spatial factors, or, when constraints force
    some, `_one_unrolling`'s; at most every split, meshes ignored)."""
    ones = tuple(1 for _ in extents)
    reach = _reachable([tuple((part, ()) for part, *_ in table.parts) for table in tables],
                       extents)
    if math.prod(len(r) for r in reach) * sum(len(t.parts) for t in tables) > OBJECT_WORK:
        fewest = math.prod(sum(low for part, _, low, _ in t.parts if part == ones)
                           for t in tables)
        return (fewest or _one_unrolling(tables, extents), math.prod(t.most for t in tables))
    states: dict[Part, tuple[int, int]] = {ones: (1, 1)}
    for table in tables:
        grown: dict[Part, tuple[int, int]] = {}
        for products, (low, high) in states.items():
            for part, _, part_low, part_high in table.parts:
                new = tuple(a * b for a, b in zip(products, part, strict=True))
                if any(p > e for p, e in zip(new, extents, strict=True)):
                    continue
                old = grown.get(new, (0, 0))
                grown[new] = (old[0] + low * part_low, old[1] + high * part_high)
        states = grown
    return (sum(low for low, _ in states.values()), sum(high for _, high in states.values()))


def _one_unrolling(tables: list[SplitTable], extents: tuple[int, ...]) -> int:
    """The splits of one combination of spatial parts, one per dim, that fits the meshes
    (each dim's part using the fewest instances that still fits with the parts before it,
    then the one with the most splits); 0 when that greedy choice finds none. A lower
    bound on the factorisations when constraints force spatial factors on every split
    of some dim (the splits without spatial factors then number 0)."""
    products = [1] * len(extents)
    total = 1
    for table in tables:
        fitting = [(math.prod(part), -low, part, low) for part, _, low, _ in table.parts
                   if low and all(p * v <= e for p, v, e in zip(products, part, extents,
                                                                strict=True))]
        if not fitting:
            return 0
        *_, part, low = min(fitting)
        products = [p * v for p, v in zip(products, part, strict=True)]
        total *= low
    return total


class MapSpace:
    """Factorisations, loop orders and keep sets of one problem on one accelerator, within
    its map-space constraints.

    Constraints (dslc.spec.constraints, resolved by dslc.mapper.constraints) restrict every
    part: a slot a dim may not use leaves its `allowed` slots; factor rules filter its
    splits; an order rule pins the listed loops of a level (`repair_orders` puts them in
    place, and only the other loops' orders are counted and enumerated); forced keeps and
    bypasses filter the keep sets. The moves of the local search stay inside: a fixed
    factor's slot takes no move, a move that breaks a bound is undone, orders are repaired.
    Raises NoValidMappingError when the constraints leave nothing for this problem.

    Order rules at one level that no single rule states (`[K, ...]` and `[C, ...]`: K and C
    cannot both have loops there) make the space a union (`parts` non-empty): the search
    runs on each part (`order_cases` with `cover`: each a space of single rules, together
    exactly the allowed mappings), and `count`, `enumerate`, `to_mapping`, `valid_factors`
    and `valid_orders` answer for the union (the count and the enumeration over cases that
    split it exactly, `cells`). Its own splits and moves are those of the factor rules
    alone and are not searched."""

    def __init__(self, problem: Problem, arch: ArchModel, *, bypass: bool = True,
                 imperfect: bool = False, constraints: MapConstraints | None = None,
                 resolved: Resolved | None = None, case: str = "") -> None:
        self.problem = problem
        self.case = case
        """How messages name this space when it is one case of a union's (`order_cases`'
        description: "`BUF` in order [K, ...] without `P` loops"); '' otherwise."""
        self.imperfect = imperfect
        self.arch = arch
        too_large = [f"`{name}` has bound {bound:,}: the map space takes bounds below 2^62 "
                     "(the cost model counts in 64-bit integers)"
                     for name, bound in zip(problem.dims, problem.bounds, strict=True)
                     if -(-bound * 5 // 4) > MAX_BOUND]
        # Padded factorisations may round each dim up by a quarter (`padded_totals`); exact
        # ones multiply to the bounds.
        volume = math.prod(-(-bound * 5 // 4) for bound in problem.bounds) if imperfect \
            else math.prod(problem.bounds)
        if not too_large and volume > MAX_BOUND:
            digits = len(str(volume)) - 1
            padded = f", padded factorisations (--imperfect) up to about 10^{digits}" \
                if imperfect else ""
            too_large.append(f"the bounds multiply to {math.prod(problem.bounds):,} "
                             f"iterations{padded}: the cost model takes below 2^62 (it counts "
                             "in 64-bit integers)")
        if too_large:
            raise SearchLimitError(problem.name, arch.name, tuple(too_large))
        self.nlevels = len(arch.levels)
        self.ndims = len(problem.dims)
        slots = [Slot(i, -1, "", 0) for i in range(self.nlevels)]
        for f, fanout in enumerate(arch.fanouts):
            for axis, extent in (("x", fanout.mesh_x), ("y", fanout.mesh_y)):
                if extent > 1:
                    slots.append(Slot(fanout.owner, f, "x" if axis == "x" else "y", extent))
        self.slots = tuple(slots)
        self.constraints = constraints if constraints is not None else MapConstraints()
        if resolved is None:
            resolved = resolve(problem, arch, self.constraints, self.slots,
                               [self.padded_totals(d) for d in range(self.ndims)]) \
                if not self.constraints.empty else Resolved()
        self.resolved = resolved
        """The constraints in this space's terms (empty when there are none; given: one
        case of a union's, `order_cases`)."""
        forbidden = self.resolved.forbidden
        allowed: list[tuple[int, ...]] = []
        for d, name in enumerate(problem.dims):
            ok = []
            for s, slot in enumerate(self.slots):
                if (d, s) in forbidden:
                    continue
                if not slot.spatial:
                    ok.append(s)
                    continue
                dims = allowed_dims(arch.fanouts[slot.fanout].dataflow, problem)[
                    0 if slot.axis == "x" else 1]
                if dims is None or name in dims:
                    ok.append(s)
            allowed.append(tuple(ok))
        self.allowed = tuple(allowed)
        self._allowed_table = np.zeros((self.ndims, len(self.slots)), dtype=np.bool_)
        """[D, S] dim d may take a factor in slot s (`allowed` as a lookup table)."""
        for dim, dim_slots in enumerate(self.allowed):
            self._allowed_table[dim, list(dim_slots)] = True
        self.split_keys = tuple(self._split_key(d) for d in range(self.ndims))
        self.split_tables = tuple(split_table(*key) for key in self.split_keys)
        """Per dim, its factorisations and their counts (`SplitTable`)."""
        self.splits = tuple(table.rows for table in self.split_tables)
        """Per dim, [n, S] every factorisation over its allowed slots within the meshes and
        its factor rules, or a seeded sample of a dim with more than SPLIT_ROWS (shared,
        read-only arrays)."""
        self.listed = all(table.exact for table in self.split_tables)
        """Every dim's splits are listed in full (else `enumerate` cannot run)."""
        self.classes = order_classes(problem)
        self.spatial_slots = tuple(s for s, slot in enumerate(self.slots) if slot.spatial)
        self.keep_choices = self._keep_choices(bypass)
        self._prime_values: IntArray | None = None
        """The factor values `_primes` has rows for (None: every value up to its length)."""
        self._primes = self._prime_table()
        self._size: SpaceSize | None = None
        self.count_work = 0
        """Cell updates the counting programme did (`count`; 0 before, or when the space was
        only bounded)."""
        rules = self.resolved.rules
        pinned = {(d, s) for d, dim_rules in enumerate(rules) for s, op, _ in dim_rules
                  if op == "="}
        pinned |= {(d, s) for d, dim_rules in enumerate(rules)
                   if any(op == "all" for _, op, _ in dim_rules) for s in range(len(slots))}
        self._move_table = self._allowed_table
        """[D, S] slots a move may take a factor of dim d from or to: the allowed ones but
        those whose factor a constraint fixes."""
        if pinned:
            self._move_table = self._allowed_table.copy()
            for d, s in pinned:
                self._move_table[d, s] = False
        self._bounds = tuple((d, s, op, value) for d, dim_rules in enumerate(rules)
                             for s, op, value in dim_rules if op in ("<=", ">="))
        """(dim, slot, op, value) factor bounds a move may break (the move is undone)."""
        orders = self.resolved.orders
        self._order_rules = tuple((level, rule) for level, rule in enumerate(orders)
                                  if rule is not None)
        """(level, rule) of every memory whose loop order is constrained."""
        self._uncounted = tuple(
            tuple(level for level, rule in self._order_rules
                  if level < self.nlevels - 1 and d in rule.listed)
            for d in range(self.ndims))
        """Per dim, the ordered levels whose order rule pins its loop (not counted among
        the level's free orders)."""
        self._outer_index: tuple[IntArray, ...] | None = None
        if not self.constraints.empty:
            self._check_feasible()
        self._coupled = tuple((level, rules) for level, rules
                              in enumerate(self.resolved.conjunctions) if rules)
        """(level, rules) of every memory whose order rules no single rule states."""
        self._bypass = bypass
        self._cells: tuple[MapSpace, ...] | None = None
        self.parts: tuple[MapSpace, ...] = ()
        """The spaces the search runs on when this one is a union (see the class doc);
        empty otherwise."""
        if self._coupled:
            self.parts = self._cases(cover=True)
            self.listed = self.listed and all(part.listed for part in self.parts)

    # -- construction ------------------------------------------------------------------

    def _cases(self, *, cover: bool) -> tuple[MapSpace, ...]:
        """The spaces of `order_cases` that hold a mapping (with `cover`: raises
        NoValidMappingError, naming each case and what leaves it empty, when none does)."""
        found: list[MapSpace] = []
        reasons: list[str] = []
        for resolved, text in order_cases(self.resolved, self.problem.dims,
                                          [level.name for level in self.arch.levels],
                                          cover=cover):
            try:
                found.append(MapSpace(self.problem, self.arch, bypass=self._bypass,
                                      imperfect=self.imperfect, constraints=self.constraints,
                                      resolved=resolved, case=text))
            except NoValidMappingError as exc:
                reasons += [f"with {text}: {reason}" for reason in exc.reasons]
        if cover and not found:
            raise NoValidMappingError(self.problem.name, self.arch.name, tuple(reasons))
        return tuple(found)

    @property
    def cells(self) -> tuple[MapSpace, ...]:
        """A union's cases that split it exactly (each allowed mapping in one: `order_cases`
        without `cover`), the non-empty ones; empty when this space is no union."""
        if not self._coupled:
            return ()
        if self._cells is None:
            self._cells = self._cases(cover=False)
        return self._cells

    def _split_key(self, d: int) -> SplitKey:
        """What dim d's factorisations depend on (equal keys: equal splits, whichever layer
        or accelerator they come from)."""
        nest = tuple(sorted(range(len(self.slots)), key=self._nest_position))
        rules = self.resolved.rules[d] if self.resolved.rules else ()
        return (self.padded_totals(d), self.problem.bounds[d], self.allowed[d], self.slots,
                nest, rules)

    def _check_feasible(self) -> None:
        """Raise NoValidMappingError, naming the level and dim, when the constraints leave
        a dim without a split, need more instances than a mesh axis has, or force keeps
        whose smallest tiles do not fit."""
        reasons: list[str] = []
        problem, arch = self.problem, self.arch
        unproved: list[str] = []
        for d, splits in enumerate(self.splits):
            if len(splits) == 0:
                written = describe_rules(self.resolved, d)
                table = self.split_tables[d]
                sampled = "" if table.exact else \
                    f" among {SAMPLED_ROWS:,} sampled of its {table.most:,} splits"
                (reasons if table.exact else unproved).append(
                    f"no factorisation of `{problem.dims[d]}` (bound {problem.bounds[d]})"
                    f"{sampled} satisfies the constraints" + (f": {written}" if written else ""))
        if unproved and not reasons:
            # A sample that misses every split the rules allow proves nothing about the
            # rest: the layer may still have mappings, so this is no infeasibility.
            raise SearchLimitError(problem.name, arch.name, (*unproved, sampled_note(
                problem.dims[d] for d, table in enumerate(self.split_tables)
                if not table.exact and len(self.splits[d]) == 0)))
        if not reasons:
            for s in self.spatial_slots:
                least = [int(splits[:, s].min()) for splits in self.splits]
                if math.prod(least) > self.slots[s].extent:
                    detail = " x ".join(f"{problem.dims[d]} {value}"
                                        for d, value in enumerate(least) if value > 1)
                    reasons.append(f"the constraints leave {slot_name(arch, self.slots[s])} "
                                   f"at least {math.prod(least)} instances ({detail}), the "
                                   f"mesh has {self.slots[s].extent} there")
            if any(self.resolved.keep):
                least_extents = [[int(np.prod(splits[:, [s for s, slot in enumerate(self.slots)
                                                         if slot.level >= i]],
                                              axis=1).min())
                                  for splits in self.splits] for i in range(self.nlevels)]
                reasons += forced_keep_overflow(problem, arch, self.resolved, least_extents)
        if reasons and not all(table.exact for table in self.split_tables):
            # The least instances and tiles above are the least of a sample: a split the
            # sample missed may be smaller, so they prove nothing.
            raise SearchLimitError(problem.name, arch.name, (*reasons, sampled_note(
                problem.dims[d] for d, table in enumerate(self.split_tables)
                if not table.exact)))
        if reasons:
            raise NoValidMappingError(problem.name, arch.name, tuple(reasons))

    def padded_totals(self, d: int) -> tuple[int, ...]:
        """What dim d's factors may multiply to: its bound, and with imperfect factors also
        the bound rounded up to a multiple of any k up to the largest mesh extent (at least
        16), within 25% of the bound: the paddings that let a dim fill a mesh axis or split
        into tiles when its bound does not."""
        bound = self.problem.bounds[d]
        if not self.imperfect:
            return (bound,)
        largest = max([16, *(slot.extent for slot in self.slots if slot.spatial)])
        limit = -(-bound * 5 // 4)
        return tuple(sorted({total for k in range(1, largest + 1)
                             if (total := -(-bound // k) * k) <= limit}))

    def _nest_position(self, s: int) -> tuple[int, int]:
        """Where slot s sits in the loop nest: by level, temporal loops before the level's
        fanouts' spatial loops (X before Y)."""
        slot = self.slots[s]
        if not slot.spatial:
            return (slot.level, -1)
        return (slot.level, 2 * slot.fanout + (0 if slot.axis == "x" else 1))

    def _keep_choices(self, bypass: bool) -> tuple[tuple[frozenset[str], ...], ...]:
        """Keep sets per level: the `holds` of each memory first (less what a constraint
        makes bypass it); with bypass, every subset of what an inner memory holds that
        keeps what a constraint makes it keep (each tensor still kept somewhere; the
        outermost memory keeps all it holds). At most 64 choices: beyond that, single
        bypasses only."""
        tensors = self.problem.tensors
        forced_out = self.resolved.bypass or tuple(frozenset() for _ in self.arch.levels)
        forced_in = self.resolved.keep or tuple(frozenset() for _ in self.arch.levels)
        default = tuple(frozenset(t.name for t in tensors if t.role in level.holds) - out
                        for level, out in zip(self.arch.levels, forced_out, strict=True))
        if not bypass:
            return (default,)
        options = [[default[0]]]
        for i in range(1, self.nlevels):
            names = sorted(default[i])
            options.append([frozenset(c) for r in range(len(names), -1, -1)
                            for c in itertools.combinations(names, r)
                            if forced_in[i] <= frozenset(c)])
        everything = {t.name for t in tensors}
        choices: list[tuple[frozenset[str], ...]] = []
        if math.prod(len(o) for o in options) <= 64:
            for combo in itertools.product(*options):
                if set().union(*combo) >= everything and combo not in choices:
                    choices.append(combo)
        else:
            choices.append(default)
            for i in range(1, self.nlevels):
                for name in sorted(default[i] - forced_in[i]):
                    combo = tuple(k - {name} if j == i else k for j, k in enumerate(default))
                    if set().union(*combo) >= everything:
                        choices.append(combo)
            # The least keeps (the outermost memory's alone, with the forced ones): the
            # choice whose tiles fit if any do, so that "nothing fits" is a proof.
            least = (default[0], *(default[i] & forced_in[i] for i in range(1, self.nlevels)))
            if least not in choices:
                choices.append(least)
        if default in choices:
            choices.remove(default)
        return (default, *choices)

    @property
    def least_keep(self) -> int:
        """The keep choice keeping the least: the outermost memory keeps what it holds, the
        others only what constraints force (with bypass off, the one choice). The outermost
        memory holds every tensor (E501) and bypass only lowers what a memory needs, so when
        the smallest tiles do not fit with this choice, no mapping of the space fits."""
        sizes = [sum(len(kept) for kept in choice[1:]) for choice in self.keep_choices]
        return sizes.index(min(sizes))

    def _prime_table(self) -> IntArray:
        """[V, P] the distinct primes (ascending, 0-padded) of each value a factor can take:
        every value up to the largest total when that is small (row = value), else the
        divisors of the dims' totals (`_prime_values`, row = rank; `_prime_rows`)."""
        totals = sorted({t for d in range(self.ndims) for t in self.padded_totals(d)})
        top = totals[-1] if totals else 1
        if top <= DENSE_PRIMES:
            self._prime_values = None
            return _prime_table_of(range(top + 1))
        values = tuple(sorted({v for t in totals for v in divisors(t)}))
        self._prime_values = np.array(values, dtype=np.int64)
        return _prime_table_of(values)

    def _prime_rows(self, values: IntArray) -> IntArray:
        """The rows of `_primes` for these factor values."""
        if self._prime_values is None:
            return np.minimum(values, len(self._primes) - 1)
        return np.minimum(np.searchsorted(self._prime_values, values),
                          len(self._prime_values) - 1)

    # -- size ----------------------------------------------------------------------------

    def count(self) -> SpaceSize:
        """Factorisations within the dataflow, the meshes and the constraints x distinct
        loop orders x keep sets (capacity is not counted), exactly when the counting
        programme (`count_size`) takes at most COUNT_WORK cell updates, else bounds: at
        least the factorisations (each has an order) and at most the factorisations times
        each counted level's most distinct orders. A level with an order constraint counts
        the orders of its loops that the constraint leaves free. Bounded work whatever the
        bounds: the split counts come from formulas (`split_table`), and the programme's
        size is estimated before it runs."""
        if self._size is None:
            if self._coupled:  # a union: the sum over the cases that split it exactly
                sizes = [cell._count() for cell in self.cells]
                self.count_work = sum(cell.count_work for cell in self.cells)
                self._size = SpaceSize(sum(size.lower for size in sizes),
                                       sum(size.upper for size in sizes)
                                       ).scaled(len(self.keep_choices))
            else:
                self._size = self._count().scaled(len(self.keep_choices))
        return self._size

    def size(self) -> int:
        """The exact size (`count`); ValueError when the space can only be bounded."""
        found = self.count()
        if not found.exact:
            raise ValueError(f"the map space of `{self.problem.name}` holds {found} "
                             "candidates: too many to count exactly")
        return found.lower

    def _level_weights(self, table: SplitTable, ordered: int) -> list[tuple[Part, list[int]]]:
        """Per spatial part of an unconstrained dim, its splits with loops on a given set
        of j ordered levels, for j = 0, 1, ... up to the most that can have one: j proper
        factors there, and 0 or 1 at the innermost level (C(1, i) ways, i factors)."""
        rest = self.nlevels - ordered
        most = min(ordered, max(len(prime_factors(m)) for _, m, _, _ in table.parts))
        return [(part, [sum(math.comb(rest, i) * count_proper_splits(m, j + i)
                            for i in range(rest + 1)) for j in range(most + 1)])
                for part, m, _, _ in table.parts]

    def _padded_bounds(self, dims: list[int], classes: list[int], extents: tuple[int, ...],
                       loose: SpaceSize) -> SpaceSize:
        """Bounds of an unconstrained space with padded factorisations, by the
        level-symmetric programme: at least the perfect factorisations' candidates (every
        one is a padded split too), at most those of every factorisation of every padded
        total (the splits before the no-idle-step filter); `loose` where tighter."""
        ordered = self.nlevels - 1
        perfect, merged = [], []
        for d in dims:
            key = self.split_keys[d]
            bound = self.problem.bounds[d]
            perfect.append(self._level_weights(split_table((bound,), bound, *key[2:]),
                                               ordered))
            by_part: dict[Part, list[int]] = {}
            for total in key[0]:
                for part, vector in self._level_weights(
                        split_table((total,), total, *key[2:]), ordered):
                    old = by_part.get(part, [])
                    size = max(len(old), len(vector))
                    by_part[part] = [(old[j] if j < len(old) else 0)
                                     + (vector[j] if j < len(vector) else 0)
                                     for j in range(size)]
            longest = max(len(vector) for vector in by_part.values())
            merged.append([(part, vector + [0] * (longest - len(vector)))
                           for part, vector in by_part.items()])
        low, _ = count_symmetric(perfect, classes, extents, ordered)
        high, _ = count_symmetric(merged, classes, extents, ordered)
        return SpaceSize(max(loose.lower, low.lower if low else 0),
                         min(loose.upper, high.upper if high else loose.upper))

    def _count(self) -> SpaceSize:
        ordered = self.nlevels - 1  # the innermost level's order is irrelevant
        extents = tuple(self.slots[s].extent for s in self.spatial_slots)
        # Dims with a single split of factor 1 everywhere change nothing.
        dims = [d for d in sorted(range(self.ndims), key=lambda d: (self.classes[d], d))
                if not (len(self.splits[d]) == 1 and self.split_tables[d].exact
                        and int(self.splits[d].max(initial=1)) == 1)]
        tables = [self.split_tables[d] for d in dims]
        kept = [self.classes[d] for d in dims]
        sizes = [kept.count(c) for c in sorted(set(kept))]
        if self.constraints.empty and not self.imperfect and all(
                table.closed_form for table in tables):
            symmetric, self.count_work = count_symmetric(
                [self._level_weights(table, ordered) for table in tables], kept, extents,
                ordered)
            if symmetric is not None:
                return symmetric
        counted = [tuple(level for level in range(ordered)
                         if level not in self._uncounted[d]
                         and level in self.allowed[d]) for d in dims]
        used = sorted({level for levels in counted for level in levels})
        # The programme's size before it is built: cells x (split groups per dim).
        reach = [len(r) for r in _reachable(
            [tuple((part, ()) for part, *_ in table.parts) for table in tables], extents)]
        same = max(sizes, default=1)
        cells = math.prod(reach) * (len(dims) + 1) ** len(used) * \
            ((same + 1) ** len(used) if same > 1 else 1)
        groups = 0
        for position, table in enumerate(tables):
            mine = len([level for level in counted[position] if level in used])
            if not table.exact and not table.closed_form:
                groups = COUNT_WORK + 1  # no exact signature: bounds only
            groups += min(len(table.rows), len(table.parts) << mine) if table.exact \
                else len(table.parts) << mine
        found = None
        if cells * groups <= COUNT_WORK:
            signatures = []
            for d in dims:
                signature = split_signatures(self.split_keys[d], ordered, self._uncounted[d])
                signatures.append(tuple(
                    (part, tuple((tuple(mask[level] for level in used), ways)
                                 for mask, ways in masks)) for part, masks in signature))
            found, self.count_work = count_size(signatures, kept, extents, len(used))
        if found is not None:
            return found
        fewest, most = tiling_bounds(tables, extents)
        loose = SpaceSize(fewest, most * orders_of_sizes(tuple(sizes)) ** ordered)
        if self.imperfect and self.constraints.empty and \
                sum(len(self.split_keys[d][0]) for d in dims) <= PADDED_COUNT_TOTALS:
            loose = self._padded_bounds(dims, kept, extents, loose)
        return loose

    # -- candidates ----------------------------------------------------------------------

    def batch(self, factors: IntArray, orders: IntArray,
              keeps: IntArray | None = None) -> MappingBatch:
        """The cost model's arrays for candidates (`keeps`: their keep choices)."""
        nfanouts = len(self.arch.fanouts)
        size = factors.shape[-1]
        sx = np.ones((nfanouts, self.ndims, size), dtype=np.int64)
        sy = np.ones_like(sx)
        for s in self.spatial_slots:
            slot = self.slots[s]
            (sx if slot.axis == "x" else sy)[slot.fanout] = factors[s]
        return MappingBatch(np.ascontiguousarray(factors[:self.nlevels]), orders, sx, sy, keeps)

    def within_meshes(self, factors: IntArray) -> BoolArray:
        """[B] whether each fanout axis's spatial product fits its mesh extent."""
        ok = np.ones(factors.shape[-1], dtype=np.bool_)
        for s in self.spatial_slots:
            ok &= np.prod(factors[s], axis=0) <= self.slots[s].extent
        return ok

    def random_orders(self, rng: np.random.Generator, size: int) -> IntArray:
        """[L, D, B] uniformly random loop orders (within the order constraints)."""
        keys = rng.random((self.nlevels, self.ndims, size))
        # Compiled when it can: distinct keys have one argsort, so the same orders.
        found = kernel.run_argsort_middle(keys) if kernel.available() else None
        orders = np.argsort(keys, axis=1).astype(np.int64) if found is None else found
        return self.repair_orders(orders) if self._order_rules else orders

    def repair_orders(self, orders: IntArray) -> IntArray:
        """[L, D, B] the orders with each constrained level's listed dims put in place:
        `outer` first, `inner` last, the other dims between in their present relative
        order (a valid order is left as it is; only loops of factor > 1 matter, so this
        holds whatever the factors). In place, and returned."""
        ndims, size = self.ndims, orders.shape[-1]
        columns = np.arange(size)
        for level, rule in self._order_rules:
            position = np.empty((ndims, size), dtype=np.int64)
            position[orders[level], columns] = np.arange(ndims)[:, None]
            for rank, d in enumerate(rule.outer):
                position[d] = rank - 2 * ndims
            for rank, d in enumerate(rule.inner):
                position[d] = ndims + rank
            orders[level] = np.argsort(position, axis=0, kind="stable")
        return orders

    def valid_orders(self, factors: IntArray, orders: IntArray) -> BoolArray:
        """[B] whether each candidate's loop orders obey the order constraints (only loops
        of factor > 1 count)."""
        ok = np.ones(factors.shape[-1], dtype=np.bool_)
        ranks = self.loop_ranks(factors, orders).reshape(self.nlevels - 1, self.ndims, -1) \
            if self.nlevels > 1 else np.zeros((0, self.ndims, factors.shape[-1]), np.int64)
        rules = [(level, rule) for level, rule in self._order_rules] + \
            [(level, rule) for level, conjunction in self._coupled for rule in conjunction]
        for level, rule in rules:
            if level >= self.nlevels - 1:
                continue  # the innermost order is irrelevant (and repaired when reported)
            rank = ranks[level]
            for _, holds in order_checks(rule, rank, np.count_nonzero(rank, axis=0)):
                ok &= holds
        return ok

    def valid_factors(self, factors: IntArray) -> BoolArray:
        """[B] whether each candidate's factors obey the factor constraints (fixed and
        bounded factors, slots a dim may not use)."""
        ok = np.ones(factors.shape[-1], dtype=np.bool_)
        for d, dim_rules in enumerate(self.resolved.rules):
            totals = np.prod(factors[:, d], axis=0)
            for s, op, value in dim_rules:
                ok &= factor_holds(op, value, factors[s, d], totals)
        for d, s in self.resolved.forbidden:
            ok &= factors[s, d] == 1
        for level, conjunction in self._coupled:  # the loops there must have an order
            lists = [(rule.outer, rule.inner, rule.others) for rule in conjunction]
            real = factors[level] > 1  # [D, B]
            sets, column_of = np.unique(real, axis=1, return_inverse=True)
            allowed = np.array([arrange(lists, np.flatnonzero(sets[:, k]).tolist()) is not None
                                for k in range(sets.shape[1])], dtype=np.bool_)
            ok &= allowed[column_of.reshape(-1)] if allowed.size else ok
        return ok

    def _outer_rows(self) -> tuple[IntArray, ...]:
        """Per dim, for each of its splits, the split with the same spatial factors whose
        temporal factors sit as far out as the constraints let them (the largest factor at
        the outermost level, then the next, ...): the constrained seeds' tilings."""
        if self._outer_index is None:
            found = []
            spatial = list(self.spatial_slots)
            for splits in self.splits:
                group = np.unique(splits[:, spatial], axis=0, return_inverse=True)[1] \
                    .reshape(-1) if spatial else np.zeros(len(splits), dtype=np.int64)
                keys = [-splits[:, level] for level in reversed(range(self.nlevels))]
                order = np.lexsort([*keys, group])
                starts = order[np.r_[True, group[order][1:] != group[order][:-1]]]
                best = np.empty(int(group.max()) + 1 if len(group) else 0, dtype=np.int64)
                best[group[starts]] = starts
                found.append(best[group])
            self._outer_index = tuple(found)
        return self._outer_index

    def smallest_tiles(self) -> IntArray:
        """[S, D] the tiling with the smallest tiles: every factor as far out as it may go
        (with no constraints, every factor at the outermost level)."""
        if self.constraints.empty:
            factors = np.ones((len(self.slots), self.ndims), dtype=np.int64)
            factors[0] = self.problem.bounds
            return factors
        nest = sorted(range(len(self.slots)), key=self._nest_position)
        factors = np.empty((len(self.slots), self.ndims), dtype=np.int64)
        for d, splits in enumerate(self.splits):
            best = np.lexsort([-splits[:, s] for s in reversed(nest)])[0]
            factors[:, d] = splits[best]
        return factors

    def sample(self, rng: np.random.Generator, size: int, *, outer: bool = False
               ) -> tuple[IntArray, IntArray]:
        """Uniformly random factorisations (per dim) and orders. With `outer`, every
        temporal factor moves to the outermost level (tiles as small as they can be: the
        seeds the local search grows from); under constraints, as far out as they allow."""
        factors = np.empty((len(self.slots), self.ndims, size), dtype=np.int64)
        constrained = outer and not self.constraints.empty
        for d, splits in enumerate(self.splits):
            picks = rng.integers(0, len(splits), size)
            if constrained:
                picks = self._outer_rows()[d][picks]
            factors[:, d, :] = splits[picks].T
        if outer and not constrained:
            temporal = np.prod(factors[:self.nlevels], axis=0)
            factors[:self.nlevels] = 1
            factors[0] = temporal
        return factors, self.random_orders(rng, size)

    def unrollings(self, limit: int) -> IntArray | None:
        """[spatial slots, D, U] every distinct spatial unrolling (the spatial parts of the
        dims' splits, combined within the meshes), in lexicographic order of the dims'
        parts; None when there are more than `limit` (or no spatial slot)."""
        slots = list(self.spatial_slots)
        if not slots:
            return None
        extents = np.array([self.slots[s].extent for s in slots], dtype=np.int64)
        products = np.ones((1, len(slots)), dtype=np.int64)
        picks = np.zeros((1, 0), dtype=np.int64)
        parts = []
        for splits in self.splits:
            options = np.unique(splits[:, slots], axis=0)  # [k, spatial slots], sorted
            parts.append(options)
            grown = (products[:, None, :] * options[None, :, :]).reshape(-1, len(slots))
            inside = np.all(grown <= extents, axis=1)
            picks = np.concatenate([np.repeat(picks, len(options), axis=0),
                                    np.tile(np.arange(len(options)), len(picks))[:, None]],
                                   axis=1)[inside]
            products = grown[inside]
            if len(products) > limit:
                return None
        found = np.stack([parts[d][picks[:, d]] for d in range(self.ndims)], axis=1)
        return np.ascontiguousarray(found.transpose(2, 1, 0))

    def neighbours(self, rng: np.random.Generator, factors: IntArray, orders: IntArray,
                   size: int) -> tuple[IntArray, IntArray, IntArray]:
        """`size` candidates, each one or two moves from a random parent: a prime factor of
        a dim moved to another allowed slot, or two loops of a level swapped. Returns the
        children's factors and orders and the index of each child's parent."""
        parents = rng.integers(0, factors.shape[-1], size)
        # Every draw first, in the order the moves use them (the compiled moves and the
        # numpy ones then give the same children).
        draws: list[tuple[npt.NDArray[Any], ...]] = []
        for _ in range(2):
            moving = rng.random(size) < 0.7
            dim = rng.integers(0, self.ndims, size)
            source = rng.integers(0, len(self.slots), size)
            dest = rng.integers(0, len(self.slots), size)
            pick = rng.integers(0, 1 << 30, size)
            level = rng.integers(0, self.nlevels, size)
            a = rng.integers(0, self.ndims, size)
            b = rng.integers(0, self.ndims, size)
            draws.append((moving, dim, source, dest, pick, level, a, b))
        if kernel.available():
            stacked = [np.stack([draw[i] for draw in draws]) for i in range(8)]
            child_f, child_o = kernel.run_random_moves(
                factors, orders, parents, stacked, self._primes, self._prime_values,
                self._move_table,
                self._move_table is not self._allowed_table)
        else:
            child_f, child_o = self._random_moves(factors, orders, parents, draws)
        if self._bounds:  # undo the moves that break a factor bound
            broken = ~self.valid_factors(child_f)
            child_f[:, :, broken] = factors[:, :, parents[broken]]
        if self._order_rules:
            self.repair_orders(child_o)
        return child_f, child_o, parents

    def _random_moves(self, factors: IntArray, orders: IntArray, parents: IntArray,
                      draws: list[tuple[npt.NDArray[Any], ...]]) -> tuple[IntArray, IntArray]:
        """`neighbours`' children from their parents and draws, in numpy (the compiled
        twin is `kernel_numba.random_moves`)."""
        size = parents.size
        child_f = factors[:, :, parents].copy()
        child_o = orders[:, :, parents].copy()
        columns = np.arange(size)
        for moving, d, source, dest, pick, level, a, b in draws:
            # Factor move: pick a dim, a source slot holding a factor > 1, a prime of it and a
            # destination slot the dim may use; rejected draws leave the child unchanged.
            value = child_f[source, d, columns]
            primes = self._primes[self._prime_rows(value)]
            nprimes = np.maximum(1, np.count_nonzero(primes, axis=1))
            prime = primes[columns, pick % nprimes]
            ok = moving & (value > 1) & (dest != source) & self._move_table[d, dest] \
                & (prime > 0)
            if self._move_table is not self._allowed_table:
                ok &= self._move_table[d, source]
            rows = columns[ok]
            child_f[source[ok], d[ok], rows] //= prime[ok]
            child_f[dest[ok], d[ok], rows] *= prime[ok]
            # Order move: swap two positions of one level's order.
            swapping = ~moving
            rows = columns[swapping]
            first = child_o[level[swapping], a[swapping], rows].copy()
            child_o[level[swapping], a[swapping], rows] = child_o[level[swapping], b[swapping],
                                                                  rows]
            child_o[level[swapping], b[swapping], rows] = first
        return child_f, child_o

    def factor_moves(self, factors: IntArray, *, whole: bool = False) -> IntArray:
        """[M, 4] every single factor move from `factors [S, D]`: rows (dim, source slot,
        destination slot, prime), each distinct prime of each factor to each other slot its
        dim may use (constraints included: a pinned slot neither gives nor takes)."""
        moves: list[tuple[int, int, int, int]] = []
        movable = self._move_table
        for d in range(self.ndims):
            for source in self.allowed[d]:
                value = int(factors[source, d])
                if value == 1 or not movable[d, source]:
                    continue
                parts = _divisors(value) if whole else sorted(set(prime_factors(value)))
                for part in parts:
                    moves.extend((d, source, dest, part) for dest in self.allowed[d]
                                 if dest != source and movable[d, dest])
        return np.array(moves, dtype=np.int64).reshape(-1, 4)

    def apply_moves(self, factors: IntArray, moves: IntArray,
                    then: IntArray | None = None) -> IntArray:
        """[S, D, M] `factors [S, D]` with move `moves[i]` applied in column i (rows of
        `factor_moves`), and then move `then[i]` when given. A second move whose source no
        longer holds its prime leaves the column with a factor that does not divide: such
        columns are dropped (`valid_moved`)."""
        size = len(moves)
        children = np.repeat(factors[:, :, None], size, axis=2)
        columns = np.arange(size)
        for step in (moves,) if then is None else (moves, then):
            d, source, dest, prime = step.T
            held = children[source, d, columns]
            ok = held % prime == 0
            # A move that cannot be made marks the column (factor 0) for `valid_moved`.
            children[source, d, columns] = np.where(ok, held // prime, 0)
            children[dest, d, columns] *= prime
        return children

    def valid_moved(self, factors: IntArray) -> BoolArray:
        """[B] the columns of `apply_moves` whose moves were all possible and that keep the
        constraints' factor bounds."""
        ok: BoolArray = np.all(factors > 0, axis=(0, 1))
        if self._bounds:
            ok &= self.valid_factors(np.where(factors > 0, factors, 1))
        return ok

    def exchange_moves(self, moves: IntArray) -> tuple[IntArray, IntArray]:
        """Pairs of factor moves (rows of `factor_moves`) that trade through one slot: the
        first moves a prime of one dim into a slot and the second moves a prime of another
        dim out of it (or the reverse). Under a full memory a single move into it does not
        fit: a tile grows in one dim only while it shrinks in another. Returns the first and
        second moves, one pair per row."""
        d, source, dest, part = moves.T
        ratio = part[:, None] / part[None, :]
        first, second = np.nonzero((dest[:, None] == source[None, :])
                                   & (d[:, None] != d[None, :])
                                   & (ratio <= 2) & (ratio >= 0.5))
        return moves[first], moves[second]

    def swap_moves(self, moves: IntArray) -> tuple[IntArray, IntArray]:
        """Pairs of factor moves (rows of `factor_moves`, usually of whole divisors) by
        which two dims trade between two slots: the first moves a divisor of one dim from
        slot a to slot b, the second a divisor of another dim from b to a, of any sizes
        (an exchange move keeps them within a factor of 2). Each unordered pair once (the
        first move's dim lower). Returns the first and second moves, one pair per row."""
        d, source, dest, _ = moves.T
        first, second = np.nonzero((dest[:, None] == source[None, :])
                                   & (source[:, None] == dest[None, :])
                                   & (d[:, None] < d[None, :]))
        return moves[first], moves[second]

    def resplit_count(self, factors: IntArray, a: int, b: int) -> int:
        """How many columns `resplits(factors, a, b)` has before `valid_moved` (the
        current split excluded): the product over dims of the divisors of each dim's
        factor in the two slots together, without building them."""
        return math.prod(len(choices) for choices in self._resplit_choices(factors, a, b)) - 1

    def resplits(self, factors: IntArray, a: int, b: int) -> IntArray:
        """[S, D, M] every other way of splitting, between slots `a` and `b`, the loops
        the two hold together: each dim that may move in both takes any divisor of its
        joint factor in `a` and the rest in `b`, all dims at once (the other slots
        unchanged). One move at a time cannot cross from one good tiling of two memories
        to another when each step between them overflows a memory or loses reuse (VGG-16
        `s3.first.conv` on simple_os_16x16: Q 7 into the register file as C 16 and S 3
        leave it, 2.1% lower EDP). Not yet filtered by the constraints' bounds
        (`valid_moved`)."""
        choices = self._resplit_choices(factors, a, b)
        # Every combination, the first dim varying slowest (np.meshgrid's "ij" order, which
        # takes at most 32 arrays: an einsum may have more dims).
        sizes = [len(c) for c in choices]
        total = math.prod(sizes)
        in_a = np.empty((len(choices), total), dtype=np.int64)  # [D, M]
        after = total
        for d, c in enumerate(choices):
            after //= sizes[d]
            in_a[d] = np.tile(np.repeat(np.array(c, dtype=np.int64), after),
                              total // (after * sizes[d]))
        joint = factors[a] * factors[b]
        children = np.repeat(factors[:, :, None], in_a.shape[1], axis=2)
        children[a] = in_a
        children[b] = joint[:, None] // in_a
        current = np.all(in_a == factors[a][:, None], axis=0)
        return children[:, :, ~current]

    def with_order_swaps(self, factors: IntArray, orders: IntArray, levels: Sequence[int],
                         largest: int | None = None) -> tuple[IntArray, IntArray] | None:
        """`factors [S, D, M]` each with `orders [L, D]`, then again with each swap of two
        loops of one of `levels` that are real (factor above 1) in that column (the
        innermost level's order does not count); repaired to the order constraints.
        Returns (factors, orders), batch last, or None when there would be more than
        `largest` columns (counted before any is built)."""
        count = factors.shape[-1]
        # Per level, every pair of positions (i < j, in combinations order) and the
        # columns where both loops are real: the swaps, pair by pair, each pair's columns
        # in order (arrays over all pairs at once: a loop over pairs was a few percent of
        # the search's time).
        positions = np.array(list(itertools.combinations(range(self.ndims), 2)),
                             dtype=np.int64).reshape(-1, 2)
        first, second = positions[:, 0], positions[:, 1]
        swap_pairs: list[IntArray] = []
        swap_columns: list[IntArray] = []
        swap_levels: list[int] = []
        for level in sorted(set(levels)):
            if level == self.nlevels - 1:
                continue
            real = factors[level][orders[level]] > 1  # [D positions, M]
            pair, column = np.nonzero(real[first] & real[second])
            swap_levels.extend([level] * pair.size)
            swap_pairs.append(pair)
            swap_columns.append(column)
        total = sum(p.size for p in swap_pairs)
        if largest is not None and count + total > largest:
            return None
        pairs = np.concatenate(swap_pairs) if swap_pairs else np.empty(0, np.int64)
        columns = np.concatenate(swap_columns) if swap_columns else np.empty(0, np.int64)
        at_level = np.array(swap_levels, dtype=np.int64)
        swapped = np.repeat(orders[:, :, None], count + total, axis=2)
        i, j = first[pairs], second[pairs]
        moved = np.arange(count, count + total)
        swapped[at_level, i, moved] = orders[at_level, j]
        swapped[at_level, j, moved] = orders[at_level, i]
        if self._order_rules:
            self.repair_orders(swapped)
        return np.concatenate([factors, factors[:, :, columns]], axis=2), swapped

    def _resplit_choices(self, factors: IntArray, a: int, b: int) -> list[tuple[int, ...]]:
        """Per dim, the factors slot `a` may hold in `resplits` (ascending)."""
        movable = self._move_table
        return [divisors(int(factors[a, d] * factors[b, d]))
                if movable[d, a] and movable[d, b] else (int(factors[a, d]),)
                for d in range(self.ndims)]

    def order_swaps(self, factors: IntArray, orders: IntArray) -> IntArray:
        """[L, D, M] `orders [L, D]` with one pair of real loops of one ordered level swapped,
        for every such pair (the innermost level's order does not count: rule 2); not yet
        repaired to the order constraints (`all_neighbours` repairs them)."""
        swapped: list[IntArray] = []
        for level in range(self.nlevels - 1):
            real = [p for p in range(self.ndims) if factors[level, orders[level, p]] > 1]
            for a, b in itertools.combinations(real, 2):
                child = orders.copy()
                child[level, a], child[level, b] = orders[level, b], orders[level, a]
                swapped.append(child)
        if not swapped:
            return orders[:, :, None][:, :, :0]
        return np.stack(swapped, axis=-1)

    def all_neighbours(self, factors: IntArray, orders: IntArray) -> tuple[IntArray, IntArray]:
        """Every candidate one move from (`factors [S, D]`, `orders [L, D]`): each distinct
        prime of each factor moved to each other slot its dim may use, and each pair of
        real loops of an ordered level swapped. Batch last."""
        moved = self.apply_moves(factors, self.factor_moves(factors))
        moved = moved[:, :, self.valid_moved(moved)]
        swapped = self.order_swaps(factors, orders)
        stacked_f = np.concatenate(
            [moved, np.repeat(factors[:, :, None], swapped.shape[-1], axis=2)], axis=2)
        stacked_o = np.concatenate(
            [np.repeat(orders[:, :, None], moved.shape[-1], axis=2), swapped], axis=2)
        if self._order_rules:
            self.repair_orders(stacked_o)
        return stacked_f, stacked_o

    @property
    def compiled_moves(self) -> bool:
        """Whether the descents' neighbourhoods are compiled: the kernel is available and
        no constraint bounds a factor or pins an order (those are repaired in numpy)."""
        return kernel.available() and not self._bounds and not self._order_rules

    @property
    def random_move_tables(self) -> tuple[IntArray, IntArray, BoolArray, bool]:
        """What `kernel_numba.random_moves` takes besides the children's parents and draws
        (as `neighbours` passes them): the primes table, the values its rows stand for
        (empty: every value up to its length), the move table, and whether a move's source
        slot is checked against it."""
        return (self._primes,
                np.zeros(0, dtype=np.int64) if self._prime_values is None
                else self._prime_values,
                self._move_table, self._move_table is not self._allowed_table)

    @property
    def move_table(self) -> BoolArray:
        """[D, S] the slots each dim's factors may move between (pinned slots excluded)."""
        return self._move_table

    def single_neighbourhood(self, factors: IntArray, orders: IntArray, keep: int,
                             others: list[int]) -> Neighbourhood:
        """A local descent's single moves from one candidate (`factors [S, D]`, `orders
        [L, D]`, keep choice `keep`): `all_neighbours` with keep `keep`, then the tiling
        with each keep choice of `others`. Compiled when the kernel is available and no
        constraint bounds a factor or pins an order (the same candidates in the same
        order)."""
        if self.compiled_moves:
            return Neighbourhood.of(kernel.run_single_neighbourhood(
                factors, orders, keep, self._move_table, others))
        f_moved, o_moved = self.all_neighbours(factors, orders)
        return Neighbourhood.of((
            np.concatenate([f_moved, np.repeat(factors[:, :, None], len(others), axis=2)],
                           axis=2),
            np.concatenate([o_moved, np.repeat(orders[:, :, None], len(others), axis=2)],
                           axis=2),
            np.concatenate([np.full(f_moved.shape[-1], keep, dtype=np.int64),
                            np.array(others, dtype=np.int64)])))

    def exchange_neighbourhood(self, factors: IntArray, orders: IntArray, keep: int
                               ) -> Neighbourhood:
        """A local descent's exchange moves from one candidate: every pair of
        `exchange_moves` over the moves of whole divisors (`factor_moves(whole=True)`)
        that can be made and keeps the factor bounds, with its order and keep choice.
        Compiled as `single_neighbourhood` is; then only the candidates taken are built."""
        if self.compiled_moves:
            moves, pairs = kernel.run_exchange_pairs(factors, self._move_table)
            return Neighbourhood(len(pairs), lambda take: kernel.run_exchange_take(
                factors, orders, keep, moves, pairs, take))
        first, second = self.exchange_moves(self.factor_moves(factors, whole=True))
        f_pairs = self.apply_moves(factors, first, second)
        f_pairs = f_pairs[:, :, self.valid_moved(f_pairs)]
        count = f_pairs.shape[-1]
        return Neighbourhood.of((f_pairs, np.repeat(orders[:, :, None], count, axis=2),
                                 np.full(count, keep, dtype=np.int64)))

    def canonical(self, factors: IntArray, orders: IntArray) -> IntArray:
        """[B, K] one row per candidate, equal for candidates equivalent under rules 1-2
        (factors, and the rank of each real loop in its level's order; the innermost
        level's order is dropped)."""
        size = factors.shape[-1]
        rows: IntArray = np.concatenate([factors.reshape(-1, size),
                                         self.loop_ranks(factors, orders)], axis=0).T
        return rows

    def loop_ranks(self, factors: IntArray, orders: IntArray) -> IntArray:
        """[(L-1) * D, B] for each level above the innermost and each dim: the rank of the
        dim's loop among the level's real loops, outer to inner (0: factor 1, no loop)."""
        ordered, ndims, size = self.nlevels - 1, self.ndims, factors.shape[-1]
        # One flat index gathers the factors in loop order and scatters the ranks back
        # (take/put_along_axis build broadcast index arrays on every call).
        index = np.multiply(orders[:ordered], size)
        index += (np.arange(ordered, dtype=np.int64) * (ndims * size))[:, None, None]
        index += np.arange(size, dtype=np.int64)
        real = factors[:ordered].reshape(-1).take(index) > 1
        rank = np.cumsum(real, axis=1)
        rank *= real
        by_dim = np.empty(ordered * ndims * size, dtype=np.int64)
        by_dim[index.reshape(-1)] = rank.reshape(-1)
        return by_dim.reshape(ordered * ndims, size)

    def enumerate(self, chunk: int = 1 << 16,
                  tilings: Callable[[IntArray], BoolArray] | None = None
                  ) -> Iterator[tuple[IntArray, IntArray]]:
        """Every candidate (up to equivalences 1-3), in chunks. Capacity is not checked
        here; `tilings` ([S, D, B] factors -> [B] keep) prunes factorisations before their
        loop orders multiply them (capacity does not depend on the orders). ValueError when
        a dim's splits are sampled (`listed` is False): such a space is too large for it."""
        if not self.listed:
            raise ValueError(f"the map space of `{self.problem.name}` holds {self.count()} "
                             "candidates: too many to enumerate")
        if self._coupled:  # a union: each of the cases that split it exactly
            for cell in self.cells:
                yield from cell.enumerate(chunk, tilings)
            return
        counts = [len(s) for s in self.splits]
        total = math.prod(counts)
        ordered = self.nlevels - 1
        for start in range(0, total, chunk):
            index = np.arange(start, min(total, start + chunk))
            picks = np.unravel_index(index, counts)
            factors = np.stack([self.splits[d][picks[d]].T for d in range(self.ndims)], axis=1)
            factors = factors[:, :, self.within_meshes(factors)]
            if tilings is not None and factors.shape[-1]:
                factors = factors[:, :, tilings(factors)]
            if factors.shape[-1] == 0:
                continue
            masks = factors[:ordered] > 1  # [ordered, D, B]
            keys = np.packbits(masks.reshape(-1, factors.shape[-1]).T, axis=1)
            _, group_of = np.unique(keys, axis=0, return_inverse=True)
            group_of = group_of.reshape(-1)
            for group in range(int(group_of.max()) + 1):
                members = factors[:, :, group_of == group]
                mask = masks[:, :, np.flatnonzero(group_of == group)[0]]
                per_level = []
                rules = dict(self._order_rules)
                for level in range(ordered):
                    dims = tuple(int(d) for d in np.flatnonzero(mask[level]))
                    rest = [d for d in range(self.ndims) if d not in dims]
                    rule = rules.get(level)
                    if rule is None:
                        per_level.append([(*order, *rest)
                                          for order in canonical_orders(dims, self.classes)])
                        continue
                    # Listed loops in place; the others' orders (equivalence 3 among them).
                    first = [d for d in rule.outer if d in dims]
                    last = [d for d in rule.inner if d in dims]
                    free = tuple(d for d in dims if d not in rule.listed)
                    per_level.append([(*first, *order, *last, *rest)
                                      for order in canonical_orders(free, self.classes)])
                combos = list(itertools.product(*per_level))
                identity = tuple(range(self.ndims))
                order_rows = np.array([[*combo, identity] for combo in combos],
                                      dtype=np.int64).reshape(len(combos), self.nlevels,
                                                              self.ndims)
                n = members.shape[-1]
                yield (np.repeat(members, len(combos), axis=2),
                       np.tile(order_rows.transpose(1, 2, 0), (1, 1, n)))

    def to_mapping(self, factors: IntArray, orders: IntArray,
                   keep: tuple[frozenset[str], ...]) -> Mapping:
        """The `Mapping` IR of one candidate (`factors [S, D]`, `orders [L, D]`)."""
        if self._coupled:  # a union: as the case holding it orders it (the innermost too)
            cell = next((cell for cell in self.cells
                         if cell.valid_factors(factors[:, :, None])[0]), None)
            if cell is None:
                raise ValueError("the candidate is outside the order constraints")
            return cell.to_mapping(factors, orders, keep)
        if self._order_rules:  # the innermost level's order too, as the constraints say
            orders = self.repair_orders(orders.copy()[:, :, None])[:, :, 0]
        levels = []
        for i in range(self.nlevels):
            temporal = tuple(Loop(int(d), int(factors[i, d])) for d in orders[i]
                             if factors[i, d] > 1)
            spatial = tuple(SpatialLoop(d, int(factors[s, d]),
                                        self.arch.fanouts[self.slots[s].fanout].name,
                                        "x" if self.slots[s].axis == "x" else "y")
                            for s in self.spatial_slots if self.slots[s].level == i
                            for d in range(self.ndims) if factors[s, d] > 1)
            levels.append(LevelMapping(self.arch.levels[i].name, temporal, spatial, keep[i]))
        padded = self.imperfect and any(
            math.prod(int(v) for v in factors[:, d]) != bound
            for d, bound in enumerate(self.problem.bounds))
        return Mapping(tuple(levels), imperfect=padded)
