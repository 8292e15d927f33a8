"""The programmatic facade: what the CLI calls, and what notebooks use.

Functions here return data (specs, diagnostics, costs) and never print. `lint` checks files;
`load_program` elaborates one file with its imports; `load_network` / `load_accelerator`
instantiate a point of a space; `evaluate` costs a `mapping` block; `dump` gives the
intermediate forms. Bad input is reported as
diagnostics (or `DiagnosticError`), never as an unexplained exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslc.arch import ArchModel, resolve_accelerator
from dslc.codesign.planner import Outcome, Plan
from dslc.codesign.space import Design
from dslc.cost.result import Cost
from dslc.diagnostics.diagnostic import (
    Diagnostic,
    DiagnosticError,
    InternalError,
    did_you_mean,
    sorted_diagnostics,
)
from dslc.lower.problem import Problem
from dslc.mapper.network import MapCache, NetworkMapResult
from dslc.mapper.search import MapperOptions, MapResult
from dslc.sema.loader import load
from dslc.sema.program import (
    Program,
    elaborate,
    instantiate_accelerator,
    instantiate_network,
)
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamValue, Point
from dslc.spec.codesign import STRATEGIES, CoDesignSpec
from dslc.spec.network import NetworkSpec
from dslc.syntax.ast import Ident


@dataclass(frozen=True, slots=True)
class LintResult:
    """Diagnostics of every linted file, in a deterministic order."""

    files: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def ok(self) -> bool:
        return not self.errors


def load_program(path: str | Path, text: bytes | None = None) -> Program:
    """Load and elaborate a spec file (and its imports); diagnostics are on the result."""
    return elaborate(load(path, text))


def lint(paths: Sequence[str | Path]) -> LintResult:
    """Check each file independently (with its imports)."""
    found: list[Diagnostic] = []
    for path in paths:
        found.extend(load_program(path).diagnostics)
    return LintResult(tuple(str(p) for p in paths), tuple(sorted_diagnostics(found)))


def _program_or_raise(path: str | Path) -> Program:
    program = load_program(path)
    if program.errors:
        raise DiagnosticError(program.errors)
    return program


def _point(point: dict[str, ParamValue] | Point | None) -> Point:
    if point is None:
        return ()
    items = point.items() if isinstance(point, dict) else point
    return tuple(sorted(items))


def _load_point(path: str | Path, kind: str, name: str,
                point: dict[str, ParamValue] | Point | None) -> tuple[Program, Point]:
    program = _program_or_raise(path)
    table = program.networks if kind == "network" else program.accelerators
    if name not in table:
        raise KeyError(f"no {kind} `{name}` in {path}")
    entry = table[name]
    given = _point(point)
    if not given and entry.domains:
        given = entry.point_spec(entry.point_at(0))
    return program, given


def load_network(path: str | Path, name: str,
                 point: dict[str, ParamValue] | Point | None = None) -> NetworkSpec:
    """The concrete network `name` of a spec file, at `point` (default: the space's first)."""
    program, given = _load_point(path, "network", name, point)
    return instantiate_network(program, name, given)


def load_accelerator(path: str | Path, name: str,
                     point: dict[str, ParamValue] | Point | None = None) -> AcceleratorSpec:
    """The concrete accelerator `name` of a spec file, at `point` (default: the first)."""
    program, given = _load_point(path, "accelerator", name, point)
    return instantiate_accelerator(program, name, given)


def evaluate(path: str | Path, mapping: str) -> Cost:
    """The cost of the `mapping` block named `mapping` in a spec file (dslc.cost.model).

    Raises DiagnosticError when the file has errors, KeyError (with the known names) when no
    such mapping exists, and InvalidMappingError when the mapping cannot run."""
    from dslc.cost.model import evaluate as evaluate_mapping
    from dslc.lower.lower import lower_network
    from dslc.mapping.mapping import mapping_from_spec

    program = _program_or_raise(path)
    spec = program.mappings.get(mapping)
    if spec is None:
        known = ", ".join(sorted(program.mappings)) or "none"
        raise KeyError(f"no mapping `{mapping}` in {path} (mappings: {known})")
    network = instantiate_network(program, spec.network, spec.network_point)
    accelerator = instantiate_accelerator(program, spec.accelerator, spec.accelerator_point)
    problem = lower_network(network, batch=spec.batch).problem(spec.layer)
    if problem is None:  # elaboration rejects a layer without a loop nest
        raise InternalError(f"mapping `{mapping}` names `{spec.layer}`, which has no loop nest")
    arch = resolve_accelerator(accelerator)
    return evaluate_mapping(problem, arch, mapping_from_spec(spec, problem, arch))


@dataclass(frozen=True, slots=True)
class LayerMapping:
    """`map_layer`'s answer: the search result with the problem and accelerator it is for."""

    result: MapResult
    problem: Problem
    accelerator: ArchModel
    """The resolved accelerator (its spec is `.spec`)."""


def map_layer(path: str | Path, network: str, layer: str, accelerator: str, *,
              options: MapperOptions | None = None, batch: int = 1,
              network_point: dict[str, ParamValue] | Point | None = None,
              accelerator_point: dict[str, ParamValue] | Point | None = None) -> LayerMapping:
    """The best mapping of one layer of a spec file's network on one of its accelerators.

    Raises DiagnosticError for a file with errors, KeyError (with the known names) for an
    unknown network, layer or accelerator, NoValidMappingError when nothing fits."""
    from dslc.lower.lower import lower_network
    from dslc.mapper import map_problem

    program = _program_or_raise(path)
    for kind, name, table in (("network", network, program.networks),
                              ("accelerator", accelerator, program.accelerators)):
        if name not in table:
            raise KeyError(f"no {kind} `{name}` in {path} ({kind}s: "
                           f"{', '.join(sorted(table)) or 'none'})")
    network_spec = load_network(path, network, network_point)
    accelerator_spec = load_accelerator(path, accelerator, accelerator_point)
    lowered = lower_network(network_spec, batch=batch)
    problem = lowered.problem(layer) if layer in {x.name for x in lowered.layers} else None
    if problem is None:
        mac_layers = [x.name for x in lowered.layers if x.problem is not None]
        raise KeyError(f"`{network}` has no layer `{layer}` with MACs "
                       f"({did_you_mean(layer, mac_layers) or 'layers: ' + ', '.join(mac_layers)})")
    arch = resolve_accelerator(accelerator_spec)
    return LayerMapping(map_problem(problem, arch, options), problem, arch)


@dataclass(frozen=True, slots=True)
class DesignRun:
    """`run`'s answer for a co-design of one network and one accelerator."""

    codesign: str
    result: NetworkMapResult
    problems: dict[str, Problem]
    """Problems by key (for dim names in reports)."""
    options: MapperOptions


def codesign_names(path: str | Path) -> tuple[str, ...]:
    """The co-design requests of a spec file, sorted."""
    return tuple(sorted(_program_or_raise(path).codesigns))


def _codesign_spec(program: Program, path: str | Path, codesign: str | None) -> CoDesignSpec:
    names = sorted(program.codesigns)
    if codesign is None:
        if len(names) != 1:
            raise KeyError(f"{path} has {len(names)} co-design requests; name one "
                           f"({', '.join(names) or 'none'})")
        codesign = names[0]
    if codesign not in program.codesigns:
        raise KeyError(f"no co-design `{codesign}` in {path} ({', '.join(names) or 'none'})")
    return program.codesigns[codesign]


def is_single_design(path: str | Path, codesign: str | None = None) -> bool:
    """Whether a request names one network and one accelerator (no spaces)."""
    program = _program_or_raise(path)
    return _single(program, _codesign_spec(program, path, codesign))


def _single(program: Program, spec: CoDesignSpec) -> bool:
    sizes = [program.networks[n].size for n in spec.networks] + \
        [program.accelerators[a].size for a in spec.accelerators]
    return len(spec.networks) == 1 and len(spec.accelerators) == 1 and all(
        s == 1 for s in sizes)


def plan(path: str | Path, codesign: str | None = None) -> Plan:
    """The co-design planner's plan for a request, without evaluating anything."""
    from dslc.codesign.planner import make_plan
    from dslc.codesign.space import design_space

    program = _program_or_raise(path)
    spec = _codesign_spec(program, path, codesign)
    return make_plan(spec, design_space(program, "network", spec.networks),
                     design_space(program, "accelerator", spec.accelerators))


@dataclass(frozen=True, slots=True)
class CoDesignRun:
    """`search`'s answer: the plan's outcome and the request it answers."""

    codesign: str
    outcome: Outcome
    options: MapperOptions
    store: str | None
    """The result store's path (None: in memory)."""
    reused: int
    """Pairs read back from the store instead of evaluated."""


def default_store(path: str | Path, codesign: str) -> Path:
    """Where a co-design's results persist by default: `.dslc/<file>.<codesign>.sqlite`
    beside the spec file."""
    spec = Path(path)
    return spec.parent / ".dslc" / f"{spec.stem}.{codesign}.sqlite"


def search(path: str | Path, codesign: str | None = None, *, store: str | Path | None = None,
           fresh: bool = False, jobs: int = 1, scheduler: str | None = None,
           strategy: str | None = None,
           progress: Callable[[str, int, int, float], None] | None = None) -> CoDesignRun:
    """Run the co-design planner on a request over spaces. Finished pairs persist in the
    SQLite `store` (default: `default_store`; ":memory:" keeps nothing) as they finish, so
    an interrupted search resumes; `fresh` forgets them first. `strategy` overrides the
    request's.

    Raises DiagnosticError for a file with errors, KeyError for an unknown request,
    AccuracyError for a bad accuracy table."""
    from dslc.codesign.evaluate import PairEvaluator, ResultStore
    from dslc.codesign.metrics import load_accuracies
    from dslc.codesign.planner import execute, make_plan
    from dslc.codesign.space import Instances, design_space

    program = _program_or_raise(path)
    spec = _codesign_spec(program, path, codesign)
    if strategy is not None:
        if strategy not in STRATEGIES:
            raise KeyError(f"unknown strategy `{strategy}` ({', '.join(STRATEGIES)})")
        spec = spec.model_copy(update={"strategy": strategy})
    networks = design_space(program, "network", spec.networks)
    accelerators = design_space(program, "accelerator", spec.accelerators)
    objective = spec.objective.text if spec.objective.text in ("energy", "latency", "edp") \
        else "edp"
    options = MapperOptions.from_spec(spec.mapper, objective)
    instances = Instances(program)
    accuracies: dict[Design, float] = {}
    for design in networks.designs:
        declared = instances.network(design).accuracy
        if declared is not None:
            accuracies[design] = declared
    if spec.accuracy is not None:
        table = load_accuracies(Path(path).parent / spec.accuracy.path, networks.designs)
        accuracies.update(table)
    if store is None:
        store = default_store(path, spec.name)
    store_path = None if str(store) == ":memory:" else Path(store)
    results = ResultStore(store_path)
    try:
        if fresh:
            results.clear()
        evaluator = PairEvaluator(program, spec, options, results, accuracies,
                                  shared_instances=instances)
        the_plan = make_plan(spec, networks, accelerators)
        outcome = execute(the_plan, spec, networks, accelerators, evaluator, jobs=jobs,
                          scheduler=scheduler, progress=progress)
    finally:
        results.close()
    return CoDesignRun(spec.name, outcome, options,
                       None if store_path is None else str(store_path), evaluator.reused)


def run(path: str | Path, codesign: str | None = None, *,
        progress: Callable[[int, int, str], None] | None = None,
        cache: MapCache | None = None) -> DesignRun:
    """Run a co-design request of one network and one accelerator: map every layer.

    Raises DiagnosticError for a file with errors, KeyError for an unknown or ambiguous
    request, ValueError for a request over spaces (the co-design planner's job)."""
    from dslc.lower.lower import lower_network
    from dslc.mapper import MapperOptions, map_network

    program = _program_or_raise(path)
    spec = _codesign_spec(program, path, codesign)
    if not _single(program, spec):
        raise ValueError(f"co-design `{spec.name}` searches network or accelerator spaces: "
                         "use `search` (the co-design planner)")
    objective = spec.objective.text if spec.objective.text in ("energy", "latency", "edp") \
        else "edp"
    options = MapperOptions.from_spec(spec.mapper, objective)
    network = load_network(path, spec.networks[0])
    arch = resolve_accelerator(load_accelerator(path, spec.accelerators[0]))
    lowered = lower_network(network, batch=spec.batch)
    result = map_network(lowered, arch, options, cache=cache, progress=progress)
    problems = {key: shared.problem for key, shared in lowered.distinct().items()}
    return DesignRun(spec.name, result, problems, options)


def dump_spec(path: str | Path) -> dict[str, Any]:
    """Every elaborated spec model of a file as JSON-ready data (spaces at their first point)."""
    program = _program_or_raise(path)
    out: dict[str, Any] = {"networks": {}, "accelerators": {}, "mappings": {}, "codesigns": {}}
    for name, entry in sorted(program.networks.items()):
        first = entry.point_spec(entry.point_at(0))
        out["networks"][name] = {
            "space": program.network_space(name).model_dump(mode="json"),
            "size": entry.size,
            "first_point": instantiate_network(program, name, first).model_dump(mode="json"),
        }
    for name, entry in sorted(program.accelerators.items()):
        first = entry.point_spec(entry.point_at(0))
        out["accelerators"][name] = {
            "space": program.accelerator_space(name).model_dump(mode="json"),
            "size": entry.size,
            "first_point": instantiate_accelerator(program, name, first).model_dump(
                mode="json"),
        }
    for name, mapping in sorted(program.mappings.items()):
        out["mappings"][name] = mapping.model_dump(mode="json")
    for name, codesign in sorted(program.codesigns.items()):
        out["codesigns"][name] = codesign.model_dump(mode="json")
    return out


def dump_lowered(path: str | Path, batch: int = 1) -> dict[str, Any]:
    """Per network (spaces at their first point): the layer graph with shapes, and the
    loop nests (problems) with the layers that share each one."""
    from dslc.graph.layer_graph import build_graph
    from dslc.lower.lower import lower_graph

    program = _program_or_raise(path)
    out: dict[str, Any] = {}
    for name, entry in sorted(program.networks.items()):
        network = instantiate_network(program, name, entry.point_spec(entry.point_at(0)))
        graph = build_graph(network)
        lowered = lower_graph(graph, batch)
        layers = []
        for layer in lowered.layers:
            record: dict[str, Any] = {
                "name": layer.name, "op": graph.layer(layer.name).op,
                "inputs": list(graph.layer(layer.name).inputs),
                "shape": list(graph.shapes[layer.name]),
            }
            if layer.problem is not None:
                record["macs"] = layer.problem.macs
                record["problem_key"] = layer.problem.key
            elif layer.movement is not None:
                record["input_words"] = layer.movement.input_words
                record["output_words"] = layer.movement.output_words
            layers.append(record)
        problems = []
        for key, (problem, names) in lowered.distinct().items():
            problems.append({
                "key": key, "op": problem.op, "macs": problem.macs,
                "dims": dict(zip(problem.dims, problem.bounds, strict=True)),
                "tensors": {t.name: {"role": t.role, "axes": [
                    " + ".join(f"{c}*{problem.dims[d]}" if c != 1 else problem.dims[d]
                               for d, c in axis.terms) for axis in t.axes]}
                    for t in problem.tensors},
                "layers": list(names),
            })
        out[name] = {"inputs": {i.name: list(i.shape) for i in network.inputs},
                     "macs": lowered.macs, "layers": layers, "problems": problems}
    return out


def dump_ast(path: str | Path) -> str:
    """The AST of the root file, one node per line, indented."""
    workspace = load(path)
    if any(d.is_error for d in workspace.diagnostics):
        raise DiagnosticError([d for d in workspace.diagnostics if d.is_error])
    root = next(f for f in workspace.files if f.path == workspace.root)
    return _format_ast(root.module)


def _format_ast(node: object, indent: int = 0) -> str:
    from dataclasses import fields, is_dataclass

    pad = "  " * indent
    if isinstance(node, tuple):
        return "\n".join(_format_ast(item, indent) for item in node)
    if not is_dataclass(node):
        return f"{pad}{node!r}"
    name = type(node).__name__
    if isinstance(node, Ident):
        return f"{pad}Ident {node.text!r}"
    span = getattr(node, "span", None)
    where = f" @{span.file.line_col(span.start)[0]}:{span.file.line_col(span.start)[1]}" \
        if span is not None else ""
    lines = [f"{pad}{name}{where}"]
    for f in fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if value is None or value == ():
            continue
        if isinstance(value, str | int | float | bool):
            lines.append(f"{pad}  {f.name}: {value!r}")
        else:
            lines.append(f"{pad}  {f.name}:")
            lines.append(_format_ast(value, indent + 2))
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)

