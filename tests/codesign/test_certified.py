"""Certification on a real spec (tests/codesign/planted.cd): a winner the reference
accelerator ranks badly is found, the answer says `certified`, and it is the exhaustive
optimum."""

from __future__ import annotations

from pathlib import Path

from dslc import api
from dslc.codesign.planner import MIN_KEPT

PLANTED = Path(__file__).parent / "planted.cd"


def test_a_winner_ranked_badly_on_the_reference_is_found_and_certified() -> None:
    program = api.compile(PLANTED)
    exhaustive = api.search(program, store=":memory:", strategy="exhaustive").outcome
    found = api.search(program, store=":memory:").outcome
    assert exhaustive.optimality == "exhaustive" and exhaustive.pairs_evaluated == 9 * 8
    assert exhaustive.best is not None and exhaustive.best.network.space == "mlp"
    # On the reference (the middle design: a 2 x 2 array) the MLP is fifth of nine, outside
    # the networks kept by default.
    plan = found.plan
    assert plan.reference is not None and plan.reference.label == \
        "array(cols=2, glb=1KiB, rows=2)"
    on_reference = sorted((score, pair[0].label) for pair, score in found.scores.items()
                          if pair[1] == plan.reference)
    assert [label for _, label in on_reference].index("mlp") + 1 == 5 > max(MIN_KEPT,
                                                                           plan.keep)
    assert found.optimality == "certified"
    assert found.best is not None and found.best.network.space == "mlp"
    assert found.scores[(found.best.network, found.best.accelerator)] == \
        exhaustive.scores[(exhaustive.best.network, exhaustive.best.accelerator)]
    assert found.pairs_evaluated < exhaustive.pairs_evaluated
    assert found.bounds is not None and dict(found.bounds.removed)["ranking"] == 0
