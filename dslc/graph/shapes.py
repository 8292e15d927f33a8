"""Shape inference of one layer: the registry entry's shape rule behind the checks all share.

Owns `infer_shape(layer, input_shapes)`: a layer's output shape (batch excluded) from the
shapes of its inputs, or a `ShapeProblem` saying why there is none. Before dispatching to the
layer's entry in dslc.ops.registry it checks what is common to every operator: that the
caller gave one shape per input (a caller bug, raised), the entry's number of inputs, and that
no input has an empty axis. The per-operator rules, and `Shape` and `ShapeProblem` themselves,
live in dslc.ops.

A problem names the layer, the attribute at fault as the user writes it in the source
(`kernel`, `out`, `groups`, `axis`, `perm`, ...) or the input's position as a string ("0",
"1"), a message and a hint, so that elaboration and lint can point at the offending argument.
Pure: no graph, no diagnostics, no spans, no lowering, no MAC counts (dslc.graph.layer_graph),
no batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslc.ops.registry import for_layer
from dslc.ops.shape import Shape, ShapeProblem, show
from dslc.spec import network as spec

__all__ = ["Shape", "ShapeProblem", "infer_shape"]


def _arity(layer: spec.Layer, count: int) -> ShapeProblem | None:
    entry = for_layer(layer)
    fewest, most = entry.min_inputs, entry.max_inputs
    if count < fewest:
        need = f"{fewest}" if most == fewest else f"at least {fewest}"
        return ShapeProblem(layer.name, "inputs",
                            f"`{layer.op}` takes {need} input(s), got {count}")
    if most is not None and count > most:
        # Point at the first surplus argument: its span is what the user must delete.
        return ShapeProblem(layer.name, str(most),
                            f"`{layer.op}` takes {most} input(s), got {count}",
                            "remove the extra inputs")
    return None


def infer_shape(layer: spec.Layer, input_shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    """The output shape of `layer` given its inputs' shapes (in `layer.inputs` order)."""
    shapes = [tuple(shape) for shape in input_shapes]
    if len(shapes) != len(layer.inputs):
        # A caller bug, not a user mistake: the shapes must follow `layer.inputs`.
        raise ValueError(f"layer `{layer.name}` has {len(layer.inputs)} inputs but "
                         f"{len(shapes)} shapes were given")
    bad = _arity(layer, len(shapes))
    if bad is not None:
        return bad
    for index, shape in enumerate(shapes):
        if any(size < 1 for size in shape):
            return ShapeProblem(layer.name, str(index),
                                f"input {show(shape)} has an empty axis")
    result: Shape | ShapeProblem = for_layer(layer).shape(layer, shapes)
    return result
