"""A mapping as data and text: JSON, a readable loop nest, and a pasteable `mapping` block.

In: a `Mapping` IR with its `Problem` (and the `ArchModel` for the `.cd` block). Out: a
JSON-ready dict, a plain-text loop nest, and `.cd` source that `dslc lint` accepts and
`dslc eval` costs the same. No terminal styling here (dslc.report does that).

JSON shape: `{"levels": [...]}` outermost first; each level has `name`, `temporal` (the
`[dim, factor]` loops outer to inner), `spatial` (the `[dim, factor]` loops of the fanouts
directly below it), `fanouts` (per fanout name: `{"x": [[dim, factor], ...], "y": [...]}`)
and `keeps` (tensor names, in problem order).
"""

from __future__ import annotations

from typing import Any

from dslc.arch import ArchModel, FanoutModel
from dslc.cost.result import cost_to_json
from dslc.lower.problem import Problem
from dslc.mapper.network import NetworkMapResult
from dslc.mapper.search import MapResult
from dslc.mapping.mapping import Mapping


def mapping_to_json(mapping: Mapping, problem: Problem) -> dict[str, Any]:
    """The JSON-ready form (see the module docstring)."""
    dims = problem.dims
    levels = []
    for level in mapping.levels:
        fanouts: dict[str, dict[str, list[list[Any]]]] = {}
        for loop in level.spatial:
            fanouts.setdefault(loop.fanout, {"x": [], "y": []})[loop.axis].append(
                [dims[loop.dim], loop.factor])
        levels.append({
            "name": level.name,
            "temporal": [[dims[loop.dim], loop.factor] for loop in level.temporal],
            "spatial": [[dims[loop.dim], loop.factor] for loop in level.spatial],
            "fanouts": fanouts,
            "keeps": [t.name for t in problem.tensors if t.name in level.keep],
        })
    return {"levels": levels}


def format_loop_nest(mapping: Mapping, problem: Problem) -> str:
    """The mapping as nested loops, outermost first, one line per loop, with the level each
    loop belongs to and what it keeps; spatial loops are `parallel_for`."""
    lines = []
    depth = 0
    counters: dict[str, int] = {}
    for level in mapping.levels:
        kept = ", ".join(t.name for t in problem.tensors if t.name in level.keep) or "nothing"
        lines.append(f"{'  ' * depth}# {level.name} keeps {kept}")
        for loop in level.temporal:
            name = problem.dims[loop.dim]
            index = f"{name.lower()}{counters.get(name, 0)}"
            counters[name] = counters.get(name, 0) + 1
            lines.append(f"{'  ' * depth}for {index} in [0, {loop.factor}):")
            depth += 1
        for spatial in level.spatial:
            name = problem.dims[spatial.dim]
            index = f"{name.lower()}{counters.get(name, 0)}"
            counters[name] = counters.get(name, 0) + 1
            lines.append(f"{'  ' * depth}parallel_for {index} in [0, {spatial.factor}):"
                         f"  # {spatial.fanout} {spatial.axis.upper()}")
            depth += 1
    lines.append(f"{'  ' * depth}{problem.op} MAC")
    return "\n".join(lines)


def mapping_to_cd(mapping: Mapping, problem: Problem, arch: ArchModel, name: str,
                  layer_ref: str) -> str:
    """A `mapping NAME for LAYER_REF on ACCELERATOR { ... }` block. `keep` is written only
    where it differs from what the memory holds."""
    dims = problem.dims
    width = max(len(component.name) for component in arch.hierarchy)
    lines = [f"mapping {name} for {layer_ref} on {arch.name} {{"]
    if mapping.imperfect:
        lines.append("    imperfect = true")
    levels = {level.name: level for level in mapping.levels}
    for component in arch.hierarchy:
        if isinstance(component, FanoutModel):
            parts = []
            for level in mapping.levels:
                for axis in ("x", "y"):
                    loops = [loop for loop in level.spatial
                             if loop.fanout == component.name and loop.axis == axis]
                    if loops:
                        body = ", ".join(f"{dims[loop.dim]} {loop.factor}" for loop in loops)
                        parts.append(f"spatial {axis} [{body}]")
            if parts:
                lines.append(f"    {component.name:<{width}} {{ {', '.join(parts)} }}")
            continue
        level = levels[component.name]
        parts = []
        if level.temporal:
            body = ", ".join(f"{dims[loop.dim]} {loop.factor}" for loop in level.temporal)
            parts.append(f"temporal [{body}]")
        holds = [t.name for t in problem.tensors if t.role in component.holds]
        if set(level.keep) != set(holds):
            kept = [t.name for t in problem.tensors if t.name in level.keep]
            parts.append(f"keep [{', '.join(kept)}]" if kept else
                         f"bypass [{', '.join(holds)}]")
        inner = f" {', '.join(parts)} " if parts else " "
        lines.append(f"    {component.name:<{width}} {{{inner}}}")
    lines.append("}")
    return "\n".join(lines)


def map_result_to_json(result: MapResult, problem: Problem) -> dict[str, Any]:
    """What `dslc map` prints: the `dslc eval` object plus `mapping`, `mapspace_size`,
    `evaluated` and `search` (the strategy that ran)."""
    data = cost_to_json(result.cost)
    data["mapping"] = mapping_to_json(result.mapping, problem)
    data["mapspace_size"] = result.mapspace_size
    data["evaluated"] = result.evaluated
    data["search"] = result.search
    return data


def network_result_to_json(result: NetworkMapResult, problems: dict[str, Problem],
                           *, timings: bool = True) -> dict[str, Any]:
    """What `dslc run` prints for one design. `problems` maps problem keys to problems (for
    dim names); `timings=False` drops `search_seconds` (for reproducible files)."""
    data: dict[str, Any] = {
        "network": result.network,
        "accelerator": result.accelerator,
        "energy_pj": result.energy_pj,
        "cycles": result.cycles,
        "latency_s": result.latency_s,
        "edp": result.edp,
        "area_mm2": result.area_mm2,
        "distinct_problems": result.distinct,
        "layers": [{
            "name": layer.name,
            "problem_key": layer.problem_key,
            "energy_pj": layer.energy_pj,
            "cycles": layer.cycles,
            "utilization": layer.result.cost.utilization,
            "bound_cycles": layer.bound_cycles,
            "bound_energy_pj": layer.bound_energy_pj,
            "mapspace_size": layer.result.mapspace_size,
            "evaluated": layer.result.evaluated if layer.shared_with == layer.name else 0,
            "shared_with": layer.shared_with,
            "mapping": mapping_to_json(layer.result.mapping, problems[layer.problem_key]),
        } for layer in result.layers],
    }
    if timings:
        data["search_seconds"] = result.search_seconds
    return data
