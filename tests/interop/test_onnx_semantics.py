"""`dslc import` against what the model computes: hand-built ONNX graphs whose layers,
shapes and MACs are derived by hand in each test, for the operator uses an import could
get quietly wrong (padding rules, operands computed from activations, skipped nodes, the
batch of several inputs, shared weights, operators of other domains)."""

from __future__ import annotations

import time

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import onnx_graphs as graphs  # noqa: E402
from onnx import helper  # noqa: E402

from dslc import api  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.spec.network import ConvLayer, PoolLayer  # noqa: E402

node = helper.make_node


def _weight(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _error(data: bytes, code: str, **kwargs: object) -> str:
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(data, source="m.onnx", **kwargs)  # type: ignore[arg-type]
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code, diagnostic.message
    return diagnostic.message


def test_auto_pad_is_computed_not_searched() -> None:
    # auto_pad SAME_UPPER with a dilation of 2^27: the pad was searched over every value
    # below the dilated kernel's span (a list of 2^28 integers: MemoryError, or minutes and
    # gigabytes); it is the least pad that reaches the output size, (7 + 2^28 + 1 - 8) / 2
    conv = node("Conv", ["x", "w"], ["y"], name="wide", auto_pad="SAME_UPPER",
                dilations=[2**27, 1])
    data = graphs.model([conv], [("x", [1, 4, 8, 8])], [_weight("w", (4, 4, 3, 3))],
                        ("y", [1, 4, 8, 8]))
    start = time.perf_counter()
    model = api.import_onnx(data)
    assert time.perf_counter() - start < 5
    [layer] = model.network.layers
    assert isinstance(layer, ConvLayer)
    assert (layer.pad, layer.dilation) == ((2**27, 1), (2**27, 1))
    assert model.macs == 4 * 8 * 8 * 4 * 9


def test_auto_pad_same_and_valid() -> None:
    # SAME_UPPER, k3 s2 on 8: output 4, total pad max(0, 3*2 + 3 - 8) = 1 -> symmetric 1
    # gives (8 + 2 - 3) // 2 + 1 = 4; SAME_LOWER k2 s1 needs 1 pad on one side only: E803;
    # VALID ignores `pads`
    same = node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")
    model = api.import_onnx(graphs.model([same], [("x", [1, 4, 8, 8])],
                                         [_weight("w", (8, 4, 3, 3))], ("y", [1, 8, 4, 4])))
    [layer] = model.network.layers
    assert isinstance(layer, ConvLayer) and layer.pad == (1, 1)
    assert model.macs == 8 * 4 * 4 * 4 * 9
    even = node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER")
    message = _error(graphs.model([even], [("x", [1, 4, 8, 8])], [_weight("w", (8, 4, 2, 2))],
                                  ("y", [1, 8, 8, 8])), "E803")
    assert "auto_pad on axis 0 gives an output of 8" in message
    valid = node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                 auto_pad="VALID")
    model = api.import_onnx(graphs.model([valid], [("x", [1, 4, 9, 9])], [],
                                         ("y", [1, 4, 4, 4])))
    [pool] = model.network.layers
    assert isinstance(pool, PoolLayer) and pool.pad == (0, 0)


def test_negative_pads_are_e803() -> None:
    # a negative pad crops; it was written as `pad = -1`, and the network then failed its
    # own check as E801 'a bug in dslc's importer'
    crop = node("Conv", ["x", "w"], ["y"], name="crop", pads=[-1, -1, -1, -1])
    data = graphs.model([crop], [("x", [1, 4, 8, 8])], [_weight("w", (4, 4, 3, 3))],
                        ("y", [1, 4, 4, 4]))
    assert "crop the input" in _error(data, "E803")


def test_the_batch_is_the_first_inputs() -> None:
    # x [1, 5, 8] times a second input w [8, 16] without a batch axis: the batch was the
    # last input's axis 0 (8), and the refusal blamed x; w is the operand without a batch
    matmul = node("MatMul", ["x", "w"], ["y"], name="mm")
    data = graphs.model([matmul], [("x", [1, 5, 8]), ("w", [8, 16])], [], ("y", [1, 5, 16]))
    message = _error(data, "E803")
    assert "`w` has shape [8, 16], without the batch (1)" in message


