"""`maxpool` and `avgpool`: pooling over the last two axes; `global = true` pools to 1x1.

Shape: [.., H, W] -> [.., P, Q] with P, Q from the sliding window (dslc.ops.window; the
stride defaults to the kernel; the padding is at most half the kernel, as PyTorch requires;
`ceil = true` rounds the size up as PyTorch's `ceil_mode`), or [.., 1, 1] when global. No
MACs and no weights: pooling only moves data (comparisons and additions are not modelled as
MACs), so it has no loop nest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from dslc.ops import window
from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec.network import PoolLayer

KERNEL = Attribute("kernel", "pair", "window (required unless global)", default=1)
STRIDE = Attribute("stride", "pair", "stride (default: the kernel)")
PAD = Attribute("pad", "pad_pair", "padding per side (or `same`), at most half the kernel",
                default=0)
GLOBAL = Attribute("global", "bool", "pool the whole map to 1x1", default=False)
CEIL = Attribute("ceil", "bool", "round the output size up, as PyTorch's `ceil_mode`",
                 default=False)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> PoolLayer:
    op: Literal["maxpool", "avgpool"] = "maxpool" if called == "maxpool" else "avgpool"
    is_global = attrs.flag(GLOBAL)
    if not is_global and not attrs.has(KERNEL):
        raise attrs.missing(f"`{called}` needs `kernel` (or `global = true`)")
    kernel = attrs.pair(KERNEL)
    stride = attrs.pair(STRIDE) if attrs.has(STRIDE) else kernel
    return PoolLayer(name=name, inputs=inputs, op=op, kernel=kernel, stride=stride,
                     pad=window.bind_pad(attrs, PAD, kernel, (1, 1)),
                     global_pool=is_global, ceil=attrs.flag(CEIL))


def _shape(layer: PoolLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    if len(shape) < 2:
        return ShapeProblem(layer.name, "0",
                            f"`{layer.op}` pools the last two axes but its input is "
                            f"{show(shape)}", "reshape the input to [C, H, W] first")
    if layer.global_pool:
        return (*shape[:-2], 1, 1)
    for axis in (0, 1):
        if layer.pad[axis] > layer.kernel[axis] // 2:
            # PyTorch refuses it too ("pad should be at most half of effective kernel
            # size"): the outermost windows would hold padding only, no data.
            return ShapeProblem(
                layer.name, "pad",
                f"padding {layer.pad[axis]} is more than half the kernel "
                f"({layer.kernel[axis]}): the outermost windows would hold padding only",
                f"use a padding of at most {layer.kernel[axis] // 2} (half the kernel)")
    size = window.output_size(layer.name, shape, layer.kernel, layer.stride, layer.pad,
                              ceil=layer.ceil)
    if isinstance(size, ShapeProblem):
        return size
    return (*shape[:-2], *size)


OPERATOR = Operator(
    spellings=(Spelling("maxpool", "max pooling"), Spelling("avgpool", "average pooling")),
    layer=PoolLayer, min_inputs=1, max_inputs=1,
    attributes=(KERNEL, STRIDE, PAD, GLOBAL, CEIL),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("maxpool(x0, kernel = 3, stride = 2, pad = 1)", ((4, 8, 8),)),
)
