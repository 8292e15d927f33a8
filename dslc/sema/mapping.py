"""Elaboration and checking of `mapping` blocks.

Resolves `mapping NAME for NET(point).LAYER on ACC(point)`, builds the `MappingSpec`, and
checks it against the layer's loop nest and the accelerator: unknown dims (E601) and levels
(E602), loops at the wrong kind of level (E607), keep/bypass (E606), factor products that do
not cover the bounds (E603), spatial factors beyond the mesh or the dataflow (E604), and
tiles over capacity (E605), and the accelerator's map-space constraints (E612: every
mapping on an accelerator obeys its `constraints` block, as the mapper's do). The verdicts
come from dslc.mapping (the mapping IR and its checks; `mapping_violations` with the same
requirements and predicates the mapper uses); this module only turns them into diagnostics
with spans.
"""

from __future__ import annotations

from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    InternalError,
    Label,
    did_you_mean,
    error,
)
from dslc.diagnostics.span import Span
from dslc.mapping.constraints import (
    KeepRequirement,
    OrderRequirement,
    Violation,
    mapping_violations,
)
from dslc.sema.constraints import Spans, components_of, read_constraints
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    Scope,
    as_bool,
    as_int,
    evaluate,
    fail,
)
from dslc.sema.spaces import Declarations, point_values
from dslc.spec.accelerator import AcceleratorSpec, FanoutSpec, MemorySpec
from dslc.spec.base import Point
from dslc.spec.limits import MAX_BATCH
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec
from dslc.spec.network import NetworkSpec
from dslc.syntax import ast

MAPPING_PROPERTIES = {
    "batch": "batch size N of the mapped layer (default 1)",
    "imperfect": "allow padded (ceil) factors whose product exceeds a bound (default false)",
}


def _resolve(program: Declarations, ref: ast.SpaceRef, kind: str) -> tuple[str, Point]:
    table = program.networks if kind == "network" else program.accelerators
    name = ref.name.text
    if name not in table:
        other = program.accelerators if kind == "network" else program.networks
        if name in other:
            raise fail("E211", f"`{name}` is not {'an' if kind[0] in 'aeiou' else 'a'} {kind}",
                       ref.name.span,
                       label=f"this is {'an accelerator' if kind == 'network' else 'a network'}")
        raise fail("E201", f"undefined {kind} `{name}`", ref.name.span,
                   help=did_you_mean(name, table))
    entry = table[name]
    values = point_values(entry, ref.args, ref.span)
    return name, entry.point_spec(values)


def elaborate_mapping(decl: ast.MappingDecl, program: Declarations) -> MappingSpec:
    network_name, network_point = _resolve(program, decl.network, "network")
    accelerator_name, accelerator_point = _resolve(program, decl.accelerator, "accelerator")
    batch = 1
    imperfect = False
    for prop in decl.props:
        if prop.name.text not in MAPPING_PROPERTIES:
            raise fail("E205", f"unknown mapping property `{prop.name.text}`", prop.name.span,
                       help=did_you_mean(prop.name.text, MAPPING_PROPERTIES) or
                       "mappings have two properties: `batch` and `imperfect`")
        value = evaluate(prop.value, Scope({}), EvalContext())
        if prop.name.text == "imperfect":
            imperfect = as_bool(value, prop.value.span, "imperfect")
        else:
            batch = as_int(value, prop.value.span, "the batch", minimum=1, maximum=MAX_BATCH)
    try:
        network = program.network_space(network_name).instantiate(network_point)
        accelerator = program.accelerator_space(accelerator_name).instantiate(
            accelerator_point)
    except DiagnosticError:
        # The network or accelerator itself is broken; that is reported where it is declared.
        raise DiagnosticError([]) from None
    layer_name = ".".join(part.text for part in decl.layer)
    layer_span = decl.layer[0].span.to(decl.layer[-1].span)
    names = [layer.name for layer in network.layers]
    if layer_name not in names:
        raise fail("E608", f"network `{network_name}` has no layer `{layer_name}`", layer_span,
                   help=did_you_mean(layer_name, names))
    levels = _levels(decl, accelerator)
    spec = MappingSpec(name=decl.name.text, network=network_name,
                       network_point=network_point,
                       layer=layer_name, accelerator=accelerator_name,
                       accelerator_point=accelerator_point,
                       batch=batch, imperfect=imperfect, levels=levels)
    problems = check_against_problem(decl, spec, network, accelerator, layer_span,
                                     _constraint_spans(program, decl.accelerator))
    if problems:
        raise DiagnosticError(problems)
    return spec