def test_products_of_activations_dslc_cannot_write_are_e803() -> None:
    # Gemm's operands are [batch, K]: after the batch there is no [M, K] (was E801, 'a bug
    # in dslc's importer', from a network that did not check)
    gemm = node("Gemm", ["a", "b"], ["y"], name="g", transB=1)
    data = graphs.model([gemm], [("a", [4, 8]), ("b", [4, 8])], [], ("y", [4, 4]))
    assert "the product of activations [8] and [8]" in _error(data, "E803")
    # MatMul broadcasting b's head axis of 1 against a's 4 (dslc's matmul needs equal
    # leading axes; was E801 the same way)
    matmul = node("MatMul", ["a", "b"], ["y"], name="mm")
    data = graphs.model([matmul], [("a", [1, 4, 5, 8]), ("b", [1, 1, 8, 5])], [],
                        ("y", [1, 4, 5, 5]))
    assert "MatMul broadcasts [4, 5, 8] against [1, 8, 5]" in _error(data, "E803")
    # equal leading axes import: 4 heads x 5 x 5 x 8 MACs
    data = graphs.model([matmul], [("a", [1, 4, 5, 8]), ("b", [1, 4, 8, 5])], [],
                        ("y", [1, 4, 5, 5]))
    assert api.import_onnx(data).macs == 4 * 5 * 5 * 8


def test_gemm_adding_an_activation_keeps_the_residual() -> None:
    # Y = relu(x) W^T + x: Gemm's C is the block's input, a residual; it was counted as 8
    # biases and dropped, so the written `fc` did not depend on x
    nodes = [node("Relu", ["x"], ["r"], name="act"),
             node("Gemm", ["r", "fc.weight", "x"], ["y"], name="fc_gemm", transB=1)]
    data = graphs.model(nodes, [("x", [1, 8])], [_weight("fc.weight", (8, 8))], ("y", [1, 8]))
    model = api.import_onnx(data)
    assert [(layer.name, layer.op, layer.inputs) for layer in model.network.layers] == [
        ("act", "elementwise", ("x",)), ("fc", "dense", ("act",)), ("fc_add", "add", ("fc", "x"))]
    assert model.macs == 8 * 8
    assert any("Parameters: 64 = 64 weights" in line for line in model.header)


def test_parameters_computed_from_activations_are_e803() -> None:
    # a Conv bias read from a second input, a LayerNormalization scale computed from the
    # activation (adaptive normalisation): both were taken as constants, the edge dropped
    conv = node("Conv", ["x", "w", "b"], ["y"], name="biased")
    data = graphs.model([conv], [("x", [1, 3, 8, 8]), ("b", [4])],
                        [_weight("w", (4, 3, 3, 3))], ("y", [1, 4, 6, 6]))
    assert "input 2 (`b`) is computed from activations" in _error(data, "E803")
    nodes = [node("Relu", ["x"], ["s"], name="scale"),
             node("LayerNormalization", ["x", "s"], ["y"], name="ln", axis=-1)]
    data = graphs.model(nodes, [("x", [1, 5, 8])], [], ("y", [1, 5, 8]))
    assert "input 1 (`s`) is computed from activations" in _error(data, "E803")


def test_skipped_nodes_second_outputs_are_inputs() -> None:
    # Split (E802) into two [4, 6, 6] halves, a 3x3 conv (4 -> 4, pad 1) on each, added:
    # the second half was never given a tensor, so conv_b was taken for a constant
    # computation and the Add for a constant bias, and conv_b's MACs vanished
    nodes = [node("Split", ["x", "sizes"], ["a", "b"], name="halves", axis=1),
             node("Conv", ["a", "wa"], ["ca"], name="conv_a", pads=[1, 1, 1, 1]),
             node("Conv", ["b", "wb"], ["cb"], name="conv_b", pads=[1, 1, 1, 1]),
             node("Add", ["ca", "cb"], ["y"], name="sum")]
    sizes = onnx.numpy_helper.from_array(np.array([4, 4], dtype=np.int64), "sizes")
    data = graphs.model(nodes, [("x", [1, 8, 6, 6])],
                        [sizes, _weight("wa", (4, 4, 3, 3)), _weight("wb", (4, 4, 3, 3))],
                        ("y", [1, 4, 6, 6]))
    model = api.import_onnx(data, skip_unknown=True)
    assert [(layer.name, layer.inputs) for layer in model.network.layers] == [
        ("conv_a", ("a",)), ("conv_b", ("b",)), ("sum", ("conv_a", "conv_b"))]
    assert model.macs == 2 * 6 * 6 * 4 * 4 * 9
    assert ("Skipped (--skip-unknown), 1: Split `halves` (output 1 is the input `a`; "
            "output 2 is the input `b`)") in " ".join(model.header)


