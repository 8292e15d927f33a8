"""A co-design's time limit stops the run between pairs and inside one, not at a phase's end.

The limit was checked only when a phase started: the exhaustive and random strategies
evaluate all their pairs in one phase, so `dslc run examples/codesign.cd --strategy
exhaustive --time-limit 3` ran past two minutes (17,496 pairs). Now the deadline is checked
before each pair, between a pair's layer searches, inside a search (the exhaustive search's
chunks, the heuristic's rounds), and worker chunks are waited for no longer than it.

The clock is a fake one that moves only when a pair is computed, so the counts are exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from dslc import api
from dslc.codesign import evaluate as evaluate_module
from dslc.codesign import planner as planner_module
from dslc.codesign.evaluate import PairEvaluator, PairResult
from dslc.mapper import MapperOptions, map_problem
from dslc.mapper import search as search_module
from dslc.mapper.errors import DeadlinePassed
from tests.mapper.test_mapper import THREE_LEVEL, matmul

SPEC = """
network n {
    param w in {8, 16, 24, 32}
    input x: [16]
    layer a = dense(x, out = w)
    layer b = dense(a, out = 8)
}
accelerator grid {
    param rows in {2, 4, 8}
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 100pJ, write = 100pJ }
    memory GLB  { size = 4KiB, width = 64b }
    fanout PE   { mesh = rows x 2, dataflow = weight_stationary }
    memory RF   { size = 16 words }
    compute MAC { energy = 1pJ }
}
codesign c {
    networks     = n
    accelerators = grid
    objective    = minimize edp
    strategy     = %s
    time_limit   = 5.5s
    mapper       { budget = 50, seed = 1 }
}
"""


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A clock at 0 that moves one second per pair computed, in the modules that read it."""
    now = [0.0]
    clock = SimpleNamespace(monotonic=lambda: now[0], perf_counter=time.perf_counter,
                            sleep=time.sleep, time=time.time)
    for module in (planner_module, evaluate_module, search_module):
        monkeypatch.setattr(module, "time", clock)
    compute = PairEvaluator.compute

    def timed(self: PairEvaluator, pair: object, deadline: float | None = None
              ) -> PairResult:
        result = compute(self, pair, deadline)  # type: ignore[arg-type]
        now[0] += 1.0
        return result

    monkeypatch.setattr(PairEvaluator, "compute", timed)
    yield now


@pytest.mark.parametrize("strategy", ["exhaustive", "semi_decoupled"])
def test_one_phase_stops_at_the_limit(fake_clock: list[float], strategy: str) -> None:
    # 4 x 3 = 12 pairs, one second each on the fake clock, a limit of 5.5 s: the sixth pair
    # ends at 6 s, past it, and no seventh starts. Before, all 12 were evaluated (in one
    # phase: the exhaustive strategy's, or with fewer than 6 networks the semi-decoupled
    # plan's step 4 alone).
    outcome = api.search(api.compile(text=SPEC % strategy), store=":memory:").outcome
    assert outcome.pairs_evaluated == 6
    assert outcome.optimality == "unverified"
    assert "stopped by a time limit of 5.5 s after 6 pairs" in outcome.log


def test_without_a_limit_every_pair_is_evaluated(fake_clock: list[float]) -> None:
    text = (SPEC % "exhaustive").replace("    time_limit   = 5.5s\n", "")
    outcome = api.search(api.compile(text=text), store=":memory:").outcome
    assert outcome.pairs_evaluated == 12 and outcome.optimality == "exhaustive"


@pytest.mark.parametrize("search", ["exhaustive", "heuristic", "random"])
def test_a_search_stops_at_a_deadline_passed(search: str) -> None:
    problem = matmul(4, 4, 4)
    options = MapperOptions(search=search, budget=200, seed=3)
    with pytest.raises(DeadlinePassed):
        map_problem(problem, THREE_LEVEL, options, deadline=time.monotonic() - 1.0)
    # A deadline far ahead changes nothing: the same mapping and figures.
    free = map_problem(problem, THREE_LEVEL, options)
    ahead = map_problem(problem, THREE_LEVEL, options, deadline=time.monotonic() + 3600.0)
    assert (ahead.cost.energy_pj, ahead.cost.cycles, ahead.evaluated) == \
        (free.cost.energy_pj, free.cost.cycles, free.evaluated)
    assert ahead.mapping == free.mapping
