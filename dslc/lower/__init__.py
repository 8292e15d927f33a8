"""Lowering of layers to `Problem`s, the loop nests the mapper and cost model work on.

`problem` defines the IR (dims, bounds, tensors with affine projections, a canonical key);
`lower` turns each MAC-bearing layer of a network into one Problem from the `LoopNest` its
operator's registry entry builds (dslc.ops; Timeloop's conventions), records what the other
layers move, and groups layers by problem key so that repeated layers are evaluated once.
Shapes come from dslc.graph; mapping and costing come later.
"""
