"""Map-space constraints in the mapper: the exhaustive search under each kind of constraint
equals a brute force that knows nothing of MapSpace (every factorisation, loop order and
keep set by itertools, filtered by the constraint written as a plain predicate, each costed
with the scalar model); the constrained size counts the constrained enumeration; the local
search never leaves the constrained space; conflicts name the level and the dim."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from dslc.arch import ArchModel
from dslc.cost.model import evaluate
from dslc.lower.problem import Problem, Tensor
from dslc.mapper import MapperOptions, NoValidMappingError, map_problem
from dslc.mapper.network import MapCache
from dslc.mapper.search import Search, _Search, objectives_named
from dslc.mapper.space import MapSpace
from dslc.mapping.mapping import LevelMapping, Loop, Mapping, SpatialLoop, check_mapping
from dslc.spec.accelerator import DataflowSpec, FanoutSpec
from dslc.spec.constraints import (
    FactorRule,
    KeepConstraint,
    MapConstraints,
    OrderConstraint,
    SlotConstraint,
)
from tests.mapper.test_mapper import accelerator, axis, conv1d, memory

# DRAM > 16-word BUF (inputs and outputs) > 2 x 2 PEs > 6-word RF (weights and outputs).
ARCH = accelerator(
    memory("DRAM", None, 200.0), memory("BUF", 16, 6.0, holds=("input", "output")),
    FanoutSpec(name="PE", mesh_x=2, mesh_y=2, dataflow=DataflowSpec(preset="free")),
    memory("RF", 6, 1.0, holds=("weight", "output")))
PROBLEM = conv1d(2, 4, 2)
SMALL = conv1d(2, 2, 2)
HOLDS = {"DRAM": ("weight", "input", "output"), "BUF": ("input", "output"),
         "RF": ("weight", "output")}


# ---- the brute force ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A mapping as the brute force sees it: per dim its factor in each place, per level
    its loop order (every dim, outer to inner) and per level the tensors it keeps."""

    factors: dict[tuple[str, str], int]
    """(place, dim) -> factor; places: DRAM, BUF, RF, PE.x, PE.y."""
    orders: tuple[tuple[str, ...], ...]
    """Per level, its loops outer to inner (dims of factor 1 may be listed or not: they
    have no loop)."""
    keeps: tuple[frozenset[str], ...]

    def real_order(self, level: str) -> list[str]:
        index = ("DRAM", "BUF", "RF").index(level)
        return [d for d in self.orders[index] if self.factors[(level, d)] > 1]


PLACES = ("DRAM", "BUF", "RF", "PE.x", "PE.y")


def placements(bound: int) -> list[tuple[int, ...]]:
    """Every way to write `bound` as a product of one factor per place."""
    divisors = [d for d in range(1, bound + 1) if bound % d == 0]
    return [combo for combo in itertools.product(divisors, repeat=len(PLACES))
            if math.prod(combo) == bound]


def candidates(problem: Problem, bypass: bool) -> Iterator[Candidate]:
    """Every factorisation within the 2 x 2 mesh, every order of each level's loops (the
    dims of factor 1 have none), and every keep set (with bypass: any subset of what an
    inner memory holds; DRAM keeps all)."""
    keep_options = [[frozenset(HOLDS["DRAM"])]] + [
        [frozenset(c) for r in range(len(HOLDS[level]) + 1)
         for c in itertools.combinations(HOLDS[level], r)] if bypass
        else [frozenset(HOLDS[level])] for level in ("BUF", "RF")]
    for combo in itertools.product(*(placements(b) for b in problem.bounds)):
        factors = {(place, dim): combo[d][p] for d, dim in enumerate(problem.dims)
                   for p, place in enumerate(PLACES)}
        if any(math.prod(factors[(place, dim)] for dim in problem.dims) > 2
               for place in ("PE.x", "PE.y")):
            continue
        loops = [[d for d in problem.dims if factors[(level, d)] > 1]
                 for level in ("DRAM", "BUF", "RF")]
        for orders in itertools.product(*(itertools.permutations(real) for real in loops)):
            for keeps in itertools.product(*keep_options):
                yield Candidate(factors, orders, keeps)


