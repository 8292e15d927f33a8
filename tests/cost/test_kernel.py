"""The compiled kernel (dslc.cost.kernel) against the numpy path on shipped layers.

The property tests (test_properties.py) run both engines against the scalar model on small
random problems, one mapping at a time; here the two engines meet on real layers, in batches
of thousands of random mappings (valid and invalid) that mix keep choices (bypass on), with
block boundaries falling mid-batch: every output array must be equal element for element.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_cost import accelerator, batch_engine, conv1d, fanout, memory

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.cost.batched import BatchCost, BatchEvaluator
from dslc.lower.lower import lower_network
from dslc.lower.problem import Problem, Tensor
from dslc.mapper.space import MapSpace

pytest.importorskip("numba")

SPECS = "dslc/std"
LAYERS = [("resnet18", "layer1.0.a", "simple_ws_16x16"),
          ("resnet18", "conv1.conv", "eyeriss_like"),
          ("resnet18", "fc", "tpu_like"),
          ("mobilenet_v2", None, "nvdla_like")]


TOTALS = ("valid", "energy_pj", "cycles", "compute_cycles", "utilization")


def _costs(evaluator: BatchEvaluator, batch_size: int, seed: int) -> tuple[BatchCost, BatchCost]:
    space = MapSpace(evaluator.problem, evaluator.arch, bypass=True)
    rng = np.random.default_rng(seed)
    factors, orders = space.sample(rng, batch_size)
    keeps = rng.integers(0, len(space.keep_choices), factors.shape[-1])
    batch = space.batch(factors, orders, keeps)
    costs = []
    for engine in ("numba", "numpy"):
        with batch_engine(engine):
            assert evaluator.engine == engine
            cost = evaluator.evaluate(batch)
            # Totals alone (the kernel keeps the breakdown in one block's scratch) and
            # validity alone (the mapper's pruning) are the same numbers.
            totals = evaluator.totals(batch)
            for field in TOTALS:
                assert np.array_equal(getattr(totals, field), getattr(cost, field)), field
            assert np.array_equal(evaluator.fits(batch), cost.valid)
            costs.append(cost)
    compiled, reference = costs
    return compiled, reference


@pytest.mark.parametrize(("network", "layer", "accelerator"), LAYERS)
def test_kernel_equals_numpy_on_shipped_layers(network: str, layer: str | None,
                                               accelerator: str) -> None:
    lowered = lower_network(api.network(api.compile(f"{SPECS}/networks/{network}.cd"), network), 1)
    if layer is None:  # a depthwise layer
        problem = next(p for p in lowered.problems if p.op == "dwconv")
    else:
        found = lowered.problem(layer)
        assert found is not None
        problem = found
    arch = resolve_accelerator(api.accelerator(
        api.compile(f"{SPECS}/accelerators/{accelerator}.cd"), accelerator))
    space = MapSpace(problem, arch, bypass=True)
    evaluator = BatchEvaluator(problem, arch, space.keep_choices[0],
                               more_keeps=space.keep_choices[1:])
    compiled, reference = _costs(evaluator, 3001, seed=len(problem.name))
    assert 0 < int(reference.valid.sum()) < reference.valid.size
    for field in ("valid", "energy_pj", "cycles", "compute_cycles", "utilization", "reads",
                  "fills", "updates", "utilized_instances", "tensor_energy_pj",
                  "leakage_energy_pj", "compute_energy_pj"):
        assert np.array_equal(getattr(compiled, field), getattr(reference, field)), field


@pytest.mark.parametrize("diagonal", [False, True])
def test_kernel_equals_numpy_on_two_fanouts_below_one_memory(diagonal: bool) -> None:
    # An Eyeriss-style array written as Timeloop writes it: 14 columns, then 12 PEs per
    # column, below one global buffer; leakage everywhere, the RF and the MACs power gated,
    # the GLB not; per-fanout multicast, or one diagonal block.
    lowered = lower_network(api.network(api.compile(f"{SPECS}/networks/resnet18.cd"),
                                        "resnet18"), 1)
    problem = lowered.problem("layer1.0.a")
    assert problem is not None
    arch = resolve_accelerator(accelerator(
        memory("DRAM", width=64, read=200.0, write=200.0),
        memory("GLB", 55296, width=64, read=6.0, write=6.0, leak=0.5, power_gated=False),
        fanout("COL", 14), fanout("PE", 1, 12, diagonal=diagonal),
        memory("RF", 256, read=1.0, write=1.0, leak=0.01), mac_leak=0.02))
    space = MapSpace(problem, arch, bypass=True)
    evaluator = BatchEvaluator(problem, arch, space.keep_choices[0],
                               more_keeps=space.keep_choices[1:])
    compiled, reference = _costs(evaluator, 3001, seed=13)
    assert 0 < int(reference.valid.sum()) < reference.valid.size
    for field in ("valid", "energy_pj", "cycles", "reads", "fills", "updates",
                  "utilized_instances", "tensor_energy_pj", "leakage_energy_pj",
                  "compute_energy_pj"):
        assert np.array_equal(getattr(compiled, field), getattr(reference, field)), field


def test_tensors_without_a_closed_form_multicast_use_numpy() -> None:
    # One dim feeding two axes of a tensor: distinct children need enumeration, which only
    # the numpy path does.
    base = conv1d(4, 3)
    weight, _, output = base.tensors
    diagonal = Problem("diagonal", base.dims, base.bounds, (
        weight, Tensor("input", "input", (base.tensors[1].axes[0], base.tensors[1].axes[0])),
        output), op="conv")
    arch = resolve_accelerator(api.accelerator(
        api.compile(f"{SPECS}/accelerators/simple_ws_16x16.cd"), "simple_ws_16x16"))
    evaluator = BatchEvaluator(diagonal, arch, MapSpace(diagonal, arch).keep_choices[0])
    assert evaluator.tables is None
    with batch_engine("numba"):
        assert evaluator.engine == "numpy"


@pytest.mark.parametrize(("network", "layer", "accelerator"), LAYERS)
def test_fit_and_cost_equals_fits_then_the_totals_of_the_fitting(
        network: str, layer: str | None, accelerator: str) -> None:
    """The search's one pass (`kernel_numba.fit_and_cost`: each block's factor-only stages
    once, its fitting mappings moved to the front and costed) against the two calls it
    replaces, the numpy engine's: which fit, and the totals of those, in order. 3,001
    mappings (blocks of 256 end mid-batch), loop orders reached through a shuffled index;
    then the fitting ones alone (every block full) and the others alone (nothing costed)."""
    from dslc.cost import kernel_numba
    lowered = lower_network(api.network(api.compile(f"{SPECS}/networks/{network}.cd"), network), 1)
    problem = next(p for p in lowered.problems if p.op == "dwconv") if layer is None \
        else lowered.problem(layer)
    assert problem is not None
    arch = resolve_accelerator(api.accelerator(
        api.compile(f"{SPECS}/accelerators/{accelerator}.cd"), accelerator))
    space = MapSpace(problem, arch, bypass=True)
    evaluator = BatchEvaluator(problem, arch, space.keep_choices[0],
                               more_keeps=space.keep_choices[1:])
    tables = evaluator.compiled_tables
    assert tables is not None
    rng = np.random.default_rng(len(problem.name))
    factors, orders = space.sample(rng, 3001)
    keeps = rng.integers(0, len(space.keep_choices), factors.shape[-1])
    with batch_engine("numpy"):
        whole = space.batch(factors, orders, keeps)
        reference = evaluator.totals(whole)
        fitting_at = np.flatnonzero(evaluator.fits(whole))
    assert 0 < fitting_at.size < factors.shape[-1]
    shuffle = rng.permutation(factors.shape[-1])  # orders[:, :, shuffle[k]] is mapping k's
    shuffled_orders = np.empty_like(orders)
    shuffled_orders[:, :, shuffle] = orders
    for chosen in (np.arange(factors.shape[-1]), fitting_at,
                   np.setdiff1d(np.arange(factors.shape[-1]), fitting_at)):
        batch = space.batch(factors[:, :, chosen], orders[:, :, chosen], keeps[chosen])
        size = chosen.size
        fits = np.empty(size, dtype=np.bool_)
        out_valid, out_energy = np.empty(size, dtype=np.bool_), np.empty(size)
        out_cycles = np.empty(size, dtype=np.int64)
        count = kernel_numba.fit_and_cost(
            *(np.ascontiguousarray(a, dtype=np.int64) for a in (
                batch.temporal_factors, batch.spatial_x, batch.spatial_y, batch.keep_ids())),
            shuffled_orders, np.ascontiguousarray(shuffle[chosen]), *tables.arguments(),
            fits, out_valid, out_energy, out_cycles)
        expected = np.isin(chosen, fitting_at)
        assert np.array_equal(fits, expected)
        assert count == int(expected.sum())
        kept = chosen[expected]
        assert np.array_equal(out_valid[:count], reference.valid[kept])
        assert np.array_equal(out_energy[:count], reference.energy_pj[kept])
        assert np.array_equal(out_cycles[:count], reference.cycles[kept])
