"""Declared networks and accelerators during elaboration, and how a point of one is built.

Owns `Declared` (a network or accelerator declaration with its evaluated parameter
domains), `Declarations` (every declaration of a workspace by name, the table that the
`mapping` and `codesign` elaborators resolve names against), `point_values` (a source
reference `acc(rows = 14)` resolved to a full point), and the two `PointBuilder`s that
`dslc.space.DesignSpace` calls to instantiate a point: they evaluate the checked
declaration with the point's values bound.

In: AST declarations and domains from dslc.sema.program. Out: `DesignSpace` values whose
builders hold the (frozen) declaration they evaluate; nothing outside dslc.sema sees an AST
node. It does not check spaces (dslc.sema.program does) nor build layers (dslc.sema.network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dslc.diagnostics.diagnostic import Diagnostic, DiagnosticError, did_you_mean
from dslc.diagnostics.span import Span
from dslc.sema.accelerator import build_accelerator
from dslc.sema.evaluate import (
    EvalContext,
    Qty,
    Scope,
    Sym,
    Value,
    evaluate,
    fail,
    value_label,
)
from dslc.sema.network import build_network
from dslc.space import DesignSpace, SpaceKind
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamSpec, ParamValue, Point
from dslc.spec.network import NetworkSpec
from dslc.syntax import ast


@dataclass(frozen=True, slots=True)
class Domain:
    """A parameter's name, its values (as evaluated) and where it is declared."""

    name: str
    values: tuple[Value, ...]
    span: Span


def to_param_value(value: Value) -> ParamValue:
    """A domain value as a spec parameter value (quantities in base units, names as text)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Qty):
        return value.value
    if isinstance(value, Sym):
        return value.name
    raise ValueError(f"not a parameter value: {value!r}")


def _scope(domains: Sequence[Domain], values: Sequence[Value]) -> Scope:
    return Scope({d.name: v for d, v in zip(domains, values, strict=True)})


@dataclass(frozen=True, slots=True)
class Declared:
    """A network or accelerator declaration with its parameter domains."""

    kind: SpaceKind
    decl: ast.NetworkDecl | ast.AcceleratorDecl
    domains: tuple[Domain, ...]

    @property
    def name(self) -> str:
        return self.decl.name.text

    @property
    def size(self) -> int:
        total = 1
        for domain in self.domains:
            total *= len(domain.values)
        return total

    def params(self) -> tuple[ParamSpec, ...]:
        return tuple(ParamSpec(name=d.name, values=tuple(to_param_value(v) for v in d.values),
                               labels=tuple(value_label(v) for v in d.values),
                               dimension=next((v.dimension for v in d.values
                                               if isinstance(v, Qty)), ""))
                     for d in self.domains)

    def values_at(self, index: int) -> tuple[Value, ...]:
        """The index-th point's values in mixed-radix order (last parameter fastest)."""
        values: list[Value] = []
        for domain in reversed(self.domains):
            index, digit = divmod(index, len(domain.values))
            values.append(domain.values[digit])
        return tuple(reversed(values))

    def scope_for(self, values: Sequence[Value]) -> Scope:
        return _scope(self.domains, values)

    def point_spec(self, values: Sequence[Value]) -> Point:
        return tuple(sorted((d.name, to_param_value(v))
                            for d, v in zip(self.domains, values, strict=True)))


def at_point(diagnostics: Sequence[Diagnostic], domains: Sequence[Domain],
             values: Sequence[Value]) -> tuple[Diagnostic, ...]:
    """The diagnostics of a point that does not build, each with the note `at the point
    p = v, ...` (as lint says it) so that an error found at run time names its point."""
    if not domains:
        return tuple(diagnostics)
    where = ", ".join(f"{d.name} = {value_label(v)}"
                      for d, v in zip(domains, values, strict=True))
    note = f"at the point {where}"
    return tuple(Diagnostic(d.code, d.severity, d.message, d.span, d.label, d.help,
                            (*d.notes, note), d.related) for d in diagnostics)


@dataclass(frozen=True, slots=True)
class NetworkPointBuilder:
    """Builds a network at a point by evaluating its declaration with the point bound."""

    decl: ast.NetworkDecl
    domains: tuple[Domain, ...]
    templates: Mapping[str, ast.TemplateDecl]

    def build(self, digits: tuple[int, ...], point: Point) -> NetworkSpec:
        values = [d.values[i] for d, i in zip(self.domains, digits, strict=True)]
        build = build_network(self.decl, dict(self.templates), _scope(self.domains, values),
                              point)
        if build.spec is None:
            raise DiagnosticError(at_point(build.diagnostics, self.domains, values))
        return build.spec