def _levels(decl: ast.MappingDecl, accelerator: AcceleratorSpec) -> tuple[MappingLevelSpec, ...]:
    components = {level.name: level for level in accelerator.hierarchy}
    seen: dict[str, Span] = {}
    levels: list[MappingLevelSpec] = []
    for level in decl.levels:
        target = level.target.text
        if target not in components:
            raise fail("E602", f"accelerator `{accelerator.name}` has no level `{target}`",
                       level.target.span, help=did_you_mean(target, components) or
                       "levels: " + ", ".join(components))
        if target in seen:
            raise EvalError(error("E602", f"level `{target}` is mapped twice",
                                  level.target.span,
                                  related=(Label(seen[target], "first mapped here"),)))
        seen[target] = level.target.span
        component = components[target]
        temporal: list[LoopSpec] = []
        spatial: dict[str, list[LoopSpec]] = {"x": [], "y": []}
        keep: list[str] | None = None
        bypass: list[str] = []
        for directive in level.directives:
            is_fanout = isinstance(component, FanoutSpec)
            if directive.kind == "spatial":
                if not is_fanout:
                    raise fail("E607", f"`{target}` is a memory; spatial loops belong to "
                               "fanouts", directive.span)
                assert directive.axis is not None
                axis = directive.axis.text.lower()
                if axis not in spatial:
                    raise fail("E607", f"unknown mesh axis `{directive.axis.text}`",
                               directive.axis.span, help="axes are `x` and `y`")
                spatial[axis].extend(_loops(directive))
            elif is_fanout:
                raise fail("E607", f"`{target}` is a fanout; {directive.kind} belongs to "
                           "memories", directive.span)
            elif directive.kind == "temporal":
                temporal.extend(_loops(directive))
            elif directive.kind == "keep":
                keep = [*(keep or []), *(n.text for n in directive.names)]
            else:
                bypass.extend(n.text for n in directive.names)
        if isinstance(component, MemorySpec) and (keep is not None or bypass):
            both = set(keep or ()) & set(bypass)
            if both:
                raise fail("E606", f"`{sorted(both)[0]}` is both kept and bypassed at "
                           f"`{target}`", level.span)
            if keep is None:
                keep = [role for role in component.holds if role not in bypass]
            keep_names: tuple[str, ...] | None = tuple(keep)
        else:
            keep_names = None
        levels.append(MappingLevelSpec(target=target, temporal=tuple(temporal),
                                       spatial_x=tuple(spatial["x"]),
                                       spatial_y=tuple(spatial["y"]), keep=keep_names))
    return tuple(levels)


def _loops(directive: ast.Directive) -> list[LoopSpec]:
    return [LoopSpec(dim=loop.dim.text,
                     factor=as_int(evaluate(loop.factor, Scope({}), EvalContext()),
                                   loop.factor.span, f"the factor of `{loop.dim.text}`",
                                   minimum=1))
            for loop in directive.loops]


