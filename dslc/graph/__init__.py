"""The layer graph of one concrete network and shape inference along it.

`shapes` infers a layer's output shape from its input shapes (or says why it cannot, as a
`ShapeProblem` naming the layer and the attribute at fault) by running the checks every
operator shares and then the layer's rule from the operator registry (dslc.ops);
`layer_graph` builds the networkx graph of a `NetworkSpec` with every tensor's shape and each
layer's workload (MACs, elements moved, weights). Neither holds per-operator code, lowers
layers to loop nests (dslc.lower) or produces `Diagnostic`s: sema maps shape problems to
source spans.
"""
