"""ONNX pools with `ceil_mode = 1` import as `ceil = true` pools of the same output size
(they were E803: no symmetric padding gives a rounded-up size). Sizes counted by hand."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

import onnx_graphs as graphs
from onnx import helper

from dslc import api
from dslc.diagnostics.diagnostic import DiagnosticError
from dslc.graph.layer_graph import build_graph
from dslc.spec.network import PoolLayer


def _ceil_pools() -> bytes:
    """x [1, 8, 14, 14] -> MaxPool k3 s2 ceil -> [1, 8, 7, 7] (ceil(11 / 2) + 1 = 7; floor
    gives 6) -> AveragePool k3 s2 p1 ceil -> [1, 8, 4, 4] (ceil(6 / 2) + 1 = 4, the last
    window starting at padded row 6 = input row 5, inside the input) -> Flatten -> Gemm."""
    n = helper.make_node
    nodes = [
        n("MaxPool", ["x"], ["m"], name="/pool1/MaxPool", kernel_shape=[3, 3],
          strides=[2, 2], ceil_mode=1),
        n("AveragePool", ["m"], ["a"], name="/pool2/AveragePool", kernel_shape=[3, 3],
          strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
        n("Flatten", ["a"], ["f"], name="/flatten/Flatten", axis=1),
        n("Gemm", ["f", "fc.weight"], ["y"], name="/fc/Gemm", transB=1),
    ]
    return graphs.model(nodes, [("x", [1, 8, 14, 14])], [graphs._init("fc.weight", (10, 128))],
                        ("y", [1, 10]), "ceil_pools")


def test_ceil_mode_pools_import_with_their_sizes() -> None:
    model = api.import_onnx(_ceil_pools(), name="pools")
    layers = {layer.name: layer for layer in model.network.layers}
    pool1, pool2 = layers["pool1"], layers["pool2"]
    assert isinstance(pool1, PoolLayer) and isinstance(pool2, PoolLayer)
    assert (pool1.op, pool1.kernel, pool1.stride, pool1.pad, pool1.ceil) == (
        "maxpool", (3, 3), (2, 2), (0, 0), True)
    assert (pool2.op, pool2.kernel, pool2.stride, pool2.pad, pool2.ceil) == (
        "avgpool", (3, 3), (2, 2), (1, 1), True)
    shapes = build_graph(model.network).shapes
    assert shapes["pool1"] == (8, 7, 7) and shapes["pool2"] == (8, 4, 4)
    assert model.macs == 8 * 4 * 4 * 10 == 1_280
    assert "ceil = true" in model.text


def test_a_last_window_in_the_trailing_padding_is_refused_by_name() -> None:
    # 5 rows, kernel 2, stride 2, pad 1, ceil_mode: ONNX's rule gives ceil(5 / 2) + 1 = 4
    # windows, the 4th starting at padded row 6, in the trailing padding; PyTorch (and
    # dslc) drop it and give 3. No symmetric pad gives 4, so the node is E803, saying why.
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], name="/pool/MaxPool",
                              kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1)]
    data = graphs.model(nodes, [("x", [1, 2, 5, 5])], [], ("y", [1, 2, 4, 4]), "corner")
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(data, name="corner")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E803"
    assert "ceil_mode on axis 0 gives an output of 4 by ONNX's rule" in diagnostic.message
    assert "an output of 3" in diagnostic.message
