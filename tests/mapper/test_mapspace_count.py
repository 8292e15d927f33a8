"""The map space's construction and count: prime factors and divisors of any size, split
tables listed or sampled, the exact count against a brute force written from the
definition (every factorisation by itertools, the distinct orders of each level by
permutations), bounded work on huge dims and deep hierarchies, and how a space too large to
count exactly is reported (the JSON's `mapspace_size` and `mapspace_bounds`)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dslc import cli
from dslc.arch import ArchModel
from dslc.lower.problem import Problem, Tensor
from dslc.mapper import MapperOptions, SearchLimitError, map_problem
from dslc.mapper import space as space_module
from dslc.mapper.space import (
    COUNT_WORK,
    SAMPLED_ROWS,
    SPLIT_ROWS,
    MapSpace,
    distinct_orders,
    orders_of_sizes,
    split_table,
    tiling_bounds,
)
from dslc.mapping.factors import count_proper_splits, count_splits, divisors, prime_factors
from dslc.mapping.mapping import check_mapping
from dslc.spec.accelerator import DataflowSpec, FanoutSpec, MemorySpec
from dslc.spec.constraints import FactorRule, MapConstraints, SlotConstraint
from tests.mapper.test_mapper import THREE_LEVEL, accelerator, axis, conv1d, matmul, memory

runner = CliRunner()


# -- number theory ---------------------------------------------------------------------


def test_prime_factors_and_divisors_against_trial_division() -> None:
    for n in range(1, 3000):
        factors = prime_factors(n)
        assert math.prod(factors) == n and list(factors) == sorted(factors)
        assert all(all(p % q for q in range(2, p)) for p in factors)
        assert divisors(n) == tuple(d for d in range(1, n + 1) if n % d == 0)


def test_prime_factors_of_huge_numbers() -> None:
    # Products of known primes (Mersenne primes 2^31 - 1 and 2^61 - 1, and 2^31 - 19).
    assert prime_factors(2 ** 24) == (2,) * 24
    assert prime_factors(2 ** 31 - 1) == (2 ** 31 - 1,)
    assert prime_factors((2 ** 31 - 1) * (2 ** 31 - 19)) == (2 ** 31 - 19, 2 ** 31 - 1)
    assert prime_factors(2 ** 61 - 1) == (2 ** 61 - 1,)
    assert prime_factors(10 ** 38) == (2,) * 38 + (5,) * 38
    assert len(divisors(2 ** 30 * 3 ** 2)) == 31 * 3


def test_split_counts_by_stars_and_bars() -> None:
    # Every ordered factorisation of n into k factors, by itertools.
    def brute(n: int, k: int) -> list[tuple[int, ...]]:
        return [t for t in itertools.product(range(1, n + 1), repeat=k) if math.prod(t) == n]
    for n in (1, 2, 6, 8, 12, 36, 30):
        for k in (1, 2, 3):
            splits = brute(n, k)
            assert count_splits(n, k) == len(splits)
            assert count_proper_splits(n, k) == len([t for t in splits if min(t) > 1])


# -- distinct orders -------------------------------------------------------------------


def test_orders_of_class_sizes_by_inclusion_exclusion_equal_permutations() -> None:
    # The fold weights (-1)^(m-j) S(m, j) give exactly the permutations counted one by one.
    for sizes in [(1,), (2,), (3,), (1, 1), (2, 1), (2, 2), (3, 1), (1, 1, 1), (2, 1, 1),
                  (3, 2), (2, 2, 1), (4, 1), (1, 1, 1, 1, 1)]:
        classes = tuple(c for c, size in enumerate(sizes) for _ in range(size))
        assert orders_of_sizes(sizes) == distinct_orders(classes), sizes


# -- the count against a brute force ---------------------------------------------------


def _ordered(n: int, k: int) -> Iterator[tuple[int, ...]]:
    """Ordered factorisations of n into k factors, from scratch."""
    if k == 1:
        yield (n,)
        return
    for first in range(1, n + 1):
        if n % first == 0:
            for rest in _ordered(n // first, k - 1):
                yield (first, *rest)


def _brute_size(space: MapSpace) -> int:
    """Candidates without keep sets from the definition: every factorisation of every dim
    over its allowed slots, within the meshes; per ordered level (all but the innermost)
    the permutations of its real loops in which adjacent loops of one class keep their dim
    order."""
    problem, slots = space.problem, space.slots
    per_dim = []
    for d, bound in enumerate(problem.bounds):
        options = []
        for split in _ordered(bound, len(space.allowed[d])):
            row = [1] * len(slots)
            for s, factor in zip(space.allowed[d], split, strict=True):
                row[s] = factor
            options.append(row)
        per_dim.append(options)
    total = 0
    for rows in itertools.product(*per_dim):
        if any(math.prod(row[s] for row in rows) > slots[s].extent
               for s in space.spatial_slots):
            continue
        ways = 1
        for level in range(space.nlevels - 1):
            loops = tuple(d for d, row in enumerate(rows) if row[level] > 1)
            ways *= sum(1 for perm in itertools.permutations(loops)
                        if all(not (space.classes[a] == space.classes[b] and a > b)
                               for a, b in itertools.pairwise(perm)))
        total += ways
    return total


def _bmm(b: int, h: int, m: int, k: int) -> Problem:
    """O[b, h, m] += A[b, h, m, k] * W[b, h, k]: B and H form one order class."""
    return Problem("bmm", ("B", "H", "M", "K"), (b, h, m, k), (
        Tensor("A", "input", (axis((0, 1)), axis((1, 1)), axis((2, 1)), axis((3, 1)))),
        Tensor("W", "weight", (axis((0, 1)), axis((1, 1)), axis((3, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1)), axis((2, 1))))), op="einsum")


FREE = DataflowSpec(preset="free")
FOUR_LEVEL = accelerator(
    memory("DRAM", None, 200.0), memory("GLB", 64, 6.0),
    FanoutSpec(name="PE", mesh_x=4, mesh_y=2, dataflow=FREE),
    memory("SP", 16, 2.0), memory("RF", 4, 1.0))
TWO_LEVEL = accelerator(memory("DRAM", None, 100.0), memory("RF", 64, 1.0))


def test_hand_counted_class_of_two() -> None:
    # B = H = 2 (one class) on DRAM > RF: each 2 goes to DRAM or RF. At DRAM: no loop (1
    # order), B alone (1), H alone (1), both: B before H only (they commute when adjacent),
    # 1 order. 4 candidates; dims of different classes would give 1 + 1 + 1 + 2 = 5.
    same = MapSpace(_bmm(2, 2, 1, 1), TWO_LEVEL, bypass=False)
    assert same.count().lower == same.count().upper == 4
    distinct = MapSpace(_bmm(1, 2, 2, 1), TWO_LEVEL, bypass=False)
    assert distinct.size() == 5


def test_hand_counted_mesh() -> None:
    # K = 4 on DRAM > [2 x 1 PEs] > RF: K's splits (DRAM, RF, PE x) are the ordered
    # factorisations of 4 into 3 with the PE factor at most 2: 6 - (1, 1, 4) = 5; orders
    # do not multiply (one dim), keep sets off: 5.
    arch = accelerator(memory("DRAM", None, 100.0),
                       FanoutSpec(name="PE", mesh_x=2, mesh_y=1, dataflow=FREE),
                       memory("RF", 64, 1.0))
    assert MapSpace(conv1d(4, 1, 1), arch, bypass=False).size() == 5


@pytest.mark.parametrize("problem", [conv1d(4, 6, 3), conv1d(8, 2, 3), matmul(4, 2, 6),
                                     _bmm(2, 2, 4, 2), _bmm(4, 2, 2, 3)],
                         ids=["conv1d-4-6-3", "conv1d-8-2-3", "mm-4-2-6", "bmm-2-2-4-2",
                              "bmm-4-2-2-3"])
@pytest.mark.parametrize("arch", [TWO_LEVEL, FOUR_LEVEL], ids=["2-level", "4-level"])
def test_count_equals_brute_force(problem: Problem, arch: ArchModel) -> None:
    space = MapSpace(problem, arch)
    size = space.count()
    assert size.exact
    assert size.lower == _brute_size(space) * len(space.keep_choices)


def test_listed_splits_in_lexicographic_order() -> None:
    # The listed splits are every factorisation over the allowed slots within the meshes,
    # in the lexicographic order of the allowed slots' factors (the order seeded searches
    # draw from, kept from the previous implementation).
    space = MapSpace(conv1d(12, 8, 3), FOUR_LEVEL)
    for d, bound in enumerate(space.problem.bounds):
        expected = []
        for split in _ordered(bound, len(space.allowed[d])):
            row = [1] * len(space.slots)
            for s, factor in zip(space.allowed[d], split, strict=True):
                row[s] = factor
            if all(row[s] <= space.slots[s].extent for s in space.spatial_slots):
                expected.append(row)
        assert space.splits[d].tolist() == expected


def test_closed_form_counts_equal_the_listed_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the listing limit at 4 rows every dim is sampled and counted by formula; the
    # counts must not change.
    expected = {name: MapSpace(problem, FOUR_LEVEL).count() for name, problem in
                (("conv", conv1d(8, 6, 3)), ("bmm", _bmm(2, 2, 4, 2)))}
    split_table.cache_clear()
    monkeypatch.setattr(space_module, "SPLIT_ROWS", 4)
    try:
        for name, problem in (("conv", conv1d(8, 6, 3)), ("bmm", _bmm(2, 2, 4, 2))):
            space = MapSpace(problem, FOUR_LEVEL)
            assert not space.listed
            assert space.count() == expected[name]
    finally:
        split_table.cache_clear()


@pytest.mark.parametrize("problem", [conv1d(8, 6, 3), _bmm(2, 2, 4, 2)], ids=["conv", "bmm"])
def test_both_programmes_agree(problem: Problem) -> None:
    # Unconstrained spaces are counted by the level-symmetric programme; a constraint that
    # rules nothing out (a factor bound above the dim's bound) sends the same space through
    # the dense programme over loop counts: the same count.
    vacuous = MapConstraints(slots=(SlotConstraint(
        target="GLB", factors=(FactorRule(dim=problem.dims[0], op="<=", value=1000),)),))
    plain = MapSpace(problem, FOUR_LEVEL)
    dense = MapSpace(problem, FOUR_LEVEL, constraints=vacuous)
    assert plain.count() == dense.count() and plain.count().exact
    assert plain.count_work > 0 and dense.count_work > 0


@pytest.mark.parametrize("imperfect", [False, True], ids=["perfect", "padded"])
def test_bounds_hold_the_exact_count(imperfect: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # With no work allowed the count falls back to bounds; they must hold the exact count
    # (padded: the perfect space's count below, every padded total's splits above).
    problem = conv1d(7, 6, 3)
    exact = MapSpace(problem, FOUR_LEVEL, imperfect=imperfect).count()
    assert exact.exact
    monkeypatch.setattr(space_module, "COUNT_WORK", 0)
    bounded = MapSpace(problem, FOUR_LEVEL, imperfect=imperfect).count()
    assert not bounded.exact
    assert bounded.lower <= exact.lower <= bounded.upper
    if imperfect:  # tighter than the factorisations times the most orders
        perfect = MapSpace(problem, FOUR_LEVEL).count()
        assert bounded.lower >= perfect.lower


# -- bounded work ----------------------------------------------------------------------


def _chain(levels: int, *, mesh: int = 4) -> ArchModel:
    """DRAM and `levels - 1` memories of halving size, a mesh x mesh fanout half-way."""
    parts: list[MemorySpec | FanoutSpec] = [memory("DRAM", None, 200.0)]
    for i in range(1, levels):
        parts.append(memory(f"L{i}", max(64, 2 ** (20 - i)), 100.0 / (i + 1)))
        if i == levels // 2:
            parts.append(FanoutSpec(name="PE", mesh_x=mesh, mesh_y=mesh, dataflow=FREE))
    return accelerator(*parts)


def test_huge_dim_is_sampled_and_counted_in_bounded_work() -> None:
    # K = 2^24 over 8 temporal slots: C(24 + 7, 7) = 2,629,575 splits, more than SPLIT_ROWS:
    # the table is a sample, every row a factorisation of K, and the count comes from the
    # closed form: with K the only dim, each split is one candidate (one loop per level).
    arch = _chain(8, mesh=1)
    space = MapSpace(conv1d(2 ** 24, 1, 1), arch, bypass=False)
    table = space.split_tables[0]
    assert not table.exact and table.closed_form
    assert len(table.rows) <= SAMPLED_ROWS + len(table.parts) < SPLIT_ROWS
    assert np.all(np.prod(table.rows, axis=1) == 2 ** 24)
    assert space.count().lower == space.count().upper == math.comb(31, 7)
    assert 0 < space.count_work <= 2 * COUNT_WORK


def test_two_huge_dims_against_stars_and_bars() -> None:
    # K = 2^13 and P = 3^13 on 8 levels (no mesh): each dim's splits by the set of levels
    # holding a factor, from compositions of 13 (itertools); the candidates are the sum
    # over both dims' level sets of the product of the ordered levels' k! (k = loops).
    arch = _chain(8, mesh=1)
    space = MapSpace(conv1d(2 ** 13, 3 ** 13, 1), arch, bypass=False)
    assert not space.listed  # C(20, 7) = 77,520 splits each
    by_mask: dict[tuple[bool, ...], int] = {}
    for bars in itertools.combinations(range(13 + 7), 7):
        edges = (-1, *bars, 13 + 7)
        mask = tuple(b - a - 1 > 0 for a, b in itertools.pairwise(edges))
        by_mask[mask] = by_mask.get(mask, 0) + 1
    expected = 0
    for (first, a), (second, b) in itertools.product(by_mask.items(), repeat=2):
        expected += a * b * math.prod(math.factorial(x + y)
                                      for x, y in zip(first[:7], second[:7], strict=True))
    assert space.count().exact and space.count().lower == expected


@pytest.mark.parametrize("bound", [2 ** 24, 2 ** 31 - 1, 2 ** 30 * 3, 2 ** 40])
def test_huge_dims_on_eyeriss_are_bounded(bound: int) -> None:
    # On a 5-level hierarchy with a 14 x 12 mesh: the split table never lists more than
    # SPLIT_ROWS rows and the count never does more than its work limit, whatever the bound.
    arch = _chain(5, mesh=12)
    space = MapSpace(conv1d(bound, 14, 3), arch)
    assert all(len(rows) <= SPLIT_ROWS for rows in space.splits)
    size = space.count()
    assert 0 < size.lower <= size.upper
    assert space.count_work <= 2 * COUNT_WORK


def test_moves_on_huge_dims_keep_the_bounds() -> None:
    # Above 4,096 the move tables have a row per divisor of the totals, not per value: the
    # heuristic's moves still divide and multiply real primes of each dim.
    arch = _chain(5, mesh=12)
    problem = conv1d(2 ** 24 * 3, 14, 3)
    space = MapSpace(problem, arch)
    rng = np.random.default_rng(3)
    factors, orders = space.sample(rng, 256)
    for _ in range(3):
        factors, orders, _ = space.neighbours(rng, factors, orders, 256)
    assert np.all(np.prod(factors, axis=0) == np.array(problem.bounds)[:, None])
    moves = space.factor_moves(factors[:, :, 0], whole=True)
    assert np.all(factors[moves[:, 1], moves[:, 0], 0] % moves[:, 3] == 0)


def test_sampled_tables_keep_each_parts_outermost_split() -> None:
    # The seeds put every temporal factor outermost: a sampled table still holds, for each
    # spatial part, the split with the whole quotient at the outermost level.
    arch = _chain(5, mesh=12)
    space = MapSpace(conv1d(2 ** 24, 14, 3), arch)
    table = space.split_tables[0]
    assert not table.exact
    spatial = list(space.spatial_slots)
    for part, quotient, _, _ in table.parts:
        rows = table.rows[np.all(table.rows[:, spatial] == part, axis=1)]
        assert np.any(rows[:, 0] == quotient)


@pytest.mark.parametrize("rule", [FactorRule(dim="K", value=2 ** 7),
                                  FactorRule(dim="K", value=None)], ids=["fixed", "all"])
def test_sampled_dims_under_factor_rules(rule: FactorRule) -> None:
    # K = 2^24 on 8 levels has 2.6 million splits: sampled. A rule few of them obey (a
    # factor of 2^7 at L3, or all of K there) still leaves sampled splits, each obeying it,
    # and the search maps within it (all of K at L3 cannot fit its memory: only the
    # splits are checked).
    arch = _chain(8, mesh=1)
    constraints = MapConstraints(slots=(SlotConstraint(target="L3", factors=(rule,)),))
    problem = conv1d(2 ** 24, 2, 1)
    space = MapSpace(problem, arch, constraints=constraints)
    rows = space.splits[0]
    assert not space.split_tables[0].exact and len(rows) > 0
    want = 2 ** 7 if rule.value else 2 ** 24
    assert np.all(rows[:, 3] == want) and np.all(np.prod(rows, axis=1) == 2 ** 24)
    if rule.value is None:
        return
    result = map_problem(problem, arch, MapperOptions(budget=300, constraints=constraints))
    level = result.mapping.levels[3]
    assert math.prod(loop.factor for loop in level.temporal if loop.dim == 0) == want


def test_auto_never_enumerates_a_sampled_space(monkeypatch: pytest.MonkeyPatch) -> None:
    # A space small enough for the budget whose splits were sampled (listing limit 1) is
    # searched by the heuristic, not enumerated.
    split_table.cache_clear()
    monkeypatch.setattr(space_module, "SPLIT_ROWS", 1)
    try:
        result = map_problem(conv1d(4, 2, 1), TWO_LEVEL, MapperOptions(budget=10_000))
        assert result.search == "heuristic"
        assert result.mapspace_upper is None and result.mapspace_size <= 10_000
    finally:
        split_table.cache_clear()


def test_bounds_beyond_the_cost_model_are_reasons() -> None:
    # A dim of 10^38 (or dims whose product passes 2^62) would overflow the cost model's
    # int64 counts: the map space says so before any work.
    with pytest.raises(SearchLimitError) as huge:
        MapSpace(conv1d(10 ** 38, 1, 1), TWO_LEVEL)
    assert "below 2^62" in huge.value.reasons[0] and "`K`" in huge.value.reasons[0]
    with pytest.raises(SearchLimitError) as product:
        MapSpace(conv1d(2 ** 30, 2 ** 30, 2 ** 10), TWO_LEVEL)
    assert "multiply to" in product.value.reasons[0]


def test_many_dims_of_one_are_not_a_huge_product() -> None:
    # 200 dims of bound 1 beside a matmul's 8 x 8 x 8: exact factorisations multiply to 512
    # iterations, which the cost model takes (the check once counted every dim as if padded
    # by a quarter, 2 for a bound of 1: 2^200 * 1,000, and refused with "the bounds multiply
    # to 512 iterations"). Padded ones may round each bound 1 up to 2, past 2^62: refused,
    # saying so.
    dims = ("M", "N", "K", *(f"U{i}" for i in range(200)))
    base = matmul(8, 8, 8)
    problem = Problem("wide", dims, (8, 8, 8, *(1,) * 200), base.tensors, op="einsum")
    assert MapSpace(problem, TWO_LEVEL).ndims == 203
    # Mapped like the matmul itself (the same space), through the polish's re-splits, whose
    # combinations of dims once went through np.meshgrid (at most 32 arrays: an internal
    # error past 32 dims).
    result = map_problem(problem, THREE_LEVEL, MapperOptions(budget=500))
    assert result.mapspace_size == map_problem(base, THREE_LEVEL,
                                               MapperOptions(budget=500)).mapspace_size
    assert check_mapping(result.mapping, problem, THREE_LEVEL) == ()
    with pytest.raises(SearchLimitError) as padded:
        MapSpace(problem, TWO_LEVEL, imperfect=True)
    assert padded.value.reasons == (
        "the bounds multiply to 512 iterations, padded factorisations (--imperfect) up to "
        "about 10^63: the cost model takes below 2^62 (it counts in 64-bit integers)",)


@pytest.mark.parametrize("levels", [8, 16])
def test_deep_hierarchies_map_with_a_valid_mapping(levels: int) -> None:
    # The hierarchy is generated: `levels` memories, a 4 x 4 fanout half-way. The search
    # finds a valid mapping; the space is counted exactly or bounded (lower <= upper), with
    # the count's work and every split table bounded.
    arch = _chain(levels)
    problem = conv1d(32, 56, 3)
    space = MapSpace(problem, arch)
    assert all(len(rows) <= SPLIT_ROWS for rows in space.splits)
    result = map_problem(problem, arch, MapperOptions(budget=2000))
    assert check_mapping(result.mapping, problem, arch) == ()
    upper = result.mapspace_upper
    assert upper is None or result.mapspace_size <= upper
    assert result.mapspace_size >= result.evaluated
    size = space.count()
    assert (size.lower, size.upper) == (result.mapspace_size, upper or result.mapspace_size)
    assert space.count_work <= 2 * COUNT_WORK


def test_exhaustive_refuses_a_sampled_space() -> None:
    arch = _chain(8, mesh=1)
    with pytest.raises(SearchLimitError) as refused:
        map_problem(conv1d(2 ** 24, 1, 1), arch, MapperOptions(search="exhaustive"))
    assert "cannot enumerate" in refused.value.reasons[0]


# -- reports ---------------------------------------------------------------------------


def _deep_spec(levels: int) -> str:
    lines = ["network n {", "    input x: [16, 14, 14]",
             "    layer a = conv(x, out = 32, kernel = 3, pad = same)", "}",
             "accelerator deep {", "    word = 16b clock = 1GHz", "    memory DRAM { width = 64b }"]
    for i in range(1, levels):
        lines.append(f"    memory L{i} {{ size = {max(64, 2 ** (20 - i))} words, width = 64b }}")
        if i == levels // 2:
            lines.append("    fanout PE { mesh = 4 x 4 }")
    lines += ["    compute MAC { }", "}"]
    return "\n".join(lines) + "\n"


def test_json_says_when_the_size_is_bounded(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.cd").write_text(_deep_spec(16))
    (tmp_path / "small.cd").write_text(_deep_spec(3))
    args = ["-n", "n", "-l", "a", "-a", "deep", "--budget", "500", "--format", "json"]
    # Padded factorisations on 16 levels: neither programme fits its work limit.
    deep = runner.invoke(cli.app, ["map", "deep.cd", "--imperfect", *args])
    assert deep.exit_code == 0, deep.output
    data = json.loads(deep.stdout)
    low, high = data["mapspace_bounds"]
    assert data["mapspace_size"] is None and 0 < low < high
    small = json.loads(runner.invoke(cli.app, ["map", "small.cd", *args]).stdout)
    assert small["mapspace_bounds"] == [small["mapspace_size"]] * 2
    table = runner.invoke(cli.app, ["map", "deep.cd", "--imperfect", *args[:-2]])
    assert table.exit_code == 0 and " of between " in table.stdout


@pytest.mark.parametrize("colliding", [False, True], ids=["keys", "every key equal"])
def test_distinct_rows_are_numpys_unique_rows(monkeypatch: pytest.MonkeyPatch,
                                              colliding: bool) -> None:
    # The sampled split tables keep each distinct row once by a 64-bit key per row; when
    # two different rows share a key (forced here: every multiplier 0), numpy's unique of
    # the rows decides. Either way: the rows np.unique keeps, each with its total.
    if colliding:
        monkeypatch.setattr(space_module, "_ROW_MULTIPLIERS",
                            np.zeros(4096, dtype=np.uint64))
    rng = np.random.default_rng(7)
    rows = rng.integers(1, 4, size=(500, 9))
    rows = np.concatenate([rows, rows[:200], rows[::7]])
    totals = np.prod(rows, axis=1)
    found, found_totals = space_module._distinct_rows(rows, totals)
    expected = np.unique(rows, axis=0)
    order = np.lexsort(found.T[::-1])
    assert np.array_equal(found[order], expected)
    assert np.array_equal(found_totals[order], np.prod(expected, axis=1))


def test_bounds_of_a_space_whose_constraints_force_a_spatial_factor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `PE x [K 2]` leaves K no split without a spatial factor. When the meshes' programme
    # is too large (OBJECT_WORK, forced to 0 here), the lower bound was the splits without
    # spatial factors: 0 ("searched 8,608 of between 0 and 5.870e30 mappings" on a deep
    # hierarchy). It is now one fitting combination's: K 2 on X (its 1 split), P 4 and R 2
    # with no spatial factor (X is full; 6 and 3 splits over DRAM, BUF, RF): 18.
    arch = accelerator(memory("DRAM", None, 200.0), memory("BUF", 16, 6.0),
                       FanoutSpec(name="PE", mesh_x=2, mesh_y=2), memory("RF", 6, 1.0))
    space = MapSpace(conv1d(2, 4, 2), arch, bypass=False, constraints=MapConstraints(slots=(
        SlotConstraint(target="PE", axis="x", factors=(FactorRule(dim="K", value=2),)),)))
    extents = (2, 2)
    exact = tiling_bounds(list(space.split_tables), extents)
    monkeypatch.setattr(space_module, "OBJECT_WORK", 0)
    fewest, most = tiling_bounds(list(space.split_tables), extents)
    assert fewest == 18 and 0 < fewest <= exact[0] == exact[1] <= most
