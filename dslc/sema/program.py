"""Elaboration of a loaded workspace into a `Program`, the value every later stage takes.

Collects declarations from every file (one namespace; duplicates are E202), evaluates
parameter domains, builds every point of each network and accelerator space (or a seeded
sample of a large one, stated in a note) to check shapes and structure, and elaborates
`mapping` and `codesign` blocks. The result, `Program`, is frozen and holds spec values and
`DesignSpace`s (dslc.space), not AST: a design space instantiates its points itself.
It does not lower, map or search anything.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    Label,
    Severity,
    error,
    sorted_diagnostics,
    warning,
)
from dslc.diagnostics.span import Span
from dslc.sema.accelerator import build_accelerator
from dslc.sema.codesign import elaborate_codesign
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    Scope,
    SetValue,
    TensorRef,
    domain_values,
    evaluate,
    value_label,
)
from dslc.sema.loader import Workspace
from dslc.sema.mapping import elaborate_mapping
from dslc.sema.network import build_network
from dslc.sema.spaces import Declarations, Declared, Domain
from dslc.space import DesignSpace
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.codesign import CoDesignSpec
from dslc.spec.mapping import MappingSpec
from dslc.spec.network import NetworkSpec
from dslc.syntax import ast

CHECK_ALL_LIMIT = 64
"""Spaces up to this many points are checked exhaustively; larger ones on a sample."""
SAMPLE_SEED = 0


@dataclass(frozen=True, slots=True)
class Program:
    """Everything a spec file and its imports declare, elaborated. Frozen: the tables are
    built once by `elaborate` and read-only after."""

    root: Path | None
    """The root spec file (None for a program compiled from text without a path); result
    stores default beside it."""
    files: tuple[str, ...]
    """Every file read, imports first, as diagnostics name them."""
    digest: str
    """A digest of every file's bytes: equal programs come from equal sources."""
    networks: Mapping[str, DesignSpace[NetworkSpec]]
    """Network spaces by name (a fixed network is a space of one point)."""
    accelerators: Mapping[str, DesignSpace[AcceleratorSpec]]
    """Accelerator design spaces by name."""
    mappings: Mapping[str, MappingSpec]
    """`mapping` blocks that elaborated without errors, by name."""
    codesigns: Mapping[str, CoDesignSpec]
    """`codesign` requests that elaborated without errors, by name."""
    diagnostics: tuple[Diagnostic, ...]
    """Every finding, in a deterministic order."""

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


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


def _check_space(entry: Declared, templates: Mapping[str, ast.TemplateDecl],
                 sink: list[Diagnostic]) -> None:
    if entry.size == 0:
        return  # a parameter's domain failed or is empty, and that is reported
    indices, sampled = _sample_indices(entry.size)
    used: set[str] = set()
    found: list[Diagnostic] = []
    for index in indices:
        values = entry.values_at(index)
        scope = entry.scope_for(values)
        if isinstance(entry.decl, ast.NetworkDecl):
            build = build_network(entry.decl, dict(templates), scope, entry.point_spec(values))
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
    sink.extend(_first_per_location(found))
    # A statement that failed may have stopped before it used a parameter: only a space
    # without errors can tell that a parameter is really unused.
    for domain in entry.domains if not any(d.is_error for d in found) else ():
        if domain.name not in used:
            sink.append(warning(
                "W201", f"parameter `{domain.name}` is never used", domain.span,
                help="remove it, or use it in the body"))
    if sampled:
        sink.append(Diagnostic(
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


# ---- the whole program -----------------------------------------------------------------------


def elaborate(workspace: Workspace) -> Program:
    """Elaborate every declaration of a workspace, collecting all diagnostics."""
    diagnostics = list(workspace.diagnostics)
    declared = Declarations()
    mapping_decls: dict[str, ast.MappingDecl] = {}
    defined: dict[str, Span] = {}

    def declare(ident: ast.Ident) -> bool:
        if ident.text in defined:
            diagnostics.append(error(
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
                declared.networks[item.name.text] = Declared(
                    "network", item, _domains(item.body, diagnostics))
            elif isinstance(item, ast.AcceleratorDecl):
                declared.accelerators[item.name.text] = Declared(
                    "accelerator", item, _domains(item.body, diagnostics))
            elif isinstance(item, ast.TemplateDecl):
                declared.templates[item.name.text] = item
                _check_template(item, diagnostics)
            elif isinstance(item, ast.MappingDecl):
                mapping_decls[item.name.text] = item
    for entry in [*declared.networks.values(), *declared.accelerators.values()]:
        _check_space(entry, declared.templates, diagnostics)
    mappings: dict[str, MappingSpec] = {}
    codesigns: dict[str, CoDesignSpec] = {}
    for loaded in workspace.files:
        for item in loaded.module.items:
            try:
                if isinstance(item, ast.MappingDecl) and item.name.text in mapping_decls:
                    mappings[item.name.text] = elaborate_mapping(item, declared)
                elif isinstance(item, ast.CoDesignDecl) and defined.get(item.name.text) == \
                        item.name.span:
                    codesigns[item.name.text] = elaborate_codesign(item, declared,
                                                                   Path(loaded.path))
            except DiagnosticError as exc:
                diagnostics.extend(exc.diagnostics)
            except EvalError as exc:
                diagnostics.append(exc.diagnostic)
    digest = hashlib.sha256()
    for loaded in workspace.files:
        digest.update(loaded.source.path.encode() + b"\0" + loaded.source.text.encode()
                      + b"\0")
    return Program(
        root=workspace.root,
        files=tuple(loaded.source.path for loaded in workspace.files),
        digest=digest.hexdigest()[:20],
        networks={name: declared.network_space(name) for name in declared.networks},
        accelerators={name: declared.accelerator_space(name)
                      for name in declared.accelerators},
        mappings=mappings, codesigns=codesigns,
        diagnostics=tuple(sorted_diagnostics(diagnostics)))


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
