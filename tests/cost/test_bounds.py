"""Layer bounds (dslc/cost/bounds.py): never above any mapping the exhaustive mapper
enumerates, on random small layers and accelerators; hand-counted values on small cases;
the bulk form over many accelerators equals one accelerator at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_cost import accelerator, conv1d, fanout, matmul, memory
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_properties import problems

from dslc.arch import ArchModel, resolve_accelerator
from dslc.cost.batched import BatchEvaluator
from dslc.cost.bounds import arch_table, layer_bounds, touched_words
from dslc.cost.model import evaluate
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapper.space import MapSpace
from dslc.mapping.mapping import LevelMapping, Loop, Mapping
from dslc.spec.accelerator import DATAFLOW_PRESETS, FanoutSpec, MemorySpec, Role

ROLE_SETS: list[tuple[Role, ...]] = [("input", "weight", "output"), ("weight",),
                                     ("input", "output"), ("output",), ("input", "weight")]


@st.composite
def accelerators(draw: st.DrawFn) -> ArchModel:
    """1-3 memories (the outermost unbounded or large), up to two fanouts with small meshes
    and any dataflow (both below one memory sometimes, the second maybe `diagonal`), small
    capacities (so that capacity rules bite), partial `holds`, bandwidths, buffering, and
    leakage on memories and MACs, power gated or not (meshes that mappings use in part then
    leak on fewer instances)."""
    count = draw(st.integers(1, 3))
    hierarchy: list[MemorySpec | FanoutSpec] = []
    for i in range(count):
        words = None if i == 0 and draw(st.booleans()) else draw(
            st.sampled_from([4, 8, 16, 64, 1024]) if i else st.sampled_from([256, 4096]))
        hierarchy.append(memory(
            f"L{i}", words, width=draw(st.sampled_from([16, 32, 64])),
            holds=draw(st.sampled_from(ROLE_SETS)),
            read=draw(st.sampled_from([0.3, 1.0, 6.0])),
            write=draw(st.sampled_from([0.5, 1.0, 6.0])),
            update_energy_pj=draw(st.sampled_from([None, 0.4, 2.0])),
            leak=draw(st.sampled_from([0.0, 0.02, 0.5])),
            power_gated=draw(st.booleans()),
            buffering=draw(st.sampled_from([1, 1, 2])),
            read_bandwidth_words=draw(st.sampled_from([None, 0.5, 2.0])),
            write_bandwidth_words=draw(st.sampled_from([None, 1.0, 4.0])),
            shared_bandwidth=draw(st.booleans())))
        below = 0
        while draw(st.integers(0, 2)) == 0 and sum(isinstance(c, FanoutSpec)
                                                    for c in hierarchy) < 2:
            hierarchy.append(fanout(f"F{i}_{below}", draw(st.integers(1, 4)),
                                    draw(st.integers(1, 3)),
                                    draw(st.sampled_from(DATAFLOW_PRESETS)),
                                    diagonal=below > 0 and draw(st.booleans())))
            below += 1
    return resolve_accelerator(accelerator(
        *hierarchy, mac_pj=draw(st.sampled_from([0.2, 1.0, 1.7])),
        mac_leak=draw(st.sampled_from([0.0, 0.05, 0.5])), mac_gated=draw(st.booleans())))


def cheapest(problem: Problem, arch: ArchModel, imperfect: bool) -> tuple[float, int] | None:
    """The least energy and the fewest cycles over every valid mapping the exhaustive mapper
    enumerates (None when nothing is valid or the space is too large to enumerate here)."""
    space = MapSpace(problem, arch, bypass=True, imperfect=imperfect)
    if space.size() > 40_000:
        return None
    choices = space.keep_choices
    evaluator = BatchEvaluator(problem, arch, choices[0], more_keeps=choices[1:],
                               imperfect=imperfect)
    energy, cycles = math.inf, math.inf
    for keep in range(len(choices)):
        for factors, orders in space.enumerate():
            size = factors.shape[-1]
            ok = space.within_meshes(factors)
            if not ok.any():
                continue
            batch = space.batch(factors[:, :, ok], orders[:, :, ok],
                                np.full(int(ok.sum()), keep, dtype=np.int64))
            totals = evaluator.totals(batch)
            assert totals.valid.shape == (int(ok.sum()),) and size >= ok.sum()
            if totals.valid.any():
                energy = min(energy, float(totals.energy_pj[totals.valid].min()))
                cycles = min(cycles, int(totals.cycles[totals.valid].min()))
    if math.isinf(energy):
        return None
    return energy, int(cycles)


BOUNDS = settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])


@BOUNDS
@given(problems(), accelerators(), st.booleans())
def test_no_enumerated_mapping_beats_the_bounds(problem: Problem, arch: ArchModel,
                                                imperfect: bool) -> None:
    found = cheapest(problem, arch, imperfect)
    assume(found is not None)
    assert found is not None
    bounds = layer_bounds(problem, arch_table([arch]), imperfect=imperfect)
    energy, cycles = found
    assert bounds.energy_pj[0] <= energy
    assert bounds.cycles[0] <= cycles
    assert 1 <= bounds.compute_cycles[0] <= bounds.cycles[0]


def test_bulk_equals_one_accelerator_at_a_time() -> None:
    archs = [resolve_accelerator(accelerator(
        memory("DRAM", read=10.0, write=10.0), memory("GLB", words, read=2.0, write=2.0),
        fanout("PE", x, y, flow), memory("RF", 16, read=0.5, write=0.5)))
        for words in (64, 4096) for x, y in ((2, 2), (4, 1)) for flow in
        ("weight_stationary", "output_stationary", "free")]
    problem = matmul(4, 6, 8)
    together = layer_bounds(problem, arch_table(archs))
    for a, arch in enumerate(archs):
        alone = layer_bounds(problem, arch_table([arch]))
        assert together.energy_pj[a] == alone.energy_pj[0]
        assert together.cycles[a] == alone.cycles[0]


def test_hand_counted_bound_of_a_matmul_on_two_levels() -> None:
    # O[4, 6] += A[4, 8] B[8, 6]: 192 MACs at 1 pJ. DRAM costs 10 pJ a word, the RF (64
    # words) 1 pJ. The map space keeps every tensor at DRAM, so DRAM backs all three. Per
    # tensor, DRAM serves the MACs itself (A, B: 192 reads; O: 192 updates + 168 reads) or
    # reads each word once into the RF, which serves the MACs: A 320 + 32 fills + 192 = 544,
    # B 480 + 48 + 192 = 720, O 240 updates at DRAM + 192 at the RF = 432.
    problem = matmul(4, 6, 8)
    arch = resolve_accelerator(accelerator(
        memory("DRAM", read=10.0, write=10.0), memory("RF", 64, read=1.0, write=1.0)))
    bound = layer_bounds(problem, arch_table([arch]))
    assert bound.energy_pj[0] == pytest.approx(192 + 544 + 720 + 432, abs=0.01)
    assert bound.energy_pj[0] <= 192 + 544 + 720 + 432
    assert bound.cycles[0] == bound.compute_cycles[0] == 192


def test_tensors_backed_on_chip_must_fit_together() -> None:
    # DRAM holds only weights, so A (32 words) and O (24) are backed by the RF: together
    # 56 words. A 64-word RF takes both (A: 192 reads; O: 192 updates + 168 reads; B as
    # above, 720): 192 + 360 + 720 + 192 MACs. A 48-word RF fits either but not both: no
    # valid mapping at all, and the bound says so (inf).
    problem = matmul(4, 6, 8)
    energies = []
    for words in (64, 48):
        arch = resolve_accelerator(accelerator(
            memory("DRAM", read=10.0, write=10.0, holds=("weight",)),
            memory("RF", words, read=1.0, write=1.0)))
        energies.append(float(layer_bounds(problem, arch_table([arch])).energy_pj[0]))
    assert energies[0] == pytest.approx(192 + 360 + 720 + 192, abs=0.01)
    assert math.isinf(energies[1])


def test_hand_counted_parallelism_follows_the_dataflow() -> None:
    # conv1d P=6, R=3 on a 4 x 3 mesh. Free: P can take 3 or 6... the largest product of
    # divisors of 6 (P) and 3 (R) within 4 on X and 3 on Y: X takes 3 (P 3), Y takes 3
    # (R 3): 9, at most P*R = 18 -> 18 MACs / 9 = 2 cycles. Weight stationary unrolls the
    # reduction R on X and the weight-output dims (none here) on Y: 3 -> 6 cycles.
    problem = conv1d(6, 3)
    cycles = {}
    for flow in ("free", "weight_stationary"):
        arch = resolve_accelerator(accelerator(memory("DRAM"), fanout("PE", 4, 3, flow),
                                               memory("RF", 64)))
        cycles[flow] = int(layer_bounds(problem, arch_table([arch])).compute_cycles[0])
    assert cycles == {"free": 2, "weight_stationary": 6}
    # Imperfect factors may take 4 of P on X: 4 x 3 = 12 -> ceil(18 / 12) = 2.
    arch = resolve_accelerator(accelerator(memory("DRAM"), fanout("PE", 4, 3),
                                           memory("RF", 64)))
    assert layer_bounds(problem, arch_table([arch]), imperfect=True).compute_cycles[0] == 2


def test_bandwidth_pins_the_only_backing_store() -> None:
    # The RF (8 words) is too small to back anything, so DRAM must read A (32) and B (48)
    # and write O (24) at least once: at 1 word per cycle each way that is 80 cycles, more
    # than the 192 MACs over the 4 PEs (48).
    problem = matmul(4, 6, 8)
    arch = resolve_accelerator(accelerator(
        memory("DRAM", read_bandwidth_words=1.0, write_bandwidth_words=1.0),
        fanout("PE", 4), memory("RF", 8)))
    bound = layer_bounds(problem, arch_table([arch]))
    assert (bound.compute_cycles[0], bound.cycles[0]) == (48, 80)
    # One shared port at the read bandwidth carries both: 104 cycles.
    shared = resolve_accelerator(accelerator(
        memory("DRAM", read_bandwidth_words=1.0, write_bandwidth_words=4.0,
               shared_bandwidth=True), fanout("PE", 4), memory("RF", 8)))
    assert layer_bounds(problem, arch_table([shared])).cycles[0] == 104


def test_hand_counted_leakage_bound_on_a_partly_used_array() -> None:
    # 192 MACs (matmul 4 x 6 x 8) on DRAM > 5 PEs > RF, where only leakage costs anything:
    # the RF leaks 1 pJ per cycle per instance, a MAC unit 0.5. The 5-wide mesh can use at
    # most 4 PEs (the largest product of divisors of 4, 6 and 8 within 5): at least 48
    # cycles. Power gated, a mapping leaks on the PEs it uses, U, for its cycles, at least
    # T, and T x U >= 192 (one MAC per unit and cycle): RF >= 192 x 1, MACs >= 192 x 0.5.
    # Charging every instance for the least cycles (5 x 48 = 240 instance-cycles) would be
    # above what a 4-PE mapping really leaks (192): not a bound. Not gated, every instance
    # leaks: 5 x 48 x 1 + 5 x 48 x 0.5 = 360.
    problem = matmul(4, 6, 8)
    found = {}
    for gated in (True, False):
        arch = resolve_accelerator(accelerator(
            memory("DRAM", read=0.0, write=0.0), fanout("PE", 5),
            memory("RF", 64, read=0.0, write=0.0, leak=1.0, power_gated=gated),
            mac_pj=0.0, mac_leak=0.5, mac_gated=gated))
        bound = layer_bounds(problem, arch_table([arch]))
        assert bound.cycles[0] == 48
        best = cheapest(problem, arch, imperfect=False)
        assert best is not None
        found[gated] = (float(bound.energy_pj[0]), best[0])
    assert found[True][0] == pytest.approx(192 + 96, abs=0.01)
    assert found[False][0] == pytest.approx(240 + 120, abs=0.01)
    # The mapper's best meets them: 4 PEs for 48 cycles (gated: 4 x 48 x 1.5 = 288), and
    # 48 cycles on the 5-wide mesh (not gated: 5 x 48 x 1.5 = 360).
    assert found[True][0] <= found[True][1] == pytest.approx(288, abs=0.01)
    assert found[False][0] <= found[False][1] == pytest.approx(360, abs=0.01)


def test_touched_words_skip_strided_gaps() -> None:
    # A strided 1x1 window (P*2 + R with R = 1) touches every other input row: 4 of 7.
    problem = conv1d(4, 1)
    strided = Problem(problem.name, problem.dims, problem.bounds, (
        problem.tensors[0], problem.tensors[1].__class__(
            "input", "input", (problem.tensors[1].axes[0].__class__(((0, 2), (1, 1))),)),
        problem.tensors[2]), op="conv")
    assert touched_words(strided, strided.tensor("input")) == 4
    assert strided.tensor_size(strided.tensor("input")) == 7


def test_touched_words_of_axes_sharing_a_dim() -> None:
    # X[p, p] touches the 4 diagonal elements, not 4 x 4; X[p, p + r] (P 4, R 2) touches
    # 4 x 2 = 8 of its 4 x 5 box; X[p, 0] touches 4. The product over axes counted 16 for
    # X[p, p], above the 4 reads DRAM > RF [P 4 at DRAM] makes of it: the bound was above
    # that mapping's cost (2109 pJ against 921).
    dims, bounds = ("P", "R"), (4, 2)

    def one(*axes: tuple[tuple[int, int], ...]) -> Problem:
        return Problem("diag", dims, bounds, (
            Tensor("X", "input", tuple(Projection(a) for a in axes)),
            Tensor("W", "weight", (Projection(((1, 1),)),)),
            Tensor("O", "output", (Projection(((0, 1),)),))), op="einsum")

    p, p_plus_r, constant = ((0, 1),), ((0, 1), (1, 1)), ()
    for axes, touched in (((p, p), 4), ((p, p_plus_r), 8), ((p, constant), 4)):
        problem = one(*axes)
        assert touched_words(problem, problem.tensor("X")) == touched
    # DRAM (100 pJ an access) > RF, P 4 at DRAM and R 2 in the RF: the RF's X tile is one
    # word moving along the diagonal, 4 entries: 4 DRAM reads of X (2 of W, which stays;
    # 4 updates of O): 1000 pJ at DRAM alone. The bound stays below the cost.
    problem = one(((0, 1),), ((0, 1),))
    arch = resolve_accelerator(accelerator(memory("DRAM", read=100.0, write=100.0),
                                           memory("RF", 64)))
    mapped = Mapping((LevelMapping("DRAM", (Loop(0, 4),), (), frozenset({"X", "W", "O"})),
                      LevelMapping("RF", (Loop(1, 2),), (), frozenset({"X", "W", "O"}))))
    cost = evaluate(problem, arch, mapped)
    assert [(t.name, t.reads_per_instance, t.updates_per_instance)
            for t in cost.level("DRAM").tensors] == [("X", 4, 0), ("W", 2, 0), ("O", 0, 4)]
    assert float(layer_bounds(problem, arch_table([arch])).energy_pj[0]) <= cost.energy_pj


@pytest.mark.slow
@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(problems(), accelerators(), st.booleans())
def test_no_enumerated_mapping_beats_the_bounds_long(problem: Problem, arch: ArchModel,
                                                     imperfect: bool) -> None:
    test_no_enumerated_mapping_beats_the_bounds.hypothesis.inner_test(  # type: ignore[attr-defined]
        problem, arch, imperfect)
