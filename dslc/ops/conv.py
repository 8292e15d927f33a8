"""`conv`: a 2-D convolution over a [C, H, W] tensor, grouped when `groups` > 1.

Shape: [K, P, Q] with P, Q from the sliding window (dslc.ops.window); C and K must be
divisible by the groups. Work: P*Q*K outputs, each a reduction over C/groups * R * S inputs;
K * C/groups * R * S weights.

Loop nest (Timeloop's names, in this order): N K C P Q R S; weight [K, C, R, S], input
[N, C, P*sh + R*dh, Q*sw + S*dw], output [N, K, P, Q]. Grouped: G N K C P Q R S with C and K
per group; weight [G, K, C, R, S], input channel g*C + c, output channel g*K + k. Padding is
not in the projections: the input's extent is its projection span, Timeloop's padded input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops import window
from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.loopnest import LoopNest, LoopTensor
from dslc.ops.operator import Example, Operator, Spelling, Workload
from dslc.ops.shape import Shape, ShapeProblem, rank_problem
from dslc.spec.network import ConvLayer

OUT = Attribute("out", "pos_int", "output channels", True)
GROUPS = Attribute("groups", "pos_int", "channel groups (default 1)", default=1)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> ConvLayer:
    # Kernel and dilation first: `pad = same` needs them, and errors keep this order.
    kernel, dilation = attrs.pair(window.KERNEL), attrs.pair(window.DILATION)
    return ConvLayer(name=name, inputs=inputs, out_channels=attrs.integer(OUT), kernel=kernel,
                     stride=attrs.pair(window.STRIDE),
                     pad=window.bind_pad(attrs, window.PAD, kernel, dilation),
                     dilation=dilation, groups=attrs.integer(GROUPS))


def _shape(layer: ConvLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    bad = rank_problem(layer.name, layer.op, shape, 3, "[C, H, W]")
    if bad is not None:
        return bad
    channels = shape[0]
    if channels % layer.groups or layer.out_channels % layer.groups:
        return ShapeProblem(layer.name, "groups",
                            f"{channels} input and {layer.out_channels} output channels are "
                            f"not both divisible by groups = {layer.groups}",
                            "groups must divide the input and the output channels")
    size = window.output_size(layer.name, shape, layer.kernel, layer.stride, layer.pad,
                              layer.dilation)
    if isinstance(size, ShapeProblem):
        return size
    return (layer.out_channels, *size)


def _workload(layer: ConvLayer, inputs: tuple[Shape, ...], output: Shape) -> Workload:
    reduction = inputs[0][0] // layer.groups * layer.kernel[0] * layer.kernel[1]
    return Workload(math.prod(output) * reduction, layer.out_channels * reduction)


def _lower(layer: ConvLayer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> LoopNest:
    groups = layer.groups
    c, k = inputs[0][0] // groups, layer.out_channels // groups
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    dims = (("N", batch), ("K", k), ("C", c), ("P", output[1]), ("Q", output[2]),
            ("R", layer.kernel[0]), ("S", layer.kernel[1]))
    rows, cols = (("P", sh), ("R", dh)), (("Q", sw), ("S", dw))
    if groups == 1:
        return LoopNest(dims, (
            LoopTensor("weight", "weight", ((("K", 1),), (("C", 1),), (("R", 1),), (("S", 1),))),
            LoopTensor("input", "input", ((("N", 1),), (("C", 1),), rows, cols)),
            LoopTensor("output", "output", ((("N", 1),), (("K", 1),), (("P", 1),), (("Q", 1),))),
        ))
    return LoopNest((("G", groups), *dims), (
        LoopTensor("weight", "weight",
                   ((("G", 1),), (("K", 1),), (("C", 1),), (("R", 1),), (("S", 1),))),
        LoopTensor("input", "input", ((("N", 1),), (("G", c), ("C", 1)), rows, cols)),
        LoopTensor("output", "output",
                   ((("N", 1),), (("G", k), ("K", 1)), (("P", 1),), (("Q", 1),))),
    ))


OPERATOR = Operator(
    spellings=(Spelling("conv", "2-D convolution over a [C, H, W] tensor"),),
    layer=ConvLayer, min_inputs=1, max_inputs=1,
    attributes=(OUT, *window.ATTRIBUTES, GROUPS),
    bind=_bind, shape=_shape, workload=_workload, lower=_lower,
    example=Example("conv(x0, out = 8, kernel = 3, pad = 1)", ((4, 8, 8),)),
)
