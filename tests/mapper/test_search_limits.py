"""What the mapper cannot search is not an infeasible layer, and "no valid mapping" is a proof.

A `SearchLimitError` (the exhaustive search on a space it cannot enumerate, or above
EXHAUSTIVE_LIMIT; factor rules that none of a sampled table's splits obey) says nothing
about whether a mapping exists, so a co-design stops on it instead of counting the pair as
infeasible: with `search = exhaustive`, a network whose layer had a sampled map space was
dropped as infeasible and the other network answered with `optimality: exhaustive`. And a
heuristic or random search that found nothing that fits tries the smallest tiles with every
keep choice before it says nothing fits: with a budget of 200 a layer whose memories fit
only with bypasses got "no valid mapping" on one seed and a mapping on the next.
"""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dslc import api
from dslc.arch import ArchModel
from dslc.lower.problem import Problem
from dslc.mapper import (
    MapperOptions,
    MapResult,
    NoValidMappingError,
    SearchLimitError,
    map_problem,
)
from dslc.mapper import search as search_module
from dslc.mapper import space as space_module
from dslc.mapper.space import MapSpace
from dslc.mapping.mapping import check_mapping
from dslc.sema.program import Program
from dslc.spec.accelerator import DataflowSpec, FanoutSpec, MemorySpec
from dslc.spec.constraints import FactorRule, KeepConstraint, MapConstraints, SlotConstraint
from tests.mapper.test_mapper import accelerator, conv1d, matmul, memory

ACCELERATORS = """
accelerator deep {
    word       = 16b
    clock      = 200MHz
    technology = 45nm
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    memory L3   { size = 1MiB, width = 64b }
    memory L2   { size = 64KiB, width = 64b }
    fanout PE   { mesh = 2 x 2, dataflow = weight_stationary }
    memory L1   { size = 1KiB }
    memory RF   { size = 64 words }
    compute MAC { energy = 1.5pJ }
}
accelerator tiny {
    word       = 16b
    clock      = 200MHz
    technology = 45nm
    memory DRAM { width = 64b, read = 2nJ, write = 2nJ }
    memory GLB  { size = 2 words, width = 16b }
    memory RF   { size = 1 words }
    compute MAC { energy = 1.5pJ }
}
"""

# 510510 = 2*3*5*7*11*13*17 over deep's five temporal slots: 5^7 = 78,125 splits, more
# than SPLIT_ROWS (65,536), so its table is a sample and the space is not listed.
NETWORKS = """
network big {
    input x: [1]
    layer fc = dense(x, out = 510510)
}
network small {
    input x: [1]
    layer fc = dense(x, out = 8)
}
network square {
    input x: [720720]
    layer fc = dense(x, out = 720720)
}
"""


def _codesign(search: str) -> str:
    # Under `maximize energy` the pair of `big` (510,510 MACs) is the answer; `small` (8
    # MACs) is the one left when `big` is counted as infeasible.
    return NETWORKS + ACCELERATORS + f"""
codesign explore {{
    networks     = [big, small]
    accelerators = deep
    batch        = 1
    objective    = maximize energy
    mapper {{ search = {search}, budget = 200, seed = 1 }}
}}
"""


def test_a_codesign_stops_on_a_space_the_exhaustive_search_cannot_enumerate() -> None:
    heuristic = api.search(api.compile(text=_codesign("heuristic")), store=":memory:")
    assert heuristic.outcome.best is not None
    assert heuristic.outcome.best.network.label == "big"
    assert heuristic.outcome.failure((heuristic.outcome.best.network,
                                      heuristic.outcome.best.accelerator)) == ""
    with pytest.raises(SearchLimitError) as stopped:
        api.search(api.compile(text=_codesign("exhaustive")), store=":memory:")
    assert not isinstance(stopped.value, NoValidMappingError)
    assert str(stopped.value) == \
        "the mapper cannot search the mappings of `fc` of `big` on `deep` as asked"
    # 93,750 splits of K (one loop per level: one order each) x 14 keep choices (what the
    # memories hold, 12 single bypasses, the least keeps).
    assert stopped.value.reasons == (
        "the exhaustive search cannot enumerate a map space of 1,312,500 candidates (a dim's "
        "factorisations are sampled, not listed); use the heuristic search",)


