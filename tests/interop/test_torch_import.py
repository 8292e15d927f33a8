"""`dslc import --torch pkg.mod:factory --input ...`: PyTorch modules exported through ONNX.

ResNet-18 and MobileNetV2 (tests/interop/torch_models.py, torchvision's definitions without
torchvision) must import to the MACs of the shipped specs and the published figures
(/work/shared/REFERENCES.md: 1.81 and 0.30 GMACs; 11,689,512 and 3,504,872 parameters), with
weights equal to the modules' conv and linear weights, and lower to the shipped networks'
per-layer problems. The first export in a process takes about 10 s (the exporter warms up),
later ones 3-7 s.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

import torch_models  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from dslc import api, cli  # noqa: E402
from dslc.diagnostics.diagnostic import DiagnosticError  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402
from dslc.spec.network import NetworkSpec  # noqa: E402

runner = CliRunner()
SPECS = Path(__file__).resolve().parents[2] / "dslc" / "std" / "networks"

TINY = textwrap.dedent("""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            y = nn.functional.relu6(self.dw(y)) + y
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))

    def build():
        return Tiny()
""")


def _problems(network: NetworkSpec) -> Counter[str]:
    """Distinct loop nests with how many layers share each."""
    return Counter({key: len(names)
                    for key, (_, names) in lower_network(network, batch=1).distinct().items()})


def _conv_linear_weights(module: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules()
               if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))


def _norm_channels(module: torch.nn.Module) -> int:
    return sum(m.num_features for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_tiny_module_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("tiny_model.py").write_text(TINY)
    result = runner.invoke(cli.app, ["import", "--torch", "tiny_model:build", "--input",
                                     "1,3,16,16", "-o", "tiny.cd"])
    assert result.exit_code == 0, result.output
    # conv 16*16*8*27 + depthwise 16*16*8*9 + fc 8*10; weights 216 + 72 + 80
    assert result.stdout == ""
    assert result.stderr.startswith("wrote tiny.cd: network `build`, 8 layers, 73,808 MACs, "
                                    "368 weights")
    text = Path("tiny.cd").read_text()
    assert "layer dw = dwconv(" in text and "batch normalisations" in text
    assert runner.invoke(cli.app, ["lint", "tiny.cd"]).exit_code == 0


@pytest.mark.parametrize(("target", "message"), [
    ("no_such_module:build", "cannot import `no_such_module`"),
    ("torch_models:nothing", "has no callable `nothing`"),
    ("torch_models", "expected `pkg.module:factory`"),
    ("torch_models:resnet18", "torch.onnx.export failed on input [1, 3]"),
])
def test_bad_targets_are_e804(target: str, message: str) -> None:
    shape = [1, 3] if target == "torch_models:resnet18" else [1, 3, 8, 8]
    with pytest.raises(DiagnosticError) as caught:
        api.import_torch(target, shape)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E804" and message in diagnostic.message


def test_cli_needs_an_input_shape() -> None:
    result = runner.invoke(cli.app, ["import", "--torch", "torch_models:resnet18"])
    assert result.exit_code == 2 and "--input" in result.output


def test_resnet18_matches_the_shipped_network_and_the_published_figures() -> None:
    module = torch_models.resnet18()
    imported = api.import_torch("torch_models:resnet18", [1, 3, 224, 224])
    shipped = api.network(api.compile(SPECS / "resnet18.cd"), "resnet18")
    # dslc/std/networks/resnet18.cd's hand count; REFERENCES.md: 1.81 GMACs
    assert imported.macs == 1_814_073_344
    assert round(imported.macs / 1e9, 2) == 1.81
    # parameters: torchvision's 11,689,512 = conv and linear weights (dslc's count) + 20
    # batch norms' scale and shift over 4,800 channels (folded into the convolutions by the
    # exporter) + the classifier's 1,000 biases
    assert sum(p.numel() for p in module.parameters()) == 11_689_512
    assert imported.weights == _conv_linear_weights(module) == 11_678_912
    assert _norm_channels(module) == 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512 == 4_800
    assert imported.weights + 2 * 4_800 + 1_000 == 11_689_512
    assert any("folded 20 batch normalisations" in line for line in imported.header)
    assert _problems(imported.network) == _problems(shipped)


def test_mobilenet_v2_matches_the_shipped_network_and_the_published_figures() -> None:
    module = torch_models.mobilenet_v2()
    imported = api.import_torch("torch_models:mobilenet_v2", [1, 3, 224, 224])
    shipped = api.network(api.compile(SPECS / "mobilenet_v2.cd"), "mobilenet_v2")
    assert imported.macs == 300_774_272
    assert round(imported.macs / 1e9, 2) == 0.30
    # 3,504,872 = weights + 2 x 17,056 batch-norm channels (52 of them) + 1,000 biases
    assert sum(p.numel() for p in module.parameters()) == 3_504_872
    assert imported.weights == _conv_linear_weights(module) == 3_469_760
    assert _norm_channels(module) == 17_056
    assert imported.weights + 2 * 17_056 + 1_000 == 3_504_872
    assert any("folded 52 batch normalisations" in line for line in imported.header)
    kinds = Counter(layer.op for layer in imported.network.layers)
    assert (kinds["dwconv"], kinds["conv"], kinds["dense"]) == (17, 35, 1)
    assert _problems(imported.network) == _problems(shipped)


def test_encoder_block_matches_the_shipped_transformer() -> None:
    imported = api.import_torch("torch_models:encoder_block", [1, 128, 768])
    shipped = api.network(api.compile(SPECS / "transformer_encoder.cd"), "transformer_encoder")
    # Q, K, V, O 4*128*768*768 + scores and context 2*12*128*128*64 + FFN 2*128*768*3072,
    # dslc/std/networks/transformer_encoder.cd's hand count
    assert imported.macs == 301_989_888 + 25_165_824 + 603_979_776 == 931_135_488
    assert imported.macs == lower_network(shipped, batch=1).macs
    assert imported.weights == 4 * 768 * 768 + 2 * 768 * 3072 == 7_077_888
    kinds = Counter(getattr(layer, "function", layer.op) for layer in imported.network.layers)
    assert (kinds["dense"], kinds["matmul"], kinds["softmax"], kinds["layernorm"]) == (
        6, 2, 1, 2)
    shipped_dense = {key for key, (p, _) in lower_network(shipped, batch=1).distinct().items()
                     if p.op == "dense"}
    imported_dense = {key for key, (p, _) in
                      lower_network(imported.network, batch=1).distinct().items()
                      if p.op == "dense"}
    assert imported_dense == shipped_dense


def test_batch_moving_attention_is_reported_once_per_cause() -> None:
    """torch.nn.TransformerEncoderLayer moves the batch axis inside its attention (the
    exporter's graph runs sequence-first): one E803 per cause, later dependants noted."""
    with pytest.raises(DiagnosticError) as caught:
        api.import_torch("torch_models:torch_encoder_layer", [1, 16, 64])
    found = caught.value.diagnostics
    # the packed QKV projection's Gather nodes (E802), then the two transposes that move
    # the batch axis; the nodes downstream of them are one note, not 20 more errors
    assert [d.code for d in found] == ["E802", "E803", "E803"]
    assert found[0].message.endswith("Gather x3 (`node_select`, `node_select_1`, "
                                     "`node_select_2`)")
    assert "moves the batch axis" in found[1].message
    assert any("later nodes" in note for note in found[-1].notes)
