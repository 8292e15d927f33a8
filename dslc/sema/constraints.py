"""Elaboration of `constraints` blocks into `MapConstraints` (dslc.spec.constraints).

A block lists targets, each a memory or a fanout with its directives:

    constraints {
        GLB { factors [K 4, C <= 8], forbid [R, S], order [K, ...], keep [input] }
        PE  { spatial x [Q 14], idle y }
    }

`read_constraints` checks what the block says on its own (E609: unknown or repeated
targets, directives at the wrong kind of level, bad factors, names listed twice, an order
with two `...`) and builds the spec; `Spans` remembers where each entry was written.
`check_constraints` checks the constraints against a concrete accelerator, together with
constraints already in force there (a request's on top of the accelerator's own): E610 for
constraints that leave no mapping (two fixed factors of one dim, a fixed factor where the
dim may not have a loop, bounds with no value between them, fixed spatial factors beyond
the mesh or outside an explicit dataflow, a tensor both kept and bypassed, forced keeps
that cannot fit a word each, loops forced by fixed factors that no order obeying every
order written there can hold) and E611 for keeps and bypasses the
accelerator cannot do (a keep of a role the memory does not hold, a bypass of the backing
store). What needs a layer's bounds is checked when the layer is mapped
(dslc.mapper.constraints). `unknown_names` finds dims and tensors no layer of the given
problems has (W601). `constraints_from_text` reads a block's body given as text (`dslc map
--constraints`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    Label,
    did_you_mean,
    error,
    sorted_diagnostics,
    warning,
)
from dslc.diagnostics.span import SourceFile, Span
from dslc.mapping.constraints import arrange
from dslc.sema.evaluate import EvalContext, EvalError, Scope, Sym, as_int, evaluate, fail
from dslc.spec.accelerator import AcceleratorSpec, FanoutSpec, MemorySpec
from dslc.spec.constraints import (
    NO_CONSTRAINTS,
    FactorRule,
    KeepConstraint,
    MapConstraints,
    OrderConstraint,
    SlotConstraint,
)
from dslc.syntax import ast
from dslc.syntax.parser import parse_constraints

CONSTRAINT_DIRECTIVES = {
    "factors": "memory: fixed or bounded temporal factors, e.g. `factors [K 4, C <= 8, R all]` "
               "(`all`: the dim's whole bound; a factor of 1 forbids a loop)",
    "spatial": "fanout: fixed or bounded spatial factors on one mesh axis, e.g. "
               "`spatial x [C 14]`",
    "allow": "the only dims that may have loops here, e.g. `allow [K, C]`; at a fanout "
             "`allow x [...]` for one axis (no axis: both)",
    "forbid": "dims that may not have loops here, e.g. `forbid [R, S]`; at a fanout "
              "`forbid y [...]` for one axis (no axis: both)",
    "order": "memory: its loop order, outer to inner, `...` standing for the dims not listed: "
             "`order [K, ...]` (K outermost), `order [..., R, S]` (S innermost); without "
             "`...` only the listed dims have loops there",
    "idle": "fanout: a mesh axis that stays idle (every spatial factor 1), e.g. `idle y`",
    "keep": "memory: tensors (names or roles) it must keep, e.g. `keep [input]`",
    "bypass": "memory: tensors (names or roles) that must bypass it, e.g. `bypass [weight]`",
}
"""Each directive of a constraint target, for the language reference."""
MEMORY_DIRECTIVES = frozenset({"factors", "allow", "forbid", "order", "keep", "bypass"})
FANOUT_DIRECTIVES = frozenset({"spatial", "allow", "forbid", "idle"})
ROLE_NAMES = ("input", "weight", "output")


@dataclass(slots=True)
class Spans:
    """Where each entry of a constraints block was written (for later checks' spans)."""

    targets: dict[str, Span] = field(default_factory=dict)
    rules: dict[tuple[str, str, str], Span] = field(default_factory=dict)
    """(target, axis, dim) -> the factor rule."""
    dims: dict[tuple[str, str, str], Span] = field(default_factory=dict)
    """(target, axis, dim) -> where the dim may not have a loop (forbid, allow, idle)."""
    orders: dict[str, Span] = field(default_factory=dict)
    tensors: dict[tuple[str, str, str], Span] = field(default_factory=dict)
    """(target, keep or bypass, tensor) -> the name."""
    names: list[tuple[str, Span]] = field(default_factory=list)
    """Every dim named, with its span (for W601)."""
    tensor_names: list[tuple[str, Span]] = field(default_factory=list)
    """Every tensor named in keep or bypass (for W601)."""


def components_of(decl: ast.AcceleratorDecl) -> dict[str, str]:
    """An accelerator declaration's memories and fanouts by name: `memory` or `fanout`."""
    return {node.name.text: node.kind for node in decl.body
            if isinstance(node, ast.Component) and node.kind in ("memory", "fanout")}


def read_constraints(targets: Sequence[ast.ConstraintTarget], scope: Scope, origin: str,
                     components: Mapping[str, frozenset[str]], where: str,
                     sink: list[Diagnostic]) -> tuple[MapConstraints, Spans]:
    """The constraints a block writes (see the module doc). `components`: the levels that
    may be named, each with its kinds (`memory`, `fanout`; a request may search
    accelerators that disagree); `where` names them in messages ("accelerator `acc`")."""
    spans = Spans()
    slots: list[SlotConstraint] = []
    orders: list[OrderConstraint] = []
    keeps: list[KeepConstraint] = []
    for target in targets:
        name = target.target.text
        if name in spans.targets:
            sink.append(error("E609", f"level `{name}` is constrained twice", target.target.span,
                              related=(Label(spans.targets[name], "first constrained here"),),
                              help="put all of its constraints in one block"))
            continue
        kinds = components.get(name)
        if kinds is None:
            sink.append(error("E609", f"{where} has no level `{name}`", target.target.span,
                              help=did_you_mean(name, components) or
                              "levels: " + ", ".join(components)))
            continue
        spans.targets[name] = target.target.span
        try:
            entry = _Target(name, kinds, scope, origin, spans)
            for directive in target.directives:
                entry.add(directive)
        except EvalError as exc:
            sink.append(exc.diagnostic)
            continue
        slots.extend(entry.slot_constraints())
        if entry.order is not None:
            orders.append(entry.order)
        if entry.keep or entry.bypass:
            keeps.append(KeepConstraint(target=name, keep=tuple(entry.keep),
                                        bypass=tuple(entry.bypass), origin=origin))
    return MapConstraints(slots=tuple(slots), orders=tuple(orders), keeps=tuple(keeps)), spans


class _Target:
    """One target's directives, read into spec entries."""

    def __init__(self, name: str, kinds: frozenset[str], scope: Scope, origin: str,
                 spans: Spans) -> None:
        self.name = name
        self.kinds = kinds
        self.scope = scope
        self.origin = origin
        self.spans = spans
        self.seen: dict[tuple[str, str], Span] = {}
        self.factors: dict[str, list[FactorRule]] = {"": [], "x": [], "y": []}
        self.allow: dict[str, tuple[str, ...] | None] = {"": None, "x": None, "y": None}
        self.forbid: dict[str, list[str]] = {"": [], "x": [], "y": []}
        self.order: OrderConstraint | None = None
        self.keep: list[str] = []
        self.bypass: list[str] = []

    def kind_text(self) -> str:
        return " and ".join(sorted(self.kinds))

    def add(self, directive: ast.ConstraintDirective) -> None:
        kind = directive.kind
        allowed = (MEMORY_DIRECTIVES if "memory" in self.kinds else frozenset()) | \
            (FANOUT_DIRECTIVES if "fanout" in self.kinds else frozenset())
        if kind not in allowed:
            if kind in ("spatial", "idle"):
                hint = "spatial factors and idle axes belong to fanouts"
            else:
                hint = f"{kind} belongs to memories; a fanout takes `spatial`, `allow`, " \
                    "`forbid` and `idle`"
            raise fail("E609", f"`{self.name}` is a {self.kind_text()}: it takes no `{kind}`",
                       directive.span, help=hint)
        axis = self._axis(directive)
        key = (kind, axis)
        if key in self.seen:
            raise EvalError(error(
                "E609", f"`{kind}{' ' + axis if axis else ''}` is given twice for `{self.name}`",
                directive.span, related=(Label(self.seen[key], "first given here"),),
                help="give each directive once per level"))
        self.seen[key] = directive.span
        if kind in ("factors", "spatial"):
            self.factors[axis].extend(self._rules(directive, axis))
        elif kind in ("allow", "forbid", "idle"):
            dims = self._names(directive, "dim")
            for axis_name in (("x", "y") if axis == "" and "memory" not in self.kinds
                              else (axis,)):
                for dim, span in dims:
                    if kind == "forbid" or kind == "idle":
                        self.spans.dims.setdefault((self.name, axis_name, dim), span)
                if kind == "allow":
                    self.allow[axis_name] = tuple(dim for dim, _ in dims)
                    self.spans.dims.setdefault((self.name, axis_name, "*allow"), directive.span)
                elif kind == "idle":
                    self.allow[axis_name] = ()
                    self.spans.dims.setdefault((self.name, axis_name, "*allow"), directive.span)
                else:
                    self.forbid[axis_name].extend(dim for dim, _ in dims)
        elif kind == "order":
            self.order = self._order(directive)
        else:
            names = self._names(directive, "tensor")
            (self.keep if kind == "keep" else self.bypass).extend(n for n, _ in names)
            for tensor, span in names:
                self.spans.tensors[(self.name, kind, tensor)] = span
                self.spans.tensor_names.append((tensor, span))

    def _axis(self, directive: ast.ConstraintDirective) -> str:
        if directive.axis is None:
            if directive.kind == "spatial":  # the grammar requires an axis; kept for safety
                raise fail("E609", "spatial factors name a mesh axis", directive.span)
            return ""
        axis = directive.axis.text.lower()
        if axis not in ("x", "y"):
            raise fail("E609", f"unknown mesh axis `{directive.axis.text}`",
                       directive.axis.span, help="axes are `x` and `y`")
        if "fanout" not in self.kinds:
            raise fail("E609", f"`{self.name}` is a memory: it has no mesh axis",
                       directive.axis.span, help=f"write `{directive.kind} [...]`")
        return axis

    def _rules(self, directive: ast.ConstraintDirective, axis: str) -> list[FactorRule]:
        rules = []
        seen: dict[str, Span] = {}
        for bound in directive.rules:
            dim = bound.dim.text
            if dim in seen:
                raise EvalError(error("E609", f"`{dim}` is listed twice", bound.span,
                                      related=(Label(seen[dim], "first listed here"),),
                                      help="give each dim one factor (or one bound)"))
            seen[dim] = bound.span
            value = evaluate(bound.value, self.scope, EvalContext())
            if isinstance(value, Sym) and value.name == "all":
                if bound.op != "=":
                    raise fail("E609", f"`all` is a factor, not a bound: write `{dim} all`",
                               bound.span)
                rule = FactorRule(dim=dim, op="=", value=None)
            else:
                factor = as_int(value, bound.value.span, f"the factor of `{dim}`", minimum=1)
                rule = FactorRule(dim=dim, op=_op(bound.op), value=factor)
            rules.append(rule)
            self.spans.rules.setdefault((self.name, axis, dim), bound.span)
            self.spans.names.append((dim, bound.dim.span))
        return rules

    def _names(self, directive: ast.ConstraintDirective, what: str) -> list[tuple[str, Span]]:
        found: list[tuple[str, Span]] = []
        seen: dict[str, Span] = {}
        for ident in directive.names:  # `...` is an order's only (the grammar says so)
            if ident.text in seen:
                raise EvalError(error("E609", f"`{ident.text}` is listed twice", ident.span,
                                      related=(Label(seen[ident.text], "first listed here"),)))
            seen[ident.text] = ident.span
            found.append((ident.text, ident.span))
            if what == "dim":
                self.spans.names.append((ident.text, ident.span))
        return found

    def _order(self, directive: ast.ConstraintDirective) -> OrderConstraint:
        outer: list[str] = []
        inner: list[str] = []
        ellipsis: Span | None = None
        seen: dict[str, Span] = {}
        for ident in directive.names:
            if ident.text == "...":
                if ellipsis is not None:
                    raise EvalError(error("E609", "an order has at most one `...`", ident.span,
                                          related=(Label(ellipsis, "first `...` here"),),
                                          help="`...` stands for every dim not listed"))
                ellipsis = ident.span
                continue
            if ident.text in seen:
                raise EvalError(error("E609", f"`{ident.text}` is listed twice", ident.span,
                                      related=(Label(seen[ident.text], "first listed here"),)))
            seen[ident.text] = ident.span
            (inner if ellipsis is not None else outer).append(ident.text)
            self.spans.names.append((ident.text, ident.span))
        if not seen:
            raise fail("E609", "an order lists at least one dim", directive.span,
                       help="e.g. `order [K, ...]`")
        self.spans.orders[self.name] = directive.span
        return OrderConstraint(target=self.name, outer=tuple(outer), inner=tuple(inner),
                               others=ellipsis is not None, origin=self.origin)

    def slot_constraints(self) -> list[SlotConstraint]:
        found = []
        for axis in ("", "x", "y"):
            if axis == "" and "memory" not in self.kinds:
                continue
            if axis and "fanout" not in self.kinds:
                continue
            if self.factors[axis] or self.allow[axis] is not None or self.forbid[axis]:
                found.append(SlotConstraint(
                    target=self.name, axis=axis, factors=tuple(self.factors[axis]),
                    allow=self.allow[axis], forbid=tuple(dict.fromkeys(self.forbid[axis])),
                    origin=self.origin))
        return found


def _op(text: str) -> str:
    return text if text in ("<=", ">=") else "="


# ---- checks against an accelerator --------------------------------------------------------


def check_constraints(own: MapConstraints, spans: Spans,
                      hierarchy: Sequence[MemorySpec | FanoutSpec], sink: list[Diagnostic],
                      *, context: MapConstraints = NO_CONSTRAINTS, where: str = "") -> None:
    """Check `own` (written where `spans` says) on an accelerator with this hierarchy,
    together with `context` (constraints already in force there: the accelerator's own
    when `own` is a request's). Only levels the accelerator has are checked; each problem
    is reported once, at `own`'s span. `where` says which accelerator, for a request."""
    checker = _Checker(own, spans, hierarchy, sink, context, where)
    checker.slots()
    checker.keeps()
    checker.orders()


class _Checker:
    def __init__(self, own: MapConstraints, spans: Spans,
                 hierarchy: Sequence[MemorySpec | FanoutSpec], sink: list[Diagnostic],
                 context: MapConstraints, where: str) -> None:
        self.own = own
        self.spans = spans
        self.memories = [level for level in hierarchy if isinstance(level, MemorySpec)]
        self.fanouts = {level.name: level for level in hierarchy
                        if isinstance(level, FanoutSpec)}
        self.sink = sink
        self.context = context
        self.suffix = f" on {where}" if where else ""
        self.own_origins = own.origins()
        self.names = {m.name for m in self.memories} | set(self.fanouts)

    def report(self, code: str, message: str, span: Span | None, help: str = "") -> None:
        fallback = next(iter(self.spans.targets.values()), None)
        where = span if span is not None else fallback
        if where is not None:
            self.sink.append(error(code, message + self.suffix, where, help=help))

    def source(self, origin: str) -> str:
        return "" if origin in self.own_origins else f" ({origin})"

    def slots(self) -> None:
        groups: dict[tuple[str, str], list[SlotConstraint]] = {}
        for entry in (*self.context.slots, *self.own.slots):
            if entry.target in self.names:
                groups.setdefault((entry.target, entry.axis), []).append(entry)
        for (target, axis), entries in groups.items():
            if not any(e.origin in self.own_origins for e in entries):
                continue
            self.slot(target, axis, entries)
        # A dim's whole bound (`all`) in two places.
        whole: dict[str, list[tuple[str, str, str]]] = {}
        for entry in (*self.context.slots, *self.own.slots):
            if entry.target not in self.names:
                continue
            for rule in entry.factors:
                if rule.value is None:
                    whole.setdefault(rule.dim, []).append((entry.target, entry.axis,
                                                           entry.origin))
        for dim, places in whole.items():
            if len(places) > 1 and any(origin in self.own_origins for *_, origin in places):
                target, axis, _ = next(p for p in places if p[2] in self.own_origins)
                self.report("E610", f"`{dim}` cannot have its whole bound (`all`) at "
                            + " and ".join(_slot_text(t, a) for t, a, _ in places),
                            self.spans.rules.get((target, axis, dim)))

    def slot(self, target: str, axis: str, entries: list[SlotConstraint]) -> None:
        named = _slot_text(target, axis)
        fixed: dict[str, list[tuple[int | None, str]]] = {}
        low: dict[str, tuple[int, str]] = {}
        high: dict[str, tuple[int, str]] = {}
        blocked: dict[str, str] = {}
        for entry in entries:
            source = self.source(entry.origin)
            for rule in entry.factors:
                if rule.op == "=":
                    fixed.setdefault(rule.dim, []).append((rule.value, source))
                elif rule.op == ">=" and rule.value is not None:
                    if rule.value > low.get(rule.dim, (1, ""))[0]:
                        low[rule.dim] = (rule.value, source)
                elif rule.value is not None and rule.value < high.get(rule.dim, (math.inf, ""))[0]:
                    high[rule.dim] = (rule.value, source)
            for dim in entry.forbid:
                blocked.setdefault(dim, f"it is forbidden there{source}")
            if entry.allow is not None:
                dims = list({d for e in entries for r in e.factors for d in [r.dim]})
                for dim in dims:
                    if dim not in entry.allow:
                        blocked.setdefault(dim, ("the axis is idle" if not entry.allow else
                                                 f"only {', '.join(entry.allow)} may have loops "
                                                 "there") + source)
        for dim, values in fixed.items():
            span = self.spans.rules.get((target, axis, dim))
            distinct = {v for v, _ in values}
            if len(distinct) > 1:
                shown = " and ".join(f"{'all' if v is None else v}{s or ' here'}"
                                     for v, s in values)
                self.report("E610", f"`{dim}` gets two factors at {named}: {shown}", span,
                            help="keep one of them")
                continue
            value = next(iter(distinct))
            needs_loop = value is None or value > 1
            if needs_loop and dim in blocked:
                fixed_text = "all of its bound" if value is None else str(value)
                self.report("E610", f"`{dim}` is fixed to {fixed_text} at {named}, but "
                            f"{blocked[dim]}", span,
                            help="drop the factor or the restriction")
                continue
            if value is not None and (value < low.get(dim, (1, ""))[0] or
                                      value > high.get(dim, (math.inf, ""))[0]):
                self.report("E610", f"`{dim}` is fixed to {value} at {named}, outside its "
                            "bounds there", span)
        for dim, (value, _) in low.items():
            span = self.spans.rules.get((target, axis, dim))
            if value > high.get(dim, (math.inf, ""))[0]:
                self.report("E610", f"`{dim}` must be at least {value} and at most "
                            f"{high[dim][0]} at {named}", span)
            elif value > 1 and dim in blocked:
                self.report("E610", f"`{dim}` must be at least {value} at {named}, but "
                            f"{blocked[dim]}", span)
        if axis:
            self.mesh(target, axis, named, fixed, low)

    def mesh(self, target: str, axis: str, named: str,
             fixed: dict[str, list[tuple[int | None, str]]],
             low: dict[str, tuple[int, str]]) -> None:
        fanout = self.fanouts[target]
        extent = fanout.mesh_x if axis == "x" else fanout.mesh_y
        least: dict[str, int] = {}
        for dim, values in fixed.items():
            value = values[0][0]
            if value is not None and value > 1:
                least[dim] = value
        for dim, (value, _) in low.items():
            least[dim] = max(least.get(dim, 1), value)
        allowed = fanout.dataflow.x if axis == "x" else fanout.dataflow.y
        if fanout.dataflow.preset is None and allowed is not None:
            for dim in least:
                if dim not in allowed:
                    self.report("E610", f"the dataflow of `{target}` does not unroll `{dim}` "
                                f"across {axis.upper()}", self.spans.rules.get(
                                    (target, axis, dim)),
                                help=f"allowed on {axis.upper()}: "
                                     f"{', '.join(allowed) or 'none'}")
        product = math.prod(least.values())
        if product > extent:
            detail = " x ".join(f"{dim} {value}" for dim, value in least.items())
            last = list(least)[-1]
            self.report("E610", f"the spatial factors fixed at {named} need {product} "
                        f"instances ({detail}), the mesh has {extent} there",
                        self.spans.rules.get((target, axis, last)),
                        help=f"keep their product at most {extent}")

    def keeps(self) -> None:
        memories = {m.name: (i, m) for i, m in enumerate(self.memories)}
        kept: dict[tuple[str, str], str] = {}
        bypassed: dict[tuple[str, str], str] = {}
        for entry in (*self.context.keeps, *self.own.keeps):
            if entry.target not in memories:
                continue
            index, memory = memories[entry.target]
            own = entry.origin in self.own_origins
            for name in entry.keep:
                kept.setdefault((entry.target, name), entry.origin)
                if own and name in ROLE_NAMES and name not in memory.holds:
                    self.report("E611", f"`{memory.name}` cannot keep `{name}`: it holds only "
                                f"{', '.join(memory.holds)}",
                                self.spans.tensors.get((entry.target, "keep", name)),
                                help="add the role to its `holds`, or keep the tensor "
                                     "elsewhere")
            for name in entry.bypass:
                bypassed.setdefault((entry.target, name), entry.origin)
                if own and index == 0:
                    self.report("E611", f"`{name}` cannot bypass `{memory.name}`: the "
                                "outermost memory is the backing store and keeps every tensor",
                                self.spans.tensors.get((entry.target, "bypass", name)),
                                help="bypass an inner memory instead")
        for key in kept.keys() & bypassed.keys():
            origins = (kept[key], bypassed[key])
            if not any(o in self.own_origins for o in origins):
                continue
            target, name = key
            span = self.spans.tensors.get((target, "bypass", name)) or \
                self.spans.tensors.get((target, "keep", name))
            self.report("E610", f"`{name}` must be both kept at `{target}` and bypass it",
                        span, help="keep one of the two")
        for target, (_, memory) in memories.items():
            names = {name for (t, name) in kept if t == target}
            mine = [name for (t, name), origin in kept.items()
                    if t == target and origin in self.own_origins]
            if memory.size_bits is None or not mine:
                continue
            words = memory.size_bits // memory.word_bits
            if len(names) * memory.buffering > words:
                self.report("E610", f"`{target}` must keep {len(names)} tensors "
                            f"({', '.join(sorted(names))}), but it holds {words} "
                            f"word{'s' if words != 1 else ''}"
                            + (f" x{memory.buffering} buffered" if memory.buffering > 1
                               else "") + ": not even one word of each fits",
                            self.spans.tensors.get((target, "keep", mine[-1])),
                            help="keep fewer tensors there")

    def orders(self) -> None:
        by_level: dict[str, list[OrderConstraint]] = {}
        for entry in (*self.context.orders, *self.own.orders):
            if entry.target in self.names:
                by_level.setdefault(entry.target, []).append(entry)
        for target, entries in by_level.items():
            mine = [e for e in entries if e.origin in self.own_origins]
            if not mine:
                continue
            span = self.spans.orders.get(target)
            if len(entries) > 1 and self.forced_loops_unordered(target, entries, span):
                return
            # A closed order and a fixed factor above 1 of a dim it does not list.
            for entry in entries:
                if entry.others:
                    continue
                listed = {*entry.outer, *entry.inner}
                for slot in (*self.context.slots, *self.own.slots):
                    if slot.target != target or slot.axis:
                        continue
                    for rule in slot.factors:
                        if rule.op != "<=" and rule.dim not in listed and \
                                (rule.value is None or rule.value > 1):
                            self.report("E610", f"`{rule.dim}` has a factor above 1 at "
                                        f"`{target}`, but the order {entry.text} has no `...`: "
                                        "only the dims it lists have loops there",
                                        self.spans.rules.get((target, "", rule.dim), span),
                                        help=f"add `{rule.dim}` to the order, or `...`")


    def forced_loops_unordered(self, target: str, entries: Sequence[OrderConstraint],
                               span: Span | None) -> bool:
        """E610 (and True) when the dims whose fixed or least factor above 1 at `target`
        forces a loop there have no order that obeys every order written there
        (dslc.mapping.constraints `arrange`, as the mapper decides). Orders alone never
        conflict: a level without loops obeys them all, and `[K, ...]` with `[C, ...]`
        holds whenever K or C has no loop there. A factor of `all` depends on the layer's
        bound and is checked when it is mapped; a dim a closed order does not list has its
        own E610 below."""
        closed = [{*e.outer, *e.inner} for e in entries if not e.others]
        forced: dict[str, str] = {}
        for slot in (*self.context.slots, *self.own.slots):
            if slot.target != target or slot.axis:
                continue
            for rule in slot.factors:
                if rule.op in ("=", ">=") and rule.value is not None and rule.value > 1 \
                        and all(rule.dim in listed for listed in closed):
                    forced.setdefault(rule.dim, f"factors [{rule.text}]"
                                                f"{self.source(slot.origin)}")
        lists = [(e.outer, e.inner, e.others) for e in entries]
        if arrange(lists, forced) is not None:
            return False
        # Every subset of an allowed set is allowed: name the fewest dims in conflict.
        failing = next(c for size in range(1, len(forced) + 1)
                       for c in itertools.combinations(forced, size)
                       if arrange(lists, c) is None)
        names = " and ".join(f"`{dim}`" for dim in failing)
        orders = " and ".join(f"order {e.text}{self.source(e.origin)}" for e in entries)
        self.report("E610", f"{names} must have loops at `{target}` ("
                    + ", ".join(forced[dim] for dim in failing)
                    + f"), but no order of them obeys {orders}", span,
                    help="a dim first in one order and first or last in another can have a "
                         "loop there only without the other's; drop a factor or an order")
        return True


def _slot_text(target: str, axis: str) -> str:
    return f"`{target}` {axis.upper()}" if axis else f"`{target}`"


# ---- names no layer has --------------------------------------------------------------------


def unknown_names(spans: Spans, dims: Iterable[str], tensors: Iterable[str], what: str
                  ) -> list[Diagnostic]:
    """W601 for each dim and tensor the constraints name that no layer of `what` has."""
    known_dims = set(dims)
    known_tensors = set(tensors) | set(ROLE_NAMES)
    found: list[Diagnostic] = []
    reported: set[str] = set()
    for name, span in spans.names:
        if name not in known_dims and name not in reported:
            reported.add(name)
            found.append(warning("W601", f"no layer of {what} has a dim `{name}`", span,
                                 help=did_you_mean(name, known_dims) or
                                 "its dims: " + ", ".join(sorted(known_dims))))
    for name, span in spans.tensor_names:
        if name not in known_tensors and name not in reported:
            reported.add(name)
            found.append(warning("W601", f"no layer of {what} has a tensor `{name}`", span,
                                 help=did_you_mean(name, known_tensors) or
                                 "roles: input, weight, output"))
    return found


# ---- constraints given as text (`dslc map --constraints`) --------------------------------


def constraints_from_text(text: str, accelerator: AcceleratorSpec,
                          origin: str = "--constraints") -> MapConstraints:
    """The body of a constraints block given as text (`GLB { factors [K 4] } PE { idle y
    }`), read and checked against `accelerator` (with its own constraints); raises
    DiagnosticError, with spans into the text (named `origin`), when it has errors."""
    file = SourceFile.of(origin, text)
    targets, problems = parse_constraints(file)
    if targets is None:
        raise DiagnosticError(problems)
    sink: list[Diagnostic] = []
    components = {level.name: frozenset({"memory" if isinstance(level, MemorySpec)
                                         else "fanout"})
                  for level in accelerator.hierarchy}
    where = f"accelerator `{accelerator.name}`"
    found, spans = read_constraints(targets, Scope({}), origin, components, where, sink)
    check_constraints(found, spans, accelerator.hierarchy, sink,
                      context=accelerator.constraints)
    if any(d.is_error for d in sink):
        raise DiagnosticError(sorted_diagnostics(sink))
    return found
