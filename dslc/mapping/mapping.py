"""The mapping IR of the cost model, its construction from a `MappingSpec`, and its validity.

A `Mapping` has one `LevelMapping` per memory of the accelerator, outermost first. Each holds
its temporal loops (outer to inner), the spatial loops of the fanout(s) directly below it
(each tagged with its fanout and mesh axis), and the names of the tensors it keeps (the
others bypass it). Dims are indices into `Problem.dims`; factor-1 loops are dropped. Like
Timeloop, a memory's tile spans its own temporal loops, the spatial loops below it and every
loop of the levels below.

In: a `MappingSpec` (as written; levels the user omitted are allowed: a memory without an
entry has no loops and keeps what it holds, a fanout without an entry has no spatial loops),
the `Problem` and the resolved accelerator (`ArchModel`, dslc.arch). Out: `mapping_from_spec`
builds the IR (raising `MappingError` on structural mistakes such as an unknown level or
dim), and `mapping_issues` returns the reasons a mapping cannot run, each with its
diagnostic code and a hint (`check_mapping`: just the messages; empty when valid): factors
that do not multiply to the bounds, spatial loops beyond a mesh axis or not allowed there by
the dataflow, kept tensors a memory may not hold, tensors kept nowhere, and kept tiles
(times multiple buffering) over a memory's capacity, by how much.

It does not count accesses (dslc.cost.model; this package never imports the cost model),
resolve accelerators (dslc.arch) nor produce diagnostics with spans (dslc.sema.mapping turns
`mapping_issues` into them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dslc.arch import ArchModel, FanoutModel, LevelModel
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.check import MappingIssue, allowed_dims
from dslc.spec.mapping import MappingLevelSpec, MappingSpec

Axis = Literal["x", "y"]


class MappingError(ValueError):
    """A mapping that does not fit the problem or accelerator's structure (not a cost issue)."""


@dataclass(frozen=True, slots=True)
class Loop:
    """A temporal loop: dim index and trip count."""

    dim: int
    factor: int


@dataclass(frozen=True, slots=True)
class SpatialLoop:
    """A spatial loop across one axis of a fanout's mesh."""

    dim: int
    factor: int
    fanout: str
    axis: Axis


@dataclass(frozen=True, slots=True)
class LevelMapping:
    """What one memory level does: temporal loops outer to inner, spatial loops below, keep."""

    name: str
    temporal: tuple[Loop, ...]
    spatial: tuple[SpatialLoop, ...]
    keep: frozenset[str]

    def loops(self) -> tuple[Loop | SpatialLoop, ...]:
        """Temporal then spatial loops (the order of the flattened nest)."""
        return (*self.temporal, *self.spatial)


@dataclass(frozen=True, slots=True)
class Mapping:
    """A mapping of one problem onto one accelerator: one entry per memory, outermost first."""

    levels: tuple[LevelMapping, ...]
    imperfect: bool = False
    """Factors may overshoot a bound: the dim is padded (see `padded_bounds`)."""

    def level(self, name: str) -> LevelMapping:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)

    def factor_products(self, ndims: int) -> tuple[int, ...]:
        """Per dim, the product of every temporal and spatial factor."""
        totals = [1] * ndims
        for level in self.levels:
            for loop in level.loops():
                totals[loop.dim] *= loop.factor
        return tuple(totals)


def _outermost_factors(mapping: Mapping, ndims: int) -> tuple[int, ...]:
    """Per dim, the factor of its outermost loop in nest order (1 if it has none)."""
    found = [0] * ndims
    for level in mapping.levels:
        for loop in level.loops():
            if not found[loop.dim]:
                found[loop.dim] = loop.factor
    return tuple(f or 1 for f in found)


def padded_bounds(mapping: Mapping, problem: Problem) -> tuple[int, ...]:
    """The bounds the mapping's loops run over: the problem's, raised to the products of
    the factors where an imperfect mapping pads a dim."""
    if not mapping.imperfect:
        return problem.bounds
    totals = mapping.factor_products(len(problem.dims))
    return tuple(max(bound, total) for bound, total in zip(problem.bounds, totals, strict=True))


def _keep_names(problem: Problem, names: tuple[str, ...], level: str) -> frozenset[str]:
    kept = set()
    for name in names:
        matches = [t.name for t in problem.tensors if name in (t.name, t.role)]
        if not matches:
            known = ", ".join(t.name for t in problem.tensors)
            raise MappingError(f"`{level}` keeps `{name}`, which is not a tensor of "
                               f"`{problem.name}` ({known})")
        kept.update(matches)
    return frozenset(kept)


