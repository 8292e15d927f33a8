"""Timeloop v3 YAML out and in: problem, architecture (with Accelergy ERT/ART tables) and
mapping files, in the layout of the public Timeloop exercises.

Owns `export_study(arch, layers) -> {relative path: text}` and `read_study(files) -> Study`.
A study directory holds `arch/<ACC>.arch.yaml` (the v0.4 `subtree`/`local` tree that
`timeloop-model` reads), `arch/components/<ACC>.ERT.yaml` and `<ACC>.ART.yaml` (per-action
energies and areas, as Accelergy would produce them), and per layer `prob/<LAYER>.prob.yaml`
and `map/<LAYER>.map.yaml` (temporal factors and permutations, spatial factors with their
X/Y split, keep/bypass), with a README.txt giving the `timeloop-model` command.

In: the resolved accelerator (`ArchModel`) and, per layer, its `Problem` and `Mapping`. Out:
text files; reading them back gives an `AcceleratorSpec` with every figure explicit (its
resolved model equals the original but for which figures were estimated), the problems and
the mappings, equal to what was written. What Timeloop has no word for (which tensors a
level may hold, dataflow presets, power gating, shared read/write bandwidth, leakage per
cycle, diagonal multicast, the exact clock) travels as `dslc_*` attributes, which Timeloop
and Accelergy ignore. Problems: `DiagnosticError` E805 (a file that cannot be read: bad YAML,
missing keys), E302 (a figure outside the language's limits, dslc/spec/limits.py: the
spec models carry them, so an imported study is held to what a `.cd` file is) and E806 (a
feature with no counterpart: more than one fanout below a memory,
imperfect factors, a dim twice at one level; Timeloop-side features such as sparse
optimisations, networks-on-chip or mapspace constraints on import). It does not evaluate
costs (the API does) nor run Timeloop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dslc.arch import ArchModel, LevelModel
from dslc.diagnostics.diagnostic import DiagnosticError, error
from dslc.lower.problem import Problem, Projection, Role, Tensor
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.limits import MAX_DIM, MAX_LAYER_MACS, MAX_TENSOR_ELEMENTS

TIMELOOP_NAMES = {"weight": "Weights", "input": "Inputs", "output": "Outputs"}
"""dslc's default tensor names and the Timeloop exercises' data-space names."""
DSLC_NAMES = {v: k for k, v in TIMELOOP_NAMES.items()}
COMPUTE_CLASSES = ("intmac", "fpmac", "mac", "compute", "intadder", "fpadder")


@dataclass(frozen=True, slots=True)
class StudyLayer:
    """One layer of a study: its loop nest and its mapping."""

    name: str
    problem: Problem
    mapping: Mapping


@dataclass(frozen=True, slots=True)
class Study:
    """What a study directory holds."""

    accelerator: AcceleratorSpec
    layers: tuple[StudyLayer, ...]


def _unsupported(message: str, hint: str = "") -> DiagnosticError:
    return DiagnosticError([error("E806", message, None, help=hint)])


_LIMITS_HELP = ("dslc holds imported studies to the limits of its language "
                "(docs/language/guide.md, \"Limits\"; dslc/spec/limits.py)")
_Model = TypeVar("_Model", bound=BaseModel)


def _out_of_range(path: str, message: str) -> DiagnosticError:
    return DiagnosticError([error("E302", f"{path}: {message}", None, help=_LIMITS_HELP)])


def _built(model: type[_Model], path: str, what: str, **fields: Any) -> _Model:
    """`model(**fields)`, a value outside the spec's stated range being E302 naming the file,
    the component and the field (the spec models carry the language's limits)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "its figures"
        raise _out_of_range(path, f"{what}: {field} = {first.get('input')!r}: "
                                  f"{first['msg'].lower()}") from None


def _unreadable(path: str, message: str) -> DiagnosticError:
    return DiagnosticError([error("E805", f"{path}: {message}", None,
                                  help="docs/interop.md describes the files dslc reads")])


def file_stem(name: str) -> str:
    """A layer or accelerator name as a file name (`layer1.0.a` stays as it is)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _dump(data: Any, comment: str) -> str:
    import yaml

    text: str = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return f"# {comment}\n{text}"


# ---- out ------------------------------------------------------------------------------------


def _dataflow(dataflow: DataflowSpec) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in (("preset", dataflow.preset), ("x", dataflow.x),
                               ("y", dataflow.y), ("stationary", dataflow.stationary))
            if value is not None}


def _storage(level: LevelModel, mesh_x: int) -> dict[str, Any]:
    block = level.block_words
    attributes: dict[str, Any] = {
        "word-bits": level.word_bits, "datawidth": level.word_bits,
        "width": level.width_bits, "block-size": block,
    }
    if level.size_words is not None:
        attributes["entries"] = level.size_words
        attributes["depth"] = math.ceil(level.size_words / block)
    attributes["instances"] = level.instances
    attributes["meshX"] = mesh_x
    if level.read_bandwidth_words is not None:
        attributes["read_bandwidth"] = level.read_bandwidth_words
    if level.write_bandwidth_words is not None:
        attributes["write_bandwidth"] = level.write_bandwidth_words
    attributes["multiple-buffering"] = level.buffering
    attributes["vector-access-energy"] = level.read_energy_pj
    attributes["dslc_holds"] = list(level.holds)
    attributes["dslc_power_gated"] = level.power_gated
    attributes["dslc_shared_bandwidth"] = level.shared_bandwidth
    attributes["dslc_leakage_pj_per_cycle"] = level.leakage_pj_per_cycle
    return {"name": level.name, "class": "DRAM" if level.off_chip else
            ("regfile" if (level.size_words or 0) <= 256 else "SRAM"),
            "attributes": attributes}


def _arch_yaml(arch: ArchModel) -> dict[str, Any]:
    """The architecture tree: one `subtree` per fanout, memories in `local` lists."""
    top: dict[str, Any] = {"name": "system", "attributes": {
        "technology": f"{arch.technology_nm:g}nm", "global_cycle_seconds": 1 / arch.clock_hz,
        "dslc_clock_hz": arch.clock_hz, "dslc_accelerator": arch.name}, "local": []}
    node, mesh_x, path = top, 1, "system"
    paths: dict[str, str] = {}
    for level in arch.levels:
        node["local"].append(_storage(level, mesh_x))
        paths[level.name] = f"{path}.{level.name}"
        if len(level.fanouts) > 1:
            raise _unsupported(
                f"`{level.name}` has {len(level.fanouts)} fanouts below it; a Timeloop "
                "storage level has one spatial fanout",
                "put a memory between the fanouts, or merge them into one mesh")
        for fanout in level.fanouts:
            mesh_x *= fanout.mesh_x
            count = level.instances * fanout.instances
            child: dict[str, Any] = {
                "name": f"{fanout.name}[0..{count - 1}]",
                "attributes": {"dslc_mesh": [fanout.mesh_x, fanout.mesh_y],
                               "dslc_dataflow": _dataflow(fanout.dataflow),
                               "dslc_diagonal": fanout.diagonal},
                "local": []}
            node["subtree"] = [child]
            node, path = child, f"{path}.{fanout.name}[0..{count - 1}]"
    compute = arch.compute
    node["local"].append({"name": compute.name,
                          "class": "intmac", "attributes": {
                              "datawidth": compute.word_bits, "instances": compute.instances,
                              "meshX": mesh_x, "dslc_power_gated": compute.power_gated,
                              "dslc_leakage_pj_per_cycle": compute.leakage_pj_per_cycle}})
    paths[compute.name] = f"{path}.{compute.name}"
    return {"architecture": {"version": "0.4", "subtree": [top]}, "_paths": paths}


def _ert_art(arch: ArchModel, paths: MappingType[str, str]) -> tuple[dict[str, Any],
                                                                       dict[str, Any]]:
    def action(name: str, energy: float) -> dict[str, Any]:
        return {"name": name, "arguments": None, "energy": energy}

    ert: list[dict[str, Any]] = []
    art: list[dict[str, Any]] = []
    for level in arch.levels:
        ert.append({"name": paths[level.name], "actions": [
            action("read", level.read_energy_pj), action("write", level.write_energy_pj),
            action("update", level.update_energy_pj),
            action("leak", level.leakage_pj_per_cycle)]})
        art.append({"name": paths[level.name], "area": level.area_um2})
    compute = arch.compute
    ert.append({"name": paths[compute.name], "actions": [
        action("MAC", compute.energy_pj), action("mac_random", compute.energy_pj),
        action("leak", compute.leakage_pj_per_cycle)]})
    art.append({"name": paths[compute.name], "area": compute.area_um2})
    return ({"ERT": {"version": "0.4", "tables": ert}},
            {"ART": {"version": "0.4", "tables": art}})


def _coefficient_name(value: int) -> str:
    return f"c{value}" if value > 0 else f"cm{-value}"


def _problem_yaml(problem: Problem) -> dict[str, Any]:
    coefficients = sorted({c for t in problem.tensors for a in t.axes for _, c in a.terms
                           if c != 1})
    spaces = []
    for tensor in problem.tensors:
        axes = [[[problem.dims[d]] if c == 1 else [problem.dims[d], _coefficient_name(c)]
                 for d, c in axis.terms] for axis in tensor.axes]
        space: dict[str, Any] = {"name": TIMELOOP_NAMES.get(tensor.name, tensor.name),
                                 "projection": axes}
        if tensor.role == "output":
            space["read_write"] = True
        elif tensor.name not in TIMELOOP_NAMES:
            space["dslc_role"] = tensor.role
        spaces.append(space)
    return {"problem": {"version": "0.4", "shape": {
        "name": problem.op, "dimensions": list(problem.dims),
        "coefficients": [{"name": _coefficient_name(c), "default": c} for c in coefficients],
        "data_spaces": spaces},
        "instance": dict(zip(problem.dims, problem.bounds, strict=True))}}


def _permutation(dims: list[str]) -> str | list[str]:
    return "".join(dims) if all(len(d) == 1 for d in dims) else dims


def _mapping_yaml(problem: Problem, arch: ArchModel, mapping: Mapping) -> dict[str, Any]:
    if mapping.imperfect:
        raise _unsupported("the mapping has imperfect (padded) factors, which Timeloop v3's "
                           "mappings cannot state", "export a perfect mapping")
    dims = problem.dims
    entries: list[dict[str, Any]] = []
    for level, placed in zip(arch.levels, mapping.levels, strict=True):
        temporal = dict.fromkeys(dims, 1)
        for loop in placed.temporal:
            if temporal[dims[loop.dim]] != 1:
                raise _unsupported(f"`{level.name}` has two temporal loops over "
                                   f"{dims[loop.dim]}; Timeloop has one per level")
            temporal[dims[loop.dim]] = loop.factor
        order = [dims[loop.dim] for loop in placed.temporal][::-1]  # innermost first
        order += [d for d in dims if d not in order]
        entries.append({"target": level.name, "type": "temporal",
                        "factors": " ".join(f"{d}={f}" for d, f in temporal.items()),
                        "permutation": _permutation(order)})
        if level.fanouts:
            spatial = dict.fromkeys(dims, 1)
            xs = [loop for loop in placed.spatial if loop.axis == "x"]
            ys = [loop for loop in placed.spatial if loop.axis == "y"]
            for unrolled in placed.spatial:
                if spatial[dims[unrolled.dim]] != 1:
                    raise _unsupported(f"the fanout below `{level.name}` unrolls "
                                       f"{dims[unrolled.dim]} twice; Timeloop has one loop "
                                       "per dim and level")
                spatial[dims[unrolled.dim]] = unrolled.factor
            x_order = [dims[loop.dim] for loop in xs][::-1]
            y_order = [dims[loop.dim] for loop in ys][::-1]
            rest = [d for d in dims if d not in x_order and d not in y_order]
            entries.append({"target": level.name, "type": "spatial",
                            "factors": " ".join(f"{d}={f}" for d, f in spatial.items()),
                            "permutation": _permutation(x_order + y_order + rest),
                            "split": len(x_order)})
        keep = [TIMELOOP_NAMES.get(t.name, t.name) for t in problem.tensors
                if t.name in placed.keep]
        bypass = [TIMELOOP_NAMES.get(t.name, t.name) for t in problem.tensors
                  if t.name not in placed.keep]
        entries.append({"target": level.name, "type": "datatype", "keep": keep,
                        "bypass": bypass})
    return {"mapping": entries}


def export_study(arch: ArchModel, layers: tuple[StudyLayer, ...]) -> dict[str, str]:
    """The study's files by relative path (see the module docstring)."""
    acc = file_stem(arch.name)
    tree = _arch_yaml(arch)
    paths = tree.pop("_paths")
    ert, art = _ert_art(arch, paths)
    files = {
        f"arch/{acc}.arch.yaml": _dump(tree, f"{arch.name}: written by dslc export "
                                       "(Timeloop v3, architecture v0.4)"),
        f"arch/components/{acc}.ERT.yaml": _dump(ert, f"{arch.name}: energy per action "
                                                 "(pJ), as Accelergy's ERT"),
        f"arch/components/{acc}.ART.yaml": _dump(art, f"{arch.name}: area per instance "
                                                 "(um^2), as Accelergy's ART"),
    }
    commands = []
    for layer in layers:
        stem = file_stem(layer.name)
        files[f"prob/{stem}.prob.yaml"] = _dump(_problem_yaml(layer.problem),
                                                f"layer {layer.name}: written by dslc export")
        files[f"map/{stem}.map.yaml"] = _dump(
            _mapping_yaml(layer.problem, arch, layer.mapping),
            f"layer {layer.name} on {arch.name}: written by dslc export")
        commands.append(f"timeloop-model arch/{acc}.arch.yaml arch/components/{acc}.ERT.yaml "
                        f"arch/components/{acc}.ART.yaml prob/{stem}.prob.yaml "
                        f"map/{stem}.map.yaml")
    files["README.txt"] = (
        f"Timeloop v3 files written by dslc export for accelerator {arch.name}.\n"
        "Run each layer in this directory with:\n\n" + "\n".join(commands) + "\n\n"
        "dslc import-timeloop DIR reads them back (docs/interop.md).\n")
    return files


# ---- in -------------------------------------------------------------------------------------


def _load(path: str, text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _unreadable(path, f"not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise _unreadable(path, "expected a mapping at the top")
    return data


def _get(data: MappingType[str, Any], key: str, path: str, *alternatives: str) -> Any:
    for name in (key, *alternatives):
        if isinstance(data, MappingType) and name in data:
            return data[name]
    raise _unreadable(path, f"missing `{key}`")


def _base_name(name: str) -> str:
    return re.sub(r"\[.*\]$", "", name)


def _instances_of(name: str) -> int | None:
    match = re.search(r"\[(\d+)\.\.(\d+)\]$", name)
    return int(match[2]) - int(match[1]) + 1 if match else None


def _technology(value: Any) -> float:
    text = str(value).strip().removesuffix("nm")
    try:
        return float(text)
    except ValueError:
        return 45.0


def _tables(files: MappingType[str, str], kind: str) -> dict[str, Any]:
    """ERT actions or ART areas by component base name."""
    found: dict[str, Any] = {}
    for path, text in sorted(files.items()):
        if not path.endswith(f".{kind}.yaml") and not path.endswith(f"/{kind}.yaml"):
            continue
        tables = _get(_get(_load(path, text), kind, path), "tables", path)
        for table in tables:
            name = _base_name(str(table.get("name", "")).rsplit(".", 1)[-1])
            if kind == "ERT":
                found[name] = {a["name"]: float(a["energy"]) for a in table.get("actions", [])}
            else:
                found[name] = float(table.get("area", 0.0))
    return found


def _read_arch(path: str, data: dict[str, Any], ert: dict[str, Any], art: dict[str, Any]
               ) -> AcceleratorSpec:
    tree = _get(data, "architecture", path)
    if "nodes" in tree:
        raise _unsupported(f"{path}: the `nodes` form (timeloopfe's !Container/!Component) "
                           "is not read; use the `subtree`/`local` form")
    top = _get(tree, "subtree", path)[0]
    attributes = top.get("attributes", {}) or {}
    clock = float(attributes.get("dslc_clock_hz") or
                  1 / float(attributes.get("global_cycle_seconds", 1e-9)))
    hierarchy: list[MemorySpec | FanoutSpec] = []
    compute: ComputeSpec | None = None
    node: dict[str, Any] | None = top
    instances = 1
    while node is not None:
        for component in node.get("local", []) or []:
            name = _base_name(str(_get(component, "name", path)))
            attrs = component.get("attributes", {}) or {}
            kind = str(component.get("class", ""))
            energies = ert.get(name, {})
            if kind in COMPUTE_CLASSES:
                compute = _built(
                    ComputeSpec, path, f"compute `{name}`", name=name,
                    energy_pj=energies.get("MAC", energies.get("mac_random")),
                    word_bits=int(attrs.get("datawidth", attrs.get("word-bits", 16))),
                    area_um2=art.get(name),
                    leakage_pj_per_cycle=float(attrs.get("dslc_leakage_pj_per_cycle",
                                                         energies.get("leak", 0.0))),
                    power_gated=bool(attrs.get("dslc_power_gated", True)))
                continue
            word = int(attrs.get("word-bits", attrs.get("datawidth", 16)))
            block = int(attrs.get("block-size", 1))
            entries = attrs.get("entries")
            if entries is None and attrs.get("depth") is not None:
                entries = int(attrs["depth"]) * block
            read = energies.get("read", attrs.get("vector-access-energy"))
            write = energies.get("write", read)
            hierarchy.append(_built(
                MemorySpec, path, f"memory `{name}`", name=name,
                size_bits=None if entries is None else int(entries) * word,
                word_bits=word, width_bits=int(attrs.get("width", word * block)),
                read_energy_pj=read, write_energy_pj=write,
                update_energy_pj=energies.get("update", write),
                leakage_pj_per_cycle=float(attrs.get("dslc_leakage_pj_per_cycle",
                                                     energies.get("leak", 0.0))),
                read_bandwidth_words=attrs.get("read_bandwidth"),
                write_bandwidth_words=attrs.get("write_bandwidth"),
                shared_bandwidth=bool(attrs.get("dslc_shared_bandwidth", False)),
                buffering=int(attrs.get("multiple-buffering", 1)),
                area_um2=art.get(name),
                holds=tuple(attrs.get("dslc_holds", ("input", "weight", "output"))),
                power_gated=bool(attrs.get("dslc_power_gated", True))))
        children = node.get("subtree") or []
        if len(children) > 1:
            raise _unsupported(f"{path}: `{node.get('name')}` has {len(children)} subtrees; "
                               "dslc's hierarchies are one chain")
        if not children:
            break
        child = children[0]
        attrs = child.get("attributes", {}) or {}
        count = _instances_of(str(child.get("name", "")))
        if count is not None and count // instances > 1:
            mesh = attrs.get("dslc_mesh") or [count // instances, 1]
            dataflow = DataflowSpec(**attrs.get("dslc_dataflow", {"preset": "free"}))
            fanout = _base_name(str(child["name"]))
            hierarchy.append(_built(FanoutSpec, path, f"fanout `{fanout}`", name=fanout,
                                    mesh_x=int(mesh[0]), mesh_y=int(mesh[1]),
                                    dataflow=dataflow,
                                    diagonal=bool(attrs.get("dslc_diagonal", False))))
            instances = count
        node = child
    if compute is None:
        raise _unreadable(path, "no compute component (class intmac, fpmac or mac)")
    name = str(attributes.get("dslc_accelerator") or path.rsplit("/", 1)[-1].split(".")[0])
    return _built(AcceleratorSpec, path, f"accelerator `{name}`", name=name,
                  word_bits=compute.word_bits, clock_hz=clock,
                  technology_nm=_technology(attributes.get("technology", "45nm")),
                  hierarchy=tuple(hierarchy), compute=compute)


def _read_problem(path: str, data: dict[str, Any], name: str) -> Problem:
    problem = _get(data, "problem", path)
    shape = _get(problem, "shape", path)
    dims = tuple(str(d) for d in _get(shape, "dimensions", path))
    instance = _get(problem, "instance", path)
    coefficients = {str(c["name"]): int(c.get("default", 1))
                    for c in shape.get("coefficients", []) or []}
    coefficients.update({k: int(v) for k, v in instance.items() if k in coefficients})
    for key in ("densities", "sparse_optimizations"):
        if key in problem or key in instance:
            raise _unsupported(f"{path}: `{key}` (sparsity) has no dslc counterpart")
    tensors = []
    for space in _get(shape, "data_spaces", path, "data-spaces"):
        axes = []
        for axis in space["projection"]:
            terms = sorted((dims.index(str(term[0])),
                            coefficients[str(term[1])] if len(term) > 1 else 1)
                           for term in axis)
            axes.append(Projection(tuple(terms)))
        space_name = str(space["name"])
        role: Role = "input"
        if space.get("read_write") or space.get("read-write"):
            role = "output"
        elif (space.get("dslc_role") or DSLC_NAMES.get(space_name)) == "weight":
            role = "weight"
        tensors.append(Tensor(DSLC_NAMES.get(space_name, space_name), role, tuple(axes)))
    missing = [d for d in dims if d not in instance]
    if missing:
        raise _unreadable(path, f"`instance` has no bound for {', '.join(missing)}")
    bounds = tuple(int(instance[d]) for d in dims)
    for dim, bound in zip(dims, bounds, strict=True):
        if not 1 <= bound <= MAX_DIM:
            raise _out_of_range(path, f"`instance` bound {dim} = {bound} is outside 1 to "
                                      f"{MAX_DIM:,}")
    problem_value = Problem(name, dims, bounds, tuple(tensors),
                            op=str(shape.get("name", "einsum")))
    if problem_value.macs > MAX_LAYER_MACS:
        raise _out_of_range(path, f"{problem_value.macs:,} MACs, more than the limit of 2^44 "
                                  f"({MAX_LAYER_MACS:,})")
    for tensor in problem_value.tensors:
        elements = problem_value.tensor_size(tensor)
        if elements > MAX_TENSOR_ELEMENTS:
            raise _out_of_range(path, f"tensor {tensor.name} has {elements:,} elements, more "
                                      f"than the limit of 2^44 ({MAX_TENSOR_ELEMENTS:,})")
    return problem_value


def _factors(text: Any, path: str) -> dict[str, int]:
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    found: dict[str, int] = {}
    for part in str(text).split():
        dim, _, value = part.partition("=")
        if not value.lstrip("-").isdigit():
            raise _unreadable(path, f"bad factor `{part}`")
        found[dim] = int(value)
    return found


def _order(value: Any, dims: tuple[str, ...]) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "")
    return list(text) if all(len(d) == 1 for d in dims) else text.split()


def _read_mapping(path: str, data: dict[str, Any], problem: Problem, arch: AcceleratorSpec
                  ) -> Mapping:
    dims = problem.dims
    entries = _get(data, "mapping", path)
    by_level: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        kind = str(entry.get("type", ""))
        kind = "bypass" if kind == "datatype" else kind
        by_level[(str(entry.get("target", "")), kind)] = entry
    memories = [c for c in arch.hierarchy if isinstance(c, MemorySpec)]
    fanouts_below: dict[str, str] = {}
    last = ""
    for component in arch.hierarchy:
        if isinstance(component, MemorySpec):
            last = component.name
        else:
            fanouts_below[last] = component.name
    levels = []
    for memory in memories:
        temporal_entry = by_level.get((memory.name, "temporal"), {})
        factors = _factors(temporal_entry.get("factors", ""), path)
        for dim, factor in factors.items():
            if factor <= 0 or dim not in dims:
                raise _unsupported(f"{path}: `{memory.name}`: factor {dim}={factor} (a "
                                   "residual or unknown dim) has no dslc counterpart")
        order = _order(temporal_entry.get("permutation"), dims)[::-1]  # outermost first
        order += [d for d in dims if d not in order]
        temporal = tuple(Loop(dims.index(d), factors[d]) for d in order
                         if factors.get(d, 1) > 1)
        spatial: list[SpatialLoop] = []
        spatial_entry = by_level.get((memory.name, "spatial"))
        if spatial_entry is not None:
            fanout = fanouts_below.get(memory.name)
            if fanout is None:
                raise _unreadable(path, f"spatial loops at `{memory.name}`, which has no "
                                  "fanout below it")
            unrolled = _factors(spatial_entry.get("factors", ""), path)
            permutation = _order(spatial_entry.get("permutation"), dims)
            split = int(spatial_entry.get("split", len(permutation)))
            for axis, part in (("x", permutation[:split]), ("y", permutation[split:])):
                for d in part[::-1]:
                    if unrolled.get(d, 1) > 1:
                        spatial.append(SpatialLoop(dims.index(d), unrolled[d], fanout,
                                                   "x" if axis == "x" else "y"))
        bypass_entry = by_level.get((memory.name, "bypass"))
        if bypass_entry is None:
            keep = frozenset(t.name for t in problem.tensors if t.role in memory.holds)
        else:
            bypassed = {DSLC_NAMES.get(str(n), str(n)) for n in bypass_entry.get("bypass", [])}
            kept = {DSLC_NAMES.get(str(n), str(n)) for n in bypass_entry.get("keep", [])}
            keep = frozenset(t.name for t in problem.tensors if t.name in kept or (
                t.name not in bypassed and t.role in memory.holds))
        levels.append(LevelMapping(memory.name, temporal, tuple(spatial), keep))
    return Mapping(tuple(levels))


def read_study(files: MappingType[str, str]) -> Study:
    """A study from its files by relative path (see the module docstring). A file whose
    values have the wrong shape or type (a string where a list belongs, a missing name) is
    E805 like a missing key."""
    try:
        return _read_study(files)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError
            ) as exc:
        raise _unreadable("the study", f"a value of the wrong form ({type(exc).__name__}: "
                          f"{exc})") from None


def _read_study(files: MappingType[str, str]) -> Study:
    arch_files = [p for p in sorted(files) if p.endswith(".arch.yaml")
                  or p.rsplit("/", 1)[-1] in ("arch.yaml", "architecture.yaml")]
    if len(arch_files) != 1:
        raise _unreadable("the directory", f"expected one architecture file (*.arch.yaml), "
                          f"found {len(arch_files)}")
    arch_path = arch_files[0]
    accelerator = _read_arch(arch_path, _load(arch_path, files[arch_path]),
                             _tables(files, "ERT"), _tables(files, "ART"))
    layers = []
    for path in sorted(p for p in files if p.endswith(".prob.yaml")):
        stem = path.rsplit("/", 1)[-1].removesuffix(".prob.yaml")
        problem = _read_problem(path, _load(path, files[path]), stem)
        map_path = next((p for p in files if p.rsplit("/", 1)[-1] == f"{stem}.map.yaml"),
                        None)
        if map_path is None:
            raise _unreadable(path, f"no mapping file {stem}.map.yaml beside it")
        mapping = _read_mapping(map_path, _load(map_path, files[map_path]), problem,
                                accelerator)
        layers.append(StudyLayer(stem, problem, mapping))
    if not layers:
        raise _unreadable("the directory", "no problem files (*.prob.yaml)")
    return Study(accelerator, tuple(layers))
