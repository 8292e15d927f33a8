"""Map-space constraints in a problem's terms, and whether a mapping obeys them.

In: `MapConstraints` (dslc.spec.constraints, as written), the `Problem` and the resolved
accelerator (`ArchModel`). Out: `requirements`, every constraint as what it requires of one
dim at one slot (a memory's temporal loops or one mesh axis of a fanout), of one memory's
loop order, or of one tensor at one memory, each with the entry it was written in; and the
predicates that decide whether a factor, a level's loop order or a keep set obeys one
(`factor_holds`, `order_checks`, `keep_holds`). These are the one copy of the rules: the
mapper's map space (dslc.mapper.constraints resolves the requirements into its slots and
dslc.mapper.space filters and checks candidates with the predicates) and the check of a
written mapping (`mapping_violations`, turned into E612 diagnostics by dslc.sema.mapping)
both use them.

A requirement says nothing about what the problem or the accelerator lacks: a dim or tensor
the problem does not have, a level the accelerator does not have or of the other kind.
Whether the constraints contradict each other is the mapper's business (it raises
`NoValidMappingError`); a mapping is simply checked against each requirement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from dslc.arch import ArchModel
from dslc.lower.problem import Problem
from dslc.mapping.mapping import Mapping
from dslc.spec.constraints import (
    FactorRule,
    KeepConstraint,
    MapConstraints,
    OrderConstraint,
    SlotConstraint,
)

RuleOp = Literal["=", "<=", ">=", "all"]
"""How a rule bounds a factor: exactly, at most, at least, or the dim's whole total."""
NoLoop = Literal["factors", "forbid", "allow", "idle", "order"]
"""The directive a factor requirement comes from (all but `factors` forbid a loop)."""


@dataclass(frozen=True, slots=True)
class OrderRule:
    """A memory's loop-order rule in dim indices: `outer` first, `inner` last (each in
    order, only their loops of factor > 1 count), other dims between when `others`."""

    outer: tuple[int, ...]
    inner: tuple[int, ...]
    others: bool

    @property
    def listed(self) -> frozenset[int]:
        return frozenset((*self.outer, *self.inner))


@dataclass(frozen=True, slots=True)
class FactorRequirement:
    """The factor of dim `dim` in one slot (`target`'s temporal loops, or its mesh `axis`)
    obeys (`op`, `value`) (`all`: value 0, the dim's whole total). A directive that
    forbids a loop (`forbid`, `allow`, `idle`, an order without `...`) is `= 1`."""

    target: str
    axis: str
    dim: int
    op: RuleOp
    value: int
    source: NoLoop
    entry: SlotConstraint | OrderConstraint
    rule: FactorRule | None = None
    """The factor rule as written (`source` "factors")."""


@dataclass(frozen=True, slots=True)
class OrderRequirement:
    """Memory `target`'s loop order obeys `rule`."""

    target: str
    level: int
    rule: OrderRule
    entry: OrderConstraint


@dataclass(frozen=True, slots=True)
class KeepRequirement:
    """Memory `target` keeps tensor `tensor` (`keep`) or does not (`bypass`); `written`: the
    name or role the constraint wrote."""

    target: str
    level: int
    tensor: str
    kind: Literal["keep", "bypass"]
    written: str
    entry: KeepConstraint
    role: str = ""
    """The tensor's role."""


@dataclass(frozen=True, slots=True)
class Requirements:
    """Every constraint in a problem's terms (see the module doc)."""

    factors: tuple[FactorRequirement, ...] = ()
    orders: tuple[OrderRequirement, ...] = ()
    keeps: tuple[KeepRequirement, ...] = ()


