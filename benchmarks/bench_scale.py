"""Benchmark: a certified co-design answer on 10^6 pairs (benchmarks/scale/scale.cd).

Run: `python benchmarks/bench_scale.py [--jobs 2] [--spec PATH]` (slow: minutes). The spec's
spaces are 1,000 networks x 1,000 accelerators. It times, in one run: compiling the spec;
planning (building every design, lowering every network, resolving every accelerator and
bounding every pair in bulk: `dslc plan`); and the search from an empty store with `--jobs`
workers. It prints the pairs evaluated, what removed the others, the optimality, the
tightness of the bounds seen and the best pair. Figures go in
docs/performance.md ("Co-design at scale").

`--certify N`: only the certification sweep (`planner._certify`) over N synthetic pairs
(uniform random bounds in [0, 1], each pair's score its bound plus a draw in [0, 0.05],
evaluated at no cost), against the sweep as first written (every step scanned and
partitioned every bound left), alternating, the faster of three each: the same steps, and
the time of each.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dslc import api
from dslc.codesign.designs import Design
from dslc.codesign.evaluate import Pair, PairResult
from dslc.codesign.metrics import Metrics
from dslc.codesign.planner import CERTIFY_STEP, Budget, _certify, _Run, _State


class _Instant:
    """Pairs evaluated at no cost: each pair's EDP is given."""

    def __init__(self, scores: np.ndarray, networks: Sequence[Design],
                 accelerators: Sequence[Design]) -> None:
        self.scores = scores
        self.row = {d: i for i, d in enumerate(networks)}
        self.column = {d: j for j, d in enumerate(accelerators)}
        self.steps: list[list[Pair]] = []

    def evaluate_many(self, pairs: Sequence[Pair], *, jobs: int, scheduler: str | None,
                      progress: Callable[[int, int], None],
                      on_result: Callable[[Pair, PairResult], None],
                      deadline: float | None = None) -> None:
        self.steps.append(list(pairs))
        for pair in pairs:
            edp = float(self.scores[self.row[pair[0]], self.column[pair[1]]])
            on_result(pair, PairResult(pair[0], pair[1], Metrics(edp, 1, 1.0, 1.0)))


def _scanned(run: _Run, state: _State, objective: np.ndarray, phase: str) -> None:
    """The certification sweep as first written: every step scans every bound left."""
    step = CERTIFY_STEP * max(1, run.jobs)
    while True:
        open_pairs = ~state.evaluated(run) & (objective < run.best)
        if not open_pairs.any():
            return
        rows, columns = np.nonzero(open_pairs)
        bounds = objective[rows, columns]
        if len(bounds) > step:
            cut = np.partition(bounds, step - 1)[step - 1]
            below = np.flatnonzero(bounds < cut)
            ties = np.flatnonzero(bounds == cut)[:step - len(below)]
            lowest = np.sort(np.concatenate([below, ties]))
            first = lowest[np.argsort(bounds[lowest], kind="stable")]
        else:
            first = np.argsort(bounds, kind="stable")
        run.evaluate(phase, [(state.networks[i], state.accelerators[j])
                             for i, j in zip(rows[first].tolist(), columns[first].tolist(),
                                             strict=True)])


def certify(count: int) -> None:
    side = math.isqrt(count)
    spec = api.compile("tests/codesign/tiny.cd").codesigns["small"]
    networks = tuple(Design("network", "n", i, (("i", i),)) for i in range(side))
    accelerators = tuple(Design("accelerator", "a", j, (("j", j),)) for j in range(side))
    rng = np.random.default_rng(1)
    bound = rng.uniform(0.0, 1.0, (side, side))
    scores = bound + rng.uniform(0.0, 0.05, (side, side))
    seconds: dict[str, float] = {}
    steps: dict[str, list[list[Pair]]] = {}
    for _ in range(3):
        for name, sweep in (("scanned", _scanned), ("sorted by chunks", _certify)):
            instant = _Instant(scores, networks, accelerators)
            run = _Run(spec, instant, 1, None, None, Budget(),  # type: ignore[arg-type]
                       time.monotonic())
            state = _State(networks, accelerators, None)
            start = time.perf_counter()
            sweep(run, state, bound, "certify")
            seconds[name] = min(seconds.get(name, math.inf), time.perf_counter() - start)
            steps[name] = instant.steps
    same = steps["scanned"] == steps["sorted by chunks"]
    evaluated = sum(len(step) for step in steps["scanned"])
    print(f"{side * side:,} pairs, {evaluated:,} evaluated in {len(steps['scanned']):,} steps "
          f"(same steps: {same}): scanned {seconds['scanned']:.2f} s, sorted by chunks "
          f"{seconds['sorted by chunks']:.2f} s, ratio "
          f"{seconds['sorted by chunks'] / seconds['scanned']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--spec", default="benchmarks/scale/scale.cd")
    parser.add_argument("--certify", type=int, metavar="N",
                        help="only the certification sweep over N synthetic pairs")
    args = parser.parse_args()
    if args.certify:
        certify(args.certify)
        return
    start = time.perf_counter()
    program = api.compile(args.spec)
    compiled = time.perf_counter()
    plan = api.plan(program)
    planned = time.perf_counter()
    print(f"compile {compiled - start:.1f} s; plan (every design built, every pair bounded) "
          f"{planned - compiled:.1f} s: {plan.pairs_total:,} pairs, {plan.ruled_out:,} ruled "
          f"out by the constraints, at most {plan.at_most:,} to evaluate", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        found = api.search(program, store=Path(scratch) / "pairs.sqlite", jobs=args.jobs)
    searched = time.perf_counter()
    outcome = found.outcome
    assert outcome.best is not None and outcome.bounds is not None
    print(f"search with --jobs {args.jobs}: {searched - planned:.0f} s (its own bounding "
          f"included); {outcome.pairs_evaluated:,} of {outcome.plan.pairs_total:,} pairs "
          f"evaluated ({outcome.reduction:.0f}x fewer); optimality {outcome.optimality}",
          flush=True)
    removed = dict(outcome.bounds.removed)
    print(f"  not evaluated: {removed['constraints']:,} by the constraints, "
          f"{removed['bounds']:,} by the bounds, {removed['ranking']:,} by the ranking")
    for name, least, median, largest in outcome.bounds.tightness:
        print(f"  tightness {name}: least {least:.3f} median {median:.3f} largest "
              f"{largest:.3f}")
    networks = {pair[0] for pair in outcome.results}
    accelerators = {pair[1] for pair in outcome.results}
    print(f"  {len(networks)} networks and {len(accelerators)} accelerators appear in the "
          "evaluated pairs")
    best = outcome.best
    assert best.metrics is not None
    print(f"  best: {best.network.label} on {best.accelerator.label}: EDP "
          f"{best.metrics.edp:.6g} pJ*s")
    print(f"total {searched - start:.0f} s")


if __name__ == "__main__":
    main()
