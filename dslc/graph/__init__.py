"""The layer graph of one concrete network and shape inference along it.

`shapes` infers each operator's output shape from its input shapes (or says why it cannot, as
a `ShapeProblem` naming the layer and the attribute at fault); `layer_graph` builds the
networkx graph of a `NetworkSpec` with every tensor's shape and each layer's workload (MACs,
elements moved, weights). Neither lowers layers to loop nests (dslc.lower) nor produces
`Diagnostic`s: sema maps shape problems to source spans.
"""
