"""Rank statistics, Pareto fronts, objectives, constraints and accuracy tables, against
values worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dslc.codesign.designs import Design
from dslc.codesign.metrics import (
    AccuracyError,
    Metrics,
    kendall,
    load_accuracies,
    objective_monotone,
    objective_value,
    objective_values,
    pareto,
    ranks,
    spearman,
    violations,
)
from dslc.spec.codesign import BinaryOp, Constant, ConstraintSpec, MetricRef, ObjectiveSpec


def test_rank_statistics_by_hand() -> None:
    a = np.array([1.0, 2, 3, 4, 5])
    b = np.array([5.0, 6, 7, 8, 7])
    assert ranks(b).tolist() == [1, 2, 3.5, 5, 3.5]
    # Rank deviations (-2, -1, 0, 1, 2) and (-2, -1, 0.5, 2, 0.5): 8 / sqrt(10 x 9.5).
    assert spearman(a, b) == pytest.approx(8 / math.sqrt(95))
    # 10 pairs: 8 concordant, 1 discordant (the last), 1 tied in b: 7 / sqrt(10 x 9).
    assert kendall(a, b) == pytest.approx(7 / math.sqrt(90))
    assert spearman(a, a[::-1].copy()) == pytest.approx(-1)
    assert kendall(a, a) == 1


def test_pareto_front_by_hand() -> None:
    points = np.array([[1.0, 5], [2, 2], [3, 1], [3, 3], [4, 4], [2, 2]])
    # (3, 3) and (4, 4) are dominated by (2, 2); equal points do not dominate each other.
    assert pareto(points) == [0, 1, 2, 5]


def test_objective_and_constraints() -> None:
    metrics = Metrics(energy_pj=2e6, cycles=1000, latency_s=5e-6, area_mm2=3.0, accuracy=0.7)
    assert metrics.edp == pytest.approx(10.0)
    weighted = ObjectiveSpec(expression=BinaryOp(op="+", left=MetricRef(name="energy"),
                                                 right=BinaryOp(op="*", left=Constant(value=1e6),
                                                                right=MetricRef(name="area"))),
                             text="energy + 1e6 * area")
    assert objective_value(weighted, metrics) == pytest.approx(5e6)
    assert objective_value(ObjectiveSpec(sense="maximize", expression=MetricRef(
        name="accuracy"), text="accuracy"), metrics) == -0.7
    # An unknown accuracy ranks last and breaks any bound on it.
    unknown = Metrics(2e6, 1000, 5e-6, 3.0)
    assert objective_value(ObjectiveSpec(expression=MetricRef(name="accuracy"),
                                         text="accuracy"), unknown) == math.inf
    limits = (ConstraintSpec(metric="latency", op="<=", value=4e-6, text="latency <= 4us"),
              ConstraintSpec(metric="accuracy", op=">=", value=0.6, text="accuracy >= 60%"))
    assert violations(limits, metrics) == ("latency <= 4us",)
    assert violations(limits, unknown) == ("latency <= 4us", "accuracy >= 60%")


def test_accuracy_table_by_params_and_by_name(tmp_path: Path) -> None:
    designs = [Design("network", "space", i, (("depth", d), ("width", w)))
               for i, (d, w) in enumerate([(1, 8), (1, 16), (2, 8)])]
    fixed = Design("network", "resnet18", 0, ())
    table = tmp_path / "acc.csv"
    table.write_text("width,depth,accuracy\n8,1,70.5\n16,1,0.72\n")
    found = load_accuracies(table, [*designs, fixed])
    assert found == {designs[0]: pytest.approx(0.705), designs[1]: 0.72}
    table.write_text("network,accuracy\nresnet18,69.76\n")
    assert load_accuracies(table, [*designs, fixed]) == {fixed: pytest.approx(0.6976)}
    table.write_text("network,top1\nresnet18,69.76\n")
    with pytest.raises(AccuracyError, match="accuracy"):
        load_accuracies(table, [fixed])


# ---- which objectives have bounds ---------------------------------------------------------


def _objective(text: str) -> ObjectiveSpec:
    """An objective as the language writes it (`minimize energy * latency ^ 2`)."""
    from dslc import api

    program = api.compile(text=f"""
