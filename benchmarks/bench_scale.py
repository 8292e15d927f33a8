"""Benchmark: a certified co-design answer on 10^6 pairs (benchmarks/scale/scale.cd).

Run: `python benchmarks/bench_scale.py [--jobs 2] [--spec PATH]` (slow: minutes). The spec's
spaces are 1,000 networks x 1,000 accelerators. It times, in one run: compiling the spec;
planning (building every design, lowering every network, resolving every accelerator and
bounding every pair in bulk: `dslc plan`); and the search from an empty store with `--jobs`
workers. It prints the pairs evaluated, what removed the others, the optimality, the
tightness of the bounds seen and the best pair. Figures go in
docs/performance.md ("Co-design at scale").
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dslc import api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--spec", default="benchmarks/scale/scale.cd")
    args = parser.parse_args()
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
