"""The shipped networks' MACs: lowering against PyTorch running the same spec, and against the
published figures (torchvision's model docs, /work/shared/REFERENCES.md: the "GFLOPS" column
there is MACs at 224x224, fully connected layers included; biases are not MACs)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from dslc import api  # noqa: E402
from dslc.learn.modules import NetworkModule  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402

PUBLISHED_GMACS = {
    "alexnet": 0.71, "vgg16": 15.47, "resnet18": 1.81, "resnet50": 4.09, "mobilenet_v2": 0.30,
}
"""torchvision's figures, to their two decimals (tests/specs/test_library.py pins the exact
totals)."""

SHIPPED = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "transformer_encoder")


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_network_macs_match_torch(name: str) -> None:
    network = api.network(api.compile(f"dslc/std/networks/{name}.cd"), name)
    lowered = lower_network(network, 1)
    module = NetworkModule(network).eval()
    inputs = [torch.randn(1, *spec.shape) for spec in network.inputs]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    assert lowered.macs == counter.get_total_flops() // 2
    weights = sum(problem.tensor_size(tensor) for problem in lowered.problems
                  for tensor in problem.tensors if tensor.role == "weight")
    assert weights == module.weight_elements()
    if name in PUBLISHED_GMACS:
        assert round(lowered.macs / 1e9, 2) == PUBLISHED_GMACS[name]

