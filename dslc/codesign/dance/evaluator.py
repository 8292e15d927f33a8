"""The learned cost evaluator: predicts what the exact cost model gives a pair, layer by layer.

In: a co-design `Request`, its `PairEvaluator` (the exact model, with its result store) and
the request's `differentiable` settings. Out: a `TrainedEvaluator` (a per-layer MLP, an area
MLP, their normalisation and the space's distinct layers) and its `EvaluatorQuality`.

Pairs are drawn with the settings' seed, in groups of one accelerator and several networks
(a layer searched on an accelerator then serves the group's other networks): a few
accelerators (at most UNSEEN_FRACTION of them, drawn with `DesignSpace.sample`) are never
trained on and carry `heldout_pairs` pairs to test on; the training pairs (`train_fraction`
of all pairs, at least MIN_TRAIN) come from groups on the other accelerators, and
`heldout_pairs` held-out pairs from those groups' accelerators with other networks. All of
them are costed exactly by the mapper through the `PairEvaluator` (so the result store keeps
them, and a rerun or a later exact search reads them back).

The exact model's network energy and cycles are sums over the network's MAC layers, each
distinct layer mapped on its own (dslc.mapper.network); the area is the accelerator's. So the
layer MLP maps a distinct layer's row, an accelerator row and their pair features (the
analytical bounds and traffic estimates, dslc.codesign.dance.features, tabulated over the
accelerator grid) to the log ratio of the layer's energy and latency to their bounds (at
least 0: no mapping beats a bound), trained on the distinct (layer, accelerator)
items of the training pairs (their per-layer figures come with every costed pair: no extra
exact costing), and a pair's prediction is the count-weighted sum of its layers' in linear
space; a small MLP maps the accelerator row to its log area. A trained evaluator is saved
in `directory` under its key (the spaces' spec digests, the pair key's mapper options and
cost model version, the feature, sampling and model versions, the model's sizes and the
settings) and read back instead of trained when the key matches.

It does not search (dslc.codesign.dance.search). torch is imported by the functions that need it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dslc.arch import resolve_accelerator
from dslc.codesign.dance.features import (
    FEATURE_VERSION,
    PAIR_NAMES,
    HardwareEncoding,
    LayerTable,
    hardware_encoding,
    layer_table,
    pair_features,
)
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.learned import EvaluatorQuality
from dslc.codesign.metrics import (
    PLAIN_OPERATIONS,
    fold_expression,
    kendall,
    objective_values,
    spearman,
)
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.lower.lower import lower_network
from dslc.lower.problem import Problem
from dslc.spec.codesign import ObjectiveSpec

FloatArray = npt.NDArray[np.float64]
MIN_TRAIN = 32
"""Fewest pairs the evaluator trains on, whatever the fraction."""
UNSEEN_FRACTION = 0.1
"""At most this fraction of the accelerators is kept out of training, to report how the
evaluator does on new hardware (as few as hold `heldout_pairs` in groups)."""
SAMPLING_VERSION = 2
"""Bumped whenever the draw of pairs changes (part of a saved evaluator's key)."""
PER_ACCELERATOR = 8
"""Fewest networks sampled with each sampled accelerator."""
HIDDEN = 256
"""Width of the layer MLP's hidden layers."""
DEPTH = 3
"""Hidden layers of the layer MLP."""
AREA_HIDDEN = 32
"""Width of the area MLP's one hidden layer."""
STEPS = 4000
"""Adam steps of the layer MLP."""
BATCH = 256
"""Items per step (a seeded draw with replacement)."""
AREA_STEPS = 1500
"""Adam steps of the area MLP (full batch: one row per trained-on accelerator)."""
LEARNING_RATE = 3e-3
SHARE_DRAWS = 0.5
"""Share of the layer MLP's draws made in proportion to the items' shares of their pairs'
energy and latency (`item_weights`); the rest uniform."""
TARGETS = ("energy_pj", "latency_s", "area_mm2")
"""What the evaluator predicts for a pair, each as its natural log."""
LAYER_TARGETS = ("energy_pj", "latency_s")
"""What the layer MLP predicts for a (layer, accelerator), each as its natural log (the
latency is the layer's cycles over the accelerator's clock)."""
GRID_CELLS = 1 << 24
"""(network, accelerator, layer) cells above which `log_metrics_grid` (the search's step)
sums layers by a matrix product (`_log_sum_product`) instead of forming every cell."""
PREDICT_CELLS = 1 << 18
"""(accelerator, layer) cells of one layer-MLP pass, and (row, layer) cells of one sum, in
`TrainedEvaluator.predict` (its hidden activations then take 256 MB)."""
MODEL_VERSION = 4
"""Bumped whenever the model or its training changes (part of a saved evaluator's key): 4
draws half of each mini-batch by the items' shares of their pairs' energy and latency
(`item_weights`); 3 predicts each layer's log ratio to the analytical bounds, at least 0,
from the layer, the accelerator and the (layer, accelerator) features (2 predicted the log
per MAC from the layer and the accelerator; 1 was one MLP from network aggregates)."""


def needs_torch() -> Any:
    """torch, or a CannotRunError saying how to install the learn extra
    (dslc.learn.require)."""
    from dslc.learn import require

    require("the learned evaluator and the differentiable strategy")
    import torch

    return torch


def mape(predicted: FloatArray, exact: FloatArray) -> float:
    """Mean absolute percentage error, as a fraction (0.02 is 2%)."""
    return float(np.mean(np.abs(predicted - exact) / np.abs(exact)))


@dataclass(frozen=True, slots=True)
class LearnedSpace:
    """The request's designs as the evaluator sees them."""

    networks: tuple[Design, ...]
    accelerators: tuple[Design, ...]
    network_rows: FloatArray
    """[networks, layers]: how many of each network's MAC layers are each distinct layer
    (`layers.counts`): the evaluator sums its per-layer predictions with these weights."""
    layers: LayerTable
    """The distinct MAC layers of every network and their features."""
    encoding: HardwareEncoding
    accelerator_rows: FloatArray
    """[accelerators, features]: `encoding.rows`."""
    pair_table: FloatArray
    """[grid cells, layers, len(PAIR_NAMES)]: `features.pair_features` of every distinct
    layer on every cell of the encoding's grid (`HardwareEncoding.grid_shape`); a cell
    that is no design of the space holds the designs' mean."""
    clock_hz: FloatArray
    """[accelerators]: each accelerator's clock (cycles = latency x clock)."""
    accuracies: FloatArray
    """[networks]: the known accuracy of each network (NaN: unknown)."""
    digest: str
    """The spec digests of every design, hashed."""

    @property
    def pairs_total(self) -> int:
        return len(self.networks) * len(self.accelerators)


def learned_space(evaluator: PairEvaluator) -> LearnedSpace:
    """Every design of the evaluator's request, lowered, resolved and encoded."""
    request = evaluator.request
    networks = request.network_designs.designs
    accelerators = request.accelerator_designs.designs
    lowered = []
    for design in networks:
        found = evaluator.lowered.get(design)
        if found is None:
            found = evaluator.lowered[design] = lower_network(
                evaluator.built.network(design), batch=request.spec.batch)
        lowered.append(found)
    table = layer_table(lowered)
    encoding = hardware_encoding(accelerators)
    clocks = []
    archs = []
    for design in accelerators:
        arch = evaluator.archs.get(design)
        if arch is None:
            arch = evaluator.archs[design] = resolve_accelerator(
                evaluator.built.accelerator(design))
        clocks.append(arch.clock_hz)
        archs.append(arch)
    problems: dict[str, Problem] = {}
    for net in lowered:
        for problem in net.problems:
            problems.setdefault(problem.key, problem)
    features = pair_features([problems[key] for key in table.keys], archs,
                             imperfect=request.options.imperfect)
    cells = [encoding.cell(d) for d in accelerators]
    grid: FloatArray = np.broadcast_to(
        features.mean(axis=0), (math.prod(encoding.grid_shape), *features.shape[1:])).copy()
    grid[cells] = features
    digest = hashlib.sha256("|".join(evaluator._digest(d) for d in (*networks, *accelerators))
                            .encode()).hexdigest()[:24]
    accuracies = np.array([request.accuracies.get(d, math.nan) for d in networks])
    return LearnedSpace(networks, accelerators, table.counts, table, encoding,
                        encoding.rows(accelerators), grid, np.array(clocks), accuracies,
                        digest)


@dataclass(frozen=True, slots=True)
class Samples:
    """The pairs costed exactly for the evaluator, as [network index, accelerator index]."""

    train: npt.NDArray[np.int64]
    heldout: npt.NDArray[np.int64]
    unseen: npt.NDArray[np.int64]
    unseen_accelerators: tuple[int, ...]


def draw_samples(space: LearnedSpace, evaluator: PairEvaluator, train_fraction: float,
                 heldout: int, seed: int) -> Samples:
    """The seeded draw of the module docstring (every pair set disjoint). Pairs come in
    groups of one accelerator and `per` networks: a layer searched on an accelerator is
    then reused by the group's other networks (the exact costing is most of the time)."""
    n, a = len(space.networks), len(space.accelerators)
    request = evaluator.request
    index = {d.point: j for j, d in enumerate(space.accelerators)}
    accelerator_space = request.accelerators[space.encoding.space]
    rng = np.random.default_rng(seed)
    train = min(n * a, max(MIN_TRAIN, math.ceil(train_fraction * n * a)))
    per = min(n, max(PER_ACCELERATOR, math.ceil(train / a)))
    count = min(max(1, round(UNSEEN_FRACTION * a)), math.ceil(heldout / per)) \
        if a > 1 else 0
    unseen = tuple(sorted(index[p] for p in accelerator_space.sample(count, seed)))
    seen = [j for j in range(a) if j not in set(unseen)]
    groups = min(len(seen), math.ceil(train / per))
    chosen = sorted(rng.choice(len(seen), size=groups, replace=False).tolist())
    train_pairs: list[tuple[int, int]] = []
    held_pairs: list[tuple[int, int]] = []
    for g, column in enumerate(chosen):
        j = seen[column]
        take = min(per, train - len(train_pairs)) if g < groups - 1 else \
            train - len(train_pairs)
        take = min(take, n)
        # the group's other networks are candidates for the held-out pairs
        order = rng.permutation(n).tolist()
        train_pairs += [(i, j) for i in order[:take]]
        held_pairs += [(i, j) for i in order[take:]]
    pick = rng.choice(len(held_pairs), size=min(heldout, len(held_pairs)), replace=False)
    held = [held_pairs[k] for k in sorted(pick.tolist())]
    unseen_pairs = []
    if unseen:
        per_unseen = math.ceil(heldout / len(unseen))
        for j in unseen:
            networks = sorted(rng.choice(n, size=min(n, per_unseen), replace=False).tolist())
            unseen_pairs += [(i, j) for i in networks]
        unseen_pairs = unseen_pairs[:heldout] if len(unseen_pairs) > heldout else unseen_pairs

    def array(pairs: list[tuple[int, int]]) -> npt.NDArray[np.int64]:
        return _sorted(np.array(pairs, dtype=np.int64).reshape(-1, 2))

    return Samples(array(train_pairs), array(held), array(unseen_pairs), unseen)


def _sorted(pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Pairs by accelerator then network (how the evaluator's chunks go)."""
    if len(pairs) == 0:
        return pairs
    return pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]


def exact_metrics(results: Sequence[PairResult]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """[pairs, 3] energy, latency, area of evaluated pairs, and which have a mapping."""
    values = np.full((len(results), 3), np.nan)
    ok = np.zeros(len(results), dtype=bool)
    for i, result in enumerate(results):
        if result.metrics is not None:
            values[i] = (result.metrics.energy_pj, result.metrics.latency_s,
                         result.metrics.area_mm2)
            ok[i] = True
    return values, ok


def objective_of(objective: ObjectiveSpec, metrics: FloatArray, clock_hz: FloatArray,
                 accuracy: FloatArray) -> FloatArray:
    """The objective to minimise for rows of [energy, latency, area] (numpy)."""
    energy, latency, area = metrics[:, 0], metrics[:, 1], metrics[:, 2]
    return objective_values(objective, {
        "energy": energy, "latency": latency, "area": area, "edp": energy * latency,
        "cycles": latency * clock_hz, "accuracy": accuracy})


def torch_objective(objective: ObjectiveSpec, values: dict[str, Any]) -> Any:
    """The objective to minimise over torch tensors of metrics (keyed as the language
    names them), for the search's gradient: plain tensor arithmetic without the exact
    model's guards, so the gradient flows through every operation."""
    value = fold_expression(objective.expression, values.__getitem__, lambda c: c,
                            lambda op, left, right: PLAIN_OPERATIONS[op](left, right))
    return -value if objective.sense == "maximize" else value


@dataclass(slots=True)
class TrainedEvaluator:
    """The trained per-layer and area MLPs with their normalisation, and the space's
    distinct layers and (layer, accelerator) features; predicts for rows of (layer counts,
    accelerator features).

    A network's energy is the sum of its MAC layers' energies and its cycles the sum of
    theirs (dslc.mapper.network.NetworkMapResult), each layer mapped on its own: so the
    layer MLP predicts one distinct layer's log energy and log latency on an accelerator,
    and a pair's prediction is the count-weighted sum of its layers' (in linear space).
    What it predicts is how far above the analytical lower bounds (dslc.cost.bounds) the
    mapper's answer lies, as a log ratio, at least 0 (no mapping beats the bound): the
    bounds carry the products of access counts and per-access energies an MLP on raw
    parameters learns poorly. Area depends on the accelerator alone: its own MLP."""

    layer_model: Any
    """torch module: [layer row | accelerator value columns | pair features]
    standardised -> 2 standardised log ratios to the bounds (energy, latency)."""
    area_model: Any
    """torch module: accelerator value columns standardised -> standardised log area."""
    layer_rows: Any
    """[layers, features] float32 tensor: the space's distinct layers (`LayerTable.rows`)."""
    layer_log_macs: Any
    """[layers] float32 tensor: the log of each distinct layer's MACs (the pair features
    are per MAC)."""
    pair_table: Any
    """[grid cells, layers, len(PAIR_NAMES)] float32 tensor: `LearnedSpace.pair_table`."""
    grid_shape: Any
    """[parameters] int64 tensor: `HardwareEncoding.grid_shape`."""
    value_columns: Any
    """[columns] int64 tensor: `HardwareEncoding.value_columns`."""
    choice_slices: Any
    """[parameters, 2] int64 tensor: `HardwareEncoding.choice_slices`."""
    x_mean: Any
    x_std: Any
    y_mean: Any
    y_std: Any
    a_mean: Any
    a_std: Any
    area_mean: Any
    area_std: Any

    @property
    def network_width(self) -> int:
        """Columns of a network row: the number of distinct layers."""
        return int(self.layer_rows.shape[0])

    def pair_rows(self, accelerator_rows: Any) -> Any:
        """[accelerators, layers, len(PAIR_NAMES)] the (layer, accelerator) features of each
        accelerator row, looked up from its choice columns. With a gradient to compute, the
        multilinear extension of the table in the one-hots (the same value at a hard
        choice, and a gradient that says what each other value of a parameter would give);
        else a gather at each parameter's chosen value."""
        torch = needs_torch()
        count = accelerator_rows.shape[0]
        shape = [int(d) for d in self.grid_shape.tolist()]
        table = self.pair_table
        choices = [accelerator_rows[:, int(a):int(b)] for a, b in self.choice_slices.tolist()]
        if not choices:
            return table[0][None].expand(count, -1, -1)
        if torch.is_grad_enabled() and accelerator_rows.requires_grad:
            found = choices[0] @ table.reshape(shape[0], -1)
            for k in range(1, len(choices)):
                found = torch.einsum("svr,sv->sr", found.reshape(count, shape[k], -1),
                                     choices[k])
            return found.reshape(count, *table.shape[1:])
        cell = torch.zeros(count, dtype=torch.int64)
        for size, choice in zip(shape, choices, strict=True):
            cell = cell * size + choice.argmax(-1)
        return table[cell]

    def layer_log_metrics(self, accelerator_rows: Any) -> Any:
        """[accelerators, layers, 2] log energy (pJ) and log latency (s) of every distinct
        layer on each accelerator row (torch, differentiable in the rows)."""
        torch = needs_torch()
        count, width = accelerator_rows.shape[0], self.network_width
        pairs = self.pair_rows(accelerator_rows)
        values = accelerator_rows[:, self.value_columns]
        x = torch.cat([self.layer_rows[None].expand(count, width, -1),
                       values[:, None, :].expand(count, width, -1), pairs], dim=-1)
        above = self.layer_model((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean
        bounds = pairs[..., :len(LAYER_TARGETS)] + self.layer_log_macs[None, :, None]
        return bounds + above.clamp_min(0.0)

    def log_area(self, accelerator_rows: Any) -> Any:
        """[accelerators] log area (mm2) (torch, differentiable in the rows)."""
        values = accelerator_rows[..., self.value_columns]
        found = self.area_model((values - self.a_mean) / self.a_std)
        return found[..., 0] * self.area_std + self.area_mean

    def log_metrics(self, network_rows: Any, accelerator_rows: Any) -> Any:
        """[rows, 3] log energy, latency, area of row-aligned network rows (layer counts)
        and accelerator rows (torch, differentiable in both inputs). Costs a layer MLP
        pass per (row, distinct layer): for a product of networks and accelerators use
        `log_metrics_grid`."""
        torch = needs_torch()
        summed = _log_sum(torch, network_rows, self.layer_log_metrics(accelerator_rows))
        return torch.cat([summed, self.log_area(accelerator_rows)[:, None]], dim=-1)

    def log_metrics_grid(self, network_rows: Any, accelerator_rows: Any) -> Any:
        """[networks, accelerators, 3] log energy, latency, area of every network row with
        every accelerator row (torch, differentiable in both): one layer MLP pass per
        (accelerator row, distinct layer), the networks' sums a weighted reduction."""
        torch = needs_torch()
        layers = self.layer_log_metrics(accelerator_rows)  # [a, L, 2]
        cells = network_rows.shape[0] * layers.shape[0] * max(1, layers.shape[1])
        if cells <= GRID_CELLS:
            summed = _log_sum(torch, network_rows[:, None, :], layers[None])  # [n, a, 2]
        else:
            summed = _log_sum_product(torch, network_rows, layers)
        area = self.log_area(accelerator_rows)[None, :, None].expand(
            network_rows.shape[0], -1, -1)
        return torch.cat([summed, area], dim=-1)

    def predict(self, network_rows: FloatArray, accelerator_rows: FloatArray) -> FloatArray:
        """[rows, 3] energy (pJ), latency (s), area (mm2) of row-aligned rows (numpy), on
        one thread (dslc.learn.train.deterministic), as the evaluator was fitted.

        One layer-MLP pass per distinct accelerator row and distinct layer (PREDICT_CELLS
        of them at a time), then each row's count-weighted sum of its own accelerator's
        layers, PREDICT_CELLS (row, layer) cells at a time: memory bounded whatever the
        rows. (It summed every row with every distinct accelerator and kept the diagonal:
        rows x accelerators x layers, 33.6 GB for the 200,000 pairs of
        benchmarks/scale/dance_trained_200k.cd, an internal error; the figures are the
        same, tests/learn/test_dance_memory.py.)"""
        torch = needs_torch()
        from dslc.learn.train import deterministic

        distinct, inverse = np.unique(accelerator_rows, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        width = max(1, self.network_width)
        found: FloatArray = np.empty((len(network_rows), 3))
        with torch.no_grad(), deterministic():  # one thread: the same figures anywhere
            rows = torch.as_tensor(distinct, dtype=torch.float32)
            step = max(1, PREDICT_CELLS // width)
            layers = torch.cat([self.layer_log_metrics(rows[k:k + step])
                                for k in range(0, len(rows), step)]) if len(rows) else \
                torch.zeros((0, width, len(LAYER_TARGETS)))
            area = self.log_area(rows)
            for start in range(0, len(network_rows), step):
                chosen = torch.as_tensor(inverse[start:start + step])
                counts = torch.as_tensor(network_rows[start:start + step],
                                         dtype=torch.float32)
                summed = _log_sum(torch, counts, layers[chosen])  # [rows, 2]
                found[start:start + step, :2] = summed.numpy()
                found[start:start + step, 2] = area[chosen].numpy()
        return np.exp(found)

    def predict_pairs(self, space: LearnedSpace, pairs: npt.NDArray[np.int64]) -> FloatArray:
        return self.predict(space.network_rows[pairs[:, 0]],
                            space.accelerator_rows[pairs[:, 1]])

    def state(self) -> dict[str, Any]:
        return {"layer_model": self.layer_model.state_dict(),
                "area_model": self.area_model.state_dict(), "layer_rows": self.layer_rows,
                "layer_log_macs": self.layer_log_macs, "pair_table": self.pair_table,
                "grid_shape": self.grid_shape, "value_columns": self.value_columns,
                "choice_slices": self.choice_slices,
                "x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean,
                "y_std": self.y_std, "a_mean": self.a_mean, "a_std": self.a_std,
                "area_mean": self.area_mean, "area_std": self.area_std}


def _log_sum(torch: Any, counts: Any, logs: Any) -> Any:
    """log sum_l counts[..., l] exp(logs[..., l, :]) (broadcast), computed from the largest
    counted term so that nothing overflows; differentiable in both."""
    counted = (counts > 0)[..., None]
    top = torch.where(counted, logs, torch.full_like(logs, -1e30)).amax(dim=-2, keepdim=True)
    top = top.detach().clamp_min(-80.0)
    total = torch.sum(counts[..., None] * torch.exp(logs - top), dim=-2)
    return torch.log(total.clamp_min(1e-30)) + top[..., 0, :]


def _log_sum_product(torch: Any, counts: Any, logs: Any) -> Any:
    """[n, a, 2] `_log_sum` of counts [n, L] with logs [a, L, 2] as one matrix product in
    float64, from each accelerator's and metric's largest layer, without the [n, a, L, 2]
    cells `_log_sum` forms (memory n x a, not n x a x L: 10^5 networks of 420 distinct
    layers with the search's 8 samples were 2.7 GB a temporary, several a step). A
    network's sum is then relative to the space's largest layer rather than its own; in
    float64 that loses nothing (layer figures span well under e^700). Differentiable in
    both; float32 out, like `_log_sum`."""
    top = logs.detach().amax(dim=1, keepdim=True)  # [a, 1, 2]
    scaled = torch.exp((logs - top).double())  # [a, L, 2]
    a, width = scaled.shape[0], scaled.shape[1]
    total = counts.double() @ scaled.permute(1, 0, 2).reshape(width, a * 2)  # [n, a * 2]
    total = total.reshape(-1, a, 2)
    return (torch.log(total.clamp_min(1e-300)) + top[:, 0, :].double()[None]).float()


def _mlp(width: int, hidden: int, layers: int, out: int) -> Any:
    torch = needs_torch()
    parts: list[Any] = [torch.nn.Linear(width, hidden), torch.nn.SiLU()]
    for _ in range(layers - 1):
        parts += [torch.nn.Linear(hidden, hidden), torch.nn.SiLU()]
    return torch.nn.Sequential(*parts, torch.nn.Linear(hidden, out)).float()


def _layer_mlp(width: int) -> Any:
    return _mlp(width, HIDDEN, DEPTH, len(LAYER_TARGETS))


def _area_mlp(width: int) -> Any:
    return _mlp(width, AREA_HIDDEN, 1, 1)


def _from_state(state: dict[str, Any]) -> TrainedEvaluator:
    layer_model = _layer_mlp(int(state["x_mean"].shape[0]))
    layer_model.load_state_dict(state["layer_model"])
    layer_model.eval()
    area_model = _area_mlp(int(state["a_mean"].shape[0]))
    area_model.load_state_dict(state["area_model"])
    area_model.eval()
    return TrainedEvaluator(layer_model, area_model, state["layer_rows"],
                            state["layer_log_macs"], state["pair_table"],
                            state["grid_shape"], state["value_columns"],
                            state["choice_slices"], state["x_mean"],
                            state["x_std"], state["y_mean"], state["y_std"], state["a_mean"],
                            state["a_std"], state["area_mean"], state["area_std"])


@dataclass(frozen=True, slots=True)
class SparseCounts:
    """A [pairs, items] count matrix by its nonzero entries (row-major): a training pair
    has a few items of the thousands of its draw, and the dense matrix of 3% of 10^6 pairs
    would take tens of GB."""

    rows: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int64]
    counts: FloatArray
    shape: tuple[int, int]

    @staticmethod
    def from_dense(matrix: FloatArray) -> SparseCounts:
        rows, columns = np.nonzero(matrix)
        return SparseCounts(rows.astype(np.int64), columns.astype(np.int64),
                            np.asarray(matrix[rows, columns], dtype=np.float64),
                            (int(matrix.shape[0]), int(matrix.shape[1])))

    def dense(self) -> FloatArray:
        """The dense matrix (small cases and tests)."""
        found: FloatArray = np.zeros(self.shape)
        found[self.rows, self.columns] = self.counts
        return found


@dataclass(frozen=True, slots=True)
class LayerSamples:
    """What the evaluator trains on, from the exactly costed training pairs: every distinct
    (layer, accelerator) they mapped, with its figures, and each pair as a sum of them."""

    layer: npt.NDArray[np.int64]
    """[items]: the layer (column of the layer table) of each item."""
    accelerator: npt.NDArray[np.int64]
    """[items]: the accelerator (index in the space) of each item."""
    logs: FloatArray
    """[items, 2]: log energy (pJ) and log latency (cycles / clock, s) of each item."""
    pair_counts: SparseCounts
    """[pairs, items]: how many layers of each pair are each item."""
    pair_logs: FloatArray
    """[pairs, 2]: each pair's exact log energy and log latency."""
    area_accelerators: npt.NDArray[np.int64]
    """The distinct accelerators of the pairs (each one's area is known exactly)."""
    area_logs: FloatArray
    """[len(area_accelerators)]: their log areas."""


def layer_samples(space: LearnedSpace, pairs: npt.NDArray[np.int64],
                  results: Sequence[PairResult]) -> LayerSamples:
    """The items of `pairs` (those with a mapping) and their exact figures, read from the
    pairs' per-layer results (no extra exact costing)."""
    column = {key: k for k, key in enumerate(space.layers.keys)}
    items: dict[tuple[int, int], tuple[float, float]] = {}
    pair_items: list[dict[tuple[int, int], float]] = []
    pair_logs: list[tuple[float, float]] = []
    areas: dict[int, float] = {}
    for (_, j), result in zip(pairs.tolist(), results, strict=True):
        metrics = result.metrics
        if metrics is None or min(metrics.energy_pj, metrics.latency_s, metrics.area_mm2,
                                  *(f.energy_pj for f in result.layers),
                                  *(f.cycles for f in result.layers)) <= 0:
            continue  # no mapping, or a figure without a log (a spec charging nothing)
        clock = float(space.clock_hz[j])
        mine: dict[tuple[int, int], float] = {}
        for figure in result.layers:
            item = (column[figure.problem_key], j)
            items.setdefault(item, (math.log(figure.energy_pj),
                                    math.log(figure.cycles / clock)))
            mine[item] = mine.get(item, 0.0) + 1.0
        pair_items.append(mine)
        pair_logs.append((math.log(metrics.energy_pj), math.log(metrics.latency_s)))
        areas[j] = math.log(metrics.area_mm2)
    order = sorted(items, key=lambda item: (item[1], item[0]))
    index = {item: k for k, item in enumerate(order)}
    entries = sorted((p, index[item], count) for p, mine in enumerate(pair_items)
                     for item, count in mine.items())
    counts = SparseCounts(np.array([e[0] for e in entries], dtype=np.int64),
                          np.array([e[1] for e in entries], dtype=np.int64),
                          np.array([e[2] for e in entries], dtype=np.float64),
                          (len(pair_items), len(order)))
    chosen = sorted(areas)
    return LayerSamples(np.array([k for k, _ in order], dtype=np.int64).reshape(-1),
                        np.array([j for _, j in order], dtype=np.int64).reshape(-1),
                        np.array([items[item] for item in order]).reshape(-1, 2), counts,
                        np.array(pair_logs).reshape(-1, 2), np.array(chosen, dtype=np.int64),
                        np.array([areas[j] for j in chosen]))


def _standardise(torch: Any, values: Any) -> tuple[Any, Any]:
    mean, std = values.mean(0), values.std(0, unbiased=False)
    return mean, torch.where(std > 1e-12, std, torch.ones_like(std))


def fit(space: LearnedSpace, samples: LayerSamples, seed: int,
        steps: int = STEPS) -> TrainedEvaluator:
    """Train the layer MLP on the items' log figures per MAC (Adam on seeded mini-batches
    of BATCH items, cosine decay) and the area MLP on the accelerators' log areas
    (full-batch), seeded, on one thread (dslc.learn.train.deterministic: small matrices
    gain nothing from a second thread, and on a loaded machine the threads' waiting cost
    several times the work)."""
    needs_torch()
    from dslc.learn.train import deterministic

    with deterministic():
        return _fit(space, samples, seed, steps)


def encoding_tensors(space: LearnedSpace) -> dict[str, Any]:
    """The space's pair table and where its encoding's columns are, as the tensors a
    `TrainedEvaluator` holds (keyed as its fields)."""
    torch = needs_torch()
    encoding = space.encoding
    assert space.pair_table.shape[2] == len(PAIR_NAMES)
    return {"pair_table": torch.as_tensor(space.pair_table, dtype=torch.float32),
            "grid_shape": torch.as_tensor(encoding.grid_shape, dtype=torch.int64),
            "value_columns": torch.as_tensor(encoding.value_columns, dtype=torch.int64),
            "choice_slices": torch.as_tensor(encoding.choice_slices,
                                             dtype=torch.int64).reshape(-1, 2)}


def _fit(space: LearnedSpace, samples: LayerSamples, seed: int, steps: int
         ) -> TrainedEvaluator:
    torch = needs_torch()
    torch.manual_seed(seed)
    draw = torch.Generator().manual_seed(seed)
    f32 = torch.float32
    encoded = encoding_tensors(space)
    layer_rows = torch.as_tensor(space.layers.rows, dtype=f32)
    values = torch.as_tensor(space.accelerator_rows, dtype=f32)[:, encoded["value_columns"]]
    cells = torch.as_tensor([space.encoding.cell(d) for d in space.accelerators])
    layer = torch.as_tensor(samples.layer)
    accelerator = torch.as_tensor(samples.accelerator)
    pairs = encoded["pair_table"][cells[accelerator], layer]  # [items, len(PAIR_NAMES)]
    x = torch.cat([layer_rows[layer], values[accelerator], pairs], dim=1)
    log_macs = torch.as_tensor(space.layers.log_macs, dtype=f32)
    bounds = pairs[:, :len(LAYER_TARGETS)] + log_macs[layer][:, None]
    y = torch.as_tensor(samples.logs, dtype=f32) - bounds
    x_mean, x_std = _standardise(torch, x)
    y_mean, y_std = _standardise(torch, y)
    inputs, targets = (x - x_mean) / x_std, (y - y_mean) / y_std
    layer_model = _layer_mlp(x.shape[1])
    _train(torch, layer_model, inputs, targets, steps, draw,
           torch.as_tensor(item_weights(samples), dtype=torch.float64))
    a = values[torch.as_tensor(samples.area_accelerators)]
    area = torch.as_tensor(samples.area_logs, dtype=f32)[:, None]
    a_mean, a_std = _standardise(torch, values)
    area_mean, area_std = _standardise(torch, area)
    torch.manual_seed(seed)  # the area MLP's start does not depend on the layer MLP's size
    area_model = _area_mlp(a.shape[1])
    _train(torch, area_model, (a - a_mean) / a_std, (area - area_mean) / area_std,
           AREA_STEPS, draw)
    return TrainedEvaluator(layer_model, area_model, layer_rows, log_macs,
                            encoded["pair_table"], encoded["grid_shape"],
                            encoded["value_columns"], encoded["choice_slices"], x_mean, x_std,
                            y_mean, y_std, a_mean, a_std, area_mean[0], area_std[0])


def item_weights(samples: LayerSamples) -> FloatArray:
    """Each item's weight in the layer MLP's draws: the sum over the training pairs of its
    share of the pair's energy and of its latency (a pair's layers' figures add up to the
    pair's, so a layer holding 90% of a pair's energy moves the pair's error nine times as
    much as one holding 10%), mixed with the uniform weight at SHARE_DRAWS."""
    logs = samples.logs
    counts = samples.pair_counts
    pairs, items = counts.shape
    shares = np.zeros(len(logs))
    for metric in range(logs.shape[1]):
        parts = counts.counts * np.exp(logs[:, metric] - logs[:, metric].max())[counts.columns]
        totals = np.bincount(counts.rows, weights=parts, minlength=pairs)[counts.rows]
        shares += np.bincount(counts.columns, weights=parts / np.where(totals > 0, totals, 1.0),
                              minlength=items)
    total = shares.sum()
    uniform = np.full(len(logs), 1.0 / max(len(logs), 1))
    if total <= 0:
        return uniform
    weights: FloatArray = SHARE_DRAWS * shares / total + (1.0 - SHARE_DRAWS) * uniform
    return weights


def _train(torch: Any, model: Any, inputs: Any, targets: Any, steps: int, draw: Any,
           weights: Any = None) -> None:
    """Adam with cosine decay on the mean squared error: mini-batches of BATCH rows drawn
    with `draw` (in proportion to `weights`, else uniformly), or the full batch when there
    are no more rows than that."""
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    rows = len(inputs)
    for _ in range(steps):
        optimiser.zero_grad()
        if rows > BATCH:
            if weights is None:
                chosen = torch.randint(0, rows, (BATCH,), generator=draw)
            else:
                chosen = torch.multinomial(weights, BATCH, replacement=True, generator=draw)
            loss = torch.mean((model(inputs[chosen]) - targets[chosen]) ** 2)
        else:
            loss = torch.mean((model(inputs) - targets) ** 2)
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()


@dataclass(frozen=True, slots=True)
class Settings:
    """What the evaluator's samples and training take from the request."""

    train_fraction: float
    heldout_pairs: int
    seed: int


def evaluator_key(space: LearnedSpace, evaluator: PairEvaluator, settings: Settings) -> str:
    """The key a trained evaluator is saved under (see the module docstring)."""
    probe = evaluator.key((space.networks[0], space.accelerators[0]))  # options + version
    text = "|".join([space.digest, probe, f"features {FEATURE_VERSION}",
                     f"model {MODEL_VERSION} {HIDDEN} {DEPTH} {STEPS} {BATCH} {AREA_HIDDEN} "
                     f"{AREA_STEPS} {LEARNING_RATE} {SHARE_DRAWS}", f"samples {SAMPLING_VERSION}",
                     repr(settings)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


Progress = Callable[[str, int, int, float], None]


def train_evaluator(evaluator: PairEvaluator, settings: Settings, *,
                    directory: Path | None = None, jobs: int = 1,
                    scheduler: str | None = None, progress: Progress | None = None,
                    space: LearnedSpace | None = None
                    ) -> tuple[TrainedEvaluator, EvaluatorQuality, LearnedSpace,
                               dict[Pair, PairResult]]:
    """Sample, cost exactly, train (or read back) and measure the evaluator. Returns it,
    its quality, the encoded space and every pair it costed exactly."""
    needs_torch()
    if space is None:
        space = learned_space(evaluator)
    total_pairs = len(space.networks) * len(space.accelerators)
    if total_pairs < 2:
        raise CannotRunError(f"the request's space has {total_pairs} (network, accelerator) "
                             "pair: a learned evaluator needs at least two to learn from; "
                             "use the exhaustive strategy")
    samples = draw_samples(space, evaluator, settings.train_fraction, settings.heldout_pairs,
                           settings.seed)
    everything = np.concatenate([samples.train, samples.heldout, samples.unseen])
    pairs = [(space.networks[i], space.accelerators[j]) for i, j in everything.tolist()]

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress("sample", done, total, math.inf)

    results = evaluator.evaluate_many(pairs, jobs=jobs, scheduler=scheduler, progress=report)
    exact, ok = exact_metrics(results)
    parts = np.cumsum([len(samples.train), len(samples.heldout)])
    items = layer_samples(space, samples.train, results[:parts[0]])
    if len(items.pair_logs) < 2:
        raise CannotRunError(f"only {len(items.pair_logs)} of the evaluator's "
                             f"{len(samples.train)} training pairs have a valid mapping "
                             "with positive energy, latency and area: nothing to learn from")
    key = evaluator_key(space, evaluator, settings)
    path = None if directory is None else directory / f"evaluator-{key}.pt"
    started = time.perf_counter()
    loaded, replaced = (None, "") if path is None else _read_back(path, space)
    reused = loaded is not None
    if loaded is not None:
        trained = loaded
    else:
        trained = fit(space, items, settings.seed)
        if path is not None:
            replaced = _save(trained, path, replaced)
    seconds = time.perf_counter() - started
    quality = measure(trained, space, evaluator.request.spec.objective,
                      samples, exact, ok, key=key, seconds=seconds, reused=reused)
    if replaced:
        quality = dataclasses.replace(quality, replaced=replaced)
    return trained, quality, space, dict(zip(pairs, results, strict=True))


def _save(trained: TrainedEvaluator, path: Path, replaced: str) -> str:
    """Write `trained` at `path` through a new temporary file beside it (created, never
    an existing file or link followed), then moved over it; returns `replaced`, or why it
    could not be saved (the run goes on with the evaluator in memory)."""
    torch = needs_torch()
    partial: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".part",
                                            dir=path.parent)
        partial = Path(name)
        os.fchmod(descriptor, 0o644)  # as a file torch.save creates (mkstemp's is 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            torch.save(trained.state(), stream)
        partial.replace(path)
    except OSError as exc:
        if partial is not None:
            partial.unlink(missing_ok=True)
        return f"the evaluator could not be saved as {path} ({exc.strerror or exc})"
    return replaced


def _read_back(path: Path, space: LearnedSpace) -> tuple[TrainedEvaluator | None, str]:
    """The evaluator saved at `path` (None when there is none), or None and why it cannot
    be used: a file that does not load (truncated, corrupt, not torch's), or whose model
    does not fit `space` (another space's, or another version's written under this key).
    The caller then trains afresh and replaces it: the file is dslc's own, rebuilt from the
    store."""
    torch = needs_torch()
    if not path.exists():
        return None, ""
    why = f"the saved evaluator {path} could not be read back"
    try:
        state = torch.load(path, weights_only=True)
        trained = _from_state(state)
        expected = encoding_tensors(space)
        if tuple(trained.layer_rows.shape) != space.layers.rows.shape or not all(
                getattr(trained, name).shape == tensor.shape and (
                    torch.allclose(getattr(trained, name), tensor, rtol=1e-5, atol=0.0)
                    if tensor.is_floating_point() else
                    torch.equal(getattr(trained, name), tensor))
                for name, tensor in expected.items()):
            return None, f"{why} (it is another space's); trained afresh"
        tensors = [*state["layer_model"].values(), *state["area_model"].values(),
                   *(t for t in state.values() if isinstance(t, torch.Tensor))]
        if not all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point()):
            return None, f"{why} (it holds values that are not finite); trained afresh"
    except Exception as exc:  # any file that does not load is retrained
        return None, f"{why} ({type(exc).__name__}); trained afresh"
    return trained, ""


def measure(trained: TrainedEvaluator, space: LearnedSpace, objective: ObjectiveSpec,
            samples: Samples, exact: FloatArray, ok: npt.NDArray[np.bool_], *, key: str,
            seconds: float, reused: bool) -> EvaluatorQuality:
    """The evaluator's quality on the held-out and unseen pairs (the rows of `exact` and
    `ok` follow train, held-out, unseen)."""
    first, second = len(samples.train), len(samples.train) + len(samples.heldout)

    def figures(pairs: npt.NDArray[np.int64], rows: slice) -> tuple[float, float, float,
                                                                   float, float]:
        good = ok[rows]
        if good.sum() < 2:
            return (math.nan,) * 5
        chosen = pairs[good]
        predicted = trained.predict_pairs(space, chosen)
        measured = exact[rows][good]
        clock = space.clock_hz[chosen[:, 1]]
        accuracy = space.accuracies[chosen[:, 0]]
        a = objective_of(objective, predicted, clock, accuracy)
        b = objective_of(objective, measured, clock, accuracy)
        finite = np.isfinite(a) & np.isfinite(b)
        if finite.sum() >= 2 and np.ptp(a[finite]) == 0 and np.ptp(b[finite]) > 0:
            # One prediction for pairs the exact model tells apart ranks nothing: the
            # correlations' "1.0 when a side is constant" would call it perfect.
            return (math.nan, math.nan, mape(predicted[:, 0], measured[:, 0]),
                    mape(predicted[:, 1], measured[:, 1]), mape(predicted[:, 2], measured[:, 2]))
        return (spearman(a[finite], b[finite]), kendall(a[finite], b[finite]),
                mape(predicted[:, 0], measured[:, 0]), mape(predicted[:, 1], measured[:, 1]),
                mape(predicted[:, 2], measured[:, 2]))

    held = figures(samples.heldout, slice(first, second))
    unseen = figures(samples.unseen, slice(second, None))
    return EvaluatorQuality(
        train_pairs=len(samples.train), heldout_pairs=len(samples.heldout),
        unseen_pairs=len(samples.unseen), spearman=held[0], kendall=held[1],
        mape_energy=held[2], mape_latency=held[3], mape_area=held[4],
        unseen_spearman=unseen[0], unseen_kendall=unseen[1], unseen_mape_energy=unseen[2],
        unseen_mape_latency=unseen[3], train_seconds=seconds, reused=reused, key=key)
