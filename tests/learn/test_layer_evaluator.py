"""The per-layer cost evaluator (dslc.codesign.dance.evaluator, features.py) on
tests/learn/small.cd: the layer table counted by hand; a pair's prediction is the
count-weighted sum of its layers' (by log_metrics, log_metrics_grid and predict alike);
the training items add up to the exact model's pair figures; on a space whose label is
exactly a sum of per-layer terms the model recovers it on accelerators it never saw; a
saved evaluator predicts the same; the model's version is in the key."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the learn extra: dslc.learn.require needs both

from dslc.codesign.dance import evaluator as ev  # noqa: E402
from dslc.codesign.evaluate import LayerFigure, PairResult  # noqa: E402
from dslc.codesign.metrics import Metrics  # noqa: E402

SMALL = Path(__file__).with_name("small.cd")



def _macs(w: int, k: int) -> dict[str, int]:
    """small.cd's three MAC layers for width w and kernel k, counted by hand: a is a
    `same` k x k convolution 3 -> w at 32 x 32; b a stride-2 3x3 convolution w -> 2w at
    16 x 16; fc a dense layer of 2w x 16 x 16 inputs to 10 outputs."""
    return {"a": w * 3 * 32 * 32 * k * k, "b": 2 * w * w * 16 * 16 * 9,
            "fc": 10 * 2 * w * 16 * 16}


def test_the_layer_table_counts_each_networks_layers(small) -> None:
    _, space = small
    table = space.layers
    assert table.counts.shape == (len(space.networks), len(table.keys))
    # every network runs its three MAC layers once, each a distinct loop nest
    assert np.array_equal(table.counts.sum(1), np.full(len(space.networks), 3.0))
    macs_column = table.names.index("log macs")
    stride_column = table.names.index("stride")
    for i, design in enumerate(space.networks):
        point = dict(design.point)
        expected = sorted(_macs(int(point["w"]), int(point["k"])).values())
        used = np.flatnonzero(table.counts[i])
        assert sorted(round(math.exp(table.log_macs[k])) for k in used) == expected
        assert np.allclose(np.sort(table.rows[used, macs_column]), np.log(expected))
        # b is the one stride-2 layer
        assert sorted(table.rows[used, stride_column].tolist()) == [1.0, 1.0, 2.0]
    # w in {8, 16, 32} x k in {1, 3}: a has 6 shapes, b 3, fc 3
    assert len(table.keys) == 12


def _random_evaluator(space: ev.LearnedSpace, seed: int) -> ev.TrainedEvaluator:
    """An evaluator with seeded random weights and normalisation from the space's rows."""
    torch.manual_seed(seed)
    f32 = torch.float32
    encoded = ev.encoding_tensors(space)
    layer_rows = torch.as_tensor(space.layers.rows, dtype=f32)
    values = torch.as_tensor(space.accelerator_rows, dtype=f32)[:, encoded["value_columns"]]
    cells = [space.encoding.cell(d) for d in space.accelerators]
    pairs = encoded["pair_table"][cells]  # [accelerators, layers, features]
    count, width = len(values), len(layer_rows)
    x = torch.cat([layer_rows[None].expand(count, -1, -1),
                   values[:, None, :].expand(-1, width, -1), pairs], -1).reshape(
        count * width, -1)
    x_mean, x_std = ev._standardise(torch, x)
    a_mean, a_std = ev._standardise(torch, values)
    return ev.TrainedEvaluator(
        ev._layer_mlp(x.shape[1]).eval(), ev._area_mlp(values.shape[1]).eval(),
        layer_rows, torch.as_tensor(space.layers.log_macs, dtype=f32),
        encoded["pair_table"], encoded["grid_shape"], encoded["value_columns"],
        encoded["choice_slices"], x_mean, x_std, torch.tensor([0.2, 0.2]),
        torch.tensor([0.5, 0.5]), a_mean, a_std, torch.tensor(1.0), torch.tensor(0.2))


def test_a_pairs_prediction_is_the_sum_of_its_layers(small) -> None:
    _, space = small
    trained = _random_evaluator(space, 7)
    accelerators = torch.as_tensor(space.accelerator_rows, dtype=torch.float32)
    networks = torch.as_tensor(space.network_rows, dtype=torch.float32)
    with torch.no_grad():
        layers = trained.layer_log_metrics(accelerators).numpy().astype(np.float64)
        grid = trained.log_metrics_grid(networks, accelerators).numpy()
        area = trained.log_area(accelerators).numpy()
    # the sum computed here in float64, layer by layer
    by_hand = np.log(np.einsum("nl,alt->nat", space.network_rows, np.exp(layers)))
    assert np.allclose(grid[..., :2], by_hand, rtol=0, atol=1e-4)
    assert np.allclose(grid[..., 2], area[None, :], rtol=0, atol=1e-6)
    pairs = np.array([(i, j) for i in range(len(space.networks))
                      for j in range(len(space.accelerators))], dtype=np.int64)
    with torch.no_grad():
        rows = trained.log_metrics(networks[pairs[:, 0]], accelerators[pairs[:, 1]]).numpy()
    assert np.allclose(rows, grid[pairs[:, 0], pairs[:, 1]], rtol=0, atol=1e-5)
    predicted = trained.predict_pairs(space, pairs)
    assert np.allclose(predicted, np.exp(grid[pairs[:, 0], pairs[:, 1]]), rtol=1e-5)


