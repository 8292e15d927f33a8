"""The map space of one problem on one accelerator: what the mapper chooses from.

In: a `Problem`, the resolved accelerator (`ArchModel`, dslc.arch) and its map-space
constraints (`MapConstraints`, dslc.spec.constraints: the accelerator's and the request's
combined). Out: a `MapSpace` that counts its size exactly, samples candidates, perturbs them
(the heuristic's moves), enumerates them all (exhaustive search), and turns a chosen
candidate into the `Mapping` IR, all within the constraints. It does not evaluate costs
(dslc.cost.batched) nor decide what is best (dslc.mapper.search).

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
from collections.abc import Callable, Iterator
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
    resolve,
    slot_name,
)
from dslc.mapper.errors import NoValidMappingError
from dslc.mapping.check import allowed_dims
from dslc.mapping.constraints import factor_holds, order_checks
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


def prime_factors(n: int) -> tuple[int, ...]:
    """Prime factors with multiplicity, ascending (1 has none)."""
    found = []
    p = 2
    while p * p <= n:
        while n % p == 0:
            found.append(p)
            n //= p
        p += 1
    if n > 1:
        found.append(n)
    return tuple(found)


@cache
def _divisors(n: int) -> tuple[int, ...]:
    """The divisors of n above 1, ascending."""
    return tuple(k for k in range(2, n + 1) if n % k == 0)


def ordered_splits(n: int, slots: int) -> list[tuple[int, ...]]:
    """Every way to write n as an ordered product of `slots` factors."""
    if slots == 1:
        return [(n,)]
    out: list[tuple[int, ...]] = []
    for first in range(1, n + 1):
        if n % first == 0:
            out.extend((first, *rest) for rest in ordered_splits(n // first, slots - 1))
    return out


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
    order): permutations in which adjacent loops of one class keep their dim order."""
    count = 0
    for perm in itertools.permutations(range(len(classes))):
        if all(not (classes[a] == classes[b] and a > b) for a, b in itertools.pairwise(perm)):
            count += 1
    return count


def _fold(level: tuple[tuple[int, ...], int]) -> tuple[tuple[int, ...], int]:
    """Close the class in progress: add its loop count to the sorted finished sizes."""
    done, current = level
    return (tuple(sorted((*done, current))) if current else done, 0)


@cache
def _orders_of_sizes(sizes: tuple[int, ...]) -> int:
    """`distinct_orders` of loops whose classes have these sizes: the count depends only on
    the sizes (renaming dims within a class, or classes, maps valid orders to valid orders)."""
    return distinct_orders(tuple(c for c, size in enumerate(sizes) for _ in range(size)))


def canonical_orders(dims: tuple[int, ...], classes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The distinct orders (outer to inner) of the real loops `dims` (ascending)."""
    return [perm for perm in itertools.permutations(dims)
            if all(not (classes[a] == classes[b] and a > b) for a, b in itertools.pairwise(perm))]


SplitKey = tuple[tuple[int, ...], int, tuple[int, ...], tuple[Slot, ...], tuple[int, ...],
                 tuple[Rule, ...]]
"""(totals, bound, allowed slots, slots, slots in nest order, factor rules): what a dim's
splits depend on."""


@lru_cache(maxsize=4096)
def factor_splits(totals: tuple[int, ...], bound: int, allowed: tuple[int, ...],
                  slots: tuple[Slot, ...], nest: tuple[int, ...],
                  rules: tuple[Rule, ...] = ()) -> IntArray:
    """[n, S] every factorisation of a dim of `bound` (multiplying to one of `totals`) over
    its `allowed` slots within the meshes, without a wholly idle outermost step, that
    satisfies the dim's factor `rules` (constraints: a slot's factor fixed, bounded, or the
    whole total). Cached: layers and accelerators share most of their dims' (bound, slots)
    pairs, and the splits of large bounds on deep hierarchies take milliseconds each."""
    rows = []
    for total in totals:
        for split in ordered_splits(total, len(allowed)):
            row = [1] * len(slots)
            for s, factor in zip(allowed, split, strict=True):
                row[s] = factor
            if any(row[s] > slot.extent for s, slot in enumerate(slots) if slot.spatial):
                continue
            outermost = next((row[s] for s in nest if row[s] > 1), 1)
            if total - bound < total // outermost and _satisfies(row, total, rules):
                rows.append(row)
    result = np.array(rows, dtype=np.int64).reshape(-1, len(slots))
    result.flags.writeable = False
    return result


def _satisfies(row: list[int], total: int, rules: tuple[Rule, ...]) -> bool:
    """Whether a split obeys a dim's factor rules."""
    return all(factor_holds(op, value, row[slot], total) for slot, op, value in rules)


Signatures = tuple[tuple[tuple[int, ...], tuple[tuple[tuple[int, ...], int], ...]], ...]
"""(spatial factors, ((ordered-level loop mask, count), ...)), ...: a dim's splits counted."""


