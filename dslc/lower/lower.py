"""Lowering: each MAC-bearing layer becomes a `Problem` (a loop nest); the rest moves data.

Owns `lower_layer`, `lower_graph`, `lower_network` and `count_macs`. In: a layer with its
input shapes, or a whole `NetworkSpec`/`LayerGraph`, and the batch. Out: a `Problem` per
conv, dwconv, dense, matmul and einsum layer, a `DataMovement` record for every other layer,
and the distinct problems by `Problem.key` with the layers that share each. It does not infer
shapes (dslc.graph) and does not search mappings or cost anything.

Loop-nest conventions (Timeloop's; dims in this order, tensors named input/weight/output):

- conv: N K C P Q R S; weight [K, C, R, S], input [N, C, P*sh + R*dh, Q*sw + S*dw], output
  [N, K, P, Q]. Grouped (groups > 1): G N K C P Q R S with C and K per group; weight
  [G, K, C, R, S], input channel g*C + c, output channel g*K + k.
- dwconv: N C P Q R S, weight [C, R, S], input [N, C, ..], output [N, C, P, Q]; with a
  multiplier M > 1: N C M P Q R S, weight [C, M, R, S], output channel c*M + m.
- dense over [.., D]: N, one output dim per leading axis, K (out features), C (in features);
  leading axes are S for [S, D], H S for [H, S, D] and A0 A1 .. beyond. Input [N, .., C],
  weight [K, C], output [N, .., K].
- matmul [.., M, K] x [.., K, N]: B (the batch: N is the operand dim, as in BLAS), one dim per
  leading axis (H for [H, M, K], A0 A1 .. beyond), M, N, K. Two tensors of role input:
  `input` [B, .., M, K] and `input_b` [B, .., K, N] ([B, .., N, K] with `transpose_b`); output
  [B, .., M, N]; no weight.
- einsum: the declared dims and tensors (names kept; offsets dropped). With batch > 1 a batch
  dim is prepended to the dims and to every input and output tensor: N, or B when the einsum
  declares N, or N0, N1, .. when it declares both.

Padding is not in the projections: an input's extent is its projection span, Timeloop's
padded input. Problem names are layer names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from dslc.graph.layer_graph import LayerGraph, build_graph
from dslc.graph.shapes import Shape, ShapeProblem, infer_shape
from dslc.lower.problem import Problem, Projection, Role, Tensor
from dslc.spec import network as spec


class LoweringError(ValueError):
    """`lower_layer` was given input shapes the layer cannot take (a caller's mistake)."""

    def __init__(self, problem: ShapeProblem) -> None:
        super().__init__(f"cannot lower `{problem.layer}`: {problem.message}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class DataMovement:
    """A layer without MACs: the elements it reads and writes, batch included."""

    name: str
    op: str
    input_words: int
    """Elements read, summed over the inputs."""
    output_words: int
    """Elements written."""


@dataclass(frozen=True, slots=True)
class LoweredLayer:
    """One layer after lowering: exactly one of `problem` and `movement` is set."""

    name: str
    op: str
    problem: Problem | None
    movement: DataMovement | None


class SharedProblem(NamedTuple):
    """A distinct loop nest and the layers (in topological order) that lower to it."""

    problem: Problem
    """The first layer's problem (its name is that layer's)."""
    layers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoweredNetwork:
    """Per-layer lowering in topological order."""

    network: str
    batch: int
    layers: tuple[LoweredLayer, ...]
    shape_problems: tuple[ShapeProblem, ...] = ()
    """Why some layers are missing from `layers` (see `LayerGraph.problems`)."""

    def layer(self, name: str) -> LoweredLayer:
        for lowered in self.layers:
            if lowered.name == name:
                return lowered
        raise KeyError(name)

    def problem(self, layer: str) -> Problem | None:
        """The layer's loop nest, or None when it has no MACs (KeyError when unknown)."""
        return self.layer(layer).problem

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every layer's loop nest in topological order (duplicates included)."""
        return tuple(layer.problem for layer in self.layers if layer.problem is not None)

    @property
    def movements(self) -> tuple[DataMovement, ...]:
        """The records of layers without MACs, in topological order."""
        return tuple(layer.movement for layer in self.layers if layer.movement is not None)

    def distinct(self) -> dict[str, SharedProblem]:
        """Problem key -> the problem and the layers sharing it, in order of first use."""
        groups: dict[str, tuple[Problem, list[str]]] = {}
        for problem in self.problems:
            groups.setdefault(problem.key, (problem, []))[1].append(problem.name)
        return {key: SharedProblem(problem, tuple(names))
                for key, (problem, names) in groups.items()}

    @property
    def macs(self) -> int:
        return sum(problem.macs for problem in self.problems)


_Axis = list[tuple[str, int]]
"""One tensor axis as (dim name, coefficient) terms."""


def _build(name: str, op: str, dims: list[tuple[str, int]],
           tensors: list[tuple[str, Role, list[_Axis]]]) -> Problem:
    index = {dim: i for i, (dim, _) in enumerate(dims)}
    built = []
    for tensor_name, role, axes in tensors:
        projections = []
        for axis in axes:
            # Merge repeated dims (an einsum may write `p + p`) and drop zero coefficients:
            # Projection wants one sorted term per dim.
            merged: dict[int, int] = {}
            for dim, coefficient in axis:
                merged[index[dim]] = merged.get(index[dim], 0) + coefficient
            projections.append(Projection(tuple(sorted(
                (d, c) for d, c in merged.items() if c != 0))))
        built.append(Tensor(tensor_name, role, tuple(projections)))
    return Problem(name, tuple(d for d, _ in dims), tuple(b for _, b in dims), tuple(built),
                   op)


def _conv(layer: spec.ConvLayer, shape: Shape, out: Shape, batch: int) -> Problem:
    groups = layer.groups
    c, k = shape[0] // groups, layer.out_channels // groups
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    dims = [("N", batch), ("K", k), ("C", c), ("P", out[1]), ("Q", out[2]),
            ("R", layer.kernel[0]), ("S", layer.kernel[1])]
    rows, cols = [("P", sh), ("R", dh)], [("Q", sw), ("S", dw)]
    if groups == 1:
        return _build(layer.name, "conv", dims, [
            ("weight", "weight", [[("K", 1)], [("C", 1)], [("R", 1)], [("S", 1)]]),
            ("input", "input", [[("N", 1)], [("C", 1)], rows, cols]),
            ("output", "output", [[("N", 1)], [("K", 1)], [("P", 1)], [("Q", 1)]]),
        ])
    return _build(layer.name, "conv", [("G", groups), *dims], [
        ("weight", "weight", [[("G", 1)], [("K", 1)], [("C", 1)], [("R", 1)], [("S", 1)]]),
        ("input", "input", [[("N", 1)], [("G", c), ("C", 1)], rows, cols]),
        ("output", "output", [[("N", 1)], [("G", k), ("K", 1)], [("P", 1)], [("Q", 1)]]),
    ])


def _dwconv(layer: spec.DepthwiseConvLayer, shape: Shape, out: Shape, batch: int) -> Problem:
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    m = layer.multiplier
    dims = [("N", batch), ("C", shape[0]), ("P", out[1]), ("Q", out[2]),
            ("R", layer.kernel[0]), ("S", layer.kernel[1])]
    weight: list[_Axis] = [[("C", 1)], [("R", 1)], [("S", 1)]]
    out_channel: _Axis = [("C", 1)]
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


def _leading(shape: Shape, named: tuple[str, ...]) -> list[tuple[str, int]]:
    """Dims for the leading (batch-like) axes: `named` when the count matches, else A0.."""
    names = named if len(named) == len(shape) else tuple(f"A{i}" for i in range(len(shape)))
    return list(zip(names, shape, strict=True))


def _dense(layer: spec.DenseLayer, shape: Shape, batch: int) -> Problem:
    lead = _leading(shape[:-1], ("S",) if len(shape) == 2 else ("H", "S"))
    dims = [("N", batch), *lead, ("K", layer.out_features), ("C", shape[-1])]
    lead_axes: list[_Axis] = [[(dim, 1)] for dim, _ in lead]
    return _build(layer.name, "dense", dims, [
        ("weight", "weight", [[("K", 1)], [("C", 1)]]),
        ("input", "input", [[("N", 1)], *lead_axes, [("C", 1)]]),
        ("output", "output", [[("N", 1)], *lead_axes, [("K", 1)]]),
    ])


def _matmul(layer: spec.MatmulLayer, a: Shape, b: Shape, batch: int) -> Problem:
    lead = _leading(a[:-2], ("H",))
    n = b[-2] if layer.transpose_b else b[-1]
    dims = [("B", batch), *lead, ("M", a[-2]), ("N", n), ("K", a[-1])]
    lead_axes: list[_Axis] = [[("B", 1)], *([(dim, 1)] for dim, _ in lead)]
    b_axes: list[_Axis] = [[("N", 1)], [("K", 1)]] if layer.transpose_b else \
        [[("K", 1)], [("N", 1)]]
    return _build(layer.name, "matmul", dims, [
        ("input", "input", [*lead_axes, [("M", 1)], [("K", 1)]]),
        ("input_b", "input", [*lead_axes, *b_axes]),
        ("output", "output", [*lead_axes, [("M", 1)], [("N", 1)]]),
    ])


def _batch_dim(declared: set[str]) -> str:
    for candidate in ("N", "B"):
        if candidate not in declared:
            return candidate
    return next(f"N{i}" for i in range(len(declared) + 1) if f"N{i}" not in declared)


def _einsum(layer: spec.EinsumLayer, batch: int) -> Problem:
    dims = list(layer.dims)
    batch_dim = _batch_dim({dim for dim, _ in dims}) if batch > 1 else ""
    if batch_dim:
        dims.insert(0, (batch_dim, batch))
    tensors: list[tuple[str, Role, list[_Axis]]] = []
    for tensor in layer.tensors:
        axes = [[(t.dim, t.coefficient) for t in index.terms] for index in tensor.indices]
        # Weights are shared by every sample; activations gain the batch axis.
        if batch_dim and tensor.role != "weight":
            axes.insert(0, [(batch_dim, 1)])
        tensors.append((tensor.name, tensor.role, axes))
    return _build(layer.name, "einsum", dims, tensors)


def _lower(layer: spec.Layer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> Problem | None:
    if isinstance(layer, spec.ConvLayer):
        return _conv(layer, inputs[0], output, batch)
    if isinstance(layer, spec.DepthwiseConvLayer):
        return _dwconv(layer, inputs[0], output, batch)
    if isinstance(layer, spec.DenseLayer):
        return _dense(layer, inputs[0], batch)
    if isinstance(layer, spec.MatmulLayer):
        return _matmul(layer, inputs[0], inputs[1], batch)
    if isinstance(layer, spec.EinsumLayer):
        return _einsum(layer, batch)
    return None


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")


def lower_layer(layer: spec.Layer, input_shapes: Sequence[Shape], batch: int = 1
                ) -> Problem | None:
    """The loop nest of a MAC-bearing layer, or None for a layer without MACs.

    `input_shapes` follow `layer.inputs` and exclude the batch. Raises `LoweringError` when
    the layer cannot take them (build the graph first to get these as `ShapeProblem`s).
    """
    _check_batch(batch)
    inputs = tuple(tuple(shape) for shape in input_shapes)
    output = infer_shape(layer, inputs)
    if isinstance(output, ShapeProblem):
        raise LoweringError(output)
    return _lower(layer, inputs, output, batch)


def lower_graph(graph: LayerGraph, batch: int = 1) -> LoweredNetwork:
    """Lower every layer of a built graph (layers that failed shape inference are absent)."""
    _check_batch(batch)
    lowered: list[LoweredLayer] = []
    for layer in graph.topological_layers():
        inputs = graph.input_shapes(layer.name)
        output = graph.shapes[layer.name]
        problem = _lower(layer, inputs, output, batch)
        movement = None
        if problem is None:
            movement = DataMovement(layer.name, layer.op,
                                    batch * sum(math.prod(shape) for shape in inputs),
                                    batch * math.prod(output))
        lowered.append(LoweredLayer(layer.name, layer.op, problem, movement))
    return LoweredNetwork(graph.network.name, batch, tuple(lowered), graph.problems)


def lower_network(network: spec.NetworkSpec, batch: int = 1) -> LoweredNetwork:
    """Build the graph of a network and lower every layer whose shapes are known."""
    return lower_graph(build_graph(network), batch)


def count_macs(graph: LayerGraph, batch: int = 1) -> int:
    """MACs of a graph as its loop nests count them: the sum of `Problem.macs`."""
    return lower_graph(graph, batch).macs
