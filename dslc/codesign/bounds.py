"""Bounds on every (network, accelerator) pair of a request, computed in bulk.

In: a `Request` (dslc.codesign.request), its designs' concrete specs (`Instances`), the
lowered networks and resolved accelerators. Out: `PairBounds`, matrices over network x
accelerator designs: lower bounds on energy, cycles, latency and EDP (sums of the layer
bounds of dslc.cost.bounds over each network's layers), the exact area of each accelerator
and accuracy of each network, which pairs a constraint already rules out, and, when the
objective is monotone in the bounded metrics (dslc.codesign.metrics.objective_monotone), a
lower bound on every pair's objective. A pair whose bound is infinite has no valid mapping of
some layer at all.

Everything is arrays: one layer-bound computation per distinct loop nest (vectorised over
the accelerators), then a matrix product with the networks' layer counts. It does not
evaluate pairs nor decide what to evaluate (dslc.codesign.planner).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel, resolve_accelerator
from dslc.codesign.designs import Design, Instances
from dslc.codesign.metrics import (
    BOUNDED,
    accuracy_direction,
    objective_monotone,
    objective_values,
)
from dslc.codesign.request import Request
from dslc.cost.bounds import arch_table, layer_bounds
from dslc.lower.lower import LoweredNetwork, lower_network
from dslc.lower.problem import Problem
from dslc.spec.codesign import CoDesignSpec, ConstraintSpec, TrainedAccuracy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PairBounds:
    """Per pair [network, accelerator] (designs in the request's order)."""

    energy_pj: FloatArray
    cycles: FloatArray
    latency_s: FloatArray
    edp: FloatArray
    area_mm2: FloatArray
    """[accelerator] exact."""
    accuracy: FloatArray
    """[network] exact where known, NaN elsewhere."""
    feasible: BoolArray
    """False where a constraint is already broken by a bound or an exact metric, or where
    some layer has no valid mapping on the accelerator at all."""
    broken_by: tuple[tuple[str, int], ...]
    """For each constraint as written, how many pairs it rules out alone."""
    objective: FloatArray | None
    """A lower bound on each pair's objective (the value to minimise), inf where the pair is
    infeasible; None when the objective is not monotone in the bounded metrics."""
    monotone_note: str
    """Why `objective` is None (empty when it is not)."""
    closest: tuple[int, int, tuple[str, ...], float] | None = None
    """The pair (network index, accelerator index) whose bounds and exact metrics come
    closest to meeting every constraint: the smallest worst ratio of bound to limit (`<=`)
    or limit to value (`>=`, exact metrics only), with the constraints its bounds break and
    that ratio; None without constraints or when every pair has a layer with no mapping."""
    has_macs: BoolArray | None = None
    """[network] whether it has a MAC layer (one without occupies no area); None: all do."""
    assumed_accuracy: float | None = None
    """The accuracy `objective` takes for a network whose accuracy is still to be trained
    (`pending`): the value in [0, 1] most favourable to the objective, 1 when it falls as
    accuracy grows (`edp / accuracy`, `maximize accuracy`), 0 when it rises; None when no
    accuracy is assumed (none is pending, the objective does not use accuracy, or it is not
    monotone in it: those pairs' bound is then NaN, no bound)."""

    @property
    def shape(self) -> tuple[int, int]:
        rows, columns = self.energy_pj.shape
        return rows, columns

    @property
    def ruled_out(self) -> int:
        """Pairs the constraints (or an impossible layer) rule out before any evaluation."""
        return int((~self.feasible).sum())


def _metric_arrays(bounds: PairBounds) -> dict[str, FloatArray]:
    return {"energy": bounds.energy_pj, "latency": bounds.latency_s, "cycles": bounds.cycles,
            "edp": bounds.edp, "area": bounds.area_mm2[None, :],
            "accuracy": bounds.accuracy[:, None]}


def _breaks(constraint: ConstraintSpec, values: FloatArray, *,
            pending: bool = False) -> BoolArray:
    """Where a constraint is broken: for a bounded metric `values` is a lower bound, so
    only `<`, `<=` and `==` can be decided; area and accuracy are exact. An unknown
    accuracy (NaN) breaks any bound, unless `pending`: it is to be trained, and nothing is
    decided about it yet."""
    bound = constraint.value
    op = constraint.op
    with np.errstate(invalid="ignore"):
        if constraint.metric in BOUNDED:
            if op == "<=" or op == "==":
                return np.asarray(values > bound)
            if op == "<":
                return np.asarray(values >= bound)
            return np.zeros(values.shape, dtype=bool)
        ok = {"<=": values <= bound, "<": values < bound, ">=": values >= bound,
              ">": values > bound, "==": values == bound}[op]
        if pending:
            return np.asarray(~ok & ~np.isnan(values))
        return np.asarray(~ok | np.isnan(values))  # an unknown accuracy breaks any bound


def _ratio(constraint: ConstraintSpec, values: FloatArray) -> FloatArray:
    """How far each pair is from a constraint, as bound (or exact value) over limit for `<`,
    `<=` and `==`, limit over value for `>`, `>=` and `==` on exact metrics: > 1 where it is
    broken; 1 where a bound cannot tell (a lower bound against a `>=`), inf where unknown."""
    limit = constraint.value
    op = constraint.op
    with np.errstate(invalid="ignore", divide="ignore"):
        over = values / limit if limit > 0 else np.where(values > limit, np.inf, 0.0)
        under = np.where(values > 0, limit / np.where(values > 0, values, 1.0), np.inf)
        if constraint.metric in BOUNDED:
            ratio = over if op in ("<=", "<", "==") else np.ones(values.shape)
        else:
            ratio = {"<=": over, "<": over, ">=": under, ">": under}.get(
                op, np.maximum(over, under))
    return np.asarray(np.where(np.isnan(ratio), np.inf, ratio), dtype=np.float64)


def _closest(spec: CoDesignSpec, values: dict[str, FloatArray], impossible: BoolArray,
             broken: Sequence[BoolArray]) -> tuple[int, int, tuple[str, ...], float] | None:
    """`PairBounds.closest`: the first pair in space order with the smallest worst ratio."""
    if not spec.constraints:
        return None
    worst = np.zeros(impossible.shape)
    for constraint in spec.constraints:
        worst = np.maximum(worst, np.broadcast_to(_ratio(constraint, values[constraint.metric]),
                                                  impossible.shape))
    worst = np.where(impossible, np.inf, worst)
    i, j = np.unravel_index(int(np.argmin(worst)), worst.shape)
    if impossible[i, j]:
        return None
    breaks = tuple(c.text for c, mask in zip(spec.constraints, broken, strict=True)
                   if mask[i, j])
    return int(i), int(j), breaks, float(worst[i, j])


def exact_sums(usage: FloatArray, values: IntArray) -> FloatArray:
    """`usage @ values` (whole counts [networks, problems] times integers [problems,
    accelerators]) summed exactly, each sum then rounded once to float64. A network's
    cycles are the exact integer sum of its layers' (dslc.mapper.network), so a bound summed
    in floating point could round above them (three layers bounded at 2^53 + 3 cycles sum
    to 3 x 2^53 + 9, which rounds to 3 x 2^53 + 8, where a float64 sum gives + 12), and a
    pair that reaches its bound would be ruled out by it. Rounding the exact sum once keeps
    the order: a bound at most the pair's cycles stays at most their float."""
    counts = usage.astype(np.int64)
    if values.size == 0 or counts.size == 0:
        return np.zeros((counts.shape[0], values.shape[1]))
    # int64 is exact while no sum can pass 2^62; past that, Python's integers.
    largest = float(counts.sum(axis=1).max()) * float(np.abs(values).max())
    if largest < 2.0 ** 62:
        return np.asarray(counts @ values, dtype=np.float64)
    exact = counts.astype(object) @ values.astype(object)
    return np.array([[float(v) for v in row] for row in exact], dtype=np.float64)


def pair_bounds(spec: CoDesignSpec, networks: Sequence[Design],
                lowered: Sequence[LoweredNetwork], accelerators: Sequence[Design],
                archs: Sequence[ArchModel], accuracies: dict[Design, float], *,
                imperfect: bool = False, pending: bool = False) -> PairBounds:
    """The bounds of every pair of `networks` (lowered, in the same order) and
    `accelerators` (resolved, in the same order) under the request `spec`. With `pending`
    the accuracies not in `accuracies` are still to be trained (the differentiable strategy
    with `accuracy = trained(...)` trains only the networks it proposes): an accuracy
    constraint rules none of their pairs out (`with_accuracies` adds them once trained)."""
    keys: dict[str, int] = {}
    problems: list[Problem] = []
    rows, columns, counts = [], [], []
    for n, network in enumerate(lowered):
        for key, shared in network.distinct().items():
            if key not in keys:
                keys[key] = len(problems)
                problems.append(shared.problem)
            rows.append(n)
            columns.append(keys[key])
            counts.append(len(shared.layers))
    usage = np.zeros((len(lowered), len(problems)))
    usage[rows, columns] = counts
    table = arch_table(archs)
    energy = np.zeros((len(problems), len(archs)))
    cycles = np.zeros((len(problems), len(archs)), dtype=np.int64)
    for k, problem in enumerate(problems):
        found = layer_bounds(problem, table, imperfect=imperfect)
        energy[k] = found.energy_pj
        cycles[k] = found.cycles
    impossible = (usage > 0).astype(np.float64) @ (~np.isfinite(energy)).astype(np.float64) > 0
    pair_energy = usage @ np.where(np.isfinite(energy), energy, 0.0)
    pair_cycles = exact_sums(usage, np.where(np.isfinite(energy), cycles, 0))
    pair_energy[impossible] = np.inf
    pair_cycles[impossible] = np.inf
    clock = np.array([arch.clock_hz for arch in archs])
    latency = pair_cycles / clock[None, :]
    with np.errstate(invalid="ignore"):
        edp = pair_energy * latency
    has_macs = usage.sum(axis=1) > 0
    area = np.array([arch.area_mm2 for arch in archs])
    accuracy = np.array([accuracies.get(d, math.nan) for d in networks])
    partial = PairBounds(pair_energy, pair_cycles, latency, edp, area, accuracy,
                         np.ones(pair_energy.shape, dtype=bool), (), None, "")
    values = _metric_arrays(partial)
    # A network without MAC layers occupies no area (as its evaluation reports).
    values["area"] = np.where(has_macs[:, None], area[None, :], 0.0)
    feasible = ~impossible
    broken: list[tuple[str, int]] = []
    masks: list[BoolArray] = []
    for constraint in spec.constraints:
        breaks = np.broadcast_to(_breaks(constraint, values[constraint.metric],
                                         pending=pending), pair_energy.shape)
        broken.append((constraint.text, int(breaks.sum())))
        masks.append(breaks)
        feasible = feasible & ~breaks
    closest = None if pair_energy.size == 0 else _closest(spec, values, impossible, masks)
    monotone, note = objective_monotone(spec.objective)
    assumed = _assumed_accuracy(spec) if pending and np.isnan(accuracy).any() else None
    objective = None
    if monotone:
        objective = _objective_bound(spec, values, accuracy, assumed, pending, feasible)
    return PairBounds(pair_energy, pair_cycles, latency, edp, area, accuracy, feasible,
                      tuple(broken), objective, note, closest, has_macs, assumed)


def _assumed_accuracy(spec: CoDesignSpec) -> float | None:
    """`PairBounds.assumed_accuracy` of a request whose accuracies are pending."""
    if not _uses_accuracy(spec.objective.expression):
        return None
    direction = accuracy_direction(spec.objective)
    return {"up": 0.0, "down": 1.0}.get(direction)


def _uses_accuracy(node: object) -> bool:
    from dslc.spec.codesign import BinaryOp, MetricRef

    if isinstance(node, MetricRef):
        return node.name == "accuracy"
    if isinstance(node, BinaryOp):
        return _uses_accuracy(node.left) or _uses_accuracy(node.right)
    return False


def _objective_bound(spec: CoDesignSpec, values: dict[str, FloatArray],
                     accuracy: FloatArray, assumed: float | None, pending: bool,
                     feasible: BoolArray) -> FloatArray:
    """The objective at the bounds, inf where infeasible. An accuracy still to be trained
    (`pending`, NaN) is taken at `assumed`, the value in [0, 1] most favourable to the
    objective (a bound whatever training gives), or gives its pairs no bound (NaN) when
    there is none: inf would say they cannot compete."""
    if pending and assumed is not None:
        values = {**values, "accuracy": np.where(np.isnan(accuracy), assumed,
                                                 accuracy)[:, None]}
    objective = np.broadcast_to(objective_values(spec.objective, values,
                                                 unknown=math.nan if pending else math.inf),
                                feasible.shape).copy()
    objective[~feasible] = np.inf
    return objective


def with_accuracies(bounds: PairBounds, spec: CoDesignSpec,
                    accuracies: dict[int, float]) -> PairBounds:
    """`bounds` (computed with `pending` accuracies) once some networks' accuracies are
    known (network index -> accuracy, e.g. trained stand-alone): their accuracy is set, the
    accuracy constraints rule out the pairs of those that break them, and the objective's
    bound of their pairs takes the accuracy now known (it was taken at `assumed_accuracy`,
    or was NaN: no bound). The accuracies still unknown keep theirs."""
    accuracy = bounds.accuracy.copy()
    for row, value in accuracies.items():
        accuracy[row] = value
    feasible = bounds.feasible.copy()
    broken = dict(bounds.broken_by)
    for constraint in spec.constraints:
        if constraint.metric != "accuracy":
            continue
        breaks = np.broadcast_to(_breaks(constraint, accuracy[:, None], pending=True),
                                 feasible.shape)
        broken[constraint.text] = int(breaks.sum())
        feasible &= ~breaks
    objective = None
    if bounds.objective is not None:
        values = {**_metric_arrays(bounds), "accuracy": accuracy[:, None]}
        if bounds.has_macs is not None:
            values["area"] = np.where(bounds.has_macs[:, None], bounds.area_mm2[None, :], 0.0)
        objective = _objective_bound(spec, values, accuracy, bounds.assumed_accuracy, True,
                                     feasible)
    return dataclasses.replace(bounds, accuracy=accuracy, feasible=feasible,
                               broken_by=tuple(broken.items()), objective=objective)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What bounding a request builds and evaluation reuses: every network design lowered,
    every accelerator design resolved, and the pair bounds."""

    lowered: dict[Design, LoweredNetwork]
    archs: dict[Design, ArchModel]
    bounds: PairBounds


def prepare(request: Request, instances: Instances) -> Prepared:
    """Lower every network design and resolve every accelerator design of a request (each
    built once through `instances`), and bound every pair."""
    spec = request.spec
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    lowered = {d: lower_network(instances.network(d), batch=spec.batch) for d in networks}
    archs = {d: resolve_accelerator(instances.accelerator(d)) for d in accelerators}
    bounds = pair_bounds(spec, networks, [lowered[d] for d in networks], accelerators,
                         [archs[d] for d in accelerators], dict(request.accuracies),
                         imperfect=request.options.imperfect,
                         pending=isinstance(spec.accuracy, TrainedAccuracy)
                         and spec.strategy == "differentiable")
    return Prepared(lowered, archs, bounds)
