"""`dwconv`: a depthwise convolution, each input channel filtered by its own `multiplier` filters.

Shape: [C*M, P, Q] with P, Q from the sliding window (dslc.ops.window). Work: C*M*P*Q
outputs, each a reduction over R * S inputs; C*M * R * S weights.

Loop nest: N C P Q R S, weight [C, R, S], input [N, C, P*sh + R*dh, Q*sw + S*dw], output
[N, C, P, Q]; with a multiplier M > 1: N C M P Q R S, weight [C, M, R, S], output channel
c*M + m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dslc.ops import window
from dslc.ops.attributes import Attribute, AttributeReader
from dslc.ops.loopnest import Axis, LoopNest, LoopTensor
from dslc.ops.operator import Example, Operator, Spelling, Workload
from dslc.ops.shape import Shape, ShapeProblem, rank_problem
from dslc.spec.network import DepthwiseConvLayer

MULTIPLIER = Attribute("multiplier", "pos_int", "filters per channel (default 1)", default=1)


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> DepthwiseConvLayer:
    # Kernel and dilation first: `pad = same` needs them, and errors keep this order.
    kernel, dilation = attrs.pair(window.KERNEL), attrs.pair(window.DILATION)
    return DepthwiseConvLayer(
        name=name, inputs=inputs, kernel=kernel, stride=attrs.pair(window.STRIDE),
        pad=window.bind_pad(attrs, window.PAD, kernel, dilation), dilation=dilation,
        multiplier=attrs.integer(MULTIPLIER))


def _shape(layer: DepthwiseConvLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    shape = shapes[0]
    bad = rank_problem(layer.name, layer.op, shape, 3, "[C, H, W]")
    if bad is not None:
        return bad
    size = window.output_size(layer.name, shape, layer.kernel, layer.stride, layer.pad,
                              layer.dilation)
    if isinstance(size, ShapeProblem):
        return size
    return (shape[0] * layer.multiplier, *size)


def _workload(layer: DepthwiseConvLayer, inputs: tuple[Shape, ...], output: Shape
              ) -> Workload:
    taps = layer.kernel[0] * layer.kernel[1]
    return Workload(math.prod(output) * taps, output[0] * taps)


def _lower(layer: DepthwiseConvLayer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> LoopNest:
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    m = layer.multiplier
    spatial = (("P", output[1]), ("Q", output[2]), ("R", layer.kernel[0]),
               ("S", layer.kernel[1]))
    dims: tuple[tuple[str, int], ...] = (("N", batch), ("C", inputs[0][0]), *spatial)
    weight: tuple[Axis, ...] = ((("C", 1),), (("R", 1),), (("S", 1),))
    out_channel: Axis = (("C", 1),)
    if m > 1:
        dims = (("N", batch), ("C", inputs[0][0]), ("M", m), *spatial)
        weight = ((("C", 1),), (("M", 1),), (("R", 1),), (("S", 1),))
        out_channel = (("C", m), ("M", 1))
    return LoopNest(dims, (
        LoopTensor("weight", "weight", weight),
        LoopTensor("input", "input", ((("N", 1),), (("C", 1),), (("P", sh), ("R", dh)),
                                      (("Q", sw), ("S", dw)))),
        LoopTensor("output", "output", ((("N", 1),), out_channel, (("P", 1),), (("Q", 1),))),
    ))


OPERATOR = Operator(
    spellings=(Spelling("dwconv", "depthwise convolution"),),
    layer=DepthwiseConvLayer, min_inputs=1, max_inputs=1,
    attributes=(*window.ATTRIBUTES, MULTIPLIER),
    bind=_bind, shape=_shape, workload=_workload, lower=_lower,
    example=Example("dwconv(x0, kernel = 3, stride = 2, pad = same, multiplier = 2)",
                    ((4, 8, 8),)),
)