def requirements(problem: Problem, arch: ArchModel, constraints: MapConstraints
                 ) -> Requirements:
    """What the constraints require of this problem on this accelerator (entries whose
    target the accelerator lacks, or has as the other kind of level, are left out)."""
    levels = {level.name: level.index for level in arch.levels}
    fanouts = {fanout.name for fanout in arch.fanouts}
    factors: list[FactorRequirement] = []
    for entry in constraints.slots:
        if (entry.axis == "" and entry.target not in levels) or \
                (entry.axis != "" and entry.target not in fanouts):
            continue
        if entry.allow is not None:
            source: NoLoop = "allow" if entry.allow else "idle"
            factors += [FactorRequirement(entry.target, entry.axis, d, "=", 1, source, entry)
                        for d, dim in enumerate(problem.dims) if dim not in entry.allow]
        for dim in entry.forbid:
            if dim in problem.dims:
                factors.append(FactorRequirement(entry.target, entry.axis,
                                                 problem.dims.index(dim), "=", 1, "forbid",
                                                 entry))
        for rule in entry.factors:
            if rule.dim not in problem.dims:
                continue
            op: RuleOp = "all" if rule.value is None else rule.op
            factors.append(FactorRequirement(entry.target, entry.axis,
                                             problem.dims.index(rule.dim), op,
                                             rule.value or 0, "factors", entry, rule))
    orders: list[OrderRequirement] = []
    for order in constraints.orders:
        if order.target not in levels:
            continue
        ordered = OrderRule(
            tuple(problem.dims.index(n) for n in order.outer if n in problem.dims),
            tuple(problem.dims.index(n) for n in order.inner if n in problem.dims),
            order.others)
        orders.append(OrderRequirement(order.target, levels[order.target], ordered, order))
        if not order.others:  # without `...`, only the listed dims have loops there
            factors += [FactorRequirement(order.target, "", d, "=", 1, "order", order)
                        for d in range(len(problem.dims)) if d not in ordered.listed]
    keeps: list[KeepRequirement] = []
    for keep in constraints.keeps:
        if keep.target not in levels:
            continue
        for kind, names in (("keep", keep.keep), ("bypass", keep.bypass)):
            for name in names:
                keeps += [KeepRequirement(keep.target, levels[keep.target], tensor.name,
                                          "keep" if kind == "keep" else "bypass", name, keep,
                                          tensor.role)
                          for tensor in problem.tensors if name in (tensor.name, tensor.role)]
    return Requirements(tuple(factors), tuple(orders), tuple(keeps))


# ---- the predicates -----------------------------------------------------------------------


Name = TypeVar("Name", int, str)
"""A dim in an order: its index (the mapper) or its name (dslc.sema)."""
OrderLists = tuple[tuple[Name, ...], tuple[Name, ...], bool]
"""An order as (outer, inner, others): `OrderRule`'s fields, or `OrderConstraint`'s."""


def merge_orders(a: OrderLists[Name], b: OrderLists[Name]) -> OrderLists[Name] | None:
    """One order that holds exactly when both do (on the loops of factor > 1), or None
    when no single order does (the two disagree). One's outer dims must extend the
    other's (and likewise the inner ones, from the innermost), and no dim may be both
    outer and inner unless one order is closed (no `...`): its dims, in its order, are
    then the only loops, and the other's outer dims among them must start it and its
    inner dims among them end it (`order [K, C]` and `order [..., C]` are `order [K, C]`;
    `[K, ...]` and `[..., K]` allow K only as the level's one loop: no single order).
    The mapper searches merged orders as one rule; orders with no single merge still hold
    together on some sets of loops (`arrange`), and it searches those by cases."""
    def extends(x: tuple[Name, ...], y: tuple[Name, ...], *,
                from_end: bool) -> tuple[Name, ...] | None:
        short, long = (x, y) if len(x) <= len(y) else (y, x)
        part = long[len(long) - len(short):] if from_end else long[:len(short)]
        return long if part == short else None
    outer = extends(a[0], b[0], from_end=False)
    inner = extends(a[1], b[1], from_end=True)
    if outer is None or inner is None:
        return None
    if not set(outer) & set(inner):
        return outer, inner, a[2] and b[2]
    closed: list[OrderLists[Name]] = [rule for rule in (a, b) if not rule[2]]
    if not closed:  # `[K, ...]` and `[..., K]`: K alone, or no K loop: no single order
        return None
    sequence = closed[0][0] + closed[0][1]
    first = tuple(d for d in outer if d in sequence)
    last = tuple(d for d in inner if d in sequence)
    if sequence[:len(first)] == first and sequence[len(sequence) - len(last):] == last:
        return sequence, (), False
    return None


Arrangement = tuple[tuple[Name, ...], tuple[Name, ...], bool]
"""Where order rules put a level's loops: (first, last, others) as `arrange` returns it."""