def test_nodes_after_a_shapeless_skipped_output_are_not_constants() -> None:
    # a custom operator ONNX cannot infer shapes for, then a conv: the conv read only the
    # skipped output, was counted among 'constant computations' and its MACs vanished
    # from a network that looked complete; it is now listed as left out
    nodes = [node("Conv", ["x", "w1"], ["c"], name="first"),
             node("Mystery", ["c"], ["m"], name="custom", domain="custom"),
             node("Conv", ["m", "w2"], ["y"], name="second")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 4, 4])],
        initializer=[_weight("w1", (4, 4, 3, 3)), _weight("w2", (8, 4, 3, 3))])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("custom", 1)])
    model = api.import_onnx(proto.SerializeToString(), skip_unknown=True)
    assert [layer.name for layer in model.network.layers] == ["first"]
    header = " ".join(model.header)
    assert "constant computations" not in header
    assert ("Left out with them, as they read only skipped outputs without a usable shape, "
            "1: Conv x1.") in header


def _with_domain(nodes: list[onnx.NodeProto], inputs: list[tuple[str, list[int]]],
                 weights: list[onnx.TensorProto], output: tuple[str, list[int]]) -> bytes:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s)
                     for n, s in inputs],
        [helper.make_tensor_value_info(output[0], onnx.TensorProto.FLOAT, output[1])],
        initializer=weights)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("custom", 1)])
    return proto.SerializeToString()


def test_operators_of_other_domains_are_unknown() -> None:
    # a `Conv` of a custom domain is the model's own operator (a function, a vendor's
    # kernel), not ONNX's: it was imported as a 3x3 convolution
    conv = node("Conv", ["x", "w"], ["y"], name="vendor", domain="custom")
    data = _with_domain([conv], [("x", [1, 4, 8, 8])], [_weight("w", (4, 4, 3, 3))],
                        ("y", [1, 4, 6, 6]))
    message = _error(data, "E802")
    assert "custom.Conv x1 (`vendor`)" in message


def test_used_training_outputs_are_e803() -> None:
    # Dropout's mask used by a later node: the mask had no tensor, so the Mul reading it
    # and the activation was taken for a constant scale
    nodes = [node("Dropout", ["x"], ["d", "mask"], name="drop"),
             node("Cast", ["mask"], ["m"], to=onnx.TensorProto.FLOAT),
             node("Mul", ["d", "m"], ["y"], name="masked")]
    data = graphs.model(nodes, [("x", [1, 8])], [], ("y", [1, 8]))
    assert "its output 2 (`mask`) is used" in _error(data, "E803")


def test_the_shape_of_an_activation_is_a_constant() -> None:
    # x.view(x.size(0), -1) as older exporters write it: Shape, Gather, Unsqueeze, Concat,
    # Reshape; dslc's shapes are static, so the Shape is a constant (it was E802)
    ints = onnx.numpy_helper.from_array
    nodes = [node("Conv", ["x", "w"], ["c"], name="conv"),
             node("Shape", ["c"], ["s"], name="shape"),
             node("Gather", ["s", "zero"], ["n"], axis=0),
             node("Unsqueeze", ["n", "axis0"], ["nu"]),
             node("Concat", ["nu", "rest"], ["target"], axis=0),
             node("Reshape", ["c", "target"], ["f"], name="flat"),
             node("Gemm", ["f", "fc.weight"], ["y"], name="fc", transB=1)]
    weights = [_weight("w", (4, 4, 3, 3)), _weight("fc.weight", (10, 144)),
               ints(np.array(0, dtype=np.int64), "zero"),
               ints(np.array([0], dtype=np.int64), "axis0"),
               ints(np.array([-1], dtype=np.int64), "rest")]
    model = api.import_onnx(graphs.model(nodes, [("x", [1, 4, 8, 8])], weights, ("y", [1, 10])))
    assert [(layer.name, layer.op) for layer in model.network.layers] == [
        ("conv_1", "conv"), ("flat", "reshape"), ("fc", "dense")]
    assert model.macs == 6 * 6 * 4 * 4 * 9 + 144 * 10
    assert any("1 Shape of an activation, 3 constant computations" in line
               for line in model.header)


