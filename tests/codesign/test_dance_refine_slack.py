"""The refinement rounds' slack in the objective's own sense (dslc.codesign.dance.strategy):
a network is worth training when its predicted cost is below the answer's exact objective
worsened by EVALUATOR_SLACK of its size. Scores of a maximised objective are negated, and
`best x (1 + slack)` made the limit *better* than the answer there (-11 for an answer at
-10): a network predicted to beat the answer by 5% was never trained, and the search
returned a worse answer that looked final. No torch: the evaluator's table and the
training are stand-ins."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dslc.codesign.dance import strategy
from dslc.codesign.dance.search import NetworkCosts
from dslc.spec.codesign import ConstraintSpec


class _Running:
    def __init__(self, scores: dict[Any, float]) -> None:
        self.scores = scores
        self.evaluated: list[Any] = []

    def score(self, pair: Any) -> float:
        return self.scores[pair]

    def evaluate(self, phase: str, pairs: list[Any]) -> None:
        self.evaluated += pairs
        for pair in pairs:
            self.scores.setdefault(pair, -10.4)


def _refine(monkeypatch: pytest.MonkeyPatch, answer_score: float,
            predicted: list[float]) -> list[Any]:
    """One answer (network 0 on accelerator 0, trained) and networks 1.. predicted at
    `predicted` on accelerator 0, each estimated to meet the constraint; the networks the
    first refinement round trains."""
    n = 1 + len(predicted)
    networks = tuple(f"net{i}" for i in range(n))
    space = SimpleNamespace(networks=networks, accelerators=("acc0",))
    values = np.array([answer_score, *predicted])
    costs = NetworkCosts(np.array([(i, 0) for i in range(n)], dtype=np.int64),
                         np.ones((n, 3)), values, np.ones(n, dtype=bool), np.full(n, 0.95),
                         {i: (i,) for i in range(n)})
    monkeypatch.setattr(strategy, "network_costs", lambda *args: costs)
    trained: list[Any] = []

    def retrain(running: Any, evaluator: Any, source: Any, pairs: list[Any]) -> dict[str, float]:
        trained.extend(dict.fromkeys(net for net, _ in pairs))
        return {net: 0.95 for net, _ in pairs}

    monkeypatch.setattr(strategy, "_retrain", retrain)
    spec = SimpleNamespace(differentiable=SimpleNamespace(candidates=10), objective=None,
                           constraints=())
    evaluator = SimpleNamespace(request=SimpleNamespace(spec=spec))
    limit = ConstraintSpec(metric="accuracy", op=">=", value=0.9, text="accuracy >= 90%")
    pair = (networks[0], "acc0")
    running = _Running({pair: answer_score})
    monkeypatch.setattr(strategy, "REFINE_ROUNDS", 1)
    strategy._refine(running, evaluator, None, None, space, np.full(n, 0.95),  # type: ignore[arg-type]
                     [limit], {networks[0]: 0.95}, [pair], [])
    return trained


def test_a_maximised_objective_trains_a_network_predicted_to_beat_the_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `maximize accuracy / edp`: the answer scores -10 (10 as written); net1 is predicted
    # at -10.5 (5% better), net2 at -9.5 (5% worse, within the slack), net3 at -8.5 (15%
    # worse: out). Before, the limit was -11 and none was trained.
    assert strategy._slack(-10.0) == pytest.approx(-9.0)
    assert _refine(monkeypatch, -10.0, [-10.5, -9.5, -8.5]) == ["net1", "net2"]


def test_a_minimised_objective_keeps_its_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    assert strategy._slack(10.0) == pytest.approx(11.0)
    assert _refine(monkeypatch, 10.0, [9.5, 10.5, 11.5]) == ["net1", "net2"]


def test_no_answer_yet_lets_every_network_qualify_and_minus_infinity_none() -> None:
    assert strategy._slack(math.inf) == math.inf
    assert strategy._slack(-math.inf) == -math.inf
