"""The evaluator's predictions and the prediction table of trained accuracy in bounded
memory, with the same figures (docs/performance.md, "The differentiable strategy at the
limits").

`TrainedEvaluator.predict` summed every row with every distinct accelerator and kept the
diagonal: rows x accelerators x layers cells, 33.6 GB (an internal error) for the 200,000
pairs of benchmarks/scale/dance_trained_200k.cd. `network_costs` held every (network,
accelerator) pair and sorted them in Python. Now the sums take PREDICT_CELLS cells at a
time and the table keeps each network's best `keep` rows, networks COST_CELLS pairs at a
time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from dslc.codesign.dance import evaluator as ev  # noqa: E402
from dslc.codesign.dance import search as se  # noqa: E402
from dslc.learn.train import deterministic  # noqa: E402
from dslc.spec.codesign import ConstraintSpec, MetricRef, ObjectiveSpec  # noqa: E402


@pytest.fixture(scope="module")
def trained(small: tuple[Any, Any]) -> tuple[Any, Any]:
    """A quickly fitted evaluator of small.cd's space (its figures need not be good)."""
    _, space = small
    rng = np.random.default_rng(1)
    items = [(k, j) for j in range(len(space.accelerators))
             for k in range(len(space.layers.keys))]
    counts = np.zeros((len(space.networks), len(items)))
    for i in range(len(space.networks)):
        for k in np.flatnonzero(space.network_rows[i]):
            counts[i, items.index((int(k), 0))] = space.network_rows[i, k]
    logs = rng.normal(10.0, 2.0, (len(items), 2))
    samples = ev.LayerSamples(np.array([k for k, _ in items]), np.array([j for _, j in items]),
                              logs, ev.SparseCounts.from_dense(counts),
                              np.log(counts @ np.exp(logs)),
                              np.arange(len(space.accelerators)),
                              rng.normal(0.0, 1.0, len(space.accelerators)))
    return ev.fit(space, samples, seed=1, steps=30), space


def _old_predict(model: Any, network_rows: Any, accelerator_rows: Any) -> Any:
    """The prediction as it was: every row with every distinct accelerator, the diagonal."""
    distinct, inverse = np.unique(accelerator_rows, axis=0, return_inverse=True)
    with torch.no_grad(), deterministic():
        grid = model.log_metrics_grid(torch.as_tensor(network_rows, dtype=torch.float32),
                                      torch.as_tensor(distinct, dtype=torch.float32))
    logs = grid.numpy().astype(np.float64)[np.arange(len(network_rows)), inverse.reshape(-1)]
    return np.exp(logs)


def _pairs(space: Any) -> Any:
    return np.array([(i, j) for i in range(len(space.networks))
                     for j in range(len(space.accelerators))], dtype=np.int64)


def test_predict_gives_the_same_figures_as_before(trained: tuple[Any, Any]) -> None:
    model, space = trained
    pairs = _pairs(space)
    rows = space.network_rows[pairs[:, 0]], space.accelerator_rows[pairs[:, 1]]
    assert np.array_equal(model.predict(*rows), _old_predict(model, *rows))


