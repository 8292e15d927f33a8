"""`mul`: the elementwise product of two tensors (gating, squeeze-excite).

Shape: the operands' common shape (dslc.ops.broadcast). No MACs, no weights, no loop nest:
the cost model counts only the data it moves.
"""

from __future__ import annotations

from dslc.ops.attributes import AttributeReader
from dslc.ops.broadcast import broadcast
from dslc.ops.operator import Example, Operator, Spelling, no_work
from dslc.spec.network import MulLayer


def _bind(called: str, name: str, inputs: tuple[str, ...], attrs: AttributeReader
          ) -> MulLayer:
    return MulLayer(name=name, inputs=inputs)


OPERATOR = Operator(
    spellings=(Spelling("mul", "elementwise product"),),
    layer=MulLayer, min_inputs=2, max_inputs=2, attributes=(),
    bind=_bind, shape=broadcast, workload=no_work, lower=None,
    example=Example("mul(x0, x1)", ((4, 8, 8), (4, 1, 1))),
)