@dataclass(frozen=True, slots=True)
class AcceleratorPointBuilder:
    """Builds an accelerator at a point by evaluating its declaration with the point bound."""

    decl: ast.AcceleratorDecl
    domains: tuple[Domain, ...]

    def build(self, digits: tuple[int, ...], point: Point) -> AcceleratorSpec:
        values = [d.values[i] for d, i in zip(self.domains, digits, strict=True)]
        spec, problems = build_accelerator(self.decl, _scope(self.domains, values), point)
        if spec is None:
            raise DiagnosticError(at_point(problems, self.domains, values))
        return spec


@dataclass(slots=True)
class Declarations:
    """Every network, accelerator and template a workspace declares, by name (filled in
    declaration order during elaboration)."""

    networks: dict[str, Declared] = field(default_factory=dict)
    accelerators: dict[str, Declared] = field(default_factory=dict)
    templates: dict[str, ast.TemplateDecl] = field(default_factory=dict)

    def network_space(self, name: str) -> DesignSpace[NetworkSpec]:
        entry = self.networks[name]
        assert isinstance(entry.decl, ast.NetworkDecl)
        return DesignSpace("network", name, entry.params(),
                           NetworkPointBuilder(entry.decl, entry.domains, self.templates))

    def accelerator_space(self, name: str) -> DesignSpace[AcceleratorSpec]:
        entry = self.accelerators[name]
        assert isinstance(entry.decl, ast.AcceleratorDecl)
        return DesignSpace("accelerator", name, entry.params(),
                           AcceleratorPointBuilder(entry.decl, entry.domains))


def point_values(entry: Declared, args: Sequence[ast.Arg] | None, span: Span,
                 scope: Scope | None = None) -> tuple[Value, ...]:
    """Resolve `name(param = value, ...)` to a full point of `entry`, or raise EvalError."""
    if entry.size == 0:
        raise DiagnosticError([])  # the space has no points; its domains are reported
    given: dict[str, tuple[Value, Span]] = {}
    names = [d.name for d in entry.domains]
    for arg in args or ():
        if arg.keyword is None:
            raise fail("E303", "point values are given by name: `param = value`", arg.span)
        key = arg.keyword.text
        if key not in names:
            raise fail("E703", f"{entry.kind} `{entry.name}` has no parameter `{key}`",
                       arg.keyword.span,
                       help=did_you_mean(key, names) or
                       (f"its parameters: {', '.join(names)}" if names else
                        f"{entry.kind} `{entry.name}` has no parameters"))
        if key in given:
            raise fail("E210", f"parameter `{key}` given twice", arg.span)
        given[key] = (evaluate(arg.value, scope or Scope({}), EvalContext()), arg.value.span)
    values: list[Value] = []
    for domain in entry.domains:
        if domain.name not in given:
            if len(domain.values) == 1:
                values.append(domain.values[0])
                continue
            raise fail("E704", f"no value for parameter `{domain.name}` of {entry.kind} "
                       f"`{entry.name}`", span,
                       help=f"add `{domain.name} = ...`; its values: "
                       + ", ".join(value_label(v) for v in domain.values[:10]))
        value, value_span = given[domain.name]
        match = next((v for v in domain.values if _same_value(v, value)), None)
        if match is None:
            raise fail("E702", f"{value_label(value)} is not a value of `{domain.name}`",
                       value_span, label="outside the space",
                       help="its values: " + ", ".join(value_label(v)
                                                       for v in domain.values[:10]))
        values.append(match)
    return tuple(values)


def _same_value(a: Value, b: Value) -> bool:
    try:
        pa, pb = to_param_value(a), to_param_value(b)
    except ValueError:
        return False
    if isinstance(a, Qty) != isinstance(b, Qty):
        return False
    if isinstance(a, Qty) and isinstance(b, Qty) and a.dimension != b.dimension:
        return False
    if isinstance(pa, int | float) and isinstance(pb, int | float) and not isinstance(
            pa, bool) and not isinstance(pb, bool):
        return abs(pa - pb) <= 1e-9 * max(1.0, abs(pa))
    return pa == pb
