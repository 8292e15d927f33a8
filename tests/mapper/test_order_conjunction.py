"""Order rules at one memory that no single rule states (`order [K, ...]` from the
accelerator and `order [P, ...]` from a request): a mapping obeys them when its loops of
factor > 1 there obey each rule (as `dslc lint`, E612 and Timeloop's `SatisfiedBy` judge
one rule), so K or P may loop there, not both. The mapper searches exactly those mappings:
its best and its map-space size equal a brute force written here from that definition
(every factorisation and every order of each level's real loops by itertools, each rule
checked on the order as a plain list, costed with the scalar model), knowing nothing of
MapSpace. E610 only when fixed factors force loops no order can hold, naming them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from dslc.cost import kernel
from dslc.cost.model import evaluate
from dslc.lower.problem import Problem
from dslc.mapper import MapperOptions, NoValidMappingError, map_problem
from dslc.mapper.search import _Search
from dslc.mapper.space import MapSpace
from dslc.mapping.constraints import mapping_violations
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop, check_mapping
from dslc.spec.accelerator import DataflowSpec, FanoutSpec
from dslc.spec.constraints import FactorRule, MapConstraints, OrderConstraint, SlotConstraint
from tests.mapper.test_mapper import accelerator, conv1d, memory

# DRAM > 16-word BUF (inputs and outputs) > 2 x 2 PEs > 6-word RF (weights and outputs).
ARCH = accelerator(
    memory("DRAM", None, 200.0), memory("BUF", 16, 6.0, holds=("input", "output")),
    FanoutSpec(name="PE", mesh_x=2, mesh_y=2, dataflow=DataflowSpec(preset="free")),
    memory("RF", 6, 1.0, holds=("weight", "output")))
PROBLEM = conv1d(2, 4, 2)  # K 2, P 4, R 2
LEVELS = ("DRAM", "BUF", "RF")
PLACES = ("DRAM", "BUF", "RF", "PE.x", "PE.y")

Rule = tuple[tuple[str, ...], tuple[str, ...], bool]
"""(outer dims, inner dims, closed) as written: `[K, ...]` is (("K",), (), False)."""


def holds(rule: Rule, order: list[str]) -> bool:
    """Whether a level's real loops, outer to inner, obey one order rule as the language
    reference states it: the outer dims present start the order in their order, the inner
    ones present end it, and a closed rule allows no other dim a loop."""
    outer, inner, closed = rule
    if closed and any(d not in outer + inner for d in order):
        return False
    first = [d for d in outer if d in order]
    last = [d for d in inner if d in order]
    return order[:len(first)] == first and (not last or order[len(order) - len(last):] == last)


def constraints_of(rules: dict[str, list[Rule]], **slots: list[FactorRule]) -> MapConstraints:
    return MapConstraints(
        slots=tuple(SlotConstraint(target=level, factors=tuple(found))
                    for level, found in slots.items()),
        orders=tuple(OrderConstraint(target=level, outer=outer, inner=inner,
                                     others=not closed, origin=f"rule {n}")
                     for level, written in rules.items()
                     for n, (outer, inner, closed) in enumerate(written)))


def placements(bound: int) -> list[tuple[int, ...]]:
    divisors = [d for d in range(1, bound + 1) if bound % d == 0]
    return [c for c in itertools.product(divisors, repeat=len(PLACES)) if math.prod(c) == bound]


def mappings(problem: Problem, rules: dict[str, list[Rule]],
             fixed: dict[tuple[str, str], int]) -> Iterator[tuple[Mapping, bool]]:
    """Every factorisation within the 2 x 2 mesh obeying the fixed factors, with every order
    of each level's real loops that obeys every rule at that level; yields each mapping and
    whether it is the first of its class up to the innermost level's order (which no count
    depends on: the map space counts such classes)."""
    index = {dim: d for d, dim in enumerate(problem.dims)}
    for combo in itertools.product(*(placements(b) for b in problem.bounds)):
        factors = {(place, dim): combo[d][p] for d, dim in enumerate(problem.dims)
                   for p, place in enumerate(PLACES)}
        if any(math.prod(factors[(place, dim)] for dim in problem.dims) > 2
               for place in ("PE.x", "PE.y")):
            continue
        if any(factors[key] != value for key, value in fixed.items()):
            continue
        real = [[d for d in problem.dims if factors[(level, d)] > 1] for level in LEVELS]
        options = [[list(order) for order in itertools.permutations(loops)
                    if all(holds(rule, list(order)) for rule in rules.get(level, []))]
                   for level, loops in zip(LEVELS, real, strict=True)]
        for orders in itertools.product(*options):
            levels = []
            for i, level in enumerate(LEVELS):
                temporal = tuple(Loop(index[d], factors[(level, d)]) for d in orders[i])
                spatial = tuple(SpatialLoop(index[d], factors[(f"PE.{a}", d)], "PE", a)
                                for a in ("x", "y") for d in problem.dims
                                if level == "BUF" and factors[(f"PE.{a}", d)] > 1)
                keep = frozenset(t.name for t in problem.tensors
                                 if t.role in {"DRAM": ("weight", "input", "output"),
                                               "BUF": ("input", "output"),
                                               "RF": ("weight", "output")}[level])
                levels.append(LevelMapping(level, temporal, spatial, keep))
            first = orders[-1] == (options[-1][0] if options[-1] else [])
            yield Mapping(tuple(levels)), first


def brute_force(problem: Problem, rules: dict[str, list[Rule]],
                fixed: dict[tuple[str, str], int] | None = None) -> tuple[float, int]:
    """The least EDP over the allowed mappings that run, and how many allowed mappings
    there are up to the innermost level's order (run or not: the size counts them all)."""
    best, count = math.inf, 0
    for mapping, first in mappings(problem, rules, fixed or {}):
        count += first
        if check_mapping(mapping, problem, ARCH):
            continue
        cost = evaluate(problem, ARCH, mapping, check=False)
        best = min(best, cost.energy_pj * cost.cycles)
    return best, count


