"""The joint search with trained accuracy (docs/design/differentiable.md, "Joint search with
trained accuracy"): the accuracy constraint's penalty on the supernet's estimates moves the
architecture distribution to the networks that meet it; the same seed gives the same
trajectory, proposals and answer; refinement rounds re-check only networks that may meet
the constraint; a constraint nothing meets ends with no answer (and says so), not a crash.
All on tests/learn/tiny_trained.cd (4 digits networks x 4 arrays, 1 epoch)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from dslc import api  # noqa: E402
from dslc.codesign.dance.evaluator import Settings, train_evaluator  # noqa: E402
from dslc.codesign.dance.search import search  # noqa: E402
from dslc.codesign.dance.strategy import EVALUATOR_SLACK  # noqa: E402
from dslc.codesign.evaluate import PairEvaluator  # noqa: E402
from dslc.export import outcome_to_json  # noqa: E402
from dslc.learn.train import train_network  # noqa: E402

TINY = Path(__file__).with_name("tiny_trained.cd")


def tiny(constraint: str | None, *, weights: str = "") -> str:
    """tiny_trained.cd with an accuracy constraint and a weight sweep."""
    text = TINY.read_text()
    if constraint is not None:
        text = text.replace("objective    = minimize edp",
                            f"objective    = minimize edp\n    constraint   {constraint}")
    if weights:
        text = text.replace("cost_weight = 0.1,", f"cost_weight = 0.1, weights = {weights},")
    return text


@pytest.fixture(scope="module")
def evaluator_and_space():  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    request = api.request(api.compile(text=tiny("accuracy >= 85%"), path=TINY),
                          store=":memory:")
    trained, _, space, _ = train_evaluator(PairEvaluator(request), Settings(0.5, 4, 1))
    return request, trained, space


def test_the_penalty_moves_the_distribution_to_the_networks_that_meet_the_constraint(
        evaluator_and_space) -> None:  # type: ignore[no-untyped-def]
    request, trained, space = evaluator_and_space
    # The supernet's word, set by hand: the 3x3 networks reach 90%, the 1x1 ones 50%, so
    # under `accuracy >= 85%` the feasible set is exactly the two 3x3 networks. The 1x1
    # networks are the cheap ones (a ninth of the convolution's MACs), so with a cost weight
    # of 1 and no constraint the search prefers them: the penalty is what moves it.
    estimates = np.array([0.9 if dict(d.point)["k"] == 3 else 0.5 for d in space.networks])
    feasible = np.array([dict(d.point)["k"] == 3 for d in space.networks])
    spec = request.spec
    free = search(trained, space, spec.objective, (), cost_weight=1.0, steps=150, seed=1,
                  accuracy=True, count=4, estimates=estimates)
    bound = search(trained, space, spec.objective, spec.constraints, cost_weight=1.0,
                   steps=150, seed=1, accuracy=True, count=4, estimates=estimates)
    assert free.network_probabilities[~feasible].sum() > 0.5
    assert bound.network_probabilities[feasible].sum() > 0.9
    # the search's choice comes first among the proposals, with the estimate it assumed
    first = bound.proposals[0]
    assert feasible[first[0]]
    assert first[2].accuracy == pytest.approx(0.9)
    # the accuracy term is the exact expectation of the estimated error
    p = bound.network_probabilities
    last = bound.trajectory[-1]
    assert last.accuracy_loss is not None
    assert 0.1 - 1e-6 <= last.accuracy_loss <= 0.5 + 1e-6
    assert float(np.sum(p * (1 - estimates))) < 0.1 + 0.4 * 0.1


def _run(text: str, store: Path | str = ":memory:"):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    return api.search(api.compile(text=text, path=TINY), store=store).outcome


def test_same_seed_same_trajectory_proposals_and_answer(tmp_path: Path) -> None:
    text = tiny("accuracy >= 80%", weights="[1]")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # two stores in two directories: the second run trains its evaluator afresh too
    first = _run(text, tmp_path / "a" / "pairs.sqlite")
    second = _run(text, tmp_path / "b" / "pairs.sqlite")
    assert not second.learned.evaluator.reused  # type: ignore[union-attr]
    a, b = first.learned, second.learned
    assert a is not None and b is not None
    assert [s.loss for s in a.trajectory] == [s.loss for s in b.trajectory]
    assert [(s.network, s.accelerator) for s in a.trajectory] == \
        [(s.network, s.accelerator) for s in b.trajectory]
    assert a.candidates == b.candidates
    assert a.estimates == b.estimates and len(a.estimates) == 4
    assert a.answer == b.answer
    assert outcome_to_json(first) == outcome_to_json(second)


@pytest.fixture(scope="module")
def swept():  # type: ignore[no-untyped-def]
    """`accuracy >= 80%`, cost weights 0.1 and 1: after one epoch only the 3x3 16-channel
    network reaches 80% (82.9%), and the sweep, whose supernet puts it at 88%, does not
    propose it (the search prefers the cheaper ones); a refinement round does."""
    return _run(tiny("accuracy >= 80%", weights="[1]"))


def test_the_answer_is_trainings_and_the_exact_models_word(swept) -> None:  # type: ignore[no-untyped-def]
    # Every network trained stand-alone here, independently: the answer must meet the
    # constraint by that accuracy, and no re-checked pair that meets it is cheaper.
    outcome = swept
    program = api.compile(text=tiny("accuracy >= 80%"), path=TINY)
    learned = outcome.learned
    assert learned is not None and learned.mode == "trained accuracy"
    standalone = {design: train_network(program.networks["tiny_digits"].instantiate(
        design.point), "digits", epochs=1, seed=1).accuracy for design, _ in learned.estimates}
    checked = {(c.network, c.accelerator) for c in learned.candidates}
    for network, accelerator in checked:
        metrics = outcome.results[(network, accelerator)].metrics
        assert metrics is not None and metrics.accuracy == standalone[network]
    meeting = [p for p in checked if standalone[p[0]] >= 0.8]
    best = outcome.best
    if not meeting:
        assert best is None
        return
    assert best is not None and best.metrics is not None
    assert best.metrics.accuracy is not None and best.metrics.accuracy >= 0.8
    assert best.metrics.edp == min(outcome.results[p].metrics.edp  # type: ignore[union-attr]
                                   for p in meeting)


def test_every_evaluated_pair_of_a_trained_network_carries_its_accuracy(swept) -> None:  # type: ignore[no-untyped-def]
    # The evaluator's samples of a network trained later kept no accuracy: unranked (a
    # sample meeting the constraint below the answer was neither ranked nor logged) and
    # "accuracy unknown" in the JSON, beside the same network's re-checked pair with it.
    outcome = swept
    learned = outcome.learned
    assert learned is not None
    trained = {c.network: outcome.results[(c.network, c.accelerator)].metrics.accuracy  # type: ignore[union-attr]
               for c in learned.candidates}
    checked = {(c.network, c.accelerator) for c in learned.candidates}
    samples = [p for p in outcome.results if p[0] in trained and p not in checked]
    assert samples  # the evaluator's samples of trained networks are here to check
    for pair, result in outcome.results.items():
        assert result.metrics is not None
        if pair[0] in trained:
            assert result.metrics.accuracy == trained[pair[0]]
            feasible = result.metrics.accuracy >= 0.8
            assert (outcome.scores[pair] == result.metrics.edp) == feasible
        else:
            assert result.metrics.accuracy is None and math.isinf(outcome.scores[pair])
    assert outcome.best is not None
    answer = outcome.scores[(outcome.best.network, outcome.best.accelerator)]
    beaten = min(outcome.scores[p] for p in samples) < answer
    assert beaten == any("beats the search's answer" in line for line in outcome.log)


def test_refinement_rounds_propose_only_networks_that_may_meet_the_constraint(
        swept) -> None:  # type: ignore[no-untyped-def]
    outcome = swept
    learned = outcome.learned
    assert learned is not None
    assert any(c.round >= 1 for c in learned.candidates)  # the rounds ran here
    rows = outcome_to_json(outcome)["candidates"]
    assert [(r["round"], r["cost_weight"]) for r in rows] == \
        [(c.round, c.cost_weight) for c in learned.candidates]
    estimates = dict(learned.estimates)
    sweep = [c for c in learned.candidates if c.round == 0]
    assert sweep and all(c.cost_weight in (0.1, 1.0) for c in sweep)
    trained_before: dict[object, float] = {}
    for round_ in range(1, 4):
        before = [c for c in learned.candidates if c.round < round_]
        for c in before:
            accuracy = outcome.results[(c.network, c.accelerator)].metrics.accuracy  # type: ignore[union-attr]
            trained_before[c.network] = accuracy
        optimism = max([0.0, *(trained_before[n] - estimates[n] for n in trained_before)])
        scores = [outcome.scores[(c.network, c.accelerator)] for c in before]
        bound = min(scores)
        cheapest: dict[object, float] = {}
        for c in (c for c in learned.candidates if c.round == round_):
            assert c.cost_weight is None
            assert c.network not in trained_before
            assert estimates[c.network] + optimism >= 0.8
            cheapest[c.network] = min(cheapest.get(c.network, math.inf),
                                      c.predicted.objective)
        # a network's best accelerator is predicted to beat the answer so far
        assert all(cost < bound + abs(bound) * EVALUATOR_SLACK for cost in cheapest.values())


def test_a_constraint_nothing_meets_gives_no_answer_and_says_so() -> None:
    # One epoch: no tiny network reaches 99.9% (the benchmark's 10-epoch networks top out
    # at 100% only with 16+ channels and several layers).
    outcome = _run(tiny("accuracy >= 99.9%"))
    learned = outcome.learned
    assert learned is not None
    assert outcome.best is None and learned.answer is None
    assert any("no answer" in line for line in outcome.log)
    data = outcome_to_json(outcome)
    json.dumps(data, allow_nan=False)
    assert data["best"] is None
    # every re-checked pair was costed and carries its stand-alone accuracy, below the bound
    for c in learned.candidates:
        metrics = outcome.results[(c.network, c.accelerator)].metrics
        assert metrics is not None and metrics.accuracy is not None
        assert metrics.accuracy < 0.999 and math.isfinite(metrics.edp)


def test_the_table_shows_the_supernets_accuracy_beside_trainings(swept) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console

    from dslc.report.codesign import _learned_parts

    outcome = swept
    console = Console(width=400, record=True)
    for part in _learned_parts(outcome, 400):
        console.print(part)
    text = console.export_text()
    assert "acc. supernet" in text and "acc. trained" in text
    learned = outcome.learned
    assert learned is not None
    for c in learned.candidates:  # each row: the estimate and the stand-alone accuracy
        metrics = outcome.results[(c.network, c.accelerator)].metrics
        assert metrics is not None and metrics.accuracy is not None
        assert c.predicted.accuracy is not None
        assert f"{100 * c.predicted.accuracy:.1f}%" in text
        assert f"{100 * metrics.accuracy:.1f}%" in text


def test_the_supernet_is_trained_on_fit_and_estimates_on_validation_never_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The supernet's estimates choose what is trained and re-checked: they come from the
    validation part of the training split, and its weights from the rest (`fit`), so the
    test split, on which the answer's accuracy is reported, plays no part in the choice."""
    from dslc.learn import supernet as module

    estimated: list[str] = []
    trained: list[str] = []
    accuracy, train_weights = module.Supernet.accuracy, module.Supernet.train_weights

    def recording_accuracy(self, point, split="test"):  # type: ignore[no-untyped-def]
        estimated.append(split)
        return accuracy(self, point, split)

    def recording_training(self, epochs, **options):  # type: ignore[no-untyped-def]
        trained.append(options.get("split", "train"))
        return train_weights(self, epochs, **options)

    monkeypatch.setattr(module.Supernet, "accuracy", recording_accuracy)
    monkeypatch.setattr(module.Supernet, "train_weights", recording_training)
    outcome = _run(tiny("accuracy >= 80%"))
    assert outcome.learned is not None and len(outcome.learned.estimates) == 4
    assert trained == ["fit"]
    assert estimated == ["validation"] * 4
