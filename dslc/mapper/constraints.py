"""Map-space constraints resolved for one problem on one accelerator.

In: `MapConstraints` (dslc.spec.constraints: an accelerator's and a request's, combined),
the `Problem`, the resolved accelerator (`ArchModel`) and the map space's slots (one per
memory's temporal loops, one per fanout axis wider than 1). Out: `Resolved`, the
constraints in the map space's terms: per dim, the slots it may not use and the factor
rules of the others; per memory, the loop-order rule and the tensors it must keep or
bypass. `MapSpace` (dslc.mapper.space) restricts its splits, orders and keep sets with it.
What each constraint requires, and the predicates that decide whether a factor or an order
obeys it, come from dslc.mapping.constraints (`requirements`, `factor_holds`,
`order_checks`): the check of a written mapping against its accelerator's constraints
(E612) uses the same ones.

Constraints say nothing about what a problem or an accelerator does not have: a dim or
tensor the problem lacks (a `forbid [R]` on a dense layer), a level the accelerator lacks (a
request may name levels of some of its accelerators; dslc.sema checks that every level
named exists somewhere). What cannot hold for this problem raises `NoValidMappingError`,
each reason naming the level and the dim (or tensor) in conflict: two different fixed
factors, a fixed factor in a slot the dim may not use, fixed factors whose product does not
divide the bound, fixed spatial factors beyond a mesh axis, a kept tensor the level does
not hold, a bypass of the backing store. Conflicts that need the factorisations (no split
of a dim satisfies its rules, the smallest tiles of forced keeps over capacity) are found
by the map space, with `describe_rules` and `forced_keep_overflow`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dslc.arch import ArchModel
from dslc.lower.problem import Problem
from dslc.mapper.errors import NoValidMappingError
from dslc.mapping.constraints import (
    Arrangement,
    KeepRequirement,
    OrderRequirement,
    OrderRule,
    RuleOp,
    arrange,
    merge_orders,
    requirements,
)
from dslc.mapping.mapping import tile_words
from dslc.spec.constraints import MapConstraints, SlotConstraint

Rule = tuple[int, RuleOp, int]
"""(slot, op, value): the dim's factor in the slot is `value`, at most, at least, or its
whole bound (`all`, value 0)."""


class SlotLike(Protocol):
    """What the resolution reads of a map-space slot (dslc.mapper.space.Slot)."""

    @property
    def level(self) -> int: ...
    @property
    def fanout(self) -> int: ...
    @property
    def axis(self) -> str: ...
    @property
    def extent(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Resolved:
    """Constraints in a map space's terms (dims and slots by index)."""

    forbidden: frozenset[tuple[int, int]] = frozenset()
    """(dim, slot) pairs whose factor must be 1."""
    rules: tuple[tuple[Rule, ...], ...] = ()
    """Per dim, its factor rules, sorted."""
    orders: tuple[OrderRule | None, ...] = ()
    """Per memory level, the one loop-order rule that states all its order constraints
    (None: no constraint, or no single rule states them: `conjunctions`)."""
    keep: tuple[frozenset[str], ...] = ()
    """Per memory level, tensors (by name) it must keep."""
    bypass: tuple[frozenset[str], ...] = ()
    """Per memory level, tensors (by name) that must bypass it."""
    sources: dict[tuple[int, int], list[str]] = field(default_factory=dict, compare=False)
    """Per (dim, slot), the constraints on it as written, with their origins (messages)."""
    conjunctions: tuple[tuple[OrderRule, ...], ...] = ()
    """Per memory level, its order rules when no single rule states them all (`[K, ...]`
    and `[C, ...]`: K or C outermost, so not both with loops there); empty otherwise. The
    map space searches such a level as a union of cases (`order_cases`)."""

    @property
    def empty(self) -> bool:
        return not (self.forbidden or any(self.rules) or any(self.orders) or any(self.keep)
                    or any(self.bypass) or any(self.conjunctions))


def slot_name(arch: ArchModel, slot: SlotLike) -> str:
    """How messages name a slot: `GLB`, or `PE` x."""
    if slot.fanout < 0:
        return f"`{arch.levels[slot.level].name}`"
    return f"`{arch.fanouts[slot.fanout].name}` {slot.axis}"


def _origin(origin: str) -> str:
    return f" ({origin})" if origin else ""


