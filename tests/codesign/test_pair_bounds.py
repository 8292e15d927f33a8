"""Pair bounds (dslc.codesign.bounds): a network's cycle bound is the exact sum of its
layers' bounds, rounded once, so it never rounds above the pair's own cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dslc import api
from dslc.codesign import bounds as bounds_module
from dslc.codesign.bounds import exact_sums, prepare
from dslc.codesign.designs import Instances
from dslc.cost.bounds import LayerBounds

HERE = Path(__file__).parent
ABOVE_2_53 = 2**53 + 3
"""A layer bound that float64 rounds up (to 2^53 + 4: a tie, to the even significand)."""


def test_three_layers_past_2_53_sum_exactly_then_round_once() -> None:
    usage = np.array([[3.0], [1.0]])
    values = np.array([[ABOVE_2_53, 7]], dtype=np.int64)
    sums = exact_sums(usage, values)
    # 3 x (2^53 + 3) = 3 x 2^53 + 9, between the doubles 3 x 2^53 + 8 and + 12: + 8.
    assert sums[0, 0] == 3 * 2**53 + 8 == float(3 * ABOVE_2_53)
    assert sums[0, 1] == 21.0
    assert sums[1, 0] == float(ABOVE_2_53) == 2**53 + 4
    # What a float64 sum of the three gives: above the pair's own cycles, as a double.
    floating = np.ones(3) @ np.full(3, float(ABOVE_2_53))
    assert floating == 3 * 2**53 + 12 > float(3 * ABOVE_2_53)


def test_sums_past_2_62_are_exact_in_python_integers() -> None:
    usage = np.array([[4.0, 1.0]])
    values = np.array([[2**61 + 1], [2**62 - 1]], dtype=np.int64)
    # 4 x (2^61 + 1) + 2^62 - 1 = 3 x 2^62 + 3: past int64, rounded once.
    assert exact_sums(usage, values)[0, 0] == float(3 * 2**62 + 3) == 3 * 2**62


def test_no_problems_or_no_accelerators_sum_to_zero() -> None:
    assert exact_sums(np.zeros((2, 0)), np.zeros((0, 3), dtype=np.int64)).shape == (2, 3)
    assert not exact_sums(np.zeros((2, 0)), np.zeros((0, 3), dtype=np.int64)).any()
    assert exact_sums(np.ones((2, 1)), np.zeros((1, 0), dtype=np.int64)).shape == (2, 0)


def test_pair_cycle_bounds_are_the_exact_layer_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every distinct layer bounded at 2^53 + 3 cycles: each network's pair bound is its
    MAC layers' count times that, summed exactly (counted here from the lowered layers),
    rounded once."""

    def huge(problem: object, table: object, *, imperfect: bool = False) -> LayerBounds:
        columns = len(table.archs)  # type: ignore[attr-defined]
        return LayerBounds(np.ones(columns), np.full(columns, ABOVE_2_53, dtype=np.int64),
                           np.ones(columns, dtype=np.int64))

    monkeypatch.setattr(bounds_module, "layer_bounds", huge)
    program = api.compile(HERE / "tiny.cd")
    instances = Instances(program.networks, program.accelerators)
    request = api.request(program, instances=instances)
    prepared = prepare(request, instances)
    designs = request.network_designs.designs
    seen_counts = set()
    for n, design in enumerate(designs):
        layers = sum(1 for layer in prepared.lowered[design].layers if layer.problem is not None)
        seen_counts.add(layers)
        expected = float(layers * ABOVE_2_53)
        assert (prepared.bounds.cycles[n] == expected).all()
    assert seen_counts == {2, 3}  # depth 1 and 2: a, fc and a, more, fc
