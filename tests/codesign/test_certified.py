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


def test_an_area_constraint_in_mm2_rules_out_larger_accelerators() -> None:
    # `area <= 0.1mm2` is 0.1 mm2 (the metric's unit), not 0.1 x 10^6 um2 taken as mm2.
    text = (Path(__file__).parent / "tiny.cd").read_text().replace(
        "    strategy     = auto", "    strategy     = auto\n    constraint   area <= 0.1mm2")
    program = api.compile(text=text)
    spec = program.codesigns["small"]
    assert [(c.metric, c.value) for c in spec.constraints] == [("area", 0.1)]
    found = api.search(program, store=":memory:").outcome
    areas = {pair[1]: result.metrics.area_mm2 for pair, result in found.results.items()
             if result.metrics is not None}
    assert found.best is not None and found.best.metrics is not None
    assert found.best.metrics.area_mm2 <= 0.1
    large = [a for a, area in areas.items() if area > 0.1]
    assert found.bounds is not None and found.bounds.ruled_out > 0
    assert all(found.scores[(n, a)] == float("inf") for n, a in found.results if a in large)
