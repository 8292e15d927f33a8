"""The cost model against an independent brute-force oracle (brute_oracle.py: Timeloop's
nest analysis re-run loop by loop on explicit point sets, without dslc's cost model).

- the oracle reproduces every count of the hand-counted tests of test_model.py (their
  expected values are Timeloop's rules counted by hand) and the literal re-enactment of
  timeloop_reference.py;
- on seeded random small problems (conv1d/conv2d with strides and dilations, depthwise,
  matmul, flipped and transposed windows, three-term axes, random einsums with repeated,
  scaled, negative and constant indices), random accelerators (1 to 5 memories, up to three
  fanouts, some diagonal, partial keeps, the backing store leaving a tensor to the next
  level) and random valid mappings, the scalar model, the numpy batch engine and the numba
  kernel equal the oracle: reads, fills, updates per level and tensor, cycles and energy;
- regressions found by the sweep, counted by hand.

The large sweep is marked slow (`pytest -m slow tests/cost/test_oracle_counts.py`).
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable

import helpers_cost
import pytest
import test_model
from brute_oracle import oracle_counts
from helpers_cost import (
    ENGINES,
    accelerator,
    axis,
    batch_engine,
    fanout,
    level,
    mapping,
    memory,
)
from oracle_cases import (
    compare,
    dslc_counts,
    prime_factors,
    random_case,
)
from test_properties import block_names
from timeloop_reference import reference_counts

from dslc.arch import resolve_accelerator
from dslc.cost.batched import BatchEvaluator, encode
from dslc.cost.model import evaluate
from dslc.lower.problem import Problem, Tensor
from dslc.mapping.mapping import (
    LevelMapping,
    Loop,
    Mapping,
    SpatialLoop,
    check_mapping,
    mapping_from_spec,
)
from dslc.spec.accelerator import MemorySpec

HEAVY = ("test_eyeriss_style_columns_then_pes_on_a_vgg_layer",)
"""Hand-counted tests whose oracle run takes seconds (a whole VGG layer's point sets)."""


def _hand_tests(heavy: bool) -> list[str]:
    return [name for name, _ in inspect.getmembers(test_model, inspect.isfunction)
            if name.startswith("test_") and (name in HEAVY) == heavy]


def _run_checked(name: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run one test of test_model.py with every cost also counted by the oracle; the
    test's own hand-counted assertions then hold for the oracle's counts too."""
    checked = 0

    def with_oracle(problem: Problem, arch: object, mapped: Mapping, **options: bool
                    ) -> object:
        nonlocal checked
        cost = evaluate(problem, arch, mapped, **options)  # type: ignore[arg-type]
        assert oracle_counts(problem, arch, mapped).counts == \
            dslc_counts(cost)  # type: ignore[arg-type]
        checked += 1
        return cost

    monkeypatch.setattr(helpers_cost, "evaluate", with_oracle)
    monkeypatch.setattr(test_model, "evaluate", with_oracle)
    test: Callable[[], None] = getattr(test_model, name)
    test()
    return checked


@pytest.mark.parametrize("name", _hand_tests(heavy=False))
def test_oracle_reproduces_the_hand_counted_tests(name: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    checked = _run_checked(name, monkeypatch)
    assert checked or name == "test_invalid_mapping_is_rejected_with_reasons"


@pytest.mark.slow
@pytest.mark.parametrize("name", _hand_tests(heavy=True))
def test_oracle_reproduces_the_heavy_hand_counted_tests(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run_checked(name, monkeypatch) == 2


def test_oracle_equals_the_literal_timeloop_reenactment() -> None:
    # Two independent walks of Timeloop's procedure (timeloop_reference.py works level by
    # level on precomputed nests, the oracle loop by loop as nest-analysis.cpp recurses).
    for seed in range(120):
        case = random_case(seed, max_levels=3)
        if any(c < 0 for t in case.problem.tensors for a in t.axes for _, c in a.terms):
            continue  # the re-enactment's point sets assume non-negative coordinates
        if case.problem.name in ("grouped", "exotic"):
            continue  # gapped output tiles: dslc caps first touches, Timeloop does not
        expected = reference_counts(case.problem, case.mapping, block_names(case.arch))
        assert oracle_counts(case.problem, case.arch, case.mapping).counts == expected, seed


def _sweep(seeds: range, **options: int | bool) -> None:
    failures = []
    for seed in seeds:
        case = random_case(seed, repeat_dims=seed % 3 == 0, **options)  # type: ignore[arg-type]
        found = compare(case)
        if found:
            failures.append((seed, found[:4]))
    assert not failures, failures[:5]


def test_engines_equal_the_oracle_on_random_cases() -> None:
    _sweep(range(500))


def test_engines_equal_the_oracle_on_spatial_heavy_cases() -> None:
    _sweep(range(100_000, 100_150), max_levels=3, spatial_heavy=True)


def test_engines_equal_the_oracle_on_deep_hierarchies() -> None:
    _sweep(range(200_000, 200_080), max_levels=5)


@pytest.mark.slow
def test_engines_equal_the_oracle_on_many_random_cases() -> None:
    _sweep(range(1_000, 9_000))
    _sweep(range(300_000, 303_000), max_levels=3, spatial_heavy=True)
    _sweep(range(400_000, 402_000), max_levels=5)


def _variants(case_seed: int, rows: int) -> tuple[Problem, object, list[Mapping]]:
    """Many mappings of one random problem on one accelerator (capacities shrunk at random,
    so that some overflow), sharing the keep sets: every factorisation redrawn over the
    temporal and spatial slots, every order reshuffled (meshes may be exceeded: invalid)."""
    rng = random.Random(case_seed)
    case = random_case(case_seed, max_levels=4, repeat_dims=False)
    hierarchy = []
    for component in case.arch.spec.hierarchy:
        if isinstance(component, MemorySpec) and component.size_bits is not None:
            component = component.model_copy(update={
                "size_bits": 16 * rng.choice([8, 32, 128, 100_000]),
                "buffering": rng.choice([1, 2])})
        hierarchy.append(component)
    arch = resolve_accelerator(case.arch.spec.model_copy(update={"hierarchy":
                                                                 tuple(hierarchy)}))
    problem, ndims = case.problem, len(case.problem.dims)
    slots: list[tuple[int, str | None, str | None]] = [(i, None, None)
                                                       for i in range(len(arch.levels))]
    slots += [(i, f.name, ax) for i, lv in enumerate(arch.levels) for f in lv.fanouts
              for ax in ("x", "y")]
    found = []
    for _ in range(rows):
        factors = {slot: [1] * ndims for slot in slots}
        for d, bound in enumerate(problem.bounds):
            for prime in prime_factors(bound):
                factors[rng.choice(slots)][d] *= prime
        levels = []
        for i, lv in enumerate(case.mapping.levels):
            order = list(range(ndims))
            rng.shuffle(order)
            temporal = tuple(Loop(d, factors[(i, None, None)][d]) for d in order
                             if factors[(i, None, None)][d] > 1)
            spatial = tuple(SpatialLoop(d, factors[(i, f.name, ax)][d], f.name, ax)
                            for f in arch.levels[i].fanouts for ax in ("x", "y")
                            for d in range(ndims) if factors[(i, f.name, ax)][d] > 1)
            levels.append(LevelMapping(lv.name, temporal, spatial, lv.keep))
        found.append(Mapping(tuple(levels)))
    return problem, arch, found


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", [3, 17, 42])
def test_batches_of_many_rows_totals_and_fits(engine: str, seed: int) -> None:
    # 300 to 600 rows cross the kernel's blocks of 256: every row's validity (evaluate,
    # totals, fits) is check_mapping's, and every valid row costs what the scalar model
    # says, totals included; the first rows' counts are the oracle's.
    problem, arch, rows = _variants(seed, 300 + 150 * (seed % 3))
    batch, keep = encode(rows, problem, arch)  # type: ignore[arg-type]
    evaluator = BatchEvaluator(problem, arch, keep)  # type: ignore[arg-type]
    with batch_engine(engine):
        result, totals, fits = evaluator.evaluate(batch), evaluator.totals(batch), \
            evaluator.fits(batch)
    for b, row in enumerate(rows):
        ok = not check_mapping(row, problem, arch)  # type: ignore[arg-type]
        assert bool(result.valid[b]) == bool(totals.valid[b]) == bool(fits[b]) == ok
        if not ok:
            continue
        cost = evaluate(problem, arch, row)  # type: ignore[arg-type]
        assert result.energy_pj[b] == totals.energy_pj[b] == cost.energy_pj
        assert int(result.cycles[b]) == int(totals.cycles[b]) == cost.cycles
        assert totals.utilization[b] == cost.utilization
        if b < 30:
            assert oracle_counts(problem, arch, row).counts == \
                dslc_counts(cost)  # type: ignore[arg-type]


# ---- regressions found by the sweep ------------------------------------------------------


def _constant_axis_case() -> tuple[Problem, object, Mapping]:
    # O[k, p] += W[k, 0] * I[p]: an einsum whose weight has a constant index (no dim).
    # Dims P = 4 (index 0), K = 2. DRAM > PE (4 x 1) > RF; PE x [P 4], RF [K 2].
    problem = Problem("constant", ("P", "K"), (4, 2), (
        Tensor("W", "weight", (axis((1, 1)), axis())),
        Tensor("I", "input", (axis((0, 1)),)),
        Tensor("O", "output", (axis((1, 1)), axis((0, 1))))), op="einsum")
    arch = resolve_accelerator(accelerator(memory("DRAM"), fanout("PE", 4), memory("RF", 16)))
    mapped = mapping_from_spec(mapping(level("PE", x=(("P", 4),)), level("RF", ("K", 2))),
                               problem, arch)
    return problem, arch, mapped


@pytest.mark.parametrize("engine", ("scalar", *ENGINES))
def test_a_constant_index_is_one_tile_for_every_instance(engine: str) -> None:
    # The numpy engine raised IndexError on an axis without terms (`dslc map` without
    # numba: E900), and the numba kernel took the constant axis for a two-term one on dim 0
    # (P, unrolled 4 wide here) and counted no distinct tile: 0 DRAM reads of W.
    # By hand, per PE (the RF's tile: W 2 x 1 = 2 words, I 1, O 2; no temporal loop above
    # the RF, so each tile enters once): W 2 fills, read 2 times (K 2 steps); I 1 fill,
    # 2 reads; O 2 updates, all first touches (partition 8 x 2 // 8 = 2): 0 reads, 0 fills.
    # DRAM: W does not depend on P and its constant axis is the same for every PE: one
    # tile for all 4, 2 reads; I: 4 distinct words; O: 4 PEs x 2 = 8 updates, 0 reads.
    # Energy (1 pJ an access, 1-word blocks): DRAM 2 + 4 + 8 = 14; RF 4 x (4 + 3 + 2) = 36;
    # MACs 8: 58 pJ.
    problem, arch, mapped = _constant_axis_case()
    expected = {("DRAM", "W"): (2, 0, 0), ("DRAM", "I"): (4, 0, 0), ("DRAM", "O"): (0, 0, 8),
                ("RF", "W"): (2, 2, 0), ("RF", "I"): (2, 1, 0), ("RF", "O"): (0, 0, 2)}
    assert oracle_counts(problem, arch, mapped).counts == expected  # type: ignore[arg-type]
    cost = evaluate(problem, arch, mapped)  # type: ignore[arg-type]
    if engine == "scalar":
        assert dslc_counts(cost) == expected
        assert cost.energy_pj == 58.0
        return
    batch, keep = encode([mapped], problem, arch)  # type: ignore[arg-type]
    evaluator = BatchEvaluator(problem, arch, keep)  # type: ignore[arg-type]
    with batch_engine(engine):
        result = evaluator.evaluate(batch)
        assert evaluator.engine == engine
    found = {(lv.name, name): (int(result.reads[i, t, 0]), int(result.fills[i, t, 0]),
                               int(result.updates[i, t, 0]))
             for i, lv in enumerate(arch.levels)  # type: ignore[attr-defined]
             for t, name in enumerate(result.tensors)}
    assert found == expected
    assert result.energy_pj[0] == 58.0


def _grouped_case() -> tuple[Problem, object, Mapping]:
    # A grouped convolution reduced to its channel axes: O[2g + k] += W[g, k] * I[g], G = 3
    # groups of K = 2 outputs (dims G = 0, K = 1; dslc/ops/conv.py lowers a grouped conv's
    # output channel to G*k + K). DRAM > PE (2 x 1) > RF; PE x [K 2], RF [G 3].
    problem = Problem("grouped", ("G", "K"), (3, 2), (
        Tensor("W", "weight", (axis((0, 1)), axis((1, 1)))),
        Tensor("I", "input", (axis((0, 1)),)),
        Tensor("O", "output", (axis((0, 2), (1, 1)),))), op="conv")
    arch = resolve_accelerator(accelerator(memory("DRAM"), fanout("PE", 2), memory("RF", 16)))
    mapped = mapping_from_spec(mapping(level("PE", x=(("K", 2),)), level("RF", ("G", 3))),
                               problem, arch)
    return problem, arch, mapped


@pytest.mark.parametrize("engine", ("scalar", *ENGINES))
def test_first_touches_of_a_grouped_convolution(engine: str) -> None:
    # PE k holds outputs k, 2 + k, 4 + k: its RF tile is the 5-word box k .. 4 + k (3
    # outputs, 2 gaps). No temporal loop above the RF: each tile enters once (W 3, I 3,
    # O 5 words); the RF serves G 3 steps: W 3, I 3 reads, O 3 updates.
    # Timeloop's partition: the tensor's box (6) x a child's box (5) // the two children's
    # union (6) = 5 first touches, but the PE's MACs touch 3 outputs: reads 3 - 5 = -2
    # (Timeloop stops on content >= partition). dslc elides min(5, 3 x 2 // 2 = 3): 0
    # reads; fills 5 - 5 = 0.
    # DRAM: W moves with K (2 distinct children): 2 x 3 = 6 reads; I does not: 3. O: each
    # PE's 5-word box goes up, 2 distinct children: 10 updates; its 6 words first arrive
    # (min(6, 3 x 2 = 6)): 4 reads. Energy (1 pJ an access, 1-word blocks): DRAM
    # 6 + 3 + 4 + 10 = 23; RF 2 x (6 + 6 + 3) = 30; MACs 6: 59 pJ.
    problem, arch, mapped = _grouped_case()
    expected = {("DRAM", "W"): (6, 0, 0), ("DRAM", "I"): (3, 0, 0), ("DRAM", "O"): (4, 0, 10),
                ("RF", "W"): (3, 3, 0), ("RF", "I"): (3, 3, 0), ("RF", "O"): (0, 0, 3)}
    assert oracle_counts(problem, arch, mapped).counts == expected  # type: ignore[arg-type]
    cost = evaluate(problem, arch, mapped)  # type: ignore[arg-type]
    if engine == "scalar":
        assert dslc_counts(cost) == expected
        assert cost.energy_pj == 59.0
        return
    batch, keep = encode([mapped], problem, arch)  # type: ignore[arg-type]
    evaluator = BatchEvaluator(problem, arch, keep)  # type: ignore[arg-type]
    with batch_engine(engine):
        result = evaluator.evaluate(batch)
    found = {(lv.name, name): (int(result.reads[i, t, 0]), int(result.fills[i, t, 0]),
                               int(result.updates[i, t, 0]))
             for i, lv in enumerate(arch.levels)  # type: ignore[attr-defined]
             for t, name in enumerate(result.tensors)}
    assert found == expected
    assert result.energy_pj[0] == 59.0


def test_a_grouped_layer_never_counts_negative_accesses() -> None:
    # The mapping that showed it (seed 1279 of the sweep): G 3 groups of K 3, the K
    # children of L0's fanout each run G 3 at L1 and P 3 at L2. L1's tile is a 7-channel
    # box holding 3 outputs, and the partition its box passes down (21 words) exceeded
    # what arrives from L2 (9): reads and fills of -12. Every count is now >= 0.
    case = random_case(1279, max_levels=3, repeat_dims=False)
    assert case.problem.name == "grouped"
    cost = evaluate(case.problem, case.arch, case.mapping)
    assert min(min(v) for v in dslc_counts(cost).values()) >= 0
    assert not compare(case)
