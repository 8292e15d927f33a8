"""`dslc import model.onnx`: graphs built with onnx.helper, imported, compiled and lowered;
figures counted by hand from the graphs' shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import onnx_graphs as graphs  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402
from dslc.spec.network import (  # noqa: E402
    ConvLayer,
    DenseLayer,
    DepthwiseConvLayer,
    MatmulLayer,
    PoolLayer,
    TransposeLayer,
)

runner = CliRunner()


def _layers(model: api.ImportedModel) -> dict[str, object]:
    return {layer.name: layer for layer in model.network.layers}


def test_residual_cnn() -> None:
    model = api.import_onnx(graphs.residual_cnn(), name="cnn", source="cnn.onnx")
    layers = _layers(model)
    assert list(layers) == ["conv1", "relu1", "conv2", "add_1", "relu2", "pool", "conv3",
                            "gap", "flatten_1", "fc"]
    conv3 = layers["conv3"]
    assert isinstance(conv3, ConvLayer)
    assert (conv3.out_channels, conv3.kernel, conv3.stride, conv3.pad) == (
        32, (3, 3), (2, 2), (1, 1))
    pool = layers["pool"]
    assert isinstance(pool, PoolLayer) and pool.op == "maxpool"
    assert (pool.kernel, pool.stride) == ((2, 2), (2, 2))
    gap = layers["gap"]
    assert isinstance(gap, PoolLayer) and gap.global_pool
    assert layers["add_1"].inputs == ("conv2", "relu1")  # type: ignore[attr-defined]
    # conv1 32*32*16*3*9 + conv2 32*32*16*16*9 + conv3 8*8*32*16*9 + fc 32*10
    assert model.macs == 442_368 + 2_359_296 + 294_912 + 320 == 3_096_896
    assert model.weights == 16 * 27 + 16 * 144 + 32 * 144 + 320 == 7_664
    # the file's own count: weights plus conv1's 16 and fc's 10 biases
    assert any("Parameters: 7,690 = 7,664 weights" in line for line in model.header)


def test_symbolic_batch_is_one() -> None:
    model = api.import_onnx(graphs.residual_cnn(batch="N"), name="cnn")
    assert model.network.inputs[0].shape == (3, 32, 32)
    assert model.macs == 3_096_896


def test_depthwise_block() -> None:
    model = api.import_onnx(graphs.depthwise_block(), name="block")
    layers = _layers(model)
    dw = layers["dw"]
    assert isinstance(dw, DepthwiseConvLayer)
    # 56 + 2*1 - 3 = 55, // 2 + 1 = 28: the symmetric pad keeps ONNX's [0, 1] output size
    assert (dw.kernel, dw.stride, dw.pad, dw.multiplier) == ((3, 3), (2, 2), (1, 1), 1)
    dw2 = layers["dw2"]
    assert isinstance(dw2, DepthwiseConvLayer) and dw2.multiplier == 2
    assert [layer.name for layer in model.network.layers
            if getattr(layer, "function", "") == "relu6"] == ["expand_relu6", "dw_relu6"]
    # expand 56*56*192*32, depthwise 28*28*192*9, project 28*28*64*192, dw2 28*28*128*9
    assert model.macs == 19_267_584 + 1_354_752 + 9_633_792 + 903_168
    assert model.weights == 192 * 32 + 192 * 9 + 64 * 192 + 128 * 9 == 21_312
    assert any("pads [0, 0, 1, 1] written as pad = [1, 1]" in line for line in model.header)
    problems = lower_network(model.network, batch=1)
    dw_problem = problems.problem("dw")
    assert dw_problem is not None and dw_problem.macs == 1_354_752


def test_attention_block() -> None:
    model = api.import_onnx(graphs.attention_block(), name="attention")
    layers = _layers(model)
    assert model.network.inputs[0].shape == (128, 768)
    assert [name for name, layer in layers.items() if isinstance(layer, DenseLayer)] == [
        "q", "k", "v", "o"]
    scores, context = layers["scores"], layers["context"]
    assert isinstance(scores, MatmulLayer) and isinstance(context, MatmulLayer)
    k_heads = layers[scores.inputs[1]]
    assert isinstance(k_heads, TransposeLayer) and k_heads.perm == (1, 2, 0)
    # Q, K, V, O 4*128*768*768; scores and context 12*128*128*64 each
    assert model.macs == 4 * 75_497_472 + 2 * 12_582_912 == 327_155_712
    assert model.weights == 4 * 768 * 768
    problems = lower_network(model.network, batch=1)
    score_problem = problems.problem("scores")
    assert score_problem is not None and score_problem.macs == 12 * 128 * 128 * 64
    # the four bias Adds and the 1/sqrt(64) Div are folded, the residual Add is a layer
    assert any("4 constant Add, 1 constant Div" in line for line in model.header)
    assert "layernorm(residual)" in model.text


def test_unknown_operators_in_one_diagnostic() -> None:
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(graphs.with_unknown(), source="m.onnx")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E802"
    assert diagnostic.message == ("m.onnx: 3 nodes of 2 operators dslc cannot express: "
                                  "Erf x2 (`erf_a`, `erf_b`); LeakyRelu x1 (`leaky`)")
    assert "--skip-unknown" in diagnostic.help


def test_skip_unknown_reports_in_the_header() -> None:
    model = api.import_onnx(graphs.with_unknown(), skip_unknown=True, name="m")
    assert [layer.name for layer in model.network.layers] == ["conv_1", "conv2"]
    assert model.network.layers[1].inputs == ("conv_1",)
    assert "# Skipped (--skip-unknown), 3: Erf `erf_a` (passes its input through)" in model.text
    assert model.macs == 64 * 8 * 3 + 64 * 4 * 8


def test_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    path.write_text("network n {}")
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(path)
    assert caught.value.diagnostics[0].code == "E801"


def test_cli_writes_a_file_that_lints_clean(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("attention.onnx").write_bytes(graphs.attention_block())
    result = runner.invoke(cli.app, ["import", "attention.onnx", "-o", "net.cd"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the file is the result; the note is on stderr
    assert result.stderr.startswith("wrote net.cd: network `attention`, 17 layers, "
                                    "327,155,712 MACs, 2,359,296 weights")
    assert runner.invoke(cli.app, ["lint", "net.cd"]).exit_code == 0
    dumped = runner.invoke(cli.app, ["dump", "net.cd", "--stage", "problems"])
    assert dumped.exit_code == 0 and '"macs": 327155712' in dumped.output


def test_cli_errors_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.onnx").write_bytes(graphs.with_unknown())
    result = runner.invoke(cli.app, ["import", "m.onnx"])
    assert result.exit_code == 1
    assert "error[E802]" in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""
    assert runner.invoke(cli.app, ["import"]).exit_code == 2
    assert runner.invoke(cli.app, ["import", "m.onnx", "--name", "1bad"]).exit_code == 2
    skipped = runner.invoke(cli.app, ["import", "m.onnx", "--skip-unknown"])
    assert skipped.exit_code == 0 and "network m {" in skipped.output


def test_batch_moving_transpose_is_e803() -> None:
    from onnx import helper

    node = helper.make_node("Transpose", ["x"], ["y"], name="swap", perm=[1, 0, 2, 3])
    data = graphs.model([node], [("x", [1, 3, 8, 8])], [], ("y", [3, 1, 8, 8]))
    with pytest.raises(DiagnosticError) as caught:
        api.import_onnx(data, source="t.onnx")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E803"
    assert diagnostic.message.startswith("t.onnx: Transpose node `swap`: ")
    assert diagnostic.help