def obeys(mapping: Mapping, problem: Problem, rules: dict[str, list[Rule]]) -> bool:
    return all(holds(rule, [problem.dims[loop.dim] for loop in
                            mapping.level(level).temporal if loop.factor > 1])
               for level, written in rules.items() for rule in written)


CASES: dict[str, tuple[dict[str, list[Rule]], dict[str, list[FactorRule]]]] = {
    # K or P outermost at BUF: not both with loops there.
    "two outermost": ({"BUF": [(("K",), (), False), (("P",), (), False)]}, {}),
    # K both outermost and innermost: K only as BUF's one loop.
    "first and last": ({"BUF": [(("K",), (), False), ((), ("K",), False)]}, {}),
    # Two levels at once, and an inner conflict: R or P innermost at DRAM.
    "two levels": ({"DRAM": [((), ("R",), False), ((), ("P",), False)],
                    "BUF": [(("K",), (), False), (("P",), (), False)]}, {}),
    # A closed order (only K and P loop) and P outermost: K then P cannot both loop.
    "closed and open": ({"BUF": [(("K", "P"), (), True), (("P",), (), False)]}, {}),
    # At the innermost memory, whose order no cost depends on: the rules still decide
    # which loops may be there together (and the reported mapping's order obeys them).
    "innermost level": ({"RF": [(("K",), (), False), (("R",), (), False)]}, {}),
    # A fixed factor forces K's loop at BUF, so P has none there.
    "forced loop": ({"BUF": [(("K",), (), False), (("P",), (), False)]},
                    {"BUF": [FactorRule(dim="K", value=2)]}),
}


@pytest.mark.parametrize("case", CASES)
def test_exhaustive_best_and_size_equal_the_brute_force(case: str) -> None:
    rules, slots = CASES[case]
    constraints = constraints_of(rules, **slots)
    fixed = {(level, rule.dim): int(rule.value or 0) for level, found in slots.items()
             for rule in found}
    best, count = brute_force(PROBLEM, rules, fixed)
    found = map_problem(PROBLEM, ARCH, MapperOptions(search="exhaustive", bypass=False,
                                                     constraints=constraints))
    assert found.cost.energy_pj * found.cost.cycles == best
    assert found.mapspace_size == count
    assert obeys(found.mapping, PROBLEM, rules)
    assert check_mapping(found.mapping, PROBLEM, ARCH) == ()
    assert mapping_violations(found.mapping, PROBLEM, ARCH, constraints) == ()
    # `auto` picks the exhaustive search for this small space, and the enumeration holds
    # each allowed candidate once.
    auto = map_problem(PROBLEM, ARCH, MapperOptions(bypass=False, constraints=constraints))
    assert auto.search == "exhaustive" and auto.mapspace_size == count
    space = MapSpace(PROBLEM, ARCH, bypass=False, constraints=constraints)
    chunks = list(space.enumerate())
    factors = np.concatenate([f for f, _ in chunks], axis=2)
    orders = np.concatenate([o for _, o in chunks], axis=2)
    assert factors.shape[-1] == count == space.size()
    assert len(np.unique(space.canonical(factors, orders), axis=0)) == count
    assert space.valid_factors(factors).all() and space.valid_orders(factors, orders).all()


