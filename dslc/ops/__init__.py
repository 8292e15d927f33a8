"""The operator registry: everything one network operator is, in one entry per operator.

An entry (`dslc.ops.operator.Operator`) holds an operator's source names, its signature
(tensor inputs, keyword attributes with kinds, defaults and docs), the spec class it builds,
how a call's attributes bind into that spec layer, its shape rule, its MAC and weight counts,
its lowering to a loop nest, the line the language reference shows for it, and a small
example. Each operator (or family sharing one spec class: `maxpool`/`avgpool`,
`dense`/`linear`, the elementwise functions) lives in its own module here and defines one
module-level `OPERATOR`; `registry` collects them, so adding an operator is adding a module
(plus its spec class in the `Layer` union of dslc.spec.network, which a test checks).

Modules: `operator` (the entry type), `attributes` (attribute declarations and the reader
protocol elaboration implements), `shape` (`Shape`, `ShapeProblem`, shared shape checks),
`loopnest` (the neutral loop-nest description lowering returns), `window` (the sliding
window shared by convolutions and pooling), `registry` (lookup by name and by spec class),
and one module per operator.

Layering: this package imports only dslc.spec, dslc.affine (counting affine index points,
shared with the cost model) and the standard library. Elaboration
(dslc.sema.network) reads attributes through `AttributeReader` and turns errors into
diagnostics; dslc.graph runs the shape rules and counts; dslc.lower turns a `LoopNest` into
its `Problem` IR. Nothing here produces diagnostics, knows spans, or builds graphs.
"""
