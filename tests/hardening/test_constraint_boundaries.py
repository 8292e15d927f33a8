"""A constraint at exactly a pair's figure holds: a quantity is its decimal value rounded
once (`70%` is 0.7, `5us` is 5e-06), as an accuracy table's `70`, `70%` or `0.7` and a latency
of 1,000 cycles at 200 MHz are. `70 x 0.01` (0.7000000000000001) made `accuracy >= 70%`
break every network a table lists at 70, and `5 x 1e-6` (4.9999999999999996e-06) made
`latency <= 5us` break a pair of exactly 5 us, by its bounds before any evaluation: the
answer (`exhaustive`, `certified`) was another pair, or none."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from dslc import api
from dslc.sema.units import UNITS, in_base_units
from dslc.spec.codesign import parse_accuracy

SPEC = """
network n {
    input x: [10]
    layer h = dense(x, out = 100)
    ACCURACY
}
accelerator one {
    param m in {1, 2}
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 16KiB, width = 64b }
    fanout PE   { mesh = m x 1, dataflow = weight_stationary }
    memory RF   { size = 32 words }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks     = n
    accelerators = one
    objective    = maximize latency
    constraint   latency OP 5us
    constraint   accuracy >= 70%
    TABLE
    strategy     = STRATEGY
    mapper       { budget = 100, seed = 1 }
}
"""


@pytest.mark.parametrize("op", ["<=", "=="])
@pytest.mark.parametrize("strategy", ["exhaustive", "semi_decoupled"])
@pytest.mark.parametrize("accuracy", ["70%", "table:70", "table:70%", "table:0.7"])
def test_a_constraint_at_exactly_the_pairs_figure_holds(tmp_path: Path, op: str,
                                                         strategy: str, accuracy: str) -> None:
    text = SPEC.replace("OP", op).replace("STRATEGY", strategy)
    if accuracy.startswith("table:"):
        (tmp_path / "accuracy.csv").write_text(f"network,accuracy\nn,{accuracy[6:]}\n")
        text = text.replace("ACCURACY", "").replace("TABLE", 'accuracy = table("accuracy.csv")')
    else:
        text = text.replace("ACCURACY", f"accuracy = {accuracy}").replace("TABLE", "")
    spec = tmp_path / "spec.cd"
    spec.write_text(text)
    outcome = api.search(api.compile(spec), store=":memory:").outcome
    # 1,000 MACs on one PE take 1,000 cycles at least, 5 us at 200 MHz, the most the
    # constraint allows; two PEs take less.
    assert outcome.best is not None and outcome.best.metrics is not None
    assert outcome.best.accelerator.params() == {"m": 1}
    assert outcome.best.metrics.cycles == 1000
    assert outcome.best.metrics.latency_s == 5e-06 == 1000 / 200e6
    assert outcome.best.metrics.accuracy == 0.7
    assert outcome.optimality in ("exhaustive", "certified")


def test_quantities_are_their_decimals_rounded_once() -> None:
    for text in [f"{i / 1000:.3f}" for i in range(100_001)]:  # 0.000 .. 100.000
        exact = float(Decimal(text) / 100)
        assert in_base_units(float(text), UNITS["%"].factor) == exact, text
        assert parse_accuracy(text + "%") == exact, text
        if float(text) > 1:
            assert parse_accuracy(text) == exact, text
    for unit, scale in [("ns", -9), ("us", -6), ("ms", -3), ("fJ", -3), ("nJ", 3), ("mm2", 6)]:
        for count in range(1, 2001):
            assert in_base_units(count, UNITS[unit].factor) == \
                float(Decimal(count).scaleb(scale)), (count, unit)
    assert in_base_units(1e300, UNITS["J"].factor) == float("inf")
    # Whole values in whole units (the direct product) and past 2^53 (exact digits, once
    # rounded: 2^53 + 1 made a double first, then scaled by 10^6, rounds twice and lands
    # one step lower).
    for unit, scale in [("KiB", 8 * 1024), ("MHz", 10**6), ("GHz", 10**9), ("B", 8)]:
        for count in (1, 3, 64, 1000, 2**40 + 7, 2**53 + 1, 2**60 + 1):
            assert in_base_units(count, UNITS[unit].factor) == float(count * scale), (count, unit)
