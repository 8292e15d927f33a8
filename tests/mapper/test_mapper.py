"""The mapper: map-space size by hand, exact pruning (exhaustive equals brute force over
every loop order with the scalar model), heuristic quality and determinism, the reasons when
nothing fits, the layer cache, lower bounds, and the mapping block round trip."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from dslc import api
from dslc.arch import ArchModel, resolve_accelerator
from dslc.cost import kernel
from dslc.cost.bounds import arch_table, layer_bounds
from dslc.cost.model import evaluate
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.export import format_loop_nest, mapping_to_cd, mapping_to_json
from dslc.lower.lower import lower_network
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapper import (
    MapperOptions,
    NoValidMappingError,
    map_network,
    map_problem,
)
from dslc.mapper.network import MapCache
from dslc.mapper.search import (
    OBJECTIVES,
    SEARCHES,
    FloatArray,
    ObjectiveName,
    candidate_keys,
    objective_named,
    search_named,
)
from dslc.mapper.space import MapSpace, distinct_orders, order_classes, ordered_splits
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop, check_mapping
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.constraints import NO_CONSTRAINTS, MapConstraints


def axis(*terms: tuple[int, int]) -> Projection:
    return Projection(tuple(sorted(terms)))


def matmul(m: int, n: int, k: int) -> Problem:
    return Problem("mm", ("M", "N", "K"), (m, n, k), (
        Tensor("A", "input", (axis((0, 1)), axis((2, 1)))),
        Tensor("B", "weight", (axis((2, 1)), axis((1, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1))))), op="matmul")


def conv1d(k: int, p: int, r: int) -> Problem:
    """O[k, p] += W[k, r] * I[p + r] (dims K P R)."""
    return Problem("conv1d", ("K", "P", "R"), (k, p, r), (
        Tensor("weight", "weight", (axis((0, 1)), axis((2, 1)))),
        Tensor("input", "input", (axis((1, 1), (2, 1)),)),
        Tensor("output", "output", (axis((0, 1)), axis((1, 1))))), op="conv")


def memory(name: str, words: int | None, read: float, **extra: object) -> MemorySpec:
    return MemorySpec(name=name, size_bits=None if words is None else 16 * words, word_bits=16,
                      width_bits=16, read_energy_pj=read, write_energy_pj=read,
                      leakage_pj_per_cycle=0.0, area_um2=0.0, **extra)  # type: ignore[arg-type]


def accelerator(*levels: MemorySpec | FanoutSpec,
                constraints: MapConstraints = NO_CONSTRAINTS) -> ArchModel:
    return resolve_accelerator(AcceleratorSpec(
        name="acc", word_bits=16, clock_hz=1e9, hierarchy=levels, constraints=constraints,
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0, area_um2=0.0)))


TWO_LEVEL = accelerator(memory("DRAM", None, 100.0), memory("RF", 64, 1.0))
THREE_LEVEL = accelerator(
    memory("DRAM", None, 200.0), memory("BUF", 24, 6.0),
    FanoutSpec(name="PE", mesh_x=2, mesh_y=1, dataflow=DataflowSpec(preset="free")),
    memory("RF", 6, 1.0))


def test_ordered_splits_and_distinct_orders() -> None:
    assert ordered_splits(12, 2) == [(1, 12), (2, 6), (3, 4), (4, 3), (6, 2), (12, 1)]
    assert len(ordered_splits(8, 3)) == 10  # C(3 + 2, 2) placements of three 2s
    assert distinct_orders((0, 1, 2)) == 6
    # Two loops of one class: of their 2 relative orders only the sorted one counts when
    # adjacent; with a third loop between them both survive: 6 - 2 = 4.
    assert distinct_orders((0, 0, 1)) == 4


def test_map_space_size_by_hand() -> None:
    # M = N = K = 2 on DRAM > RF: each dim's 2 goes to DRAM or RF (2^3 = 8 tilings). Only
    # DRAM's order matters (the RF is innermost); with j loops at DRAM there are j! orders:
    # 1 + 3*1 + 3*2 + 1*6 = 16. Keep sets: the RF may keep any subset of A, B, O (DRAM keeps
    # all), 8 choices: 128 in all.
    arch = TWO_LEVEL
    assert MapSpace(matmul(2, 2, 2), arch, bypass=False).size() == 16
    space = MapSpace(matmul(2, 2, 2), arch)
    assert len(space.keep_choices) == 8
    assert space.size() == 128
    # The enumeration yields exactly the counted candidates, all distinct.
    candidates = list(space.enumerate())
    factors = np.concatenate([f for f, _ in candidates], axis=2)
    orders = np.concatenate([o for _, o in candidates], axis=2)
    assert factors.shape[-1] == 16
    assert len(np.unique(space.canonical(factors, orders), axis=0)) == 16


def test_size_equals_enumeration_on_both_counting_paths() -> None:
    # conv1d has a class per dim (the dense loop-count programme); the batched matmul has
    # B and H in one class (the programme over class sizes). Each must count exactly the
    # candidates the enumeration yields, all distinct.
    bmm = Problem("bmm", ("B", "H", "M", "K"), (2, 2, 4, 2), (
        Tensor("A", "input", (axis((0, 1)), axis((1, 1)), axis((2, 1)), axis((3, 1)))),
        Tensor("W", "weight", (axis((0, 1)), axis((1, 1)), axis((3, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1)), axis((2, 1))))), op="einsum")
    arch = THREE_LEVEL
    for problem in (conv1d(4, 6, 3), bmm):
        space = MapSpace(problem, arch, bypass=False)
        candidates = list(space.enumerate())
        factors = np.concatenate([f for f, _ in candidates], axis=2)
        orders = np.concatenate([o for _, o in candidates], axis=2)
        assert len(np.unique(space.canonical(factors, orders), axis=0)) == space.size()
        assert factors.shape[-1] == space.size()


def test_dim_splits_are_shared_and_read_only() -> None:
    # Two layers with equal bounds on a dim share that dim's splits (one cached, read-only
    # array), and the counted size does not depend on what was cached before.
    arch = THREE_LEVEL
    first = MapSpace(conv1d(4, 6, 3), arch, bypass=False)
    second = MapSpace(conv1d(4, 6, 5), arch, bypass=False)
    assert first.splits[0] is second.splits[0] and first.splits[1] is second.splits[1]
    assert first.splits[2] is not second.splits[2]
    assert not first.splits[0].flags.writeable
    assert sum(f.shape[-1] for f, _ in second.enumerate()) == second.size()


def test_candidate_keys_match_canonical_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # The de-duplication keys: equal for equal canonical rows and keep choices (an order
    # that differs only among factor-1 loops is the same candidate), different otherwise on
    # every candidate of a space and on random samples of a large one.
    arch = THREE_LEVEL
    space = MapSpace(conv1d(4, 6, 3), arch)
    candidates = list(space.enumerate())
    factors = np.concatenate([f for f, _ in candidates], axis=2)
    orders = np.concatenate([o for _, o in candidates], axis=2)
    keeps = np.arange(factors.shape[-1]) % len(space.keep_choices)
    keys = candidate_keys(space, factors, orders, keeps)
    assert len(set(keys.tolist())) == factors.shape[-1]
    # Swapping two factor-1 loops in the outermost level's order changes no key; swapping
    # two real loops changes it.
    for want_real in (False, True):
        chosen = (factors[0] > 1) if want_real else (factors[0] == 1)
        columns = np.flatnonzero(chosen.sum(axis=0) >= 2)
        assert columns.size
        first = np.argmax(chosen[:, columns], axis=0)
        second = chosen.shape[0] - 1 - np.argmax(chosen[::-1, columns], axis=0)
        position = np.argsort(orders[0][:, columns], axis=0)  # where each dim sits
        a = position[first, np.arange(columns.size)]
        b = position[second, np.arange(columns.size)]
        swapped = orders.copy()
        swapped[0, a, columns], swapped[0, b, columns] = orders[0, b, columns], \
            orders[0, a, columns]
        changed = candidate_keys(space, factors, swapped, keeps)[columns] != keys[columns]
        assert bool(np.all(changed)) if want_real else not bool(np.any(changed))
    problem = lower_network(api.network(api.compile("dslc/std/networks/resnet18.cd"), "resnet18"),
                            1).problem("layer1.0.a")
    assert problem is not None
    big = MapSpace(problem, resolve_accelerator(api.accelerator(api.compile(
        "dslc/std/accelerators/eyeriss_like.cd"), "eyeriss_like")))
    factors, orders = big.sample(np.random.default_rng(5), 20_000)
    keeps = np.random.default_rng(6).integers(0, len(big.keep_choices), factors.shape[-1])
    rows = np.concatenate([big.canonical(factors, orders), keeps[:, None]], axis=1)
    keys = candidate_keys(big, factors, orders, keeps)
    assert len(set(keys.tolist())) == len(np.unique(rows, axis=0))
    # Both engines compute the same keys (searches must not depend on numba being there).
    for disabled in ("1", ""):
        monkeypatch.setenv(kernel.DISABLE_ENV, disabled)
        assert np.array_equal(candidate_keys(big, factors, orders, keeps), keys)


def test_same_class_dims_commute() -> None:
    # A batched matmul O[b, h, m] += A[b, h, m, k] * B[b, h, k]: B and H index every tensor
    # through single-dim axes, so they form one class.
    problem = Problem("bmm", ("B", "H", "M", "K"), (2, 2, 2, 2), (
        Tensor("A", "input", (axis((0, 1)), axis((1, 1)), axis((2, 1)), axis((3, 1)))),
        Tensor("W", "weight", (axis((0, 1)), axis((1, 1)), axis((3, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1)), axis((2, 1))))), op="einsum")
    classes = order_classes(problem)
    assert classes[0] == classes[1] and len(set(classes)) == 3
    # And the rule is exact: swapping adjacent B and H loops at DRAM does not change a cost.
    def at_dram(*dims: int) -> Mapping:
        return Mapping((LevelMapping("DRAM", tuple(Loop(d, 2) for d in dims), (),
                                     frozenset({"A", "W", "O"})),
                        LevelMapping("RF", (), (), frozenset({"A", "W", "O"}))))
    costs = {evaluate(problem, TWO_LEVEL, at_dram(*order)).energy_pj
             for order in ((2, 0, 1, 3), (2, 1, 0, 3))}
    assert len(costs) == 1


def brute_force_best(problem: Problem, arch: ArchModel) -> float:
    """The least EDP over every tiling and every loop order at every level (no pruning at
    all), keeping what each memory holds, with the scalar model."""
    space = MapSpace(problem, arch, bypass=False)
    best = math.inf
    ndims = len(problem.dims)
    for picks in itertools.product(*(range(len(s)) for s in space.splits)):
        factors = np.stack([space.splits[d][p] for d, p in enumerate(picks)], axis=1)
        if not space.within_meshes(factors[:, :, None])[0]:
            continue
        for orders in itertools.product(itertools.permutations(range(ndims)),
                                        repeat=space.nlevels):
            for keep in space.keep_choices:
                mapping = space.to_mapping(factors, np.array(orders), keep)
                if check_mapping(mapping, problem, arch):
                    continue
                cost = evaluate(problem, arch, mapping, check=False)
                best = min(best, cost.energy_pj * cost.cycles)
    return best


def test_exhaustive_equals_brute_force_over_every_order() -> None:
    # conv1d K=2, P=4, R=3 on DRAM > 24-word BUF > 2 PEs > 6-word RF: the pruned exhaustive
    # search finds the same optimum as trying every order of every level unpruned.
    problem = conv1d(2, 4, 3)
    found = map_problem(problem, THREE_LEVEL, MapperOptions(search="exhaustive", bypass=False))
    assert found.cost.energy_pj * found.cost.cycles == brute_force_best(problem, THREE_LEVEL)
    assert found.search == "exhaustive"
    assert check_mapping(found.mapping, problem, THREE_LEVEL) == ()


def test_capacity_pruning_never_evaluates_a_tile_that_does_not_fit() -> None:
    problem = conv1d(2, 4, 3)
    arch = THREE_LEVEL
    space = MapSpace(problem, arch, bypass=False)
    total = sum(f.shape[-1] for f, _ in space.enumerate())
    found = map_problem(problem, arch, MapperOptions(search="exhaustive", bypass=False))
    from dslc.cost.batched import BatchEvaluator
    evaluator = BatchEvaluator(problem, arch, space.keep_choices[0])
    fitting = sum(int(evaluator.fits(space.batch(f, o)).sum()) for f, o in space.enumerate())
    assert found.evaluated == fitting < total


def test_heuristic_is_near_exhaustive_and_deterministic() -> None:
    problem = conv1d(4, 8, 3)
    exhaustive = map_problem(problem, THREE_LEVEL, MapperOptions(search="exhaustive"))
    options = MapperOptions(search="heuristic", budget=10_000, seed=7)
    first = map_problem(problem, THREE_LEVEL, options)
    second = map_problem(problem, THREE_LEVEL, options)
    assert first == second
    edp = [r.cost.energy_pj * r.cost.cycles for r in (exhaustive, first)]
    assert edp[1] <= edp[0] * 1.01
    assert first.evaluated <= 10_000 + 2 * 1024  # the budget, overshot by at most a round
    assert first.evaluated < exhaustive.evaluated


def test_no_valid_mapping_says_which_tensor_does_not_fit() -> None:
    tiny = accelerator(memory("DRAM", None, 100.0), memory("RF", 2, 1.0))
    with pytest.raises(NoValidMappingError) as error:
        map_problem(matmul(2, 2, 2), tiny, MapperOptions(bypass=False))
    assert error.value.reasons == (
        "tiles kept at `RF` need 3 words (A 1, B 1, O 1), it holds 2: 1 word over",)
    assert str(error.value) == "no valid mapping of `mm` on `acc`"
    assert error.value.one_line() == "no valid mapping of `mm` on `acc`: " + \
        error.value.reasons[0]
    assert isinstance(error.value, CannotRunError) and not isinstance(error.value, ValueError)


def test_each_layer_carries_its_bounds() -> None:
    # matmul 2x2x2 (4 words a tensor) on DRAM (100 pJ per word) and a 64-word RF (1 pJ),
    # one MAC unit: DRAM backs all three tensors (the map space keeps them there); each is
    # read once into the RF (400 + 4 fills) which serves the 8 MACs (8), or, for O, DRAM
    # takes 4 updates (400) and the RF 8: 412 + 412 + 408, plus 8 MACs x 1 pJ; 8 cycles.
    bounds = layer_bounds(matmul(2, 2, 2), arch_table([TWO_LEVEL]))
    assert bounds.cycles[0] == 8
    assert bounds.energy_pj[0] == pytest.approx(8 + 412 + 412 + 408, abs=0.01)
    best = map_problem(matmul(2, 2, 2), TWO_LEVEL, MapperOptions(objective="energy"))
    assert best.cost.energy_pj >= bounds.energy_pj[0] and best.cost.cycles >= bounds.cycles[0]


NETWORK = """
network twin {
    input x: [8, 8, 8]
    layer a = conv(x, out = 8, kernel = 3, pad = 1)
    layer b = conv(a, out = 8, kernel = 3, pad = 1)
    layer c = conv(b, out = 4, kernel = 1)
}
accelerator small {
    word = 16b
    clock = 1GHz
    memory DRAM { read = 100pJ, write = 100pJ }
    memory GLB  { size = 4KiB }
    fanout PE   { mesh = 4 x 2, dataflow = weight_stationary }
    memory RF   { size = 32 words }
    compute MAC { energy = 1pJ }
}
"""


@pytest.fixture
def twin(tmp_path: Path) -> Path:
    path = tmp_path / "twin.cd"
    path.write_text(NETWORK)
    return path


def test_identical_layers_are_searched_once_and_cached(twin: Path) -> None:
    lowered = lower_network(api.network(api.compile(twin), "twin"), batch=1)
    acc = resolve_accelerator(api.accelerator(api.compile(twin), "small"))
    cache = MapCache()
    options = MapperOptions(budget=500)
    first = map_network(lowered, acc, options, cache=cache)
    # a and b are the same 3x3 conv (K = C = 8, P = Q = 8): 2 distinct problems.
    assert (cache.misses, cache.hits, first.distinct) == (2, 0, 2)
    assert [layer.shared_with for layer in first.layers] == ["a", "a", "c"]
    again = map_network(lowered, acc, options, cache=cache)
    assert (cache.misses, cache.hits) == (2, 2)
    assert again.energy_pj == first.energy_pj == math.fsum(
        layer.energy_pj for layer in first.layers)
    assert first.edp == first.energy_pj * first.cycles / 1e9


def by_energy(energy: FloatArray, cycles: FloatArray) -> FloatArray:
    return energy


def by_cycles(energy: FloatArray, cycles: FloatArray) -> FloatArray:
    return cycles


def test_options_differing_only_by_score_do_not_share_cached_results(twin: Path) -> None:
    # The cache keys results on the options; a custom score is part of them (a function
    # equals only itself), so a second score searches again rather than reusing the first
    # score's mappings.
    program = api.compile(twin)
    lowered = lower_network(api.network(program, "twin"), batch=1)
    acc = resolve_accelerator(api.accelerator(program, "small"))
    cheapest, fastest = (MapperOptions(budget=500, score=by_energy),
                         MapperOptions(budget=500, score=by_cycles))
    assert cheapest != fastest
    assert cheapest == MapperOptions(budget=500, score=by_energy)
    assert hash(cheapest) == hash(MapperOptions(budget=500, score=by_energy))
    cache = MapCache()
    map_network(lowered, acc, cheapest, cache=cache)
    shared = map_network(lowered, acc, fastest, cache=cache)
    # Two distinct problems (a and b are one 3x3 conv), searched once per score.
    assert (cache.misses, cache.hits) == (4, 0)
    alone = map_network(lowered, acc, fastest)
    assert [layer.result.mapping for layer in shared.layers] == \
        [layer.result.mapping for layer in alone.layers]
    assert (shared.cycles, shared.energy_pj) == (alone.cycles, alone.energy_pj)


def test_options_name_closed_choices() -> None:
    assert set(OBJECTIVES) == set(get_args(ObjectiveName))
    assert SEARCHES == ("auto", "exhaustive", "heuristic", "random")
    assert (search_named("random"), objective_named("latency")) == ("random", "latency")
    # Plain strings (a command line, a spec) are checked at run time too.
    with pytest.raises(ValueError, match=r"unknown search `fast` \(auto, exhaustive, "
                                         r"heuristic, random\)"):
        MapperOptions(search="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown objective `area` \(cycles, edp, energy, "
                                         r"latency\)"):
        MapperOptions(objective="area")  # type: ignore[arg-type]
    # A custom score stands in for the objective.
    assert MapperOptions(objective="area", score=by_energy).scorer() is by_energy  # type: ignore[arg-type]


def test_mapping_block_round_trip(twin: Path, tmp_path: Path) -> None:
    found = api.map_layer(api.compile(twin), "twin", "a", "small",
                          options=MapperOptions(budget=500))
    block = mapping_to_cd(found.result.mapping, found.problem, found.arch, "best",
                          "twin.a")
    spec = tmp_path / "round.cd"
    spec.write_text(NETWORK + "\n" + block + "\n")
    assert api.lint([spec]).ok, block
    assert api.evaluate(api.compile(spec), "best") == found.result.cost
    data = mapping_to_json(found.result.mapping, found.problem)
    assert [level["name"] for level in data["levels"]] == ["DRAM", "GLB", "RF"]
    nest = format_loop_nest(found.result.mapping, found.problem)
    assert nest.splitlines()[0] == "# DRAM keeps " + ", ".join(data["levels"][0]["keeps"])


def test_loop_nest_text() -> None:
    problem = conv1d(2, 4, 3)
    mapping = Mapping((
        LevelMapping("DRAM", (Loop(0, 2),), (), frozenset({"weight", "input", "output"})),
        LevelMapping("BUF", (Loop(1, 2),), (SpatialLoop(1, 2, "PE", "x"),),
                     frozenset({"weight", "input", "output"})),
        LevelMapping("RF", (Loop(2, 3),), (), frozenset({"weight"}))))
    assert format_loop_nest(mapping, problem) == "\n".join([
        "# DRAM keeps weight, input, output",
        "for k0 in [0, 2):",
        "  # BUF keeps weight, input, output",
        "  for p0 in [0, 2):",
        "    parallel_for p1 in [0, 2):  # PE X",
        "      # RF keeps weight",
        "      for r0 in [0, 3):",
        "        conv MAC"])


SEVEN_ON_FOUR = accelerator(
    memory("DRAM", None, 100.0),
    FanoutSpec(name="PE", mesh_x=4, mesh_y=1, dataflow=DataflowSpec(preset="free")),
    memory("RF", 8, 1.0))


def test_imperfect_factors_pad_a_prime_dim_onto_the_mesh() -> None:
    # O[m] += A[m] * B (M = 7, N = K = 1) on 4 PEs. Perfectly, 7 is prime and above the
    # mesh: no unrolling, 7 cycles. Padded to 8 = 4 PEs x 2 steps: 2 cycles, 7 of 8 MAC
    # slots useful. Energy by hand for the padded run: DRAM reads A 8 words and B once
    # (multicast to the 4 PEs) and writes O 8 words: (8 + 1 + 8) x 100 = 1700 pJ; each RF
    # fills A 2 and B 1, reads A 2 and B 2, and writes O 2: 9 x 1 pJ x 4 PEs = 36 pJ;
    # 8 padded MACs x 1 pJ = 8 pJ. Total 1744 pJ.
    arch = SEVEN_ON_FOUR
    options = MapperOptions(search="exhaustive", objective="latency", bypass=False)
    perfect = map_problem(matmul(7, 1, 1), arch, options)
    assert perfect.cost.cycles == 7 and not perfect.mapping.imperfect
    padded = map_problem(matmul(7, 1, 1), arch,
                         MapperOptions(search="exhaustive", objective="latency", bypass=False,
                                       imperfect=True))
    assert padded.mapping.imperfect
    assert padded.cost.cycles == 2
    assert padded.cost.macs == 7 and padded.cost.compute.macs == 8
    assert padded.cost.utilization == 7 / 8
    assert padded.cost.level("DRAM").energy_pj == 1700.0
    assert padded.cost.level("RF").energy_pj == 36.0
    assert padded.cost.energy_pj == 1744.0
    # Padded totals stay within 25% of the bound and never leave an outermost step idle.
    space = MapSpace(matmul(7, 1, 1), arch, imperfect=True)
    assert space.padded_totals(0) == (7, 8, 9)  # 9 <= ceil(7 x 1.25)
    assert space.size() > MapSpace(matmul(7, 1, 1), arch).size()


def test_imperfect_mapping_block_round_trip(tmp_path: Path) -> None:
    # 7 output channels on a 4 x 2 weight-stationary mesh: the mapper pads K to 8, prints
    # `imperfect = true`, and the pasted block lints and costs the same; without the
    # property the same factors are E603.
    source = NETWORK.replace("layer c = conv(b, out = 4, kernel = 1)",
                             "layer c = conv(b, out = 7, kernel = 1)")
    path = tmp_path / "seven.cd"
    path.write_text(source)
    options = MapperOptions(budget=800, objective="latency", imperfect=True)
    found = api.map_layer(api.compile(path), "twin", "c", "small", options=options)
    perfect = api.map_layer(api.compile(path), "twin", "c", "small",
                            options=MapperOptions(budget=800, objective="latency"))
    assert found.result.mapping.imperfect
    assert found.result.cost.cycles < perfect.result.cost.cycles
    block = mapping_to_cd(found.result.mapping, found.problem, found.arch, "best",
                          "twin.c")
    assert "    imperfect = true" in block.splitlines()
    spec = tmp_path / "round.cd"
    spec.write_text(source + "\n" + block + "\n")
    assert api.lint([spec]).ok, block
    assert api.evaluate(api.compile(spec), "best") == found.result.cost
    spec.write_text(source + "\n" + block.replace("    imperfect = true\n", "") + "\n")
    codes = [d.code for d in api.lint([spec]).diagnostics]
    assert "E603" in codes
