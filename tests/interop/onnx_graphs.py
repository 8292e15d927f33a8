"""ONNX graphs built with onnx.helper for the import tests (no downloads): a residual CNN, a
depthwise (inverted residual) block and a BERT-style attention block with batched MatMul.
Weights are zeros: only their shapes matter to dslc."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.zeros(shape, dtype=dtype), name)


def _ints(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def model(nodes: list[Any], inputs: list[tuple[str, list[int | str]]],
          initializers: list[TensorProto], output: tuple[str, list[int | str]],
          name: str = "g") -> bytes:
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(output[0], TensorProto.FLOAT, output[1])],
        initializer=initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="tests")
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def residual_cnn(batch: int | str = 1) -> bytes:
    """conv1 3->16 k3 p1 (bias), relu, conv2 16->16 k3 p1, add the relu, relu, maxpool 2,
    conv3 16->32 k3 s2 p1, global average pool, flatten, Gemm 32->10 (transB, bias)."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="/conv1/Conv",
          kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="/relu1/Relu"),
        n("Conv", ["r1", "conv2.weight"], ["c2"], name="/conv2/Conv", pads=[1, 1, 1, 1]),
        n("Add", ["c2", "r1"], ["s"], name="/add/Add"),
        n("Relu", ["s"], ["r2"], name="/relu2/Relu"),
        n("MaxPool", ["r2"], ["p"], name="/pool/MaxPool", kernel_shape=[2, 2],
          strides=[2, 2]),
        n("Conv", ["p", "conv3.weight"], ["c3"], name="/conv3/Conv", strides=[2, 2],
          pads=[1, 1, 1, 1]),
        n("GlobalAveragePool", ["c3"], ["g"], name="/gap/GlobalAveragePool"),
        n("Flatten", ["g"], ["f"], name="/flatten/Flatten", axis=1),
        n("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="/fc/Gemm", transB=1),
    ]
    inits = [_init("conv1.weight", (16, 3, 3, 3)), _init("conv1.bias", (16,)),
             _init("conv2.weight", (16, 16, 3, 3)), _init("conv3.weight", (32, 16, 3, 3)),
             _init("fc.weight", (10, 32)), _init("fc.bias", (10,))]
    return model(nodes, [("x", [batch, 3, 32, 32])], inits, ("y", [batch, 10]),
                 "residual_cnn")


def depthwise_block() -> bytes:
    """MobileNetV2's inverted residual with stride 2 and TF-style asymmetric padding:
    expand 1x1 32->192, relu6 (Clip 0..6), depthwise 3x3 s2 pads [0, 0, 1, 1], relu6,
    project 1x1 192->64; then a depthwise 3x3 with channel multiplier 2 (64->128)."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "expand.weight"], ["e"], name="expand"),
        n("Clip", ["e", "zero", "six"], ["e6"], name="expand_relu6"),
        n("Conv", ["e6", "dw.weight"], ["d"], name="dw", group=192, strides=[2, 2],
          pads=[0, 0, 1, 1], kernel_shape=[3, 3]),
        n("Clip", ["d", "zero", "six"], ["d6"], name="dw_relu6"),
        n("Conv", ["d6", "project.weight"], ["p"], name="project"),
        n("Conv", ["p", "dw2.weight"], ["y"], name="dw2", group=64, pads=[1, 1, 1, 1]),
    ]
    inits = [_init("expand.weight", (192, 32, 1, 1)), _init("dw.weight", (192, 1, 3, 3)),
             _init("project.weight", (64, 192, 1, 1)), _init("dw2.weight", (128, 1, 3, 3)),
             numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
             numpy_helper.from_array(np.array(6.0, dtype=np.float32), "six")]
    return model(nodes, [("x", [1, 32, 56, 56])], inits, ("y", [1, 128, 28, 28]),
                 "depthwise_block")


def attention_block(seq: int = 128, hidden: int = 768, heads: int = 12) -> bytes:
    """One self-attention block as PyTorch exports it: Q, K, V projections (MatMul + bias
    Add), heads split by Reshape and Transpose, scores by batched MatMul with K transposed,
    scaled by a constant Div, softmax, context by batched MatMul, heads merged, the output
    projection, the residual Add and LayerNormalization."""
    n = helper.make_node
    d = hidden // heads
    nodes: list[Any] = []
    inits: list[TensorProto] = [_ints("split", [1, seq, heads, d]),
                                _ints("merge", [1, seq, hidden]),
                                numpy_helper.from_array(np.array(8.0, dtype=np.float32),
                                                        "scale"),
                                _init("ln.weight", (hidden,)), _init("ln.bias", (hidden,))]
    for p in ("q", "k", "v", "o"):
        inits += [_init(f"{p}.weight", (hidden, hidden)), _init(f"{p}.bias", (hidden,))]
    for p in ("q", "k", "v"):
        nodes += [
            n("MatMul", ["x", f"{p}.weight"], [f"{p}_mm"], name=f"/{p}/MatMul"),
            n("Add", [f"{p}_mm", f"{p}.bias"], [f"{p}_b"], name=f"/{p}/Add"),
            n("Reshape", [f"{p}_b", "split"], [f"{p}_s"], name=f"/{p}_heads/Reshape"),
        ]
    nodes += [
        n("Transpose", ["q_s"], ["qh"], name="/q_heads/Transpose", perm=[0, 2, 1, 3]),
        n("Transpose", ["k_s"], ["kt"], name="/k_heads/Transpose", perm=[0, 2, 3, 1]),
        n("Transpose", ["v_s"], ["vh"], name="/v_heads/Transpose", perm=[0, 2, 1, 3]),
        n("MatMul", ["qh", "kt"], ["scores"], name="/scores/MatMul"),
        n("Div", ["scores", "scale"], ["scaled"], name="/scores/Div"),
        n("Softmax", ["scaled"], ["probs"], name="/probs/Softmax", axis=-1),
        n("MatMul", ["probs", "vh"], ["context"], name="/context/MatMul"),
        n("Transpose", ["context"], ["ct"], name="/merge/Transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["ct", "merge"], ["merged"], name="/merge/Reshape"),
        n("MatMul", ["merged", "o.weight"], ["o_mm"], name="/o/MatMul"),
        n("Add", ["o_mm", "o.bias"], ["o_b"], name="/o/Add"),
        n("Add", ["o_b", "x"], ["res"], name="/residual/Add"),
        n("LayerNormalization", ["res", "ln.weight", "ln.bias"], ["y"], name="/ln/LayerNorm",
          axis=-1),
    ]
    return model(nodes, [("x", [1, seq, hidden])], inits, ("y", [1, seq, hidden]),
                 "attention")


def with_unknown() -> bytes:
    """A conv followed by two Erf nodes and a LeakyRelu, which dslc cannot express."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w"], ["c"], name="conv"),
        n("Erf", ["c"], ["e1"], name="erf_a"),
        n("Erf", ["e1"], ["e2"], name="erf_b"),
        n("LeakyRelu", ["e2"], ["l"], name="leaky", alpha=0.1),
        n("Conv", ["l", "w2"], ["y"], name="conv2"),
    ]
    inits = [_init("w", (8, 3, 1, 1)), _init("w2", (4, 8, 1, 1))]
    return model(nodes, [("x", [1, 3, 8, 8])], inits, ("y", [1, 4, 8, 8]),
                 "unknown_ops")
