"""The differentiable strategy's text report (dslc.report.codesign) on figures set by hand
(no torch: the outcome is built through the planner's session as the strategy builds it).

Two things it showed wrong: a quality figure that is not a number (a space so small that
the evaluator's samples take every pair leaves none held out: Spearman over no pairs) was
printed as `nan` in the report and the log; and the candidates' predicted and exact
objective of a maximised objective were printed negated (`-2.5` for a `maximize 1 / edp`
of 2.5), the planner's internal value to minimise, where the JSON gives it in the
objective's own sense."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console

from dslc import api
from dslc.codesign.bounds import prepare
from dslc.codesign.designs import Instances
from dslc.codesign.evaluate import PairEvaluator
from dslc.codesign.learned import Candidate, EvaluatorQuality, LearnedSearch, Prediction
from dslc.codesign.planner import make_plan, session
from dslc.export import outcome_to_json
from dslc.report.codesign import render_evaluator, render_outcome

TINY = Path(__file__).parents[1] / "learn" / "tiny_trained.cd"
NAN = math.nan


def _text(console_of: object) -> str:
    console = Console(width=300, record=True)
    console.print(console_of)
    return console.export_text()


def test_maximised_objective_shown_in_its_own_sense_and_no_nan() -> None:
    text = TINY.read_text().replace("objective    = minimize edp",
                                    "objective    = maximize 1 / edp")
    text = text.replace("    accuracy     = trained(dataset = digits, epochs = 1, seed = 1)\n",
                        "")
    program = api.compile(text=text, path=TINY)
    instances = Instances(program.networks, program.accelerators)
    request = api.request(program, instances=instances, store=":memory:")
    prepared = prepare(request, instances)
    spec = request.spec
    plan = make_plan(spec, request.network_designs, request.accelerator_designs,
                     prepared.bounds)
    running = session(plan, spec, request.network_designs, request.accelerator_designs,
                      PairEvaluator(request, instances=instances), bounds=prepared.bounds)
    pair = (request.network_designs.designs[0], request.accelerator_designs.designs[0])
    [result] = running.evaluate("check", [pair])
    assert result.metrics is not None
    value = 1 / result.metrics.edp  # the objective, in its own sense
    assert running.score(pair) == -value
    # the evaluator said 10% more than the exact model, as a value to minimise (negated)
    predicted = Prediction(result.metrics.energy_pj, result.metrics.latency_s,
                           result.metrics.area_mm2, -1.1 * value)
    quality = EvaluatorQuality(12, 0, 4, NAN, NAN, NAN, NAN, NAN, 1.0, 1.0, 0.01, 0.02,
                               0.0, False, "k")
    learned = LearnedSearch(quality, "cost-only", 0.1, 0, (),
                            (Candidate(pair[0], pair[1], predicted, 0.1),), pair)
    outcome = running.finish(pair, learned, [])
    report = _text(render_outcome(outcome))
    assert "nan" not in report.lower().replace("n/a", "")
    assert "held-out (0 pairs): Spearman n/a, Kendall n/a, error energy n/a" in report
    row = next(line for line in report.splitlines()
               if f"{1.1 * value:.5g}" in line and f"{value:.5g}" in line)
    assert "-" + f"{value:.5g}" not in row and "1.100" in row
    # the JSON agrees: the objective in its own sense
    data = outcome_to_json(outcome)
    assert data["candidates"][0]["objective"] == value
    assert math.isclose(data["candidates"][0]["predicted"]["objective"], 1.1 * value)
    evaluator = _text(render_evaluator(quality))
    assert "nan" not in evaluator.lower()
    assert evaluator.count("n/a") == 5