def to_mapping(problem: Problem, candidate: Candidate) -> Mapping:
    index = {dim: d for d, dim in enumerate(problem.dims)}
    levels = []
    for i, level in enumerate(("DRAM", "BUF", "RF")):
        temporal = tuple(Loop(index[d], candidate.factors[(level, d)])
                         for d in candidate.orders[i] if candidate.factors[(level, d)] > 1)
        spatial = tuple(SpatialLoop(index[d], candidate.factors[(f"PE.{a}", d)], "PE", a)
                        for a in ("x", "y") for d in problem.dims
                        if level == "BUF" and candidate.factors[(f"PE.{a}", d)] > 1)
        levels.append(LevelMapping(level, temporal, spatial, candidate.keeps[i]))
    return Mapping(tuple(levels))


Score = Callable[[float, int], tuple[float, ...]]


def edp(energy: float, cycles: int) -> tuple[float, ...]:
    return (energy * cycles,)


def brute_force(problem: Problem, arch: ArchModel, allowed: Callable[[Candidate], bool],
                score: Score = edp, *, bypass: bool = False) -> tuple[tuple[float, ...], int]:
    """The best score over every candidate the predicate allows (distinct mappings only,
    every one checked and costed with the scalar model), and how many mappings were
    allowed."""
    seen: set[Mapping] = set()
    best: tuple[float, ...] = (math.inf,)
    for candidate in candidates(problem, bypass):
        if not allowed(candidate):
            continue
        mapping = to_mapping(problem, candidate)
        if mapping in seen:
            continue
        seen.add(mapping)
        if check_mapping(mapping, problem, arch):
            continue
        cost = evaluate(problem, arch, mapping, check=False)
        best = min(best, score(cost.energy_pj, cost.cycles))
    return best, len(seen)


def obeys(mapping: Mapping, problem: Problem, allowed: Callable[[Candidate], bool]) -> bool:
    """Whether a mapping found by the mapper is one the predicate allows."""
    factors = {(place, dim): 1 for place in PLACES for dim in problem.dims}
    orders = []
    for level in mapping.levels:
        for loop in level.temporal:
            factors[(level.name, problem.dims[loop.dim])] = loop.factor
        for spatial in level.spatial:
            factors[(f"PE.{spatial.axis}", problem.dims[spatial.dim])] = spatial.factor
        listed = [problem.dims[loop.dim] for loop in level.temporal]
        orders.append((*listed, *(d for d in problem.dims if d not in listed)))
    return allowed(Candidate(factors, tuple(orders),
                             tuple(frozenset(level.keep) for level in mapping.levels)))


def slot(target: str, **fields: object) -> MapConstraints:
    return MapConstraints(slots=(SlotConstraint(target=target, **fields),))


def inner(order: list[str], dim: str) -> bool:
    """`dim` is the innermost real loop, when it has one."""
    return dim not in order or order[-1] == dim


Case = tuple[MapConstraints, Callable[[Candidate], bool]]
CASES: dict[str, Case] = {
    "fixed factor": (slot("BUF", factors=(FactorRule(dim="P", value=2),)),
                     lambda c: c.factors[("BUF", "P")] == 2),
    "bounded factor": (slot("DRAM", factors=(FactorRule(dim="P", op="<=", value=2),)),
                       lambda c: c.factors[("DRAM", "P")] <= 2),
    "whole bound": (slot("RF", factors=(FactorRule(dim="P", value=None),)),
                    lambda c: c.factors[("RF", "P")] == 4),
    "forbidden dim": (slot("RF", forbid=("K",)), lambda c: c.factors[("RF", "K")] == 1),
    "allowed dims": (slot("BUF", allow=("K", "R")), lambda c: c.factors[("BUF", "P")] == 1),
    "fixed order": (
        MapConstraints(orders=(OrderConstraint(target="DRAM", outer=("P", "K"),
                                               others=False),)),
        lambda c: c.factors[("DRAM", "R")] == 1 and
        c.real_order("DRAM") in ([], ["P"], ["K"], ["P", "K"])),
    "partial order": (
        MapConstraints(orders=(OrderConstraint(target="BUF", inner=("P",)),)),
        lambda c: inner(c.real_order("BUF"), "P")),
    "fixed spatial factor": (slot("PE", axis="x", factors=(FactorRule(dim="P", value=2),)),
                             lambda c: c.factors[("PE.x", "P")] == 2),
    "idle axis": (slot("PE", axis="y", allow=()),
                  lambda c: all(c.factors[("PE.y", d)] == 1 for d in ("K", "P", "R"))),
}


KEEP_CASES: dict[str, Case] = {
    "forced bypass": (MapConstraints(keeps=(KeepConstraint(target="BUF", bypass=("input",)),)),
                      lambda c: "input" not in c.keeps[1]),
    "forced keep": (MapConstraints(keeps=(KeepConstraint(target="RF", keep=("output",)),)),
                    lambda c: "output" in c.keeps[2]),
}


