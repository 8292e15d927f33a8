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
from dslc.codesign.planner import Session, Unproved, make_plan, session
from dslc.codesign.request import Request
from dslc.export import outcome_to_json
from dslc.report.codesign import render_outcome
from dslc.spec.codesign import ObjectiveSpec

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
    # what is not proved: the 3 untrained networks may meet the constraint
    assert outcome.unproved is not None
    assert (outcome.unproved.untrained, outcome.unproved.networks,
            outcome.unproved.assumed) == (3, 4, None)
    assert outcome.unproved.text.endswith("the gap counts their pairs as meeting "
                                          "`accuracy >= 80%`")


def _finish(running: Session, answer, estimates=()):  # type: ignore[no-untyped-def]
    quality = EvaluatorQuality(1, 0, 0, *(float("nan"),) * 9, 0.0, False, "k")
    learned = LearnedSearch(quality, "trained accuracy", 0.1, 0, (), (), answer,
                            estimates=tuple(estimates))
    return running.finish(answer, learned, [])


def _free_bounds(request: Request, instances: Instances, evaluator: PairEvaluator):  # type: ignore[no-untyped-def]
    """The EDP bound of every pair, independently of the strategy's bookkeeping: no
    constraint, no accuracy."""
    spec = request.spec
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    free = pair_bounds(spec.model_copy(update={"constraints": (), "objective": ObjectiveSpec()}),
                       list(networks),
                       [evaluator.lowered.get(d) or _lowered(d, instances, spec.batch)
                        for d in networks], list(accelerators),
                       [_arch(a, instances) for a in accelerators], {})
    assert free.objective is not None
    return free.objective


def _accuracy_objective(objective: str, constraint: str | None = None):  # type: ignore[no-untyped-def]
    text = TINY.read_text().replace("objective    = minimize edp", f"objective    = {objective}"
                                    + (f"\n    constraint   {constraint}" if constraint else ""))
    request, instances, prepared = _prepared(text)
    evaluator, running = _running(request, instances, prepared)
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    answer = (networks[-1], accelerators[0])
    running.evaluate("check", [answer, (networks[0], accelerators[1])])
    running.attach_accuracies({networks[-1]: 0.9})
    return request, instances, evaluator, running, answer


def test_edp_over_accuracy_takes_the_untrained_networks_at_100_percent() -> None:
    # Before: no network's objective bound was ever known (NaN, even once trained), so the
    # gap was null and nothing said why. Now the 3 networks never trained are bounded at
    # the accuracy most favourable to `edp / accuracy`, 100% (whatever training would give,
    # their objective is at least their EDP bound), the trained one at its 90%.
    request, instances, evaluator, running, answer = _accuracy_objective(
        "minimize edp / accuracy")
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    free = _free_bounds(request, instances, evaluator)
    best = running.score(answer)
    assert best == pytest.approx(running.run.results[answer].metrics.edp / 0.9)  # type: ignore[union-attr]
    lowest = best
    for i, network in enumerate(networks):
        for j, accelerator in enumerate(accelerators):
            pair = (network, accelerator)
            if network == networks[-1]:  # trained: its exact score, else its bound at 90%
                lowest = min(lowest, running.score(pair) if pair in running.run.results
                             else float(free[i, j]) / 0.9)
            else:  # never trained (evaluated or not): its bound at 100%
                lowest = min(lowest, float(free[i, j]) / 1.0)
    outcome = _finish(running, answer)
    assert outcome.gap == pytest.approx(best / lowest, rel=1e-12)
    assert outcome.gap > 1.0
    # the claim is never tighter than what an untrained network could reach: one training
    # to 100% at its EDP bound has objective free[i, j]
    untrained_best = min(float(free[i, j]) for i in range(3) for j in range(len(accelerators)))
    assert outcome.gap >= best / untrained_best * (1 - 1e-12)
    assert outcome.unproved == Unproved(3, 4, 1.0, outcome.unproved.text)  # type: ignore[union-attr]
    assert "3 of the 4 networks" in outcome.unproved.text  # type: ignore[union-attr]
    assert "100%" in outcome.unproved.text  # type: ignore[union-attr]
    # The supernet's estimates are not a bound: a pessimistic estimate (10% for every
    # untrained network) would shrink their objective bound tenfold and claim a smaller
    # gap. The gap does not move with them.
    estimates = [(d, 0.1) for d in networks[:3]] + [(networks[-1], 0.9)]
    again = _finish(running, answer, estimates)
    assert again.gap == outcome.gap
    # JSON and table say the same
    data = outcome_to_json(outcome)
    assert data["optimality"] == "unverified" and data["gap"] == pytest.approx(outcome.gap)
    assert data["unproved"] == {"untrained_networks": 3, "networks": 4, "gap_accuracy": 1.0,
                                "text": outcome.unproved.text}  # type: ignore[union-attr]
    console = Console(width=400, record=True)
    console.print(render_outcome(outcome))
    shown = console.export_text()
    assert f"optimality: unverified (the optimum may be up to {outcome.gap:.3g}x better)" in shown
    assert "not proved: the accuracy of 3 of the 4 networks, never trained" in shown


