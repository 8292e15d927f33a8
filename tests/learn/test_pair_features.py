"""The evaluator's (layer, accelerator) features (dslc.codesign.dance.features.pair_features
and traffic_estimate) and how the evaluator looks them up (TrainedEvaluator.pair_rows): the
traffic estimate of a tiny dense layer counted by hand; the bound columns are the analytical
bounds of dslc.cost.bounds per MAC; the choice columns find each design's cell; the lookup
with a gradient is the gather at a hard choice, and its gradient says what each other value
of a parameter would give."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from dslc import api  # noqa: E402
from dslc.codesign.dance import evaluator as ev  # noqa: E402
from dslc.codesign.dance.features import (  # noqa: E402
    MAX_TILINGS,
    PAIR_NAMES,
    _tile_choices,
    _tilings,
    traffic_estimate,
)
from dslc.cost.bounds import arch_table, layer_bounds  # noqa: E402
from dslc.lower.lower import lower_network  # noqa: E402

SMALL = Path(__file__).with_name("small.cd")
TINY = """
network tiny {
    input x: [4]
    layer fc = dense(x, out = 4)
}
"""



def test_the_traffic_estimate_of_a_tiny_dense_layer() -> None:
    """4 inputs to 4 outputs: weight 16 words, input 4, output 4 (N = 1, K = 4, C = 4).
    A buffer of 24 words holds everything: each word moves once (24). Of 3 words only the
    tiling of 1 x 1 x 1 fits (16 tile iterations): the output resident moves its 4 words once
    and the weight and input once per iteration (16 + 16): 36 (the weight resident: 16 + 16
    + 2 x 16 output words, its partial sums out and back: 64; the input: 4 + 16 + 32 = 52).
    Of 8 words the best is K = 2 and C = 1 with the output resident: 2 x 2 + 2 x 8 + 1 x 8
    = 28 (K = 2, C = 2 gives 4 + 16 + 8 = 28 too; K = 1, C = 2 gives 36). With no room at
    all the smallest tiling still counts."""
    problem = lower_network(api.network(api.compile(text=TINY), "tiny")).problems[0]
    assert (problem.op, problem.bounds) == ("dense", (1, 4, 4))
    found = traffic_estimate(problem, np.array([0.0, 3.0, 8.0, 24.0, 1e9]))
    assert found.tolist() == [36.0, 36.0, 28.0, 24.0, 24.0]


def test_the_bound_columns_are_the_analytical_bounds_per_mac(small) -> None:
    evaluator, space = small
    assert space.pair_table.shape == (len(space.accelerators), len(space.layers.keys),
                                      len(PAIR_NAMES))  # a full grid: one cell per design
    problems = {p.key: p for design in space.networks
                for p in evaluator.lowered[design].problems}
    for j in (0, 5, 11):
        design = space.accelerators[j]
        arch = evaluator.archs[design]
        table = arch_table([arch])
        row = space.pair_table[space.encoding.cell(design)]
        for k, key in enumerate(space.layers.keys):
            problem = problems[key]
            bound = layer_bounds(problem, table)
            assert math.exp(row[k, 0]) * problem.macs == pytest.approx(
                float(bound.energy_pj[0]), rel=1e-9)
            assert math.exp(row[k, 1]) * problem.macs * arch.clock_hz == pytest.approx(
                float(bound.cycles[0]), rel=1e-9)
            # more room never means more traffic; at least every word once
            assert row[k, 3] <= row[k, 2] + 1e-12


def test_the_choice_columns_find_each_designs_cell(small) -> None:
    _, space = small
    encoding = space.encoding
    assert encoding.grid_shape == (2, 2, 3)  # cols, flow, rows (sorted by name)
    for design, row in zip(space.accelerators, space.accelerator_rows, strict=True):
        digits = [int(np.argmax(row[a:b])) for a, b in encoding.choice_slices]
        assert tuple(digits) == encoding.digits(design)
        assert encoding.cell(design) == (digits[0] * 2 + digits[1]) * 3 + digits[2]
        assert len(encoding.value_columns) == 4  # log2 cols, two flow columns, log2 rows


def test_the_lookup_is_the_gather_and_its_gradient_the_other_values(small) -> None:
    _, space = small
    encoded = ev.encoding_tensors(space)
    trained = ev.TrainedEvaluator(None, None, None, None, encoded["pair_table"],
                                  encoded["grid_shape"], encoded["value_columns"],
                                  encoded["choice_slices"], None, None, None, None, None,
                                  None, None, None)
    rows = torch.as_tensor(space.accelerator_rows, dtype=torch.float32)
    with torch.no_grad():
        gathered = trained.pair_rows(rows)
    table = encoded["pair_table"]
    cells = [space.encoding.cell(d) for d in space.accelerators]
    assert torch.equal(gathered, table[cells])
    live = rows.clone().requires_grad_()
    found = trained.pair_rows(live)
    assert torch.allclose(found, gathered, rtol=0, atol=1e-6)
    # d(feature)/d(choice of value v of parameter p) = the feature with p set to v
    j, layer, feature = 7, 2, 0
    found[j, layer, feature].backward()
    assert live.grad is not None
    digits = list(space.encoding.digits(space.accelerators[j]))
    shape = space.encoding.grid_shape
    for p, (a, b) in enumerate(space.encoding.choice_slices):
        for v in range(b - a):
            other = digits.copy()
            other[p] = v
            cell = (other[0] * shape[1] + other[1]) * shape[2] + other[2]
            assert float(live.grad[j, a + v]) == pytest.approx(
                float(table[cell, layer, feature]), rel=1e-5)
    assert float(live.grad[j, list(space.encoding.value_columns)].abs().sum()) == 0.0


def test_the_tilings_of_many_large_dimensions_are_capped() -> None:
    # A dozen dimensions of 12 (5 sizes each: 1, 2, 4, 8, 12) would be 5^12 = 244 million
    # tilings; 25 dimensions of 2 (sizes 1, 2) 2^25. Both are cut to at most MAX_TILINGS,
    # and the every-tile-1 tiling stays.
    assert _tile_choices(12).tolist() == [1, 2, 4, 8, 12]
    assert _tile_choices(100, 2).tolist() == [1, 4, 16, 64, 100]
    for bounds in ((12,) * 12, (2,) * 25):
        tiles = _tilings(bounds)
        assert 0 < len(tiles) <= MAX_TILINGS
        assert bool((tiles == 1).all(axis=1).any())
        for d, bound in enumerate(bounds):
            assert set(tiles[:, d].tolist()) <= set(_tile_choices(bound).tolist())
    # Under the cap nothing is thinned: the tiny dense layer's 1 x 3 x 3 sizes.
    assert len(_tilings((1, 4, 4))) == 9