def arrange(rules: Sequence[OrderLists[Name]], present: Collection[Name]
            ) -> Arrangement[Name] | None:
    """Where every rule at once puts the loops of `present` (the dims with a loop of
    factor > 1 at the level), or None when no order of them obeys all the rules. A rule
    holds when its outer dims among `present` start the order, in its order, and its inner
    dims among them end it (`order_checks`); a closed rule (no `...`) also holds only when
    every present dim is one it lists. Returns (first, last, others): the present dims'
    order starts with `first` and ends with `last`, the present dims no rule lists go
    between in any order, and `others` says whether there may be any (False when `first`
    already ends with what `last` needs: a dim both outermost and innermost is the level's
    one loop). Each outer list among `present` must then extend the others (and each inner
    one, from its end), so `[K, ...]` and `[C, ...]` hold for K or C alone, not both, and
    `[K, ...]` and `[..., K]` for K only as the level's one loop. Every subset of a set the
    rules allow is allowed too, in the same relative order (restricting an order to fewer
    dims keeps prefixes prefixes), so a set of loops is possible exactly when the loops
    that must be there are. dslc.sema (E610) and the mapper decide with this."""
    chosen = set(present)

    def chain(lists: list[tuple[Name, ...]], *, from_end: bool) -> tuple[Name, ...] | None:
        longest: tuple[Name, ...] = ()
        for found in lists:
            short, long = (found, longest) if len(found) <= len(longest) else (longest, found)
            part = long[len(long) - len(short):] if from_end else long[:len(short)]
            if part != short:
                return None
            longest = long
        return longest

    outers: list[tuple[Name, ...]] = []
    inners: list[tuple[Name, ...]] = []
    for outer, inner, others in rules:
        if not others and not chosen <= set(outer) | set(inner):
            return None  # a closed rule: only the dims it lists have loops
        outers.append(tuple(d for d in outer if d in chosen))
        inners.append(tuple(d for d in inner if d in chosen))
    first = chain(outers, from_end=False)
    last = chain(inners, from_end=True)
    if first is None or last is None:
        return None
    if not set(first) & set(last):
        return first, last, True
    # A dim both first and last: the two overlap, and together are the whole order.
    overlap = len(first) + len(last) - len(chosen)
    whole = first + last[overlap:]
    if overlap < 1 or first[len(first) - overlap:] != last[:overlap] or \
            len(set(whole)) != len(whole) or set(whole) != chosen:
        return None
    return whole, (), False


def factor_holds(op: RuleOp, value: int, factor: Any, total: Any) -> Any:
    """Whether a factor obeys a rule (`total`: what the dim's factors multiply to, for
    `all`). Ints give a bool; numpy arrays give a bool array, elementwise."""
    if op == "=":
        return factor == value
    if op == "<=":
        return factor <= value
    if op == ">=":
        return factor >= value
    return factor == total


def order_checks(rule: OrderRule, rank: Any, real: Any) -> Iterator[tuple[int, Any]]:
    """For each dim the rule lists, whether its loop is where the rule puts it: `outer`
    dims first in their order, `inner` dims last in theirs (a dim without a loop is where
    it should be). `rank[d]`: the rank of dim d's loop among the level's loops of factor
    > 1, outer to inner, from 1 (0: no loop); `real`: how many such loops the level has.
    Numpy arrays (a batch, elementwise) or ints."""
    expected = 0 * real
    for d in rule.outer:
        present = rank[d] > 0
        expected = expected + present
        yield d, (rank[d] == 0) | (rank[d] == expected)
    expected = 0 * real
    for d in reversed(rule.inner):
        present = rank[d] > 0
        yield d, (rank[d] == 0) | (rank[d] == real - expected)
        expected = expected + present


def keep_holds(requirement: KeepRequirement, kept: frozenset[str]) -> bool:
    """Whether a memory keeping `kept` (tensor names) obeys a keep or bypass requirement."""
    return (requirement.tensor in kept) == (requirement.kind == "keep")


