"""Lowering: each MAC-bearing layer becomes a `Problem` (a loop nest); the rest is data movement.

Conventions (Timeloop's): conv dims N K C P Q R S with weight [K, C, R, S], input
[N, C, P*sh + R*dh, Q*sw + S*dw], output [N, K, P, Q]; grouped conv adds G (channel axes
g*C + c and g*K + k, C and K per group); depthwise: N C P Q R S (plus M for a channel
multiplier > 1), weight [C, R, S], output channel c*M + m; dense over [.., D]: leading axes
become output dims (S for one, H and S for two, A0.. beyond); matmul: B (batch, since N is
an operand dim), leading axes, M, N, K, with two tensors of role input, `input` [.., M, K]
and `input_b` [.., K, N]; einsum: its declared dims and tensors (plus N when batch > 1).
Padding is not in the projections: input extents are projection spans, Timeloop's padded
input. Layers without MACs become `DataMovement` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dslc.graph.layer_graph import LayerGraph, build_graph
from dslc.graph.shapes import Shape
from dslc.lower.problem import Problem, Projection, Role, Tensor
from dslc.spec import network as spec


@dataclass(frozen=True, slots=True)
class DataMovement:
    """A layer without MACs: the words it reads and writes."""

    name: str
    op: str
    input_words: int
    output_words: int


@dataclass(frozen=True, slots=True)
class LoweredLayer:
    name: str
    problem: Problem | None
    movement: DataMovement | None


@dataclass(frozen=True, slots=True)
class LoweredNetwork:
    """Per-layer lowering in topological order, plus the distinct problems."""

    network: str
    batch: int
    layers: tuple[LoweredLayer, ...]

    def problem(self, layer: str) -> Problem | None:
        for lowered in self.layers:
            if lowered.name == layer:
                return lowered.problem
        raise KeyError(layer)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(layer.problem for layer in self.layers if layer.problem is not None)

    def distinct(self) -> dict[str, tuple[Problem, tuple[str, ...]]]:
        """Problem key → (the first problem with it, every layer name sharing it), sorted."""
        groups: dict[str, tuple[Problem, list[str]]] = {}
        for problem in self.problems:
            groups.setdefault(problem.key, (problem, []))[1].append(problem.name)
        return {key: (problem, tuple(names)) for key, (problem, names) in
                sorted(groups.items())}

    @property
    def macs(self) -> int:
        return sum(problem.macs for problem in self.problems)


def _proj(*terms: tuple[int, int]) -> Projection:
    return Projection(tuple(sorted((d, c) for d, c in terms if c != 0)))


def _build(name: str, op: str, dims: list[tuple[str, int]],
           tensors: list[tuple[str, Role, list[list[tuple[str, int]]]]]) -> Problem:
    index = {dim: i for i, (dim, _) in enumerate(dims)}
    built = tuple(Tensor(tensor_name, role, tuple(_proj(*((index[d], c) for d, c in axis))
                                                  for axis in axes))
                  for tensor_name, role, axes in tensors)
    return Problem(name, tuple(d for d, _ in dims), tuple(b for _, b in dims), built, op)


def _conv(layer: spec.ConvLayer, shape: Shape, out: Shape, batch: int) -> Problem:
    groups = layer.groups
    c, k = shape[0] // groups, layer.out_channels // groups
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    dims = [("N", batch), ("K", k), ("C", c), ("P", out[1]), ("Q", out[2]),
            ("R", layer.kernel[0]), ("S", layer.kernel[1])]
    if groups == 1:
        return _build(layer.name, "conv", dims, [
            ("weight", "weight", [[("K", 1)], [("C", 1)], [("R", 1)], [("S", 1)]]),
            ("input", "input", [[("N", 1)], [("C", 1)], [("P", sh), ("R", dh)],
                                [("Q", sw), ("S", dw)]]),
            ("output", "output", [[("N", 1)], [("K", 1)], [("P", 1)], [("Q", 1)]]),
        ])
    return _build(layer.name, "conv", [("G", groups), *dims], [
        ("weight", "weight", [[("G", 1)], [("K", 1)], [("C", 1)], [("R", 1)], [("S", 1)]]),
        ("input", "input", [[("N", 1)], [("G", c), ("C", 1)], [("P", sh), ("R", dh)],
                            [("Q", sw), ("S", dw)]]),
        ("output", "output", [[("N", 1)], [("G", k), ("K", 1)], [("P", 1)], [("Q", 1)]]),
    ])


def _dwconv(layer: spec.DepthwiseConvLayer, shape: Shape, out: Shape, batch: int) -> Problem:
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    m = layer.multiplier
    dims = [("N", batch), ("C", shape[0]), ("P", out[1]), ("Q", out[2]),
            ("R", layer.kernel[0]), ("S", layer.kernel[1])]
    weight = [[("C", 1)], [("R", 1)], [("S", 1)]]
    out_channel = [("C", 1)]
    if m > 1:
        dims.insert(2, ("M", m))
        weight = [[("C", 1)], [("M", 1)], [("R", 1)], [("S", 1)]]
        out_channel = [("C", m), ("M", 1)]
    return _build(layer.name, "dwconv", dims, [
        ("weight", "weight", weight),
        ("input", "input", [[("N", 1)], [("C", 1)], [("P", sh), ("R", dh)],
                            [("Q", sw), ("S", dw)]]),
        ("output", "output", [[("N", 1)], out_channel, [("P", 1)], [("Q", 1)]]),
    ])


def _leading_names(count: int) -> list[str]:
    if count == 1:
        return ["S"]
    if count == 2:
        return ["H", "S"]
    return [f"A{i}" for i in range(count)]


def _dense(layer: spec.DenseLayer, shape: Shape, batch: int) -> Problem:
    lead = _leading_names(len(shape) - 1)
    lead_dims = list(zip(lead, shape[:-1], strict=True))
    dims = [("N", batch), *lead_dims, ("K", layer.out_features), ("C", shape[-1])]
    lead_axes = [[(d, 1)] for d in lead]
    return _build(layer.name, "dense", dims, [
        ("weight", "weight", [[("K", 1)], [("C", 1)]]),
        ("input", "input", [[("N", 1)], *lead_axes, [("C", 1)]]),
        ("output", "output", [[("N", 1)], *lead_axes, [("K", 1)]]),
    ])


def _matmul(layer: spec.MatmulLayer, a: Shape, b: Shape, batch: int) -> Problem:
    lead = ["H"] if len(a) == 3 else [f"A{i}" for i in range(len(a) - 2)]
    lead_dims = list(zip(lead, a[:-2], strict=True))
    n = b[-2] if layer.transpose_b else b[-1]
    dims = [("B", batch), *lead_dims, ("M", a[-2]), ("N", n), ("K", a[-1])]
    lead_axes = [[(d, 1)] for d in lead]
    b_axes = [[("N", 1)], [("K", 1)]] if layer.transpose_b else [[("K", 1)], [("N", 1)]]
    return _build(layer.name, "matmul", dims, [
        ("input", "input", [[("B", 1)], *lead_axes, [("M", 1)], [("K", 1)]]),
        ("input_b", "input", [[("B", 1)], *lead_axes, *b_axes]),
        ("output", "output", [[("B", 1)], *lead_axes, [("M", 1)], [("N", 1)]]),
    ])


def _einsum(layer: spec.EinsumLayer, batch: int) -> Problem:
    dims = list(layer.dims)
    batched = batch > 1 and "N" not in dict(dims)
    if batched:
        dims.insert(0, ("N", batch))
    tensors: list[tuple[str, Role, list[list[tuple[str, int]]]]] = []
    for tensor in layer.tensors:
        axes = [[(t.dim, t.coefficient) for t in index.terms] for index in tensor.indices]
        if batched and tensor.role != "weight":
            axes.insert(0, [("N", 1)])
        tensors.append((tensor.name, tensor.role, axes))
    return _build(layer.name, "einsum", dims, tensors)


def lower_layer(layer: spec.Layer, input_shapes: tuple[Shape, ...], output_shape: Shape,
                batch: int = 1) -> Problem | None:
    """The loop nest of a MAC-bearing layer, or None for layers without MACs."""
    if isinstance(layer, spec.ConvLayer):
        return _conv(layer, input_shapes[0], output_shape, batch)
    if isinstance(layer, spec.DepthwiseConvLayer):
        return _dwconv(layer, input_shapes[0], output_shape, batch)
    if isinstance(layer, spec.DenseLayer):
        return _dense(layer, input_shapes[0], batch)
    if isinstance(layer, spec.MatmulLayer):
        return _matmul(layer, input_shapes[0], input_shapes[1], batch)
    if isinstance(layer, spec.EinsumLayer):
        return _einsum(layer, batch)
    return None


def lower_graph(graph: LayerGraph, batch: int = 1) -> LoweredNetwork:
    lowered: list[LoweredLayer] = []
    for layer in graph.topological_layers():
        inputs = graph.input_shapes(layer.name)
        output = graph.shapes[layer.name]
        problem = lower_layer(layer, inputs, output, batch)
        movement = None
        if problem is None:
            movement = DataMovement(layer.name, layer.op,
                                    batch * sum(math.prod(s) for s in inputs),
                                    batch * math.prod(output))
        lowered.append(LoweredLayer(layer.name, problem, movement))
    return LoweredNetwork(graph.network.name, batch, tuple(lowered))


def lower_network(network: spec.NetworkSpec, batch: int = 1) -> LoweredNetwork:
    """Lower every layer of a network (layers whose shapes fail are left out)."""
    return lower_graph(build_graph(network), batch)
