"""Properties on random small problems and random valid mappings:

- the batched model equals the scalar one exactly (counts, energies, cycles, validity);
- the scalar model's closed forms equal a literal step-by-step re-enactment of Timeloop's
  nest analysis on explicit point sets (timeloop_reference.py).

Problems: conv1d/conv2d (with strides and dilations), depthwise conv, matmul. Accelerators:
1 to 3 memories with one or two fanouts below any of them (the second one sometimes
`diagonal`; the innermost memory feeds MACs directly), meshes sometimes wider than the
mapping uses, leakage on memories and MACs, power gated or not. Mappings: random
factorisations of every dim over the temporal and spatial slots, random loop orders, random
keep sets (the outermost memory keeps everything).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pytest
from helpers_cost import (
    ENGINES,
    accelerator,
    assert_engine,
    axis,
    batch_engine,
    conv1d,
    conv2d,
    depthwise,
    fanout,
    matmul,
    memory,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from timeloop_reference import reference_counts

from dslc.arch import ArchModel, resolve_accelerator
from dslc.cost.batched import BatchEvaluator, encode
from dslc.cost.model import evaluate
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop, check_mapping
from dslc.spec.accelerator import FanoutSpec, MemorySpec

SMALL = st.sampled_from([1, 2, 3, 4])


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    kind = draw(st.sampled_from(["conv1d", "flipped", "conv2d", "depthwise", "matmul"]))
    if kind == "conv1d":
        return conv1d(draw(SMALL), draw(SMALL))
    if kind == "flipped":
        # O[p] += W[r] * I[p - r]: a negative coefficient (a true convolution).
        flipped = conv1d(draw(SMALL), draw(SMALL))
        weight, _, output = flipped.tensors
        return Problem("flipped", flipped.dims, flipped.bounds, (
            weight, Tensor("input", "input", (axis((0, 1), (1, -1)),)), output), op="conv")
    if kind == "conv2d":
        return conv2d(1, draw(SMALL), draw(st.sampled_from([1, 2])), draw(SMALL),
                      draw(st.sampled_from([1, 2])), draw(SMALL), draw(st.sampled_from([1, 2])),
                      stride=draw(st.sampled_from([1, 2])),
                      dilation=draw(st.sampled_from([1, 2])))
    if kind == "depthwise":
        return depthwise(draw(st.sampled_from([1, 2])), draw(SMALL), draw(SMALL),
                         draw(st.sampled_from([1, 2])), draw(SMALL),
                         draw(st.sampled_from([1, 2])), stride=draw(st.sampled_from([1, 2])))
    return matmul(draw(SMALL), draw(SMALL), draw(st.sampled_from([1, 2, 4, 6])))


def prime_factors(n: int) -> list[int]:
    found, d = [], 2
    while n > 1:
        while n % d == 0:
            found.append(d)
            n //= d
        d += 1
    return found


@dataclass(frozen=True)
class Case:
    problem: Problem
    accelerator: ArchModel
    mapping: Mapping


@st.composite
def cases(draw: st.DrawFn, max_levels: int = 3) -> Case:
    problem = draw(problems())
    nlevels = draw(st.integers(1, max_levels))
    fanout_below = draw(st.sets(st.integers(0, nlevels - 1), max_size=2))
    # One or two fanouts below each such memory (an Eyeriss-style column fanout, then a PE
    # fanout), at most three in all.
    owned = {o: draw(st.integers(1, 2 if len(fanout_below) < 2 else 1))
             for o in sorted(fanout_below)}
    fanouts = [(o, j) for o, count in owned.items() for j in range(count)]
    ndims = len(problem.dims)
    temporal = [[1] * ndims for _ in range(nlevels)]
    spatial: dict[tuple[int, int], list[list[int]]] = {
        f: [[1] * ndims, [1] * ndims] for f in fanouts}
    for d, bound in enumerate(problem.bounds):
        for prime in prime_factors(bound):
            slots = [("t", (i, 0)) for i in range(nlevels)] + \
                [(axis, f) for f in fanouts for axis in ("x", "y")]
            kind, where = draw(st.sampled_from(slots))
            if kind == "t":
                temporal[where[0]][d] *= prime
            else:
                spatial[where][0 if kind == "x" else 1][d] *= prime
    names = [t.name for t in problem.tensors]
    hierarchy: list[MemorySpec | FanoutSpec] = []
    levels = []
    for i in range(nlevels):
        hierarchy.append(memory(f"L{i}", None if i == 0 else 10_000,
                                width=draw(st.sampled_from([16, 32, 64])),
                                read=draw(st.sampled_from([0.5, 1.0, 3.3])),
                                write=draw(st.sampled_from([0.7, 1.0, 2.9])),
                                read_bandwidth_words=draw(st.sampled_from([None, 0.3, 2.0])),
                                write_bandwidth_words=draw(st.sampled_from([None, 0.7, 4.0])),
                                shared_bandwidth=draw(st.booleans()),
                                leak=draw(st.sampled_from([0.0, 0.01, 0.125])),
                                power_gated=draw(st.booleans())))
        order = draw(st.permutations(range(ndims)))
        loops = tuple(Loop(d, temporal[i][d]) for d in order if temporal[i][d] > 1)
        spatial_loops: tuple[SpatialLoop, ...] = ()
        for j in range(owned.get(i, 0)):
            x, y = spatial[(i, j)]
            name = f"F{i}_{j}"
            # A mesh sometimes wider than the mapping uses: idle instances, which leak only
            # when not power gated.
            hierarchy.append(fanout(name, math.prod(x) + draw(st.sampled_from([0, 0, 1])),
                                    math.prod(y) + draw(st.sampled_from([0, 0, 2])),
                                    diagonal=j > 0 and draw(st.booleans())))
            spatial_loops += tuple(SpatialLoop(d, x[d], name, "x") for d in range(ndims)
                                   if x[d] > 1) + \
                tuple(SpatialLoop(d, y[d], name, "y") for d in range(ndims) if y[d] > 1)
        keep = frozenset(names) if i == 0 else frozenset(
            draw(st.sets(st.sampled_from(names))))
        levels.append(LevelMapping(f"L{i}", loops, spatial_loops, keep))
    acc = accelerator(*hierarchy, mac_pj=draw(st.sampled_from([0.2, 1.0, 1.7])),
                      mac_leak=draw(st.sampled_from([0.0, 0.25, 0.03])),
                      mac_gated=draw(st.booleans()))
    return Case(problem, resolve_accelerator(acc), Mapping(tuple(levels)))


def block_names(arch: ArchModel) -> dict[str, int]:
    """Fanout name -> multicast block (for the literal Timeloop walk)."""
    return {arch.fanouts[f].name: b for b, block in enumerate(arch.multicast_blocks)
            for f in block}


FAST = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("engine", ENGINES)
@FAST
@given(cases(max_levels=4))
def test_batched_equals_scalar(engine: str, case: Case) -> None:
    cost = evaluate(case.problem, case.accelerator, case.mapping)
    batch, keep = encode([case.mapping], case.problem, case.accelerator)
    evaluator = BatchEvaluator(case.problem, case.accelerator, keep)
    with batch_engine(engine):
        assert_engine(evaluator, engine)
        result = evaluator.evaluate(batch)
    assert bool(result.valid[0])
    assert result.energy_pj[0] == cost.energy_pj
    assert (int(result.cycles[0]), int(result.compute_cycles[0])) == (cost.cycles,
                                                                      cost.compute_cycles)
    assert result.utilization[0] == cost.utilization
    for i, lv in enumerate(cost.levels):
        assert int(result.utilized_instances[i, 0]) == lv.utilized_instances
        assert float(result.leakage_energy_pj[i, 0]) == lv.leakage_energy_pj
        for t, name in enumerate(result.tensors):
            if name not in {x.name for x in lv.tensors}:
                assert result.reads[i, t, 0] == result.fills[i, t, 0] == 0
                continue
            found = lv.tensor(name)
            assert (int(result.reads[i, t, 0]), int(result.fills[i, t, 0]),
                    int(result.updates[i, t, 0])) == (
                found.reads_per_instance, found.fills_per_instance,
                found.updates_per_instance), (lv.name, name)
            assert float(result.tensor_energy_pj[i, t, 0]) == found.energy_pj


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_closed_forms_equal_a_literal_timeloop_walk(case: Case) -> None:
    # The literal walk's point sets assume non-negative coordinates; negative coefficients
    # (no lowering produces them yet) are covered by the batched-vs-scalar properties.
    assume(case.problem.name != "flipped")
    cost = evaluate(case.problem, case.accelerator, case.mapping)
    expected = reference_counts(case.problem, case.mapping, block_names(case.accelerator))
    found = {(lv.name, t.name): (t.reads_per_instance, t.fills_per_instance,
                                 t.updates_per_instance)
             for lv in cost.levels for t in lv.tensors}
    assert found == expected


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@pytest.mark.parametrize("engine", ENGINES)
@given(cases(), st.data())
def test_a_batch_of_many_mappings_row_by_row(engine: str, first: Case,
                                             data: st.DataObject) -> None:
    # Many mappings of one problem on one accelerator sharing their keeps: the temporal
    # factors of each dim are redistributed over the levels and every level's loop order is
    # redrawn. Each row of one batch equals the scalar model of that mapping.
    nlevels, ndims = len(first.mapping.levels), len(first.problem.dims)
    totals = [1] * ndims
    for lv in first.mapping.levels:
        for loop in lv.temporal:
            totals[loop.dim] *= loop.factor
    rows = [first.mapping]
    for _ in range(12):
        factors = [[1] * ndims for _ in range(nlevels)]
        for d, total in enumerate(totals):
            for prime in prime_factors(total):
                factors[data.draw(st.integers(0, nlevels - 1))][d] *= prime
        levels = []
        for i, lv in enumerate(first.mapping.levels):
            order = data.draw(st.permutations(range(ndims)))
            levels.append(LevelMapping(lv.name, tuple(
                Loop(d, factors[i][d]) for d in order if factors[i][d] > 1), lv.spatial,
                lv.keep))
        rows.append(Mapping(tuple(levels)))
    arch = first.accelerator
    batch, shared = encode(rows, first.problem, arch)
    evaluator = BatchEvaluator(first.problem, arch, shared)
    with batch_engine(engine):
        assert_engine(evaluator, engine)
        result = evaluator.evaluate(batch)
    assert result.valid.dtype == np.bool_ and bool(np.all(result.valid))
    for b, row in enumerate(rows):
        cost = evaluate(first.problem, arch, row)
        assert result.energy_pj[b] == cost.energy_pj
        assert int(result.cycles[b]) == cost.cycles
        reads = [[lv.tensor(t).reads_per_instance if t in {x.name for x in lv.tensors} else 0
                  for t in result.tensors] for lv in cost.levels]
        assert result.reads[:, :, b].tolist() == reads


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@pytest.mark.parametrize("engine", ENGINES)
@given(cases(), st.data())
def test_batched_validity_matches_the_reasons(engine: str, case: Case,
                                              data: st.DataObject) -> None:
    # Shrink capacities, meshes and dataflows at random: the batched `valid` flag is True
    # exactly when check_mapping finds no reason (and `fits` says the same), and valid
    # mappings still cost the same.
    hierarchy: list[MemorySpec | FanoutSpec] = []
    for component in case.accelerator.spec.hierarchy:
        if isinstance(component, MemorySpec):
            words = None if component.size_bits is None else data.draw(
                st.sampled_from([4, 16, 64, 10_000]))
            hierarchy.append(component.model_copy(update={
                "size_bits": None if words is None else 16 * words,
                "buffering": data.draw(st.sampled_from([1, 2]))}))
        else:
            hierarchy.append(fanout(component.name, data.draw(st.integers(1, 4)),
                                    data.draw(st.integers(1, 4)), data.draw(st.sampled_from(
                                        ["free", "weight_stationary", "output_stationary"])),
                                    diagonal=component.diagonal))
    acc = resolve_accelerator(case.accelerator.spec.model_copy(
        update={"hierarchy": tuple(hierarchy)}))
    batch, keep = encode([case.mapping], case.problem, acc)
    evaluator = BatchEvaluator(case.problem, acc, keep)
    with batch_engine(engine):
        assert_engine(evaluator, engine)
        result = evaluator.evaluate(batch)
    reasons = check_mapping(case.mapping, case.problem, acc)
    assert bool(result.valid[0]) == (reasons == ()), reasons
    # The mapper's pruning check agrees with the full evaluation.
    assert bool(evaluator.fits(batch)[0]) == bool(result.valid[0])
    if not reasons:
        assert result.energy_pj[0] == evaluate(case.problem, acc, case.mapping).energy_pj


def _outermost_factor(mapping: Mapping, d: int) -> int:
    for level in mapping.levels:
        for loop in (*level.temporal, *level.spatial):
            if loop.dim == d:
                return loop.factor
    return 1


@pytest.mark.parametrize("engine", ENGINES)
@FAST
@given(cases(max_levels=3), st.data())
def test_imperfect_mapping_costs_its_padded_problem(engine: str, case: Case,
                                                    data: st.DataObject) -> None:
    # Shrink one bound so the mapping's factors overshoot it by less than one step of the
    # dim's outermost loop: as an imperfect mapping it is valid, it costs exactly what the
    # perfect mapping of the unshrunk (padded) problem costs, except that only the real MACs
    # are useful; and the batched model agrees, validity included. Overshooting by a whole
    # outermost step is invalid in both models.
    problem, mapping = case.problem, case.mapping
    d = data.draw(st.sampled_from([d for d, b in enumerate(problem.bounds) if b > 1] or [0]))
    bound = problem.bounds[d]
    step = bound // _outermost_factor(mapping, d)
    shrunk = data.draw(st.integers(max(1, bound - step), bound))
    real = dataclasses.replace(problem, bounds=tuple(
        shrunk if i == d else b for i, b in enumerate(problem.bounds)), key="")
    padded = dataclasses.replace(mapping, imperfect=True)
    within = bound - shrunk < step
    reasons = check_mapping(padded, real, case.accelerator)
    assert (reasons == ()) == within, reasons
    batch, keep = encode([padded], real, case.accelerator)
    evaluator = BatchEvaluator(real, case.accelerator, keep, imperfect=True)
    with batch_engine(engine):
        assert_engine(evaluator, engine)
        result = evaluator.evaluate(batch)
    assert bool(result.valid[0]) == within
    if not within:
        return
    cost = evaluate(real, case.accelerator, padded)
    full = evaluate(problem, case.accelerator, mapping)
    assert (cost.energy_pj, cost.cycles) == (full.energy_pj, full.cycles)
    assert cost.macs == real.macs and cost.compute.macs == problem.macs
    assert cost.utilization == real.macs / (cost.cycles * full.compute.instances)
    assert result.energy_pj[0] == cost.energy_pj
    assert int(result.cycles[0]) == cost.cycles
    assert result.utilization[0] == cost.utilization
    # With the outermost keep set shrunk at random, the backing-store rule (the whole padded
    # tensor must sit somewhere) gives the same verdict in both models.
    names = [t.name for t in real.tensors]
    outer_keep = frozenset(data.draw(st.sets(st.sampled_from(names))))
    levels = (dataclasses.replace(padded.levels[0], keep=outer_keep), *padded.levels[1:])
    shrunk_keep = dataclasses.replace(padded, levels=levels)
    reasons = check_mapping(shrunk_keep, real, case.accelerator)
    batch, keep = encode([shrunk_keep], real, case.accelerator)
    evaluator = BatchEvaluator(real, case.accelerator, keep, imperfect=True)
    assert bool(evaluator.evaluate(batch).valid[0]) == (reasons == ()), reasons
    assert bool(evaluator.fits(batch)[0]) == (reasons == ())


@FAST
@given(cases(max_levels=3), st.data())
def test_one_batch_mixes_keep_sets(case: Case, data: st.DataObject) -> None:
    # Variants of a mapping that differ only in what the inner levels keep, evaluated in
    # one batch (each naming its keep choice), cost exactly what the scalar model says for
    # each, validity included.
    names = [t.name for t in case.problem.tensors]
    variants = [case.mapping]
    for _ in range(data.draw(st.integers(1, 3))):
        levels = (case.mapping.levels[0], *(
            dataclasses.replace(level, keep=frozenset(data.draw(st.sets(st.sampled_from(names)))))
            for level in case.mapping.levels[1:]))
        variants.append(dataclasses.replace(case.mapping, levels=levels))
    encoded = [encode([m], case.problem, case.accelerator) for m in variants]
    keeps = [keep for _, keep in encoded]
    batch = encoded[0][0]
    mixed = type(batch)(*(np.concatenate([getattr(b, field) for b, _ in encoded], axis=-1)
                          for field in ("temporal_factors", "temporal_order", "spatial_x",
                                        "spatial_y")), keep=np.arange(len(variants)))
    evaluator = BatchEvaluator(case.problem, case.accelerator, keeps[0],
                               more_keeps=keeps[1:])
    result = evaluator.evaluate(mixed)
    fits = evaluator.fits(mixed)
    for b, mapping in enumerate(variants):
        reasons = check_mapping(mapping, case.problem, case.accelerator)
        assert bool(result.valid[b]) == bool(fits[b]) == (reasons == ()), reasons
        if not reasons:
            cost = evaluate(case.problem, case.accelerator, mapping)
            assert result.energy_pj[b] == cost.energy_pj
            assert int(result.cycles[b]) == cost.cycles
