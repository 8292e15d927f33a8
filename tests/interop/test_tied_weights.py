"""Tied weights in `dslc import`: a weight several layers read (one ONNX initializer feeding
two Conv, Gemm or MatMul nodes, or a PyTorch module whose layers share a parameter) is one
set of parameters, as PyTorch counts it; dslc's layers each hold their own. Figures counted
by hand from the graphs' shapes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from dslc import api  # noqa: E402
from dslc.graph.layer_graph import build_graph  # noqa: E402


def _shared_graph() -> bytes:
    """x [1, 4, 6, 6] -> conv k.weight (4 -> 4, 3x3, pad 1) -> conv k.weight again -> global
    average pool -> flatten [1, 4] -> Gemm w.weight (transB, bias w.bias) -> MatMul w.weight
    -> MatMul Transpose(w.weight): k.weight feeds two Conv nodes, w.weight a Gemm, a
    MatMul and, transposed, another MatMul."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "k.weight"], ["c1"], name="/conv1/Conv", pads=[1, 1, 1, 1]),
        n("Conv", ["c1", "k.weight"], ["c2"], name="/conv2/Conv", pads=[1, 1, 1, 1]),
        n("GlobalAveragePool", ["c2"], ["g"], name="/gap/GlobalAveragePool"),
        n("Flatten", ["g"], ["f"], name="/flatten/Flatten", axis=1),
        n("Gemm", ["f", "w.weight", "w.bias"], ["h"], name="/fc1/Gemm", transB=1),
        n("MatMul", ["h", "w.weight"], ["m"], name="/fc2/MatMul"),
        n("Transpose", ["w.weight"], ["wt"], name="/fc3/Transpose", perm=[1, 0]),
        n("MatMul", ["m", "wt"], ["y"], name="/fc3/MatMul"),
    ]
    inits = [numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)
             for name, shape in (("k.weight", (4, 4, 3, 3)), ("w.weight", (4, 4)),
                                 ("w.bias", (4,)))]
    graph = helper.make_graph(
        nodes, "tied", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def test_an_initializer_feeding_several_nodes_counts_once() -> None:
    model = api.import_onnx(_shared_graph(), name="tied")
    # k.weight 4*4*3*3 = 144 once, w.weight 4*4 = 16 once (also through its Transpose).
    assert model.weights == 144 + 16 == 160
    assert any(line.startswith("Parameters: 164 = 160 weights of conv and dense layers + "
                               "4 biases") for line in model.header), model.header
    # dslc's layers each hold their own: two convs 2 * 144, three dense layers 3 * 16.
    per_layer = 2 * 144 + 3 * 16
    assert build_graph(model.network).total_weights() == per_layer == 336
    shared = next(line for line in model.header if line.startswith("Shared weights"))
    assert shared.startswith("Shared weights, 2: k.weight read by ")
    assert "w.weight read by " in shared and f"is {per_layer:,}." in shared
    # The written file says the same.
    assert "# Parameters: 164 = 160 weights" in model.text


def test_without_sharing_the_counts_agree() -> None:
    import onnx_graphs as graphs

    model = api.import_onnx(graphs.residual_cnn(), name="cnn")
    assert model.weights == build_graph(model.network).total_weights() == 7_664
    assert not any(line.startswith("Shared weights") for line in model.header)


TIED = textwrap.dedent("""
    import torch
    from torch import nn

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 16, bias=False)
            self.mid = nn.Linear(16, 16)
            self.back = nn.Linear(16, 16, bias=False)
            self.back.weight = self.mid.weight  # tied: one parameter

        def forward(self, x):
            return self.back(torch.relu(self.mid(torch.relu(self.embed(x)))))

    def build():
        return Tied()
""")


def test_a_torch_module_with_tied_weights(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    (tmp_path / "tied_module.py").write_text(TIED)
    monkeypatch.syspath_prepend(str(tmp_path))
    imported = api.import_torch("tied_module:build", (1, 8), name="tied")
    import tied_module

    module = tied_module.build()
    # embed 16*8 = 128, mid and back one 16*16 = 256, mid's bias 16: PyTorch's count.
    assert sum(p.numel() for p in module.parameters()) == 128 + 256 + 16 == 400
    assert isinstance(module.back.weight, torch.nn.Parameter)
    assert imported.weights == 128 + 256 == 384
    assert any(line.startswith("Parameters: 400 = 384 weights") for line in imported.header), \
        imported.header
    assert build_graph(imported.network).total_weights() == 128 + 2 * 256 == 640
