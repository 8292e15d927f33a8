"""What a co-design optimises: metrics of a pair, the objective, constraints, accuracy,
rank statistics and Pareto fronts.

In: a pair's measured figures (`Metrics`), the request's `ObjectiveSpec` and
`ConstraintSpec`s, an accuracy CSV. Out: objective values (lower is better), feasibility,
accuracies by network design, Spearman and Kendall rank correlations (numpy, ties
averaged / tau-b) and Pareto-optimal subsets. It does not evaluate designs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dslc.codesign.designs import Design
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.spec.codesign import BinaryOp, Constant, ConstraintSpec, MetricRef, ObjectiveSpec

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Metrics:
    """One (network, accelerator) pair, measured. Units in the names."""

    energy_pj: float
    cycles: int
    latency_s: float
    area_mm2: float
    accuracy: float | None = None

    @property
    def edp(self) -> float:
        """Energy-delay product in pJ*s."""
        return self.energy_pj * self.latency_s

    def value(self, metric: str) -> float:
        """A metric by its name in the language (energy pJ, latency s, edp pJ*s, area mm2,
        accuracy as a fraction; NaN when the accuracy is unknown)."""
        if metric == "energy":
            return self.energy_pj
        if metric == "latency":
            return self.latency_s
        if metric == "cycles":
            return float(self.cycles)
        if metric == "edp":
            return self.edp
        if metric == "area":
            return self.area_mm2
        if metric == "accuracy":
            return math.nan if self.accuracy is None else self.accuracy
        raise KeyError(metric)


def _expression(node: MetricRef | Constant | BinaryOp, metrics: Metrics) -> float:
    if isinstance(node, MetricRef):
        return metrics.value(node.name)
    if isinstance(node, Constant):
        return node.value
    left, right = _expression(node.left, metrics), _expression(node.right, metrics)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right if right else math.inf
    return float(left ** right)


def objective_value(objective: ObjectiveSpec, metrics: Metrics) -> float:
    """The objective as a value to minimise (maximised objectives are negated; NaN, e.g.
    an unknown accuracy, ranks last)."""
    value = _expression(objective.expression, metrics)
    if math.isnan(value):
        return math.inf
    return -value if objective.sense == "maximize" else value


def violations(constraints: Sequence[ConstraintSpec], metrics: Metrics) -> tuple[str, ...]:
    """The constraints the pair breaks (as written), empty when it is feasible. A bound on
    an unknown accuracy is broken."""
    broken = []
    for constraint in constraints:
        value = metrics.value(constraint.metric)
        ok = not math.isnan(value) and {
            "<=": value <= constraint.value, "<": value < constraint.value,
            ">=": value >= constraint.value, ">": value > constraint.value,
            "==": value == constraint.value}[constraint.op]
        if not ok:
            broken.append(constraint.text)
    return tuple(broken)


class AccuracyError(CannotRunError):
    """The accuracy table cannot be read or does not match the networks."""


def load_accuracies(path: Path, networks: Sequence[Design]) -> dict[Design, float]:
    """Accuracies from a CSV: an `accuracy` column (a fraction, or a percentage above 1)
    and either a `network` column (a space name or a design label) or one column per
    network parameter. Networks the table does not list are absent from the result."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise AccuracyError(f"cannot read the accuracy table {path}: {exc.strerror}") from None
    if not rows or "accuracy" not in rows[0]:
        raise AccuracyError(f"the accuracy table {path} needs an `accuracy` column")
    found: dict[Design, float] = {}
    for number, row in enumerate(rows, start=2):
        try:
            accuracy = float(row["accuracy"])
        except ValueError:
            raise AccuracyError(f"{path}:{number}: accuracy `{row['accuracy']}` is not a "
                                "number") from None
        if accuracy > 1:
            accuracy /= 100
        for design in networks:
            if _matches(design, row):
                found[design] = accuracy
    return found


def _matches(design: Design, row: dict[str, str]) -> bool:
    name = row.get("network")
    if name is not None and name not in ("", design.space, design.label):
        return False
    params = design.params()
    for key, text in row.items():
        if key in ("network", "accuracy") or key not in params:
            continue
        value = params[key]
        if isinstance(value, (int, float)):
            try:
                if float(text) != float(value):
                    return False
            except ValueError:
                return False
        elif str(value) != text:
            return False
    return name is not None or any(key in params for key in row)


def ranks(values: FloatArray) -> FloatArray:
    """Ranks from 1, ties sharing their average rank."""
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        result[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(a: FloatArray, b: FloatArray) -> float:
    """Spearman's rank correlation (Pearson on tie-averaged ranks); 1.0 when either side
    is constant, since the ranking then carries no disagreement."""
    ra, rb = ranks(a), ranks(b)
    da, db = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float(np.sum(da * da) * np.sum(db * db)))
    return 1.0 if denominator == 0 else float(np.sum(da * db) / denominator)


def kendall(a: FloatArray, b: FloatArray) -> float:
    """Kendall's tau-b over every pair (the samples here are small)."""
    sa = np.sign(a[:, None] - a[None, :])
    sb = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    sa, sb = sa[upper], sb[upper]
    concordance = float(np.sum(sa * sb))
    denominator = math.sqrt(float(np.sum(sa != 0)) * float(np.sum(sb != 0)))
    return 1.0 if denominator == 0 else concordance / denominator


def pareto(points: FloatArray) -> list[int]:
    """Indices of the rows of `points` [n, m] (all minimised) that no other row dominates,
    in row order."""
    keep = []
    for i in range(len(points)):
        others = np.delete(points, i, axis=0)
        dominated = np.any(np.all(others <= points[i], axis=1)
                           & np.any(others < points[i], axis=1))
        if not dominated:
            keep.append(i)
    return keep