def test_maximize_accuracy_is_bounded_by_100_percent() -> None:
    # The answer's network trains to 90%; any untrained network may reach 100%: the optimum
    # may be 1 / 0.9 better, and no better.
    _, _, _, running, answer = _accuracy_objective("maximize accuracy")
    outcome = _finish(running, answer)
    assert running.score(answer) == -0.9
    assert outcome.gap == pytest.approx(1 / 0.9, rel=1e-12)
    assert outcome.unproved is not None and outcome.unproved.assumed == 1.0


def test_an_accuracy_objective_and_constraint_say_both_assumptions() -> None:
    # `edp / accuracy` under `accuracy >= 80%`: an untrained network is taken at 100% and
    # counted as meeting the constraint, and the text says both.
    _, _, _, running, answer = _accuracy_objective("minimize edp / accuracy",
                                                   "accuracy >= 80%")
    outcome = _finish(running, answer)
    assert outcome.unproved is not None and outcome.unproved.assumed == 1.0
    assert outcome.unproved.text.endswith(
        "the gap takes it as 100%, the most favourable to `minimize edp / accuracy`, and "
        "counts their pairs as meeting `accuracy >= 80%`")
    assert outcome.gap is not None and outcome.gap > 1.0


def test_an_objective_rising_with_accuracy_takes_it_at_0_and_has_no_gap() -> None:
    # `edp * accuracy` is least at accuracy 0: an untrained network's bound is 0, and a
    # ratio to 0 is no gap.
    _, _, _, running, answer = _accuracy_objective("minimize edp * accuracy")
    outcome = _finish(running, answer)
    assert outcome.gap is None
    assert outcome.unproved is not None and outcome.unproved.assumed == 0.0
    assert "0%" in outcome.unproved.text


def test_an_objective_not_monotone_in_accuracy_claims_no_gap_and_says_why() -> None:
    _, _, _, running, answer = _accuracy_objective("minimize edp + (accuracy - 0.5) ^ 2")
    outcome = _finish(running, answer)
    assert outcome.best is not None
    assert outcome.gap is None
    assert outcome.unproved is not None and outcome.unproved.assumed is None
    assert "not monotone in accuracy" in outcome.unproved.text
    assert outcome_to_json(outcome)["unproved"]["gap_accuracy"] is None


def test_every_network_trained_and_every_pair_costed_proves_the_answer() -> None:
    # Nothing left to training's or the supernet's word: no `unproved`, and the gap is
    # the answer over the best of every pair's exact score (1.0 when it is the best).
    request, _, _, running, _ = _accuracy_objective("minimize edp / accuracy")
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    everything = [(n, a) for n in networks for a in accelerators]
    running.evaluate("check", everything)
    running.attach_accuracies({d: a for d, a in zip(networks, (0.5, 0.6, 0.7, 0.9),
                                                      strict=True)})
    best = min(everything, key=running.score)
    outcome = _finish(running, best)
    assert outcome.unproved is None
    assert outcome.optimality == "certified" and outcome.gap is None
    worse = max(everything, key=running.score)
    outcome = _finish(running, worse)
    assert outcome.gap == pytest.approx(running.score(worse) / running.score(best), rel=1e-12)


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


def test_a_gap_of_exactly_1_is_certified() -> None:
    # A differentiable answer whose every unevaluated pair has an objective bound no better
    # than it is as good as evaluating every pair: it said "unverified (the optimum may be
    # up to 1x better)". Leave out one pair whose bound is below the answer and it is
    # unverified again, with its gap.
    text = TINY.read_text().replace("    accuracy     = trained(dataset = digits, epochs = 1, "
                                    "seed = 1)\n", "").replace(
        "objective    = minimize edp", "objective    = minimize energy")
    request, instances, prepared = _prepared(text)
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    everything = [(n, a) for n in networks for a in accelerators]
    bound = {pair: float(prepared.bounds.objective[i, j])  # type: ignore[index]
             for i, n in enumerate(networks) for j, a in enumerate(accelerators)
             for pair in [(n, a)]}
    _, probe = _running(request, instances, prepared)
    probe.evaluate("all", everything)
    best = min(everything, key=lambda pair: (probe.score(pair), everything.index(pair)))
    below = [pair for pair in everything if bound[pair] < probe.score(best) and pair != best]
    assert below and len(below) < len(everything) - 1

    def finish(pairs: list) -> object:  # type: ignore[type-arg]
        _, running = _running(request, instances, prepared)
        running.evaluate("check", pairs)
        quality = EvaluatorQuality(1, 0, 0, *(float("nan"),) * 9, 0.0, False, "k")
        return running.finish(best, LearnedSearch(quality, "cost-only", 0.1, 0, (), (), best),
                              [])

    outcome = finish([best, *below])
    assert outcome.optimality == "certified" and outcome.gap is None  # type: ignore[attr-defined]
    assert dict(outcome.bounds.removed)["ranking"] == 0  # type: ignore[attr-defined]
    left_out = min(below, key=lambda pair: bound[pair])
    outcome = finish([best, *(p for p in below if p != left_out)])
    assert outcome.optimality == "unverified"  # type: ignore[attr-defined]
    assert outcome.gap == pytest.approx(probe.score(best) / bound[left_out], rel=1e-12)  # type: ignore[attr-defined]
