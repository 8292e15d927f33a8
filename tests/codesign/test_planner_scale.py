"""The planner's work per pair does not grow with the pairs evaluated: the certification
sweep marks only the pairs evaluated since its last step and keeps the best score as pairs
are recorded (it rebuilt the evaluated pairs and took the minimum of every score at each
step and each progress report: quadratic, minutes for 100,000 pairs), picks each step's
lowest bounds without sorting them all, and the Pareto front of a run's pairs is found in
n log n (it compared every pair with every other). Expected values are brute force."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dslc import api
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import Pair, PairResult
from dslc.codesign.metrics import Metrics, pareto
from dslc.codesign.planner import Budget, _certify, _Run, _State

TINY = Path(__file__).parent / "tiny.cd"


@dataclass
class _Instant:
    """An evaluator whose pairs cost nothing: each pair's EDP is given."""

    edp: dict[Pair, float]
    calls: int = 0

    def evaluate_many(self, pairs: Sequence[Pair], *, jobs: int, scheduler: str | None,
                      progress: Callable[[int, int], None],
                      on_result: Callable[[Pair, PairResult], None]) -> None:
        self.calls += 1
        for done, pair in enumerate(pairs, 1):
            on_result(pair, PairResult(pair[0], pair[1], Metrics(self.edp[pair], 1, 1.0, 1.0)))
            progress(done, len(pairs))


def _brute_pareto(points: np.ndarray) -> list[int]:
    keep = []
    for i in range(len(points)):
        others = np.delete(points, i, axis=0)
        if not np.any(np.all(others <= points[i], axis=1) & np.any(others < points[i], axis=1)):
            keep.append(i)
    return keep


def test_the_certification_of_90000_pairs_takes_seconds() -> None:
    spec = api.compile(TINY).codesigns["small"]  # minimize edp
    side = 300
    networks = tuple(Design("network", "n", i, (("i", i),)) for i in range(side))
    accelerators = tuple(Design("accelerator", "a", j, (("j", j),)) for j in range(side))
    rng = np.random.default_rng(3)
    edp = rng.uniform(1.0, 2.0, (side, side))
    # Every bound (below 1) is below every EDP (1 or more): the sweep evaluates every pair.
    bound = rng.uniform(0.0, 1.0, (side, side))
    best = np.unravel_index(int(np.argmin(edp)), edp.shape)
    instant = _Instant({(networks[i], accelerators[j]): float(edp[i, j])
                        for i in range(side) for j in range(side)})
    reports: list[float] = []
    run = _Run(spec, instant, 1, None,  # type: ignore[arg-type]
               lambda phase, done, total, best: reports.append(best), Budget(),
               time.monotonic())
    state = _State(networks, accelerators, None)
    started = time.monotonic()
    _certify(run, state, bound, "certify")
    elapsed = time.monotonic() - started
    assert len(run.results) == side * side
    assert run.best == edp.min() == run.scores[(networks[best[0]], accelerators[best[1]])]
    assert state.evaluated(run).all()
    # Steps of 16 pairs, each the lowest bounds left (a stable sort of them all).
    order = np.argsort(bound.ravel(), kind="stable")
    first = [(networks[k // side], accelerators[k % side]) for k in order[:16].tolist()]
    assert list(run.results)[:16] == first
    assert reports[-1] == run.best and all(a >= b for a, b in itertools.pairwise(reports))
    assert elapsed < 60, elapsed  # linear: seconds (quadratic: minutes)


def test_the_pareto_front_is_every_undominated_row_and_takes_n_log_n() -> None:
    rng = np.random.default_rng(5)
    for trial in range(3000):
        n, m = int(rng.integers(0, 30)), int(rng.integers(1, 5))
        points = rng.integers(0, 4, (n, m)).astype(float) if trial % 2 else rng.random((n, m))
        if n and trial % 5 == 0:
            points[rng.integers(0, n), rng.integers(0, m)] = math.inf
        assert pareto(points) == _brute_pareto(points), points
    # A front of 100,000 pairs: energy against latency, at one accuracy.
    count = 100_000
    line = np.column_stack([np.arange(count, dtype=float), -np.arange(count, dtype=float),
                            np.zeros(count)])
    started = time.monotonic()
    assert pareto(line) == list(range(count))
    assert pareto(line[:, :2]) == list(range(count))
    assert pareto(np.ones((count, 3))) == list(range(count))
    assert time.monotonic() - started < 30
