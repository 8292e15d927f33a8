"""Benchmark: the semi-decoupled planner against the exhaustive search on the shipped
co-design example (examples/codesign.cd: 324 networks x 54 accelerators).

Run: `python benchmarks/bench_codesign.py [--jobs N]` (slow: about half an hour on one
core). First the request as written (`strategy = auto`, which plans semi-decoupled) from an
empty store, then the exhaustive search over every pair, reusing the stored pairs (the
same pair maps to the same result, so reuse changes no figure, only the wall time).
Prints, for each, the pairs evaluated, the best design and its objective, and whether the
two optima agree. Figures go in docs/performance.md and the co-design tutorial.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dslc import api
from dslc.export import outcome_to_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--spec", default="examples/codesign.cd")
    args = parser.parse_args()
    program = api.compile(args.spec)
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "pairs.sqlite"
        answers = {}
        for strategy in (None, "exhaustive"):
            start = time.perf_counter()
            found = api.search(program, store=store, jobs=args.jobs, strategy=strategy)
            seconds = time.perf_counter() - start
            data = outcome_to_json(found.outcome)
            best = data["best"]
            answers[data["strategy"]] = (best["network"]["label"],
                                         best["accelerator"]["label"])
            print(f"{data['strategy']}: {data['pairs_evaluated']:,} of {data['pairs_total']:,} "
                  f"pairs ({data['reduction']:.1f}x), {seconds:.0f} s, optimality "
                  f"{data['optimality']}", flush=True)
            if data["rank_check"] is not None:
                check = data["rank_check"]
                print(f"  rank check: Spearman {check['spearman']:.3f}, Kendall "
                      f"{check['kendall']:.3f} over {check['samples']} networks, "
                      f"{'passed' if check['passed'] else 'failed'}; kept "
                      f"{len(data['kept'])} networks", flush=True)
            print(f"  best: {best['network']['label']} on {best['accelerator']['label']}: "
                  f"EDP {best['edp']:.6g} pJ*s, energy {best['energy_pj']:.6g} pJ, "
                  f"latency {best['latency_s'] * 1e3:.4f} ms", flush=True)
        same = answers["semi_decoupled"] == answers["exhaustive"]
        print(f"semi-decoupled finds the exhaustive optimum: {same}")


if __name__ == "__main__":
    main()