@pytest.mark.parametrize("case", [*CASES, *KEEP_CASES])
def test_exhaustive_under_constraints_equals_brute_force(case: str) -> None:
    # Factor and order constraints on conv1d K 2, P 4, R 2 keeping what each memory holds;
    # keep and bypass constraints on K = P = R = 2 with every keep set.
    bypass = case in KEEP_CASES
    constraints, allowed = KEEP_CASES[case] if bypass else CASES[case]
    problem = SMALL if bypass else PROBLEM
    best, count = brute_force(problem, ARCH, allowed, bypass=bypass)
    found = map_problem(problem, ARCH, MapperOptions(search="exhaustive", bypass=bypass,
                                                     constraints=constraints))
    assert found.search == "exhaustive"
    assert (found.cost.energy_pj * found.cost.cycles,) == best
    assert obeys(found.mapping, problem, allowed)
    assert check_mapping(found.mapping, problem, ARCH) == ()
    # The constraint binds: the unconstrained space is larger.
    assert found.mapspace_size < MapSpace(problem, ARCH, bypass=bypass).size()
    assert count > 0


def test_several_constraints_at_once_and_a_lexicographic_objective() -> None:
    constraints = MapConstraints(
        slots=(SlotConstraint(target="PE", axis="y", allow=()),
               SlotConstraint(target="RF", forbid=("R",))),
        orders=(OrderConstraint(target="BUF", outer=("K",)),))

    def allowed(c: Candidate) -> bool:
        order = c.real_order("BUF")
        return all(c.factors[("PE.y", d)] == 1 for d in ("K", "P", "R")) and \
            c.factors[("RF", "R")] == 1 and ("K" not in order or order[0] == "K")

    def latency_then_energy(energy: float, cycles: int) -> tuple[float, ...]:
        return (float(cycles), energy)

    best, _ = brute_force(PROBLEM, ARCH, allowed, latency_then_energy)
    found = map_problem(PROBLEM, ARCH, MapperOptions(
        search="exhaustive", bypass=False, objective=("latency", "energy"),
        constraints=constraints))
    assert (float(found.cost.cycles), found.cost.energy_pj) == best
    assert obeys(found.mapping, PROBLEM, allowed)
    # The second objective decides between mappings of the least latency.
    scores: list[tuple[float, float]] = []

    def collect(energy: float, cycles: int) -> tuple[float, ...]:
        scores.append((float(cycles), energy))
        return (float(cycles), energy)

    brute_force(PROBLEM, ARCH, allowed, collect)
    fastest = {energy for cycles, energy in scores if cycles == best[0]}
    assert len(fastest) > 1 and min(fastest) == best[1]
    energy_first = min((energy, cycles) for cycles, energy in scores)
    found = map_problem(PROBLEM, ARCH, MapperOptions(
        search="exhaustive", bypass=False, objective=("energy", "latency"),
        constraints=constraints))
    assert (found.cost.energy_pj, float(found.cost.cycles)) == energy_first


@pytest.mark.parametrize("case", ["fixed factor", "fixed order", "partial order",
                                  "forced keep", "fixed spatial factor", "idle axis"])
def test_constrained_size_counts_the_constrained_enumeration(case: str) -> None:
    constraints, _ = {**CASES, **KEEP_CASES}[case]
    space = MapSpace(PROBLEM, ARCH, constraints=constraints)
    chunks = list(space.enumerate())
    factors = np.concatenate([f for f, _ in chunks], axis=2)
    orders = np.concatenate([o for _, o in chunks], axis=2)
    assert factors.shape[-1] * len(space.keep_choices) == space.size()
    assert len(np.unique(space.canonical(factors, orders), axis=0)) == factors.shape[-1]
    assert space.valid_factors(factors).all() and space.valid_orders(factors, orders).all()


