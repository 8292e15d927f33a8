"""AccelForge 1.0.467 YAML out: architecture, workload (one Einsum per layer) and LoopTree
mapping files that `accelforge.model.evaluate_mapping` (the released AccelForge, MIT,
`pip install accelforge==1.0.467`, Python >= 3.12) loads and evaluates unchanged.

Owns `export_study(arch, layers) -> {relative path: text}`. A study directory holds
`arch/<ACC>.arch.yaml` (an `arch: nodes:` list: a `!Memory` per memory level with its size in
bits, bits per value, bits per action (the level's width) and `read`/`write` actions with
their energy (J) and throughput (actions/s); a `!Container` with one spatial dimension per
mesh axis per fanout; a `!Compute` with its `compute` action), and per layer
`workload/<LAYER>.workload.yaml` (one Einsum: rank variables are the dims in lower case,
each tensor axis a projection expression such as `p + r`) and `mapping/<LAYER>.mapping.yaml`
(a LoopTree: per memory, outermost first, a `!Storage` node with the tensors it keeps, its
`!Temporal` loops outer to inner, the `!Spatial` loops of the fanouts below it, then a
`!Compute` node; loops state tile shapes, the product of every same-dim factor inside them),
with a README.txt giving the Python call that evaluates each layer.

In: the resolved accelerator (`ArchModel`) and, per layer, its `Problem` and `Mapping` (the
`StudyLayer`s of dslc.interop.timeloop). Out: text files. Units: energy J, leak power W,
area m^2, sizes bits, throughput actions per second (a `read` or `write` action moves one
block of `width` bits), so AccelForge's latency is in seconds. It writes no `dslc_*`
attributes (AccelForge's Pydantic front end rejects unknown keys) and reads nothing back.
What has no counterpart is stated in docs/interop.md: updates are `write` actions (AccelForge
has no separate update action), so a level whose update energy differs from its write energy
is E806; diagonal multicast between two fanouts is E806; imperfect factors are E806 (dslc's
padded factors are not AccelForge's residual tiles). Problems: `DiagnosticError` E806. It
does not evaluate costs (the API does) nor run AccelForge (benchmarks/bench_accelforge.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

from dslc.arch import ArchModel, FanoutModel, LevelModel
from dslc.diagnostics.diagnostic import DiagnosticError, error
from dslc.interop.timeloop import StudyLayer, file_stem
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapping.mapping import Mapping

ACCELFORGE_VERSION = "1.0.467"
"""The released AccelForge whose input format this module writes."""

TENSOR_NAMES = {"weight": "Weight", "input": "Input", "output": "Output"}
"""dslc's default tensor names and the names written (AccelForge's set expressions reserve
`input`, `output` and `weight` for renames, and `Inputs`, `Outputs`, `All` for sets)."""

RESERVED = frozenset({"All", "Nothing", "Inputs", "Outputs", "Intermediates", "Shared",
                      "Persistent", "input", "output", "weight", "Einsum", "Above",
                      "Below", "MainMemory"})

PJ = 1e-12
UM2 = 1e-12


def _unsupported(message: str, hint: str = "") -> DiagnosticError:
    return DiagnosticError([error("E806", message, None, help=hint)])


class Tagged(dict[str, Any]):
    """A mapping written with a YAML tag (`!Memory`, `!Temporal`, ...)."""

    def __init__(self, tag: str, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.tag = tag


class Flow(dict[str, Any]):
    """A mapping written on one line (`{name: read, energy: ...}`)."""


def _dump(data: dict[str, Any], comment: str) -> str:
    import yaml

    dumper: Any = type("Dumper", (yaml.SafeDumper,), {})  # representers on a subclass only
    def tagged(dumper: yaml.SafeDumper, value: Tagged) -> yaml.Node:
        return dumper.represent_mapping(f"!{value.tag}", dict(value), flow_style=False)

    def flow(dumper: yaml.SafeDumper, value: Flow) -> yaml.Node:
        return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value),
                                        flow_style=True)

    dumper.add_representer(Tagged, tagged)
    dumper.add_representer(Flow, flow)
    text: str = yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
                          width=100)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return lines + text


def identifier(name: str) -> str:
    """A dslc name as an AccelForge name (Einsums, tensors, components: identifiers)."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not text or text[0].isdigit():
        text = f"_{text}"
    return text


