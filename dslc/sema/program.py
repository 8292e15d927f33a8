"""Elaboration of a loaded workspace into a `Program`: spaces, mappings, co-design requests.

Collects declarations from every file (one namespace; duplicates are E202), evaluates
parameter domains into `NetworkSpace`/`AcceleratorSpace`, builds every point of each space
(or a seeded sample of a large one, stated in a note) to check shapes and structure, and
elaborates `mapping` and `codesign` blocks. `instantiate_network` and
`instantiate_accelerator` turn a point into concrete specs for later stages.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    Label,
    Severity,
    did_you_mean,
    error,
    sorted_diagnostics,
    warning,
)
from dslc.diagnostics.span import Span
from dslc.sema.accelerator import build_accelerator
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    Qty,
    Scope,
    SetValue,
    Sym,
    TensorRef,
    Value,
    domain_values,
    evaluate,
    fail,
    value_label,
)
from dslc.sema.loader import Workspace
from dslc.sema.network import build_network
from dslc.spec.accelerator import AcceleratorSpace, AcceleratorSpec
from dslc.spec.base import ParamSpec, ParamValue, Point
from dslc.spec.codesign import CoDesignSpec
from dslc.spec.mapping import MappingSpec
from dslc.spec.network import NetworkSpace, NetworkSpec
from dslc.syntax import ast

CHECK_ALL_LIMIT = 64
"""Spaces up to this many points are checked exhaustively; larger ones on a sample."""
SAMPLE_SEED = 0


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    values: tuple[Value, ...]
    span: Span


@dataclass(slots=True)
class SpaceEntry:
    """A declared network or accelerator with its parameter domains."""

    kind: str
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
                               labels=tuple(value_label(v) for v in d.values))
                     for d in self.domains)

    def point_at(self, index: int) -> tuple[Value, ...]:
        """The index-th point in mixed-radix order (last parameter fastest)."""
        values: list[Value] = []
        for domain in reversed(self.domains):
            index, digit = divmod(index, len(domain.values))
            values.append(domain.values[digit])
        return tuple(reversed(values))

    def scope_for(self, values: Sequence[Value]) -> Scope:
        return Scope({d.name: v for d, v in zip(self.domains, values, strict=True)})

    def point_spec(self, values: Sequence[Value]) -> Point:
        return tuple(sorted((d.name, to_param_value(v))
                            for d, v in zip(self.domains, values, strict=True)))


@dataclass(slots=True)
class Program:
    """Everything a workspace declares, elaborated."""

    workspace: Workspace
    networks: dict[str, SpaceEntry] = field(default_factory=dict)
    accelerators: dict[str, SpaceEntry] = field(default_factory=dict)
    templates: dict[str, ast.TemplateDecl] = field(default_factory=dict)
    mappings: dict[str, MappingSpec] = field(default_factory=dict)
    mapping_decls: dict[str, ast.MappingDecl] = field(default_factory=dict)
    codesigns: dict[str, CoDesignSpec] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def network_space(self, name: str) -> NetworkSpace:
        return NetworkSpace(name=name, params=self.networks[name].params())

    def accelerator_space(self, name: str) -> AcceleratorSpace:
        return AcceleratorSpace(name=name, params=self.accelerators[name].params())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def to_param_value(value: Value) -> ParamValue:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Qty):
        return value.value
    if isinstance(value, Sym):
        return value.name
    raise ValueError(f"not a parameter value: {value!r}")


# ---- spaces --------------------------------------------------------------------------------


def _domains(body: Sequence[object], sink: list[Diagnostic]) -> tuple[Domain, ...]:
    domains: list[Domain] = []
    seen: dict[str, Span] = {}
    for stmt in body:
        if not isinstance(stmt, ast.ParamStmt):
            continue
        name = stmt.name.text
        if name in seen:
            sink.append(error("E202", f"parameter `{name}` is declared twice", stmt.name.span,
                              related=(Label(seen[name], "first declared here"),)))
            continue
        seen[name] = stmt.name.span
        # A domain that fails is kept empty: the space then has no points to check, instead
        # of reporting every use of the parameter as an undefined name.
        try:
            values = domain_values(evaluate(stmt.domain, Scope({}), EvalContext()),
                                   stmt.domain.span)
        except EvalError as exc:
            sink.append(exc.diagnostic)
            values = ()
        else:
            if not values:
                sink.append(error(
                    "E701", f"parameter `{name}` has an empty domain", stmt.domain.span,
                    label="no values",
                    help="a range `a..b` needs a <= b; a set needs at least one value"))
            elif any(isinstance(v, tuple | SetValue | TensorRef) for v in values):
                sink.append(error("E303", f"parameter `{name}` takes numbers, quantities or "
                                  "names", stmt.domain.span))
                values = ()
        domains.append(Domain(name, values, stmt.span))
    return tuple(domains)


def _sample_indices(size: int) -> tuple[list[int], bool]:
    if size <= CHECK_ALL_LIMIT:
        return list(range(size)), False
    rng = random.Random(SAMPLE_SEED)
    picks = {0, size - 1}
    while len(picks) < CHECK_ALL_LIMIT:
        picks.add(rng.randrange(size))
    return sorted(picks), True


def _check_space(entry: SpaceEntry, program: Program) -> None:
    if entry.size == 0:
        return  # a parameter's domain failed or is empty, and that is reported
    indices, sampled = _sample_indices(entry.size)
    used: set[str] = set()
    found: list[Diagnostic] = []
    for index in indices:
        values = entry.point_at(index)
        scope = entry.scope_for(values)
        if isinstance(entry.decl, ast.NetworkDecl):
            build = build_network(entry.decl, program.templates, scope, entry.point_spec(values))
            problems = build.diagnostics
        else:
            _, problems = build_accelerator(entry.decl, scope, entry.point_spec(values))
        used |= scope.used
        if entry.domains and problems:
            where = ", ".join(f"{d.name} = {value_label(v)}"
                              for d, v in zip(entry.domains, values, strict=True))
            problems = [_with_note(p, f"at the point {where}") for p in problems]
        found.extend(problems)
        if sum(d.is_error for d in found) >= 20:
            break
    program.diagnostics.extend(_first_per_location(found))
    # A statement that failed may have stopped before it used a parameter: only a space
    # without errors can tell that a parameter is really unused.
    for domain in entry.domains if not any(d.is_error for d in found) else ():
        if domain.name not in used:
            program.diagnostics.append(warning(
                "W201", f"parameter `{domain.name}` is never used", domain.span,
                help="remove it, or use it in the body"))
    if sampled:
        program.diagnostics.append(Diagnostic(
            "N701", Severity.NOTE, f"{entry.kind} `{entry.name}` has {entry.size} points; "
            f"checked a sample of {len(indices)}", entry.decl.name.span,
            notes=(f"seeded sample (seed {SAMPLE_SEED}) including the first and last points",),
        ))


def _with_note(diagnostic: Diagnostic, note: str) -> Diagnostic:
    return Diagnostic(diagnostic.code, diagnostic.severity, diagnostic.message,
                      diagnostic.span, diagnostic.label, diagnostic.help,
                      (*diagnostic.notes, note), diagnostic.related)


def _first_per_location(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per (code, span, message): the same error at many points is one."""
    seen: set[tuple[object, ...]] = set()
    kept = []
    for d in diagnostics:
        key = (d.code, d.sort_key(), d.message)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