def test_order_constraint_counts_on_the_class_path() -> None:
    # B and H of a batched matmul share an order class: the programme over class sizes
    # counts the orders a constraint leaves free, as the enumeration yields them.
    problem = Problem("bmm", ("B", "H", "M", "K"), (2, 2, 4, 2), (
        Tensor("A", "input", (axis((0, 1)), axis((1, 1)), axis((2, 1)), axis((3, 1)))),
        Tensor("W", "weight", (axis((0, 1)), axis((1, 1)), axis((3, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1)), axis((2, 1))))), op="einsum")
    arch = accelerator(memory("DRAM", None, 200.0), memory("BUF", 24, 6.0),
                       FanoutSpec(name="PE", mesh_x=2, mesh_y=1), memory("RF", 6, 1.0))
    for constraints in (MapConstraints(orders=(OrderConstraint(target="DRAM",
                                                               outer=("H",)),)),
                        MapConstraints(orders=(OrderConstraint(target="BUF", outer=("M",),
                                                               inner=("B",)),))):
        space = MapSpace(problem, arch, bypass=False, constraints=constraints)
        chunks = list(space.enumerate())
        factors = np.concatenate([f for f, _ in chunks], axis=2)
        orders = np.concatenate([o for _, o in chunks], axis=2)
        assert factors.shape[-1] == space.size() < MapSpace(problem, arch, bypass=False).size()
        assert len(np.unique(space.canonical(factors, orders), axis=0)) == space.size()
        assert space.valid_orders(factors, orders).all()


