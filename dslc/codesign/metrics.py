"""What a co-design optimises: metrics of a pair, the objective, constraints, accuracy,
rank statistics and Pareto fronts.

In: a pair's measured figures (`Metrics`), the request's `ObjectiveSpec` and
`ConstraintSpec`s, an accuracy CSV. Out: objective values (lower is better), feasibility,
accuracies by network design, Spearman and Kendall rank correlations (numpy, ties
averaged / tau-b) and Pareto-optimal subsets; and whether the objective is monotone in the
metrics that are known before evaluation only as lower bounds (`objective_monotone`), with
the objective over arrays of metrics (`objective_values`). It does not evaluate designs.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dslc.codesign.designs import Design
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.spec.codesign import (
    AccuracyTableError,
    BinaryOp,
    Constant,
    ConstraintSpec,
    MetricRef,
    ObjectiveSpec,
    parse_accuracy,
    parse_decimal,
    read_accuracy_table,
)

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


Expression = MetricRef | Constant | BinaryOp
T = TypeVar("T")


def fold_expression(node: Expression, metric: Callable[[str], T], constant: Callable[[float], T],
                    apply: Callable[[str, T, T], T]) -> T:
    """An objective expression evaluated bottom-up: `metric(name)` at metrics,
    `constant(value)` at numbers, `apply(op, left, right)` at `+ - * / ^`. Scalars, numpy
    arrays and torch tensors (the differentiable search) each bring their own `apply`."""
    if isinstance(node, MetricRef):
        return metric(node.name)
    if isinstance(node, Constant):
        return constant(node.value)
    return apply(node.op, fold_expression(node.left, metric, constant, apply),
                 fold_expression(node.right, metric, constant, apply))


PLAIN_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "^": operator.pow}
"""The operations of an objective expression without guards (torch tensors, for the
differentiable search's gradient); the scalar and array ones guard division and powers."""


def _scalar_op(op: str, left: float, right: float) -> float:
    if op in ("+", "-", "*"):
        return float(PLAIN_OPERATIONS[op](left, right))
    if op == "/":
        if right:
            return left / right
        # The limit from the positive side, where every metric lives: x / 0+ is +inf or
        # -inf by the sign of x (a bound of (0 - accuracy) / energy at an energy bound of 0
        # must be -inf, never above what the pair turns out to be), 0 / 0+ is 0, and an
        # unknown (NaN) stays unknown.
        return math.copysign(math.inf, left) if left and not math.isnan(left) else left * 0.0
    try:
        return math.pow(left, right)
    except OverflowError:  # as numpy's power: an infinite objective ranks last
        return math.inf
    except ValueError:  # a negative base to a fractional power: no real value
        return math.nan


def objective_value(objective: ObjectiveSpec, metrics: Metrics) -> float:
    """The objective as a value to minimise (maximised objectives are negated; NaN, e.g.
    an unknown accuracy, ranks last)."""
    value = fold_expression(objective.expression, metrics.value, float, _scalar_op)
    if math.isnan(value):
        return math.inf
    return -value if objective.sense == "maximize" else value


BOUNDED = ("energy", "latency", "cycles", "edp")
"""Metrics known before evaluation only as lower bounds (dslc.codesign.bounds); area and
accuracy are known exactly from the designs."""

Direction = str
"""How an expression moves when one bounded metric grows: `up` (never down), `down`
(never up), `flat` (not at all) or `any`."""
Sign = str
"""The sign an expression can take: `+` (never negative), `-` (never positive), `0`, `?`."""


@dataclass(frozen=True, slots=True)
class _Shape:
    sign: Sign
    directions: tuple[Direction, ...]
    """One per BOUNDED metric."""

    @property
    def constant(self) -> bool:
        return all(d == "flat" for d in self.directions)


def _join(a: Direction, b: Direction) -> Direction:
    if a == "flat":
        return b
    if b == "flat" or a == b:
        return a
    return "any"


def _flip(d: Direction) -> Direction:
    return {"up": "down", "down": "up"}.get(d, d)


def _negate(shape: _Shape) -> _Shape:
    sign = {"+": "-", "-": "+"}.get(shape.sign, shape.sign)
    return _Shape(sign, tuple(_flip(d) for d in shape.directions))


def _add(a: _Shape, b: _Shape) -> _Shape:
    sign = a.sign if a.sign == b.sign or b.sign == "0" else b.sign if a.sign == "0" else "?"
    return _Shape(sign, tuple(_join(x, y) for x, y in zip(a.directions, b.directions,
                                                          strict=True)))


def _scale(shape: _Shape, sign: Sign) -> tuple[Direction, ...]:
    if sign == "0":
        return tuple("flat" for _ in shape.directions)
    if sign == "+":
        return shape.directions
    if sign == "-":
        return tuple(_flip(d) for d in shape.directions)
    return tuple("flat" if d == "flat" else "any" for d in shape.directions)


def _product_sign(a: Sign, b: Sign) -> Sign:
    if "0" in (a, b):
        return "0"
    if "?" in (a, b):
        return "?"
    return "+" if a == b else "-"


def _multiply(a: _Shape, b: _Shape) -> _Shape:
    sign = _product_sign(a.sign, b.sign)
    if a.constant:
        return _Shape(sign, _scale(b, a.sign))
    if b.constant:
        return _Shape(sign, _scale(a, b.sign))
    if a.sign in "+-" and b.sign in "+-":
        # |a| |b| with both factors of fixed sign: each grows where its magnitude does.
        magnitude = tuple(_join(x, y) for x, y in zip(_scale(a, a.sign), _scale(b, b.sign),
                                                      strict=True))
        return _Shape(sign, magnitude if sign == "+" else tuple(_flip(d) for d in magnitude))
    return _Shape(sign, tuple("flat" if x == y == "flat" else "any"
                              for x, y in zip(a.directions, b.directions, strict=True)))


def _shape(node: MetricRef | Constant | BinaryOp,
           tracked: tuple[str, ...] = BOUNDED) -> _Shape:
    """The sign of an expression and its direction in each `tracked` metric (every metric
    is never negative)."""
    if isinstance(node, MetricRef):
        return _Shape("+", tuple("up" if m == node.name else "flat" for m in tracked))
    if isinstance(node, Constant):
        sign = "+" if node.value > 0 else "-" if node.value < 0 else "0"
        return _Shape(sign, tuple("flat" for _ in tracked))
    left, right = _shape(node.left, tracked), _shape(node.right, tracked)
    if node.op == "+":
        return _add(left, right)
    if node.op == "-":
        return _add(left, _negate(right))
    if node.op == "*":
        return _multiply(left, right)
    if node.op == "/":
        # 1/b falls where b rises, on either side of zero (a zero divisor gives the limit
        # from the positive side, where every metric lives: x / 0 is inf with x's sign).
        inverse = _Shape(right.sign, tuple(_flip(d) for d in right.directions)) \
            if right.sign in "+-" else _Shape("?", _scale(right, "?"))
        return _multiply(left, inverse)
    if isinstance(node.right, Constant) and (left.sign == "+" or left.constant):
        power = node.right.value
        if left.constant:
            return _Shape("?", left.directions)
        return _Shape("+", _scale(left, "+" if power > 0 else "-" if power < 0 else "0"))
    return _Shape("?", tuple("flat" if x == y == "flat" else "any"
                             for x, y in zip(left.directions, right.directions, strict=True)))


def objective_monotone(objective: ObjectiveSpec) -> tuple[bool, str]:
    """Whether the value to minimise never decreases when energy, latency, cycles or EDP
    grows (area and accuracy are known exactly): then lower bounds on those give a lower
    bound on the objective. The second item says why not, when not."""
    shape = _shape(objective.expression)
    if objective.sense == "maximize":
        shape = _negate(shape)
    bad = [m for m, d in zip(BOUNDED, shape.directions, strict=True) if d in ("down", "any")]
    if not bad:
        return True, ""
    return False, (f"`{objective.sense} {objective.text}` can improve when "
                   f"{' or '.join(bad)} grows, so lower bounds on them do not bound it")


def accuracy_direction(objective: ObjectiveSpec) -> Direction:
    """How the value to minimise moves when accuracy grows, every other metric held: `up`,
    `down`, `flat` or `any`. With `objective_monotone`, an accuracy known only to lie in
    [0, 1] then bounds the objective at 0 (`up`) or 1 (`down`, `flat`); `any` bounds it
    nowhere."""
    shape = _shape(objective.expression, ("accuracy",))
    if objective.sense == "maximize":
        shape = _negate(shape)
    return shape.directions[0]


def _array_op(op: str, left: FloatArray, right: FloatArray) -> FloatArray:
    with np.errstate(all="ignore"):
        if op in ("+", "-", "*"):
            return np.asarray(PLAIN_OPERATIONS[op](left, right), dtype=np.float64)
        if op == "/":  # a zero divisor as in _scalar_op
            limit = np.where(left > 0, np.inf, np.where(left < 0, -np.inf, left * 0.0))
            return np.where(right != 0, left / np.where(right != 0, right, 1.0), limit)
        return np.asarray(np.power(left, right), dtype=np.float64)


def objective_values(objective: ObjectiveSpec, values: dict[str, FloatArray], *,
                     unknown: float = math.inf) -> FloatArray:
    """`objective_value` over arrays of metrics (keyed by metric name, broadcasting); a NaN
    (an unknown accuracy) becomes `unknown`: inf ranks it last, NaN leaves it unknown."""
    value = fold_expression(objective.expression, values.__getitem__,
                            lambda c: np.asarray(c, dtype=np.float64), _array_op)
    value = -value if objective.sense == "maximize" else value
    return np.where(np.isnan(value), unknown, value)


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
    """Accuracies from a CSV: an `accuracy` column (a fraction, a percentage above 1, or
    with a `%` sign) and either a `network` column (a space name or a design label) or one
    column per network parameter. Networks the table does not list are absent from the result."""
    try:
        header, rows = read_accuracy_table(path)
    except AccuracyTableError as exc:
        raise AccuracyError(f"cannot read the accuracy table {exc}") from None
    if "accuracy" not in header:
        raise AccuracyError(f"the accuracy table {path} needs an `accuracy` column")
    found: dict[Design, float] = {}
    for _number, row in rows:
        accuracy = parse_accuracy(row["accuracy"])
        assert accuracy is not None  # read_accuracy_table checked every accuracy cell
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
            if parse_decimal(text) != float(value):
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
    """Kendall's tau-b over every pair; 1.0 when either side is constant (as `spearman`),
    NaN when a value is NaN. In n log n time and linear memory (`_discordant`): it formed
    n x n sign matrices, 240 GB for the 10^5 held-out pairs `heldout_pairs` allows."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.isnan(a).any() or np.isnan(b).any():
        return math.nan
    n = len(a)
    pairs = n * (n - 1) // 2
    tied_a, tied_b = _tied_pairs(a), _tied_pairs(b)
    tied_both = _tied_pairs(np.stack([a, b], axis=1))
    discordant = _discordant(a, b)
    concordance = (pairs - tied_a - tied_b + tied_both) - 2 * discordant  # C - D
    denominator = math.sqrt(float(pairs - tied_a) * float(pairs - tied_b))
    return 1.0 if denominator == 0 else float(concordance) / denominator


def _tied_pairs(values: FloatArray) -> int:
    """Pairs of equal values (rows, for a 2-D array)."""
    if len(values) == 0:
        return 0
    _, counts = np.unique(values, axis=0, return_counts=True)
    return int(np.sum(counts * (counts - 1) // 2))


def _discordant(a: FloatArray, b: FloatArray) -> int:
    """Pairs with a_i < a_j and b_i > b_j: inversions of b's ranks in (a, b) order (ties
    in a sorted by b, so none of them counts), counted one bit of the rank at a time from
    the highest: a pair is counted at the first bit where the ranks differ, within the
    group of elements sharing the bits above it, as a 1 before a 0."""
    if len(a) < 2:
        return 0
    order = np.lexsort((b, a))
    ranks = np.unique(b, return_inverse=True)[1].reshape(-1)[order].astype(np.int64)
    found = 0
    for level in range(int(ranks.max()).bit_length() - 1, -1, -1):
        group = ranks >> (level + 1)
        bit = (ranks >> level) & 1
        within = np.argsort(group, kind="stable")
        g, ones = group[within], bit[within]
        seen = np.cumsum(ones)
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        before = seen - np.repeat(seen[starts] - ones[starts], np.diff(np.r_[starts, len(g)]))
        found += int(np.sum(before[ones == 0]))
    return found


def _front_of_three(rows: FloatArray) -> npt.NDArray[np.bool_]:
    """`pareto` of distinct rows of three columns in lexicographic order: a row is dominated
    exactly when an earlier one is no larger in the second and third columns, which a
    Fenwick tree of the least third column by rank of the second answers in log time."""
    ranks = np.searchsorted(np.unique(rows[:, 1]), rows[:, 1]).tolist()
    thirds = np.unique(rows[:, 2])
    # The third column by rank too, so that `none` (no earlier row) is above every value,
    # an infinite one included.
    none = len(thirds)
    least = [none] * (len(rows) + 1)
    on_front = np.zeros(len(rows), dtype=bool)
    for i, (rank, z) in enumerate(zip(ranks, np.searchsorted(thirds, rows[:, 2]).tolist(),
                                      strict=True)):
        position, below = rank + 1, none
        while position > 0:  # the least third column of earlier rows of rank <= this one's
            below = min(below, least[position])
            position -= position & -position
        on_front[i] = z < below
        position = rank + 1
        while position < len(least):
            least[position] = min(least[position], z)
            position += position & -position
    return on_front


def pareto(points: FloatArray) -> list[int]:
    """Indices of the rows of `points` [n, m] (all minimised) that no other row dominates,
    in row order. Equal rows do not dominate each other, so the front is found over the
    distinct rows and holds every copy of its rows. In lexicographic order a row comes after
    every row that dominates it, and a dominated row's dominators are dominated by a row of
    the front too, so each row is compared with the front found before it only (with two
    columns, with the least second column so far): comparing every row with every other
    made this quadratic, minutes for the 100,000 pairs a run may evaluate."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return []
    rows, inverse = np.unique(points, axis=0, return_inverse=True)  # lexicographic order
    inverse = inverse.reshape(-1)
    on_front = np.zeros(len(rows), dtype=bool)
    if rows.shape[1] == 2 and not np.isnan(rows).any():
        # Distinct rows by first, then second column: a row is dominated exactly when an
        # earlier one has a second column no larger.
        earlier = np.minimum.accumulate(np.concatenate([[np.inf], rows[:-1, 1]]))
        on_front = rows[:, 1] < earlier
        on_front[0] = True  # nothing comes before the first (its second column may be inf)
    elif rows.shape[1] == 3 and not np.isnan(rows).any():
        on_front = _front_of_three(rows)
    else:
        front = np.empty_like(rows)
        size = 0
        for i, row in enumerate(rows):
            kept = front[:size]
            if size and np.any(np.all(kept <= row, axis=1) & np.any(kept < row, axis=1)):
                continue
            front[size] = row
            size += 1
            on_front[i] = True
    return np.flatnonzero(on_front[inverse]).tolist()
