"""The differentiable search's loss is finite and moves for objectives the exact model
ranks: `minimize energy ^ 8` (energies of 1e7 pJ: 1e56, past float32's 3.4e38, made the
loss infinite and every step NaN) and `maximize 1 / edp` (its negated value was clamped to
1e-30: a constant loss, no gradient, a trajectory reporting an expected cost of 1e-30).
In log space, log(energy ^ 8) = 8 log energy and -log(1 / edp) = log edp, so each search
ranks as `minimize energy` and `minimize edp` do."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from dslc.codesign.dance import evaluator as ev  # noqa: E402
from dslc.codesign.dance.search import search  # noqa: E402
from dslc.spec.codesign import BinaryOp, Constant, MetricRef, ObjectiveSpec  # noqa: E402


@pytest.fixture(scope="module")
def trained(small: tuple[Any, Any]) -> Any:
    evaluator, space = small
    found, _, _, _ = ev.train_evaluator(evaluator, ev.Settings(0.03, 8, 1), space=space)
    return found


def _search(trained: Any, space: Any, objective: ObjectiveSpec) -> Any:
    return search(trained, space, objective, (), cost_weight=1.0, steps=40, seed=1,
                  accuracy=False, count=3)


@pytest.mark.parametrize(("objective", "same_as"), [
    (ObjectiveSpec(expression=BinaryOp(op="^", left=MetricRef(name="energy"),
                                       right=Constant(value=8.0)), text="energy ^ 8"),
     ObjectiveSpec(expression=MetricRef(name="energy"), text="energy")),
    (ObjectiveSpec(sense="maximize", expression=BinaryOp(
        op="/", left=Constant(value=1.0), right=MetricRef(name="edp")), text="1 / edp"),
     ObjectiveSpec(expression=MetricRef(name="edp"), text="edp")),
])
def test_the_loss_is_finite_and_the_search_ranks_as_its_log(
        small: tuple[Any, Any], trained: Any, objective: ObjectiveSpec,
        same_as: ObjectiveSpec) -> None:
    _, space = small
    found = _search(trained, space, objective)
    steps = found.trajectory
    assert all(math.isfinite(s.loss) and math.isfinite(s.expected_cost) for s in steps)
    assert all(s.expected_cost > 1e-20 for s in steps)  # not the clamp's 1e-30
    assert steps[-1].loss < steps[0].loss  # it moves
    plain = _search(trained, space, same_as)
    assert [(i, j) for i, j, _, _ in found.proposals][:1] == \
        [(i, j) for i, j, _, _ in plain.proposals][:1]


def test_a_difference_that_is_never_positive_still_moves_the_search(
        small: tuple[Any, Any], trained: Any) -> None:
    # `minimize 0 - edp` has no log (a difference) and its value is negative everywhere:
    # its clamped log was a constant loss. Through asinh, which keeps the order, the search
    # moves, toward larger EDP: its first proposal is predicted above `minimize edp`'s.
    _, space = small
    objective = ObjectiveSpec(expression=BinaryOp(op="-", left=Constant(value=0.0),
                                                  right=MetricRef(name="edp")), text="0 - edp")
    found = _search(trained, space, objective)
    steps = found.trajectory
    assert all(math.isfinite(s.loss) for s in steps)
    assert steps[-1].loss < steps[0].loss
    plain = _search(trained, space, ObjectiveSpec(expression=MetricRef(name="edp"), text="edp"))
    upward = _search(trained, space, ObjectiveSpec(sense="maximize",
                                                   expression=MetricRef(name="edp"),
                                                   text="edp"))
    first = [(i, j) for i, j, _, _ in found.proposals][:1]
    assert first == [(i, j) for i, j, _, _ in upward.proposals][:1]
    assert first != [(i, j) for i, j, _, _ in plain.proposals][:1]
