"""Hostile ONNX models (`dslc import`): tensors whose data lives in external files (never
read: their location is the model's word), graphs the ONNX standard does not allow (cycles,
nodes out of order, a value produced twice, missing inputs), impossible sizes and
attributes, names that would break the written spec, and model paths that are not files.
Each gets a diagnostic (E801, E803, E405), never an internal error, and the written spec
always compiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from dslc import api  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402

node = helper.make_node


def _init(name: str, shape: tuple[int, ...]) -> Any:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def _model(nodes: list[Any], inputs: list[tuple[str, list[int]]], inits: list[Any],
           outputs: list[tuple[str, list[int] | None]]) -> Any:
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _conv_relu(w_name: str = "w", node_name: str = "conv") -> Any:
    return _model([node("Conv", ["x", w_name], ["c"], kernel_shape=[1, 1], name=node_name),
                   node("Relu", ["c"], ["y"], name=f"{node_name}_relu")],
                  [("x", [1, 3, 8, 8])], [_init(w_name, (4, 3, 1, 1))], [("y", None)])


def _external(model: Any, name: str, location: str) -> Any:
    for tensor in model.graph.initializer:
        if tensor.name == name:
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", location
    return model


def _refused(model: Any, code: str = "E801") -> str:
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(model.SerializeToString(), source="m.onnx")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == code, diagnostic.message
    return diagnostic.message


@pytest.mark.parametrize("location", ["weights.bin", "../weights.bin", "/etc/passwd"])
def test_external_weights_are_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         location: str) -> None:
    """A weight's data in an external file: dslc needs its shape only. `weights.bin` is
    resolved against the current directory (a file the user never named); here it is a
    directory, so reading it fails loudly; `..` and absolute paths were E900."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").mkdir()
    imported = api.import_onnx(_external(_conv_relu(), "w", location).SerializeToString())
    assert imported.weights == 4 * 3 and imported.macs == 4 * 3 * 8 * 8


def test_an_external_value_that_matters_is_e803() -> None:
    model = _model([node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
                    node("Clip", ["c", "lo", "hi"], ["y"], name="clip")],
                   [("x", [1, 3, 8, 8])],
                   [_init("w", (4, 3, 1, 1)),
                    numpy_helper.from_array(np.array(0, np.float32), "lo"),
                    numpy_helper.from_array(np.array(6, np.float32), "hi")], [("y", None)])
    message = _refused(_external(model, "hi", "/etc/passwd"), "E803")
    assert "the value of `hi` is stored in an external file, which dslc does not read" in \
        message


def test_weights_without_data_import_by_their_shape() -> None:
    """dslc reads a weight's dims, not its values: converting every initializer to an
    array failed (E900) on one whose data is missing, and used memory for nothing."""
    model = _conv_relu()
    model.graph.initializer[0].ClearField("raw_data")
    assert api.import_onnx(model.SerializeToString()).weights == 12


@pytest.mark.parametrize(("nodes", "inputs", "says"), [
    ([node("Add", ["x", "b"], ["a"]), node("Relu", ["a"], ["b"])], [("x", [1, 4, 8, 8])],
     "Add node `0` reads `b`, produced by a later node (a cycle"),
    ([node("Relu", ["a"], ["y"]), node("Relu", ["x"], ["a"])], [("x", [1, 4, 8, 8])],
     "Relu node `0` reads `a`, produced by a later node"),
    ([node("Relu", ["x"], ["a"]), node("Sigmoid", ["x"], ["a"]), node("Add", ["a", "a"], ["y"])],
     [("x", [1, 4, 8, 8])], "`a` is produced twice (Relu node `0` and Sigmoid node `1`)"),
    ([node("Add", ["x", "x"], ["y"])], [("x", [1, 4, 8, 8]), ("x", [1, 4, 8, 8])],
     "`x` is produced twice (a graph input and a graph input)"),
    ([node("Add", ["x", "nowhere"], ["y"])], [("x", [1, 4, 8, 8])],
     "Add node `0` reads `nowhere`, produced by nothing in the graph"),
    ([node("Conv", ["x"], ["y"], kernel_shape=[1, 1])], [("x", [1, 3, 8, 8])],
     "Conv node `0` has 1 inputs; Conv needs 2"),
    ([node("BatchNormalization", ["x"], ["y"])], [("x", [1, 3, 8, 8])],
     "BatchNormalization node `0` has 1 inputs; BatchNormalization needs 5"),
    ([node("Relu", ["x"], [])], [("x", [1, 4])], "Relu node `0` has no outputs"),
])
def test_graphs_the_standard_does_not_allow_are_e801(nodes: list[Any],
                                                     inputs: list[tuple[str, list[int]]],
                                                     says: str) -> None:
    """These were imported silently wrong (a cycle's or an out-of-order node's input taken
    for a constant and the node folded away; the second producer of `a` replacing the
    first) or were internal errors (IndexError, InferenceError)."""
    message = _refused(_model(nodes, inputs, [], [("y", None)]))
    assert message.startswith("m.onnx: the graph is not a valid ONNX graph: ")
    assert says in message


