"""Timeloop v3 YAML out and in: problem, architecture (with Accelergy ERT/ART tables) and
mapping files, in the layout of the public Timeloop exercises.

Owns `export_study(arch, layers) -> {relative path: text}`, `read_files(directory) ->
{relative path: text}` (only regular files inside the directory, bounded in size) and
`read_study(files) -> Study`.
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
optimisations, networks-on-chip, cluster sizes or problem shapes named by file on import).
Everything read is read as timeloop-model reads it (NVlabs/timeloop, the functions cited
where each is read), timeloopfe's flat architecture (components named `X[1..N]`, dummy
`inter_*_spatial` levels) included. It does not evaluate
costs (the API does) nor run Timeloop.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import stat
from collections.abc import Iterator
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dslc.arch import ArchModel, LevelModel
from dslc.diagnostics.diagnostic import DiagnosticError, error
from dslc.diagnostics.span import SourceFile, Span
from dslc.lower.problem import Problem, Projection, Role, Tensor
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.limits import (
    MAX_AREA_UM2,
    MAX_DIM,
    MAX_ENERGY_PJ,
    MAX_INSTANCES,
    MAX_LAYER_MACS,
    MAX_MEMORY_BITS,
    MAX_TENSOR_ELEMENTS,
)

TIMELOOP_NAMES = {"weight": "Weights", "input": "Inputs", "output": "Outputs"}
"""dslc's default tensor names and the Timeloop exercises' data-space names."""
DSLC_NAMES = {v: k for k, v in TIMELOOP_NAMES.items()}
COMPUTE_CLASSES = ("mac", "intmac", "fpmac", "compute")
"""timeloop-model's arithmetic classes (include/model/topology.hpp, `computeClasses`): a
component whose class contains one is the unit it counts MACs on (`isComputeClass`). An
adder (`intadder`, `fpadder`) is none of them, and Timeloop neglects it."""


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

    @property
    def estimated(self) -> tuple[str, ...]:
        """The components whose access (or MAC) energy no ERT entry nor
        `vector-access-energy` gives: dslc's estimator stands in for it, where Timeloop
        would use an estimate of its own, so their energies need not be Timeloop's."""
        return tuple(c.name for c in (*self.accelerator.hierarchy, self.accelerator.compute)
                     if (isinstance(c, MemorySpec) and c.read_energy_pj is None)
                     or (isinstance(c, ComputeSpec) and c.energy_pj is None))


def _unsupported(message: str, hint: str = "docs/interop.md lists the Timeloop features "
                 "dslc reads and those it refuses", at: Any = None) -> DiagnosticError:
    return DiagnosticError([error("E806", message, _span_of(at), help=hint)])


_LIMITS_HELP = ("dslc holds imported studies to the limits of its language "
                "(docs/language/guide.md, \"Limits\"; dslc/spec/limits.py)")
_Model = TypeVar("_Model", bound=BaseModel)


def _out_of_range(path: str, message: str, at: Any = None) -> DiagnosticError:
    return DiagnosticError([error("E302", f"{path}: {message}", _span_of(at),
                                  help=_LIMITS_HELP)])


