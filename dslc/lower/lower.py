"""Lowering: each MAC-bearing layer becomes a `Problem` (a loop nest); the rest moves data.

Owns `lower_layer`, `lower_graph`, `lower_network` and `count_macs`. In: a layer with its
input shapes, or a whole `NetworkSpec`/`LayerGraph`, and the batch. Out: a `Problem` per layer
whose registry entry (dslc.ops) has a lowering (conv, dwconv, dense, matmul, einsum), a
`DataMovement` record for every other layer, and the distinct problems by `Problem.key` with
the layers that share each. It does not infer shapes (dslc.graph) and does not search
mappings or cost anything.

Each operator's loop-nest convention (Timeloop's dim names: N batch, K output channels, C
input channels, P/Q output rows/columns, R/S filter rows/columns, G groups) is documented and
built in its module in dslc.ops, which returns a neutral `LoopNest`; this module turns that
into the `Problem` IR (dims by index, repeated dims merged, zero coefficients dropped) and
names the problem after its layer. It has no per-operator code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from dslc.graph.layer_graph import LayerGraph, build_graph
from dslc.graph.shapes import Shape, ShapeProblem, infer_shape
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.ops.loopnest import LoopNest
from dslc.ops.registry import for_layer
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
    """Elements of the inputs, summed over them (all of each input, even where a pooling
    window skips some: a 2x2 stride-2 pool of a 7x7 map reads 36 of its 49)."""
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


def _build(name: str, op: str, nest: LoopNest) -> Problem:
    """The `Problem` IR of a loop nest: dims by index, one sorted term per dim per axis."""
    index = {dim: i for i, (dim, _) in enumerate(nest.dims)}
    built = []
    for tensor in nest.tensors:
        projections = []
        for axis in tensor.axes:
            # Merge repeated dims (an einsum may write `p + p`) and drop zero coefficients:
            # Projection wants one sorted term per dim.
            merged: dict[int, int] = {}
            for dim, coefficient in axis:
                merged[index[dim]] = merged.get(index[dim], 0) + coefficient
            projections.append(Projection(tuple(sorted(
                (d, c) for d, c in merged.items() if c != 0))))
        built.append(Tensor(tensor.name, tensor.role, tuple(projections)))
    return Problem(name, tuple(d for d, _ in nest.dims), tuple(b for _, b in nest.dims),
                   tuple(built), op)


_BUILT: dict[tuple[object, ...], Problem] = {}
"""Problems built, by what they are built from (`_nest_key`): the layers of a network
space's designs are mostly the same layers, and building one (its loop nest, the IR, the
canonical key) costs about 100 us; 20,736 designs of 21 lowered layers each took 45 s."""
MAX_BUILT = 1 << 16
"""Entries `_BUILT` keeps (it starts over when full)."""
_NOT_ATTRIBUTES = frozenset({"name", "inputs"})


def _nest_key(layer: spec.Layer, inputs: tuple[Shape, ...], output: Shape, batch: int
              ) -> tuple[object, ...] | None:
    """What a layer's loop nest depends on: its kind and attributes (not its name nor its
    inputs' names), the shapes and the batch; None if an attribute is not hashable."""
    attributes = tuple((name, value) for name, value in layer.__dict__.items()
                       if name not in _NOT_ATTRIBUTES)
    key = (type(layer), attributes, inputs, output, batch)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _lower(layer: spec.Layer, inputs: tuple[Shape, ...], output: Shape, batch: int
           ) -> Problem | None:
    rule = for_layer(layer).lower
    if rule is None:
        return None
    key = _nest_key(layer, inputs, output, batch)
    built = _BUILT.get(key) if key is not None else None
    if built is None:
        built = _build(layer.name, layer.op, rule(layer, inputs, output, batch))
        if key is not None:
            if len(_BUILT) >= MAX_BUILT:
                _BUILT.clear()
            _BUILT[key] = built
    # The same loop nest under this layer's name (`replace` keeps the canonical key).
    return built if built.name == layer.name else replace(built, name=layer.name)


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