def _constraint_spans(program: Declarations, ref: ast.SpaceRef) -> Spans | None:
    """Where the accelerator's constraints were written (at the mapping's point), for the
    secondary labels of E612; None when it has no `constraints` block."""
    entry = program.accelerators[ref.name.text]
    assert isinstance(entry.decl, ast.AcceleratorDecl)
    blocks = [n for n in entry.decl.body if isinstance(n, ast.ConstraintsBlock)]
    if not blocks:
        return None
    components = {name: frozenset({kind}) for name, kind in components_of(entry.decl).items()}
    where = f"accelerator `{entry.name}`"
    _, spans = read_constraints(blocks[0].targets,
                                entry.scope_for(point_values(entry, ref.args, ref.span)),
                                where, components, where, [])
    return spans


def check_against_problem(decl: ast.MappingDecl, spec: MappingSpec, network: NetworkSpec,
                          accelerator: AcceleratorSpec, layer_span: Span,
                          constraint_spans: Spans | None = None) -> list[Diagnostic]:
    """Check the mapping against the layer's loop nest and the accelerator (with its
    map-space constraints; `constraint_spans`: where they were written); diagnostics point
    into `decl`."""
    from dslc.lower.lower import lower_network

    lowered = lower_network(network, batch=spec.batch)
    problem = lowered.problem(spec.layer)
    if problem is None:
        return [error("E608", f"layer `{spec.layer}` has no MACs to map", layer_span,
                      help="map a conv, dense, matmul or einsum layer")]
    diagnostics: list[Diagnostic] = []
    loop_spans: dict[tuple[str, str, int], Span] = {}
    level_spans = {level.target.text: level.target.span for level in decl.levels}
    for level in decl.levels:
        for directive in level.directives:
            for index, loop in enumerate(directive.loops):
                if loop.dim.text not in problem.dims:
                    diagnostics.append(error(
                        "E601", f"layer `{spec.layer}` has no dim `{loop.dim.text}`",
                        loop.dim.span, help=did_you_mean(loop.dim.text, problem.dims) or
                        f"its dims: {', '.join(problem.dims)}"))
                loop_spans[(level.target.text, loop.dim.text, index)] = loop.span
        for directive in level.directives:
            for tensor_name in directive.names:
                tensors = [t.name for t in problem.tensors] + [t.role for t in problem.tensors]
                if tensor_name.text not in tensors:
                    diagnostics.append(error(
                        "E606", f"layer `{spec.layer}` has no tensor `{tensor_name.text}`",
                        tensor_name.span, help=did_you_mean(tensor_name.text, tensors)))
    keep_spans = {(level.target.text, name.text): name.span for level in decl.levels
                  for directive in level.directives if directive.kind == "keep"
                  for name in directive.names}
    components = {c.name: c for c in accelerator.memories}
    for level_spec in spec.levels:
        memory = components.get(level_spec.target)
        if memory is None or level_spec.keep is None:
            continue
        for name in level_spec.keep:
            role = next((t.role for t in problem.tensors if name in (t.name, t.role)), None)
            if role is not None and role not in memory.holds:  # unknown names: reported above
                diagnostics.append(error(
                    "E606", f"`{memory.name}` cannot keep `{name}`",
                    keep_spans.get((memory.name, name),
                                   level_spans.get(memory.name, decl.name.span)),
                    label=f"`{memory.name}` does not hold {role}s",
                    help=f"it holds only {', '.join(memory.holds)}; "
                         "add the role to its `holds`, or keep the tensor elsewhere"))
    if diagnostics:
        return diagnostics
    from dslc.arch import resolve_accelerator
    from dslc.mapping.mapping import MappingError, mapping_from_spec, mapping_issues

    arch = resolve_accelerator(accelerator)
    try:
        mapping = mapping_from_spec(spec, problem, arch)
    except MappingError as exc:  # every structural mistake was diagnosed above
        raise InternalError(f"mapping `{spec.name}`: {exc}") from exc
    for reason in mapping_issues(mapping, problem, arch):
        span = _issue_span(decl, reason.level, reason.dim, reason.axis) or \
            level_spans.get(reason.level, decl.name.span)
        diagnostics.append(error(reason.code, reason.message, span, help=reason.hint))
    for violation in mapping_violations(mapping, problem, arch, accelerator.constraints):
        related = _constraint_span(constraint_spans, violation)
        span = _violation_span(decl, violation)
        by_default = isinstance(violation.requirement, KeepRequirement) and \
            span == next((lv.target.span for lv in decl.levels
                          if lv.target.text == violation.level), None)
        diagnostics.append(error(
            "E612", violation.message, span, help=violation.hint,
            label="no `keep` here: it keeps every role it holds" if by_default else "",
            notes=(f"the constraints of accelerator `{accelerator.name}` apply to every "
                   "mapping on it",),
            related=(Label(related, "the constraint"),) if related is not None else ()))
    return diagnostics