def test_the_counts_by_hand() -> None:
    # K 2, P 2, R 2 on DRAM > BUF: each dim's loop is at DRAM or at BUF, so each set S of
    # dims looping at DRAM is one tiling, with |S|! orders at DRAM (BUF's, the innermost,
    # does not count): 1 + 3 * 1 + 3 * 2 + 6 = 16 candidates.
    two = accelerator(memory("DRAM", None, 200.0), memory("BUF", 64, 6.0))
    problem = conv1d(2, 2, 2)
    assert MapSpace(problem, two, bypass=False).size() == 16
    # `[K, ...]` and `[P, ...]` at DRAM: no S with both K and P; K or P first when there:
    # {} 1, {K} 1, {P} 1, {R} 1, {K, R} 1 (K R), {P, R} 1 (P R): 6.
    # `[K, ...]` and `[..., K]`: K only alone: {} 1, {K} 1, {P} 1, {R} 1, {P, R} 2: 6.
    # `[K, ...]` and `[..., P]`: {K, P} as K P, {K, R} K R, {P, R} R P, {K, P, R} K R P,
    # and 1 each for {} and the singletons: 4 + 4 = 8 (one rule `[K, ..., P]`: merged).
    for rules, expected in ((((("K",), (), False), (("P",), (), False)), 6),
                            (((("K",), (), False), ((), ("K",), False)), 6),
                            (((("K",), (), False), ((), ("P",), False)), 8)):
        constraints = constraints_of({"DRAM": list(rules)})
        space = MapSpace(problem, two, bypass=False, constraints=constraints)
        assert space.size() == expected
        found = map_problem(problem, two, MapperOptions(search="exhaustive", bypass=False,
                                                        constraints=constraints))
        assert found.mapspace_size == expected
        assert obeys(found.mapping, problem, {"DRAM": list(rules)})


