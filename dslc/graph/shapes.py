"""Shape inference per operator.

Owns `infer_shape(layer, input_shapes)`: a layer's output shape (batch excluded) from the
shapes of its inputs, or a `ShapeProblem` saying why there is none. A problem names the
layer, the attribute at fault as the user writes it in the source (`kernel`, `out`, `groups`,
`axis`, `perm`, ...) or the input's position as a string ("0", "1"), a message and a hint,
so that elaboration and lint can point at the offending argument.

Conventions: feature maps are [C, H, W]; sequences [S, D] or [heads, S, D]; `dense` acts on
the last axis; convolution and pooling on the last two; matmul is [.., M, K] x [.., K, N]
with equal leading axes ([.., N, K] for B with `transpose_b`); `add`/`mul` take equal ranks
and stretch size-1 axes (squeeze-excite's [C, 1, 1] scale); `concat` joins along `axis`
(negative counts from the end); einsum inputs bind in order to its tensors of role input.

Pure: no graph, no diagnostics, no spans, no lowering. It does not count MACs
(dslc.graph.layer_graph) and does not know the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dslc.spec import network as spec

Shape = tuple[int, ...]
"""A tensor shape without the batch axis."""


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    """Why a layer's output shape cannot be inferred."""

    layer: str
    """The layer (or network input) at fault."""
    attribute: str
    """The source attribute at fault (`kernel`, `out`, ...) or the input's index as a string."""
    message: str
    """What is wrong, with the sizes involved."""
    hint: str = ""
    """How to fix it, where there is an obvious fix."""


def projection_span(index: spec.AffineIndex, bounds: dict[str, int]) -> int:
    """Extent of an affine index when each dim d ranges over 0..bounds[d]-1 (max - min + 1).

    The offset shifts the range without widening it, so it does not count.
    """
    return 1 + sum(abs(term.coefficient) * (bounds[term.dim] - 1) for term in index.terms)


def _show(shape: Shape) -> str:
    return "[" + ", ".join(str(size) for size in shape) + "]"


# (fewest, most) inputs per op; None is unbounded. Einsum is checked against its tensors.
_ARITY: dict[str, tuple[int, int | None]] = {
    "conv": (1, 1), "dwconv": (1, 1), "dense": (1, 1), "matmul": (2, 2),
    "maxpool": (1, 1), "avgpool": (1, 1), "add": (1, None), "mul": (1, None),
    "concat": (1, None), "elementwise": (1, 1), "flatten": (1, 1), "reshape": (1, 1),
    "transpose": (1, 1),
}


def _arity(layer: spec.Layer, count: int) -> ShapeProblem | None:
    if isinstance(layer, spec.EinsumLayer):
        return None
    fewest, most = _ARITY[layer.op]
    if count < fewest:
        need = f"{fewest}" if most == fewest else f"at least {fewest}"
        return ShapeProblem(layer.name, "inputs",
                            f"`{layer.op}` takes {need} input(s), got {count}")
    if most is not None and count > most:
        # Point at the first surplus argument: its span is what the user must delete.
        return ShapeProblem(layer.name, str(most),
                            f"`{layer.op}` takes {most} input(s), got {count}",
                            "remove the extra inputs")
    return None


def _rank(layer: spec.Layer, shape: Shape, rank: int, what: str, index: int = 0
          ) -> ShapeProblem | None:
    if len(shape) == rank:
        return None
    return ShapeProblem(layer.name, str(index),
                        f"`{layer.op}` needs a {rank}-D {what} input, got {_show(shape)}",
                        "flatten or reshape the input first" if len(shape) > rank else
                        "reshape the input first")


def _positive_pairs(layer: spec.ConvLayer | spec.DepthwiseConvLayer | spec.PoolLayer
                    ) -> ShapeProblem | None:
    """Kernel, stride and dilation of at least 1 and padding of at least 0.

    Elaboration already enforces these for source programs; specs built in Python reach here
    unchecked, and a zero stride would divide by zero below.
    """
    dilation = getattr(layer, "dilation", (1, 1))
    checks = (("kernel", layer.kernel, 1), ("stride", layer.stride, 1),
              ("dilation", dilation, 1), ("pad", layer.pad, 0))
    for attribute, pair, minimum in checks:
        if min(pair) < minimum:
            return ShapeProblem(layer.name, attribute,
                                f"`{attribute}` must be at least {minimum}, got {list(pair)}")
    return None


