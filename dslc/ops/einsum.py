"""`einsum { ... }`: a general loop nest, output[...] += product of inputs and weights.

It has its own syntax (dims with bounds, tensors with affine indices), which elaboration
builds into an `EinsumLayer` directly, so the entry has no binder. Its tensor inputs are its
declared `input` tensors, bound in order; an einsum without arguments is a free-standing loop
nest. Shape: each input's projection spans must equal its argument's shape; the output's
spans are the result. Work: the product of the bounds; weights are the weight tensors' spans.

Loop nest: the declared dims and tensors (names kept; offsets dropped). With batch > 1 a
batch dim is prepended to the dims and to every input and output tensor: N, or B when the
einsum declares N, or N0, N1, .. when it declares both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from dslc.affine import axis_values, linked_groups
from dslc.ops.loopnest import Axis, LoopNest, LoopTensor
from dslc.ops.operator import Example, Operator, Spelling, Workload
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import AffineIndex, EinsumLayer


def projection_span(index: AffineIndex, bounds: dict[str, int]) -> int:
    """Extent of an affine index when each dim d ranges over 0..bounds[d]-1 (max - min + 1).

    The offset shifts the range without widening it, so it does not count.
    """
    return 1 + sum(abs(term.coefficient) * (bounds[term.dim] - 1) for term in index.terms)


def _shape(layer: EinsumLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    bounds: dict[str, int] = {}
    for dim, bound in layer.dims:
        if dim in bounds:
            return ShapeProblem(layer.name, "dims", f"dim `{dim}` is declared twice")
        if bound < 1:
            return ShapeProblem(layer.name, "dims", f"dim `{dim}` has bound {bound}",
                                "bounds must be at least 1")
        bounds[dim] = bound
    for tensor in layer.tensors:
        for index in tensor.indices:
            unknown = sorted({t.dim for t in index.terms} - bounds.keys())
            if unknown:
                return ShapeProblem(layer.name, tensor.name,
                                    f"tensor `{tensor.name}` is indexed by `{unknown[0]}`, "
                                    "which is not a declared dim",
                                    f"dims: {', '.join(bounds)}")
    outputs = [t for t in layer.tensors if t.role == "output"]
    if len(outputs) != 1:
        return ShapeProblem(layer.name, "tensors",
                            f"einsum needs exactly one output tensor, found {len(outputs)}")
    operands = [t for t in layer.tensors if t.role == "input"]
    if shapes and len(shapes) != len(operands):
        return ShapeProblem(layer.name, "inputs",
                            f"einsum has {len(operands)} input tensor(s) but "
                            f"{len(shapes)} argument(s)",
                            "each `input` tensor binds to one argument, in order")
    for position, (tensor, shape) in enumerate(zip(operands, shapes, strict=False)):
        expected = tuple(projection_span(index, bounds) for index in tensor.indices)
        if len(expected) != len(shape):
            return ShapeProblem(layer.name, str(position),
                                f"input `{tensor.name}` has {len(expected)} indices but its "
                                f"argument has shape {show(shape)}",
                                f"index `{tensor.name}` with one expression per axis")
        if expected != shape:
            return ShapeProblem(layer.name, str(position),
                                f"input `{tensor.name}` spans {show(expected)} but its "
                                f"argument is {show(shape)}",
                                "adjust the dim bounds to the argument's shape")
    gaps = _gaps_and_collisions(outputs[0].indices, bounds)
    if gaps:
        return ShapeProblem(layer.name, outputs[0].name, gaps,
                            "write the output so that distinct operations update distinct "
                            "elements, or so that its index covers its range without gaps")
    return tuple(projection_span(index, bounds) for index in outputs[0].indices)


COUNT_LIMIT = 1 << 16
"""Most index points `_gaps_and_collisions` enumerates per group of axes sharing dims (a
larger group of one axis is counted by `dslc.affine.axis_values`, None past its box
limit; a larger group of several axes is not checked)."""


def _gaps_and_collisions(indices: Sequence[AffineIndex], bounds: dict[str, int]) -> str:
    """Why the cost model cannot count an output with these indices ('' when it can): its
    index leaves gaps in its bounding box (`O[2*p]`) and maps several operations to one
    element (`O[p + r]`) at once (`O[2*p + 2*r]`). The first-touch counts (first-read
    elision, docs/design/cost-model.md) are exact when the index is one-to-one or gap-free,
    and would be neither for such an output."""
    axes = []
    for index in indices:
        merged: dict[str, int] = {}
        for term in index.terms:
            merged[term.dim] = merged.get(term.dim, 0) + term.coefficient
        axes.append({d: c for d, c in merged.items() if c})
    one_to_one = gap_free = True
    for dims, members in linked_groups([(set(terms), terms) for terms in axes]):
        order = sorted(dims)
        count = math.prod(bounds[d] for d in order)
        box = math.prod(1 + sum(abs(c) * (bounds[d] - 1) for d, c in terms.items())
                        for terms in members)
        if count > COUNT_LIMIT:
            # One axis is counted without enumerating its points (`O[2p + 2r]` with P x R
            # past the limit was let through and miscounted); several axes sharing dims
            # are not checked.
            found = axis_values([(c, bounds[d]) for d, c in members[0].items()]) \
                if len(members) == 1 else None
            if found is None:
                continue
            distinct = found
        else:
            distinct = len({tuple(sum(c * at[d] for d, c in terms.items()) for terms in members)
                            for at in (dict(zip(order, values, strict=True)) for values in
                                       itertools.product(*(range(bounds[d]) for d in order)))})
        one_to_one &= distinct == count
        gap_free &= distinct == box
    if one_to_one or gap_free:
        return ""
    return ("the output index leaves gaps and maps several operations to one element: "
            "the cost model cannot count its first touches")


def _workload(layer: EinsumLayer, inputs: tuple[Shape, ...], output: Shape) -> Workload:
    bounds = dict(layer.dims)
    weights = sum(math.prod(projection_span(index, bounds) for index in tensor.indices)
                  for tensor in layer.tensors if tensor.role == "weight")
    return Workload(math.prod(bounds.values()), weights)


def _batch_dim(declared: set[str]) -> str:
    for candidate in ("N", "B"):
        if candidate not in declared:
            return candidate
    return next(f"N{i}" for i in range(len(declared) + 1) if f"N{i}" not in declared)


def _lower(layer: EinsumLayer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> LoopNest:
    dims = layer.dims
    batch_dim = _batch_dim({dim for dim, _ in dims}) if batch > 1 else ""
    if batch_dim:
        dims = ((batch_dim, batch), *dims)
    tensors: list[LoopTensor] = []
    for tensor in layer.tensors:
        axes: tuple[Axis, ...] = tuple(tuple((t.dim, t.coefficient) for t in index.terms)
                                       for index in tensor.indices)
        # Weights are shared by every sample; activations gain the batch axis.
        if batch_dim and tensor.role != "weight":
            axes = (((batch_dim, 1),), *axes)
        tensors.append(LoopTensor(tensor.name, tensor.role, axes))
    return LoopNest(dims, tuple(tensors))


OPERATOR = Operator(
    spellings=(Spelling("einsum", "a loop nest declared directly (its own syntax)"),),
    layer=EinsumLayer, min_inputs=0, max_inputs=None, attributes=(),
    bind=None, shape=_shape, workload=_workload, lower=_lower,
    example=Example("einsum(x0) { dims K = 8, C = 4, P = 6, R = 3 "
                    "output O[k, p] weight W[k, c, r] input I[c, p + r] }", ((4, 8),)),
    listing="syntax",
)
