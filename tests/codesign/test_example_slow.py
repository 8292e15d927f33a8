"""The shipped co-design example: the certified answer is the exhaustive optimum, with at
least 10x fewer pair evaluations (slow: a few minutes on two cores; `-m slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslc import api

EXAMPLE = Path(__file__).parents[2] / "examples" / "codesign.cd"


@pytest.mark.slow
def test_the_certified_answer_is_the_exhaustive_optimum_with_10x_fewer_pairs(
        tmp_path: Path) -> None:
    store = tmp_path / "pairs.sqlite"
    semi = api.search(api.compile(EXAMPLE), store=store, jobs=2).outcome
    assert semi.plan.strategy == "semi_decoupled"
    assert semi.optimality == "certified"
    exhaustive = api.search(api.compile(EXAMPLE), store=store, jobs=2,
                            strategy="exhaustive").outcome
    assert exhaustive.pairs_evaluated == semi.plan.pairs_total == 324 * 54
    assert semi.reduction >= 10
    assert semi.best is not None and exhaustive.best is not None
    assert exhaustive.optimality == "exhaustive"
    assert semi.best.metrics == exhaustive.best.metrics