def mapping_from_spec(spec: MappingSpec, problem: Problem, arch: ArchModel) -> Mapping:
    """The IR of a written mapping. Omitted memories keep what they hold and have no loops."""
    components = {component.name: component for component in arch.hierarchy}
    entries: dict[str, MappingLevelSpec] = {}
    for written in spec.levels:
        component = components.get(written.target)
        if component is None:
            raise MappingError(f"the mapping names `{written.target}`, which is not a level of "
                               f"`{arch.name}`")
        if written.target in entries:
            raise MappingError(f"the mapping has two entries for `{written.target}`")
        if isinstance(component, FanoutModel) and (written.temporal or
                                                   written.keep is not None):
            raise MappingError(f"`{written.target}` is a fanout: it takes spatial loops only")
        if isinstance(component, LevelModel) and (written.spatial_x or written.spatial_y):
            raise MappingError(f"`{written.target}` is a memory: spatial loops belong to the "
                               "fanout below it")
        entries[written.target] = written

    def dim(name: str) -> int:
        if name not in problem.dims:
            raise MappingError(f"`{name}` is not a dim of `{problem.name}` "
                               f"({', '.join(problem.dims)})")
        return problem.dim_index(name)

    levels: list[LevelMapping] = []
    for memory in arch.levels:
        entry = entries.get(memory.name)
        if entry is None or entry.keep is None:
            keep = frozenset(t.name for t in problem.tensors if t.role in memory.holds)
        else:
            keep = _keep_names(problem, entry.keep, memory.name)
        temporal: list[Loop] = []
        if entry is not None:
            indexed = [Loop(dim(loop.dim), loop.factor) for loop in entry.temporal]
            temporal = [loop for loop in indexed if loop.factor > 1]
        spatial: list[SpatialLoop] = []
        for fanout in memory.fanouts:
            unrolled = entries.get(fanout.name)
            if unrolled is None:
                continue
            for axis, loops in (("x", unrolled.spatial_x), ("y", unrolled.spatial_y)):
                for loop in loops:
                    index = dim(loop.dim)
                    if loop.factor > 1:
                        spatial.append(SpatialLoop(index, loop.factor, fanout.name,
                                                   "x" if axis == "x" else "y"))
        levels.append(LevelMapping(memory.name, tuple(temporal), tuple(spatial), keep))
    return Mapping(tuple(levels), imperfect=spec.imperfect)


def tile_extents(mapping: Mapping, ndims: int) -> tuple[tuple[int, ...], ...]:
    """Per level, the span of each dim in its tile: its own loops and every loop below."""
    extents: list[tuple[int, ...]] = []
    current = [1] * ndims
    for level in reversed(mapping.levels):
        for loop in level.loops():
            current[loop.dim] *= loop.factor
        extents.append(tuple(current))
    return tuple(reversed(extents))


def tile_words(tensor: Tensor, extents: tuple[int, ...]) -> int:
    """Words of a tensor's tile (bounding box) when dim d spans extents[d]."""
    return math.prod(axis.extent(extents) for axis in tensor.axes)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def check_mapping(mapping: Mapping, problem: Problem, arch: ArchModel) -> tuple[str, ...]:
    """Every reason the mapping cannot run, one line each (empty when valid)."""
    return tuple(issue.message for issue in mapping_issues(mapping, problem, arch))


