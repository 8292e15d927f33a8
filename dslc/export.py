"""Results out of dslc: JSON-ready data, CSV rows and files, and mappings as text.

The one place where results take their external shape (documented in docs/cli.md):
`cost_to_json` (what `dslc eval` prints), `map_result_to_json` (`dslc map`),
`network_result_to_json` (`dslc run` of one design), `plan_to_json` and `outcome_to_json`
(`dslc plan`, `dslc run` over spaces), the CSV rows of a run (`LAYER_CSV_COLUMNS`) and of a
co-design (`PAIR_CSV_COLUMNS`), `write_design`/`write_codesign` (the `--out` files), a
mapping as a loop nest, as short table summaries and as a pasteable `.cd` block, a resolved
accelerator as an `accelerator` block and a Timeloop study as a spec (`study_to_cd`), and
`write_text` (imported networks, exported studies).

In: results of the API (`Cost`, `MapResult`, `NetworkMapResult`, `Plan`, `Outcome`) and
the problems they are for. Out: dicts and lists of plain values with keys in a fixed order,
free of timestamps (so that equal runs give equal bytes), and files. It computes no figure
that is not in the result, and does no terminal styling (dslc.report does).

Mapping JSON: `{"levels": [...]}` outermost first; each level has `name`, `temporal` (the
`[dim, factor]` loops outer to inner), `spatial` (the `[dim, factor]` loops of the fanouts
directly below it), `fanouts` (per fanout name: `{"x": [[dim, factor], ...], "y": [...]}`)
and `keeps` (tensor names, in problem order).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dslc.arch import ArchModel, FanoutModel
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import PairResult
from dslc.codesign.learned import EvaluatorQuality, Prediction
from dslc.codesign.planner import BoundsReport, Outcome, Plan
from dslc.cost.result import Cost
from dslc.lower.problem import Problem
from dslc.mapper.network import NetworkMapResult
from dslc.mapper.search import MapResult
from dslc.mapper.space import SpaceSize
from dslc.mapping.mapping import Mapping


def to_json(data: Any) -> str:
    """The text of a JSON document (two-space indent, keys in the order given). A float
    that is not finite (NaN, infinity) becomes null: the document is always strict JSON."""
    return json.dumps(_strict(data), indent=2, sort_keys=False, allow_nan=False)


def _strict(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _strict(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_strict(value) for value in data]
    return data


def write_text(path: Path, text: str) -> None:
    """Write a text file (an imported network, an exported study), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def listing(names: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`: how messages list written files."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


# ---- one mapping's cost (`dslc eval`) ----------------------------------------------------


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def cost_to_json(cost: Cost) -> dict[str, Any]:
    """The JSON-ready form of a cost (keys in a fixed order, levels outermost first)."""
    return {
        "layer": cost.layer,
        "accelerator": cost.accelerator,
        "macs": cost.macs,
        "cycles": cost.cycles,
        "compute_cycles": cost.compute_cycles,
        "latency_s": _finite(cost.latency_s),
        "utilization": cost.utilization,
        "energy_pj": cost.energy_pj,
        "area_mm2": cost.area_mm2,
        "levels": [
            {
                "name": level.name,
                "instances": level.instances,
                "utilized_instances": level.utilized_instances,
                "energy_pj": level.energy_pj,
                "access_energy_pj": level.access_energy_pj,
                "leakage_energy_pj": level.leakage_energy_pj,
                "cycles": level.cycles,
                "capacity_words": level.capacity_words,
                "used_words": level.used_words,
                "area_um2": level.area_um2,
                "tensors": {
                    tensor.name: {
                        "reads": tensor.reads,
                        "fills": tensor.fills,
                        "updates": tensor.updates,
                        "reads_per_instance": tensor.reads_per_instance,
                        "fills_per_instance": tensor.fills_per_instance,
                        "updates_per_instance": tensor.updates_per_instance,
                        "tile_words": tensor.tile_words,
                        "distinct_words": tensor.distinct_words,
                        "energy_pj": tensor.energy_pj,
                    }
                    for tensor in level.tensors
                },
            }
            for level in cost.levels
        ],
        "compute": {
            "name": cost.compute.name,
            "instances": cost.compute.instances,
            "utilized_instances": cost.compute.utilized_instances,
            "macs": cost.compute.macs,
            "energy_per_mac_pj": cost.compute.energy_per_mac_pj,
            "mac_energy_pj": cost.compute.mac_energy_pj,
            "leakage_energy_pj": cost.compute.leakage_energy_pj,
            "energy_pj": cost.compute.energy_pj,
            "area_um2": cost.compute.area_um2,
        },
    }


# ---- mappings (`dslc map`, `dslc run`) --------------------------------------------------


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
                  layer_ref: str, accelerator_ref: str | None = None) -> str:
    """A `mapping NAME for LAYER_REF on ACCELERATOR { ... }` block (`accelerator_ref`, such
    as `acc(rows = 8)`, names a point of a space; default: the accelerator's name). `keep`
    is written only where it differs from what the memory holds."""
    dims = problem.dims
    width = max(len(component.name) for component in arch.hierarchy)
    lines = [f"mapping {name} for {layer_ref} on {accelerator_ref or arch.name} {{"]
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


# ---- a study as .cd text (`dslc import-timeloop -o`) ------------------------------------


def _identifier(name: str) -> str:
    text = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_") or "layer"
    return f"l{text}" if text[0].isdigit() else text


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`, ... when taken; the result is taken."""
    found, index = name, 2
    while found in taken:
        found, index = f"{name}_{index}", index + 1
    taken.add(found)
    return found


def _dataflow_cd(fanout: FanoutModel) -> str:
    flow = fanout.dataflow
    if flow.preset is not None:
        return flow.preset
    parts = [f"{axis} = [{', '.join(dims)}]" for axis, dims in (("x", flow.x), ("y", flow.y))
             if dims is not None]
    if flow.stationary is not None:
        parts.append(f"stationary = {flow.stationary}")
    return "{ " + ", ".join(parts) + " }"


def accelerator_to_cd(arch: ArchModel) -> str:
    """An `accelerator` block stating every figure of a resolved accelerator (nothing left
    to the estimator), so that it resolves to the same model."""
    lines = [f"accelerator {arch.name} {{",
             f"    word       = {arch.compute.word_bits}b",
             f"    clock      = {arch.clock_hz!r}Hz",
             f"    technology = {arch.technology_nm!r}nm"]
    for level in arch.levels:
        parts = []
        if level.size_words is not None:
            parts.append(f"size = {level.size_words} words")
        parts += [f"word = {level.word_bits}b", f"width = {level.width_bits}b",
                  f"read = {level.read_energy_pj!r}pJ", f"write = {level.write_energy_pj!r}pJ",
                  f"update = {level.update_energy_pj!r}pJ",
                  f"leakage = {level.leakage_pj_per_cycle!r}pJ"]
        if level.shared_bandwidth and level.read_bandwidth_words is not None:
            parts.append(f"bandwidth = {level.read_bandwidth_words!r}")
        else:
            if level.read_bandwidth_words is not None:
                parts.append(f"read_bandwidth = {level.read_bandwidth_words!r}")
            if level.write_bandwidth_words is not None:
                parts.append(f"write_bandwidth = {level.write_bandwidth_words!r}")
        parts += [f"buffering = {level.buffering}", f"area = {level.area_um2!r}um2",
                  f"holds = [{', '.join(level.holds)}]",
                  f"power_gated = {'true' if level.power_gated else 'false'}"]
        lines.append(f"    memory {level.name} {{ {', '.join(parts)} }}")
        for fanout in level.fanouts:
            diagonal = ", diagonal = true" if fanout.diagonal else ""
            lines.append(f"    fanout {fanout.name} {{ mesh = {fanout.mesh_x} x "
                         f"{fanout.mesh_y}, dataflow = {_dataflow_cd(fanout)}{diagonal} }}")
    compute = arch.compute
    lines.append(f"    compute {compute.name} {{ energy = {compute.energy_pj!r}pJ, word = "
                 f"{compute.word_bits}b, area = {compute.area_um2!r}um2, leakage = "
                 f"{compute.leakage_pj_per_cycle!r}pJ, power_gated = "
                 f"{'true' if compute.power_gated else 'false'} }}")
    lines.append("}")
    return "\n".join(lines)


def _index(problem: Problem, axis: Any) -> str:
    return " + ".join(problem.dims[d] if c == 1 else f"{c}*{problem.dims[d]}"
                      for d, c in axis.terms)


def study_to_cd(arch: ArchModel, layers: Sequence[tuple[str, Problem, Mapping]],
                source: str) -> str:
    """A Timeloop study as a spec: the accelerator, one network per layer (its loop nest as
    an `einsum` layer, one network input per input tensor) and one mapping block per
    layer."""
    # A file name may hold a line break or a terminal escape: the comment keeps one line.
    shown = "".join(c if c.isprintable() else "\ufffd" for c in source)
    blocks = [f"# Imported from the Timeloop study {shown} by `dslc import-timeloop`.",
              "# One network per problem file (an einsum layer with Timeloop's dims and "
              "projections), one mapping per mapping file.", "", accelerator_to_cd(arch)]
    # Networks, mappings and the accelerator share one namespace: layers `a.b` and `a_b`
    # would both be `a_b`, and a layer `x_mapping` would meet layer x's mapping.
    taken = {arch.name}
    for name, problem, mapping in layers:
        ident = _unique(_identifier(name), taken)
        mapping_name = _unique(f"{ident}_mapping", taken)
        inputs = [t for t in problem.tensors if t.role == "input"]
        lines = ["", f"network {ident} {{"]
        local = {ident}
        data = [_unique(f"{_identifier(t.name)}_data", local) for t in inputs]
        for tensor, data_name in zip(inputs, data, strict=True):
            shape = ", ".join(str(axis.extent(problem.bounds)) for axis in tensor.axes)
            lines.append(f"    input {data_name}: [{shape}]")
        args = ", ".join(data)
        lines.append(f"    layer {ident} = einsum({args}) {{")
        lines.append("        dims " + ", ".join(
            f"{d} = {b}" for d, b in zip(problem.dims, problem.bounds, strict=True)))
        for tensor in problem.tensors:
            axes = ", ".join(_index(problem, axis) for axis in tensor.axes)
            lines.append(f"        {tensor.role} {tensor.name}[{axes}]")
        lines += ["    }", "}", "",
                  mapping_to_cd(mapping, problem, arch, mapping_name, f"{ident}.{ident}")]
        blocks += lines
    return "\n".join(blocks) + "\n"


def map_result_to_json(result: MapResult, problem: Problem) -> dict[str, Any]:
    """What `dslc map` prints: the `dslc eval` object plus `mapping`, `mapspace_size` and
    `mapspace_bounds` (`mapspace_json`), `evaluated` and `search` (the strategy that
    ran)."""
    data = cost_to_json(result.cost)
    data["mapping"] = mapping_to_json(result.mapping, problem)
    data.update(mapspace_json(result))
    data["evaluated"] = result.evaluated
    data["search"] = result.search
    return data


def mapspace_json(result: MapResult) -> dict[str, Any]:
    """`mapspace_size`: the map space's exact size, or null when it was too large to count
    exactly; `mapspace_bounds`: [fewest, most] candidates (both the size when exact)."""
    upper = result.mapspace_size if result.mapspace_upper is None else result.mapspace_upper
    return {"mapspace_size": result.mapspace_size if result.mapspace_upper is None else None,
            "mapspace_bounds": [result.mapspace_size, upper]}


def mapspace_text(result: MapResult) -> str:
    """The map space's size as a report line says it: `1,234,567`, or `between 1.234e15 and
    5.678e30` when it was too large to count exactly (`SpaceSize`)."""
    upper = result.mapspace_size if result.mapspace_upper is None else result.mapspace_upper
    return str(SpaceSize(result.mapspace_size, upper))


def energy_by_level(cost: Cost) -> dict[str, float]:
    """A layer's energy per memory level (outermost first), then the MAC units' (by the
    compute unit's name); the values sum to `cost.energy_pj`."""
    found = {level.name: level.energy_pj for level in cost.levels}
    found[cost.compute.name] = cost.compute.energy_pj
    return found


def network_energy_by_level(result: NetworkMapResult) -> dict[str, float]:
    """`energy_by_level` summed over a network's MAC layers."""
    total: dict[str, float] = {}
    for layer in result.layers:
        for name, energy in energy_by_level(layer.result.cost).items():
            total[name] = total.get(name, 0.0) + energy
    return total


def network_result_to_json(result: NetworkMapResult, problems: dict[str, Problem],
                           *, timings: bool = True, objective: str | None = None
                           ) -> dict[str, Any]:
    """What `dslc run` prints for one design. `problems` maps problem keys to problems (for
    dim names); `timings=False` drops `search_seconds` (for reproducible files);
    `objective` is the request's objective as written (`minimize edp`)."""
    data: dict[str, Any] = {
        "network": result.network,
        "accelerator": result.accelerator,
        "objective": objective,
        "energy_pj": result.energy_pj,
        "cycles": result.cycles,
        "latency_s": result.latency_s,
        "edp": result.edp,
        "area_mm2": result.area_mm2,
        "distinct_problems": result.distinct,
        "energy_by_level_pj": network_energy_by_level(result),
        "layers": [{
            "name": layer.name,
            "problem_key": layer.problem_key,
            "energy_pj": layer.energy_pj,
            "energy_by_level_pj": energy_by_level(layer.result.cost),
            "cycles": layer.cycles,
            "utilization": layer.result.cost.utilization,
            "bound_cycles": layer.bound_cycles,
            "bound_energy_pj": layer.bound_energy_pj,
            **mapspace_json(layer.result),
            "evaluated": layer.result.evaluated if layer.shared_with == layer.name else 0,
            "shared_with": layer.shared_with,
            "mapping": mapping_to_json(layer.result.mapping, problems[layer.problem_key]),
        } for layer in result.layers],
    }
    if timings:
        data["search_seconds"] = result.search_seconds
    return data


def spatial_summary(mapping: Mapping, dims: Sequence[str]) -> str:
    """The spatial unrolling, per fanout and axis, e.g. `PE x:K16 y:C4,R3` (or `-`)."""
    parts = []
    for level in mapping.levels:
        fanouts: dict[str, dict[str, list[str]]] = {}
        for loop in level.spatial:
            axes = fanouts.setdefault(loop.fanout, {"x": [], "y": []})
            axes[loop.axis].append(f"{dims[loop.dim]}{loop.factor}")
        for fanout, axes in fanouts.items():
            text = " ".join(f"{axis}:{','.join(loops)}" for axis, loops in axes.items() if loops)
            parts.append(f"{fanout} {text}")
    return "; ".join(parts) or "-"


def temporal_summary(mapping: Mapping, dims: Sequence[str]) -> str:
    """Each memory's temporal loops outer to inner, e.g. `DRAM[K4 P2] GLB[C8]` (or `-`)."""
    parts = []
    for level in mapping.levels:
        if level.temporal:
            loops = " ".join(f"{dims[loop.dim]}{loop.factor}" for loop in level.temporal)
            parts.append(f"{level.name}[{loops}]")
    return " ".join(parts) or "-"


# ---- co-design plans and outcomes ----------------------------------------------------------


UNIT_SUFFIXES = {"size": "bits", "words": "words", "energy": "pj", "frequency": "hz",
                 "time": "s", "area": "um2", "length": "nm", "bandwidth": "bits_per_s",
                 "power": "w", "cycles": "cycles"}
"""The unit a quantity parameter's key ends with, per dimension (dslc.sema.units): its base
unit, so `glb = 4KiB` is `glb_bits: 32768` and `clock = 1GHz` is `clock_hz: 1000000000`.
Percentages (fractions) and plain numbers keep their names."""


def param_key(name: str, dimension: str) -> str:
    """A parameter's key in JSON and CSV: its name with its unit (`glb_bits`), kept as is
    when the parameter has no unit or its name already ends with it."""
    suffix = UNIT_SUFFIXES.get(dimension)
    if suffix is None or name.endswith(f"_{suffix}"):
        return name
    return f"{name}_{suffix}"


def _base_value(value: object) -> object:
    """A parameter value as written out: integral numbers as integers (a size in bits)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def design_json(design: Design) -> dict[str, Any]:
    """A design: `name`, `params` (numbers in base units with the unit in the key, sizes in
    bits as integers: `glb_bits`) and `label`."""
    params = {param_key(key, design.dimension(key)): _base_value(value)
              for key, value in design.params().items()}
    return {"name": design.space, "params": params, "label": design.label}


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "strategy": plan.strategy,
        "reason": plan.reason,
        "objective": plan.objective,
        "networks": plan.networks,
        "accelerators": plan.accelerators,
        "pairs_total": plan.pairs_total,
        "pairs_planned": plan.pairs_planned,
        "reference": None if plan.reference is None else design_json(plan.reference),
        "reference_reason": plan.reference_reason,
        "keep": plan.keep,
        "phases": [{"name": p.name, "pairs": p.pairs, "description": p.description}
                   for p in plan.phases],
        "ruled_out": plan.ruled_out,
        "at_most": plan.at_most,
        "budget": {"max_pairs": plan.budget.max_pairs,
                   "time_limit_s": plan.budget.time_limit_s},
        "bounded": plan.monotone,
        "bounds_note": plan.monotone_note,
    }


def _sign(objective: str) -> float:
    """-1 for a maximised objective (scores are minimised: maximised ones are negated)."""
    return -1.0 if objective.startswith("maximize") else 1.0


def pair_json(result: PairResult, score: float, objective: str = "minimize",
              failure: str = "") -> dict[str, Any]:
    """One pair; `objective` (as written, `maximize accuracy`) gives the value its sign;
    `failure` says why an infeasible pair is so (`Outcome.failure`)."""
    metrics = result.metrics
    data: dict[str, Any] = {
        "network": design_json(result.network),
        "accelerator": design_json(result.accelerator),
        "objective": _sign(objective) * score if math.isfinite(score) else None,
    }
    if metrics is None:
        data["failure"] = failure or result.failure
        return data
    if failure:
        data["failure"] = failure
    data.update({
        "energy_pj": metrics.energy_pj, "cycles": metrics.cycles,
        "latency_s": metrics.latency_s, "edp": metrics.edp, "area_mm2": metrics.area_mm2,
        "accuracy": metrics.accuracy,
    })
    return data


def infeasibility_json(outcome: Outcome) -> dict[str, Any]:
    """Why evaluated pairs are infeasible: `constraints` (each `constraint` as written,
    `broken_by`, the evaluated pairs breaking it, and `ruled_out_by_bounds`, the pairs of
    the whole space its bounds rule out alone before evaluation, null without bounds),
    `ruled_out_unevaluated` (pairs the
    constraints ruled out before evaluation), `no_mapping`, `unknown_accuracy` (networks
    whose accuracy is unknown while a constraint bounds it) and `closest` (the infeasible
    pair missing its constraints by the least: `network`, `accelerator`, `breaks`, `excess`,
    `by_bounds`: true when no pair was evaluated and it is the pair whose bounds come
    closest, `excess` then a lower bound) or null."""
    why = outcome.infeasibility()
    closest = None
    if why.closest is not None:
        closest = {"network": why.closest[0].label, "accelerator": why.closest[1].label,
                   "breaks": list(why.closest_breaks), "excess": why.closest_excess,
                   "by_bounds": why.by_bounds}
    by_bounds = {} if outcome.bounds is None else dict(outcome.bounds.broken_by)
    return {
        "constraints": [{"constraint": text, "broken_by": count,
                         "ruled_out_by_bounds": by_bounds.get(text)}
                        for text, count in why.constraints],
        "ruled_out_unevaluated": None if outcome.bounds is None
        else dict(outcome.bounds.removed)["constraints"],
        "no_mapping": why.no_mapping,
        "unknown_accuracy": list(why.unknown_accuracy),
        "closest": closest,
    }


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def bounds_json(report: BoundsReport | None) -> dict[str, Any] | None:
    """What the bounds did: pairs each argument removed, and how tight they were."""
    if report is None:
        return None
    return {
        "bounded": report.monotone,
        "note": report.note,
        "ruled_out": report.ruled_out,
        "removed": dict(report.removed),
        "tightness": {name: {"least": least, "median": median, "largest": largest}
                      for name, least, median, largest in report.tightness},
    }


def outcome_to_json(outcome: Outcome, top: int = 10, *, store_notes: Sequence[str] = ()
                    ) -> dict[str, Any]:
    """The documented `dslc run --format json` object of a co-design."""
    scores = outcome.scores
    ranked = outcome.ranked()
    check = outcome.rank_check
    best = outcome.best
    objective = outcome.plan.objective
    return {
        "strategy": outcome.plan.strategy,
        "reason": outcome.plan.reason,
        "objective": objective,
        "pairs_total": outcome.plan.pairs_total,
        "pairs_evaluated": outcome.pairs_evaluated,
        "reduction": outcome.reduction,
        "reference": None if outcome.plan.reference is None
        else design_json(outcome.plan.reference),
        "kept": [d.label for d in outcome.kept],
        "rank_check": None if check is None else {
            "spearman": check.spearman, "kendall": check.kendall, "samples": check.samples,
            "accelerators": [d.label for d in check.accelerators],
            "winners": [{"accelerator": a.label, "network": n.label, "reference_rank": r}
                        for a, n, r in check.winners],
            "keep": check.keep, "passed": check.passed},
        "optimality": outcome.optimality,
        "gap": _finite_or_none(outcome.gap),
        "unproved": None if outcome.unproved is None else {
            "untrained_networks": outcome.unproved.untrained,
            "networks": outcome.unproved.networks,
            "gap_accuracy": outcome.unproved.assumed, "text": outcome.unproved.text},
        "bounds": bounds_json(outcome.bounds),
        "log": list(outcome.log),
        "store_notes": list(store_notes),
        "best": None if best is None else outcome_best_json(outcome),
        "top": [pair_json(outcome.results[pair], scores[pair], objective,
                          outcome.failure(pair)) for pair in ranked[:top]],
        "infeasibility": infeasibility_json(outcome),
        "pareto": [pair_json(result, scores[(result.network, result.accelerator)], objective)
                   for result in outcome.pareto],
        **({} if outcome.learned is None else learned_json(outcome)),
    }


def _prediction_json(predicted: Prediction, objective: str) -> dict[str, Any]:
    return {"energy_pj": predicted.energy_pj, "latency_s": predicted.latency_s,
            "edp": predicted.energy_pj * predicted.latency_s,
            "area_mm2": predicted.area_mm2, "accuracy": predicted.accuracy,
            "objective": _finite_or_none(_sign(objective) * predicted.objective)}


def evaluator_json(quality: EvaluatorQuality) -> dict[str, Any]:
    """The evaluator's quality (`dslc learn evaluator --format json`, and `evaluator` of a
    differentiable run; not `train_seconds` and `reused`, which vary by run). A figure
    over fewer than two pairs is null."""
    return {
        "spearman": _finite_or_none(quality.spearman),
        "kendall": _finite_or_none(quality.kendall),
        "mape_energy": _finite_or_none(quality.mape_energy),
        "mape_latency": _finite_or_none(quality.mape_latency),
        "mape_area": _finite_or_none(quality.mape_area), "train_pairs": quality.train_pairs,
        "heldout_pairs": quality.heldout_pairs, "unseen_pairs": quality.unseen_pairs,
        "unseen_spearman": _finite_or_none(quality.unseen_spearman),
        "unseen_kendall": _finite_or_none(quality.unseen_kendall),
        "unseen_mape_energy": _finite_or_none(quality.unseen_mape_energy),
        "unseen_mape_latency": _finite_or_none(quality.unseen_mape_latency),
        "key": quality.key}


def learned_json(outcome: Outcome) -> dict[str, Any]:
    """The differentiable strategy's keys (docs/cli.md): `evaluator`, `mode`,
    `cost_weight`, `weights`, `candidates_checked`, `candidates`, `trajectory`, and
    `predicted` added to `best`."""
    learned = outcome.learned
    assert learned is not None
    objective = outcome.plan.objective
    quality = learned.evaluator
    predicted = {(c.network, c.accelerator): c.predicted for c in learned.candidates}
    extra: dict[str, Any] = {
        "mode": learned.mode,
        "cost_weight": learned.cost_weight,
        "weights": list(learned.weights),
        "evaluator": evaluator_json(quality),
        "candidates_checked": len(predicted),
        "candidates": [{
            **pair_json(outcome.results[(c.network, c.accelerator)],
                        outcome.scores[(c.network, c.accelerator)], objective,
                        outcome.failure((c.network, c.accelerator))),
            "predicted": _prediction_json(c.predicted, objective),
            "cost_weight": c.cost_weight, "round": c.round} for c in learned.candidates],
        "trajectory": [{"step": step.step, "loss": step.loss,
                        "expected_cost": step.expected_cost,
                        "accuracy_loss": step.accuracy_loss,
                        "network": step.network.label,
                        "accelerator": step.accelerator.label}
                       for step in learned.trajectory],
    }
    best = outcome.best
    if best is not None:
        found = predicted.get((best.network, best.accelerator))
        extra["best"] = {**outcome_best_json(outcome),
                         "predicted": None if found is None
                         else _prediction_json(found, objective)}
    return extra


def outcome_best_json(outcome: Outcome) -> dict[str, Any]:
    """`best` of the JSON object (null when nothing feasible was found)."""
    best = outcome.best
    assert best is not None
    return {**pair_json(best, outcome.scores[(best.network, best.accelerator)],
                        outcome.plan.objective),
            "layers": [{"name": layer.name, "problem_key": layer.problem_key,
                        "energy_pj": layer.energy_pj, "cycles": layer.cycles,
                        "utilization": layer.utilization} for layer in best.layers]}


PAIR_CSV_COLUMNS = ("network", "accelerator", "objective", "energy_pj", "cycles", "latency_s",
                    "edp", "area_mm2", "accuracy", "feasible", "pareto")
"""The fixed columns of pairs.csv; `pair_csv_columns` adds one per design parameter."""


def _parameters(outcome: Outcome, side: int) -> dict[str, str]:
    """The parameters of one side (0 networks, 1 accelerators) of the evaluated pairs and
    their dimensions, sorted by name."""
    found: dict[str, str] = {}
    for pair in outcome.results:
        design = pair[side]
        for key, _ in design.point:
            found.setdefault(key, design.dimension(key))
    return dict(sorted(found.items()))


def parameter_columns(outcome: Outcome) -> tuple[list[str], list[str]]:
    """pairs.csv's parameter columns: the network parameters, then the accelerator ones,
    each sorted by name and carrying its unit (`glb_bits`, `param_key`); a name both kinds
    use is prefixed (`network.width`, `accelerator.width`)."""
    networks, accelerators = _parameters(outcome, 0), _parameters(outcome, 1)
    shared = set(networks) & set(accelerators)
    return ([f"network.{param_key(n, d)}" if n in shared else param_key(n, d)
             for n, d in networks.items()],
            [f"accelerator.{param_key(a, d)}" if a in shared else param_key(a, d)
             for a, d in accelerators.items()])


def pair_csv_columns(outcome: Outcome) -> list[str]:
    """PAIR_CSV_COLUMNS, then one column per network and accelerator parameter."""
    networks, accelerators = parameter_columns(outcome)
    return [*PAIR_CSV_COLUMNS, *networks, *accelerators]


def _parameter_values(names: Sequence[Sequence[str]], pair: tuple[Design, Design]
                      ) -> list[object]:
    """A pair's parameter values in `parameter_columns` order: numbers in base units (sizes
    in bits as integers), symbols as written; empty where the pair's space lacks the
    parameter."""
    values: list[object] = []
    for side, design in enumerate(pair):
        params = design.params()
        for name in names[side]:
            value = params.get(name)
            values.append("" if value is None else _base_value(value))
    return values


def outcome_csv_rows(outcome: Outcome) -> list[list[object]]:
    """One row per evaluated pair (best first), columns `pair_csv_columns`; the objective
    with its sign as written."""
    front = {(r.network, r.accelerator) for r in outcome.pareto}
    sign = _sign(outcome.plan.objective)
    names = (list(_parameters(outcome, 0)), list(_parameters(outcome, 1)))
    rows: list[list[object]] = []
    for pair in outcome.ranked():
        metrics = outcome.results[pair].metrics
        score = outcome.scores[pair]
        rows.append([
            pair[0].label, pair[1].label, sign * score if math.isfinite(score) else "",
            "" if metrics is None else metrics.energy_pj,
            "" if metrics is None else metrics.cycles,
            "" if metrics is None else metrics.latency_s,
            "" if metrics is None else metrics.edp,
            "" if metrics is None else metrics.area_mm2,
            "" if metrics is None or metrics.accuracy is None else metrics.accuracy,
            math.isfinite(score), pair in front, *_parameter_values(names, pair)])
    return rows


# ---- CSV rows and files ---------------------------------------------------------------------


LAYER_CSV_COLUMNS = ("layer", "problem_key", "energy_pj", "cycles", "utilization",
                     "bound_cycles", "bound_energy_pj", "spatial", "temporal")


def run_csv_rows(result: NetworkMapResult, problems: dict[str, Problem]
                 ) -> list[tuple[str | int | float, ...]]:
    """LAYER_CSV_COLUMNS rows, one per MAC layer."""
    rows: list[tuple[str | int | float, ...]] = []
    for layer in result.layers:
        dims = problems[layer.problem_key].dims
        rows.append((layer.name, layer.problem_key, layer.energy_pj, layer.cycles,
                     layer.result.cost.utilization, layer.bound_cycles, layer.bound_energy_pj,
                     spatial_summary(layer.result.mapping, dims),
                     temporal_summary(layer.result.mapping, dims)))
    return rows


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


DESIGN_FILES = ("result.json", "layers.csv", "breakdown.png")
"""What `dslc run --out DIR` writes for one design (the plot with the plot extra)."""
CODESIGN_FILES = ("result.json", "pairs.csv", "pareto.png", "trajectory.png")
"""What `dslc run --out DIR` writes for a co-design search (the plots with the plot extra;
trajectory.png for a differentiable search)."""


def write_design(directory: Path, result: NetworkMapResult, problems: dict[str, Problem],
                 objective: str | None = None) -> tuple[str, ...]:
    """`result.json` (without timings, so reruns give equal bytes) and `layers.csv` of one
    design in `directory` (created); the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    stable = network_result_to_json(result, problems, timings=False, objective=objective)
    (directory / "result.json").write_text(to_json(stable) + "\n")
    _write_csv(directory / "layers.csv", LAYER_CSV_COLUMNS, run_csv_rows(result, problems))
    return ("result.json", "layers.csv")


def write_codesign(directory: Path, outcome: Outcome, store_notes: Sequence[str] = ()
                   ) -> tuple[str, ...]:
    """`result.json` and `pairs.csv` of a co-design in `directory` (created); the names
    written."""
    directory.mkdir(parents=True, exist_ok=True)
    data = outcome_to_json(outcome, store_notes=store_notes)
    (directory / "result.json").write_text(to_json(data) + "\n")
    _write_csv(directory / "pairs.csv", pair_csv_columns(outcome), outcome_csv_rows(outcome))
    return ("result.json", "pairs.csv")


def lowered_stage(lowered: dict[str, Any], key: str) -> dict[str, Any]:
    """`dslc dump --stage graph|problems`: per network its inputs, MACs and either the
    `layers` or the `problems` of `dslc.api.dump_lowered`."""
    return {name: {"inputs": net["inputs"], "macs": net["macs"], key: net[key]}
            for name, net in lowered.items()}
