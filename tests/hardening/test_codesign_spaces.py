"""A co-design's designs are built as enumerated, and enumerating them takes time linear in
the space: values of one domain within `DesignSpace.resolve`'s relative 1e-9 of each other
(2000000000 and 2000000001) are two designs, each built with its own value (both were
built with the first, and the second's pairs reported the first's figures under its
label), and a space of MAX_SEARCH_DESIGNS accelerators is enumerated, referenced and
covered without a scan of the domain per design (a parameter of 100,000 values took an
hour to build and a minute to plan), as are a parameter of 100,000 names (a set literal
deduplicated by scans, the check's cycle rebuilt for every shift: minutes, hours)."""

from __future__ import annotations

import random
import time

from dslc import api
from dslc.codesign.designs import Design, Instances, designs_of
from dslc.codesign.planner import _covering, _missing_shift, _reference
from dslc.spec.base import ParamValue
from dslc.spec.limits import MAX_SEARCH_DESIGNS

CLOSE = """
network n {
    param w in {2000000000, 2000000001}
    input x: [1]
    layer h = dense(x, out = w)
}
accelerator grid {
    param clk in {1000000000Hz, 1000000001Hz}
    word  = 16b
    clock = clk
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 16KiB, width = 64b }
    fanout PE   { mesh = 8 x 4, dataflow = weight_stationary }
    memory RF   { size = 32 words }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks     = n
    accelerators = grid
    objective    = minimize latency
    strategy     = exhaustive
    mapper       { budget = 20, seed = 1 }
}
"""

WIDE = """
network n {
    input x: [8, 8, 8]
    layer a = conv(x, out = 8, kernel = 1)
}
accelerator grid {
    param rf in 16b..%db step 16b
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 16KiB, width = 64b }
    fanout PE   { mesh = 4 x 4, dataflow = weight_stationary }
    memory RF   { size = rf }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks     = n
    accelerators = grid
    objective    = minimize edp
}
"""


def test_values_within_a_relative_1e9_are_distinct_designs() -> None:
    program = api.compile(text=CLOSE)
    request = api.request(program)
    built = Instances(program.networks, program.accelerators)
    widths = [(d.params()["w"], built.network(d).layers[-1].out_features)  # type: ignore[union-attr]
              for d in request.network_designs.designs]
    assert widths == [(2000000000, 2000000000), (2000000001, 2000000001)]
    clocks = [(d.params()["clk"], built.accelerator(d).clock_hz)
              for d in request.accelerator_designs.designs]
    assert clocks == [(1e9, 1e9), (1000000001.0, 1000000001.0)]
    # A point given by a caller names the value equal to it, not the first one close to it.
    space = program.networks["n"]
    assert space.resolve({"w": 2000000001}) == (("w", 2000000001),)
    assert space.instantiate({"w": 2000000001}).layers[-1].out_features == 2000000001  # type: ignore[union-attr]
    # Each pair is costed on its own designs: the latencies are those of the pairs' clocks
    # and widths (a 2,000,000,001-output layer never takes fewer cycles than one fewer).
    outcome = api.search(program, store=":memory:").outcome
    latency = {(n.params()["w"], a.params()["clk"]): r.metrics.latency_s  # type: ignore[union-attr]
               for (n, a), r in outcome.results.items()}
    cycles = {key: round(value * key[1]) for key, value in latency.items()}
    assert cycles[(2000000001, 1e9)] >= cycles[(2000000000, 1e9)]
    assert latency[(2000000000, 1e9)] != latency[(2000000000, 1000000001.0)]


def test_a_space_of_the_most_designs_is_enumerated_and_planned_in_linear_time() -> None:
    program = api.compile(text=WIDE % (16 * MAX_SEARCH_DESIGNS))
    space = program.accelerators["grid"]
    started = time.monotonic()
    designs = designs_of([space], "accelerator")
    reference, _ = _reference(program.codesigns["c"], designs)
    check = _covering(designs, exclude=reference)
    built = Instances(program.networks, program.accelerators)
    last = designs.designs[-2000:]
    sizes = [built.accelerator(d).hierarchy[-1].size_bits for d in last]  # type: ignore[union-attr]
    elapsed = time.monotonic() - started
    assert len(designs) == MAX_SEARCH_DESIGNS
    assert reference.params()["rf"] == 16 * (MAX_SEARCH_DESIGNS // 2)
    assert sorted(d.params()["rf"] for d in check) == [16, 16 * MAX_SEARCH_DESIGNS]
    assert sizes == [d.params()["rf"] for d in last]
    # Linear: seconds; the scans per design took minutes (and an hour to build them all).
    assert elapsed < 30, elapsed


NAMED = """
network n {
    input x: [8, 8, 8]
    layer a = conv(x, out = 8, kernel = 1)
}
accelerator grid {
    param tag in {%s}
    param rows in {2, 4}
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 16KiB, width = 64b }
    fanout PE   { mesh = 4 x rows, dataflow = weight_stationary }
    memory RF   { size = 32 words }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks     = n
    accelerators = grid
    objective    = minimize edp
}
"""


def test_a_parameter_of_many_names_is_read_and_covered_in_linear_time() -> None:
    # A set of 50,000 names (the check covers every name: 50,000 designs): the set's
    # values were deduplicated by a scan each and the check's cycle was rebuilt for every
    # shift, minutes and hours.
    names = [f"t{i}" for i in range(MAX_SEARCH_DESIGNS // 2)]
    started = time.monotonic()
    program = api.compile(text=NAMED % ", ".join(names))
    designs = designs_of([program.accelerators["grid"]], "accelerator")
    reference, _ = _reference(program.codesigns["c"], designs)
    check = _covering(designs, exclude=reference)
    elapsed = time.monotonic() - started
    assert len(designs) == MAX_SEARCH_DESIGNS
    assert reference.params() == {"tag": names[(len(names) - 1) // 2], "rows": 2}
    assert reference not in check
    assert {d.params()["tag"] for d in check} == set(names)
    assert {d.params()["rows"] for d in check} == {2, 4}
    assert elapsed < 30, elapsed


def _brute_shift(lists: dict[str, list[ParamValue]], count: int,
                 exclude: tuple[tuple[str, ParamValue], ...]) -> int:
    """The shift `_covering` chose by building every cycle (its code before it was made
    linear), for comparison."""
    for shift in range(count + 1):
        points = [tuple(sorted((name, values[(j + shift) % len(values)])
                               for name, values in lists.items())) for j in range(count)]
        if exclude not in points or shift == count:
            return shift
    raise AssertionError


def test_the_checks_shift_is_the_first_that_misses_the_reference() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        lists = {f"p{k}": [f"v{k}_{i}" for i in range(rng.randint(1, 6))]
                 for k in range(rng.randint(0, 3))}
        count = max((len(v) for v in lists.values()), default=1)
        point = tuple(sorted((name, rng.choice([*values, "elsewhere"]))
                             for name, values in lists.items()))
        exclude = Design("accelerator", "grid", 0, point)
        assert _missing_shift(lists, count, exclude) == _brute_shift(lists, count, point), \
            (lists, point)
