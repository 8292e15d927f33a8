"""Accelerator elaboration: one point of an accelerator (design space) → `AcceleratorSpec`.

Evaluates the accelerator's properties and components with its parameters bound, converts
quantities to the spec's base units (words to bits with the level's word, power to energy
per cycle with the clock, GB/s to words per cycle), and checks the structure: one compute
block, last; a memory on top; every tensor role with a home, the outermost memory holding
all of them; memories large enough for the smallest tile; meshes that fit their dataflow;
its map-space `constraints` block (dslc.sema.constraints).
It does not estimate missing energies (dslc.arch.resolve_accelerator does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from dslc.diagnostics.diagnostic import Diagnostic, Label, did_you_mean, error, warning
from dslc.diagnostics.span import Span
from dslc.sema.constraints import check_constraints, components_of, read_constraints
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    MeshValue,
    Scope,
    Sym,
    Value,
    as_bool,
    as_int,
    as_quantity,
    as_symbol,
    describe,
    evaluate,
    fail,
    within,
)
from dslc.spec.accelerator import (
    DATAFLOW_PRESETS,
    ROLES,
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.base import Point
from dslc.spec.constraints import MapConstraints
from dslc.spec.limits import (
    MAX_AREA_UM2,
    MAX_BANDWIDTH_WORDS,
    MAX_BUFFERING,
    MAX_CLOCK_HZ,
    MAX_ENERGY_PJ,
    MAX_INSTANCES,
    MAX_MEMORY_BITS,
    MAX_MESH_EXTENT,
    MAX_WORD_BITS,
    MIN_BANDWIDTH_WORDS,
    MIN_CLOCK_HZ,
)
from dslc.syntax import ast

_LIMITS = "dslc/spec/limits.py and docs/language/guide.md list the limits"
ACCELERATOR_PROPERTIES = {
    "word": "default word size of every level and the MAC (a size, e.g. `16b`)",
    "clock": "clock frequency (e.g. `200MHz`)",
    "technology": "process node for the energy and area estimator (e.g. `45nm`; default 45nm)",
}
MEMORY_PROPERTIES = {
    "size": "capacity (bits, bytes or words); omit for an unbounded memory such as DRAM",
    "word": "word size of this level, overriding the accelerator's",
    "width": "bits (or words) moved per access; default one word",
    "read": "energy of one read access of `width` bits",
    "write": "energy of one write access of `width` bits",
    "update": "energy of one partial-sum update access (default: `write`)",
    "leakage": "static energy per cycle (pJ) or static power (W, mW)",
    "bandwidth": "words per cycle shared by reads and writes (or e.g. `30GB/s`)",
    "read_bandwidth": "words read per cycle",
    "write_bandwidth": "words written per cycle",
    "buffering": "multiple buffering factor (2 = double buffered)",
    "area": "area of one instance",
    "holds": "tensor roles this level may keep, e.g. `[input, output]` (default: all)",
}
FANOUT_PROPERTIES = {
    "mesh": "instances as `X x Y` (or a single count for a 1-D row)",
    "dataflow": "a preset (weight_stationary, output_stationary, input_stationary, "
                "row_stationary, free) or a block `{ x = [...], y = [...], stationary = ... }`",
}
COMPUTE_PROPERTIES = {
    "energy": "energy of one MAC",
    "word": "operand precision (default: the accelerator's word)",
    "area": "area of one MAC unit",
    "leakage": "static energy per cycle of one MAC unit",
}
DATAFLOW_PROPERTIES = {
    "x": "dims that may be unrolled across X, e.g. `[C]`",
    "y": "dims that may be unrolled across Y, e.g. `[K]`",
    "stationary": "the tensor kept in the PEs: input, weight or output",
}

# ---- Counting-rule properties (leakage on the instances in use, multicast per fanout:
# docs/design/cost-model.md). Added here, apart from the tables above, so that other
# properties can be added to those tables independently.
_POWER_GATED = ("whether idle instances are power gated: leakage is charged on the instances "
                "a mapping uses (`true`, the default) or on every instance (`false`)")
ACCELERATOR_PROPERTIES |= {
    "power_gated": "the default `power_gated` of every memory and the compute unit "
                   "(default `true`)",
}
MEMORY_PROPERTIES |= {"power_gated": _POWER_GATED + "; default: the accelerator's"}
COMPUTE_PROPERTIES |= {"power_gated": _POWER_GATED + "; default: the accelerator's"}
FANOUT_PROPERTIES |= {
    "diagonal": "`true`: this fanout and the fanout directly above it share data as one "
                "multicast block (data equal across their combined instances, such as "
                "row-stationary diagonal inputs, is read once); default `false`: multicast "
                "is resolved per fanout, as in Timeloop",
}


@dataclass(frozen=True, slots=True)
class Prop:
    name: str
    value: Value
    node: ast.Property | ast.SubBlock

    @property
    def span(self) -> Span:
        return self.node.value.span if isinstance(self.node, ast.Property) else self.node.span


def collect_props(body: Sequence[ast.Property | ast.SubBlock | ast.ConstraintsBlock],
                  allowed: dict[str, str], what: str, scope: Scope, ctx: EvalContext,
                  sink: list[Diagnostic], sub_blocks: Sequence[str] = ()) -> dict[str, Prop]:
    """Evaluate a block's properties, reporting unknown and duplicate ones (a `constraints`
    block where it does not belong is an unknown property)."""
    props: dict[str, Prop] = {}
    first: dict[str, Span] = {}
    for node in body:
        name = node.name.text
        if name not in allowed or isinstance(node, ast.ConstraintsBlock):
            sink.append(error("E205", f"unknown property `{name}` of {what}", node.name.span,
                              help=did_you_mean(name, allowed) or
                              "valid: " + ", ".join(f"`{n}`" for n in allowed)))
            continue
        if name in first:
            sink.append(error("E202", f"property `{name}` given twice", node.name.span,
                              related=(Label(first[name], "first given here"),)))
            continue
        first[name] = node.name.span
        if isinstance(node, ast.SubBlock):
            if name not in sub_blocks:
                sink.append(error("E303", f"`{name}` takes a value, not a block", node.span,
                                  help=f"write `{name} = ...`"))
                continue
            props[name] = Prop(name, (), node)
            continue
        try:
            props[name] = Prop(name, evaluate(node.value, scope, ctx), node)
        except EvalError as exc:
            sink.append(exc.diagnostic)
    return props


class _AcceleratorBuilder:
    def __init__(self, decl: ast.AcceleratorDecl, scope: Scope) -> None:
        self.decl = decl
        self.scope = scope
        self.ctx = EvalContext()
        self.diagnostics: list[Diagnostic] = []
        self.power_gated = True
        """The accelerator's `power_gated`: the default of its memories and compute."""

    def size_bits(self, prop: Prop, word_bits: int, what: str,
                  maximum: int = MAX_MEMORY_BITS) -> int:
        quantity = as_quantity(prop.value, prop.span, what, ["size", "words"])
        bits = quantity.value * (word_bits if quantity.dimension == "words" else 1)
        if bits < 1 or abs(bits - round(bits)) > 1e-6:
            raise fail("E302", f"{what} must be a positive whole number of bits", prop.span)
        if bits > maximum:
            found = f"{round(bits):,}" if bits < 1e21 else f"{bits:.3g}"
            raise fail("E302", f"{what} must be at most {maximum:,} bits, found {found}",
                       prop.span, help=_LIMITS)
        return round(bits)

    def energy(self, props: dict[str, Prop], key: str, what: str) -> float | None:
        if key not in props:
            return None
        value = as_quantity(props[key].value, props[key].span, what, ["energy"]).value
        return within(value, props[key].span, what, 0, MAX_ENERGY_PJ, "pJ")

    def leakage(self, prop: Prop, clock_hz: float) -> float:
        """Leakage in pJ per cycle, from an energy per cycle or a power."""
        quantity = as_quantity(prop.value, prop.span, "leakage", ["energy", "power"])
        value = quantity.value if quantity.dimension == "energy" else \
            quantity.value / clock_hz * 1e12
        return within(value, prop.span, "leakage per cycle", 0, MAX_ENERGY_PJ, "pJ")

    def area(self, props: dict[str, Prop]) -> float | None:
        if "area" not in props:
            return None
        value = as_quantity(props["area"].value, props["area"].span, "area", ["area"]).value
        return within(value, props["area"].span, "area", 0, MAX_AREA_UM2, "um2")

    def build(self, point: Point) -> AcceleratorSpec | None:
        top = [n for n in self.decl.body if isinstance(n, ast.Property | ast.SubBlock)]
        props = collect_props(top, ACCELERATOR_PROPERTIES, f"accelerator "
                              f"`{self.decl.name.text}`", self.scope, self.ctx, self.diagnostics)
        word_bits = 16
        clock_hz = 1e9
        technology_nm = 45.0
        try:
            if "word" in props:
                word_bits = self.size_bits(props["word"], 1, "the word size", MAX_WORD_BITS)
            elif not any(isinstance(n, ast.Property) and n.name.text == "word" for n in top):
                self.diagnostics.append(error(
                    "E206", f"accelerator `{self.decl.name.text}` has no `word` size",
                    self.decl.name.span, help="add e.g. `word = 16b`"))
            if "clock" in props:
                # Kept at its default unless valid: memories convert powers with it.
                clock_hz = within(as_quantity(props["clock"].value, props["clock"].span,
                                              "the clock", ["frequency"]).value,
                                  props["clock"].span, "the clock", MIN_CLOCK_HZ,
                                  MAX_CLOCK_HZ, "Hz")
            elif not any(isinstance(n, ast.Property) and n.name.text == "clock" for n in top):
                self.diagnostics.append(error(
                    "E206", f"accelerator `{self.decl.name.text}` has no `clock`",
                    self.decl.name.span, help="add e.g. `clock = 200MHz`"))
            if "technology" in props:
                technology_nm = as_quantity(props["technology"].value, props["technology"].span,
                                            "the technology node", ["length"]).value
                if not 1 <= technology_nm <= 1000:
                    raise fail("E302", "technology node must be between 1nm and 1000nm",
                               props["technology"].span)
        except EvalError as exc:
            self.diagnostics.append(exc.diagnostic)
        self.power_gated = self.flag(props, "power_gated", True)
        hierarchy: list[MemorySpec | FanoutSpec] = []
        spans: dict[str, Span] = {}
        compute: ComputeSpec | None = None
        compute_node: ast.Component | None = None
        for node in self.decl.body:
            if not isinstance(node, ast.Component):
                continue
            if node.name.text in spans:
                self.diagnostics.append(error(
                    "E202", f"component `{node.name.text}` is defined twice", node.name.span,
                    related=(Label(spans[node.name.text], "first defined here"),)))
                continue
            spans[node.name.text] = node.name.span
            if compute_node is not None:
                self.diagnostics.append(error(
                    "E504", f"`{node.name.text}` comes after the compute block", node.span,
                    related=(Label(compute_node.span, "compute declared here"),),
                    help="declare memories and fanouts outermost first, compute last"))
                continue
            try:
                if node.kind == "memory":
                    hierarchy.append(self.memory(node, word_bits, clock_hz))
                elif node.kind == "fanout":
                    if not hierarchy:
                        raise fail("E504", "a fanout needs a memory above it", node.span,
                                   help="declare the outermost memory (e.g. DRAM) first")
                    fanout = self.fanout(node)
                    if fanout is not None:
                        hierarchy.append(fanout)
                else:
                    compute_node = node
                    compute = self.compute(node, word_bits, clock_hz)
            except EvalError as exc:
                self.diagnostics.append(exc.diagnostic)
                if node.kind == "compute":
                    compute_node = node
        if compute_node is None:
            self.diagnostics.append(error(
                "E504", f"accelerator `{self.decl.name.text}` has no compute block",
                self.decl.name.span, help="add `compute MAC { energy = ... }` last"))
        if not any(isinstance(level, MemorySpec) for level in hierarchy) and not any(
                isinstance(n, ast.Component) and n.kind == "memory" for n in self.decl.body):
            self.diagnostics.append(error(
                "E504", f"accelerator `{self.decl.name.text}` has no memory",
                self.decl.name.span, help="declare at least a DRAM: `memory DRAM { ... }`"))
        # Judged on the declaration, not on the levels that built: a level that failed (and
        # was reported) must not make its fanout look like the last one.
        declared = [n for n in self.decl.body
                    if isinstance(n, ast.Component) and n.kind != "compute"]
        if declared and declared[-1].kind == "fanout":
            last_node = declared[-1]
            self.diagnostics.append(error(
                "E504", f"fanout `{last_node.name.text}` has no memory below it",
                last_node.name.span,
                help="each PE needs a memory (register file) between the fanout and compute"))
        instances = math.prod(level.mesh_x * level.mesh_y for level in hierarchy
                              if isinstance(level, FanoutSpec))
        if instances > MAX_INSTANCES:
            self.diagnostics.append(error(
                "E302", f"accelerator `{self.decl.name.text}` has {instances:,} compute "
                f"instances, more than the limit of {MAX_INSTANCES:,}", self.decl.name.span,
                label="the product of its fanouts' meshes", help=_LIMITS))
        self.check_homes(hierarchy, spans)
        self.check_diagonal(hierarchy, spans)
        constraints = self.constraints(hierarchy)
        if any(d.is_error for d in self.diagnostics) or compute is None:
            return None
        try:
            return AcceleratorSpec(name=self.decl.name.text, word_bits=word_bits,
                                   clock_hz=clock_hz, technology_nm=technology_nm,
                                   hierarchy=tuple(hierarchy), compute=compute, point=point,
                                   constraints=constraints)
        except ValidationError as exc:
            self.diagnostics.append(error("E302", f"invalid accelerator: "
                                          f"{exc.errors()[0]['msg']}", self.decl.name.span))
            return None

    def memory(self, node: ast.Component, word_bits: int, clock_hz: float) -> MemorySpec:
        what = f"memory `{node.name.text}`"
        props = collect_props(node.body, MEMORY_PROPERTIES, what, self.scope, self.ctx,
                              self.diagnostics)
        level_word = word_bits
        if "word" in props:
            level_word = self.size_bits(props["word"], 1, "the word size", MAX_WORD_BITS)
        size_bits = self.size_bits(props["size"], level_word, "the size") if "size" in props \
            else None
        width_bits = self.size_bits(props["width"], level_word, "the width") \
            if "width" in props else level_word
        if width_bits < level_word:
            raise fail("E302", f"the width ({width_bits}b) is narrower than a word "
                       f"({level_word}b)", props["width"].span)
        leakage = self.leakage(props["leakage"], clock_hz) if "leakage" in props else None
        bandwidth = {k: self.bandwidth(props[k], level_word, clock_hz) for k in
                     ("bandwidth", "read_bandwidth", "write_bandwidth") if k in props}
        buffering = as_int(props["buffering"].value, props["buffering"].span, "buffering",
                           minimum=1, maximum=MAX_BUFFERING) if "buffering" in props else 1
        holds: tuple[str, ...] = ROLES
        if "holds" in props:
            holds = self.roles(props["holds"])
        area = self.area(props)
        memory = MemorySpec(
            name=node.name.text, size_bits=size_bits, word_bits=level_word,
            width_bits=width_bits, read_energy_pj=self.energy(props, "read", "read energy"),
            write_energy_pj=self.energy(props, "write", "write energy"),
            update_energy_pj=self.energy(props, "update", "update energy"),
            leakage_pj_per_cycle=leakage,
            read_bandwidth_words=bandwidth.get("read_bandwidth", bandwidth.get("bandwidth")),
            write_bandwidth_words=bandwidth.get("write_bandwidth", bandwidth.get("bandwidth")),
            shared_bandwidth="bandwidth" in bandwidth, buffering=buffering, area_um2=area,
            holds=holds, power_gated=self.flag(props, "power_gated", self.power_gated),
        )
        if size_bits is not None:
            smallest = buffering * level_word
            span = props["size"].span
            if size_bits < smallest:
                self.diagnostics.append(error(
                    "E503", f"memory `{node.name.text}` cannot hold one tile", span,
                    label=f"{size_bits} bits < {buffering} x {level_word}-bit word",
                    help="make it at least one word per buffer"))
            elif size_bits < smallest * len(holds):
                self.diagnostics.append(warning(
                    "W501", f"memory `{node.name.text}` cannot keep all {len(holds)} tensors "
                    "it holds at once", span,
                    label=f"{size_bits // level_word} words for {len(holds)} tensors x "
                          f"{buffering} buffers",
                    help="mappings will bypass some of them here"))
        return memory

    def bandwidth(self, prop: Prop, word_bits: int, clock_hz: float) -> float:
        quantity = as_quantity(prop.value, prop.span, prop.name, ["words", "bandwidth"],
                               allow_plain=True)
        words = quantity.value if quantity.dimension == "words" else \
            quantity.value / clock_hz / word_bits
        if words <= 0:
            raise fail("E302", f"{prop.name} must be positive", prop.span)
        return within(words, prop.span, f"{prop.name} in words per cycle",
                      MIN_BANDWIDTH_WORDS, MAX_BANDWIDTH_WORDS)

    def roles(self, prop: Prop) -> tuple[str, ...]:
        value = prop.value
        if not isinstance(value, tuple):
            value = (value,)
        # Point at the offending entry of a written list, not at the whole list.
        written = prop.node.value if isinstance(prop.node, ast.Property) else None
        spans = [item.span for item in written.items] \
            if isinstance(written, ast.ListExpr) and len(written.items) == len(value) \
            else [prop.span] * len(value)
        roles: list[str] = []
        for item, span in zip(value, spans, strict=True):
            role = as_symbol(item, span, "a tensor role", ROLES, self.scope.all_names())
            if role not in roles:
                roles.append(role)
        return tuple(roles)

    def fanout(self, node: ast.Component) -> FanoutSpec | None:
        what = f"fanout `{node.name.text}`"
        props = collect_props(node.body, FANOUT_PROPERTIES, what, self.scope, self.ctx,
                              self.diagnostics, sub_blocks=("dataflow",))
        if "mesh" not in props:
            if any(n.name.text == "mesh" for n in node.body):
                return None  # its value failed to evaluate, already reported
            raise fail("E206", f"{what} has no `mesh`", node.name.span,
                       help="add e.g. `mesh = 16 x 16`")
        mesh = props["mesh"].value
        if isinstance(mesh, MeshValue):
            mesh_x, mesh_y = mesh.x, mesh.y
        else:
            mesh_x, mesh_y = as_int(mesh, props["mesh"].span, "a mesh", minimum=1,
                                    maximum=MAX_MESH_EXTENT), 1
        dataflow = DataflowSpec(preset="free")
        if "dataflow" in props:
            dataflow = self.dataflow(props["dataflow"])
        for axis, extent, dims in (("X", mesh_x, dataflow.x), ("Y", mesh_y, dataflow.y)):
            if dims is None:
                continue
            span = props["dataflow"].span
            block = props["dataflow"].node
            if isinstance(block, ast.SubBlock):  # point at `x = [...]` / `y = [...]`
                span = next((p.span for p in block.body if p.name.text == axis.lower()), span)
            if dims and extent == 1:
                self.diagnostics.append(error(
                    "E502", f"the dataflow unrolls [{', '.join(dims)}] across {axis}, but the mesh "
                    f"has one instance on {axis}", span,
                    help=f"widen the mesh on {axis} or drop `{axis.lower()}` from the dataflow"))
            # An empty list on a wider axis leaves it idle (allowed: `y = []`).
        return FanoutSpec(name=node.name.text, mesh_x=mesh_x, mesh_y=mesh_y, dataflow=dataflow,
                          diagonal=self.flag(props, "diagonal", False))

    def dataflow(self, prop: Prop) -> DataflowSpec:
        if isinstance(prop.node, ast.SubBlock):
            sub = collect_props([n for n in prop.node.body], DATAFLOW_PROPERTIES,
                                "a dataflow", self.scope, self.ctx, self.diagnostics)
            axes: dict[str, tuple[str, ...] | None] = {"x": None, "y": None}
            for axis in ("x", "y"):
                if axis in sub:
                    value = sub[axis].value
                    items = value if isinstance(value, tuple) else (value,)
                    names = []
                    for item in items:
                        if not isinstance(item, Sym):
                            raise fail("E505", f"dataflow `{axis}` lists dims, found "
                                       f"{describe(item)}", sub[axis].span)
                        names.append(item.name)
                    axes[axis] = tuple(names)
            stationary = None
            if "stationary" in sub:
                stationary = as_symbol(sub["stationary"].value, sub["stationary"].span,
                                       "a tensor role", ROLES)
            return DataflowSpec(preset=None, x=axes["x"], y=axes["y"],
                                stationary=stationary)
        if not isinstance(prop.value, Sym):
            raise fail("E505", f"expected a dataflow preset, found {describe(prop.value)}",
                       prop.span, help="presets: " + ", ".join(DATAFLOW_PRESETS))
        if prop.value.name not in DATAFLOW_PRESETS:
            raise fail("E505", f"unknown dataflow `{prop.value.name}`", prop.span,
                       help=did_you_mean(prop.value.name, [*DATAFLOW_PRESETS,
                                                           *self.scope.all_names()])
                       or "presets: " + ", ".join(DATAFLOW_PRESETS))
        stationary = {"weight_stationary": "weight", "output_stationary": "output",
                      "input_stationary": "input"}.get(prop.value.name)
        return DataflowSpec(preset=prop.value.name,
                            stationary=stationary)

    def compute(self, node: ast.Component, word_bits: int, clock_hz: float) -> ComputeSpec:
        props = collect_props(node.body, COMPUTE_PROPERTIES, f"compute `{node.name.text}`",
                              self.scope, self.ctx, self.diagnostics)
        mac_word = self.size_bits(props["word"], 1, "the word size", MAX_WORD_BITS) \
            if "word" in props else word_bits
        leakage = self.leakage(props["leakage"], clock_hz) if "leakage" in props else 0.0
        area = self.area(props)
        return ComputeSpec(name=node.name.text, energy_pj=self.energy(props, "energy",
                                                                      "MAC energy"),
                           word_bits=mac_word, area_um2=area, leakage_pj_per_cycle=leakage,
                           power_gated=self.flag(props, "power_gated", self.power_gated))

    def constraints(self, hierarchy: Sequence[MemorySpec | FanoutSpec]) -> MapConstraints:
        """The accelerator's `constraints` block (at most one), read and checked against
        its hierarchy (dslc.sema.constraints)."""
        blocks = [n for n in self.decl.body if isinstance(n, ast.ConstraintsBlock)]
        if not blocks:
            return MapConstraints()
        for extra in blocks[1:]:
            self.diagnostics.append(error(
                "E609", f"accelerator `{self.decl.name.text}` has two `constraints` blocks",
                extra.name.span, related=(Label(blocks[0].name.span, "first block here"),),
                help="put every constraint in one block"))
        components = {name: frozenset({kind}) for name, kind in
                      components_of(self.decl).items()}
        found, spans = read_constraints(blocks[0].targets, self.scope,
                                        f"accelerator `{self.decl.name.text}`", components,
                                        f"accelerator `{self.decl.name.text}`",
                                        self.diagnostics)
        check_constraints(found, spans, hierarchy, self.diagnostics)
        return found

    def check_homes(self, hierarchy: Sequence[MemorySpec | FanoutSpec],
                    spans: dict[str, Span]) -> None:
        memories = [level for level in hierarchy if isinstance(level, MemorySpec)]
        if not memories:
            return
        outer = memories[0]
        missing = [role for role in ROLES if role not in outer.holds]
        if missing:
            self.diagnostics.append(error(
                "E501", f"the outermost memory `{outer.name}` does not hold "
                f"{', '.join(missing)}", spans[outer.name],
                help="the outermost memory is the backing store and must hold every tensor"))


    # ---- counting-rule properties ----------------------------------------------------

    def flag(self, props: dict[str, Prop], key: str, default: bool) -> bool:
        """A true/false property (E303 for anything else, reported; the default is used)."""
        if key not in props:
            return default
        try:
            return as_bool(props[key].value, props[key].span, f"`{key}`")
        except EvalError as exc:
            self.diagnostics.append(exc.diagnostic)
            return default

    def check_diagonal(self, hierarchy: Sequence[MemorySpec | FanoutSpec],
                       spans: dict[str, Span]) -> None:
        """A diagonal fanout shares with the fanout directly above it: there must be one (a
        memory between them would hold the data, and diagonal sharing would be moot)."""
        declared = [n for n in self.decl.body if isinstance(n, ast.Component)]
        built = {c.name: c for c in hierarchy if isinstance(c, FanoutSpec)}
        for above, node in zip([None, *declared], declared, strict=False):
            fanout = built.get(node.name.text)
            if fanout is None or not fanout.diagonal:
                continue
            if above is None or above.kind != "fanout":
                what = "the first component" if above is None else \
                    f"directly below {above.kind} `{above.name.text}`"
                self.diagnostics.append(error(
                    "E504", f"fanout `{fanout.name}` is diagonal but is {what}",
                    spans[fanout.name],
                    help="`diagonal = true` joins the fanout directly above it; declare "
                         "the two fanouts next to each other or drop `diagonal`"))


def build_accelerator(decl: ast.AcceleratorDecl, scope: Scope,
                      point: Point) -> tuple[AcceleratorSpec | None, list[Diagnostic]]:
    """Build one concrete accelerator at a point of its design space."""
    builder = _AcceleratorBuilder(decl, scope)
    try:
        spec = builder.build(point)
    except EvalError as exc:
        builder.diagnostics.append(exc.diagnostic)
        spec = None
    return spec, builder.diagnostics