def resolve(problem: Problem, arch: ArchModel, constraints: MapConstraints,
            slots: Sequence[SlotLike], totals: Sequence[tuple[int, ...]]) -> Resolved:
    """The constraints for this problem on this accelerator (see the module doc; `totals`:
    per dim, what its factors may multiply to); raises NoValidMappingError when they
    contradict each other or the accelerator."""
    if constraints.empty:
        return Resolved()
    ndims = len(problem.dims)
    levels = {level.name: level.index for level in arch.levels}
    fanouts = {fanout.name: f for f, fanout in enumerate(arch.fanouts)}
    temporal = {slot.level: s for s, slot in enumerate(slots) if slot.fanout < 0}
    spatial = {(slot.fanout, slot.axis): s for s, slot in enumerate(slots) if slot.fanout >= 0}
    reasons: list[str] = []
    forbidden: set[tuple[int, int]] = set()
    rules: list[set[Rule]] = [set() for _ in range(ndims)]
    sources: dict[tuple[int, int], list[str]] = {}

    def note(d: int, s: int, text: str) -> None:
        noted = sources.setdefault((d, s), [])
        if text not in noted:
            noted.append(text)

    for entry in constraints.slots:  # targets of the other kind (left out of requirements)
        where = _origin(entry.origin)
        if entry.axis == "" and entry.target in fanouts and entry.target not in levels:
            reasons.append(f"`{entry.target}` is a fanout: its constraints name a mesh "
                           f"axis (`spatial x [...]`){where}")
        elif entry.axis != "" and entry.target in levels and entry.target not in fanouts:
            reasons.append(f"`{entry.target}` is a memory: spatial constraints belong to "
                           f"fanouts{where}")
    found = requirements(problem, arch, constraints)
    orders, conjunctions, order_texts = _orders(arch, constraints, found.orders, reasons)
    for req in found.factors:
        where = _origin(req.entry.origin)
        d, dim = req.dim, problem.dims[req.dim]
        if req.axis == "":
            s = temporal[levels[req.target]]
        else:
            found_slot = spatial.get((fanouts[req.target], req.axis))
            if found_slot is None:  # an axis of extent 1: every factor there is 1 already
                if req.source == "factors" and \
                        ((req.op in ("=", ">=") and req.value > 1) or
                         (req.op == "all" and problem.bounds[d] > 1)):
                    reasons.append(
                        f"`{req.target}` {req.axis} has one instance, but the constraints "
                        f"give `{dim}` a factor of {req.value or problem.bounds[d]} there"
                        f"{where}")
                continue
            s = found_slot
        named = slot_name(arch, slots[s])
        if req.source in ("allow", "idle") and isinstance(req.entry, SlotConstraint):
            forbidden.add((d, s))
            note(d, s, f"{named} allows only [{', '.join(req.entry.allow or ())}]{where}")
        elif req.source == "forbid":
            forbidden.add((d, s))
            note(d, s, f"{named} forbids `{dim}`{where}")
        elif req.source == "order":
            forbidden.add((d, s))
            note(d, s, f"{named} {' and '.join(order_texts[levels[req.target]])} (no `...`: "
                       "only the dims listed have loops there)")
        elif req.rule is not None:
            if req.op == "all":
                rules[d].add((s, "all", 0))
            elif req.value == 1 and req.op in ("=", "<="):
                forbidden.add((d, s))
            elif not (req.op == ">=" and req.value == 1):
                rules[d].add((s, req.op, req.value))
            note(d, s, f"{named} [{req.rule.text}]{where}")
    keep, bypass = _keeps(arch, constraints, found.keeps, reasons)
    for d in range(ndims):
        _check_dim(problem, arch, slots, d, totals[d], rules[d], forbidden, sources, reasons)
    _check_meshes(problem, arch, slots, rules, reasons)
    for level, rules_here in enumerate(conjunctions):
        if rules_here:
            _check_conjunction(problem, arch, temporal[level], rules_here, rules, forbidden,
                               sources, order_texts[level], reasons)
    if reasons:
        raise NoValidMappingError(problem.name, arch.name, tuple(dict.fromkeys(reasons)))
    return Resolved(frozenset(forbidden), tuple(tuple(sorted(r)) for r in rules), orders,
                    keep, bypass, sources, conjunctions)