def mapping_issues(mapping: Mapping, problem: Problem,
                   arch: ArchModel) -> tuple[MappingIssue, ...]:
    """Every reason the mapping cannot run, with its diagnostic code and a hint (empty when
    valid): factor coverage (E603) first, then fanouts (E604) and memories (E606 keeps,
    E605 capacity) in hierarchy order, then tensors without a proper backing store (E606)."""
    issues: list[MappingIssue] = []
    if tuple(level.name for level in mapping.levels) != tuple(lv.name for lv in arch.levels):
        return (MappingIssue(
            "E602", mapping.levels[0].name if mapping.levels else "",
            f"the mapping's levels ({', '.join(lv.name for lv in mapping.levels)}) are not the "
            f"memories of `{arch.name}` ({', '.join(lv.name for lv in arch.levels)})"),)
    outermost = arch.levels[0].name
    totals = mapping.factor_products(len(problem.dims))
    first_factors = _outermost_factors(mapping, len(problem.dims))
    for name, bound, total, first in zip(problem.dims, problem.bounds, totals, first_factors,
                                         strict=True):
        if mapping.imperfect and total > bound and total - bound < total // first:
            continue  # padded: fewer idle iterations than one step of the outermost loop
        if total != bound:
            if bound % total == 0:
                hint = f"add `{name} {bound // total}` to a level (e.g. `{outermost}`)"
            elif mapping.imperfect:
                hint = (f"the factors must cover {bound} with less than one step of the "
                        f"outermost `{name}` loop left idle")
            else:
                hint = (f"use factors of {bound} whose product is {bound}, or set "
                        "`imperfect = true` to pad the dim")
            issues.append(MappingIssue(
                "E603", outermost,
                f"the factors of `{name}` multiply to {total}, but its bound is {bound}",
                hint, dim=name))
    fanouts = {f.name: f for f in arch.fanouts}
    for level in mapping.levels:
        for fanout_name in dict.fromkeys(loop.fanout for loop in level.spatial):
            fanout = fanouts.get(fanout_name)
            if fanout is None or fanout.owner != arch.level(level.name).index:
                issues.append(MappingIssue(
                    "E607", fanout_name, f"`{level.name}` has spatial loops for "
                    f"`{fanout_name}`, which is not a fanout directly below it"))
                continue
            allowed = allowed_dims(fanout.dataflow, problem)
            for axis, mesh, dims in (("x", fanout.mesh_x, allowed[0]),
                                     ("y", fanout.mesh_y, allowed[1])):
                loops = [loop for loop in level.spatial
                         if loop.fanout == fanout_name and loop.axis == axis]
                for loop in loops:
                    dim = problem.dims[loop.dim]
                    if dims is not None and dim not in dims:
                        issues.append(MappingIssue(
                            "E604", fanout_name,
                            f"the dataflow of `{fanout_name}` does not unroll `{dim}` across "
                            f"{axis.upper()}",
                            f"allowed on {axis.upper()}: {', '.join(sorted(dims)) or 'none'}",
                            dim=dim, axis=axis))
                used = math.prod(loop.factor for loop in loops)
                if used > mesh:
                    issues.append(MappingIssue(
                        "E604", fanout_name,
                        f"spatial loops across {axis.upper()} of `{fanout_name}` need {used} "
                        f"instances, the mesh has {mesh}",
                        f"split the loops so their product is at most {mesh}", axis=axis))
    kept_somewhere: set[str] = set()
    extents = tile_extents(mapping, len(problem.dims))
    for level, arch_level, extent in zip(mapping.levels, arch.levels, extents, strict=True):
        tensors = [t for t in problem.tensors if t.name in level.keep]
        for tensor in tensors:
            if tensor.role not in arch_level.holds:
                issues.append(MappingIssue(
                    "E606", level.name, f"`{level.name}` cannot keep `{tensor.name}`",
                    f"it holds only {', '.join(arch_level.holds)}; add the role to its "
                    "`holds`, or keep the tensor elsewhere"))
        unknown = sorted(level.keep - {t.name for t in problem.tensors})
        if unknown:
            issues.append(MappingIssue(
                "E606", level.name, f"`{level.name}` keeps {', '.join(unknown)}, not tensors "
                f"of `{problem.name}`", f"its tensors: "
                f"{', '.join(t.name for t in problem.tensors)}"))
        kept_somewhere.update(t.name for t in tensors)
        if arch_level.size_words is None or not tensors:
            continue
        words = {t.name: tile_words(t, extent) for t in tensors}
        needed = sum(words.values()) * arch_level.buffering
        if needed > arch_level.size_words:
            detail = ", ".join(f"{name} {count}" for name, count in words.items())
            buffering = f" x{arch_level.buffering} buffering" if arch_level.buffering > 1 \
                else ""
            issues.append(MappingIssue(
                "E605", level.name,
                f"tiles kept at `{level.name}` need {needed} words ({detail}{buffering}), it "
                f"holds {arch_level.size_words}: "
                f"{_plural(needed - arch_level.size_words, 'word')} over",
                "move loops to outer levels, or bypass a tensor with `keep`"))
    # Covered: every dim exact, or padded within the rule (no E603 above); the whole
    # (padded) tensor is then the outermost tile.
    covered = not any(issue.code == "E603" for issue in issues)
    for tensor in problem.tensors:
        if tensor.name not in kept_somewhere:
            issues.append(MappingIssue(
                "E606", outermost, f"no level keeps `{tensor.name}`",
                f"keep it at `{outermost}` (the backing store)"))
            continue
        if not covered:
            continue
        outer = next(i for i, level in enumerate(mapping.levels) if tensor.name in level.keep)
        whole = tile_words(tensor, extents[0])
        held = tile_words(tensor, extents[outer])
        if held < whole:
            name = mapping.levels[outer].name
            issues.append(MappingIssue(
                "E606", name, f"`{name}` is the outermost level keeping `{tensor.name}`, so "
                f"its tile must hold the whole tensor ({whole} words), not {held}",
                f"keep `{tensor.name}` at an outer level, or move loops that index it above "
                f"`{name}` into it"))
    return tuple(issues)