network n {{ input x: [4] layer a = dense(x, out = 4) }}
accelerator acc {{ word = 16b clock = 1GHz memory DRAM {{ }} compute MAC {{ }} }}
codesign c {{ networks = n accelerators = acc objective = {text} }}
""")
    assert not program.errors, program.errors
    return program.codesigns["c"].objective


@pytest.mark.parametrize(("text", "monotone"), [
    ("minimize edp", True),
    ("minimize energy", True),
    ("minimize latency", True),
    ("minimize energy * latency ^ 2", True),
    ("minimize energy + 1000000 * area", True),
    ("maximize accuracy / energy", True),
    ("maximize accuracy - energy / 1000000", True),
    ("minimize energy / accuracy", True),
    ("minimize (energy + latency) * 2", True),
    ("maximize -edp", True),
    ("minimize energy - latency", False),
    ("minimize 1 / energy", False),
    ("maximize energy", False),
    ("minimize energy * (accuracy - 0.7)", False),
    ("minimize latency ^ -1", False),
    ("minimize energy ^ energy", False),
])
def test_which_objectives_the_bounds_can_bound(text: str, monotone: bool) -> None:
    found, note = objective_monotone(_objective(text))
    assert found is monotone
    assert (note == "") is monotone


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["minimize edp", "minimize energy * latency ^ 2",
                        "maximize accuracy / energy", "minimize energy + 1000000 * area",
                        "minimize energy - latency", "maximize energy / (latency + 1)"]),
       st.floats(1.0, 1e9), st.floats(1e-9, 1.0), st.floats(0.0, 100.0),
       st.floats(0.01, 1.0))
def test_objective_over_arrays_equals_the_scalar_form(text: str, energy: float,
                                                      latency: float, area: float,
                                                      accuracy: float) -> None:
    objective = _objective(text)
    metrics = Metrics(energy, int(latency * 1e9), latency, area, accuracy)
    values = {"energy": np.array([energy]), "latency": np.array([latency]),
              "cycles": np.array([float(metrics.cycles)]), "edp": np.array([metrics.edp]),
              "area": np.array([area]), "accuracy": np.array([accuracy])}
    assert objective_values(objective, values)[0] == pytest.approx(
        objective_value(objective, metrics), rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["minimize edp", "minimize energy * latency ^ 2",
                        "maximize accuracy / energy", "minimize energy + 1000000 * area",
                        "minimize energy / accuracy", "maximize -edp"]),
       st.floats(1.0, 1e9), st.floats(1e-9, 1.0), st.floats(1.0, 10.0), st.floats(1.0, 10.0),
       st.floats(0.01, 1.0))
def test_a_monotone_objective_at_the_bounds_bounds_it(text: str, energy: float,
                                                      latency: float, slack_e: float,
                                                      slack_l: float, accuracy: float) -> None:
    # Evaluated at metrics below the real ones (the bounds), a monotone objective is never
    # above its value at the real ones.
    objective = _objective(text)
    assert objective_monotone(objective)[0]
    real = Metrics(energy * slack_e, int(latency * slack_l * 1e9), latency * slack_l, 2.0,
                   accuracy)
    bound = Metrics(energy, int(latency * 1e9), latency, 2.0, accuracy)
    exact = objective_value(objective, real)
    assert objective_value(objective, bound) <= exact + 1e-12 * abs(exact)


@pytest.mark.parametrize(("lines", "expected"), [
    ("objective = minimize energy", "energy"),
    ("objective = minimize latency", "latency"),
    ("objective = minimize edp", "edp"),
    ("objective = minimize energy * latency ^ 2", "edp"),
    ("objective = minimize area", "edp"),
    ("objective = maximize energy", "energy"),  # still minimised: each design's best
    ("objective = minimize energy\n    mapper { objective = latency }", "latency"),
    ("objective = minimize edp\n    mapper { objective = [latency, energy] }",
     ("latency", "energy")),
])
def test_what_each_layers_mapping_minimises(lines: str, expected: object) -> None:
    """docs/cli.md, `dslc run`: layers map with the `mapper` block's objective; else the
    request's objective when it is energy, latency or edp; other expressions map by EDP."""
    from dslc import api
    from dslc.codesign.request import mapping_objective

    text = f"""
network n {{ input x: [4, 6, 6] layer a = conv(x, out = 4, kernel = 3) }}
accelerator acc {{
    word = 16b clock = 1GHz
    memory DRAM {{ width = 64b }}
    memory RF {{ size = 512 words }}
    compute MAC {{ }}
}}
codesign c {{
    networks = n accelerators = acc
    {lines}
}}
"""
    program = api.compile(text=text)
    assert [d.message for d in program.diagnostics if d.is_error] == []
    assert mapping_objective(program.codesigns["c"]) == expected


def test_a_zero_divisor_is_the_limit_from_the_positive_side() -> None:
    """x / 0 is +inf or -inf by the sign of x (energy, latency, area and EDP are never
    negative: the limit as the divisor falls to 0 from above), 0 / 0 is 0, and an unknown
    accuracy stays unknown (ranks last). So a lower bound of 0 on the divisor gives a lower
    bound of the objective: (0 - accuracy) / energy at energy 0 is -inf, below any pair's
    value (it was +inf, above every pair, which would rule the pair out)."""
    def expression(left: Any, op: str, right: Any) -> BinaryOp:
        return BinaryOp(op=op, left=left, right=right)

    energy, accuracy = MetricRef(name="energy"), MetricRef(name="accuracy")
    negative = ObjectiveSpec(expression=expression(
        expression(Constant(value=0.0), "-", accuracy), "/", energy),
        text="(0 - accuracy) / energy")
    ratio = ObjectiveSpec(sense="maximize", expression=expression(accuracy, "/", energy),
                          text="accuracy / energy")
    at_zero = Metrics(0.0, 10, 1e-8, 1.0, accuracy=0.5)
    assert objective_value(negative, at_zero) == -math.inf
    assert objective_value(ratio, at_zero) == -math.inf  # maximised: +inf negated
    assert objective_value(ratio, Metrics(0.0, 10, 1e-8, 1.0, accuracy=0.0)) == 0.0
    assert objective_value(ratio, Metrics(0.0, 10, 1e-8, 1.0)) == math.inf  # unknown
    # The array form agrees, value by value.
    values = {"energy": np.array([0.0, 0.0, 0.0, 2.0]),
              "accuracy": np.array([0.5, 0.0, np.nan, 0.5])}
    assert objective_values(negative, values).tolist() == [-math.inf, 0.0, math.inf, -0.25]
    assert objective_values(ratio, values).tolist() == [-math.inf, 0.0, math.inf, -0.25]
    # As a bound: the value at an energy bound of 0 is at most the value at any energy.
    for real in (1e-9, 1.0, 1e12):
        assert objective_values(negative, {"energy": np.array([0.0]),
                                           "accuracy": np.array([0.9])})[0] <= \
            objective_value(negative, Metrics(real, 10, 1e-8, 1.0, accuracy=0.9))