def _orders(arch: ArchModel, constraints: MapConstraints,
            found: Sequence[OrderRequirement], reasons: list[str]
            ) -> tuple[tuple[OrderRule | None, ...], tuple[tuple[OrderRule, ...], ...],
                       list[list[str]]]:
    """Per level, the merged order rule (dims the problem lacks dropped), the rules when
    no single one states them all (their conjunction), and the orders written there (for
    messages). Orders alone never contradict each other (a level without loops obeys
    every order); whether the loops the factors force there can be ordered is
    `_check_conjunction`'s question."""
    levels = {level.name for level in arch.levels}
    fanouts = {fanout.name for fanout in arch.fanouts}
    for entry in constraints.orders:
        if entry.target not in levels and entry.target in fanouts:
            reasons.append(f"`{entry.target}` is a fanout: a loop order belongs to "
                           f"memories{_origin(entry.origin)}")
    merged: list[OrderRule | None] = [None] * len(arch.levels)
    every: list[list[OrderRule]] = [[] for _ in arch.levels]
    texts: list[list[str]] = [[] for _ in arch.levels]
    for req in found:
        i, rule = req.level, req.rule
        texts[i].append(f"order {req.entry.text}{_origin(req.entry.origin)}")
        every[i].append(rule)
    conjunctions: list[tuple[OrderRule, ...]] = [() for _ in arch.levels]
    for i, rules in enumerate(every):
        for rule in rules:
            current = merged[i]
            combined = rule if current is None else _merge_orders(current, rule)
            if combined is None:  # no single order states them: searched by cases
                merged[i], conjunctions[i] = None, tuple(rules)
                break
            merged[i] = combined
    return tuple(merged), tuple(conjunctions), texts


def _merge_orders(a: OrderRule, b: OrderRule) -> OrderRule | None:
    """Both order rules at once (`merge_orders`); None when they disagree."""
    merged = merge_orders((a.outer, a.inner, a.others), (b.outer, b.inner, b.others))
    return None if merged is None else OrderRule(*merged)


def _check_conjunction(problem: Problem, arch: ArchModel, slot: int,
                       conjunction: tuple[OrderRule, ...], rules: Sequence[set[Rule]],
                       forbidden: set[tuple[int, int]],
                       sources: dict[tuple[int, int], list[str]], written: list[str],
                       reasons: list[str]) -> None:
    """A reason when the dims whose factor rules force a loop at this memory (a fixed or
    least factor above 1, or the whole bound above 1) have no order that obeys all its
    order rules (`arrange`); it names the fewest such dims that conflict. Dims that may
    not have a loop there are left out: that conflict has its own reason."""
    forced = [d for d, dim_rules in enumerate(rules) if (d, slot) not in forbidden and any(
        s == slot and ((op in ("=", ">=") and value > 1) or
                       (op == "all" and problem.bounds[d] > 1))
        for s, op, value in dim_rules)]
    lists = [(rule.outer, rule.inner, rule.others) for rule in conjunction]
    if arrange(lists, forced) is not None:
        return
    # Every subset of an allowed set is allowed: the smallest failing set names the
    # conflict (two dims both outermost, or one both outermost and innermost with others).
    for size in range(1, len(forced) + 1):
        failing = next((c for c in itertools.combinations(forced, size)
                        if arrange(lists, c) is None), None)
        if failing is not None:
            break
    assert failing is not None
    names = " and ".join(f"`{problem.dims[d]}`" for d in failing)
    why = "; ".join(t for d in failing for t in sources.get((d, slot), []))
    level = arch.levels[slot].name
    reasons.append(f"{names} must have loops at `{level}` ({why}), but no order of them "
                   f"obeys {' and '.join(written)} there")