def test_predict_sums_a_bounded_block_at_a_time(trained: tuple[Any, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    model, space = trained
    pairs = _pairs(space)
    rows = space.network_rows[pairs[:, 0]], space.accelerator_rows[pairs[:, 1]]
    whole = model.predict(*rows)
    sizes: list[int] = []
    original = ev._log_sum

    def spy(torch_: Any, counts: Any, logs: Any) -> Any:
        sizes.append(int(np.prod(np.broadcast_shapes((*tuple(counts.shape), 1),
                                                     tuple(logs.shape)))))
        return original(torch_, counts, logs)

    monkeypatch.setattr(ev, "_log_sum", spy)
    layers = model.network_width
    monkeypatch.setattr(ev, "PREDICT_CELLS", 4 * layers)  # 4 rows, 4 accelerators a pass
    chunked = model.predict(*rows)
    # 72 rows x 12 accelerators x `layers` layers x 2 before, in one block
    assert len(pairs) == 72 and len(sizes) == 18
    assert max(sizes) == 4 * layers * 2
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)


def _old_costs(model: Any, space: Any, objective: Any, constraints: Any, accuracies: Any,
               accelerators: list[int]) -> Any:
    """network_costs as it was: every pair, sorted in Python."""
    others = tuple(c for c in constraints if c.metric != "accuracy")
    n = len(space.networks)
    pairs = np.array([(i, j) for i in range(n) for j in accelerators], dtype=np.int64)
    predicted = model.predict_pairs(space, pairs)
    clock_hz = space.clock_hz[pairs[:, 1]]
    accuracy = np.asarray(accuracies, dtype=np.float64)[pairs[:, 0]]
    values = ev.objective_of(objective, predicted, clock_hz, accuracy)
    feasible = se._feasible(others, predicted, clock_hz, accuracy)
    ranked: dict[int, list[int]] = {}
    for k in sorted(range(len(pairs)), key=lambda k: (not feasible[k], values[k],
                                                      int(pairs[k, 1]))):
        ranked.setdefault(int(pairs[k, 0]), []).append(k)
    return pairs, values, feasible, ranked


@pytest.mark.parametrize("cells", [1 << 16, 13])
def test_network_costs_keeps_each_networks_best_rows_as_before(
        trained: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, cells: int) -> None:
    model, space = trained
    monkeypatch.setattr(se, "COST_CELLS", cells)  # 13: one network per pass
    objective = ObjectiveSpec(expression=MetricRef(name="edp"), text="edp")
    constraints = (ConstraintSpec(metric="latency", op="<=", value=1e-3,
                                  text="latency <= 1ms"),)
    estimates = np.linspace(0.5, 0.9, len(space.networks))
    accelerators = [0, 3, 5, 7, 11]
    pairs, values, feasible, ranked = _old_costs(model, space, objective, constraints,
                                                 estimates, accelerators)
    costs = se.network_costs(model, space, objective, constraints, estimates, accelerators,
                             keep=3)
    # 6 networks x 3 rows kept, not 6 x 5
    assert len(costs.pairs) == 18 and len(costs.values) == 18
    for i in range(len(space.networks)):
        old = ranked[i][:3]
        new = costs.ranked[i]
        assert [tuple(pairs[k]) for k in old] == [tuple(costs.pairs[k]) for k in new]
        assert [values[k] for k in old] == [costs.values[k] for k in new]
        assert [bool(feasible[k]) for k in old] == [bool(costs.feasible[k]) for k in new]
        best = values[old[0]] if feasible[old[0]] else math.inf
        assert costs.cost(i) == best
    assert costs.rows_of([0, 1], 5) == [costs.ranked[0][0], costs.ranked[1][0],
                                        costs.ranked[0][1], costs.ranked[1][1],
                                        costs.ranked[0][2]]


def _old_item_weights(logs: Any, counts: Any) -> Any:
    """item_weights as it was, on the dense [pairs, items] matrix."""
    shares = np.zeros(len(logs))
    for metric in range(logs.shape[1]):
        parts = counts * np.exp(logs[:, metric] - logs[:, metric].max())[None, :]
        totals = parts.sum(axis=1, keepdims=True)
        shares += (parts / np.where(totals > 0, totals, 1.0)).sum(axis=0)
    uniform = np.full(len(logs), 1.0 / len(logs))
    return ev.SHARE_DRAWS * shares / shares.sum() + (1.0 - ev.SHARE_DRAWS) * uniform


def test_the_training_items_are_counted_sparsely_with_the_same_weights() -> None:
    # 2,000 pairs of 5 items each among 4,000: the dense matrix was 8,000,000 cells (64 MB;
    # 3% of 10^6 pairs over their items, tens of GB); the sparse one holds 10,000 entries.
    rng = np.random.default_rng(3)
    pairs, items = 2000, 4000
    dense = np.zeros((pairs, items))
    for p in range(pairs):
        dense[p, rng.choice(items, 5, replace=False)] = rng.integers(1, 4, 5)
    logs = rng.normal(5.0, 3.0, (items, 2))
    counts = ev.SparseCounts.from_dense(dense)
    assert len(counts.counts) == 10_000 and counts.shape == (pairs, items)
    assert np.array_equal(counts.dense(), dense)
    samples = ev.LayerSamples(np.zeros(items, dtype=np.int64), np.zeros(items, dtype=np.int64),
                              logs, counts, np.zeros((pairs, 2)), np.zeros(1, dtype=np.int64),
                              np.zeros(1))
    np.testing.assert_allclose(ev.item_weights(samples), _old_item_weights(logs, dense),
                               rtol=1e-12)


def test_layer_samples_holds_the_pairs_items_sparsely(small: tuple[Any, Any]) -> None:
    evaluator, space = small
    pairs = np.array([(i, j) for i in range(len(space.networks)) for j in (0, 5)],
                     dtype=np.int64)
    results = evaluator.evaluate_many([(space.networks[i], space.accelerators[j])
                                       for i, j in pairs.tolist()])
    samples = ev.layer_samples(space, pairs, results)
    assert isinstance(samples.pair_counts, ev.SparseCounts)
    # each network of small.cd has 3 MAC layers, each its own item: 12 pairs x 3 entries
    assert samples.pair_counts.shape == (12, len(samples.layer))
    assert len(samples.pair_counts.counts) == 36
    assert samples.pair_counts.counts.sum() == 36.0


def test_the_search_step_sums_layers_by_a_product_past_grid_cells(
        trained: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # The step's [networks, 8 samples, layers, 2] cells were formed whatever the networks:
    # 10^5 networks of 420 layers, 2.7 GB a temporary. Past GRID_CELLS the sum is a matrix
    # product: the same figures and gradients to float32's precision, memory n x a.
    model, space = trained
    networks = torch.as_tensor(space.network_rows, dtype=torch.float32)
    rows = torch.as_tensor(space.accelerator_rows[:8], dtype=torch.float32).requires_grad_()
    whole = model.log_metrics_grid(networks, rows)
    whole.sum().backward()
    grad = rows.grad.clone()
    rows.grad = None
    shapes: list[tuple[int, ...]] = []
    original = ev._log_sum

    def spy(torch_: Any, counts: Any, logs: Any) -> Any:
        shapes.append(tuple(counts.shape))
        return original(torch_, counts, logs)

    monkeypatch.setattr(ev, "_log_sum", spy)
    monkeypatch.setattr(ev, "GRID_CELLS", 100)
    product = model.log_metrics_grid(networks, rows)
    product.sum().backward()
    assert shapes == []  # no [n, a, L, 2] block
    assert product.shape == whole.shape == (6, 8, 3)
    np.testing.assert_allclose(product.detach().numpy(), whole.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(rows.grad.numpy(), grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cells", [1 << 16, 5])
def test_the_proposals_keep_only_the_best_pairs_between_blocks(
        trained: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, cells: int) -> None:
    # known accuracy / cost-only: the visited networks x accelerators were predicted and
    # sorted all at once (they grow with the steps); now COST_CELLS pairs at a time, the best
    # `count` kept: the same proposals in the same order.
    model, space = trained
    monkeypatch.setattr(se, "COST_CELLS", cells)  # 5: one network (of 5 accelerators) a time
    objective = ObjectiveSpec(expression=MetricRef(name="edp"), text="edp")
    constraints = (ConstraintSpec(metric="latency", op="<=", value=1e-3,
                                  text="latency <= 1ms"),)
    nets, accs = [3, 0, 5, 1], [7, 2, 11, 0, 4]
    pairs = np.array([(i, j) for i in nets for j in accs], dtype=np.int64)
    predicted = model.predict_pairs(space, pairs)
    clock = space.clock_hz[pairs[:, 1]]
    accuracy = space.accuracies[pairs[:, 0]]
    values = ev.objective_of(objective, predicted, clock, accuracy)
    feasible = se._feasible(constraints, predicted, clock, accuracy)
    order = sorted(range(len(pairs)), key=lambda k: (not feasible[k], values[k],
                                                      int(pairs[k, 0]), int(pairs[k, 1])))
    found = se._best_pairs(model, space, objective, constraints, nets, accs, 7)
    assert [(i, j) for i, j, _, _ in found] == [tuple(pairs[k]) for k in order[:7]]
    assert [p.objective for _, _, p, _ in found] == [values[k] for k in order[:7]]
    assert [f for _, _, _, f in found] == [bool(feasible[k]) for k in order[:7]]


def test_a_constant_prediction_is_not_reported_as_a_perfect_ranking(
        trained: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Spearman and Kendall are 1.0 "when a side is constant": an evaluator predicting one
    # figure for every held-out pair, which the exact model tells apart, was reported with
    # held-out Spearman 1.0000 and Kendall 1.0000. It is n/a (NaN) now.
    model, space = trained
    monkeypatch.setattr(type(model), "predict_pairs",
                        lambda self, space_, pairs: np.ones((len(pairs), 3)))
    pairs = _pairs(space)[:10]
    samples = ev.Samples(pairs[:0], pairs, pairs[:0], ())
    exact = np.column_stack([np.arange(1.0, 11.0), np.full(10, 2.0), np.full(10, 3.0)])
    objective = ObjectiveSpec(expression=MetricRef(name="edp"), text="edp")
    quality = ev.measure(model, space, objective, samples, exact, np.ones(10, dtype=bool),
                         key="k", seconds=0.0, reused=False)
    assert math.isnan(quality.spearman) and math.isnan(quality.kendall)
    assert quality.mape_latency == pytest.approx(0.5)  # 1 against 2