@lru_cache(maxsize=4096)
def split_signatures(key: SplitKey, ordered_levels: int, spatial_slots: tuple[int, ...],
                     uncounted: tuple[int, ...] = ()) -> Signatures:
    """A dim's splits counted by spatial part, then by which ordered levels get a loop
    that takes part in the level's order (not at the `uncounted` levels, whose order
    constraint pins this dim's loop)."""
    groups: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
    for row in factor_splits(*key):
        spatial = tuple(int(row[s]) for s in spatial_slots)
        mask = tuple(int(row[i] > 1 and i not in uncounted) for i in range(ordered_levels))
        masks = groups.setdefault(spatial, {})
        masks[mask] = masks.get(mask, 0) + 1
    return tuple((spatial, tuple(masks.items())) for spatial, masks in groups.items())


@lru_cache(maxsize=1024)
def distinct_classes_size(keys: tuple[SplitKey, ...], ordered_levels: int,
                          spatial_slots: tuple[int, ...], extents: tuple[int, ...],
                          uncounted: tuple[tuple[int, ...], ...] | None = None) -> int:
    """Candidates (factorisations x distinct orders, no keep sets) when no two dims share an
    order class: a level with k loops then has k! orders, so a level's state is just k and
    the programme runs over dense arrays of loop counts, one per spatial state. Counted in
    float64: exact below 2^53, the nearest double above. Cached by the dims' split keys (a
    network's repeated shapes and a co-design run's accelerators share them). `uncounted`:
    per dim, the levels whose order constraint pins its loop (see `split_signatures`)."""
    ndims = len(keys)
    shape = (ndims + 1,) * ordered_levels
    start = np.zeros(shape)
    start[(0,) * ordered_levels] = 1.0
    states: dict[tuple[int, ...], npt.NDArray[np.float64]] = {
        tuple(1 for _ in spatial_slots): start}
    for d, key in enumerate(keys):
        groups = split_signatures(key, ordered_levels, spatial_slots,
                                  uncounted[d] if uncounted else ())
        grown: dict[tuple[int, ...], npt.NDArray[np.float64]] = {}
        for products, counts in states.items():
            for spatial, masks in groups:
                new_products = tuple(a * b for a, b in zip(products, spatial, strict=True))
                if any(p > e for p, e in zip(new_products, extents, strict=True)):
                    continue
                target = grown.get(new_products)
                if target is None:
                    target = grown[new_products] = np.zeros(shape)
                for mask, ways in masks:
                    into = tuple(slice(1, None) if m else slice(None) for m in mask)
                    source = tuple(slice(0, -1) if m else slice(None) for m in mask)
                    target[into] += ways * counts[source]
        states = grown
    orders = np.ones(shape)
    factorials = np.array([math.factorial(k) for k in range(ndims + 1)], dtype=float)
    for level in range(ordered_levels):
        view = [1] * ordered_levels
        view[level] = ndims + 1
        orders = orders * factorials.reshape(view)
    total = sum(float(np.sum(counts * orders)) for counts in states.values())
    return round(total)