def _window(layer: spec.ConvLayer | spec.DepthwiseConvLayer | spec.PoolLayer, shape: Shape
            ) -> tuple[int, int] | ShapeProblem:
    """Output height and width: floor((H + 2*pad - dilation*(R-1) - 1) / stride) + 1."""
    bad = _positive_pairs(layer)
    if bad is not None:
        return bad
    dilation = getattr(layer, "dilation", (1, 1))
    out: list[int] = []
    for axis, size in enumerate(shape[-2:]):
        span = dilation[axis] * (layer.kernel[axis] - 1) + 1
        padded = size + 2 * layer.pad[axis]
        extent = (padded - span) // layer.stride[axis] + 1
        if extent < 1:
            # The wording is pinned by the golden test E401_kernel_larger_than_input.
            return ShapeProblem(
                layer.name, "kernel",
                f"kernel {layer.kernel[axis]} (spanning {span}) is larger than the padded "
                f"input ({size} + 2 x {layer.pad[axis]} = {padded})",
                "use a smaller kernel or more padding")
        out.append(extent)
    return out[0], out[1]


def _conv(layer: spec.ConvLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    bad = _rank(layer, shape, 3, "[C, H, W]")
    if bad is not None:
        return bad
    channels = shape[0]
    if channels % layer.groups or layer.out_channels % layer.groups:
        return ShapeProblem(layer.name, "groups",
                            f"{channels} input and {layer.out_channels} output channels are "
                            f"not both divisible by groups = {layer.groups}",
                            "groups must divide the input and the output channels")
    window = _window(layer, shape)
    if isinstance(window, ShapeProblem):
        return window
    return (layer.out_channels, *window)


def _dwconv(layer: spec.DepthwiseConvLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    bad = _rank(layer, shape, 3, "[C, H, W]")
    if bad is not None:
        return bad
    window = _window(layer, shape)
    if isinstance(window, ShapeProblem):
        return window
    return (shape[0] * layer.multiplier, *window)


def _pool(layer: spec.PoolLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if len(shape) < 2:
        return ShapeProblem(layer.name, "0",
                            f"`{layer.op}` pools the last two axes but its input is "
                            f"{_show(shape)}", "reshape the input to [C, H, W] first")
    if layer.global_pool:
        return (*shape[:-2], 1, 1)
    window = _window(layer, shape)
    if isinstance(window, ShapeProblem):
        return window
    return (*shape[:-2], *window)


def _dense(layer: spec.DenseLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if not shape:
        return ShapeProblem(layer.name, "0", "`dense` acts on the last axis but its input "
                            "is a scalar")
    return (*shape[:-1], layer.out_features)


def _matmul(layer: spec.MatmulLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    a, b = shapes[0], shapes[1]
    for index, shape in enumerate((a, b)):
        if len(shape) < 2:
            return ShapeProblem(layer.name, str(index),
                                f"matmul operands need at least 2 axes, got {_show(shape)}")
    if len(a) != len(b) or a[:-2] != b[:-2]:
        return ShapeProblem(layer.name, "1",
                            f"leading axes differ: {_show(a[:-2])} and {_show(b[:-2])}",
                            "both operands need the same batch or head axes")
    k_b, n = (b[-1], b[-2]) if layer.transpose_b else (b[-2], b[-1])
    if a[-1] != k_b:
        layout = "[.., N, K]" if layer.transpose_b else "[.., K, N]"
        hint = ""
        if not layer.transpose_b and a[-1] == b[-1]:
            hint = "set `transpose_b = true`: the second operand looks like [.., N, K]"
        elif layer.transpose_b and a[-1] == b[-2]:
            hint = "drop `transpose_b`: the second operand looks like [.., K, N]"
        return ShapeProblem(layer.name, "1",
                            f"inner sizes differ: {_show(a)} has K = {a[-1]} but the second "
                            f"operand {_show(b)}, read as {layout}, has K = {k_b}", hint)
    return (*a[:-2], a[-2], n)


def _broadcast(layer: spec.AddLayer | spec.MulLayer, shapes: Sequence[Shape]
               ) -> Shape | ShapeProblem:
    result = shapes[0]
    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(result) or any(
                a != b and 1 not in (a, b) for a, b in zip(shape, result, strict=True)):
            return ShapeProblem(layer.name, str(index),
                                f"cannot {layer.op} {_show(shapes[0])} and {_show(shape)}",
                                "elementwise operands need equal shapes")
        result = tuple(max(a, b) for a, b in zip(shape, result, strict=True))
    return result


def _concat(layer: spec.ConcatLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    first = shapes[0]
    rank = len(first)
    if not -rank <= layer.axis < rank:
        return ShapeProblem(layer.name, "axis",
                            f"axis {layer.axis} does not exist in {_show(first)}",
                            f"use an axis from 0 to {rank - 1}" if rank else "")
    axis = layer.axis % rank
    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != rank:
            return ShapeProblem(layer.name, str(index),
                                f"cannot concat {_show(first)} and {_show(shape)}: their "
                                "ranks differ")
        off_axis = [i for i in range(rank) if i != axis and shape[i] != first[i]]
        if off_axis:
            return ShapeProblem(layer.name, str(index),
                                f"{_show(shape)} does not match {_show(first)} on axis "
                                f"{off_axis[0]}", f"only axis {axis} may differ")
    total = sum(shape[axis] for shape in shapes)
    return (*first[:axis], total, *first[axis + 1:])


def _flatten(layer: spec.FlattenLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    return (math.prod(shapes[0]),)


def _reshape(layer: spec.ReshapeLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if any(size < 1 for size in layer.shape):
        return ShapeProblem(layer.name, "shape",
                            f"{_show(layer.shape)} has an axis smaller than 1")
    if math.prod(layer.shape) != math.prod(shape):
        return ShapeProblem(layer.name, "shape",
                            f"{_show(shape)} has {math.prod(shape)} elements but "
                            f"{_show(layer.shape)} has {math.prod(layer.shape)}",
                            "a reshape keeps the element count")
    return layer.shape


def _transpose(layer: spec.TransposeLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if sorted(layer.perm) != list(range(len(shape))):
        return ShapeProblem(layer.name, "perm",
                            f"{list(layer.perm)} is not a permutation of the {len(shape)} "
                            f"axes of {_show(shape)}",
                            f"list each axis 0..{len(shape) - 1} once" if shape else "")
    return tuple(shape[axis] for axis in layer.perm)


def _same(layer: spec.Layer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    return shapes[0]


def _einsum(layer: spec.EinsumLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
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
    # An einsum with no graph inputs is a free-standing loop nest: nothing to bind.
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
                                f"argument has shape {_show(shape)}",
                                f"index `{tensor.name}` with one expression per axis")
        if expected != shape:
            return ShapeProblem(layer.name, str(position),
                                f"input `{tensor.name}` spans {_show(expected)} but its "
                                f"argument is {_show(shape)}",
                                "adjust the dim bounds to the argument's shape")
    return tuple(projection_span(index, bounds) for index in outputs[0].indices)


_INFER: dict[type, Callable[..., Shape | ShapeProblem]] = {
    spec.ConvLayer: _conv, spec.DepthwiseConvLayer: _dwconv, spec.PoolLayer: _pool,
    spec.DenseLayer: _dense, spec.MatmulLayer: _matmul, spec.AddLayer: _broadcast,
    spec.MulLayer: _broadcast, spec.ConcatLayer: _concat, spec.ElementwiseLayer: _same,
    spec.FlattenLayer: _flatten, spec.ReshapeLayer: _reshape,
    spec.TransposeLayer: _transpose, spec.EinsumLayer: _einsum,
}


def infer_shape(layer: spec.Layer, input_shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    """The output shape of `layer` given its inputs' shapes (in `layer.inputs` order)."""
    shapes = [tuple(shape) for shape in input_shapes]
    if len(shapes) != len(layer.inputs):
        # A caller bug, not a user mistake: the shapes must follow `layer.inputs`.
        raise ValueError(f"layer `{layer.name}` has {len(layer.inputs)} inputs but "
                         f"{len(shapes)} shapes were given")
    bad = _arity(layer, len(shapes))
    if bad is not None:
        return bad
    for index, shape in enumerate(shapes):
        if any(size < 1 for size in shape):
            return ShapeProblem(layer.name, str(index),
                                f"input {_show(shape)} has an empty axis")
    return _INFER[type(layer)](layer, shapes)