# ---- a written mapping --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One constraint a mapping breaks: the level (memory or fanout) and axis, the dim or
    tensor, what the mapping has there, and the requirement it breaks."""

    level: str
    axis: str
    dim: str
    tensor: str
    message: str
    hint: str
    requirement: FactorRequirement | OrderRequirement | KeepRequirement


def written_as(requirement: FactorRequirement | OrderRequirement | KeepRequirement) -> str:
    """The directive a requirement comes from, as written (`factors [K 4]`, `idle y`)."""
    if isinstance(requirement, OrderRequirement):
        return f"order {requirement.entry.text}"
    if isinstance(requirement, KeepRequirement):
        return f"{requirement.kind} [{requirement.written}]"
    entry, axis = requirement.entry, requirement.axis
    if isinstance(entry, OrderConstraint):
        return f"order {entry.text}"
    on = f" {axis}" if axis else ""
    if requirement.source == "factors" and requirement.rule is not None:
        return f"{'spatial' if axis else 'factors'}{on} [{requirement.rule.text}]"
    if requirement.source == "idle":
        return f"idle {axis}"
    if requirement.source == "allow":
        return f"allow{on} [{', '.join(entry.allow or ())}]"
    return f"forbid{on} [{', '.join(entry.forbid)}]"


def _where(target: str, axis: str) -> str:
    return f"`{target}` {axis.upper()}" if axis else f"`{target}`"


def mapping_violations(mapping: Mapping, problem: Problem, arch: ArchModel,
                       constraints: MapConstraints) -> tuple[Violation, ...]:
    """Every requirement of `constraints` the mapping breaks, in the order written (empty
    when it obeys them all). Only loops of factor > 1 count."""
    if constraints.empty:
        return ()
    found = requirements(problem, arch, constraints)
    ndims = len(problem.dims)
    totals = mapping.factor_products(ndims)
    factors: dict[tuple[str, str], list[int]] = {}
    for level in mapping.levels:
        temporal = factors.setdefault((level.name, ""), [1] * ndims)
        for loop in level.temporal:
            temporal[loop.dim] *= loop.factor
        for spatial in level.spatial:
            factors.setdefault((spatial.fanout, spatial.axis), [1] * ndims)[spatial.dim] *= \
                spatial.factor
    violations: list[Violation] = []
    for req in found.factors:
        factor = factors.get((req.target, req.axis), [1] * ndims)[req.dim]
        if factor_holds(req.op, req.value, factor, totals[req.dim]):
            continue
        dim, where = problem.dims[req.dim], _where(req.target, req.axis)
        written = f"`{written_as(req)}`"
        origin = f" of {req.entry.origin}" if req.entry.origin else ""
        has = f"`{dim}` has a factor of {factor} at {where}"
        if req.source != "factors" or (req.op in ("=", "<=") and req.value == 1):
            message = f"`{dim}` has a loop at {where} (factor {factor}), but {written}" \
                f"{origin} allows no `{dim}` loop there"
            hint = f"move the `{dim}` loop to another level, or change the constraint"
        elif req.op == "all":
            message = f"{has}, but {written}{origin} puts all of `{dim}` " \
                f"({totals[req.dim]}) there"
            hint = f"give `{dim}` a factor of {totals[req.dim]} at {where} and 1 elsewhere"
        else:
            bound = {"=": "exactly", "<=": "at most", ">=": "at least"}[req.op]
            message = f"{has}, but {written}{origin} makes it {bound} {req.value}"
            hint = f"give `{dim}` a factor of {bound} {req.value} at {where}" \
                if req.op != "=" else f"give `{dim}` a factor of {req.value} at {where}"
        violations.append(Violation(req.target, req.axis, dim, "", message, hint, req))
    for order in found.orders:
        level = mapping.level(order.target)
        real = [loop.dim for loop in level.temporal if loop.factor > 1]
        rank = [0] * ndims
        for position, d in enumerate(real):
            if not rank[d]:
                rank[d] = position + 1
        for d, holds in order_checks(order.rule, rank, len(real)):
            if holds:
                continue
            dim = problem.dims[d]
            loops = ", ".join(problem.dims[x] for x in real)
            origin = f" of {order.entry.origin}" if order.entry.origin else ""
            violations.append(Violation(
                order.target, "", dim, "",
                f"the loops at `{order.target}` run [{loops}] (outer to inner), but "
                f"`{written_as(order)}`{origin} puts `{dim}` "
                f"{_place(order.rule, d, problem.dims)}",
                f"reorder the temporal loops at `{order.target}`: `{dim}` "
                f"{_place(order.rule, d, problem.dims)}",
                order))
            break
    for keep in found.keeps:
        if keep_holds(keep, mapping.level(keep.target).keep):
            continue
        origin = f" of {keep.entry.origin}" if keep.entry.origin else ""
        if keep.kind == "keep":
            message = f"`{keep.target}` does not keep `{keep.tensor}`, but " \
                f"`{written_as(keep)}`{origin} makes it keep it"
            hint = f"add `{keep.tensor}` to the `keep` list of `{keep.target}`"
        else:
            message = f"`{keep.target}` keeps `{keep.tensor}`, but `{written_as(keep)}`" \
                f"{origin} makes it bypass `{keep.target}`"
            hint = f"add `bypass [{keep.tensor}]` to `{keep.target}`, or leave " \
                f"`{keep.tensor}` out of its `keep` list"
        violations.append(Violation(keep.target, "", "", keep.tensor, message, hint, keep))
    return tuple(violations)


def _place(rule: OrderRule, d: int, dims: tuple[str, ...]) -> str:
    """Where an order rule puts dim d, in words."""
    if d in rule.outer:
        before = rule.outer[:rule.outer.index(d)]
        if not before:
            return "outermost"
        return f"right after {', '.join(f'`{dims[x]}`' for x in before)} (outermost first)"
    after = rule.inner[rule.inner.index(d) + 1:]
    if not after:
        return "innermost"
    return f"right before {', '.join(f'`{dims[x]}`' for x in after)} (innermost last)"