class MapSpace:
    """Factorisations, loop orders and keep sets of one problem on one accelerator, within
    its map-space constraints.

    Constraints (dslc.spec.constraints, resolved by dslc.mapper.constraints) restrict every
    part: a slot a dim may not use leaves its `allowed` slots; factor rules filter its
    splits; an order rule pins the listed loops of a level (`repair_orders` puts them in
    place, and only the other loops' orders are counted and enumerated); forced keeps and
    bypasses filter the keep sets. The moves of the local search stay inside: a fixed
    factor's slot takes no move, a move that breaks a bound is undone, orders are repaired.
    Raises NoValidMappingError when the constraints leave nothing for this problem."""

    def __init__(self, problem: Problem, arch: ArchModel, *, bypass: bool = True,
                 imperfect: bool = False, constraints: MapConstraints | None = None) -> None:
        self.problem = problem
        self.imperfect = imperfect
        self.arch = arch
        self.nlevels = len(arch.levels)
        self.ndims = len(problem.dims)
        slots = [Slot(i, -1, "", 0) for i in range(self.nlevels)]
        for f, fanout in enumerate(arch.fanouts):
            for axis, extent in (("x", fanout.mesh_x), ("y", fanout.mesh_y)):
                if extent > 1:
                    slots.append(Slot(fanout.owner, f, "x" if axis == "x" else "y", extent))
        self.slots = tuple(slots)
        self.constraints = constraints if constraints is not None else MapConstraints()
        self.resolved = resolve(problem, arch, self.constraints, self.slots,
                                [self.padded_totals(d) for d in range(self.ndims)]) \
            if not self.constraints.empty else Resolved()
        """The constraints in this space's terms (empty when there are none)."""
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
        self.splits = tuple(factor_splits(*key) for key in self.split_keys)
        """Per dim, [n, S] every factorisation over its allowed slots within the meshes and
        its factor rules (shared, read-only arrays)."""
        self.classes = order_classes(problem)
        self.spatial_slots = tuple(s for s, slot in enumerate(self.slots) if slot.spatial)
        self.keep_choices = self._keep_choices(bypass)
        self._primes = self._prime_table()
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

    # -- construction ------------------------------------------------------------------

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
        reasons = []
        problem, arch = self.problem, self.arch
        for d, splits in enumerate(self.splits):
            if len(splits) == 0:
                written = describe_rules(self.resolved, d)
                reasons.append(f"no factorisation of `{problem.dims[d]}` (bound "
                               f"{problem.bounds[d]}) satisfies the constraints"
                               + (f": {written}" if written else ""))
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
        if default in choices:
            choices.remove(default)
        return (default, *choices)

    def _prime_table(self) -> IntArray:
        """[V+1, P] the distinct primes of each value up to the largest bound (0-padded)."""
        top = max(max(self.padded_totals(d)) for d in range(self.ndims))
        primes = [sorted(set(prime_factors(v))) for v in range(top + 1)]
        width = max(1, max(len(p) for p in primes))
        table = np.zeros((top + 1, width), dtype=np.int64)
        for v, ps in enumerate(primes):
            table[v, :len(ps)] = ps
        return table

    # -- size ----------------------------------------------------------------------------

    def size(self) -> int:
        """Factorisations within the dataflow, the meshes and the constraints x distinct
        loop orders x keep sets (exact; capacity is not counted). A level with an order
        constraint counts the orders of its loops that the constraint leaves free.

        A dynamic programme over dims, grouped by order class: the distinct orders of a
        level's loops depend only on how many loops each class has there, so a level's state
        is the sorted sizes of its finished classes plus the count of the class in progress,
        and the spatial state is the product of the factors on each mesh axis so far."""
        if len(set(self.classes)) == self.ndims:
            return self._size_distinct_classes() * len(self.keep_choices)
        ordered_levels = self.nlevels - 1  # the innermost level's order is irrelevant
        nspatial = len(self.spatial_slots)
        LevelState = tuple[tuple[int, ...], int]
        State = tuple[tuple[LevelState, ...], tuple[int, ...]]
        empty: LevelState = ((), 0)
        states: dict[State, int] = {(tuple(empty for _ in range(ordered_levels)),
                                     tuple(1 for _ in range(nspatial))): 1}
        dims = sorted(range(self.ndims), key=lambda d: (self.classes[d], d))
        for position, d in enumerate(dims):
            first_of_class = position == 0 or self.classes[dims[position - 1]] != self.classes[d]
            signatures = split_signatures(self.split_keys[d], ordered_levels,
                                          self.spatial_slots, self._uncounted[d])
            grown: dict[State, int] = {}
            for (levels, products), count in states.items():
                if first_of_class:
                    levels = tuple(_fold(level) for level in levels)
                for spatial, masks in signatures:
                    new_products = tuple(a * b for a, b in zip(products, spatial, strict=True))
                    if any(p > self.slots[s].extent
                           for p, s in zip(new_products, self.spatial_slots, strict=True)):
                        continue
                    for mask, ways in masks:
                        new_levels = tuple(
                            (done, current + 1) if m else (done, current)
                            for (done, current), m in zip(levels, mask, strict=True))
                        key = (new_levels, new_products)
                        grown[key] = grown.get(key, 0) + count * ways
            states = grown
        total = 0
        for (levels, _), count in states.items():
            total += count * math.prod(_orders_of_sizes(_fold(level)[0]) for level in levels)
        return total * len(self.keep_choices)

    def _size_distinct_classes(self) -> int:
        """`size` without keep sets when no two dims share an order class (convolutions);
        see `distinct_classes_size`."""
        return distinct_classes_size(self.split_keys, self.nlevels - 1, self.spatial_slots,
                                     tuple(self.slots[s].extent for s in self.spatial_slots),
                                     self._uncounted if self._order_rules else None)

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
        orders = np.argsort(keys, axis=1).astype(np.int64)
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
        for level, rule in self._order_rules:
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
                factors, orders, parents, stacked, self._primes, self._move_table,
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
            primes = self._primes[np.minimum(value, len(self._primes) - 1)]
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

    def single_neighbourhood(self, factors: IntArray, orders: IntArray, keep: int,
                             others: list[int]) -> Neighbourhood:
        """A local descent's single moves from one candidate (`factors [S, D]`, `orders
        [L, D]`, keep choice `keep`): `all_neighbours` with keep `keep`, then the tiling
        with each keep choice of `others`. Compiled when the kernel is available and no
        constraint bounds a factor or pins an order (the same candidates in the same
        order)."""
        if kernel.available() and not self._bounds and not self._order_rules:
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
        if kernel.available() and not self._bounds and not self._order_rules:
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
        loop orders multiply them (capacity does not depend on the orders)."""
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