@pytest.mark.parametrize("search", ["heuristic", "random"])
def test_the_searches_stay_inside_every_rule(search: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Each part of the union is searched with a share of the budget; every candidate any
    # of them evaluates obeys every rule, checked on its real loops as plain lists.
    rules, _ = CASES["two levels"]
    problem = conv1d(4, 16, 3)
    original = _Search.run_batch
    checked = []

    def checking(self: _Search, factors: np.ndarray, orders: np.ndarray, keeps: np.ndarray,
                 **kwargs: bool) -> object:
        for column in range(factors.shape[-1]):
            for level, written in rules.items():
                i = LEVELS.index(level)
                real = [problem.dims[d] for d in orders[i, :, column]
                        if factors[i, d, column] > 1]
                assert all(holds(rule, real) for rule in written), (level, real)
        checked.append(factors.shape[-1])
        return original(self, factors, orders, keeps, **kwargs)

    monkeypatch.setattr(_Search, "run_batch", checking)
    constraints = constraints_of(rules)
    found = map_problem(problem, ARCH, MapperOptions(search=search, budget=2000,  # type: ignore[arg-type]
                                                     constraints=constraints))
    assert sum(checked) > 0 and found.evaluated > 0
    assert obeys(found.mapping, problem, rules)
    assert mapping_violations(found.mapping, problem, ARCH, constraints) == ()
    monkeypatch.undo()
    exhaustive = map_problem(problem, ARCH, MapperOptions(search="exhaustive",
                                                          constraints=constraints))
    assert exhaustive.mapspace_size == found.mapspace_size
    if search == "heuristic":
        assert found.cost.energy_pj * found.cost.cycles <= \
            exhaustive.cost.energy_pj * exhaustive.cost.cycles * 1.01


def test_forced_loops_no_order_holds_name_the_level_and_the_dims() -> None:
    # K 2 and P 2 fixed at BUF: both loop there, and `[K, ...]` and `[P, ...]` cannot both
    # hold; R's factor is free, so the reason names K and P only.
    constraints = constraints_of({"BUF": [(("K",), (), False), (("P",), (), False)]},
                                 BUF=[FactorRule(dim="K", value=2), FactorRule(dim="P", value=2)])
    with pytest.raises(NoValidMappingError) as raised:
        map_problem(PROBLEM, ARCH, MapperOptions(constraints=constraints))
    assert raised.value.reasons == (
        "`K` and `P` must have loops at `BUF` (`BUF` [K 2]; `BUF` [P 2]), but no order of "
        "them obeys order [K, ...] (rule 0) and order [P, ...] (rule 1) there",)
    # The whole bound counts as forcing a loop when the bound is above 1.
    whole = constraints_of({"BUF": [(("K",), (), False), ((), ("K",), False)]},
                           BUF=[FactorRule(dim="K", value=None), FactorRule(dim="P", value=4)])
    with pytest.raises(NoValidMappingError) as raised:
        map_problem(PROBLEM, ARCH, MapperOptions(constraints=whole))
    assert raised.value.reasons == (
        "`K` and `P` must have loops at `BUF` (`BUF` [K all]; `BUF` [P 4]), but no order of "
        "them obeys order [K, ...] (rule 0) and order [..., K] (rule 1) there",)


def test_a_case_left_empty_by_other_constraints_is_dropped() -> None:
    # K may loop only at BUF (forbidden at DRAM and RF, and the PEs take only P), so with
    # `[K, ...]` and `[P, ...]` at BUF, P has no loop there: the brute force agrees.
    rules = {"BUF": [(("K",), (), False), (("P",), (), False)]}
    constraints = MapConstraints(
        slots=(SlotConstraint(target="DRAM", forbid=("K",)),
               SlotConstraint(target="RF", forbid=("K",)),
               SlotConstraint(target="PE", axis="x", allow=("P",)),
               SlotConstraint(target="PE", axis="y", allow=("P",))),
        orders=constraints_of(rules).orders)
    found = map_problem(PROBLEM, ARCH, MapperOptions(search="exhaustive", bypass=False,
                                                     constraints=constraints))
    assert found.mapping.level("BUF").temporal[0].dim == PROBLEM.dims.index("K")
    assert all(PROBLEM.dims[loop.dim] != "P" for loop in found.mapping.level("BUF").temporal)
    # The cases with P looping at BUF hold no mapping (K has nowhere else to go): the
    # union is the other case alone, and the brute force with K pinned to BUF agrees.
    fixed = {("DRAM", "K"): 1, ("RF", "K"): 1, ("PE.x", "K"): 1, ("PE.y", "K"): 1,
             ("PE.x", "R"): 1, ("PE.y", "R"): 1}
    best, count = brute_force(PROBLEM, rules, fixed)
    assert found.mapspace_size == count
    assert found.cost.energy_pj * found.cost.cycles == best


def test_no_fit_explains_every_case() -> None:
    # DRAM > 32-word BUF (inputs, outputs) > 6-word RF (weights, outputs), no bypass; K 4,
    # P 8, R 2, K and P forbidden at DRAM, `[K, ...]` and `[P, ...]` at BUF: two cases.
    # K loops at BUF, P not: P 8 must sit at RF, K 4 at BUF, R 2 at DRAM (the smallest
    # tiles): RF holds weight K1 x R1 = 1 and output K1 x P8 = 8, 9 words in 6.
    # P loops at BUF, K not: K 4 at RF: weight K4 x R1 = 4 and output K4 x P1 = 4, 8 words.
    # In both, BUF holds input P8 + R1 - 1 = 8 and output K4 x P8 = 32, 40 words in 32:
    # said once; each RF overflow after its case.
    arch = accelerator(memory("DRAM", None, 200.0),
                       memory("BUF", 32, 6.0, holds=("input", "output")),
                       memory("RF", 6, 1.0, holds=("weight", "output")))
    constraints = MapConstraints(slots=(SlotConstraint(target="DRAM", forbid=("K", "P")),),
                                 orders=constraints_of({"BUF": CASES["two outermost"][0]["BUF"]})
                                 .orders)
    expected = (
        "tiles kept at `BUF` need 40 words (input 8, output 32), it holds 32: 8 words over",
        "with `BUF` in order [K, ...] without `P` loops: tiles kept at `RF` need 9 words "
        "(weight 1, output 8), it holds 6: 3 words over",
        "with `BUF` in order [P, ...] without `K` loops: tiles kept at `RF` need 8 words "
        "(weight 4, output 4), it holds 6: 2 words over",
        "(in each of the 2 cases of the order rules, with the smallest tiles the map-space "
        "constraints allow: no case holds a mapping that fits)")
    for search in ("auto", "heuristic", "random"):
        with pytest.raises(NoValidMappingError) as raised:
            map_problem(conv1d(4, 8, 2), arch, MapperOptions(
                search=search, bypass=False, constraints=constraints))  # type: ignore[arg-type]
        assert raised.value.reasons == expected, search


def _key(factors: dict[tuple[str, str], int], orders: list[list[str]]) -> tuple[object, ...]:
    """A candidate as its factor at each place and the order of its real loops at each
    level above the innermost (whose order no count depends on)."""
    return (tuple(sorted(factors.items())), tuple(tuple(order) for order in orders[:-1]))


@pytest.mark.parametrize("case", ["two outermost", "first and last", "two levels"])
@pytest.mark.parametrize("search", ["heuristic", "random"])
def test_overlapping_cases_evaluate_each_mapping_once(case: str, search: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The cases overlap (a mapping with neither K nor P looping at BUF is in both of "two
    # outermost"'s): every candidate costed is recorded (numpy path: `_evaluate` costs
    # them all) and checked against the union listed by brute force.
    rules, _ = CASES[case]
    union: set[tuple[object, ...]] = set()
    fitting = 0
    for mapping, first in mappings(PROBLEM, rules, {}):
        factors = {(level.name, PROBLEM.dims[loop.dim]): loop.factor
                   for level in mapping.levels for loop in level.temporal}
        factors |= {(f"PE.{loop.axis}", PROBLEM.dims[loop.dim]): loop.factor
                    for level in mapping.levels for loop in level.spatial}
        orders = [[PROBLEM.dims[loop.dim] for loop in level.temporal]
                  for level in mapping.levels]
        key = _key({k: v for k, v in factors.items() if v > 1}, orders)
        if first:
            union.add(key)
            fitting += check_mapping(mapping, PROBLEM, ARCH) == ()
    monkeypatch.setenv(kernel.DISABLE_ENV, "1")
    original = _Search._evaluate
    costed: list[tuple[object, ...]] = []

    def recording(self: _Search, factors: np.ndarray, orders: np.ndarray, keeps: np.ndarray,
                  remember: bool) -> np.ndarray:
        places = [LEVELS[s.level] if not s.spatial else f"PE.{s.axis}" for s in
                  self.space.slots]
        for b in range(factors.shape[-1]):
            found = {(place, PROBLEM.dims[d]): int(factors[s, d, b])
                     for s, place in enumerate(places) for d in range(len(PROBLEM.dims))
                     if factors[s, d, b] > 1}
            real = [[PROBLEM.dims[d] for d in orders[i, :, b] if factors[i, d, b] > 1]
                    for i in range(len(LEVELS))]
            costed.append(_key(found, real))
        return original(self, factors, orders, keeps, remember)

    monkeypatch.setattr(_Search, "_evaluate", recording)
    constraints = constraints_of(rules)
    # A budget every part fits: each part is enumerated, and the union once.
    found = map_problem(PROBLEM, ARCH, MapperOptions(search=search, budget=10**6,  # type: ignore[arg-type]
                                                     bypass=False, constraints=constraints))
    assert len(costed) == len(set(costed)) and set(costed) <= union
    if search == "heuristic":
        assert found.evaluated == fitting
    # A budget of the union's fitting candidates exactly: never more.
    costed.clear()
    found = map_problem(PROBLEM, ARCH, MapperOptions(search=search, budget=fitting,  # type: ignore[arg-type]
                                                     bypass=False, constraints=constraints))
    assert len(costed) == len(set(costed)) and set(costed) <= union
    assert found.evaluated <= fitting
