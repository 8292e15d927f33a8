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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dslc import api
from dslc.codesign import planner
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import Pair, PairResult
from dslc.codesign.metrics import Metrics, pareto
from dslc.codesign.planner import Budget, _by_bound, _certify, _Run, _State

TINY = Path(__file__).parent / "tiny.cd"


@dataclass
class _Instant:
    """An evaluator whose pairs cost nothing: each pair's EDP is given."""

    edp: dict[Pair, float]
    calls: int = 0
    steps: list[list[Pair]] = field(default_factory=list)
    """The pairs of each call, in order."""

    def evaluate_many(self, pairs: Sequence[Pair], *, jobs: int, scheduler: str | None,
                      progress: Callable[[int, int], None],
                      on_result: Callable[[Pair, PairResult], None],
                      deadline: float | None = None) -> None:
        self.calls += 1
        self.steps.append(list(pairs))
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


def _certified_by_scans(bound: np.ndarray, edp: np.ndarray, step: int) -> list[list[int]]:
    """The certification's steps as flat positions, the first way it was written: at every
    step, every pair not yet evaluated whose bound is below the best found, the `step`
    lowest in a stable sort of them all."""
    done = np.zeros(bound.size, dtype=bool)
    flat, scores = bound.ravel(), edp.ravel()
    best, steps = math.inf, list[list[int]]()
    while True:
        open_pairs = np.flatnonzero(~done & (flat < best))
        if not open_pairs.size:
            return steps
        taken = open_pairs[np.argsort(flat[open_pairs], kind="stable")][:step]
        steps.append(taken.tolist())
        done[taken] = True
        best = min(best, float(scores[taken].min()))


def test_the_certification_takes_the_pairs_a_full_sort_at_every_step_takes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds sorted a chunk at a time (here 12 at a time, steps of 3) give the steps a full
    scan and sort at every step gave: ties in row-major order, NaN and inf bounds never
    evaluated, -inf ones first, the sweep ending where the best found is at or below every
    bound left, across chunk boundaries."""
    spec = api.compile(TINY).codesigns["small"]
    monkeypatch.setattr(planner, "CERTIFY_STEP", 3)
    monkeypatch.setattr(planner, "CERTIFY_CHUNK", 7)  # chunks of max(7, 4 x 3) = 12
    rng = np.random.default_rng(11)
    for trial in range(200):
        rows, cols = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        bound = rng.integers(0, 6, (rows, cols)).astype(float)
        special = rng.random((rows, cols))
        bound[special < 0.08] = math.inf
        bound[(special >= 0.08) & (special < 0.12)] = math.nan
        bound[(special >= 0.12) & (special < 0.14)] = -math.inf
        edp = np.where(np.isfinite(bound), bound, 0.0) + rng.integers(0, 4, (rows, cols))
        networks = tuple(Design("network", "n", i, (("i", i),)) for i in range(rows))
        accelerators = tuple(Design("accelerator", "a", j, (("j", j),)) for j in range(cols))
        instant = _Instant({(networks[i], accelerators[j]): float(edp[i, j])
                            for i in range(rows) for j in range(cols)})
        run = _Run(spec, instant, 1, None,  # type: ignore[arg-type]
                   lambda phase, done, total, best: None, Budget(), time.monotonic())
        _certify(run, _State(networks, accelerators, None), bound, "certify")
        steps = [[networks.index(n) * cols + accelerators.index(a) for n, a in pairs]
                 for pairs in instant.steps]
        assert steps == _certified_by_scans(bound, edp, 3), trial


def test_bounds_come_in_a_stable_sort_order_a_chunk_at_a_time() -> None:
    rng = np.random.default_rng(12)
    for trial in range(300):
        size = int(rng.integers(0, 60))
        flat = rng.integers(-2, 4, size).astype(float)
        flat[rng.random(size) < 0.1] = math.inf
        flat[rng.random(size) < 0.1] = math.nan
        flat[rng.random(size) < 0.05] = -math.inf
        finite = np.flatnonzero(flat < math.inf)
        expected = finite[np.argsort(flat[finite], kind="stable")].tolist()
        for chunk in (1, 2, 5, 64):
            assert list(_by_bound(flat, chunk)) == expected, (trial, chunk)