# ---- points ---------------------------------------------------------------------------------


def point_values(entry: SpaceEntry, args: Sequence[ast.Arg] | None, span: Span,
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


def values_from_point(entry: SpaceEntry, point: Point) -> tuple[Value, ...]:
    given = dict(point)
    values = []
    for domain in entry.domains:
        if domain.name not in given:
            raise KeyError(domain.name)
        target = given[domain.name]
        match = next(v for v in domain.values if _same_value(v, target) or
                     to_param_value(v) == target)
        values.append(match)
    return tuple(values)


# ---- instantiation --------------------------------------------------------------------------


def instantiate_network(program: Program, name: str, point: Point = ()) -> NetworkSpec:
    """A concrete network at `point`; raises DiagnosticError where it does not build."""
    entry = program.networks[name]
    values = values_from_point(entry, point)
    decl = entry.decl
    assert isinstance(decl, ast.NetworkDecl)
    build = build_network(decl, program.templates, entry.scope_for(values),
                          entry.point_spec(values))
    if build.spec is None:
        raise DiagnosticError(build.diagnostics)
    return build.spec


def instantiate_accelerator(program: Program, name: str, point: Point = ()) -> AcceleratorSpec:
    """A concrete accelerator at `point`; raises DiagnosticError where it does not build."""
    entry = program.accelerators[name]
    values = values_from_point(entry, point)
    decl = entry.decl
    assert isinstance(decl, ast.AcceleratorDecl)
    spec, problems = build_accelerator(decl, entry.scope_for(values), entry.point_spec(values))
    if spec is None:
        raise DiagnosticError(problems)
    return spec


# ---- the whole program -----------------------------------------------------------------------


def elaborate(workspace: Workspace) -> Program:
    """Elaborate every declaration of a workspace, collecting all diagnostics."""
    from dslc.sema.codesign import elaborate_codesign
    from dslc.sema.mapping import elaborate_mapping

    program = Program(workspace, diagnostics=list(workspace.diagnostics))
    defined: dict[str, Span] = {}

    def declare(ident: ast.Ident) -> bool:
        if ident.text in defined:
            program.diagnostics.append(error(
                "E202", f"`{ident.text}` is defined twice", ident.span,
                label="redefined here", related=(Label(defined[ident.text],
                                                       "first defined here"),),
                help="names of networks, templates, accelerators, mappings and co-design "
                     "blocks share one namespace across imported files"))
            return False
        defined[ident.text] = ident.span
        return True

    for loaded in workspace.files:
        for item in loaded.module.items:
            if isinstance(item, ast.ImportDecl) or not declare(item.name):
                continue
            if isinstance(item, ast.NetworkDecl):
                program.networks[item.name.text] = SpaceEntry(
                    "network", item, _domains(item.body, program.diagnostics))
            elif isinstance(item, ast.AcceleratorDecl):
                program.accelerators[item.name.text] = SpaceEntry(
                    "accelerator", item, _domains(item.body, program.diagnostics))
            elif isinstance(item, ast.TemplateDecl):
                program.templates[item.name.text] = item
                _check_template(item, program.diagnostics)
            elif isinstance(item, ast.MappingDecl):
                program.mapping_decls[item.name.text] = item
    for entry in [*program.networks.values(), *program.accelerators.values()]:
        _check_space(entry, program)
    for loaded in workspace.files:
        for item in loaded.module.items:
            if isinstance(item, ast.MappingDecl) and item.name.text in program.mapping_decls:
                try:
                    program.mappings[item.name.text] = elaborate_mapping(item, program)
                except DiagnosticError as exc:
                    program.diagnostics.extend(exc.diagnostics)
                except EvalError as exc:
                    program.diagnostics.append(exc.diagnostic)
            elif isinstance(item, ast.CoDesignDecl) and defined.get(item.name.text) == \
                    item.name.span:
                try:
                    program.codesigns[item.name.text] = elaborate_codesign(
                        item, program, Path(loaded.path))
                except DiagnosticError as exc:
                    program.diagnostics.extend(exc.diagnostics)
                except EvalError as exc:
                    program.diagnostics.append(exc.diagnostic)
    program.diagnostics = sorted_diagnostics(program.diagnostics)
    return program


def _check_template(decl: ast.TemplateDecl, sink: list[Diagnostic]) -> None:
    seen: dict[str, Span] = {}
    for param in decl.params:
        if param.name.text in seen:
            sink.append(error("E202", f"template parameter `{param.name.text}` is declared "
                              "twice", param.name.span,
                              related=(Label(seen[param.name.text], "first declared here"),)))
        seen[param.name.text] = param.name.span
    for stmt in decl.body:
        if isinstance(stmt, ast.ParamStmt):
            sink.append(error("E403", "templates cannot declare `param`s", stmt.span,
                              help="make it a template parameter instead"))
        elif isinstance(stmt, ast.InputStmt):
            sink.append(error("E404", "inputs belong to networks, not templates", stmt.span,
                              help="pass the tensor as a template parameter"))