def order_cases(resolved: Resolved, dims: Sequence[str], levels: Sequence[str], *,
                cover: bool) -> list[tuple[Resolved, str]]:
    """A level whose order rules no single rule states (`Resolved.conjunctions`) as
    constraints each single rule states, with a description of each case for messages.
    With `cover`, a few cases whose union is exactly the space the rules allow (they may
    overlap): per level, each largest set of its listed dims that `arrange` allows, the
    others forbidden there, under that set's order (every subset of an allowed set is
    allowed in the same order, so one rule holds for all of them; when the set's order
    leaves no room for other dims, they are forbidden there too). Without `cover`, cases
    that split the space exactly (each mapping in one: for counting): per level, each set
    the rules allow as the exact set of its listed dims with loops there (`>= 2` for each
    in it, `= 1` for the others). Temporal slot i is memory level i (`levels`: their
    names, `dims` the problem's, for the descriptions). Dims the constraints already keep
    from a level are not listed there."""
    ndims = len(dims)
    per_level: list[list[tuple[frozenset[int], Arrangement[int]]]] = []
    ordered: list[int] = []
    for i, conjunction in enumerate(resolved.conjunctions):
        if not conjunction:
            continue
        lists = [(rule.outer, rule.inner, rule.others) for rule in conjunction]
        listed = sorted({d for rule in conjunction for d in rule.listed
                         if (d, i) not in resolved.forbidden})
        allowed = []
        for size in range(len(listed) + 1):
            for present in itertools.combinations(listed, size):
                found = arrange(lists, present)
                if found is not None:
                    allowed.append((frozenset(present), found))
        if cover:  # drop the sets inside another whose case holds them
            allowed = [(a, found) for a, found in allowed if not any(
                a < b and (other[2] or not found[2]) for b, other in allowed)]
        per_level.append(allowed)
        ordered.append(i)
    cases = []
    for combo in itertools.product(*per_level):
        forbidden = set(resolved.forbidden)
        rules = [set(r) for r in resolved.rules] if resolved.rules else \
            [set() for _ in range(ndims)]
        orders = list(resolved.orders) or [None] * len(resolved.conjunctions)
        described = []
        for i, (with_loops, (first, last, others)) in zip(ordered, combo, strict=True):
            named = {d for rule in resolved.conjunctions[i] for d in rule.listed}
            for d in range(ndims):
                if d not in with_loops and (d in named or not others):
                    forbidden.add((d, i))
                elif d in with_loops and not cover:
                    rules[d].add((i, ">=", 2))
            orders[i] = OrderRule(first, last, others)
            order = [*(dims[d] for d in first), *(["..."] if others else []),
                     *(dims[d] for d in last)]
            absent = sorted(named - with_loops)
            described.append(
                f"`{levels[i]}` in order [{', '.join(order)}]"
                + (f" without {' or '.join(f'`{dims[d]}`' for d in absent)} loops"
                   if absent else ""))
        cases.append((Resolved(frozenset(forbidden), tuple(tuple(sorted(r)) for r in rules),
                               tuple(orders), resolved.keep, resolved.bypass,
                               resolved.sources), "; ".join(described)))
    return cases


def _keeps(arch: ArchModel, constraints: MapConstraints, found: Sequence[KeepRequirement],
           reasons: list[str]) -> tuple[tuple[frozenset[str], ...], tuple[frozenset[str], ...]]:
    """Per level, the tensors it must keep and those that must bypass it."""
    levels = {level.name for level in arch.levels}
    fanouts = {fanout.name for fanout in arch.fanouts}
    for entry in constraints.keeps:
        if entry.target not in levels and entry.target in fanouts:
            reasons.append(f"`{entry.target}` is a fanout: keep and bypass belong to "
                           f"memories{_origin(entry.origin)}")
    keep: list[set[str]] = [set() for _ in arch.levels]
    bypass: list[set[str]] = [set() for _ in arch.levels]
    for req in found:
        where = _origin(req.entry.origin)
        level = arch.levels[req.level]
        if req.kind == "keep":
            if req.role not in level.holds:
                reasons.append(f"`{level.name}` must keep `{req.tensor}`{where}, but it "
                               f"holds only {', '.join(level.holds)}")
            keep[req.level].add(req.tensor)
        else:
            if req.level == 0:
                reasons.append(f"`{req.tensor}` must bypass `{level.name}`{where}, but the "
                               "outermost memory is the backing store: it keeps every tensor")
            bypass[req.level].add(req.tensor)
    for i, level in enumerate(arch.levels):
        for name in sorted(keep[i] & bypass[i]):
            reasons.append(f"`{name}` must be both kept at `{level.name}` and bypass it")
    return tuple(frozenset(k) for k in keep), tuple(frozenset(b) for b in bypass)


