"""The trajectory figure's answer line is the answer's objective as written, like the
expected cost beside it: a maximised objective's score is negated, and its line was drawn
at the negated value, below zero on a log axis (invisible, while the legend listed it)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("matplotlib")

from dslc.report.codesign import trajectory_figure


class _Design:
    def __init__(self, label: str) -> None:
        self.label = label


def _outcome(objective: str, score: float, costs: list[float]) -> Any:
    net, acc = _Design("n"), _Design("a")
    steps = [SimpleNamespace(step=i, loss=1.0, expected_cost=c, accuracy_loss=None,
                             network=net, accelerator=acc) for i, c in enumerate(costs)]
    learned = SimpleNamespace(trajectory=steps, mode="cost-only", cost_weight=1.0)
    return SimpleNamespace(learned=learned, plan=SimpleNamespace(objective=objective),
                           best=SimpleNamespace(network=net, accelerator=acc),
                           scores={(net, acc): score})


def _answer_line(figure: Any) -> Any:
    right = figure.axes[1]
    return right, [line for line in right.lines if line.get_label() == "answer (exact)"]


def test_a_maximised_answer_is_drawn_at_its_value_as_written() -> None:
    import matplotlib.pyplot as plt

    figure = trajectory_figure(_outcome("maximize accuracy / edp", -12.0, [10.0, 11.0, 14.0]))
    right, lines = _answer_line(figure)
    assert [float(line.get_ydata()[0]) for line in lines] == [12.0]
    assert right.get_yscale() == "log"
    plt.close(figure)  # type: ignore[arg-type]


def test_values_not_all_positive_are_drawn_on_a_linear_axis() -> None:
    import matplotlib.pyplot as plt

    figure = trajectory_figure(_outcome("minimize 0 - edp", -3.0, [-1.0, -2.0, float("inf")]))
    right, lines = _answer_line(figure)
    assert [float(line.get_ydata()[0]) for line in lines] == [-3.0]
    assert right.get_yscale() == "linear"
    plt.close(figure)  # type: ignore[arg-type]