def test_failing_shape_inference_is_e801() -> None:
    model = _model([helper.make_node("Foo", ["x"], ["y"], domain="com.example")],
                   [("x", [1, 4, 8, 8])], [], [("y", None)])
    assert "ONNX shape inference fails on the model (InferenceError" in _refused(model)


@pytest.mark.parametrize(("shape", "says"), [
    ([1, 3, 0, 8], "input `x` axis 2 is 0, outside 1 to 2,147,483,647"),
    ([1, 3, -5, 8], "input `x` axis 2 is -5"),
    ([1, 3, 2**40, 8], "input `x` axis 2 is 1099511627776"),
    ([0, 3, 8, 8], "input `x` axis 0 is 0"),
])
def test_impossible_input_sizes_are_e801(shape: list[int], says: str) -> None:
    """0 and -5 were reported as symbolic (`?`); 2^40 reached the compiler (E900)."""
    model = _model([node("Relu", ["x"], ["y"])], [("x", shape)], [], [("y", None)])
    assert says in _refused(model)


@pytest.mark.parametrize(("attrs", "w_shape", "x_shape", "says"), [
    ({"group": 0}, (4, 3, 1, 1), (1, 3, 8, 8), "in 0 groups does not take 3 input channels"),
    ({"group": 3}, (4, 2, 1, 1), (1, 6, 8, 8), "in 3 groups does not take 6 input channels"),
    ({}, (4, 5, 1, 1), (1, 3, 8, 8), "a weight of shape [4, 5, 1, 1] in 1 groups"),
    ({"strides": [0, 0]}, (4, 3, 1, 1), (1, 3, 8, 8), "strides [0, 0] are not sizes"),
])
def test_convolutions_that_contradict_themselves_are_e803(
        attrs: dict[str, Any], w_shape: tuple[int, ...], x_shape: list[int],
        says: str) -> None:
    """group = 0 and a weight of the wrong width imported as a plain convolution (the
    weight count from dslc's own formula); strides of 0 divided by zero (E900)."""
    model = _model([node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1], **attrs)],
                   [("x", x_shape)], [_init("w", w_shape)], [("y", [1, 4, 8, 8])])
    assert says in _refused(model, "E803")


def test_a_network_that_does_not_check_is_e801_not_an_internal_error() -> None:
    model = _model([node("Flatten", ["x"], ["y"], axis=2)], [("x", [1, 2, 4])], [],
                   [("y", [1, 7])])  # the declared output contradicts the input
    message = _refused(model)
    # (since review 8 caught before the network is written: recorded shapes are checked
    # against the ones the inputs give)
    assert message == ("m.onnx: the model's recorded shapes disagree with its inputs (1 "
                       "tensor): `y` is recorded as [1, 7] but its inputs give [2, 4]")


def test_too_many_layers_is_e405(monkeypatch: pytest.MonkeyPatch) -> None:
    """200,000 nodes wrote a text past the parser's limit: E900 'file too large'."""
    import dslc.sema.network

    monkeypatch.setattr(dslc.sema.network, "MAX_LAYERS", 3)
    nodes = [node("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}" if i < 4 else "y"])
             for i in range(5)]
    assert "5 layers, more than a network may have (3)" in _refused(
        _model(nodes, [("x", [1, 4])], [], [("y", None)]), "E405")


@pytest.mark.parametrize("name", ["a\nnetwork evil {", "\x1b[2Jred", "x\u2028y", "}{\"'"])
def test_names_never_break_the_written_spec(name: str) -> None:
    """A node name with a line break ended the layer's trailing comment: the rest was read
    as spec (E900 'does not compile'); an escape sequence reached the terminal."""
    model = _conv_relu(w_name=f"{name}.weight", node_name=name)
    model.producer_name = name
    imported = api.import_onnx(model.SerializeToString())
    assert imported.macs == 4 * 3 * 8 * 8
    assert "\x1b" not in imported.text and "\u2028" not in imported.text
    layer_lines = [line for line in imported.text.splitlines() if line.startswith("    layer ")]
    assert len(layer_lines) == 2


def test_a_model_path_that_is_not_a_file_is_e801(tmp_path: Path) -> None:
    """A FIFO blocked and /dev/zero was read until memory ran out."""
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx("/dev/null")
    assert caught.value.diagnostics[0].message == "cannot read /dev/null: not a regular file"


def test_a_torch_input_too_large_to_trace_is_a_usage_error() -> None:
    """torch allocates the zero input (and every activation) it traces on: a mistyped
    `--input 1,3,100000,100000` asked for 120 GB before anything was checked."""
    pytest.importorskip("torch")
    from dslc.diagnostics.diagnostic import UsageError

    with pytest.raises(UsageError) as caught:
        api.import_torch("no_such_module:build", [1, 3, 100_000, 100_000])
    assert "30,000,000,000 elements, more than the 268,435,456" in str(caught.value)