def test_the_grid_is_differentiable_in_the_accelerator_rows(small) -> None:
    _, space = small
    trained = _random_evaluator(space, 3)
    rows = torch.as_tensor(space.accelerator_rows[:4], dtype=torch.float32).requires_grad_()
    networks = torch.as_tensor(space.network_rows, dtype=torch.float32)
    trained.log_metrics_grid(networks, rows).sum().backward()
    assert rows.grad is not None and torch.all(torch.isfinite(rows.grad))
    assert float(rows.grad.abs().sum()) > 0


def test_the_training_items_add_up_to_the_exact_pairs(small) -> None:
    evaluator, space = small
    points = [dict(d.point) for d in space.networks]
    # two networks of the same width (k = 1 and k = 3) share layers b and fc
    first = next(i for i, p in enumerate(points) if p["w"] == 16 and p["k"] == 1)
    second = next(i for i, p in enumerate(points) if p["w"] == 16 and p["k"] == 3)
    other = next(i for i, p in enumerate(points) if p["w"] == 8)
    pairs = np.array([(first, 0), (second, 0), (other, 7), (first, 11)], dtype=np.int64)
    results = evaluator.evaluate_many([(space.networks[i], space.accelerators[j])
                                       for i, j in pairs.tolist()])
    assert all(r.metrics is not None for r in results)
    samples = ev.layer_samples(space, pairs, results)
    # accelerator 0: a (k = 1), a (k = 3), b, fc; accelerators 7 and 11: three each
    assert len(samples.layer) == 4 + 3 + 3
    assert sorted(samples.area_accelerators.tolist()) == [0, 7, 11]
    for p, result in enumerate(results):
        assert result.metrics is not None
        energy = math.fsum(layer.energy_pj for layer in result.layers)
        assert energy == pytest.approx(result.metrics.energy_pj, rel=1e-12)
        summed = samples.pair_counts.dense()[p] @ np.exp(samples.logs)
        assert summed[0] == pytest.approx(result.metrics.energy_pj, rel=1e-9)
        assert summed[1] == pytest.approx(result.metrics.latency_s, rel=1e-9)
        assert samples.pair_logs[p, 0] == pytest.approx(math.log(result.metrics.energy_pj))


def _synthetic(space: ev.LearnedSpace) -> tuple[npt.NDArray[np.float64],
                                               npt.NDArray[np.float64]]:
    """Per (accelerator, layer) figures that are smooth in both and never below the
    analytical bounds (no mapping beats them): energy = the energy bound x (1 + 0.3 log2
    rows), latency = the latency bound x (1 + 0.1 log2 cols); and the area 0.01 x rows x
    cols mm2."""
    names = space.encoding.names
    rows = 2.0 ** space.accelerator_rows[:, names.index("log2 rows")]
    cols = 2.0 ** space.accelerator_rows[:, names.index("log2 cols")]
    cells = [space.encoding.cell(d) for d in space.accelerators]
    bounds = np.exp(space.pair_table[cells][..., :2] + space.layers.log_macs[None, :, None])
    energy = bounds[..., 0] * (1 + 0.3 * np.log2(rows))[:, None]
    latency = bounds[..., 1] * (1 + 0.1 * np.log2(cols))[:, None]
    return np.stack([energy, latency], -1), 0.01 * rows * cols