def _trimmed(span: Span) -> Span:
    """A directive's span without the optional separator after it."""
    text = span.text.rstrip()
    if text.endswith(","):
        text = text[:-1].rstrip()
    return Span(span.file, span.start, span.start + len(text))


def _violation_span(decl: ast.MappingDecl, violation: Violation) -> Span:
    """Where the mapping breaks a constraint: the loop of the dim at the level (on the
    axis), else that level's loop directive; for keeps, the tensor's name in the level's
    `keep` or `bypass` list, else its `keep` directive; else the level, else the mapping's
    name (a level the mapping does not write)."""
    level = next((lv for lv in decl.levels if lv.target.text == violation.level), None)
    if level is None:
        return decl.name.span
    req = violation.requirement
    if isinstance(req, KeepRequirement):
        names = (req.written, req.tensor, req.role)
        for directive in level.directives:
            for name in directive.names:
                if directive.kind in ("keep", "bypass") and name.text in names:
                    return name.span
        for directive in level.directives:
            if directive.kind == "keep":
                return _trimmed(directive.span)
        return level.target.span
    directives = [d for d in level.directives
                  if (d.kind == "temporal" and not violation.axis) or
                  (d.kind == "spatial" and d.axis is not None and
                   d.axis.text.lower() == violation.axis)]
    for directive in directives:
        for loop in directive.loops:
            if loop.dim.text == violation.dim:
                return loop.span
    return _trimmed(directives[0].span) if directives else level.target.span


def _constraint_span(spans: Spans | None, violation: Violation) -> Span | None:
    """Where the constraint a mapping breaks was written."""
    if spans is None:
        return None
    req = violation.requirement
    found: Span | None
    if isinstance(req, KeepRequirement):
        found = spans.tensors.get((req.target, req.kind, req.written))
    elif isinstance(req, OrderRequirement) or req.source == "order":
        found = spans.orders.get(req.target)
    elif req.source == "factors":
        found = spans.rules.get((req.target, req.axis, violation.dim))
    elif req.source == "forbid":
        found = spans.dims.get((req.target, req.axis, violation.dim))
    else:  # allow, idle
        found = spans.dims.get((req.target, req.axis, "*allow"))
    if found is None:
        return spans.targets.get(req.target)
    return _trimmed(found)


def _issue_span(decl: ast.MappingDecl, level: str, dim: str, axis: str) -> Span | None:
    """The most precise place for a mapping issue: the loop of `dim` (on `axis` when given,
    at `level` first, else anywhere), or the spatial directive of `axis` at `level`."""
    candidates: list[tuple[int, Span]] = []
    for map_level in decl.levels:
        for directive in map_level.directives:
            directive_axis = directive.axis.text.lower() if directive.axis else ""
            if axis and directive_axis != axis:
                continue
            same_level = map_level.target.text == level
            if not dim and axis and same_level:
                span = directive.span
                text = span.text.rstrip()
                if text.endswith(","):  # the optional separator belongs to the list, not it
                    text = text[:-1].rstrip()
                return Span(span.file, span.start, span.start + len(text))
            for loop in directive.loops:
                if loop.dim.text == dim:
                    candidates.append((0 if same_level else 1, loop.span))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None
