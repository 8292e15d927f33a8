"""The differentiable search (DANCE): architecture parameters, a hardware generator, and a
loss of accuracy plus weighted cost through the learned evaluator, trained together.

In: a `TrainedEvaluator` and its `LearnedSpace` (dslc.codesign.dance.evaluator), the request's
objective and constraints, a cost weight, a step count and a seed. Out: `SearchResult`:
the trajectory (per step: loss, expected cost, the most likely network and accelerator)
and the proposed (network, accelerator) pairs ranked by the evaluator, which the caller
re-checks with the exact model (dslc.codesign.dance.strategy): the evaluator's word is never the
answer.

The parts (docs/design/differentiable.md):

- *Architecture parameters*: a logit per value of every network parameter (and per network
  space when the request has several). The probability of a network design is the product
  of its values' softmax probabilities (times its space's); expectations over networks are
  exact sums over the request's (enumerated) network designs.
- *Hardware generator*: an MLP from the architecture parameters' probabilities (every
  parameter's distribution, concatenated) to a logit per value of every accelerator
  parameter: a distribution over each discrete hardware choice. Each step draws SAMPLES
  straight-through Gumbel-softmax choices (hard one-hots forward, soft gradients back,
  temperature annealed from TAU_START to TAU_END) and builds the evaluator's accelerator
  row from them (a numeric parameter's log2 value, a name's one-hot, then the choice's
  one-hot, from which the evaluator looks up the (layer, accelerator) features).
- *Loss*: accuracy loss + cost_weight x E[log objective], the expectation over the networks'
  distribution and the generator's samples, with the objective computed from the
  evaluator's predicted energy, latency and area; a broken constraint adds PENALTY x its
  log excess. The accuracy loss is the expected error (1 - accuracy) when every network's
  accuracy is known (declared or tabled), absent in cost-only mode. With trained accuracy
  the caller passes the supernet's accuracy of every network (`estimates`), which then
  stands for the known accuracy: the same exact expectation and the same penalties.

The proposals, known accuracy or cost-only: the TOP_NETWORKS most likely networks and the
networks the trajectory visited, each with the TOP_ACCELERATORS most likely accelerators
under the generator (the product of its per-parameter probabilities) and the accelerators
the trajectory visited, ranked by the evaluator's predicted objective (predicted-feasible
first). Trained accuracy: pairs from the predicted accuracy-cost front around the search's
choice (`_front_proposals`; every network with every accelerator when there are at most
PREDICT_ALL pairs). `network_costs` is that prediction table, which the strategy's
refinement rounds use too (dslc.codesign.dance.strategy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dslc.codesign.dance.evaluator import (
    LearnedSpace,
    TrainedEvaluator,
    needs_torch,
    objective_of,
    torch_objective,
)
from dslc.codesign.learned import Prediction, TrajectoryStep
from dslc.spec.codesign import Constant, ConstraintSpec, MetricRef, ObjectiveExpr, ObjectiveSpec
from dslc.spec.limits import MAX_CANDIDATES

FloatArray = npt.NDArray[np.float64]

SAMPLES = 8
"""Gumbel-softmax hardware samples per step."""
TAU_START = 2.0
TAU_END = 0.2
ARCH_RATE = 0.1
"""Adam's learning rate for the architecture parameters."""
GENERATOR_RATE = 0.01
"""Adam's learning rate for the generator."""
GENERATOR_HIDDEN = 64
PENALTY = 10.0
"""Loss per unit of log excess over a constraint's limit."""
PREDICT_ALL = 200_000
"""Trained accuracy: the front is predicted over every pair up to this many, else over the
generator's most likely and visited accelerators."""
COST_CELLS = 1 << 16
"""(network, accelerator) pairs `network_costs` predicts at a time."""
TOP_NETWORKS = 4
TOP_ACCELERATORS = 16
BOUNDED = ("energy", "latency", "edp", "area", "cycles")
"""Metrics whose constraints the loss penalises from the evaluator's prediction."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One search: its steps and its proposals, best predicted first."""

    cost_weight: float
    trajectory: tuple[TrajectoryStep, ...]
    proposals: tuple[tuple[int, int, Prediction, bool], ...]
    """(network index, accelerator index, the evaluator's prediction, predicted feasible),
    best predicted first."""
    network_probabilities: npt.NDArray[np.float64]
    """The final distribution over the network designs."""


