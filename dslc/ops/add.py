"""`add`: the elementwise sum of two or more tensors (residual connections).

Shape: the operands' common shape (dslc.ops.broadcast). No MACs, no weights, no loop nest:
an addition only moves data as far as the cost model is concerned.
"""

from __future__ import annotations

from dslc.ops.attributes import AttributeReader
from dslc.ops.broadcast import broadcast
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.spec.network import AddLayer


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> AddLayer:
    return AddLayer(name=name, inputs=inputs)


OPERATOR = Operator(
    spellings=(Spelling("add", "elementwise sum (residual connection)"),),
    layer=AddLayer, min_inputs=2, max_inputs=None, attributes=(),
    bind=_bind, shape=broadcast, workload=no_work, lower=None,
    example=Example("add(x0, x1, x2)", ((4, 8, 8), (4, 8, 8), (4, 1, 1))),
)