# ---- architecture ---------------------------------------------------------------------------


def _throughput(words: float | None, level: LevelModel, clock_hz: float) -> float | str:
    """Actions (blocks) per second from a bandwidth in words per cycle."""
    return "inf" if words is None else words / level.block_words * clock_hz


def _memory(level: LevelModel, clock_hz: float) -> Tagged:
    size: float | str = "inf"
    if level.size_words is not None:
        # dslc's capacity check: the kept tiles fit floor(size / multiple buffering).
        size = (level.size_words // level.buffering) * level.word_bits
    read_throughput = _throughput(level.read_bandwidth_words, level, clock_hz)
    write_throughput = _throughput(level.write_bandwidth_words, level, clock_hz)
    fields: dict[str, Any] = {
        "name": level.name, "size": size,
        "bits_per_value": Flow({"All": level.word_bits}),
        "bits_per_action": level.width_bits,
        "leak_power": level.leakage_pj_per_cycle * PJ * clock_hz,
        "area": level.area_um2 * UM2,
        "tensors": Flow({"keep": "Nothing", "may_keep": " | ".join(level.holds)}),
        "actions": [
            Flow({"name": "read", "energy": level.read_energy_pj * PJ,
                  "throughput": read_throughput}),
            Flow({"name": "write", "energy": level.write_energy_pj * PJ,
                  "throughput": write_throughput})],
    }
    if level.shared_bandwidth and level.read_bandwidth_words is not None:
        # One port: reads and writes share it (dslc divides their sum by the bandwidth).
        fields["total_latency"] = ("(actions['read'].n_calls + actions['write'].n_calls) / "
                                   "actions['read'].throughput")
    else:
        # Separate read and write ports: the slower one binds (dslc's per-level slowdown).
        fields["total_latency"] = "max(a.n_calls / a.throughput for a in actions)"
    return Tagged("Memory", fields)


def _gated_below(arch: ArchModel, fanout: FanoutModel) -> bool:
    below = [level.power_gated for level in arch.levels[fanout.owner + 1:]]
    return all(below) and arch.compute.power_gated


def _container(arch: ArchModel, fanout: FanoutModel) -> Tagged:
    gated = _gated_below(arch, fanout)
    spatial = [Flow({"name": axis, "fanout": size, "power_gateable": gated})
               for axis, size in (("X", fanout.mesh_x), ("Y", fanout.mesh_y))]
    return Tagged("Container", {"name": fanout.name, "spatial": spatial})


def _check_arch(arch: ArchModel) -> None:
    for level in arch.levels:
        if level.update_energy_pj != level.write_energy_pj:
            raise _unsupported(
                f"`{level.name}` has an update energy ({level.update_energy_pj:g} pJ) other "
                f"than its write energy ({level.write_energy_pj:g} pJ); AccelForge counts "
                "updates as `write` actions", "set `update` equal to `write`, or export "
                "--to timeloop")
        gated = [f for f in level.fanouts if _gated_below(arch, f)]
        if gated and len(gated) != len(level.fanouts):
            raise _unsupported(f"the fanouts below `{level.name}` mix power-gated and "
                               "ungated components, which AccelForge's per-fanout "
                               "`power_gateable` cannot state")
    for fanout in arch.fanouts:
        if fanout.diagonal:
            raise _unsupported(
                f"fanout `{fanout.name}` is `diagonal` (it shares data with the fanout above "
                "it); AccelForge resolves multicast per spatial loop and has no such link",
                "export without `diagonal = true`")
    names = [level.name for level in arch.levels] + [f.name for f in arch.fanouts] + [
        arch.compute.name]
    for name in names:
        if identifier(name) != name or name in RESERVED:
            raise _unsupported(f"component name `{name}` is not an AccelForge identifier "
                               "(or is a reserved set name)", "rename it")


def _arch_yaml(arch: ArchModel) -> dict[str, Any]:
    _check_arch(arch)
    nodes: list[Any] = []
    for level in arch.levels:
        nodes.append(_memory(level, arch.clock_hz))
        nodes += [_container(arch, fanout) for fanout in level.fanouts]
    compute = arch.compute
    nodes.append(Tagged("Compute", {
        "name": compute.name,
        "leak_power": compute.leakage_pj_per_cycle * PJ * arch.clock_hz,
        "area": compute.area_um2 * UM2,
        "actions": [Flow({"name": "compute", "energy": compute.energy_pj * PJ,
                          "throughput": arch.clock_hz})]}))
    return {"arch": {"nodes": nodes}}


# ---- workload -------------------------------------------------------------------------------


def rank_variables(problem: Problem) -> tuple[str, ...]:
    """The dims as AccelForge rank variables (lower case)."""
    names = tuple(identifier(d).lower() for d in problem.dims)
    if len(set(names)) != len(names) or any(n in RESERVED for n in names):
        raise _unsupported(f"dims {', '.join(problem.dims)} do not give distinct AccelForge "
                           "rank variables in lower case")
    return names


def tensor_name(tensor: Tensor) -> str:
    name = TENSOR_NAMES.get(tensor.name, identifier(tensor.name))
    if name in RESERVED:
        raise _unsupported(f"tensor name `{tensor.name}` is reserved in AccelForge's set "
                           "expressions", "rename the tensor")
    return name


def _expression(axis: Projection, variables: tuple[str, ...]) -> str:
    parts = []
    for dim, coefficient in axis.terms:
        term = variables[dim] if coefficient == 1 else f"{coefficient}*{variables[dim]}"
        parts.append(term)
    return " + ".join(parts).replace("+ -", "- ")


def _rank(tensor: Tensor, index: int, axis: Projection, variables: tuple[str, ...]) -> str:
    if len(axis.terms) == 1 and axis.terms[0][1] == 1:
        return variables[axis.terms[0][0]].upper()
    return f"{tensor_name(tensor).upper()}{index}"


def _workload_yaml(problem: Problem, name: str, word_bits: int) -> dict[str, Any]:
    variables = rank_variables(problem)
    accesses = []
    for tensor in problem.tensors:
        ranks = [_rank(tensor, i, axis, variables) for i, axis in enumerate(tensor.axes)]
        if len(set(ranks)) != len(ranks):
            raise _unsupported(f"tensor `{tensor.name}` indexes two axes with one dim")
        projection = {rank: _expression(axis, variables)
                      for rank, axis in zip(ranks, tensor.axes, strict=True)}
        access: dict[str, Any] = {"name": tensor_name(tensor), "projection": Flow(projection)}
        if tensor.role == "output":
            access["output"] = True
        accesses.append(Flow(access))
    roles: dict[str, list[str]] = {}
    for tensor in problem.tensors:
        roles.setdefault(tensor.role, []).append(tensor_name(tensor))
    return {"workload": {
        "bits_per_value": Flow({"All": word_bits}),
        "iteration_space_shape": Flow({v: f"0 <= {v} < {b}" for v, b in
                                       zip(variables, problem.bounds, strict=True)}),
        "einsums": [{"name": name, "tensor_accesses": accesses,
                     "renames": Flow({role: " | ".join(names)
                                      for role, names in sorted(roles.items())})}]}}


# ---- mapping --------------------------------------------------------------------------------


def _mapping_yaml(problem: Problem, arch: ArchModel, mapping: Mapping, einsum: str
                  ) -> dict[str, Any]:
    if mapping.imperfect:
        raise _unsupported("the mapping has imperfect (padded) factors; AccelForge's "
                           "residual tiles are another scheme", "export a perfect mapping")
    variables = rank_variables(problem)
    # Every loop, outermost first, as (level, kind, dim, factor, fanout, axis).
    loops: list[tuple[int, str, int, int, str, str]] = []
    for index, placed in enumerate(mapping.levels):
        loops += [(index, "temporal", loop.dim, loop.factor, "", "") for loop in placed.temporal]
        for fanout in arch.levels[index].fanouts:
            loops += [(index, "spatial", s.dim, s.factor, fanout.name, s.axis.upper())
                      for s in placed.spatial if s.fanout == fanout.name]
    for dim, bound in enumerate(problem.bounds):
        product = math.prod(f for _, _, d, f, _, _ in loops if d == dim)
        if product != bound:
            raise _unsupported(f"the factors of {problem.dims[dim]} multiply to {product}, "
                               f"not its bound {bound}")
    # Where each kept tile's Storage node goes (a slot: before loops[slot]). Timeloop's tile
    # at a level stays while the loops above it that do not index the tensor run (it is
    # refilled only when an enclosing loop that indexes it steps); AccelForge refills a tile
    # on every iteration of every loop above its node. So each node is written as high as
    # Timeloop's reuse reaches: above the temporal loops that do not index its tensor and
    # above the spatial loops (which partition instances, not time), up to the first
    # temporal loop that indexes the tensor or the tensor's node at the level above.
    starts = [next((i for i, loop in enumerate(loops) if loop[0] >= index), len(loops))
              for index in range(len(mapping.levels))]
    slots: dict[int, list[tuple[int, int]]] = {}
    for order, tensor in enumerate(problem.tensors):
        relevant = tensor.dims()
        floor = 0
        for index, placed in enumerate(mapping.levels):
            if tensor.name not in placed.keep:
                continue
            slot = starts[index]
            while slot > floor and (loops[slot - 1][1] == "spatial"
                                    or loops[slot - 1][2] not in relevant):
                slot -= 1
            slots.setdefault(slot, []).append((index, order))
            floor = slot
    nodes: list[Any] = []
    for slot in range(len(loops) + 1):
        held = sorted(slots.get(slot, []))
        for index in sorted({level for level, _ in held}):
            kept = [tensor_name(problem.tensors[order]) for level, order in held
                    if level == index]
            nodes.append(Tagged("Storage", {"tensors": kept,
                                            "component": arch.levels[index].name}))
        if slot == len(loops):
            break
        _, kind, dim, _, fanout_name, axis = loops[slot]
        tile = math.prod(f for _, _, d, f, _, _ in loops[slot + 1:] if d == dim)
        fields: dict[str, Any] = {"rank_variable": variables[dim], "tile_shape": tile}
        if kind == "spatial":
            fields.update(name=axis, component=fanout_name)
        nodes.append(Tagged(kind.capitalize(), fields))
    nodes.append(Tagged("Compute", {"einsum": einsum, "component": arch.compute.name}))
    return {"mapping": {"nodes": nodes}}


def export_study(arch: ArchModel, layers: tuple[StudyLayer, ...]) -> dict[str, str]:
    """The study's files by relative path (see the module docstring)."""
    acc = file_stem(arch.name)
    header = (f"{arch.name}: written by dslc export (AccelForge {ACCELFORGE_VERSION}); "
              f"clock {arch.clock_hz:g} Hz, so latency / {1 / arch.clock_hz:g} s is cycles")
    files = {f"arch/{acc}.arch.yaml": _dump(_arch_yaml(arch), header)}
    calls = []
    einsums: dict[str, str] = {}
    for layer in layers:
        stem = file_stem(layer.name)
        einsum = identifier(layer.name)
        if einsum in einsums:
            raise _unsupported(f"layers `{einsums[einsum]}` and `{layer.name}` have one "
                               f"AccelForge name `{einsum}`")
        einsums[einsum] = layer.name
        word_bits = arch.compute.word_bits
        files[f"workload/{stem}.workload.yaml"] = _dump(
            _workload_yaml(layer.problem, einsum, word_bits),
            f"layer {layer.name}: written by dslc export (AccelForge {ACCELFORGE_VERSION})")
        files[f"mapping/{stem}.mapping.yaml"] = _dump(
            _mapping_yaml(layer.problem, arch, layer.mapping, einsum),
            f"layer {layer.name} on {arch.name}: written by dslc export (AccelForge "
            f"{ACCELFORGE_VERSION})")
        calls.append(f"    ('arch/{acc}.arch.yaml', 'workload/{stem}.workload.yaml', "
                     f"'mapping/{stem}.mapping.yaml'),")
    files["README.txt"] = (
        f"AccelForge {ACCELFORGE_VERSION} files written by dslc export for accelerator "
        f"{arch.name}.\n"
        f"With `pip install accelforge=={ACCELFORGE_VERSION}` (Python >= 3.12), evaluate each "
        "layer's mapping in this directory with:\n\n"
        "from accelforge import Spec\n"
        "for files in [\n" + "\n".join(calls) + "\n]:\n"
        "    result = Spec.from_yaml(*files).evaluate_mapping()\n"
        "    print(files[1], result.energy(), result.latency())\n"
        "    print(result.actions(per_component=True, per_tensor=True))\n\n"
        "Energy is in J, latency in s (actions' throughput is per second at the clock), "
        "a read or write action moves one block of the level's width; docs/interop.md says "
        "what maps to what.\n")
    return files
