"""The pair bounds and the optimality gap of `strategy = differentiable` with `accuracy =
trained(...)` (no torch needed: nothing is trained here, the accuracies are set by hand).

That strategy trains only the networks it proposes, so when the pairs are bounded no
network's accuracy is known yet. An unknown accuracy broke every accuracy constraint, as it
rightly does when no accuracy will ever come (a table that lacks the network): so `dslc
plan` said every pair was ruled out by the constraints, and the outcome's gap, taken over
the pairs the bounds left (none), was 1.0, "the optimum may be up to 1x better", a claim of
optimality that nothing proved. Here the accuracies still to be trained rule nothing out,
the ones learned during the run do (`with_accuracies`), and the gap counts every pair not
evaluated and every evaluated pair of a network never trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from dslc import api
from dslc.cli import app
from dslc.codesign.bounds import Prepared, pair_bounds, prepare, with_accuracies
from dslc.codesign.designs import Instances
from dslc.codesign.evaluate import PairEvaluator
from dslc.codesign.learned import EvaluatorQuality, LearnedSearch
from dslc.codesign.planner import Session, make_plan, session
from dslc.codesign.request import Request

TINY = Path(__file__).parents[1] / "learn" / "tiny_trained.cd"


def _text(constraint: str = "accuracy >= 80%") -> str:
    return TINY.read_text().replace(
        "objective    = minimize edp",
        f"objective    = minimize edp\n    constraint   {constraint}")


def _prepared(text: str):  # type: ignore[no-untyped-def]
    program = api.compile(text=text, path=TINY)
    instances = Instances(program.networks, program.accelerators)
    request = api.request(program, instances=instances, store=":memory:")
    return request, instances, prepare(request, instances)


def test_accuracies_still_to_be_trained_rule_no_pair_out() -> None:
    request, _, prepared = _prepared(_text())
    bounds = prepared.bounds
    assert np.isnan(bounds.accuracy).all()  # nothing trained yet
    assert bounds.ruled_out == 0 and bool(bounds.feasible.all())
    plan = make_plan(request.spec, request.network_designs, request.accelerator_designs,
                     bounds)
    assert plan.ruled_out == 0
    # once trained: 0.9 meets `accuracy >= 80%`, 0.5 breaks it, the others stay open
    networks = request.network_designs.designs
    learned = with_accuracies(bounds, request.spec, {0: 0.9, 1: 0.5})
    assert learned.accuracy[0] == 0.9 and learned.accuracy[1] == 0.5
    assert np.isnan(learned.accuracy[2:]).all()
    assert learned.feasible[0].all() and not learned.feasible[1].any()
    assert learned.feasible[2:].all()
    assert learned.ruled_out == len(request.accelerator_designs.designs)
    assert learned.objective is not None
    assert np.isinf(learned.objective[1]).all() and np.isfinite(learned.objective[0]).all()
    assert dict(learned.broken_by)[request.spec.constraints[0].text] == len(
        request.accelerator_designs.designs)
    assert len(networks) == 4


def test_an_accuracy_that_is_not_coming_still_rules_its_pairs_out() -> None:
    # Other strategies train every network before bounding (and a table or a declaration
    # is all there is): an accuracy unknown then never comes, and it breaks the constraint.
    request, instances, _ = _prepared(_text())
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    bounds = pair_bounds(request.spec, list(networks),
                         [_lowered(d, instances, 1) for d in networks], list(accelerators),
                         [_arch(a, instances) for a in accelerators], {})
    assert not bounds.feasible.any()
    text = request.spec.constraints[0].text
    assert dict(bounds.broken_by)[text] == len(networks) * len(accelerators)


def _running(request: Request, instances: Instances, prepared: Prepared
             ) -> tuple[PairEvaluator, Session]:
    """A session of the request's plan (as the differentiable strategy runs one), and the
    evaluator it evaluates with."""
    spec = request.spec
    evaluator = PairEvaluator(request, instances=instances)
    plan = make_plan(spec, request.network_designs, request.accelerator_designs,
                     prepared.bounds)
    return evaluator, session(plan, spec, request.network_designs, request.accelerator_designs,
                              evaluator, bounds=prepared.bounds)


def test_the_gap_counts_pairs_of_networks_never_trained() -> None:
    request, instances, prepared = _prepared(_text())
    spec = request.spec
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    evaluator, running = _running(request, instances, prepared)
    # The answer: the largest network on its costliest accelerator, trained to 90%; one more
    # pair evaluated whose network is never trained.
    big = max(networks, key=lambda d: (dict(d.point)["w"], dict(d.point)["k"]))
    small = min(networks, key=lambda d: (dict(d.point)["w"], dict(d.point)["k"]))
    results = running.evaluate("check", [(big, a) for a in accelerators])
    costliest = max(zip(accelerators, results, strict=True),
                    key=lambda x: x[1].metrics.edp)[0]  # type: ignore[union-attr]
    answer = (big, costliest)
    other = (small, accelerators[0])
    running.evaluate("check", [other])
    running.attach_accuracies({big: 0.9})
    assert running.score(other) == float("inf")  # unknown accuracy: unranked
    assert running.run.results[answer].metrics.accuracy == 0.9  # type: ignore[union-attr]
    quality = EvaluatorQuality(1, 0, 0, *(float("nan"),) * 9, 0.0, False, "k")
    learned = LearnedSearch(quality, "trained accuracy", 0.1, 0, (), (), answer)
    outcome = running.finish(answer, learned, [])
    best = running.score(answer)
    # Independently: the EDP bound of every pair without the accuracy constraint (which no
    # untrained network is known to break); the optimum is no better than the smallest
    # bound over the pairs other than the answer's own costliest ones of `big` (evaluated:
    # their exact EDP) and the answer.
    free = pair_bounds(spec.model_copy(update={"constraints": ()}), list(networks),
                       [evaluator.lowered.get(d) or _lowered(d, instances, spec.batch)
                        for d in networks], list(accelerators),
                       [_arch(a, instances) for a in accelerators], {})
    assert free.objective is not None
    lowest = best
    for i, network in enumerate(networks):
        for j, accelerator in enumerate(accelerators):
            if network == big:
                lowest = min(lowest, running.score((network, accelerator)))
            else:
                lowest = min(lowest, float(free.objective[i, j]))
    assert lowest < best
    assert outcome.gap == pytest.approx(best / lowest, rel=1e-12)
    assert outcome.gap is not None and outcome.gap > 1.0


def test_the_gap_needs_an_accuracy_in_the_objective_known_and_claims_none() -> None:
    text = _text().replace("objective    = minimize edp",
                           "objective    = minimize edp / accuracy")
    request, instances, prepared = _prepared(text)
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    _, running = _running(request, instances, prepared)
    answer = (networks[-1], accelerators[0])
    running.evaluate("check", [answer])
    running.attach_accuracies({networks[-1]: 0.9})
    quality = EvaluatorQuality(1, 0, 0, *(float("nan"),) * 9, 0.0, False, "k")
    learned = LearnedSearch(quality, "trained accuracy", 0.1, 0, (), (), answer)
    outcome = running.finish(answer, learned, [])
    assert outcome.best is not None
    assert outcome.gap is None  # the other networks' objective has no bound


def test_dslc_plan_on_it_rules_nothing_out_and_writes_no_store(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.cd"
    spec.write_text(_text())
    result = CliRunner().invoke(app, ["plan", str(spec)])
    assert result.exit_code == 0, result.output
    assert "ruled out by the constraints before evaluating: 0 pairs" in result.output
    # nothing is trained for the plan of this strategy: no result store beside the spec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.cd"]


def _lowered(design, instances, batch):  # type: ignore[no-untyped-def]
    from dslc.lower.lower import lower_network

    return lower_network(instances.network(design), batch=batch)


def _arch(design, instances):  # type: ignore[no-untyped-def]
    from dslc.arch import resolve_accelerator

    return resolve_accelerator(instances.accelerator(design))


def test_the_plan_counts_the_refinement_rounds_and_promises_no_bound_stop() -> None:
    # 12 networks x 4 arrays = 48 pairs: the samples are min(48, max(32, 3% of 48) + 2 x 4
    # held out) = 40, the re-check 3 (one search, 3 candidates), and the refinement rounds
    # of an accuracy lower bound up to 3 x 3 more: at most min(48, 52) = 48 pairs, where the
    # plan said 43 without the rounds.
    text = _text().replace("param w in {4, 16}", "param w in {4, 8, 16, 32}").replace(
        "param k in {1, 3}", "param k in {1, 3, 5}")
    request, _, prepared = _prepared(text)
    plan = make_plan(request.spec, request.network_designs, request.accelerator_designs,
                     prepared.bounds)
    assert [(p.name, p.pairs) for p in plan.phases] == [("sample", 40), ("re-check", 3),
                                                          ("refine", 9)]
    assert plan.at_most == 48
    # no refinement without an accuracy lower bound
    request, _, prepared = _prepared(text.replace("    constraint   accuracy >= 80%\n", ""))
    plan = make_plan(request.spec, request.network_designs, request.accelerator_designs,
                     prepared.bounds)
    assert [p.name for p in plan.phases] == ["sample", "re-check"] and plan.at_most == 43
    # the differentiable strategy does not stop on its bounds: the plan does not say it does
    from dslc.report.codesign import render_plan

    console = Console(width=200, record=True)
    console.print(render_plan(plan))
    shown = console.export_text()
    assert "evaluates at most 43 pairs" in shown and "no bound left" not in shown