def _check_dim(problem: Problem, arch: ArchModel, slots: Sequence[SlotLike], d: int,
               totals: tuple[int, ...], rules: set[Rule], forbidden: set[tuple[int, int]],
               sources: dict[tuple[int, int], list[str]], reasons: list[str]) -> None:
    """Contradictions between one dim's rules that the bounds alone show (`totals`: what
    the dim's factors may multiply to: its bound, and padded bounds with imperfect
    factors)."""
    dim, bound = problem.dims[d], problem.bounds[d]
    by_slot: dict[int, list[Rule]] = {}
    for rule in rules:
        by_slot.setdefault(rule[0], []).append(rule)
    whole = [s for s, op, _ in rules if op == "all"]
    for s, slot_rules in sorted(by_slot.items()):
        named = slot_name(arch, slots[s])
        written = "; ".join(sources.get((d, s), []))
        fixed = {value for _, op, value in slot_rules if op == "="}
        low = max((value for _, op, value in slot_rules if op == ">="), default=1)
        high = min((value for _, op, value in slot_rules if op == "<="), default=math.inf)
        whole_here = any(op == "all" for _, op, _ in slot_rules) and bound > 1
        if (d, s) in forbidden and (whole_here or max(fixed, default=1) > 1 or low > 1):
            reasons.append(f"`{dim}` may not have a loop at {named}, yet its factor there must "
                           f"be above 1: {written}")
        elif len(fixed) > 1:
            reasons.append(f"`{dim}` gets two different factors at {named}: {written}")
        elif any(not low <= value <= high for value in fixed) or low > high:
            reasons.append(f"the bounds on `{dim}`'s factor at {named} leave no value: "
                           f"{written}")
    if len(whole) > 1 and bound > 1:
        texts = "; ".join(t for s in whole for t in sources.get((d, s), []))
        reasons.append(f"`{dim}` cannot have its whole bound {bound} in two places: {texts}")
    fixed_total = math.prod(value for _, op, value in rules if op == "=")
    if fixed_total > 1 and all(total % fixed_total for total in totals) and \
            not any(op == "all" for _, op, _ in rules):
        texts = "; ".join(t for (dd, s), ts in sorted(sources.items()) if dd == d
                          for t in ts if any(r[0] == s and r[1] == "=" for r in rules))
        reasons.append(f"the factors fixed for `{dim}` multiply to {fixed_total}, which does "
                       f"not divide its bound {bound}: {texts}")


def _check_meshes(problem: Problem, arch: ArchModel, slots: Sequence[SlotLike],
                  rules: Sequence[set[Rule]], reasons: list[str]) -> None:
    """Fixed (or least) spatial factors that need more instances than a mesh axis has."""
    for s, slot in enumerate(slots):
        if slot.fanout < 0:
            continue
        needed = []
        for d, dim_rules in enumerate(rules):
            least = max((value if op != "all" else problem.bounds[d]
                         for ss, op, value in dim_rules if ss == s and op != "<="), default=1)
            if least > 1:
                needed.append((problem.dims[d], least))
        product = math.prod(value for _, value in needed)
        if product > slot.extent:
            detail = " x ".join(f"{dim} {value}" for dim, value in needed)
            reasons.append(f"the spatial factors fixed at {slot_name(arch, slot)} need "
                           f"{product} instances ({detail}), the mesh has {slot.extent} there")


def describe_rules(resolved: Resolved, d: int) -> str:
    """A dim's constraints as written, for the reason when none of its splits satisfies
    them."""
    texts = [t for (dd, _), ts in sorted(resolved.sources.items()) if dd == d for t in ts]
    return "; ".join(dict.fromkeys(texts))


def forced_keep_overflow(problem: Problem, arch: ArchModel, resolved: Resolved,
                         least_extents: Sequence[Sequence[int]]) -> list[str]:
    """Levels whose forced keeps cannot fit even with the smallest tiles the constraints
    allow. `least_extents[i][d]`: the least span of dim d in level i's tile over the dim's
    allowed splits."""
    reasons = []
    for i, level in enumerate(arch.levels):
        names = resolved.keep[i] if resolved.keep else frozenset()
        if level.size_words is None or not names:
            continue
        extents = tuple(least_extents[i])
        words = {t.name: tile_words(t, extents) for t in problem.tensors if t.name in names}
        needed = sum(words.values()) * level.buffering
        if needed > level.size_words:
            detail = ", ".join(f"{name} {count}" for name, count in words.items())
            reasons.append(
                f"`{level.name}` must keep {', '.join(f'`{n}`' for n in sorted(names))}, but "
                f"their smallest tiles under the constraints need {needed} words ({detail}"
                f"{f' x{level.buffering} buffering' if level.buffering > 1 else ''}), it "
                f"holds {level.size_words}")
    return reasons