def _network_digits(space: LearnedSpace) -> tuple[list[str], list[list[tuple[str, list[Any]]]],
                                                   npt.NDArray[np.int64],
                                                   list[npt.NDArray[np.int64]]]:
    """The network spaces, each one's parameters with their values, each design's space
    index and its digits per parameter of its space."""
    spaces = sorted({d.space for d in space.networks})
    params: list[list[tuple[str, list[Any]]]] = []
    for name in spaces:
        found: dict[str, list[Any]] = {}
        for design in space.networks:
            if design.space != name:
                continue
            for param, value in design.point:
                values = found.setdefault(param, [])
                if value not in values:
                    values.append(value)
        params.append(sorted(found.items()))
    space_of = np.array([spaces.index(d.space) for d in space.networks], dtype=np.int64)
    digits = []
    for s, name in enumerate(spaces):
        rows = np.zeros((len(space.networks), len(params[s])), dtype=np.int64)
        for i, design in enumerate(space.networks):
            if design.space == name:
                point = dict(design.point)
                rows[i] = [values.index(point[param]) for param, values in params[s]]
        digits.append(rows)
    return spaces, params, space_of, digits


def search(trained: TrainedEvaluator, space: LearnedSpace, objective: ObjectiveSpec,
           constraints: tuple[ConstraintSpec, ...], *, cost_weight: float, steps: int,
           seed: int, accuracy: bool, count: int,
           estimates: npt.NDArray[np.float64] | None = None) -> SearchResult:
    """Train the architecture parameters and the generator together (see the module
    docstring) and propose `count` pairs. With `estimates` (trained accuracy: the
    supernet's accuracy of every network design, in `space.networks` order) those stand
    for the accuracies: the accuracy loss is their exact expectation, the accuracy
    constraints are penalties on them, and the proposals come from the predicted front
    (`_front_proposals`)."""
    torch = needs_torch()
    from dslc.learn.train import deterministic

    with deterministic():  # one thread: the same seed, the same search on any machine
        torch.manual_seed(seed)
        noise = torch.Generator().manual_seed(seed)
        spaces, params, space_of, digits = _network_digits(space)
        space_logits = torch.zeros(len(spaces), dtype=torch.float32, requires_grad=True)
        logits = [[torch.zeros(len(values), dtype=torch.float32, requires_grad=True)
                   for _, values in params[s]] for s in range(len(spaces))]
        arch_width = sum(len(values) for s in range(len(spaces)) for _, values in params[s]) + \
            (len(spaces) if len(spaces) > 1 else 0)
        encoding = space.encoding
        widths = [len(p.values) for p in encoding.params]
        generator = torch.nn.Sequential(
            torch.nn.Linear(arch_width, GENERATOR_HIDDEN), torch.nn.Tanh(),
            torch.nn.Linear(GENERATOR_HIDDEN, sum(widths))).float()
        with torch.no_grad():
            generator[2].weight.mul_(0.1)
            generator[2].bias.zero_()
        columns = [torch.as_tensor(p.column_values(), dtype=torch.float32)
                   for p in encoding.params]
        networks = torch.as_tensor(space.network_rows, dtype=torch.float32)
        space_index = torch.as_tensor(space_of)
        digit_index = [torch.as_tensor(d) for d in digits]
        accuracies = space.accuracies if estimates is None else np.asarray(estimates, float)
        known = torch.as_tensor(np.nan_to_num(accuracies, nan=0.0), dtype=torch.float32)
        unknown = torch.as_tensor(np.isnan(accuracies))
        design_of = {encoding.digits(d): j for j, d in enumerate(space.accelerators)}
        clock = float(np.median(space.clock_hz))
        optimiser = torch.optim.Adam([
            {"params": [space_logits, *(t for group in logits for t in group)], "lr": ARCH_RATE},
            {"params": list(generator.parameters()), "lr": GENERATOR_RATE}])

        def distribution() -> tuple[Any, Any]:
            """log p over the network designs, and the architecture parameters' input row."""
            log_space = torch.log_softmax(space_logits, 0)
            log_p = log_space[space_index].clone()
            row = [torch.softmax(space_logits, 0)] if len(spaces) > 1 else []
            for s in range(len(spaces)):
                mine = space_index == s
                for k, t in enumerate(logits[s]):
                    log_q = torch.log_softmax(t, 0)
                    log_p = log_p + torch.where(mine, log_q[digit_index[s][:, k]], 0.0)
                    row.append(torch.softmax(t, 0))
            return log_p, torch.cat(row)

        def split(out: Any) -> list[Any]:
            return list(torch.split(out, widths, dim=-1))

        sign = -1.0 if objective.sense == "maximize" else 1.0  # _log_cost minimises
        trajectory: list[TrajectoryStep] = []
        visited_networks: dict[int, None] = {}
        visited_accelerators: dict[int, None] = {}
        for step in range(steps):
            tau = TAU_START * (TAU_END / TAU_START) ** (step / max(1, steps - 1))
            log_p, arch = distribution()
            p = torch.exp(log_p)
            hardware = split(generator(arch))
            rows = []
            for param_logits, values in zip(hardware, columns, strict=True):
                gumbel = -torch.log(-torch.log(
                    torch.rand((SAMPLES, param_logits.shape[0]), generator=noise,
                               dtype=torch.float32).clamp_min(1e-12)))
                soft = torch.softmax((param_logits + gumbel) / tau, -1)
                hard = torch.nn.functional.one_hot(soft.argmax(-1), soft.shape[-1]).float()
                rows.append((hard - soft.detach() + soft) @ values)
            accelerators = torch.cat(rows, dim=-1)  # [SAMPLES, width]
            n, s = networks.shape[0], SAMPLES
            logs = trained.log_metrics_grid(networks, accelerators)  # [n, s, 3]
            cost = _log_cost(torch, objective, logs, clock, known[:, None].expand(n, s))
            cost = cost + _penalty(torch, constraints, logs, clock, known[:, None].expand(n, s),
                                   unknown[:, None].expand(n, s))
            expected = torch.sum(p[:, None] * cost, 0).mean()
            accuracy_loss = torch.sum(p * (1.0 - known)) if accuracy else None
            loss = cost_weight * expected + (accuracy_loss if accuracy_loss is not None else 0.0)
            optimiser.zero_grad()
            loss.backward()
            if all(bool(torch.isfinite(t.grad).all()) for group in optimiser.param_groups
                   for t in group["params"] if t.grad is not None):
                optimiser.step()  # a step whose gradient is not finite would make every next NaN
            loss_value = float(loss.detach())
            accuracy_value = None if accuracy_loss is None else float(accuracy_loss.detach())
            with torch.no_grad():
                choice = int(torch.argmax(p))
                best_hw = tuple(int(torch.argmax(t)) for t in hardware)
                accelerator = design_of[best_hw]
                plain = _log_cost(torch, objective, logs, clock, known[:, None].expand(n, s))
                mean = sign * torch.sum(p[:, None] * plain, 0).mean()
                expected_cost = float(torch.exp(mean))
                if not math.isfinite(expected_cost):  # past float32: in float64, else inf
                    expected_cost = math.exp(min(float(mean), 709.0)) if float(mean) < 709.0 \
                        else math.inf
            visited_networks[choice] = None
            visited_accelerators[accelerator] = None
            trajectory.append(TrajectoryStep(
                step, loss_value, expected_cost, accuracy_value,
                space.networks[choice], space.accelerators[accelerator]))
        with torch.no_grad():
            log_p, arch = distribution()
            p = torch.exp(log_p).numpy()
            hardware = split(generator(arch))
            log_q = np.zeros(len(space.accelerators))
            for k, t in enumerate(hardware):
                probabilities = torch.log_softmax(t, 0).numpy()
                for j, design in enumerate(space.accelerators):
                    log_q[j] += probabilities[encoding.digits(design)[k]]
        top_networks = [int(i) for i in np.argsort(-p, kind="stable")[:TOP_NETWORKS]]
        top_accelerators = [int(j) for j in np.argsort(-log_q, kind="stable")[:TOP_ACCELERATORS]]
        accs = list(dict.fromkeys([*top_accelerators, *visited_accelerators]))
        if estimates is not None:
            if len(space.networks) * len(space.accelerators) <= PREDICT_ALL:
                accs = list(range(len(space.accelerators)))
            costs = network_costs(trained, space, objective, constraints, accuracies, accs)
            proposals = _front_proposals(costs, accuracies, int(np.argmax(p)), count)
            return SearchResult(cost_weight, tuple(trajectory), proposals, p)
        nets = list(dict.fromkeys([*top_networks, *visited_networks]))
        proposals = _best_pairs(trained, space, objective, constraints, nets, accs, count)
        return SearchResult(cost_weight, tuple(trajectory), proposals, p)


