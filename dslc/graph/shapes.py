"""Shape inference per operator.

`infer_shape(layer, input_shapes)` gives a layer's output shape (batch excluded) from the
shapes of its inputs, or a `ShapeProblem` naming the attribute (or input index) at fault,
with a message and a hint. Pure: no graph, no diagnostics, no spans — elaboration maps a
problem to the source. Conventions: feature maps [C, H, W]; `dense` acts on the last axis;
pooling and convolution on the last two; matmul on the last two with equal leading axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dslc.spec import network as spec

Shape = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    """Why a layer's output shape cannot be inferred."""

    layer: str
    attribute: str
    """The attribute at fault (`kernel`, `out`, ...) or the input's index as a string."""
    message: str
    hint: str = ""


def _window(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output extent of a sliding window: floor((H + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _spatial(layer: spec.ConvLayer | spec.DepthwiseConvLayer | spec.PoolLayer, shape: Shape,
             ) -> tuple[int, int] | ShapeProblem:
    height, width = shape[-2], shape[-1]
    dilation = getattr(layer, "dilation", (1, 1))
    for axis, size in ((0, height), (1, width)):
        span = dilation[axis] * (layer.kernel[axis] - 1) + 1
        padded = size + 2 * layer.pad[axis]
        if span > padded:
            return ShapeProblem(
                layer.name, "kernel",
                f"kernel {layer.kernel[axis]} (spanning {span}) is larger than the padded "
                f"input ({size} + 2 x {layer.pad[axis]} = {padded})",
                "use a smaller kernel or more padding")
    out_h = _window(height, layer.kernel[0], layer.stride[0], layer.pad[0], dilation[0])
    out_w = _window(width, layer.kernel[1], layer.stride[1], layer.pad[1], dilation[1])
    return out_h, out_w


def _needs_rank(layer: spec.Layer, shape: Shape, rank: int, index: int = 0
                ) -> ShapeProblem | None:
    if len(shape) != rank:
        return ShapeProblem(layer.name, str(index),
                            f"`{layer.op}` needs a {rank}-D [C, H, W] input, got "
                            f"{list(shape)}", "flatten or reshape the input first"
                            if len(shape) < rank else "")
    return None


def _conv(layer: spec.ConvLayer, shape: Shape) -> Shape | ShapeProblem:
    bad = _needs_rank(layer, shape, 3)
    if bad:
        return bad
    channels = shape[0]
    if channels % layer.groups or layer.out_channels % layer.groups:
        return ShapeProblem(layer.name, "groups",
                            f"{channels} input and {layer.out_channels} output channels are not "
                            f"both divisible by groups = {layer.groups}",
                            "groups must divide the input and output channels")
    spatial = _spatial(layer, shape)
    if isinstance(spatial, ShapeProblem):
        return spatial
    return (layer.out_channels, *spatial)


def _pool(layer: spec.PoolLayer, shape: Shape) -> Shape | ShapeProblem:
    if len(shape) < 2:
        return ShapeProblem(layer.name, "0", f"pooling needs at least [H, W], got {list(shape)}")
    if layer.global_pool:
        return (*shape[:-2], 1, 1)
    spatial = _spatial(layer, shape)
    if isinstance(spatial, ShapeProblem):
        return spatial
    return (*shape[:-2], *spatial)


def _matmul(layer: spec.MatmulLayer, a: Shape, b: Shape) -> Shape | ShapeProblem:
    if len(a) < 2 or len(b) < 2:
        return ShapeProblem(layer.name, "0" if len(a) < 2 else "1",
                            f"matmul operands need at least 2 axes, got {list(a)} and {list(b)}")
    if a[:-2] != b[:-2]:
        return ShapeProblem(layer.name, "1", f"leading axes differ: {list(a[:-2])} and "
                            f"{list(b[:-2])}", "both operands need the same batch/head axes")
    k_b, n = (b[-1], b[-2]) if layer.transpose_b else (b[-2], b[-1])
    if a[-1] != k_b:
        return ShapeProblem(layer.name, "1",
                            f"inner sizes differ: {list(a)} x {list(b)}"
                            f"{' (transposed)' if layer.transpose_b else ''}",
                            "set `transpose_b = true` if the second operand is [.., N, K]"
                            if not layer.transpose_b and a[-1] == b[-1] else "")
    return (*a[:-2], a[-2], n)


def _concat(layer: spec.ConcatLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    first = shapes[0]
    if layer.axis >= len(first):
        return ShapeProblem(layer.name, "axis", f"axis {layer.axis} does not exist in "
                            f"{list(first)}")
    for index, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(first) or any(
                a != b for axis, (a, b) in enumerate(zip(shape, first, strict=True))
                if axis != layer.axis):
            return ShapeProblem(layer.name, str(index),
                                f"{list(shape)} does not match {list(first)} off axis "
                                f"{layer.axis}")
    total = sum(shape[layer.axis] for shape in shapes)
    return (*first[: layer.axis], total, *first[layer.axis + 1:])


def _einsum(layer: spec.EinsumLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    bounds = dict(layer.dims)

    def extent(index: spec.AffineIndex) -> int:
        return 1 + sum(abs(t.coefficient) * (bounds[t.dim] - 1) for t in index.terms)

    operands = [t for t in layer.tensors if t.role == "input"]
    for position, (tensor, shape) in enumerate(zip(operands, shapes, strict=False)):
        expected = tuple(extent(index) for index in tensor.indices)
        if len(expected) != len(shape):
            return ShapeProblem(layer.name, str(position),
                                f"input `{tensor.name}` has {len(expected)} indices but its "
                                f"tensor has shape {list(shape)}")
        if expected != shape:
            return ShapeProblem(layer.name, str(position),
                                f"input `{tensor.name}` spans {list(expected)} but the tensor "
                                f"is {list(shape)}", "adjust the dim bounds")
    output = next(t for t in layer.tensors if t.role == "output")
    return tuple(extent(index) for index in output.indices)


def infer_shape(layer: spec.Layer, input_shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    """The output shape of `layer` given its inputs' shapes, or why there is none."""
    shapes = list(input_shapes)
    if isinstance(layer, spec.EinsumLayer):
        result: Shape | ShapeProblem = _einsum(layer, shapes)
    elif isinstance(layer, spec.ConvLayer):
        result = _conv(layer, shapes[0])
    elif isinstance(layer, spec.DepthwiseConvLayer):
        bad = _needs_rank(layer, shapes[0], 3)
        spatial = bad or _spatial(layer, shapes[0])
        result = spatial if isinstance(spatial, ShapeProblem) else (
            shapes[0][0] * layer.multiplier, *spatial)
    elif isinstance(layer, spec.PoolLayer):
        result = _pool(layer, shapes[0])
    elif isinstance(layer, spec.DenseLayer):
        result = (*shapes[0][:-1], layer.out_features)
    elif isinstance(layer, spec.MatmulLayer):
        result = _matmul(layer, shapes[0], shapes[1])
    elif isinstance(layer, spec.AddLayer | spec.MulLayer):
        result = shapes[0]
        for index, shape in enumerate(shapes[1:], start=1):
            if shape != shapes[0]:
                result = ShapeProblem(layer.name, str(index),
                                      f"cannot {layer.op} {list(shapes[0])} and {list(shape)}",
                                      "elementwise operands need equal shapes")
                break
    elif isinstance(layer, spec.ConcatLayer):
        result = _concat(layer, shapes)
    elif isinstance(layer, spec.FlattenLayer):
        result = (math.prod(shapes[0]),)
    elif isinstance(layer, spec.ReshapeLayer):
        if math.prod(layer.shape) != math.prod(shapes[0]):
            result = ShapeProblem(layer.name, "shape",
                                  f"{list(shapes[0])} has {math.prod(shapes[0])} elements, "
                                  f"{list(layer.shape)} has {math.prod(layer.shape)}",
                                  "a reshape keeps the element count")
        else:
            result = layer.shape
    elif isinstance(layer, spec.TransposeLayer):
        if sorted(layer.perm) != list(range(len(shapes[0]))):
            result = ShapeProblem(layer.name, "perm",
                                  f"{list(layer.perm)} is not a permutation of the "
                                  f"{len(shapes[0])} axes of {list(shapes[0])}")
        else:
            result = tuple(shapes[0][axis] for axis in layer.perm)
    else:
        result = shapes[0]
    if not isinstance(result, ShapeProblem) and any(size < 1 for size in result):
        attribute = "kernel" if hasattr(layer, "kernel") else "0"
        return ShapeProblem(layer.name, attribute, f"output shape {list(result)} is empty",
                            "check kernel, stride and padding")
    return result
