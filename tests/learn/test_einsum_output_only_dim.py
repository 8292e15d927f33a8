"""An einsum whose output has a dim no operand has, run as a PyTorch module (`learn` extra).

`O[c] += W[k] * I[k]` repeats the same sum along C. The module took the torch.einsum path
for it (every index a single dim) and torch.einsum refuses an output letter that no operand
has, so training such a network raised a RuntimeError (an internal error). Found by
tests/lower/test_lowering_vs_torch.py's einsum sweep.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dslc import api  # noqa: E402
from dslc.learn.modules import NetworkModule  # noqa: E402


def test_output_dim_without_operand() -> None:
    text = """network n {
    input x: [2]
    layer y = einsum(x) { dims K = 2, C = 3 output O[c] weight W[k] input I[k] }
}
"""
    module = NetworkModule(api.network(api.compile(text=text), "n"))
    (weight,) = module.layer_parameters("y").values()
    with torch.no_grad():
        weight.copy_(torch.tensor([1.0, 2.0]))
    out = module(torch.tensor([[3.0, 4.0]]))
    # Each of the 3 outputs is 1*3 + 2*4 = 11; the loop nest is 2 x 3 = 6 MACs.
    assert out.tolist() == [[11.0, 11.0, 11.0]]