def _best_pairs(trained: TrainedEvaluator, space: LearnedSpace, objective: ObjectiveSpec,
                constraints: tuple[ConstraintSpec, ...], nets: list[int], accs: list[int],
                count: int) -> tuple[tuple[int, int, Prediction, bool], ...]:
    """The `count` best of every pair of `nets` x `accs` by the evaluator (predicted feasible
    first, then the objective, then the network's and the accelerator's index), the pairs
    predicted COST_CELLS at a time and only the best `count` kept between them (the
    networks and accelerators the trajectory visited grow with the steps: all pairs at
    once could be 10^10)."""
    best: dict[str, Any] | None = None
    step = max(1, COST_CELLS // max(1, len(accs)))
    columns = np.asarray(accs, dtype=np.int64)
    for start in range(0, len(nets), step):
        rows = np.asarray(nets[start:start + step], dtype=np.int64)
        pairs = np.stack([np.repeat(rows, len(columns)), np.tile(columns, len(rows))], axis=1)
        predicted = trained.predict_pairs(space, pairs)
        accuracy_values = space.accuracies[pairs[:, 0]]
        clock_hz = space.clock_hz[pairs[:, 1]]
        found = {"pairs": pairs, "predicted": predicted, "accuracy": accuracy_values,
                 "values": objective_of(objective, predicted, clock_hz, accuracy_values),
                 "feasible": _feasible(constraints, predicted, clock_hz, accuracy_values)}
        if best is not None:
            found = {key: np.concatenate([best[key], value]) for key, value in found.items()}
        order = np.lexsort((found["pairs"][:, 1], found["pairs"][:, 0], found["values"],
                            ~found["feasible"]))[:count]
        best = {key: value[order] for key, value in found.items()}
    if best is None:
        return ()
    return tuple(
        (int(best["pairs"][k, 0]), int(best["pairs"][k, 1]),
         Prediction(float(best["predicted"][k, 0]), float(best["predicted"][k, 1]),
                    float(best["predicted"][k, 2]), float(best["values"][k]),
                    None if math.isnan(best["accuracy"][k]) else float(best["accuracy"][k])),
         bool(best["feasible"][k]))
        for k in range(len(best["pairs"])))


@dataclass(frozen=True, slots=True)
class NetworkCosts:
    """The evaluator's word on every network with each accelerator considered (trained
    accuracy's proposals and refinement rounds)."""

    pairs: npt.NDArray[np.int64]
    """[rows, 2]: (network index, accelerator index)."""
    predicted: npt.NDArray[np.float64]
    """[rows, 3]: predicted energy (pJ), latency (s), area (mm2)."""
    values: npt.NDArray[np.float64]
    """[rows]: the request's objective from the predicted metrics (lower is better)."""
    feasible: npt.NDArray[np.bool_]
    """[rows]: meets the constraints other than accuracy, by the evaluator's word."""
    accuracy: npt.NDArray[np.float64]
    """[rows]: the accuracy assumed (the supernet's)."""
    ranked: dict[int, tuple[int, ...]]
    """Per network, its rows best first (predicted feasible first, then the objective)."""

    def prediction(self, row: int) -> Prediction:
        return Prediction(float(self.predicted[row, 0]), float(self.predicted[row, 1]),
                          float(self.predicted[row, 2]), float(self.values[row]),
                          float(self.accuracy[row]))

    def cost(self, network: int) -> float:
        """A network's predicted objective on its best accelerator (inf when no
        accelerator is predicted to meet the constraints other than accuracy)."""
        row = self.ranked[network][0]
        return float(self.values[row]) if self.feasible[row] else math.inf

    def rows_of(self, networks: list[int], count: int) -> list[int]:
        """Each network's best row, then each one's second best, ..., to `count` rows."""
        depth = max((len(self.ranked[i]) for i in networks), default=0)
        return [self.ranked[i][r] for r in range(depth) for i in networks
                if r < len(self.ranked[i])][:count]


def network_costs(trained: TrainedEvaluator, space: LearnedSpace, objective: ObjectiveSpec,
                  constraints: tuple[ConstraintSpec, ...], accuracies: npt.NDArray[np.float64],
                  accelerators: list[int], keep: int = MAX_CANDIDATES) -> NetworkCosts:
    """Predict every network with each of `accelerators` and keep each network's `keep`
    best rows (see `NetworkCosts`; the proposals and the refinement rounds take at most
    `candidates` <= MAX_CANDIDATES rows of a network). Networks go COST_CELLS pairs at a
    time, so memory is networks x `keep`, not networks x accelerators (which held every
    pair and sorted them in Python: 10^5 networks with a few hundred accelerators the
    search visited would have been 10^7 rows)."""
    others = tuple(c for c in constraints if c.metric != "accuracy")
    n, m = len(space.networks), len(accelerators)
    keep = max(1, min(keep, m))
    columns = np.asarray(accelerators, dtype=np.int64)
    known = np.asarray(accuracies, dtype=np.float64)
    parts: list[tuple[npt.NDArray[np.int64], FloatArray, FloatArray, npt.NDArray[np.bool_],
                      FloatArray]] = []
    step = max(1, COST_CELLS // max(1, m))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step), dtype=np.int64)
        pairs = np.stack([np.repeat(rows, m), np.tile(columns, len(rows))], axis=1)
        predicted = trained.predict_pairs(space, pairs)
        clock_hz = space.clock_hz[pairs[:, 1]]
        accuracy = known[pairs[:, 0]]
        values = objective_of(objective, predicted, clock_hz, accuracy)
        feasible = _feasible(others, predicted, clock_hz, accuracy)
        # per network, predicted feasible first, then the objective, then the accelerator
        shape = (len(rows), m)
        order = np.lexsort((pairs[:, 1].reshape(shape), values.reshape(shape),
                            ~feasible.reshape(shape)), axis=1)[:, :keep]
        chosen = (order + (np.arange(len(rows)) * m)[:, None]).reshape(-1)
        parts.append((pairs[chosen], predicted[chosen], values[chosen], feasible[chosen],
                      accuracy[chosen]))
    if not parts:
        empty = np.zeros(0)
        return NetworkCosts(np.zeros((0, 2), dtype=np.int64), np.zeros((0, 3)), empty,
                            np.zeros(0, dtype=bool), empty, {})
    pairs, predicted, values, feasible, accuracy = (np.concatenate(p) for p in zip(*parts,
                                                                                  strict=True))
    ranked = {i: tuple(range(i * keep, (i + 1) * keep)) for i in range(n)}
    return NetworkCosts(pairs, predicted, values, feasible, accuracy, ranked)


def _front_proposals(costs: NetworkCosts, accuracies: npt.NDArray[np.float64], choice: int,
                     count: int) -> tuple[tuple[int, int, Prediction, bool], ...]:
    """Trained accuracy's proposals: `count` pairs from the predicted accuracy-cost front,
    centred on the search's choice.

    A network's predicted cost is the objective on its best accelerator (`NetworkCosts`).
    The predicted front: the networks no other network beats in both the supernet's
    accuracy and that cost. The search's choice (`choice`, the most likely network) comes
    first, then the front networks by their distance along the front from the front network
    nearest the choice's accuracy: the one nearest, then one step less accurate (cheaper),
    one step more accurate, two less, two more, ... The supernet's accuracy is an estimate
    (weight sharing ranks, but compresses the top: docs/design/differentiable.md), so both
    sides of the choice are proposed. ceil(count / 2) networks are proposed, each with its
    best predicted accelerator, then their second best in the same order, to `count`
    pairs. "Predicted feasible" in the result ignores accuracy constraints (stand-alone
    training decides those)."""
    # The front: by accuracy descending (cheaper first on ties), keep a network when it is
    # cheaper than every more accurate one; then listed from cheapest to most accurate.
    front: list[int] = []
    cheapest = math.inf
    for i in sorted(costs.ranked, key=lambda i: (-accuracies[i], costs.cost(i), i)):
        if costs.cost(i) < cheapest:
            front.append(i)
            cheapest = costs.cost(i)
    front.reverse()
    networks = [choice]
    if front:
        anchor = min(range(len(front)), key=lambda f: (abs(accuracies[front[f]]
                                                            - accuracies[choice]), f))
        for step in range(len(front)):
            for f in (anchor - step, anchor + step):
                if 0 <= f < len(front) and front[f] not in networks:
                    networks.append(front[f])
    networks = networks[:max(1, math.ceil(count / 2))]
    return tuple((int(costs.pairs[k, 0]), int(costs.pairs[k, 1]), costs.prediction(k),
                  bool(costs.feasible[k])) for k in costs.rows_of(networks, count))


def _metrics(torch: Any, logs: Any, clock: float, accuracy: Any) -> dict[str, Any]:
    energy, latency, area = torch.exp(logs[..., 0]), torch.exp(logs[..., 1]), \
        torch.exp(logs[..., 2])
    return {"energy": energy, "latency": latency, "area": area, "edp": energy * latency,
            "cycles": latency * clock, "accuracy": accuracy}


def _log_cost(torch: Any, objective: ObjectiveSpec, logs: Any, clock: float,
              accuracy: Any) -> Any:
    """The log of the objective to minimise from predicted log metrics. The objective's
    value in float32, then its log, when that is finite everywhere (a minimised objective
    the search's float32 holds); else, and for a maximised one, the log computed in log
    space (`_log_expression`: `energy ^ 8` overflowed float32 and turned every step NaN;
    `maximize 1 / edp` was negative, clamped, and left the search without a gradient),
    negated when maximised. An objective that has no log in log space (a difference, a
    negative constant) and is not positive everywhere is taken through asinh, which keeps
    its order and has a gradient at every sign (its log, clamped at 1e-30, had none where
    the value to minimise was not positive: `minimize 0 - edp` did not move)."""
    value = torch_objective(objective, _metrics(torch, logs, clock, accuracy))
    if objective.sense == "minimize" and bool(torch.isfinite(value).all()) and \
            bool((value > 0).all()):
        return torch.log(value.clamp_min(1e-30))
    logged = _log_expression(torch, objective.expression, logs, clock, accuracy)
    if logged is None:
        return torch.asinh(value)
    found = logged + torch.zeros_like(logs[..., 0])
    return found if objective.sense == "minimize" else -found


def _log_expression(torch: Any, expr: ObjectiveExpr, logs: Any, clock: float,
                    accuracy: Any) -> Any:
    """The log of an objective expression from log metrics, without forming its value:
    products, quotients, constant powers and sums of metrics and positive constants; None
    for any other expression (a difference, a non-positive constant, a power by a metric).
    An unknown accuracy (0) counts as 1e-9, as the loss's penalties take it."""
    if isinstance(expr, MetricRef):
        found = {"energy": logs[..., 0], "latency": logs[..., 1], "area": logs[..., 2],
                 "edp": logs[..., 0] + logs[..., 1],
                 "cycles": logs[..., 1] + math.log(clock)}
        if expr.name == "accuracy":
            return torch.log(torch.clamp(accuracy, min=1e-9))
        return found[expr.name]
    if isinstance(expr, Constant):
        return torch.tensor(math.log(expr.value)) if expr.value > 0 else None
    if expr.op == "^":
        base = _log_expression(torch, expr.left, logs, clock, accuracy)
        if base is None or not isinstance(expr.right, Constant):
            return None
        return expr.right.value * base
    if expr.op == "-":
        return None
    left = _log_expression(torch, expr.left, logs, clock, accuracy)
    right = _log_expression(torch, expr.right, logs, clock, accuracy)
    if left is None or right is None:
        return None
    if expr.op == "*":
        return left + right
    if expr.op == "/":
        return left - right
    return torch.logaddexp(left, right)


def _penalty(torch: Any, constraints: tuple[ConstraintSpec, ...], logs: Any, clock: float,
             accuracy: Any, unknown: Any) -> Any:
    metrics = _metrics(torch, logs, clock, accuracy)
    total = torch.zeros_like(logs[..., 0])
    for constraint in constraints:
        if constraint.value <= 0:
            continue
        limit = math.log(constraint.value)
        if constraint.metric in BOUNDED:
            value = torch.log(metrics[constraint.metric])
        else:  # accuracy: known per network (unknown breaks the bound)
            value = torch.log(torch.clamp(accuracy, min=1e-9))
            total = total + PENALTY * unknown.float()
        if constraint.op in ("<=", "<"):
            total = total + PENALTY * torch.relu(value - limit)
        elif constraint.op in (">=", ">"):
            total = total + PENALTY * torch.relu(limit - value)
        else:
            total = total + PENALTY * torch.abs(value - limit)
    return total


def _feasible(constraints: tuple[ConstraintSpec, ...], predicted: npt.NDArray[np.float64],
              clock_hz: npt.NDArray[np.float64], accuracy: npt.NDArray[np.float64]
              ) -> npt.NDArray[np.bool_]:
    """Whether each pair meets the constraints by the evaluator's word."""
    energy, latency, area = predicted[:, 0], predicted[:, 1], predicted[:, 2]
    values = {"energy": energy, "latency": latency, "area": area, "edp": energy * latency,
              "cycles": latency * clock_hz, "accuracy": accuracy}
    ok = np.ones(len(predicted), dtype=bool)
    for constraint in constraints:
        value = values[constraint.metric]
        with np.errstate(invalid="ignore"):
            if constraint.op == "<=":
                ok &= value <= constraint.value
            elif constraint.op == "<":
                ok &= value < constraint.value
            elif constraint.op == ">=":
                ok &= value >= constraint.value
            elif constraint.op == ">":
                ok &= value > constraint.value
            else:
                ok &= np.isclose(value, constraint.value)
    return ok
