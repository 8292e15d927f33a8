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
  row from them (a numeric parameter's log2 value, a name's one-hot).
- *Loss*: accuracy loss + cost_weight x E[log objective], the expectation over the networks'
  distribution and the generator's samples, with the objective computed from the
  evaluator's predicted energy, latency and area; a broken constraint adds PENALTY x its
  log excess. The accuracy loss is the expected error (1 - accuracy) when every network's
  accuracy is known (declared or tabled), absent in cost-only mode.

The proposals: the TOP_NETWORKS most likely networks and the networks the trajectory
visited, each with the TOP_ACCELERATORS most likely accelerators under the generator (the
product of its per-parameter probabilities) and the accelerators the trajectory visited,
ranked by the evaluator's predicted objective (predicted-feasible first).
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
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.spec.codesign import ConstraintSpec, ObjectiveSpec

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
BATCH = 64
"""Mini-batch of the supernet's training split per step (trained accuracy)."""
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
           seed: int, accuracy: bool, count: int, supernet: Any = None) -> SearchResult:
    """Train the architecture parameters and the generator together (see the module
    docstring) and propose `count` pairs. With a `supernet` (dslc.learn.supernet, trained
    weights, one network space), its architecture logits are the search's (reset to zero
    first) and each step is its `arch_step` on a seeded mini-batch of the training split,
    the cost term added: the accuracy loss is the supernet's cross-entropy, and the
    proposals' accuracies are the supernet's (inherited weights) for ranking them."""
    torch = needs_torch()
    torch.manual_seed(seed)
    noise = torch.Generator().manual_seed(seed)
    spaces, params, space_of, digits = _network_digits(space)
    space_logits = torch.zeros(len(spaces), dtype=torch.float32, requires_grad=True)
    if supernet is None:
        logits = [[torch.zeros(len(values), dtype=torch.float32, requires_grad=True)
                   for _, values in params[s]] for s in range(len(spaces))]
    else:
        logits = [_supernet_logits(torch, supernet, params)]
        train_x, train_y = supernet.data.split("train")
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
    known = torch.as_tensor(np.nan_to_num(space.accuracies, nan=0.0), dtype=torch.float32)
    unknown = torch.as_tensor(np.isnan(space.accuracies))
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

    # With a supernet the accuracy is its loss's business, not a penalty's.
    penalised = constraints if supernet is None else tuple(
        c for c in constraints if c.metric != "accuracy")
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
        cost = cost + _penalty(torch, penalised, logs, clock, known[:, None].expand(n, s),
                               unknown[:, None].expand(n, s))
        expected = torch.sum(p[:, None] * cost, 0).mean()
        if supernet is not None:
            rows_batch = torch.randint(0, len(train_y), (BATCH,), generator=noise)
            total, _ = supernet.arch_step(train_x[rows_batch], train_y[rows_batch], optimiser,
                                          tau=tau, generator=noise,
                                          extra=cost_weight * expected)
            loss_value = total
            accuracy_value: float | None = total - float(cost_weight * expected.detach())
        else:
            accuracy_loss = torch.sum(p * (1.0 - known)) if accuracy else None
            loss = cost_weight * expected + (accuracy_loss if accuracy_loss is not None
                                             else 0.0)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            loss_value = float(loss.detach())
            accuracy_value = None if accuracy_loss is None else float(accuracy_loss.detach())
        with torch.no_grad():
            choice = int(torch.argmax(p))
            best_hw = tuple(int(torch.argmax(t)) for t in hardware)
            accelerator = design_of[best_hw]
            plain = _log_cost(torch, objective, logs, clock, known[:, None].expand(n, s))
            expected_cost = float(torch.exp(torch.sum(p[:, None] * plain, 0).mean()))
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
    nets = list(dict.fromkeys([*top_networks, *visited_networks]))
    accs = list(dict.fromkeys([*top_accelerators, *visited_accelerators]))
    pairs = np.array([(i, j) for i in nets for j in accs], dtype=np.int64)
    predicted = trained.predict_pairs(space, pairs)
    accuracy_values = space.accuracies[pairs[:, 0]]
    if supernet is not None:
        inherited = {i: supernet.accuracy(dict(space.networks[i].point)) for i in nets}
        accuracy_values = np.array([inherited[int(i)] for i in pairs[:, 0]])
    clock_hz = space.clock_hz[pairs[:, 1]]
    values = objective_of(objective, predicted, clock_hz, accuracy_values)
    feasible = _feasible(constraints, predicted, clock_hz, accuracy_values)
    order = sorted(range(len(pairs)), key=lambda k: (not feasible[k], values[k],
                                                      int(pairs[k, 0]), int(pairs[k, 1])))
    proposals = tuple(
        (int(pairs[k, 0]), int(pairs[k, 1]),
         Prediction(float(predicted[k, 0]), float(predicted[k, 1]), float(predicted[k, 2]),
                    float(values[k]), None if math.isnan(accuracy_values[k])
                    else float(accuracy_values[k])), bool(feasible[k]))
        for k in order[:count])
    return SearchResult(cost_weight, tuple(trajectory), proposals, p)


def _supernet_logits(torch: Any, supernet: Any, params: list[list[tuple[str, list[Any]]]]
                     ) -> list[Any]:
    """The supernet's architecture logits in the search's parameter order (reset to zero:
    each search starts uniform)."""
    if len(params) != 1:
        raise CannotRunError("the differentiable strategy with trained accuracy searches one "
                             "network space (its supernet)")
    names = list(supernet.param_names)
    found = []
    for name, values in params[0]:
        k = names.index(name)
        if tuple(values) != tuple(supernet.param_values[k]):
            raise CannotRunError(f"the supernet orders the values of `{name}` differently "
                                 "(a bug in dslc)")
        with torch.no_grad():
            supernet.arch_logits[k].zero_()
        found.append(supernet.arch_logits[k])
    for bank in supernet.banks.parameters():
        bank.requires_grad_(False)  # the search moves architecture parameters only
    return found


def _metrics(torch: Any, logs: Any, clock: float, accuracy: Any) -> dict[str, Any]:
    energy, latency, area = torch.exp(logs[..., 0]), torch.exp(logs[..., 1]), \
        torch.exp(logs[..., 2])
    return {"energy": energy, "latency": latency, "area": area, "edp": energy * latency,
            "cycles": latency * clock, "accuracy": accuracy}


def _log_cost(torch: Any, objective: ObjectiveSpec, logs: Any, clock: float,
              accuracy: Any) -> Any:
    """The log of the objective from predicted log metrics (a sum of logs for the usual
    products, so that no value overflows)."""
    value = torch_objective(objective, _metrics(torch, logs, clock, accuracy))
    return torch.log(torch.clamp(value, min=1e-30))


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
