"""The layer graph: a network's tensors and layers as a networkx DiGraph with shapes.

Owns `build_graph(network) -> LayerGraph` and the per-layer workload figures (`LayerStats`).
In: a concrete `NetworkSpec`. Out: a `LayerGraph` holding the nodes and edges (and, built
from them on first use of `graph`, the networkx DiGraph: networkx is imported only then, so
that shape inference, lowering and `dslc lint` never load it), every tensor's shape
(batch excluded), and the `ShapeProblem`s met on the way. A layer whose shape cannot be
inferred is reported once; layers downstream of it are skipped (listed in `skipped`, not
reported again), so one mistake gives one problem.

Graph layout: nodes are the network's inputs, then its layers, in topological (declaration)
order, with attributes `kind` ("input" or "layer"), `op` ("input" for inputs), `shape` and,
for layers, `layer` (the spec). An edge u -> v carries the tensor's `shape` and `positions`,
the indices at which v consumes u (a tuple, since `add(x, x)` consumes x twice). Only layers
whose shapes are known are nodes, so every node and edge has a shape.

Workload figures come from each layer's registry entry (dslc.ops) and are independent of
loop-nest conventions: MACs are output elements times the reduction size, weights count
multiplier parameters (biases and normalisation parameters are not modelled); this module
scales them by the batch and adds the elements each layer reads and writes. It has no
per-operator code, does not lower layers to loop nests (dslc.lower) and does not map anything
to source spans (dslc.sema).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dslc.graph.shapes import Shape, ShapeProblem, infer_shape
from dslc.ops.registry import for_layer
from dslc.spec import network as spec


@dataclass(frozen=True, slots=True)
class LayerStats:
    """What one layer computes and moves, for a given batch (element counts, not bytes)."""

    name: str
    op: str
    macs: int
    """Multiply-accumulates; 0 for pooling, elementwise and data-layout layers."""
    input_elements: int
    """Activation elements read, summed over the inputs (a tensor used twice counts twice)."""
    output_elements: int
    """Activation elements written."""
    weight_elements: int
    """Parameter elements read (not scaled by the batch: one copy serves every sample)."""

    @property
    def moved_elements(self) -> int:
        """Every element the layer reads or writes once: inputs, weights and output."""
        return self.input_elements + self.output_elements + self.weight_elements


def layer_stats(layer: spec.Layer, input_shapes: tuple[Shape, ...], output_shape: Shape,
                batch: int = 1) -> LayerStats:
    """The workload of one layer whose shapes are known (see `infer_shape`)."""
    work = for_layer(layer).workload(layer, input_shapes, output_shape)
    return LayerStats(layer.name, layer.op, batch * work.macs,
                      batch * sum(math.prod(shape) for shape in input_shapes),
                      batch * math.prod(output_shape), work.weights)


@dataclass(frozen=True, slots=True)
class LayerGraph:
    """A network with inferred shapes. Do not mutate `graph`; it is shared, not copied."""

    network: spec.NetworkSpec
    nodes: Mapping[str, Mapping[str, Any]]
    """Node attributes by name, in topological (declaration) order (see the module
    docstring)."""
    edges: Mapping[tuple[str, str], Mapping[str, Any]]
    """Edge attributes by (producer, consumer)."""
    shapes: Mapping[str, Shape]
    """Shape of every known tensor (inputs and layers), batch excluded."""
    problems: tuple[ShapeProblem, ...]
    """Shape problems in declaration order; empty when the whole network is consistent."""
    skipped: tuple[str, ...] = ()
    """Layers left out because an input of theirs failed, in declaration order."""
    _digraph: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def graph(self) -> Any:
        """The networkx DiGraph of the nodes and edges, built (and networkx imported) on
        first use."""
        if not self._digraph:
            import networkx as nx

            digraph = nx.DiGraph()
            for name, attributes in self.nodes.items():
                digraph.add_node(name, **attributes)
            for (source, target), attributes in self.edges.items():
                digraph.add_edge(source, target, **attributes)
            self._digraph.append(digraph)
        return self._digraph[0]

    @property
    def ok(self) -> bool:
        """Whether every layer's shape was inferred."""
        return not self.problems and not self.skipped

    def layer(self, name: str) -> spec.Layer:
        """The spec of a layer in the graph (KeyError for inputs and unknown names)."""
        layer: spec.Layer | None = self.nodes[name].get("layer")
        if layer is None:
            raise KeyError(name)
        return layer

    def shape(self, name: str) -> Shape:
        """The shape of a tensor (input or layer output), batch excluded."""
        return self.shapes[name]

    def input_shapes(self, name: str) -> tuple[Shape, ...]:
        """The shapes a layer consumes, in the order of its `inputs`."""
        return tuple(self.shapes[source] for source in self.layer(name).inputs)

    def inputs(self) -> tuple[str, ...]:
        """The network's inputs with a valid shape, in declaration order."""
        return tuple(node for node, attributes in self.nodes.items()
                     if attributes["kind"] == "input")

    def topological_layers(self) -> tuple[spec.Layer, ...]:
        """The layers in the graph in the network's declared (topological) order."""
        return tuple(attributes["layer"] for attributes in self.nodes.values()
                     if attributes.get("layer") is not None)

    def outputs(self) -> tuple[str, ...]:
        """Tensors that no layer consumes, sorted by name."""
        consumed = {source for source, _ in self.edges}
        return tuple(sorted(node for node in self.nodes if node not in consumed))

    def stats(self, name: str, batch: int = 1) -> LayerStats:
        """The workload of one layer for `batch` samples."""
        return layer_stats(self.layer(name), self.input_shapes(name), self.shapes[name], batch)

    def all_stats(self, batch: int = 1) -> tuple[LayerStats, ...]:
        """The workload of every layer in the graph, in topological order."""
        return tuple(self.stats(layer.name, batch) for layer in self.topological_layers())

    def total_macs(self, batch: int = 1) -> int:
        """MACs of every layer in the graph for `batch` samples."""
        return sum(stats.macs for stats in self.all_stats(batch))

    def total_weights(self) -> int:
        """Parameter count of every layer in the graph (multipliers only, no biases)."""
        return sum(stats.weight_elements for stats in self.all_stats())


