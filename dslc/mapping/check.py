"""Validity of a written mapping against a problem and an accelerator, and dataflow rules.

`MappingIssue` is one reason a mapping cannot run, with its diagnostic code (found by
dslc.mapping.mapping.mapping_issues). `allowed_dims` gives, per fanout axis, the dims a
dataflow lets the mapper unroll there, derived from tensor roles so that presets mean the
same for conv, matmul and einsum problems. Counting accesses is the cost model's job, not
this module's.
"""

from __future__ import annotations

from dataclasses import dataclass

from dslc.lower.problem import Problem, Tensor
from dslc.spec.accelerator import DataflowSpec


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
