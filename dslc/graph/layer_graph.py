"""The layer graph: a network's tensors and layers as a networkx DiGraph with shapes.

`build_graph(network)` infers every tensor's shape along the edges (dslc.graph.shapes) and
returns a `LayerGraph` with the problems it met (a layer whose inputs failed is skipped, not
reported again). Nodes are input and layer names with attributes `kind` ("input"/"layer"),
`op` and `shape`; an edge u→v carries the tensor's `shape`. It does not lower layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from dslc.graph.shapes import Shape, ShapeProblem, infer_shape
from dslc.spec.network import Layer, NetworkSpec


@dataclass(frozen=True, slots=True)
class LayerGraph:
    """A network with inferred shapes; `graph` is not to be mutated."""

    network: NetworkSpec
    graph: Any
    shapes: dict[str, Shape]
    problems: tuple[ShapeProblem, ...]

    def layer(self, name: str) -> Layer:
        layer: Layer = self.graph.nodes[name]["layer"]
        return layer

    def input_shapes(self, name: str) -> tuple[Shape, ...]:
        return tuple(self.shapes[i] for i in self.layer(name).inputs)

    def topological_layers(self) -> tuple[Layer, ...]:
        """Layers in the network's declared (topological) order."""
        return tuple(layer for layer in self.network.layers if layer.name in self.shapes)

    def outputs(self) -> tuple[str, ...]:
        """Tensors that no layer consumes."""
        return tuple(sorted(n for n in self.graph.nodes if self.graph.out_degree(n) == 0))


def build_graph(network: NetworkSpec) -> LayerGraph:
    graph = nx.DiGraph()
    shapes: dict[str, Shape] = {}
    problems: list[ShapeProblem] = []
    for spec_input in network.inputs:
        graph.add_node(spec_input.name, kind="input", op="input", shape=spec_input.shape)
        shapes[spec_input.name] = spec_input.shape
    for layer in network.layers:
        missing = [name for name in layer.inputs if name not in graph.nodes]
        if missing:
            problems.append(ShapeProblem(layer.name, "0", f"unknown input `{missing[0]}`"))
            continue
        if any(name not in shapes for name in layer.inputs):
            continue  # an input failed already; do not report again
        result = infer_shape(layer, [shapes[name] for name in layer.inputs])
        graph.add_node(layer.name, kind="layer", op=layer.op, layer=layer)
        for name in layer.inputs:
            graph.add_edge(name, layer.name, shape=shapes[name])
        if isinstance(result, ShapeProblem):
            problems.append(result)
            continue
        shapes[layer.name] = result
        graph.nodes[layer.name]["shape"] = result
    return LayerGraph(network, graph, shapes, tuple(problems))