def _built(model: type[_Model], path: str, what: str, _near: Any = None,
           **fields: Any) -> _Model:
    """`model(**fields)`, a value outside the spec's stated range being E302 naming the file,
    the component and the field (the spec models carry the language's limits), a value of
    the wrong type (a string for a number, a fraction for a count) E805; each pointing at
    the value where the file wrote it, else at `_near` (the component it belongs to)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "its figures"
        value = first.get("input")
        shown = repr(value)[:80] if isinstance(value, (bool, int, float, str)) else \
            _kind(value)
        message = f"{what}: {field} = {shown}: {first['msg'].lower()}"
        at = value if isinstance(value, _Positioned) else _near
        if first["type"] in _RANGE_ERRORS:
            raise _out_of_range(path, message, at=at) from None
        raise _unreadable(path, message, at=at) from None


_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than",
                           "less_than_equal", "finite_number"})
"""pydantic's error types for a value of the right type outside its field's range."""


def _unreadable(path: str, message: str,
                help: str = "docs/interop.md describes the files dslc reads",
                at: Any = None) -> DiagnosticError:
    """E805 naming the file; pointing at `at` in it (`_span_of`: a span, or a mapping,
    list, string or number `_load` read)."""
    return DiagnosticError([error("E805", f"{path}: {message}", _span_of(at), help=help)])


class _Positioned:
    """A value read from a YAML file that knows where it was written (`span`), so that a
    diagnostic about it shows the file's line. The subclasses compare, hash, print and
    format as the plain values they extend."""

    span: Span | None = None


class _Map(dict[Any, Any], _Positioned):
    pass


class _Seq(list[Any], _Positioned):
    pass


class _Str(str, _Positioned):
    pass


class _Int(int, _Positioned):
    pass


class _Float(float, _Positioned):
    pass


def _span_of(at: Any) -> Span | None:
    """Where `at` is: a span itself, or a value read from a file (`_Positioned`)."""
    if isinstance(at, Span):
        return at
    return at.span if isinstance(at, _Positioned) else None


def _node_span(source: SourceFile, node: Any) -> Span:
    """The span of a YAML node, by its marks' lines and columns (libyaml's and PyYAML's
    character indices may differ on non-ASCII text). A block mapping or list ends where
    its last value does: its own end mark is the next token's start, past the comments
    and blank lines between."""
    start = _mark_offset(source, node.start_mark)
    last = node
    while not getattr(last, "flow_style", True) and last.value:
        item = last.value[-1]
        last = item[1] if isinstance(item, tuple) else item
    return Span(source, start, max(_mark_offset(source, last.end_mark), start + 1))


def _mark_offset(source: SourceFile, mark: Any) -> int:
    line = min(int(mark.line) + 1, source.line_count)
    start, end = source.line_bounds(line)
    return min(start + int(mark.column), end)


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
            # a range counts instances per instance of the parent (Timeloop and Accelergy
            # multiply them down the tree)
            count = fanout.instances
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


def _permutation(dims: list[str]) -> str:
    return "".join(dims)  # one letter a dim (checked by _mapping_yaml)


def _mapping_yaml(problem: Problem, arch: ArchModel, mapping: Mapping) -> dict[str, Any]:
    unnamed = [d for d in problem.dims if not re.fullmatch(r"[A-Za-z]", d)]
    if unnamed:
        # timeloop-model reads a permutation one character a dim and `factors` as letters
        # then digits (src/mapping/parser.cpp): `C2=4` is C = 2, and a permutation of
        # longer names, written as a list, is not read at all (its order is then arbitrary)
        raise _unsupported(f"dims {', '.join(unnamed)}: Timeloop's mappings name each dim "
                           "by one letter", "name the einsum's dims with single letters")
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


NOTES_HEADING = "Mappings re-searched for Timeloop:"
"""README.txt's heading over what an export of the mapper's mappings changed (`dslc export`
prints those lines too)."""


def export_study(arch: ArchModel, layers: tuple[StudyLayer, ...],
                 notes: tuple[str, ...] = ()) -> dict[str, str]:
    """The study's files by relative path (see the module docstring); `notes` (what the
    export changed, one line each) go in README.txt under NOTES_HEADING."""
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
    if notes:
        files["README.txt"] += f"\n{NOTES_HEADING}\n" + "".join(f"- {n}\n" for n in notes)
    return files


# ---- in -------------------------------------------------------------------------------------

MAX_STUDY_FILE_BYTES = 1 << 20
"""Largest study file read, in bytes (1 MiB; Timeloop's files are kilobytes, and PyYAML takes
seconds a megabyte)."""
MAX_STUDY_FILES = 2_000
"""Most `.yaml` files a study directory may hold (two per layer, plus the architecture)."""
MAX_STUDY_ENTRIES = 100_000
"""Most directory entries looked at while finding a study's files (a study named by
mistake as a home directory stops here, with a diagnostic)."""
MAX_YAML_NODES = 1_000_000
"""Most YAML nodes in one file with every alias expanded: anchors and aliases can make a
small file stand for a huge tree (the "billion laughs"), which reading would then walk."""


def read_files(directory: Path) -> dict[str, str]:
    """The text of every `*.yaml` file under `directory`, by relative path. Only regular
    files inside the directory are read: a link that leads out of it, a FIFO or a device is
    E805 and is never opened, so a study received from someone else cannot read the
    recipient's other files; a linked directory is not entered. Files are at most
    MAX_STUDY_FILE_BYTES and UTF-8. A `directory` that is not one is E805 too, as a spec
    file that is missing is E203."""
    if not directory.is_dir():
        missing = "no such directory" if not directory.exists() else "not a directory"
        raise _unreadable(str(directory), f"{missing}; a study is a directory of Timeloop "
                          "files", help="name the directory holding the study's .yaml files "
                          "(what `dslc export --to timeloop` writes)")
    root = directory.resolve()
    found: dict[str, str] = {}
    entries = 0
    for folder, subdirs, names in os.walk(root):  # followlinks=False: links to directories
        subdirs.sort()                            # are listed, not entered
        entries += len(subdirs) + len(names)
        if entries > MAX_STUDY_ENTRIES:
            raise _unreadable(str(directory), f"more than {MAX_STUDY_ENTRIES:,} entries; a "
                              "study is a directory of Timeloop files")
        for name in sorted(names):
            if not name.endswith(".yaml"):
                continue
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            found[relative] = _read_file(path, relative, root)
            if len(found) > MAX_STUDY_FILES:
                raise _unreadable(str(directory), f"more than {MAX_STUDY_FILES:,} .yaml "
                                  "files; a study is a directory of Timeloop files")
    return found


def _read_file(path: Path, relative: str, root: Path) -> str:
    target = path.resolve()
    if target != root and root not in target.parents:
        raise _unreadable(relative, f"a link to `{target}`, outside the study's directory: "
                          "not read", help="copy the file into the study's directory")
    try:
        info = target.stat()
        if not stat.S_ISREG(info.st_mode):
            raise _unreadable(relative, "not a regular file: not read")
        if info.st_size > MAX_STUDY_FILE_BYTES:
            raise _unreadable(relative, f"{info.st_size:,} bytes, more than the limit of "
                              f"{MAX_STUDY_FILE_BYTES:,}")
        with target.open("rb") as stream:
            data = stream.read(MAX_STUDY_FILE_BYTES + 1)
    except OSError as exc:
        raise _unreadable(relative, f"cannot be read ({exc.strerror})") from None
    if len(data) > MAX_STUDY_FILE_BYTES:
        raise _unreadable(relative, f"more than the limit of {MAX_STUDY_FILE_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unreadable(relative, f"not UTF-8 text (byte {exc.start})") from None


def _yaml_size(root: Any, path: str) -> None:
    """E805 unless the node tree, aliases expanded, has at most MAX_YAML_NODES nodes and no
    node inside itself (a recursive alias). Iterative, memoised by node: linear in the
    file."""
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    size: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            size[key] = 1 + sum(size[id(child)] for child in children(node))
            if size[key] > MAX_YAML_NODES:
                raise _unreadable(path, f"more than {MAX_YAML_NODES:,} values once its "
                                  "aliases are expanded")
            continue
        if key in size:
            continue
        if key in entered:  # entered and not finished: it is its own ancestor
            raise _unreadable(path, "an alias inside its own anchor (a recursive value)")
        entered.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children(node))


@functools.cache
def _loader_class() -> type[Any]:
    """The safe loader, which also reads local tags (timeloopfe's `!Component`,
    `!Container`, `!Parallel`) as the plain values they tag, so that a v4 study reaches the
    diagnostic that names its form instead of "not YAML". `!!python/...` tags are not local
    and stay unconstructed."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: type[Any] = type("StudyLoader", (base,), {})

    def untagged(constructor: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            return constructor.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return constructor.construct_sequence(node, deep=True)
        return constructor.construct_scalar(node)

    loader.add_multi_constructor("!", untagged)

    # Every mapping, list, string and number as a `_Positioned` value with its node's span
    # (the loader's `source`), so that a diagnostic about it can point at its line. The
    # mapping is yielded before it is filled, as PyYAML's own constructor does, so that an
    # alias inside its anchor is refused by `_yaml_size` rather than recursing here.
    def positioned_map(constructor: Any, node: Any) -> Iterator[_Map]:
        data = _Map()
        data.span = _node_span(constructor.source, node)
        yield data
        data.update(constructor.construct_mapping(node))

    def positioned_seq(constructor: Any, node: Any) -> Iterator[_Seq]:
        data = _Seq()
        data.span = _node_span(constructor.source, node)
        yield data
        data.extend(constructor.construct_sequence(node))

    def scalar(kind: type[_Str] | type[_Int] | type[_Float], plain: Any) -> Any:
        def construct(constructor: Any, node: Any) -> Any:
            value = kind(plain(constructor, node))
            value.span = _node_span(constructor.source, node)
            return value
        return construct

    loader.add_constructor("tag:yaml.org,2002:map", positioned_map)
    loader.add_constructor("tag:yaml.org,2002:seq", positioned_seq)
    loader.add_constructor("tag:yaml.org,2002:str", scalar(_Str, base.construct_yaml_str))
    loader.add_constructor("tag:yaml.org,2002:int", scalar(_Int, base.construct_yaml_int))
    loader.add_constructor("tag:yaml.org,2002:float",
                           scalar(_Float, base.construct_yaml_float))
    return loader


def _load(path: str, text: str) -> dict[str, Any]:
    import yaml

    loader = _loader_class()(text)
    loader.source = SourceFile.of(path, text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _yaml_size(node, path)
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _not_yaml(path, exc, loader.source) from None
    except yaml.YAMLError as exc:
        raise _unreadable(path, f"not YAML ({str(exc).splitlines()[0]})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise _unreadable(path, "expected a mapping at the top", at=data)
    return data


def _not_yaml(path: str, exc: Any, source: SourceFile) -> DiagnosticError:
    """E805 at the place the YAML parser stopped, saying what it found there and what it
    was reading (`while parsing a flow mapping`, with that mapping's line)."""
    mark = exc.problem_mark if exc.problem_mark is not None else exc.context_mark
    span = None
    if mark is not None:
        offset = _mark_offset(source, mark)
        span = Span(source, offset, min(offset + 1, len(source.text)))
    problem = exc.problem or "not YAML"
    context = ""
    if exc.context:
        context = f" {exc.context}"
        if exc.context_mark is not None and exc.problem_mark is not None:
            context += f" (line {exc.context_mark.line + 1})"
    return _unreadable(path, f"not YAML: {problem}{context}", at=span)


def _get(data: MappingType[str, Any], key: str, path: str, *alternatives: str) -> Any:
    if not isinstance(data, MappingType):
        raise _unreadable(path, f"expected a mapping holding `{key}`, found "
                          f"{_kind(data)}", at=data)
    for name in (key, *alternatives):
        if name in data:
            return data[name]
    raise _unreadable(path, f"missing `{key}`", at=data)


def _kind(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (int, "a number"), (float, "a number"),
                       (str, "a string"), (list, "a list"), (dict, "a mapping"),
                       (type(None), "nothing")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _wrong(path: str, what: str, expected: str, value: Any) -> DiagnosticError:
    shown = repr(value) if isinstance(value, (bool, int, float, str)) else _kind(value)
    return _unreadable(path, f"{what}: expected {expected}, found {shown[:80]}", at=value)


def _mapping(value: Any, path: str, what: str) -> MappingType[str, Any]:
    if not isinstance(value, MappingType):
        raise _wrong(path, what, "a mapping", value)
    return value


def _list(value: Any, path: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(path, what, "a list", value)
    return value


def _whole(value: Any, path: str, what: str) -> int:
    """A whole number: an int, an integral float, or decimal digits (never a boolean, and
    never a fraction rounded away)."""
    if isinstance(value, bool):
        raise _wrong(path, what, "a whole number", value)
    if isinstance(value, int):
        return int(value)  # a plain int: a read value (`_Int`) carries its file's text
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value)
    raise _wrong(path, what, "a whole number", value)


def _number(value: Any, path: str, what: str) -> float:
    if isinstance(value, bool):
        raise _wrong(path, what, "a number", value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    raise _wrong(path, what, "a number", value)


def _flag(value: Any, path: str, what: str) -> bool:
    if not isinstance(value, bool):
        raise _wrong(path, what, "true or false", value)
    return value


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _name(value: Any, path: str, what: str) -> str:
    """A name that dslc's language can write (letters, digits and _), so that the study
    written as a spec (`-o`) reads back."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or \
            not _NAME.fullmatch(str(value)):
        raise _wrong(path, what, "a name of letters, digits and _", value)
    return str(value)


def _base_name(name: str) -> str:
    return re.sub(r"\[.*\]$", "", name)


def _component_name(path: str) -> str:
    """A table's component from its hierarchical name: the last part, without its range
    (`system.PE[0..167].RF[0..3]` -> `RF`; the dots of a range do not split parts)."""
    return _base_name(re.sub(r"\[[0-9]+\.\.[0-9]+\]", "", path).rsplit(".", 1)[-1])


_ERT_ACTIONS = {
    "read": ("random_read", "read"),
    "write": ("random_fill", "random_write", "fill", "write"),
    "update": ("random_update", "random_write", "update", "write"),
    "compute": ("mac_random", "mult_random", "mac", "mult", "compute", "MAC"),
}
"""The ERT action names timeloop-model charges a storage read, fill and update and a MAC
with, first found first (its `storageOperationMappings` and `arithmeticOperationMappings`,
include/model/topology.hpp); `MAC`, which dslc also writes, last."""


def _energy(energies: MappingType[str, float], kind: str) -> float | None:
    return next((energies[name] for name in _ERT_ACTIONS[kind] if name in energies), None)


def _instances_of(name: str, path: str) -> int | None:
    match = re.search(r"\[([0-9]+)\.\.([0-9]+)\]$", name)
    if match is None:
        return None
    first, last = int(match[1]), int(match[2])
    if last < first or last - first >= MAX_INSTANCES:
        raise _unreadable(path, f"`{name}`: the range of instances is empty or larger "
                          f"than {MAX_INSTANCES:,}", at=name)
    return last - first + 1


def _technology(value: Any, path: str) -> float:
    text = str(value).strip().removesuffix("nm").strip()
    try:
        return float(text)
    except ValueError:
        raise _wrong(path, "`technology`", "a size such as 45nm", value) from None


def _tables(files: MappingType[str, str], kind: str) -> dict[str, Any]:
    """ERT actions or ART areas by component base name. A component given different
    figures by two files is E805 (one of them would silently win)."""
    found: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path, text in sorted(files.items()):
        if not path.endswith(f".{kind}.yaml") and not path.endswith(f"/{kind}.yaml"):
            continue
        tables = _list(_get(_get(_load(path, text), kind, path), "tables", path), path,
                       f"`{kind}.tables`")
        for table in tables:
            table = _mapping(table, path, f"a table of `{kind}`")
            name = _component_name(str(table.get("name", "")))
            value: Any
            if kind == "ERT":
                value = {}
                for action in _list(table.get("actions", []), path, f"`{name}` actions"):
                    action = _mapping(action, path, f"an action of `{name}`")
                    action_name = str(_get(action, "name", path))
                    energy = _figure(_get(action, "energy", path), path,
                                     f"`{name}` action `{action_name}` energy", "pJ")
                    # an action listed once per argument combination (Accelergy's
                    # `address_delta`, `data_delta`): Timeloop charges the most expensive
                    value[action_name] = max(energy, value.get(action_name, energy))
            else:
                value = _figure(table.get("area", 0.0), path, f"`{name}` area", "um^2")
            if name in found and found[name] != value:
                raise _unreadable(path, f"`{name}` has other figures in {origin[name]}",
                                  help="keep one table per component", at=table)
            found[name], origin[name] = value, path
    return found


def _figure(value: Any, path: str, what: str, unit: str) -> float:
    """An ERT energy or ART area: a number from 0 to the language's limit (an energy of 1 mJ
    an action, an area of 1 m^2). A NaN, an infinity or a negative figure is E302 naming the
    table's file, the component and the action; it was read as it stood and reported by the
    architecture's file, as if that file held it."""
    number = _number(value, path, what)
    limit = MAX_ENERGY_PJ if unit == "pJ" else MAX_AREA_UM2
    if not (math.isfinite(number) and 0 <= number <= limit):
        raise _out_of_range(path, f"{what} = {number!r} {unit}: a figure from 0 to "
                                  f"{limit:g} {unit}", at=value)
    return number


def _read_arch(path: str, data: dict[str, Any], ert: dict[str, Any], art: dict[str, Any]
               ) -> AcceleratorSpec:
    tree = _mapping(_get(data, "architecture", path), path, "`architecture`")
    if "nodes" in tree:
        raise _unsupported(f"{path}: the `nodes` form (timeloopfe's !Container/!Component) "
                           "is not read; use the `subtree`/`local` form", at=tree)
    subtrees = _list(_get(tree, "subtree", path), path, "`architecture.subtree`")
    if len(subtrees) != 1:
        raise _unreadable(path, f"`architecture.subtree` has {len(subtrees)} entries; "
                          "expected the one system node", at=subtrees)
    top = _mapping(subtrees[0], path, "the system node")
    attributes = _mapping(top.get("attributes") or {}, path, "the system's attributes")
    if attributes.get("dslc_clock_hz") is not None:
        clock = _number(attributes["dslc_clock_hz"], path, "`dslc_clock_hz`")
    else:
        seconds = _number(attributes.get("global_cycle_seconds", 1e-9), path,
                          "`global_cycle_seconds`")
        if not seconds > 0:
            raise _out_of_range(path, f"`global_cycle_seconds` = {seconds!r}: a clock "
                                      "period must be positive",
                                at=attributes.get("global_cycle_seconds"))
        clock = 1 / seconds
    hierarchy: list[MemorySpec | FanoutSpec] = []
    compute: ComputeSpec | None = None
    node: MappingType[str, Any] | None = top
    instances = 1  # the product of the subtrees' ranges
    placed = 1     # instances of the last component placed
    mesh_x_above = 1
    while node is not None:
        for component in _list(node.get("local") or [], path, "`local`"):
            component = _mapping(component, path, "a component of `local`")
            full_name = str(_get(component, "name", path))
            name = _name(_base_name(full_name), path, "a component's name")
            attrs = _attributes(component.get("attributes") or {}, path, name)
            kind = _component_class(component, name, path)
            placed, mesh_x_above = _local_array(path, name, full_name, attrs, hierarchy,
                                                instances, placed, mesh_x_above)
            _check_instances(path, name, attrs, placed, mesh_x_above)
            gated = attrs.get("power_gated_at")
            if gated is not None and _base_name(str(gated)) != name:
                raise _unsupported(
                    f"{path}: `{name}` is power gated at `{gated}` (Timeloop gates its "
                    "leakage with that level's use), which has no dslc counterpart",
                    f"remove `power_gated_at` (or make it `{name}`, Timeloop's default); "
                    "dslc_power_gated says whether a component leaks only while used",
                    at=gated)
            energies = ert.get(name, {})
            what = f"`{name}`"
            if kind == "compute":
                if compute is not None:
                    raise _unreadable(path, f"two compute components, `{compute.name}` and "
                                      f"`{name}`; timeloop-model has one arithmetic level",
                                      at=component)
                compute = _built(
                    ComputeSpec, path, f"compute `{name}`", component, name=name,
                    energy_pj=_energy(energies, "compute"),
                    word_bits=attrs.get("datawidth", attrs.get("word_bits", 16)),
                    area_um2=art.get(name),
                    leakage_pj_per_cycle=attrs.get("dslc_leakage_pj_per_cycle",
                                                   energies.get("leak", 0.0)),
                    power_gated=_flag(attrs.get("dslc_power_gated", True), path,
                                      f"{what} `dslc_power_gated`"))
                continue
            # BufferLevel::ParseSpecs: word-bits, else word_width, else datawidth
            word = _whole(_first(attrs.get("word_bits"), attrs.get("word_width"),
                                 attrs.get("datawidth"), 16), path, f"{what} `word_bits`")
            block = _block_words(attrs, word, path, name)
            entries = _size_words(attrs, word, block, path, name)
            # an action the ERT lacks costs `vector-access-energy` in Timeloop (its own
            # estimate when that is missing too, which dslc's estimator stands in for)
            vector = attrs.get("vector_access_energy")
            read = _first(_energy(energies, "read"), vector)
            write = _first(_energy(energies, "write"), vector, read)
            update = _first(_energy(energies, "update"), vector, write)
            holds = _list(attrs.get("dslc_holds", ["input", "weight", "output"]), path,
                          f"{what} `dslc_holds`")
            hierarchy.append(_built(
                MemorySpec, path, f"memory `{name}`", component, name=name,
                size_bits=None if entries is None else entries * word,
                word_bits=word, width_bits=word * block,
                read_energy_pj=read, write_energy_pj=write,
                update_energy_pj=update,
                leakage_pj_per_cycle=attrs.get("dslc_leakage_pj_per_cycle",
                                               energies.get("leak", 0.0)),
                read_bandwidth_words=attrs.get("read_bandwidth"),
                write_bandwidth_words=attrs.get("write_bandwidth"),
                shared_bandwidth=_flag(attrs.get("dslc_shared_bandwidth", False), path,
                                       f"{what} `dslc_shared_bandwidth`"),
                buffering=attrs.get("multiple_buffering", 1),
                area_um2=art.get(name),
                holds=tuple(holds),
                power_gated=_flag(attrs.get("dslc_power_gated", True), path,
                                  f"{what} `dslc_power_gated`")))
        children = _list(node.get("subtree") or [], path, "`subtree`")
        if len(children) > 1:
            raise _unsupported(f"{path}: `{node.get('name')}` has {len(children)} subtrees; "
                               "dslc's hierarchies are one chain", at=children)
        if not children:
            break
        child = _mapping(children[0], path, "a subtree")
        attrs = _attributes(child.get("attributes") or {}, path, "a subtree")
        # `PE[0..15]` is 16 instances of the subtree per instance of its parent (Timeloop
        # and Accelergy multiply the ranges down the tree)
        count = _instances_of(str(child.get("name", "")), path) or 1
        if count > 1:
            fanout = _name(_base_name(str(child["name"])), path, "a subtree's name")
            if placed != instances:
                raise _unsupported(
                    f"{path}: `{child.get('name')}` is a subtree below components that are "
                    "arrays of their own (a local `X[1..N]`); dslc reads either form, not "
                    "both in one tree", "write the fanouts as subtrees (`PE[0..15]` with "
                    "its components inside), or every component in one `local` list named "
                    "with its total instances (timeloopfe's flat form)", at=child)
            mesh = _list(attrs.get("dslc_mesh") or
                         _mesh_from_mesh_x(child, count, mesh_x_above, path),
                         path, f"`{fanout}` `dslc_mesh`")
            if len(mesh) != 2:
                raise _wrong(path, f"`{fanout}` `dslc_mesh`", "[X, Y]", mesh)
            mesh_x = _whole(mesh[0], path, f"`{fanout}` mesh X")
            mesh_y = _whole(mesh[1], path, f"`{fanout}` mesh Y")
            flow = _mapping(attrs.get("dslc_dataflow", {"preset": "free"}), path,
                            f"`{fanout}` `dslc_dataflow`")
            dataflow = _built(DataflowSpec, path, f"fanout `{fanout}` dataflow", flow,
                              **flow)
            hierarchy.append(_built(FanoutSpec, path, f"fanout `{fanout}`", child,
                                    name=fanout,
                                    mesh_x=mesh_x, mesh_y=mesh_y, dataflow=dataflow,
                                    diagonal=_flag(attrs.get("dslc_diagonal", False), path,
                                                   f"`{fanout}` `dslc_diagonal`")))
            if mesh_x * mesh_y != count:
                raise _unreadable(path, f"`{child.get('name')}`: a mesh of {mesh_x} x "
                                  f"{mesh_y} is not {count} instances per instance above",
                                  at=child)
            instances *= count
            placed = instances
            mesh_x_above *= mesh_x
        node = child
    if compute is None:
        raise _unreadable(path, "no compute component (a class containing mac, "
                          "intmac, fpmac or compute)", at=top)
    stem = path.rsplit("/", 1)[-1].split(".")[0]
    name = (_name(attributes["dslc_accelerator"], path, "`dslc_accelerator`")
            if attributes.get("dslc_accelerator") else _file_name(stem))
    return _built(AcceleratorSpec, path, f"accelerator `{name}`", top, name=name,
                  word_bits=compute.word_bits, clock_hz=clock,
                  technology_nm=_technology(attributes.get("technology", "45nm"), path),
                  hierarchy=tuple(hierarchy), compute=compute)


_STORAGE_CLASSES = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
_NETWORK_CLASSES = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")


def _component_class(component: MappingType[str, Any], name: str, path: str) -> str:
    """`memory` or `compute`, as timeloop-model classes a component (a class containing a
    storage class's name is storage, else one containing `mac` or `compute` is arithmetic;
    include/model/topology.hpp). A network-on-chip is E806; another class, which Timeloop
    skips, E806 too rather than a memory level Timeloop does not have."""
    kind = component.get("class")
    if not isinstance(kind, str) or not kind:
        raise _wrong(path, f"`{name}` `class`", "a storage or compute class", kind)
    if any(word in kind for word in _STORAGE_CLASSES):
        return "memory"
    if any(word in kind for word in COMPUTE_CLASSES):
        return "compute"
    if "adder" in kind:
        # dslc took these for the MAC unit: timeloop-model's ParseTreeSpecs matches no class
        # of its own in them and neglects the component ("unknown class")
        raise _unsupported(
            f"{path}: `{name}` has class `{kind}`: an adder is not the unit timeloop-model "
            "counts MACs on (a class containing mac, intmac, fpmac or compute; "
            "src/model/topology.cpp neglects any other), so its study leaves it out",
            "remove it (timeloop-model's counts do not change), or give the unit every MAC "
            "runs on the class intmac", at=kind)
    if any(word in kind for word in _NETWORK_CLASSES):
        raise _unsupported(f"{path}: `{name}` is a network-on-chip (class {kind}), which "
                           "dslc does not model", "remove it; dslc counts the accesses a "
                           "network carries at the memories on either side", at=kind)
    raise _unsupported(f"{path}: `{name}` has class `{kind}`, neither storage "
                       f"({', '.join(_STORAGE_CLASSES)}) nor compute (mac, intmac, fpmac, "
                       "compute); timeloop-model skips it",
                       "remove it, or give it the class it stands for", at=kind)


def _attributes(value: Any, path: str, name: str) -> dict[str, Any]:
    """A component's attributes with `-` in their names read as `_`, as timeloop-model reads
    them (src/compound-config/hyphens-to-underscores.cpp: `block-size` is the deprecated
    spelling of `block_size`, `word-bits` of `word_bits`, ...): a study written for
    Timeloop v3 or timeloopfe spells them with `_`, dslc read only `-` and took the defaults.
    Both spellings with different values are E805 (one would silently win)."""
    attributes: dict[str, Any] = {}
    for key, item in _mapping(value, path, f"`{name}` attributes").items():
        spelled = str(key).replace("-", "_")
        if spelled in attributes and attributes[spelled] != item:
            raise _unreadable(path, f"`{name}`: `{key}` and `{spelled}` (the same attribute "
                              "to timeloop-model) differ", help="keep one of them", at=key)
        attributes[spelled] = item
    return attributes


_WIDTHS = ("width", "memory_width", "data_storage_width")
"""Attributes timeloop-model reads as a memory's width in bits, the first given first
(src/model/buffer.cpp, `BufferLevel::ParseSpecs`)."""


def _block_words(attrs: MappingType[str, Any], word: int, path: str, name: str) -> int:
    """A memory's block (the words one access moves) as BufferLevel::ParseSpecs reads its
    `block_size` (or `n_words`), `cluster_size` and width (`width`, `memory_width`,
    `data_storage_width`): a width that is not a multiple of word bits x block size stops
    timeloop-model (an assert) and is E805; with a width and neither a block size nor a
    cluster size, the block is width / word bits; with a block size, width / (word bits x
    block size) is the cluster size; with a cluster size, the block is width / cluster size /
    word bits. Timeloop divides an ERT action's energy by the cluster size and charges one
    access per cluster (ParseAccelergyERT, src/model/topology.cpp; utilized clusters in
    BufferLevel::ComputeAccesses, a cluster's energy spread over its instances in
    FinalizeBufferEnergy), which dslc does not model: a cluster size other than 1 is
    E806 naming the memory and the size, not read as a wider block (different energies and
    counts) nor ignored."""
    what = f"`{name}`"
    block_key = next((k for k in ("block_size", "n_words") if attrs.get(k) is not None), "")
    block = _whole(attrs[block_key], path, f"{what} `{block_key}`") if block_key else 1
    if not 1 <= block <= MAX_MEMORY_BITS:
        raise _out_of_range(path, f"memory `{name}`: {block_key} = {block}: a block holds 1 "
                                  "to 2^60 words", at=attrs.get(block_key))
    cluster: int | None = None
    if attrs.get("cluster_size") is not None:
        cluster = _whole(attrs["cluster_size"], path, f"{what} `cluster_size`")
        if cluster < 1:
            raise _out_of_range(path, f"memory `{name}`: cluster_size = {cluster}: a cluster "
                                      "holds at least one instance", at=attrs["cluster_size"])
    width_key = next((k for k in _WIDTHS if attrs.get(k) is not None), "")
    if width_key and word > 0:
        width = _whole(attrs[width_key], path, f"{what} `{width_key}`")
        if width < 1 or width % (word * block):
            raise _unreadable(path, f"memory `{name}`: {width_key} = {width} bits is not a "
                              f"multiple of word_bits x block_size = {word} x {block}; "
                              "timeloop-model stops on it (an assert in "
                              "BufferLevel::ParseSpecs)",
                              help="make the width word_bits x block_size (x cluster_size)",
                              at=attrs[width_key])
        if block_key and cluster is not None:
            if block * word * cluster != width:
                raise _unreadable(path, f"memory `{name}`: block_size x word_bits x "
                                  f"cluster_size = {block} x {word} x {cluster} is not the "
                                  f"{width_key}, {width}; timeloop-model stops on it",
                                  help="give two of the three, or make them agree",
                                  at=attrs[width_key])
        elif cluster is not None:
            block = width // cluster // word
        elif block_key:
            cluster = width // (word * block)
        else:
            block = width // word  # timeloop-model warns, and sets the cluster size to 1
    if cluster is not None and cluster != 1:
        shown = f"{width_key} = {attrs[width_key]}, word_bits = {word}, block_size = " \
            f"{block}: " if width_key and "cluster_size" not in attrs else ""
        raise _unsupported(
            f"{path}: memory `{name}` has a cluster size of {cluster} ({shown}timeloop-model "
            "reads width / (word_bits x block_size) as one); Timeloop shares an access "
            "among the instances of a cluster (ParseAccelergyERT divides the ERT energies "
            "by the cluster size), which dslc does not model",
            "to read it as one memory whose access moves the whole width, set block_size "
            "to width / word_bits and drop cluster_size (Timeloop's energies change with "
            "it); or make the width word_bits x block_size",
            at=attrs.get("cluster_size", attrs.get(width_key)))
    return block


_DEPTHS = ("depth", "memory_depth", "data_storage_depth")
"""Attributes timeloop-model reads as a memory's depth in blocks, when `entries` is absent
(src/model/buffer.cpp, `BufferLevel::ParseSpecs`)."""


def _size_words(attrs: MappingType[str, Any], word: int, block: int, path: str,
                name: str) -> int | None:
    """A memory's size in words as BufferLevel::ParseSpecs reads it: `entries`, else a depth
    in blocks, else `sizeKB` (KiB of words, rounded down); None (unbounded) without any.
    dslc ignored `memory_depth`, `data_storage_depth` and `sizeKB` and took such a memory for
    an unbounded one. A size below 1 is E302, whichever attribute states it (a depth of 0
    was read as a memory of no words, or ignored beside `entries`)."""
    given = {key: _whole(attrs[key], path, f"`{name}` `{key}`")
             for key in ("entries", *_DEPTHS, "sizeKB") if attrs.get(key) is not None}
    for key, value in given.items():
        if value < 1:
            raise _out_of_range(path, f"memory `{name}`: {key} = {value}: a memory holds at "
                                      "least one word", at=attrs[key])
    if "sizeKB" in given and given.keys() - {"sizeKB"}:
        # BufferLevel::ParseSpecs asserts `!buffer.exists("sizeKB")` beside entries or a
        # depth (dslc took the entries or depth and ignored sizeKB)
        other = next(key for key in given if key != "sizeKB")
        raise _unreadable(path, f"memory `{name}`: `{other}` and `sizeKB` both give its "
                          "size; timeloop-model stops on it (an assert in "
                          "BufferLevel::ParseSpecs)", help="give one of them",
                          at=attrs["sizeKB"])
    if "entries" in given:
        return given["entries"]
    depth = next((given[key] for key in _DEPTHS if key in given), None)
    if depth is not None:
        return depth * block
    if "sizeKB" in given:
        # a word of no bits is E302 where the memory is built
        return given["sizeKB"] * 1024 * 8 // word if word > 0 else None
    return None


def _local_array(path: str, name: str, full_name: str, attrs: MappingType[str, Any],
                 hierarchy: list[MemorySpec | FanoutSpec], multiplication: int, placed: int,
                 mesh_x: int) -> tuple[int, int]:
    """A component that is an array of its own (`RF[0..3]` inside a subtree, or every
    component of timeloopfe's flat form, `PE_spad[1..168]` in one `local` list), read as
    timeloop-model reads it: its instances are the subtrees' product times its own range
    (Topology::ParseTreeSpecs, src/model/topology.cpp), and the fanout between two storage
    levels is the ratio of their instances, meshX (else instances / meshY, else one row:
    BufferLevel::ValidateTopology) wide. More instances than the component above make a
    fanout there (`<name>_array`, or the subtree's fanout grown when no memory lies between);
    dslc refused these (E806). The instances and mesh X after it are returned."""
    own = _instances_of(full_name, path) or 1
    total = multiplication * own
    if total == placed:
        return placed, mesh_x
    if total < placed or total % placed:
        raise _unreadable(path, f"`{full_name}`: {total:,} instances below a component of "
                          f"{placed:,}; timeloop-model's fanout between them, {total:,} / "
                          f"{placed:,}, is not a whole number",
                          help="give each component a multiple of the instances of the one "
                          "above it (timeloopfe's flat form names each with its total, "
                          "`PE_spad[1..168]`)")
    factor = total // placed
    if attrs.get("meshX") is not None:
        width = _whole(attrs["meshX"], path, f"`{name}` `meshX`")
    elif attrs.get("meshY") is not None:
        rows = _whole(attrs["meshY"], path, f"`{name}` `meshY`")
        width = total // rows if rows > 0 and total % rows == 0 else 0
    else:
        width = total
    if width < 1 or width % mesh_x or factor % (width // mesh_x):
        raise _unreadable(path, f"`{full_name}`: a mesh {width} wide is no mesh of {factor} "
                          f"instances per instance of the {mesh_x}-wide mesh above",
                          help="make meshX a multiple of the meshX above that divides the "
                          "instances (timeloopfe writes meshX and meshY for every component)",
                          at=attrs.get("meshX", attrs.get("meshY")))
    x = width // mesh_x
    previous = hierarchy[-1] if hierarchy else None
    if isinstance(previous, FanoutSpec):  # no memory between: one fanout to Timeloop
        hierarchy[-1] = _built(FanoutSpec, path, f"fanout `{previous.name}`",
                               name=previous.name, mesh_x=previous.mesh_x * x,
                               mesh_y=previous.mesh_y * (factor // x),
                               dataflow=previous.dataflow, diagonal=previous.diagonal)
    else:
        hierarchy.append(_built(FanoutSpec, path, f"fanout `{name}_array`",
                                name=f"{name}_array", mesh_x=x, mesh_y=factor // x))
    return total, width


def _check_instances(path: str, name: str, attrs: MappingType[str, Any], instances: int,
                     mesh_x: int) -> None:
    """E805 when a component's `instances`, `meshX` or `meshY` (which timeloop-model takes
    over the tree's) contradict the tree's."""
    tree = {"instances": instances, "meshX": mesh_x, "meshY": instances // mesh_x}
    for key, value in tree.items():
        if key in attrs and _whole(attrs[key], path, f"`{name}` `{key}`") != value:
            raise _unreadable(path, f"`{name}`: `{key}` = {attrs[key]!r}, but the tree of "
                              f"subtrees gives {value:,} (timeloop-model would use "
                              f"{attrs[key]!r})", help="make the subtrees' ranges "
                              "(`PE[0..167]`) and dslc_mesh say what instances and meshX say",
                              at=attrs[key])


def _mesh_from_mesh_x(child: MappingType[str, Any], per_instance: int, mesh_x_above: int,
                      path: str) -> list[int]:
    """The fanout's mesh when `dslc_mesh` is not given: X from the `meshX` of the first of
    its components that states one (Timeloop's mesh is meshX wide), else one row."""
    for component in child.get("local") or []:
        attrs = component.get("attributes") if isinstance(component, MappingType) else None
        if isinstance(attrs, MappingType) and "meshX" in attrs:
            width = _whole(attrs["meshX"], path, f"`{component.get('name')}` `meshX`")
            if width > 0 and width % mesh_x_above == 0 and \
                    per_instance % (width // mesh_x_above) == 0:
                x = width // mesh_x_above
                return [x, per_instance // x]
            break
    return [per_instance, 1]


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _file_name(stem: str) -> str:
    """A name from a file's name (`eyeriss-v2` -> `eyeriss_v2`)."""
    text = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", stem)).strip("_") or "study"
    return f"t{text}" if text[0].isdigit() else text


_SHAPE_HELP = ("copy the shape's file (its `shape:` mapping: dimensions, coefficients, "
               "data_spaces) into the problem file in place of the name")


def _shape(problem: MappingType[str, Any], path: str) -> MappingType[str, Any]:
    """The problem's shape, which must be written in the file. timeloop-model reads a
    `shape` given as a name (`shape: cnn-layer`), or no `shape` at all (cnn-layer then), from
    its problem-shape directories (`ShapeFileName` and `ParseWorkload`,
    src/workload/workload.cpp: TIMELOOP_PROBLEM_SHAPE_DIRS, then
    $TIMELOOP_DIR/problem-shapes): files outside the study, which dslc does not read (E806,
    rather than E805 "missing `shape`" or "expected a mapping")."""
    shape = problem.get("shape")
    if shape is None or isinstance(shape, str):
        said = ("has no `shape`, so timeloop-model would read its own cnn-layer shape"
                if shape is None else f"names its shape, `{shape}`, which timeloop-model "
                "reads")
        raise _unsupported(
            f"{path}: the problem {said} from a file in its problem-shape directories "
            "(TIMELOOP_PROBLEM_SHAPE_DIRS, $TIMELOOP_DIR/problem-shapes), outside the "
            "study; dslc reads only the study's files", _SHAPE_HELP,
            at=problem if shape is None else shape)
    shape = _mapping(shape, path, "`problem.shape`")
    if "flatten" in shape:
        raise _unsupported(f"{path}: `flatten` (Timeloop's flattened dimensions) has no "
                           "dslc counterpart", "write the problem with its factorized "
                           "dimensions only", at=shape)
    return shape


def _bounds_node(problem: MappingType[str, Any], path: str) -> MappingType[str, Any]:
    """Where the bounds and coefficient values are: `instance` (the v0.4 layout) or, as
    timeloop-model also reads them (ParseWorkload: "Bounds may be specified directly
    (backwards-compat) or under a subkey"), `problem` itself (v0.3). dslc required
    `instance`."""
    if "instance" in problem:
        return _mapping(problem["instance"], path, "`instance`")
    return problem


def _projection_axes(value: Any, path: str, space_name: str) -> list[Any]:
    """A data space's axes: a list of axes, each a list of terms ([dim] or [dim,
    coefficient]), or as timeloop-model also reads it (Shape::Parse,
    src/workload/problem-shape.cpp) a list of dim names, one axis each (`[K, C, R, S]`)."""
    axes = _list(value, path, f"`{space_name}` projection")
    if axes and all(isinstance(axis, str) for axis in axes):
        return [[[axis]] for axis in axes]
    if any(isinstance(axis, str) for axis in axes):
        raise _unreadable(path, f"`{space_name}` projection mixes dim names and lists of "
                          "terms; timeloop-model reads either a list of dim names or a "
                          "list of axes, each a list of [dim] or [dim, coefficient] terms",
                          at=axes)
    return axes


def _read_problem(path: str, data: dict[str, Any], name: str) -> Problem:
    problem = _mapping(_get(data, "problem", path), path, "`problem`")
    shape = _shape(problem, path)
    dimensions = _list(_get(shape, "dimensions", path), path, "`dimensions`")
    dims = tuple(_name(d, path, "a dimension") for d in dimensions)
    if len(set(dims)) != len(dims):
        raise _unreadable(path, f"`dimensions` names a dim twice ({', '.join(dims)})",
                          at=dimensions)
    long = [d for d in dims if len(d) != 1]
    if long:
        # Shape::Parse (src/workload/problem-shape.cpp) exits on them: "dimension names can
        # only be 1 character in length"
        raise _unreadable(path, f"dims {', '.join(long)}: timeloop-model reads only dims "
                          "named by one character (it stops on longer names)",
                          help="name each dim by one letter", at=dimensions)
    instance = _bounds_node(problem, path)
    coefficients: dict[str, int] = {}
    for entry in _list(shape.get("coefficients") or [], path, "`coefficients`"):
        entry = _mapping(entry, path, "a coefficient")
        coefficient = str(_get(entry, "name", path))
        if "default" not in entry:  # an assert in Shape::Parse
            raise _unreadable(path, f"coefficient `{coefficient}` has no `default`, which "
                              "timeloop-model requires", at=entry)
        coefficients[coefficient] = _whole(entry["default"], path,
                                           f"coefficient `{coefficient}`")
    # a coefficient's value in the instance (a stride, a dilation) replaces its default, as
    # in ParseWorkloadInstance
    coefficients.update({k: _whole(v, path, f"coefficient `{k}`")
                         for k, v in instance.items() if k in coefficients})
    for key in ("densities", "commonDensity", "sparse_optimizations"):
        if key in problem or key in instance:
            raise _unsupported(f"{path}: `{key}` (sparsity) has no dslc counterpart",
                               "remove it: dslc models dense tensors (densities of 1)",
                               at=problem if key in problem else instance)
    if instance is not problem:
        stray = [str(k) for k in instance if k not in dims and k not in coefficients]
        if stray:  # timeloop-model looks up the dims and the coefficients, nothing else
            raise _unreadable(path, f"`instance` gives {', '.join(stray)}, neither a dim nor "
                              "a coefficient of the shape: timeloop-model ignores it",
                              help="declare the coefficient in the shape's `coefficients` "
                              "(and use it in a projection), or remove it", at=instance)
    tensors = []
    for space in _list(_get(shape, "data_spaces", path, "data-spaces"), path,
                       "`data_spaces`"):
        space = _mapping(space, path, "a data space")
        space_name = _name(_get(space, "name", path), path, "a data space's name")
        axes = []
        for axis in _projection_axes(_get(space, "projection", path), path, space_name):
            terms: dict[int, int] = {}
            for term in _list(axis, path, f"an axis of `{space_name}`"):
                term = _list(term, path, f"a term of `{space_name}`")
                if not 1 <= len(term) <= 2 or str(term[0]) not in dims:
                    raise _unreadable(path, f"`{space_name}`: the term {list(term)!r} is "
                                      "not [dim] or [dim, coefficient] of a declared dim",
                                      at=term)
                if len(term) == 2 and str(term[1]) not in coefficients:
                    raise _unreadable(path, f"`{space_name}`: coefficient `{term[1]}` is "
                                      "not declared in `coefficients`", at=term[1])
                d = dims.index(str(term[0]))
                terms[d] = terms.get(d, 0) + (coefficients[str(term[1])] if len(term) == 2
                                              else 1)
            # An axis with no terms is a constant index (`W[k, 0]`, one value): Shape::Parse
            # reads it as an empty expression, and dslc's export writes an einsum's constant
            # index so (its import refused it, E805 on dslc's own files).
            # One term per dim with a non-zero coefficient, as Projection wants (and as
            # dslc.lower builds it): `[[P], [P]]` is 2P, a coefficient of 0 (a stride set to
            # 0) leaves its dim out. Kept apart, the repeated dim counted as two
            # independent ones (touched_words: 2P - 1 values, not P, a lower bound above
            # the cost) and a zero one made its dim index the tensor.
            axes.append(Projection(tuple(sorted((d, c) for d, c in terms.items() if c))))
        role: Role = "input"
        if space.get("read_write") or space.get("read-write"):
            role = "output"
        elif (space.get("dslc_role") or DSLC_NAMES.get(space_name)) == "weight":
            role = "weight"
        tensors.append(Tensor(DSLC_NAMES.get(space_name, space_name), role, tuple(axes)))
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise _unreadable(path, f"two data spaces share a name ({', '.join(names)})",
                          at=shape)
    outputs = [t.name for t in tensors if t.role == "output"]
    if len(outputs) != 1:
        raise _unsupported(f"{path}: {len(outputs)} data spaces are `read_write` "
                           f"({', '.join(outputs) or 'none'}); dslc's layers have one output",
                           at=shape)
    missing = [d for d in dims if d not in instance]
    if missing:
        where = "`instance`" if instance is not problem else "`problem` (no `instance`)"
        raise _unreadable(path, f"{where} has no bound for {', '.join(missing)}",
                          at=instance)
    bounds = tuple(_whole(instance[d], path, f"`instance` bound {d}") for d in dims)
    for dim, bound in zip(dims, bounds, strict=True):
        if not 1 <= bound <= MAX_DIM:
            raise _out_of_range(path, f"`instance` bound {dim} = {bound} is outside 1 to "
                                      f"{MAX_DIM:,}", at=instance[dim])
    problem_value = Problem(name, dims, bounds, tuple(tensors),
                            op=str(shape.get("name", "einsum")))
    if problem_value.macs > MAX_LAYER_MACS:
        raise _out_of_range(path, f"{problem_value.macs:,} MACs, more than the limit of 2^44 "
                                  f"({MAX_LAYER_MACS:,})", at=instance)
    for tensor in problem_value.tensors:
        elements = problem_value.tensor_size(tensor)
        if elements > MAX_TENSOR_ELEMENTS:
            raise _out_of_range(path, f"tensor {tensor.name} has {elements:,} elements, more "
                                      f"than the limit of 2^44 ({MAX_TENSOR_ELEMENTS:,})",
                                at=instance)
    return problem_value


_FACTOR = re.compile(r"([A-Za-z]+)[ \t]*=*[ \t]*([0-9]+)(?:,([0-9]+))?")
"""One factor as timeloop-model's `ParseUserFactors` (src/mapping/parser.cpp) matches it:
letters, any `=` (none too: `K4`), digits, and an optional `,residual` (its imperfect
factorisation)."""
_FACTOR_SEPARATORS = " \t\r\n,"
"""Between factors: blanks, and the commas with which timeloopfe joins a list of factors
(its v4_to_v3 transpiler writes `K=4,C=1`)."""


def _factors(text: Any, path: str, problem: Problem, where: str) -> dict[str, int]:
    """The factors of one mapping entry, by dim, read as timeloop-model reads them
    (src/mapping/parser.cpp, `ParseUserFactors`): `K=4`, `K4` and `K = 4` are K = 4,
    anything from a `#` on is a comment, `K=0` is the whole bound of K ("Interpreting 0 to
    mean full problem dimension"), and a list (timeloopfe's v4 form, which it joins before
    timeloop-model sees it) is read as its items. What Timeloop would skip without a word
    (`K<=4`, `C2=4` read as C = 2, stray text) is E805 rather than a silently different
    mapping; a residual `K=4,3` (Timeloop's imperfect factorisation) is E806."""
    written = text
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    if not isinstance(text, str):
        raise _wrong(path, f"{where} `factors`", "`D=n ...`", text)
    text = text.split("#", 1)[0]
    dims = problem.dims
    found: dict[str, int] = {}
    position = 0
    while True:
        while position < len(text) and text[position] in _FACTOR_SEPARATORS:
            position += 1
        if position == len(text):
            return found
        match = _FACTOR.match(text, position)
        end = match.end() if match else position
        if match is None or (end < len(text) and text[end] not in _FACTOR_SEPARATORS):
            token = text[position:].split()[0][:40]
            raise _unreadable(path, f"{where}: `{token}` is not a factor: timeloop-model "
                              "reads letters, `=`, digits (`K=4`) and skips anything else, "
                              "so it would not read this as written",
                              help="write each factor as a dim's letters, `=` and a whole "
                              "number (`K=4`); a bound such as `K<=4` belongs in a "
                              "constraints file, not in a mapping", at=written)
        dim, value, residual = match[1], int(match[2]), match[3]
        position = end
        if dim not in dims:
            raise _unreadable(path, f"{where}: factor `{match[0]}` names {dim}, not a dim "
                              f"of the problem ({', '.join(dims)})", at=written)
        if dim in found:
            raise _unreadable(path, f"{where}: two factors for {dim}", at=written)
        bound = problem.bounds[dims.index(dim)]
        if value > MAX_DIM:
            raise _out_of_range(path, f"{where}: factor {dim}={value} is outside 1 to "
                                      f"{MAX_DIM:,}", at=written)
        if residual is not None and int(residual) != (value or bound):
            raise _unsupported(f"{path}: {where}: factor `{match[0]}` has a residual (the "
                               "last iteration's factor, Timeloop's imperfect "
                               "factorisation), which has no dslc counterpart",
                               "use factors that divide the bounds", at=written)
        # 0 is the dim's whole bound, as timeloop-model reads it (it warns, and goes on)
        found[dim] = value or bound


def _order(value: Any, dims: tuple[str, ...], path: str, where: str) -> list[str]:
    if isinstance(value, list):
        # timeloop-model reads a permutation only as a string (src/mapping/parser.cpp): a
        # list is not read, and the loops then come in an order of its own choosing
        raise _unreadable(path, f"{where}: `permutation` is a list; timeloop-model reads a "
                          "permutation only as a string of dims, innermost first, and "
                          "ignores a list", help="write it as a string: `permutation: QPK`",
                          at=value)
    if value is None or isinstance(value, str):
        text = value or ""
        # one character a dim, blanks skipped, as timeloop-model reads it (`Q P K` is QPK)
        order = [c for c in text if not c.isspace()] if all(len(d) == 1 for d in dims) \
            else text.split()
    else:
        raise _wrong(path, f"{where} `permutation`", "dims", value)
    unknown = [d for d in order if d not in dims]
    if unknown or len(set(order)) != len(order):
        raise _unreadable(path, f"{where}: `permutation` {' '.join(order)} names "
                          + (f"unknown dims ({', '.join(unknown)})" if unknown
                             else "a dim twice"), at=value)
    return order


_ENTRY_KINDS = {"temporal": "temporal", "spatial": "spatial", "bypass": "bypass",
                "datatype": "bypass", "dataspace": "bypass"}
"""A mapping entry's `type` and what it is: timeloop-model's `datatype` and `bypass`
(src/mapping/parser.cpp, `ParseAndConstruct`) and timeloopfe's `dataspace` (its v4_to_v3
transpiler renames it `bypass`) all keep and bypass data spaces."""
_ENTRY_FEATURES = ("no_temporal_reuse", "rmw_on_first_writeback", "no_link_transfer",
                   "no_multicast_no_reduction", "passthrough", "no_reuse",
                   "rmw_first_update", "no_coalesce")
"""Per-entry options timeloop-model (`ParseAndConstruct`) or timeloopfe reads that change
what a level counts and that dslc does not model: E806 when they name a data space, not
counts silently other than Timeloop's."""


def _target(entry: MappingType[str, Any], memories: list[MemorySpec], path: str) -> str:
    """The memory a mapping entry targets: its name, or as in timeloop-model
    (`FindTargetStorageLevel`) a storage level's number, 0 the innermost."""
    target = entry.get("target")
    names = [m.name for m in memories]
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < len(names):
            raise _unreadable(path, f"a mapping entry targets storage level {target}; the "
                              f"architecture has levels 0 to {len(names) - 1} (0 the "
                              "innermost)", at=target)
        return names[len(names) - 1 - target]
    if not isinstance(target, str) or target not in names:
        raise _unreadable(path, f"a mapping entry targets `{target}`, which is no "
                          f"memory of the architecture ({', '.join(sorted(names))})",
                          at=target if isinstance(target, _Positioned) else entry)
    return target


def _read_mapping(path: str, data: dict[str, Any], problem: Problem, arch: AcceleratorSpec
                  ) -> Mapping:
    dims = problem.dims
    entries = _list(_get(data, "mapping", path), path, "`mapping`")
    memories = [c for c in arch.hierarchy if isinstance(c, MemorySpec)]
    tensor_names = {t.name for t in problem.tensors}
    by_level: dict[tuple[str, str], MappingType[str, Any]] = {}
    for entry in entries:
        entry = _mapping(entry, path, "a mapping entry")
        target = _target(entry, memories, path)
        kind = _ENTRY_KINDS.get(str(entry.get("type", "")), "")
        if entry.get("type") == "skew":
            raise _unsupported(f"{path}: `{target}`: a `skew` entry has no dslc "
                               "counterpart", "remove it", at=entry)
        if not kind:
            raise _unreadable(path, f"`{target}`: entry type `{entry.get('type')}` is not "
                              "temporal, spatial, datatype, bypass or dataspace", at=entry)
        used = [key for key in _ENTRY_FEATURES if entry.get(key)]
        if used:
            raise _unsupported(f"{path}: `{target}`: `{used[0]}` has no dslc counterpart "
                               "(dslc counts every reuse, multicast and write-back as "
                               "Timeloop does by default)", f"remove `{used[0]}`",
                               at=entry)
        if (target, kind) in by_level:
            raise _unreadable(path, f"`{target}` has two {kind} entries", at=entry)
        by_level[(target, kind)] = entry
    fanouts_below: dict[str, str] = {}
    last = ""
    for component in arch.hierarchy:
        if isinstance(component, MemorySpec):
            last = component.name
        else:
            fanouts_below[last] = component.name
    levels = []
    for memory in memories:
        where = f"`{memory.name}`"
        temporal_entry = by_level.get((memory.name, "temporal"), {})
        factors = _factors(temporal_entry.get("factors", ""), path, problem, where)
        # innermost first; dims the permutation leaves out go outermost, in declaration
        # order, as Timeloop pads it ("padding with arbitrary order": appended)
        order = _order(temporal_entry.get("permutation"), dims, path, where)
        order = (order + [d for d in dims if d not in order])[::-1]  # outermost first
        temporal = tuple(Loop(dims.index(d), factors[d]) for d in order
                         if factors.get(d, 1) > 1)
        spatial: list[SpatialLoop] = []
        spatial_entry = by_level.get((memory.name, "spatial"))
        if spatial_entry is not None:
            fanout = fanouts_below.get(memory.name)
            if fanout is None:
                raise _unreadable(path, f"spatial loops at `{memory.name}`, which has no "
                                  "fanout below it", at=spatial_entry)
            unrolled = _factors(spatial_entry.get("factors", ""), path, problem,
                                f"{where} spatial")
            permutation = _order(spatial_entry.get("permutation"), dims, path,
                                 f"{where} spatial")
            permutation += [d for d in dims if d not in permutation]
            split = _whole(spatial_entry.get("split", len(permutation)), path,
                           f"{where} `split`")
            if not 0 <= split <= len(permutation):
                raise _unreadable(path, f"{where}: `split` = {split} is outside 0 to "
                                  f"{len(permutation)}", at=spatial_entry.get("split"))
            for axis, part in (("x", permutation[:split]), ("y", permutation[split:])):
                for d in part[::-1]:
                    if unrolled.get(d, 1) > 1:
                        spatial.append(SpatialLoop(dims.index(d), unrolled[d], fanout,
                                                   "x" if axis == "x" else "y"))
        bypass_entry = by_level.get((memory.name, "bypass"))
        if bypass_entry is None:
            keep = frozenset(t.name for t in problem.tensors if t.role in memory.holds)
        else:
            lists = {}
            for key in ("bypass", "keep"):
                named = {DSLC_NAMES.get(str(n), str(n)) for n in
                         _list(bypass_entry.get(key) or [], path, f"{where} `{key}`")}
                if named - tensor_names:
                    raise _unreadable(path, f"{where} `{key}` names "
                                      f"{', '.join(sorted(named - tensor_names))}, not a "
                                      "data space of the problem",
                                      at=bypass_entry.get(key))
                lists[key] = named
            both = lists["keep"] & lists["bypass"]
            if both:  # Timeloop applies `bypass` after `keep`: the last word would win
                raise _unreadable(path, f"{where} both keeps and bypasses "
                                  f"{', '.join(sorted(both))}", at=bypass_entry)
            keep = frozenset(t.name for t in problem.tensors if t.name in lists["keep"] or (
                t.name not in lists["bypass"] and t.role in memory.holds))
        levels.append(LevelMapping(memory.name, temporal, tuple(spatial), keep))
    mapping = Mapping(tuple(levels))
    _check_coverage(path, mapping, problem, memories[0].name if memories else "", entries)
    return mapping


def _check_coverage(path: str, mapping: Mapping, problem: Problem, outermost: str,
                    entries: Any) -> None:
    """E805 for every dim whose factors, over all temporal and spatial entries, do not
    multiply to its bound: timeloop-model refuses such a mapping before evaluating it
    (ParseAndConstruct, src/mapping/parser.cpp: "product of all factors of dimension K is 32,
    which is not equal to the dimension size of the workload 64", then exit). dslc read it
    and reported that the mapping "cannot run", without a code."""
    problems = []
    for dim, bound, product in zip(problem.dims, problem.bounds,
                                   mapping.factor_products(len(problem.dims)), strict=True):
        if product == bound:
            continue
        if bound % product == 0:
            hint = (f"multiply one of {dim}'s factors by {bound // product} (at "
                    f"`{outermost}`, say)")
        else:
            hint = f"give {dim} factors whose product is its bound, {bound}"
        problems.append(error(
            "E805", f"{path}: the factors of {dim} multiply to {product}, but its bound in "
            f"the problem is {bound}; timeloop-model refuses such a mapping (\"product of "
            f"all factors of dimension {dim} is {product}, which is not equal to the "
            f"dimension size of the workload {bound}\")", _span_of(entries),
            help=hint + "; every dim's temporal and spatial factors, over all levels, "
            "multiply to its bound"))
    if problems:
        raise DiagnosticError(problems)


def read_study(files: MappingType[str, str]) -> Study:
    """A study from its files by relative path (see the module docstring). A file whose
    values have the wrong shape or type (a string where a list belongs, a missing name) is
    E805 naming the file."""
    arch_files = [p for p in sorted(files) if p.endswith(".arch.yaml")
                  or p.rsplit("/", 1)[-1] in ("arch.yaml", "architecture.yaml")]
    if len(arch_files) != 1:
        raise _unreadable("the directory", f"expected one architecture file (*.arch.yaml), "
                          f"found {len(arch_files)}")
    arch_path = arch_files[0]
    with _reading("the ERT and ART tables"):
        ert, art = _tables(files, "ERT"), _tables(files, "ART")
    with _reading(arch_path):
        accelerator = _read_arch(arch_path, _load(arch_path, files[arch_path]), ert, art)
    layers = []
    stems: dict[str, str] = {}
    for path in sorted(p for p in files if p.endswith(".prob.yaml")):
        stem = path.rsplit("/", 1)[-1].removesuffix(".prob.yaml")
        if stem in stems:
            raise _unreadable(path, f"another problem file has the same name, {stems[stem]}",
                              help="a study holds one problem file per layer name")
        stems[stem] = path
        with _reading(path):
            problem = _read_problem(path, _load(path, files[path]), stem)
        map_paths = [p for p in sorted(files) if p.rsplit("/", 1)[-1] == f"{stem}.map.yaml"]
        if not map_paths:
            raise _unreadable(path, f"no mapping file {stem}.map.yaml beside it")
        if len(map_paths) > 1:
            raise _unreadable(path, f"{len(map_paths)} mapping files are named "
                              f"{stem}.map.yaml ({', '.join(map_paths)}); which one is "
                              "meant?", help="keep one mapping file per problem file")
        with _reading(map_paths[0]):
            mapping = _read_mapping(map_paths[0], _load(map_paths[0], files[map_paths[0]]),
                                    problem, accelerator)
        layers.append(StudyLayer(stem, problem, mapping))
    if not layers:
        raise _unreadable("the directory", "no problem files (*.prob.yaml)")
    return Study(accelerator, tuple(layers))


@contextlib.contextmanager
def _reading(path: str) -> Iterator[None]:
    """A value of the wrong form that no check above caught (Python raising on it) is E805
    naming the file, not an internal error."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError,
            RecursionError) as exc:
        raise _unreadable(path, f"a value of the wrong form ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from None