def test_the_model_recovers_a_sum_of_layer_terms_on_unseen_accelerators(small) -> None:
    _, space = small
    figures, area = _synthetic(space)
    # 8 of 12 seen: every value of every parameter is among them (an unseen accelerator
    # combines values seen elsewhere, as the evaluator's draw of unseen ones does)
    seen = [j for j in range(len(space.accelerators)) if j % 3 != 1]
    unseen = [j for j in range(len(space.accelerators)) if j % 3 == 1]
    items = [(k, j) for j in seen for k in range(len(space.layers.keys))]
    counts = np.zeros((len(space.networks) * len(seen), len(items)))
    for p, (i, j) in enumerate((i, j) for i in range(len(space.networks)) for j in seen):
        for k in np.flatnonzero(space.network_rows[i]):
            counts[p, items.index((int(k), j))] = space.network_rows[i, k]
    logs = np.log(np.array([figures[j, k] for k, j in items]))
    samples = ev.LayerSamples(
        np.array([k for k, _ in items]), np.array([j for _, j in items]), logs,
        ev.SparseCounts.from_dense(counts), np.log(counts @ np.exp(logs)), np.array(seen),
        np.log(area[seen]))
    trained = ev.fit(space, samples, seed=1, steps=1500)
    pairs = np.array([(i, j) for i in range(len(space.networks)) for j in unseen])
    predicted = trained.predict_pairs(space, pairs)
    exact = np.einsum("pl,plt->pt", space.network_rows[pairs[:, 0]],
                      figures[pairs[:, 1]])
    # a network's figure is a sum of per-layer terms the model learnt on other arrays
    assert ev.mape(predicted[:, 0], exact[:, 0]) < 0.01
    assert ev.mape(predicted[:, 1], exact[:, 1]) < 0.05
    assert ev.mape(predicted[:, 2], area[pairs[:, 1]]) < 0.10


def test_a_saved_evaluator_predicts_the_same(small, tmp_path: Path) -> None:
    _, space = small
    trained = _random_evaluator(space, 11)
    path = tmp_path / "evaluator.pt"
    torch.save(trained.state(), path)
    again = ev._from_state(torch.load(path, weights_only=True))
    pairs = np.array([(i, j) for i in range(len(space.networks))
                      for j in range(len(space.accelerators))], dtype=np.int64)
    assert np.array_equal(again.predict_pairs(space, pairs), trained.predict_pairs(space, pairs))


def test_the_model_version_is_in_the_key(small, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluator, space = small
    settings = ev.Settings(0.03, 30, 1)
    key = ev.evaluator_key(space, evaluator, settings)
    assert ev.evaluator_key(space, evaluator, settings) == key
    monkeypatch.setattr(ev, "MODEL_VERSION", ev.MODEL_VERSION - 1)
    assert ev.evaluator_key(space, evaluator, settings) != key


def test_pairs_without_a_mapping_or_a_log_teach_nothing(small) -> None:
    _, space = small
    network, accelerator = space.networks[0], space.accelerators[0]
    key = space.layers.keys[int(np.flatnonzero(space.network_rows[0])[0])]
    failed = PairResult(network, accelerator, None, (), "no mapping")
    free = PairResult(network, accelerator, Metrics(0.0, 10, 5e-8, 1.0, None),
                      (LayerFigure("a", key, 0.0, 10, 1.0),))
    good = PairResult(network, accelerator, Metrics(8.0, 10, 5e-8, 2.0, None),
                      (LayerFigure("a", key, 8.0, 10, 1.0),))
    samples = ev.layer_samples(space, np.array([(0, 0)] * 3, dtype=np.int64),
                               [failed, free, good])
    assert len(samples.pair_logs) == 1 and len(samples.layer) == 1
    assert samples.logs[0, 0] == pytest.approx(math.log(8.0))
    # the latency of a layer is its cycles over the clock: small.cd runs at 200 MHz
    assert samples.logs[0, 1] == pytest.approx(math.log(10 / 200e6))
    assert samples.area_logs.tolist() == pytest.approx([math.log(2.0)])


def test_the_items_are_drawn_by_their_shares_of_their_pairs_figures() -> None:
    # Two pairs of three items, counted by hand. Energies 1, 3, 6 pJ and latencies 2, 2, 4
    # s; pair 0 = item 0 + item 1, pair 1 = 2 x item 1 + item 2.
    # Energy shares: pair 0 1/4, 3/4, 0; pair 1 0, 6/12, 6/12 -> 0.25, 1.25, 0.5.
    # Latency shares: pair 0 2/4, 2/4, 0; pair 1 0, 4/8, 4/8 -> 0.5, 1.0, 0.5.
    # Summed 0.75, 2.25, 1.0 of 4, mixed half and half with the uniform 1/3 each.
    samples = ev.LayerSamples(
        layer=np.array([0, 1, 2]), accelerator=np.array([0, 0, 0]),
        logs=np.log(np.array([[1.0, 2.0], [3.0, 2.0], [6.0, 4.0]])),
        pair_counts=ev.SparseCounts.from_dense(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]])),
        pair_logs=np.log(np.array([[4.0, 4.0], [12.0, 8.0]])),
        area_accelerators=np.array([0]), area_logs=np.array([0.0]))
    assert ev.SHARE_DRAWS == 0.5
    expected = 0.5 * np.array([0.75, 2.25, 1.0]) / 4 + 0.5 / 3
    np.testing.assert_allclose(ev.item_weights(samples), expected, rtol=1e-12)
    assert ev.item_weights(samples).sum() == pytest.approx(1.0)