def _unknown_input(layer: spec.Layer, index: int, source: str, declared: set[str]
                   ) -> ShapeProblem:
    if source == layer.name:
        return ShapeProblem(layer.name, str(index), f"`{layer.name}` consumes itself",
                            "a layer can only use inputs and earlier layers")
    if source in declared:
        return ShapeProblem(layer.name, str(index),
                            f"`{source}` is used before the layer that defines it",
                            "declare layers after the layers they consume")
    return ShapeProblem(layer.name, str(index), f"unknown input `{source}`",
                        "name a network input or an earlier layer")


def build_graph(network: spec.NetworkSpec) -> LayerGraph:
    """Infer every tensor's shape along the network and build its graph."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    shapes: dict[str, Shape] = {}
    problems: list[ShapeProblem] = []
    skipped: list[str] = []
    defined: set[str] = set()
    declared = {layer.name for layer in network.layers}
    for spec_input in network.inputs:
        if spec_input.name in defined:
            problems.append(ShapeProblem(spec_input.name, "name",
                                         f"input `{spec_input.name}` is declared twice"))
            continue
        defined.add(spec_input.name)
        if any(size < 1 for size in spec_input.shape):
            problems.append(ShapeProblem(spec_input.name, "shape",
                                         f"input shape {list(spec_input.shape)} has an axis "
                                         "smaller than 1"))
            continue
        nodes[spec_input.name] = {"kind": "input", "op": "input", "shape": spec_input.shape}
        shapes[spec_input.name] = spec_input.shape
    for layer in network.layers:
        if layer.name in defined:
            problems.append(ShapeProblem(layer.name, "name",
                                         f"`{layer.name}` is defined twice",
                                         "give each layer a unique name"))
            continue
        unknown = [(index, source) for index, source in enumerate(layer.inputs)
                   if source not in defined]
        defined.add(layer.name)
        if unknown:
            problems.append(_unknown_input(layer, *unknown[0], declared))
            continue
        if any(source not in shapes for source in layer.inputs):
            skipped.append(layer.name)
            continue
        result = infer_shape(layer, [shapes[source] for source in layer.inputs])
        if isinstance(result, ShapeProblem):
            problems.append(result)
            continue
        shapes[layer.name] = result
        nodes[layer.name] = {"kind": "layer", "op": layer.op, "layer": layer, "shape": result}
        for source in dict.fromkeys(layer.inputs):
            positions = tuple(i for i, name in enumerate(layer.inputs) if name == source)
            edges[source, layer.name] = {"shape": shapes[source], "positions": positions}
    return LayerGraph(network, nodes, edges, shapes, tuple(problems), tuple(skipped))