def test_the_cli_says_why_and_exits_1(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from dslc import cli

    spec = Path(str(tmp_path)) / "limit.cd"
    spec.write_text(_codesign("exhaustive"))
    result = CliRunner().invoke(cli.app, ["run", str(spec), "--cache", ":memory:"])
    assert result.exit_code == 1
    assert "the mapper cannot search the mappings of `fc` of `big` on `deep` as asked" \
        in result.output
    assert "optimality" not in result.output
    as_json = CliRunner().invoke(cli.app, ["run", str(spec), "--cache", ":memory:",
                                           "--format", "json"])
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["kind"] == "cannot_run" and error["exit_code"] == 1
    assert error["reasons"][0].startswith("the exhaustive search cannot enumerate")


def _program() -> Program:
    return api.compile(text=NETWORKS + ACCELERATORS)


def test_exhaustive_above_the_limit_is_refused_before_any_work() -> None:
    # square's fc (720720 x 720720) on tiny: a listed space of 12,732,084,544 candidates.
    program = _program()
    options = api.mapper_settings(search="exhaustive")
    with pytest.raises(SearchLimitError) as refused:
        api.map_layer(program, "square", "fc", "tiny", options=options)
    assert refused.value.reasons == (
        "the exhaustive search enumerates at most 1,000,000,000 candidates (as many as the "
        "largest budget), and this map space has 12,732,084,544 candidates; use the "
        "heuristic search, or narrow the space with map-space constraints",)


def test_the_exhaustive_limit_at_its_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    # small's fc (C = 1, K = 8) on tiny: K's 2^3 over three slots is C(5, 2) = 10 splits;
    # K's loop alone per level has one order; keep sets: GLB and RF each keep a subset of
    # {weight, output} (input has one element, C = 1, but is a tensor all the same): the
    # count is the mapper's own, and the limit is checked against it both ways.
    program = _program()
    exhaustive = api.mapper_settings(search="exhaustive")
    size = api.map_layer(program, "small", "fc", "tiny",
                         options=api.mapper_settings(search="heuristic", budget=50)
                         ).result.mapspace_size
    monkeypatch.setattr(search_module, "EXHAUSTIVE_LIMIT", size)
    found = api.map_layer(program, "small", "fc", "tiny", options=exhaustive).result
    assert found.search == "exhaustive" and found.mapspace_size == size
    monkeypatch.setattr(search_module, "EXHAUSTIVE_LIMIT", size - 1)
    with pytest.raises(SearchLimitError):
        api.map_layer(program, "small", "fc", "tiny", options=exhaustive)
    # `auto` with a budget above the size but the limit below it searches heuristically.
    auto = api.map_layer(program, "small", "fc", "tiny",
                         options=api.mapper_settings(search="auto", budget=size + 10)).result
    assert auto.search == "heuristic"


@pytest.mark.parametrize("seed", range(1, 9))
@pytest.mark.parametrize("search", ["heuristic", "random"])
def test_memories_that_fit_only_with_bypasses_still_map(seed: int, search: str) -> None:
    # tiny's GLB holds 2 words and its RF 1, and every tile of square's fc holds at least
    # one word of each of its three tensors: only mappings that bypass a tensor at GLB and
    # two at RF fit. Seed 2 of the heuristic at budget 200 said "no valid mapping".
    program = _program()
    options = api.mapper_settings(search=search, budget=200, seed=seed)
    found = api.map_layer(program, "square", "fc", "tiny", options=options)
    mapping = found.result.mapping
    assert check_mapping(mapping, found.problem, found.arch) == ()
    glb, rf = mapping.levels[1], mapping.levels[2]
    assert len(glb.keep) <= 2 and len(rf.keep) <= 1


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_union_of_order_rules_is_rescued_part_by_part(seed: int) -> None:
    # tiny with `GLB { order [K, ...] }` and a request's `GLB { order [C, ...] }`: a union
    # of two cases (MapSpace.parts). The random search at budget 16 finds nothing that fits
    # in either; the smallest tiles with every keep choice, part by part, do.
    program = api.compile(text=NETWORKS + ACCELERATORS.replace(
        "memory RF   { size = 1 words }\n    compute MAC { energy = 1.5pJ }\n}",
        "memory RF   { size = 1 words }\n    compute MAC { energy = 1.5pJ }\n"
        "    constraints { GLB { order [K, ...] } }\n}"))
    constraints = api.map_constraints(program, "GLB { order [C, ...] }", "tiny")
    options = api.mapper_settings(search="random", budget=16, seed=seed,
                                  constraints=constraints)
    found = api.map_layer(program, "square", "fc", "tiny", options=options)
    assert len(MapSpace(found.problem, found.arch,
                        constraints=options.with_constraints(
                            found.arch.spec.constraints).constraints).parts) == 2
    assert check_mapping(found.result.mapping, found.problem, found.arch) == ()
    assert len(found.result.mapping.levels[2].keep) <= 1
    loops = [found.problem.dims[loop.dim] for loop in found.result.mapping.levels[1].temporal
             if loop.factor > 1]
    assert not loops or loops[0] in ("K", "C")  # the union: K or C outermost at GLB


def test_nothing_fits_without_bypass_gives_the_smallest_tiles_reasons() -> None:
    # With bypass off every memory keeps all it holds: the smallest tiles (every factor in
    # DRAM) need one word of each tensor, 3 words, at GLB (2) and RF (1). Nothing fits, and
    # the reasons are those tiles'. With bypass on, the same layer maps (above).
    program = _program()
    layer = api.map_layer(program, "square", "fc", "tiny",
                          options=api.mapper_settings(budget=50))
    for search in ("heuristic", "random"):
        options = MapperOptions(search=search, budget=200, bypass=False)
        with pytest.raises(NoValidMappingError) as none:
            map_problem(layer.problem, layer.arch, options)
        assert none.value.reasons == (
            "tiles kept at `GLB` need 3 words (weight 1, input 1, output 1), it holds 2: 1 "
            "word over",
            "tiles kept at `RF` need 3 words (weight 1, input 1, output 1), it holds 1: 2 "
            "words over")


def test_past_64_keep_choices_the_least_keeps_are_a_choice() -> None:
    # deep has four inner memories holding all three tensors: 8^4 keep combinations, so
    # single bypasses only, plus the least keeps. With RF's K factor at least 255,255 every
    # tile at RF and above holds 255,255 words of weights and outputs: only bypassing both
    # at every inner memory fits (it said "no valid mapping" before the least keeps were a
    # choice).
    program = _program()
    constraints = api.map_constraints(program, "RF { factors [K >= 255255] }", "deep")
    options = api.mapper_settings(search="heuristic", budget=200, constraints=constraints)
    found = api.map_layer(program, "big", "fc", "deep", options=options)
    assert check_mapping(found.result.mapping, found.problem, found.arch) == ()
    for level in found.result.mapping.levels[1:]:
        assert not level.keep & {"weight", "output"}, level
    space = MapSpace(found.problem, found.arch)
    least = space.keep_choices[space.least_keep]
    assert least[0] == frozenset(t.name for t in found.problem.tensors)
    assert all(kept == frozenset() for kept in least[1:])
    assert len(space.keep_choices) == 1 + 4 * 3 + 1  # holds, single bypasses, least


def test_rules_few_splits_obey_are_listed_not_sampled() -> None:
    # RF K >= 255255 and L1 K >= 2 leave one split of K = 510510 over the five temporal
    # slots: L1 2, RF 255255, the rest 1 (no spatial factor: 255255 is odd, and a spatial 2
    # leaves 255255 to split, with RF >= 255255 and L1 >= 2 impossible). A sample of 4,096
    # of the 93,750 splits missed it; the listing of what the bounds allow finds it.
    program = _program()
    constraints = api.map_constraints(
        program, "L1 { factors [K >= 2] } RF { factors [K >= 255255] }", "deep")
    options = api.mapper_settings(search="heuristic", budget=200, constraints=constraints)
    found = api.map_layer(program, "big", "fc", "deep", options=options)
    assert check_mapping(found.result.mapping, found.problem, found.arch) == ()
    k = found.problem.dims.index("K")
    factors = {level.name: [loop.factor for loop in level.temporal if loop.dim == k]
               for level in found.result.mapping.levels}
    assert factors["L1"] == [2] and factors["RF"] == [255255]
    assert all(value in ([], [1]) for name, value in factors.items() if name not in ("L1", "RF"))


def test_rules_no_sampled_split_obeys_are_a_search_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the listing (RULED_NODES 0), the sample misses the one split: that is no proof
    # that nothing fits, so it is a SearchLimitError, not NoValidMappingError.
    monkeypatch.setattr(space_module, "RULED_NODES", 0)
    space_module.split_table.cache_clear()
    try:
        program = _program()
        constraints = api.map_constraints(
            program, "L1 { factors [K >= 2] } RF { factors [K >= 255255] }", "deep")
        options = api.mapper_settings(search="heuristic", budget=200, constraints=constraints)
        with pytest.raises(SearchLimitError) as limited:
            api.map_layer(program, "big", "fc", "deep", options=options)
    finally:
        space_module.split_table.cache_clear()
    assert not isinstance(limited.value, NoValidMappingError)
    assert "among 4,096 sampled of its 93,750 splits" in limited.value.reasons[0]


# -- property: "nothing fits" is the same answer from every strategy ---------------------

_ROLES = ("input", "weight", "output")


@st.composite
def _tiny_cases(draw: st.DrawFn) -> tuple[Problem, ArchModel, bool, MapConstraints]:
    bounds = [draw(st.sampled_from((1, 2, 3, 4, 6))) for _ in range(3)]
    problem = matmul(*bounds) if draw(st.booleans()) else conv1d(*bounds)
    levels: list[MemorySpec | FanoutSpec] = [memory("DRAM", None, 100.0)]
    inner = draw(st.integers(1, 3))
    fanout_at = draw(st.integers(0, inner))  # a fanout below memory `fanout_at`, or none
    for i in range(1, inner + 1):
        holds = tuple(role for role in _ROLES if draw(st.booleans()))
        levels.append(memory(f"L{i}", draw(st.integers(1, 8)), 1.0 + i,
                             holds=holds or _ROLES))
        if i == fanout_at:
            levels.append(FanoutSpec(name=f"PE{i}", mesh_x=draw(st.sampled_from((1, 2, 3))),
                                     mesh_y=draw(st.sampled_from((1, 2))),
                                     dataflow=DataflowSpec(preset="free")))
    rules: list[SlotConstraint] = []
    keeps: list[KeepConstraint] = []
    for i in range(1, inner + 1):
        if draw(st.integers(0, 3)) == 0:
            rule = FactorRule(dim=draw(st.sampled_from(problem.dims)),
                              op=draw(st.sampled_from(("<=", ">="))),
                              value=draw(st.integers(1, 3)))
            rules.append(SlotConstraint(target=f"L{i}", factors=(rule,)))
        held = next(spec.holds for spec in levels
                    if isinstance(spec, MemorySpec) and spec.name == f"L{i}")
        if draw(st.integers(0, 3)) == 0:
            keeps.append(KeepConstraint(target=f"L{i}", keep=(draw(st.sampled_from(held)),)))
    constraints = MapConstraints(slots=tuple(rules), keeps=tuple(keeps))
    return problem, accelerator(*levels), draw(st.booleans()), constraints


def _outcome(problem: Problem, arch: ArchModel, options: MapperOptions) -> MapResult | None:
    try:
        return map_problem(problem, arch, options)
    except NoValidMappingError:
        return None


@settings(max_examples=80, deadline=None)
@given(case=_tiny_cases(), budget=st.sampled_from((8, 16, 40)), seed=st.integers(0, 50))
def test_every_strategy_agrees_whether_anything_fits(
        case: tuple[Problem, ArchModel, bool, MapConstraints], budget: int, seed: int) -> None:
    # Memories of 1-8 words holding random roles, some with a factor rule or a forced keep,
    # bypass on or off, budgets far below the space: the exhaustive search decides whether a
    # mapping fits; the heuristic and the random search, with any seed and budget, give a
    # valid mapping exactly when it does (a heuristic at budget 200 once said "no valid
    # mapping" where one fits).
    problem, arch, bypass, constraints = case
    truth = _outcome(problem, arch, MapperOptions(search="exhaustive", bypass=bypass,
                                                  constraints=constraints))
    for search in ("heuristic", "random"):
        found = _outcome(problem, arch, MapperOptions(search=search, budget=budget,
                                                      seed=seed, bypass=bypass,
                                                      constraints=constraints))
        assert (found is None) == (truth is None), (search, truth, found)
        if found is not None:
            assert check_mapping(found.mapping, problem, arch) == ()


@settings(max_examples=150, deadline=None)
@given(m=st.sampled_from((1, 2, 12, 36, 60, 64, 210, 720)), slots=st.integers(1, 4),
       data=st.data())
def test_ruled_splits_are_every_split_the_bounds_allow(m: int, slots: int,
                                                       data: st.DataObject) -> None:
    # Against a brute force over every tuple of divisors: the listing is exactly the
    # factorisations of m whose factors obey each slot's rule, in lexicographic order.
    temporal = tuple(range(10, 10 + slots))
    rules = tuple((slot, data.draw(st.sampled_from(("<=", ">=", "="))),
                   data.draw(st.sampled_from((1, 2, 3, 4, 6, 8))))
                  for slot in temporal if data.draw(st.booleans()))
    listed = space_module._ruled_splits(m, temporal, rules, 10**6)
    assert listed is not None

    def obeys(split: tuple[int, ...]) -> bool:
        for slot, op, value in rules:
            factor = split[temporal.index(slot)]
            if not (factor == value if op == "=" else
                    factor <= value if op == "<=" else factor >= value):
                return False
        return True

    divisors = [d for d in range(1, m + 1) if m % d == 0]
    expected = [split for split in itertools.product(divisors, repeat=slots)
                if math.prod(split) == m and obeys(split)]
    assert [tuple(row) for row in listed.tolist()] == expected
    # Past the limit it leaves the part to the sample.
    if len(expected) > 1:
        assert space_module._ruled_splits(m, temporal, rules, len(expected) - 1) is None
