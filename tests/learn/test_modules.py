"""Networks that run: every operator of the registry as a PyTorch module, with the spec's
shapes and weight counts; a few operators against computations written out by hand."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from helpers_ops import build  # noqa: E402

from dslc.graph.layer_graph import build_graph  # noqa: E402
from dslc.learn.modules import NetworkModule  # noqa: E402
from dslc.ops.operator import Operator  # noqa: E402
from dslc.ops.registry import OPERATORS  # noqa: E402

SPELLINGS = [(entry, name) for entry in OPERATORS for name in entry.names]


def _module(call: str, inputs: tuple[tuple[int, ...], ...]) -> tuple[Any, Any]:
    network = build(call, inputs)
    return NetworkModule(network), build_graph(network)


@pytest.mark.parametrize(("entry", "name"), SPELLINGS, ids=[n for _, n in SPELLINGS])
def test_every_operator_runs_with_the_specs_shape_and_weights(entry: Operator[Any],
                                                              name: str) -> None:
    call = name + entry.example.call[len(entry.names[0]):]
    module, graph = _module(call, entry.example.inputs)
    xs = [torch.randn(3, *shape) for shape in entry.example.inputs]
    out = module(*xs)
    assert tuple(out.shape) == (3, *graph.shape("y"))
    assert module.weight_elements("y") == graph.stats("y").weight_elements


# Parameters counted by hand for each example: weights (the spec's) plus biases and norms.
# conv [4, 8, 8] -> 8 x 3x3: 8*4*9 weights + 8 biases; dwconv 4 channels x 2: 8*9 + 8;
# dense 32 -> 16: 16*32 + 16; einsum W[k, c, r] 8*4*3; layernorm over 8 features: 2*8;
# batchnorm over 4 channels: 2*4; everything else learns nothing.
PARAMETERS = {"conv": 8 * 4 * 9 + 8, "dwconv": 8 * 9 + 8, "dense": 16 * 32 + 16,
              "linear": 16 * 32 + 16, "einsum": 8 * 4 * 3, "layernorm": 2 * 8,
              "batchnorm": 2 * 4}


@pytest.mark.parametrize(("entry", "name"), SPELLINGS, ids=[n for _, n in SPELLINGS])
def test_parameters_are_weights_biases_and_norms(entry: Operator[Any], name: str) -> None:
    call = name + entry.example.call[len(entry.names[0]):]
    module, _ = _module(call, entry.example.inputs)
    assert sum(p.numel() for p in module.parameters()) == PARAMETERS.get(name, 0)


def test_conv_is_the_sum_over_its_window() -> None:
    module, _ = _module("conv(x0, out = 2, kernel = [2, 3], stride = [1, 2], pad = [1, 0], "
                        "dilation = [2, 1])", ((3, 5, 7),))
    x = torch.randn(1, 3, 5, 7)
    weight = module.layer_parameters("y")["weight"].detach()
    bias = module.layer_parameters("y")["bias"].detach()
    out = module(x).detach()
    padded = torch.zeros(1, 3, 7, 7)
    padded[:, :, 1:6, :] = x
    # P = (5 + 2 - 2*(2-1) - 1) // 1 + 1 = 5, Q = (7 - 3) // 2 + 1 = 3
    assert out.shape == (1, 2, 5, 3)
    for k, p, q in itertools.product(range(2), range(5), range(3)):
        total = float(bias[k])
        for c, r, s in itertools.product(range(3), range(2), range(3)):
            total += float(weight[k, c, r, s]) * float(padded[0, c, p + 2 * r, 2 * q + s])
        assert math.isclose(float(out[0, k, p, q]), total, rel_tol=1e-4, abs_tol=1e-5)


def test_grouped_conv_keeps_groups_apart() -> None:
    module, _ = _module("conv(x0, out = 4, kernel = 1, groups = 2)", ((4, 2, 2),))
    x = torch.zeros(1, 4, 2, 2)
    x[:, :2] = 1.0  # only group 0's inputs are non-zero
    with torch.no_grad():
        module.layer_parameters("y")["bias"].zero_()
    out = module(x).detach()
    assert torch.all(out[:, 2:] == 0)  # group 1's outputs see none of it
    assert module.layer_parameters("y")["weight"].shape == (4, 2, 1, 1)


def test_pooling_and_layout_by_hand() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    mod, _ = _module("maxpool(x0, kernel = 2)", ((1, 4, 4),))
    assert mod(x).flatten().tolist() == [5.0, 7.0, 13.0, 15.0]
    mod, _ = _module("avgpool(x0, kernel = 2)", ((1, 4, 4),))
    assert mod(x).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    mod, _ = _module("avgpool(x0, global = true)", ((1, 4, 4),))
    assert mod(x).flatten().tolist() == [7.5]
    mod, _ = _module("transpose(x0, perm = [2, 0, 1])", ((1, 4, 4),))
    assert torch.equal(mod(x)[0], x[0].permute(2, 0, 1))
    mod, _ = _module("softmax(x0)", ((1, 4, 4),))
    assert torch.allclose(mod(x).sum(dim=-1), torch.ones(1, 1, 4))


def test_a_general_einsum_is_its_loop_nest() -> None:
    # A strided, dilated 1-D convolution written as an einsum: O[k, p] += W[k, c, r] *
    # I[c, 2p + 3r - 1]; I spans 2*(4-1) + 3*(2-1) + 1 = 10.
    call = ("einsum(x0) { dims K = 3, C = 2, P = 4, R = 2 "
            "output O[k, p] weight W[k, c, r] input I[c, 2*p + 3*r - 1] }")
    module, graph = _module(call, ((2, 10),))
    assert graph.shape("y") == (3, 4)
    x = torch.randn(2, 2, 10)
    out = module(x).detach()
    weight = module.layer_parameters("y")["weight.W"].detach()
    for n, k, p in itertools.product(range(2), range(3), range(4)):
        total = sum(float(weight[k, c, r]) * float(x[n, c, 2 * p + 3 * r])
                    for c in range(2) for r in range(2))
        assert math.isclose(float(out[n, k, p]), total, rel_tol=1e-4, abs_tol=1e-5)


def test_the_einsum_fast_path_agrees_with_a_matrix_product() -> None:
    call = ("einsum(x0) { dims M = 3, K = 4, N = 5 output O[m, n] weight W[k, n] "
            "input I[m, k] }")
    module, _ = _module(call, ((3, 4),))
    x = torch.randn(2, 3, 4)
    weight = module.layer_parameters("y")["weight.W"].detach()
    assert torch.allclose(module(x).detach(), x @ weight, atol=1e-5)


def test_batchnorm_uses_running_statistics_in_evaluation() -> None:
    module, _ = _module("batchnorm(x0)", ((2, 3, 3),))
    x = torch.randn(8, 2, 3, 3) * 4 + 3
    module.train()
    normalised = module(x).detach()
    assert abs(float(normalised.mean())) < 1e-5  # batch statistics
    module.eval()
    # After one step the running mean is 0.1 * the batch mean (momentum 0.1, from 0).
    mean = x.mean(dim=(0, 2, 3))
    running = module.get_buffer("y__mean")
    assert torch.allclose(running, 0.1 * mean, atol=1e-5)


@pytest.mark.parametrize(("call", "shape"), [
    # 7 rows: ceil(5 / 2) + 1 = 4 windows of 2 (the 4th starts at row 6, inside the input)
    ("maxpool(x0, kernel = 2, stride = 2, ceil = true)", (4, 4, 4)),
    ("avgpool(x0, kernel = 2, stride = 2, ceil = true)", (4, 4, 4)),
    ("maxpool(x0, kernel = 2, stride = 2)", (4, 3, 3)),
])
def test_ceil_pools_run_with_the_specs_shape(call: str, shape: tuple[int, ...]) -> None:
    module, graph = _module(call, ((4, 7, 7),))
    x = torch.arange(3 * 4 * 7 * 7, dtype=torch.float32).reshape(3, 4, 7, 7)
    out = module(x)
    assert graph.shape("y") == shape and tuple(out.shape) == (3, *shape)
    if call.startswith("maxpool") and "ceil" in call:
        # the 4th window of each row and column holds row or column 6 alone
        assert float(out[0, 0, 3, 3]) == float(x[0, 0, 6, 6])
