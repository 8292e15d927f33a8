"""The elementwise functions: relu, relu6, sigmoid, ... (one family, `ElementwiseLayer`).

One tensor in, the same shape out, no attributes; the layer records which function. No MACs,
no weights, no loop nest: the cost model counts only the data they move. Adding a function
is adding its name to `FUNCTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslc.ops.attributes import AttributeReader
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.ops.shape import Shape, ShapeProblem
from dslc.spec.network import ElementwiseLayer

FUNCTIONS = (
    "relu", "relu6", "sigmoid", "swish", "hswish", "hsigmoid", "gelu", "tanh", "softmax",
    "layernorm", "batchnorm", "identity",
)
"""The functions, in the order the reference lists them."""


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> ElementwiseLayer:
    return ElementwiseLayer(name=name, inputs=inputs, function=called)


def _shape(layer: ElementwiseLayer, shapes: Sequence[Shape]) -> Shape | ShapeProblem:
    return shapes[0]


OPERATOR = Operator(
    spellings=tuple(Spelling(function, f"elementwise {function}") for function in FUNCTIONS),
    layer=ElementwiseLayer, min_inputs=1, max_inputs=1, attributes=(),
    bind=_bind, shape=_shape, workload=no_work, lower=None,
    example=Example("relu(x0)", ((4, 8, 8),)), listing="functions",
)
