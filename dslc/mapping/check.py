"""Validity of a written mapping against a problem and an accelerator, and dataflow rules.

`check_mapping_spec` returns the reasons a `MappingSpec` cannot run (empty when valid):
factors that do not multiply to the bounds (E603), spatial loops beyond a mesh axis or not
allowed there by the dataflow (E604), and kept tiles that do not fit a memory with its
multiple buffering (E605). `allowed_dims` gives, per fanout axis, the dims a dataflow lets
the mapper unroll there, derived from tensor roles so that presets mean the same for conv,
matmul and einsum problems. Counting accesses is the cost model's job, not this module's.

Tile semantics (Timeloop's): the tile a memory keeps spans the temporal loops at that
memory and every level below it, and the spatial loops of the fanouts below it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dslc.lower.problem import Problem, Tensor
from dslc.spec.accelerator import AcceleratorSpec, DataflowSpec, FanoutSpec, MemorySpec
from dslc.spec.mapping import MappingLevelSpec, MappingSpec


@dataclass(frozen=True, slots=True)
class MappingIssue:
    """Why a mapping is invalid: a diagnostic code, the level concerned, message, hint."""

    code: str
    level: str
    message: str
    hint: str = ""
    dim: str = ""
    """The dim at fault, where one is (E603, a disallowed spatial dim)."""
    axis: str = ""
    """The mesh axis at fault (`x` or `y`), for spatial issues."""


def _weight_like(problem: Problem) -> Tensor | None:
    weights = [t for t in problem.tensors if t.role == "weight"]
    if weights:
        return weights[0]
    inputs = [t for t in problem.tensors if t.role == "input"]
    return inputs[1] if len(inputs) > 1 else None


def dim_classes(problem: Problem) -> dict[str, frozenset[str]]:
    """Dims by the tensors they index: `reduction` (weight and input, not output),
    `weight_output` (weight and output: K, G), `output_only` (output, not weight: N, P, Q)."""
    output = problem.output.dims()
    weight = _weight_like(problem)
    weight_dims = weight.dims() if weight is not None else frozenset()
    names = problem.dims
    return {
        "reduction": frozenset(names[d] for d in weight_dims - output),
        "weight_output": frozenset(names[d] for d in weight_dims & output),
        "output_only": frozenset(names[d] for d in output - weight_dims),
    }


def allowed_dims(dataflow: DataflowSpec, problem: Problem
                 ) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """Dims allowed on X and on Y (None: any)."""
    if dataflow.preset is None:
        x = frozenset(dataflow.x) if dataflow.x is not None else None
        y = frozenset(dataflow.y) if dataflow.y is not None else None
        return x, y
    classes = dim_classes(problem)
    reduction, weight_output, output_only = (classes["reduction"], classes["weight_output"],
                                             classes["output_only"])
    if dataflow.preset == "weight_stationary":
        return reduction, weight_output
    if dataflow.preset == "output_stationary":
        return output_only, output_only | weight_output
    if dataflow.preset == "input_stationary":
        return reduction, output_only
    if dataflow.preset == "row_stationary":
        return output_only, reduction | weight_output
    return None, None


def tile_words(problem: Problem, tensor: Tensor, extents: dict[str, int]) -> int:
    """Words of a tensor's tile when each dim spans `extents[dim]` (bounding box)."""
    bounds = tuple(extents.get(name, 1) for name in problem.dims)
    words = 1
    for axis in tensor.axes:
        words *= axis.extent(bounds)
    return words


def _kept(level: MemorySpec, entry: MappingLevelSpec | None, problem: Problem) -> list[Tensor]:
    if entry is None or entry.keep is None:
        return [t for t in problem.tensors if t.role in level.holds]
    return [t for t in problem.tensors if t.name in entry.keep or t.role in entry.keep]


def check_mapping_spec(spec: MappingSpec, problem: Problem,
                       accelerator: AcceleratorSpec) -> tuple[MappingIssue, ...]:
    """Every reason the mapping is invalid, in hierarchy order (empty when valid)."""
    issues: list[MappingIssue] = []
    entries = {level.target: level for level in spec.levels}
    totals = dict.fromkeys(problem.dims, 1)
    for level in spec.levels:
        for loop in (*level.temporal, *level.spatial_x, *level.spatial_y):
            if loop.dim in totals:
                totals[loop.dim] *= loop.factor
    outermost = accelerator.hierarchy[0].name
    for dim, bound in zip(problem.dims, problem.bounds, strict=True):
        if totals[dim] != bound:
            missing = bound // totals[dim] if bound % totals[dim] == 0 else None
            issues.append(MappingIssue(
                "E603", outermost,
                f"the factors of `{dim}` multiply to {totals[dim]}, but its bound is {bound}",
                f"add `{dim} {missing}` to a level (e.g. `{outermost}`)" if missing else
                f"use factors of {bound} whose product is {bound}", dim=dim))
    for component in accelerator.hierarchy:
        entry = entries.get(component.name)
        if not isinstance(component, FanoutSpec) or entry is None:
            continue
        allowed = allowed_dims(component.dataflow, problem)
        for axis, loops, extent, dims in (("X", entry.spatial_x, component.mesh_x, allowed[0]),
                                          ("Y", entry.spatial_y, component.mesh_y, allowed[1])):
            product = 1
            for loop in loops:
                product *= loop.factor
                if dims is not None and loop.dim not in dims:
                    issues.append(MappingIssue(
                        "E604", component.name,
                        f"the dataflow of `{component.name}` does not unroll `{loop.dim}` "
                        f"across {axis}",
                        f"allowed on {axis}: {', '.join(sorted(dims)) or 'none'}",
                        dim=loop.dim, axis=axis.lower()))
            if product > extent:
                issues.append(MappingIssue(
                    "E604", component.name,
                    f"spatial loops across {axis} of `{component.name}` need {product} "
                    f"instances, the mesh has {extent}",
                    f"split the loops so their product is at most {extent}", axis=axis.lower()))
    # Walk from the innermost level outward, growing each dim's extent.
    extents = dict.fromkeys(problem.dims, 1)
    for component in reversed(accelerator.hierarchy):
        entry = entries.get(component.name)
        if entry is not None:
            for loop in (*entry.temporal, *entry.spatial_x, *entry.spatial_y):
                if loop.dim in extents:
                    extents[loop.dim] *= loop.factor
        if not isinstance(component, MemorySpec) or component.size_bits is None:
            continue
        kept = _kept(component, entry, problem)
        words = {t.name: tile_words(problem, t, extents) for t in kept}
        capacity = component.size_bits // component.word_bits
        needed = sum(words.values()) * component.buffering
        if needed > capacity:
            detail = ", ".join(f"{name} {count}" for name, count in words.items())
            issues.append(MappingIssue(
                "E605", component.name,
                f"tiles kept at `{component.name}` need {needed} words, it holds {capacity}",
                f"{detail} words" + (f", x{component.buffering} buffering"
                                     if component.buffering > 1 else "")
                + "; move loops outward or bypass a tensor"))
    return tuple(issues)