def test_bounds_and_axes_out_of_their_ranges() -> None:
    # a Clip bound of two values was E900 (TypeError converting it to a float)
    ints = onnx.numpy_helper.from_array
    clip = node("Clip", ["x", "low", "high"], ["y"], name="clip")
    data = graphs.model([clip], [("x", [1, 8])],
                        [ints(np.zeros(2, dtype=np.float32), "low"),
                         ints(np.array(6, dtype=np.float32), "high")], ("y", [1, 8]))
    assert "the clip bound `low` is 2 values" in _error(data, "E803")
    # axes past the rank (which ONNX's lenient shape inference lets through) were taken
    # modulo the rank: ReduceMean over axes [6, 7] of a rank-4 tensor became a global
    # pool, Concat on axis 5 a channel concatenation
    graph = helper.make_graph(
        [node("ReduceMean", ["x"], ["y"], name="mean", axes=[6, 7])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 1, 1])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    assert "axes [6, 7] are outside the 4 axes" in _error(proto.SerializeToString(), "E803")
    graph = helper.make_graph(
        [node("Concat", ["x", "x"], ["y"], name="cat", axis=5)], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 8, 8])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert "axis 5 is outside the 4 axes" in _error(proto.SerializeToString(), "E803")


def _recorded(nodes: list[onnx.NodeProto], recorded: list[tuple[str, list[int]]],
              weights: list[onnx.TensorProto], output: tuple[str, list[int]]) -> bytes:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info(output[0], onnx.TensorProto.FLOAT, output[1])],
        initializer=weights,
        value_info=[helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s)
                    for n, s in recorded])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("custom", 1)])
    return proto.SerializeToString()


def test_stale_recorded_shapes_are_e801() -> None:
    # a model exported at 10x10 whose input was then set to 8x8, its value_info left
    # stale: lenient shape inference kept the recorded [1, 8, 10, 10], and the auto_pad
    # convolution was written with pad 2 to reach it: 8*10*10*4*9 = 28,800 MACs where the
    # model computes 8*8*8*4*9 = 18,432
    nodes = [node("Conv", ["x", "w"], ["c"], name="conv", auto_pad="SAME_UPPER"),
             node("Relu", ["c"], ["y"], name="act")]
    data = _recorded(nodes, [("c", [1, 8, 10, 10])], [_weight("w", (8, 4, 3, 3))],
                     ("y", [1, 8, 8, 8]))
    message = _error(data, "E801")
    assert "`c` is recorded as [1, 8, 10, 10] but its inputs give [1, 8, 8, 8]" in message
    fresh = _recorded(nodes, [("c", [1, 8, 8, 8])], [_weight("w", (8, 4, 3, 3))],
                      ("y", [1, 8, 8, 8]))
    assert api.import_onnx(fresh).macs == 8 * 8 * 8 * 4 * 9


def test_recorded_shapes_serve_after_an_unknown_operator() -> None:
    # where inference gives no shape (after a custom operator) the recorded one is used:
    # the skipped output becomes an input of that shape and the conv after it is kept
    nodes = [node("Mystery", ["x"], ["m"], name="custom", domain="custom"),
             node("Conv", ["m", "w"], ["y"], name="conv")]
    data = _recorded(nodes, [("m", [1, 4, 8, 8])], [_weight("w", (8, 4, 3, 3))],
                     ("y", [1, 8, 6, 6]))
    model = api.import_onnx(data, skip_unknown=True)
    assert [(layer.name, layer.inputs) for layer in model.network.layers] == [
        ("conv_1", ("x",))]
    assert model.macs == 8 * 6 * 6 * 4 * 9
