"""The weight-sharing supernet: banks sliced and centre-cropped as documented (checked
against a stand-alone module given those weights by hand), straight-through Gumbel samples
whose gradient reaches the architecture logits, depth choices that leave layers out,
determinism, and spaces it refuses."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.nn.functional as F  # noqa: E402

import dslc  # noqa: E402
from dslc import api  # noqa: E402
from dslc.learn.modules import NetworkModule  # noqa: E402
from dslc.learn.supernet import Supernet, SupernetError, kendall_tau  # noqa: E402

SPACES = """
network tiny_space {
    input image: [1, 8, 8]
    param k in {1, 3}
    param w in {2, 4}
    param d in 1..2
    layer c1 = relu(batchnorm(conv(image, out = w, kernel = k, pad = same)))
    block body = repeat d - 1 from c1 {
        layer c = conv(prev, out = w, kernel = k, pad = same)
        relu(batchnorm(c))
    }
    layer fc = dense(flatten(maxpool(body, kernel = 2)), out = 10)
}
network grouped_space {
    input image: [1, 8, 8]
    param g in {1, 2}
    layer a = conv(image, out = 2, kernel = 1)
    layer c = conv(a, out = 4, kernel = 3, groups = g)
    layer fc = dense(flatten(c), out = 10)
}
"""


@pytest.fixture(scope="module")
def program() -> object:
    return api.compile(text=SPACES)


@pytest.fixture(scope="module")
def supernet(program: object) -> Supernet:
    return Supernet(program.networks["tiny_space"], "digits", seed=1)  # type: ignore[attr-defined]


def test_one_logit_vector_per_parameter(supernet: Supernet) -> None:
    assert supernet.param_names == ("k", "w", "d")
    assert supernet.param_values == ((1, 3), (2, 4), (1, 2))
    assert [tuple(v.shape) for v in supernet.arch_logits] == [(2,), (2,), (2,)]
    # Banks hold the largest shape: c1's conv 4 x 1 x 3 x 3, the body's 4 x 4 x 3 x 3.
    assert tuple(supernet.banks["c1__conv__weight"].shape) == (4, 1, 3, 3)
    assert tuple(supernet.banks["body__0__c__weight"].shape) == (4, 4, 3, 3)
    # fc: 10 x (4 channels x 4 x 4 pooled positions).
    assert tuple(supernet.banks["fc__weight"].shape) == (10, 64)


def test_a_point_runs_the_sliced_and_cropped_weights(supernet: Supernet) -> None:
    point = {"k": 1, "w": 2, "d": 2}
    module = NetworkModule(supernet.network(point))
    banks = supernet.banks
    with torch.no_grad():
        # c1: 2 of 4 filters, the centre of the 3x3 kernel; fan-in 9 in the bank, 1 used.
        module.layer_parameters("c1.conv")["weight"].copy_(
            banks["c1__conv__weight"][:2, :, 1:2, 1:2] * math.sqrt(9 / 1))
        module.layer_parameters("c1.conv")["bias"].copy_(banks["c1__conv__bias"][:2])
        norm = module.layer_parameters("c1.batchnorm")
        norm["norm_weight"].copy_(banks["c1__batchnorm__norm_weight"][:2])
        norm["norm_bias"].copy_(banks["c1__batchnorm__norm_bias"][:2])
        # body.0.c: 2 x 2 channels of 4 x 4, centre 1x1 of 3x3: fan-in 36 -> 2.
        module.layer_parameters("body.0.c")["weight"].copy_(
            banks["body__0__c__weight"][:2, :2, 1:2, 1:2] * math.sqrt(36 / 2))
        module.layer_parameters("body.0.c")["bias"].copy_(banks["body__0__c__bias"][:2])
        norm = module.layer_parameters("body.0.batchnorm")
        norm["norm_weight"].copy_(banks["body__0__batchnorm__norm_weight"][:2])
        norm["norm_bias"].copy_(banks["body__0__batchnorm__norm_bias"][:2])
        # fc: the flattened maps of the first 2 channels (channel-major: 2 x 16 features)
        # of the bank's 4; fan-in 64 -> 32.
        module.layer_parameters("fc")["weight"].copy_(banks["fc__weight"][:, :32]
                                                      * math.sqrt(64 / 32))
        module.layer_parameters("fc")["bias"].copy_(banks["fc__bias"])
    x = supernet.data.test_x[:16]
    module.train()  # batch statistics, as the supernet's normalisation uses
    with torch.no_grad():
        assert torch.allclose(supernet.logits(x, point), module(x), atol=1e-5)


def test_samples_are_one_hots_whose_gradient_reaches_the_logits(supernet: Supernet) -> None:
    generator = torch.Generator().manual_seed(0)
    choice = supernet.sample(1.0, generator)
    for one_hot in choice:
        assert sorted(one_hot.detach().tolist()) == [0.0, 1.0]
    supernet.zero_grad()
    x, y = supernet.data.train_x[:32], supernet.data.train_y[:32]
    F.cross_entropy(supernet(x, choice), y).backward()
    assert all(logits.grad is not None and float(logits.grad.abs().sum()) > 0
               for logits in supernet.arch_logits)
    # With depth 1 chosen, the body's bank takes no part in the forward.
    depth = supernet.param_values[2][int(choice[2].argmax())]
    body = supernet.banks["body__0__c__weight"].grad
    assert (body is None or float(body.abs().sum()) == 0) == (depth == 1)
    supernet.zero_grad()


def test_the_forward_is_the_chosen_networks_logits(supernet: Supernet) -> None:
    point = {"k": 3, "w": 4, "d": 1}
    x = supernet.data.test_x[:8]
    with torch.no_grad():
        assert torch.equal(supernet(x, supernet.choice(point)), supernet.logits(x, point))


def test_expected_and_argmax_points(supernet: Supernet) -> None:
    # Uniform at the start: the expected kernel is (1 + 3) / 2, width 3, depth 1.5.
    assert supernet.expected_point() == {"k": 2.0, "w": 3.0, "d": 1.5}
    with torch.no_grad():
        supernet.arch_logits[0].copy_(torch.tensor([0.0, math.log(3.0)]))  # p(k=3) = 3/4
        supernet.arch_logits[1].copy_(torch.tensor([1.0, 0.0]))
    assert supernet.expected_point()["k"] == pytest.approx(1 * 0.25 + 3 * 0.75)
    assert supernet.argmax_point() == {"k": 3, "w": 2, "d": 1}
    with torch.no_grad():
        for logits in supernet.arch_logits:
            logits.zero_()


def test_training_is_deterministic_and_lowers_the_loss(program: object) -> None:
    space = program.networks["tiny_space"]  # type: ignore[attr-defined]
    first, again = Supernet(space, "digits", seed=2), Supernet(space, "digits", seed=2)
    losses = first.train_weights(2, seed=2)
    assert losses == again.train_weights(2, seed=2)
    assert losses[-1] < losses[0]
    point = {"k": 3, "w": 4, "d": 2}
    assert first.accuracy(point) == again.accuracy(point)
    # Chance is 10%; two epochs of shared weights already classify far better.
    assert first.accuracy(point, "train") > 0.5


def test_a_space_whose_groups_vary_is_refused(program: object) -> None:
    with pytest.raises(SupernetError, match="layer `c`"):
        Supernet(program.networks["grouped_space"], "digits", seed=1)  # type: ignore[attr-defined]


def test_kendall_tau_by_hand() -> None:
    # Pairs of [1, 2, 3] against [1, 3, 2]: (1,2) and (1,3) agree, (2,3) does not.
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    # tau-b with a tie in the first: concordant 2, discordant 0, ties in a 1:
    # 2 / sqrt(3 * 2).
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


@pytest.mark.parametrize(("file", "name", "dataset", "params"), [
    ("digits_space.cd", "digits_space", "digits", ("k", "w", "d", "w2")),
    ("mnist1d_space.cd", "mnist1d_space", "mnist1d", ("k", "w", "d", "h")),
])
def test_the_shipped_spaces_share_weights(file: str, name: str, dataset: str,
                                          params: tuple[str, ...]) -> None:
    if dataset == "mnist1d":
        pytest.importorskip("mnist1d")
    space = api.compile(Path(dslc.__file__).parent / "std" / "networks" / file).networks[name]
    supernet = Supernet(space, dataset, seed=1)
    assert supernet.param_names == params
    x = supernet.data.test_x[:4]
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        choice = supernet.sample(1.0, generator)
        assert tuple(supernet(x, choice).shape) == (4, 10)