@pytest.mark.parametrize("search", ["heuristic", "random"])
def test_the_local_search_stays_inside_the_constraints(search: Search,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    constraints = MapConstraints(
        slots=(SlotConstraint(target="BUF", factors=(FactorRule(dim="P", op="<=", value=2),)),
               SlotConstraint(target="RF", factors=(FactorRule(dim="K", value=2),)),
               SlotConstraint(target="PE", axis="y", allow=())),
        orders=(OrderConstraint(target="DRAM", inner=("R", "P")),),
        keeps=(KeepConstraint(target="BUF", bypass=("weight",)),))
    problem = conv1d(4, 16, 3)
    original = _Search.run_batch
    checked = []

    def checking(self: _Search, factors: np.ndarray, orders: np.ndarray, keeps: np.ndarray,
                 **kwargs: bool) -> object:
        space = self.space
        assert space.valid_factors(factors).all()
        assert space.valid_orders(factors, orders).all()
        assert all("weight" not in space.keep_choices[k][1] for k in keeps.tolist())
        checked.append(factors.shape[-1])
        return original(self, factors, orders, keeps, **kwargs)

    monkeypatch.setattr(_Search, "run_batch", checking)
    found = map_problem(problem, ARCH, MapperOptions(search=search, budget=3000,
                                                     constraints=constraints))
    assert sum(checked) > 3000
    exhaustive = map_problem(problem, ARCH, MapperOptions(search="exhaustive",
                                                          constraints=constraints))
    if search == "heuristic":
        assert found.cost.energy_pj * found.cost.cycles <= \
            exhaustive.cost.energy_pj * exhaustive.cost.cycles * 1.01


def test_accelerator_constraints_apply_through_the_options() -> None:
    # The mapper reads constraints from the options: callers add the accelerator's own
    # first (`with_constraints`), and the cache keeps constrained results apart.
    own = slot("RF", forbid=("K",))
    arch = accelerator(memory("DRAM", None, 200.0), memory("BUF", 16, 6.0),
                       FanoutSpec(name="PE", mesh_x=2, mesh_y=2),
                       memory("RF", 6, 1.0, holds=("weight", "output")), constraints=own)
    request = slot("BUF", factors=(FactorRule(dim="P", value=2),))
    options = MapperOptions(search="exhaustive", constraints=request).with_constraints(
        arch.spec.constraints)
    assert options.constraints.slots == (*own.slots, *request.slots)
    assert MapperOptions().with_constraints(MapConstraints()) == MapperOptions()
    found = map_problem(PROBLEM, arch, options)
    level = found.mapping.level("RF")
    assert all(PROBLEM.dims[loop.dim] != "K" for loop in level.temporal)
    assert any(PROBLEM.dims[loop.dim] == "P" and loop.factor == 2
               for loop in found.mapping.level("BUF").temporal)
    assert {MapperOptions(): 1, options: 2}[options] == 2
    assert hash(options) != hash(MapperOptions(search="exhaustive"))
    assert isinstance(MapCache().results, dict)


def test_objectives_are_named_or_lexicographic() -> None:
    assert objectives_named("latency,energy") == ("latency", "energy")
    assert objectives_named(["edp"]) == "edp"
    assert MapperOptions(objective=("energy",)) == MapperOptions(objective="energy")
    assert MapperOptions(objective=("latency", "energy")).objective_text == "latency, energy"
    with pytest.raises(ValueError, match=r"repeated"):
        objectives_named("energy, energy")
    with pytest.raises(ValueError, match=r"unknown objective `delay`"):
        objectives_named("delay,energy")


@pytest.mark.parametrize(("constraints", "reason"), [
    (slot("BUF", factors=(FactorRule(dim="P", value=3),)),
     "the factors fixed for `P` multiply to 3, which does not divide its bound 4: `BUF` [P 3]"),
    (MapConstraints(slots=(SlotConstraint(target="BUF", factors=(FactorRule(dim="P", value=2),),
                                          origin="accelerator `acc`"),
                           SlotConstraint(target="BUF", factors=(FactorRule(dim="P", value=4),),
                                          origin="--constraints"))),
     "`P` gets two different factors at `BUF`: `BUF` [P 2] (accelerator `acc`); `BUF` [P 4] "
     "(--constraints)"),
    (slot("BUF", forbid=("P",), factors=(FactorRule(dim="P", value=2),)),
     "`P` may not have a loop at `BUF`, yet its factor there must be above 1: `BUF` forbids "
     "`P`; `BUF` [P 2]"),
    (slot("PE", axis="x", factors=(FactorRule(dim="P", value=4),)),
     "the spatial factors fixed at `PE` x need 4 instances (P 4), the mesh has 2 there"),
    (slot("PE", axis="x", factors=(FactorRule(dim="P", value=2), FactorRule(dim="K", value=2))),
     "the spatial factors fixed at `PE` x need 4 instances (K 2 x P 2), the mesh has 2 there"),
    (MapConstraints(keeps=(KeepConstraint(target="RF", keep=("input",)),)),
     "`RF` must keep `input`, but it holds only weight, output"),
    (MapConstraints(keeps=(KeepConstraint(target="DRAM", bypass=("weight",)),)),
     "`weight` must bypass `DRAM`, but the outermost memory is the backing store: it keeps "
     "every tensor"),
    (MapConstraints(keeps=(KeepConstraint(target="BUF", keep=("input",), bypass=("input",)),)),
     "`input` must be both kept at `BUF` and bypass it"),
    (MapConstraints(slots=(SlotConstraint(target="BUF", factors=(
        FactorRule(dim="K", value=2), FactorRule(dim="P", value=2))),),
                    orders=(OrderConstraint(target="BUF", outer=("K",)),
                            OrderConstraint(target="BUF", outer=("P",)))),
     "`K` and `P` must have loops at `BUF` (`BUF` [K 2]; `BUF` [P 2]), but no order of them "
     "obeys order [K, ...] and order [P, ...] there"),
    (slot("RF", factors=(FactorRule(dim="P", op=">=", value=4), FactorRule(dim="K", value=2))),
     "`RF` must keep `output`, `weight`"),
])
def test_conflicts_name_the_level_and_the_dim(constraints: MapConstraints, reason: str) -> None:
    options = MapperOptions(constraints=constraints)
    if reason.startswith("`RF` must keep"):  # forced keeps over capacity with the least tiles
        options = MapperOptions(constraints=constraints.combined(MapConstraints(
            keeps=(KeepConstraint(target="RF", keep=("weight", "output")),))))
    with pytest.raises(NoValidMappingError) as raised:
        map_problem(PROBLEM, ARCH, options)
    assert raised.value.reasons[0].startswith(reason), raised.value.reasons


def test_the_smallest_tiles_respect_the_constraints_when_nothing_fits() -> None:
    # K fixed at the RF with R there too: the RF's tiles cannot shrink below K 2 x R 2.
    constraints = slot("RF", factors=(FactorRule(dim="K", value=2), FactorRule(dim="R", value=2)))
    tight = accelerator(memory("DRAM", None, 200.0), memory("RF", 5, 1.0))
    with pytest.raises(NoValidMappingError) as raised:
        map_problem(PROBLEM, tight, MapperOptions(bypass=False, constraints=constraints))
    assert raised.value.reasons == (
        "tiles kept at `RF` need 8 words (weight 4, input 2, output 2), it holds 5: 3 words "
        "over", "(with the smallest tiles the map-space constraints allow)")


def test_a_dim_the_constraints_leave_no_temporal_slot() -> None:
    # R is forbidden at every memory. On DRAM > RF it has nowhere to go: the reason names
    # it (this raised an internal ValueError, E900, building R's splits over no slot).
    # On ARCH it may still be unrolled: R 2 fills PE x or PE y, and the exhaustive search
    # equals the brute force under the same predicate.
    everywhere = MapConstraints(slots=tuple(
        SlotConstraint(target=level, forbid=("R",)) for level in ("DRAM", "BUF", "RF")))
    two_level = accelerator(memory("DRAM", None, 200.0), memory("RF", 64, 1.0))
    with pytest.raises(NoValidMappingError) as raised:
        MapSpace(conv1d(2, 4, 3), two_level, constraints=everywhere)
    assert raised.value.reasons == (
        "no factorisation of `R` (bound 3) satisfies the constraints: `DRAM` forbids `R`; "
        "`RF` forbids `R`",)

    def allowed(c: Candidate) -> bool:
        return all(c.factors[(level, "R")] == 1 for level in ("DRAM", "BUF", "RF"))

    best, _ = brute_force(PROBLEM, ARCH, allowed)
    found = map_problem(PROBLEM, ARCH, MapperOptions(search="exhaustive", bypass=False,
                                                     constraints=everywhere))
    assert (found.cost.energy_pj * found.cost.cycles,) == best
    assert obeys(found.mapping, PROBLEM, allowed)
    # R 2 on X or on Y (2 ways); K 2 and P 4 over DRAM, BUF, RF and the other axis.
    space = MapSpace(PROBLEM, ARCH, bypass=False, constraints=everywhere)
    chunks = list(space.enumerate())
    assert space.size() == sum(f.shape[-1] for f, _ in chunks)
    assert int(np.count_nonzero(space.splits[2][:, 3:] > 1)) == 2 == len(space.splits[2])


def test_a_closed_order_and_an_open_one_that_agree_merge() -> None:
    # The accelerator's `order [K, P]` at BUF already puts P last, so a request's
    # `order [..., P]` adds nothing; the mapper took K first and P last for "P both first
    # and last" and said no mapping exists (`dslc lint` was clean). The search equals the
    # brute force over both orders written as plain predicates.
    constraints = MapConstraints(orders=(
        OrderConstraint(target="BUF", outer=("K", "P"), others=False, origin="acc"),
        OrderConstraint(target="BUF", inner=("P",), origin="req")))

    def allowed(c: Candidate) -> bool:
        return c.factors[("BUF", "R")] == 1 and \
            c.real_order("BUF") in ([], ["K"], ["P"], ["K", "P"])

    best, _ = brute_force(PROBLEM, ARCH, allowed)
    found = map_problem(PROBLEM, ARCH, MapperOptions(search="exhaustive", bypass=False,
                                                     constraints=constraints))
    assert (found.cost.energy_pj * found.cost.cycles,) == best
    assert obeys(found.mapping, PROBLEM, allowed)
    # Exactly the space of the closed order alone.
    alone = MapConstraints(orders=constraints.orders[:1])
    assert MapSpace(PROBLEM, ARCH, constraints=constraints).size() == \
        MapSpace(PROBLEM, ARCH, constraints=alone).size()
    # `[K, ...]` and `[..., K]` allow K at BUF only as its one loop, and `[K, P]` and
    # `[..., K]` only K or P alone: no single order states them, but mappings obey both
    # (they were refused, E610; tests/mapper/test_order_conjunction.py searches them
    # against a brute force). Only loops a factor forces there can conflict.
    for first, second, text in (
            (OrderConstraint(target="BUF", outer=("K",)),
             OrderConstraint(target="BUF", inner=("K",)), "order [K, ...] and order [..., K]"),
            (OrderConstraint(target="BUF", inner=("K",)),
             OrderConstraint(target="BUF", outer=("K", "P"), others=False),
             "order [..., K] and order [K, P]")):
        space = MapSpace(PROBLEM, ARCH, constraints=MapConstraints(orders=(first, second)))
        assert space.parts and space.size() < MapSpace(PROBLEM, ARCH).size()
        forced = MapConstraints(orders=(first, second), slots=(SlotConstraint(
            target="BUF", factors=(FactorRule(dim="K", value=2), FactorRule(dim="P", value=2))),))
        with pytest.raises(NoValidMappingError) as raised:
            MapSpace(PROBLEM, ARCH, constraints=forced)
        assert raised.value.reasons == (
            f"`K` and `P` must have loops at `BUF` (`BUF` [K 2]; `BUF` [P 2]), but no order "
            f"of them obeys {text} there",)
    # Either written first, the closed order with the shared dim where both say is it.
    assert MapSpace(PROBLEM, ARCH, constraints=MapConstraints(orders=(
        OrderConstraint(target="BUF", inner=("P",)),
        OrderConstraint(target="BUF", outer=("K", "P"), others=False)))).size() == \
        MapSpace(PROBLEM, ARCH, constraints=alone).size()
