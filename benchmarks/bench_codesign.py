"""Benchmark: the certifying planner against exhaustive search, on the shipped co-design
examples (examples/crossing.cd and examples/codesign.cd).

Run: `python benchmarks/bench_codesign.py [--spec PATH ...] [--jobs N] [--results FILE]
[--keep DIR]` (slow: about 20 minutes on one core for both specs, most of it crossing.cd's
exhaustive run). For each spec, in one process: the request as written (`strategy = auto`,
which runs the certifying planner) from an empty store, then `--strategy exhaustive` from
another empty store, so that neither reads back the other's pairs and the wall times
compare. Then, from the exhaustive run's `pairs.csv` (as `dslc run --out` writes it): the
crossing figure, for every accelerator the worst ratio over networks of its objective to
that network's best objective, and the least of those over the accelerators (above 1.1: no
single accelerator is within 1.1x of the best for every network); and the accelerator that
is best for each network, counted per network family (space).

Prints, per spec and run: pairs evaluated (of the total), wall time, optimality, the bounds'
removals and tightness (objective over its bound) and the best pair; then whether the
optimum is equal (the same objective value; a tie may pick another pair), the ratios
exhaustive / certified of pairs and of wall time, and the crossing figure. The machine's
load average is printed before and after (the timings are only comparable within one run).
The output also goes to `--results` (default benchmarks/results/codesign.txt, overwritten;
`-` for none); `--keep DIR` keeps each exhaustive run's `result.json` and `pairs.csv` in
DIR/<spec name>/. Figures go in docs/performance.md ("Co-design").

`python benchmarks/bench_codesign.py --crossing DIR/pairs.csv [--column edp]` only computes
the crossing figure of an existing exhaustive run (`dslc run SPEC --strategy exhaustive
--out DIR`), on the request's objective or another column of pairs.csv.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslc import api
from dslc.export import outcome_to_json, write_codesign

ROOT = Path(__file__).resolve().parents[1]
SPECS = ("examples/crossing.cd", "examples/codesign.cd")
RESULTS = ROOT / "benchmarks" / "results" / "codesign.txt"
CROSSING_MARGIN = 1.1
"""The crossing claim: no accelerator is within this factor of the best for every network."""


class Output:
    """Prints and keeps every line (for the results file)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


@dataclass(frozen=True)
class Crossing:
    """The crossing figure of an exhaustive run's pairs (see the module docstring)."""

    networks: int
    accelerators: int
    figure: float
    """min over accelerators of max over networks of objective / the network's best."""
    accelerator: str
    """The accelerator that attains `figure`."""
    worst_network: str
    """The network on which that accelerator does worst."""
    best: dict[str, str]
    """Per network, the accelerator with its best objective (the first in the file on a
    tie: pairs.csv lists pairs best first)."""


def crossing(path: Path, column: str = "objective") -> Crossing:
    """The crossing figure from a `pairs.csv` that holds every (network, accelerator) pair
    (an exhaustive run): `column` is `objective` (the request's, lower is better) or a
    metric column such as `edp`. An infeasible pair (empty value) counts as infinitely
    worse; a network without any feasible pair is left out."""
    values: dict[tuple[str, str], float] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            text = row[column] if row["feasible"] == "True" else ""
            values[row["network"], row["accelerator"]] = float(text) if text else math.inf
    networks = list(dict.fromkeys(n for n, _ in values))
    accelerators = list(dict.fromkeys(a for _, a in values))
    missing = len(networks) * len(accelerators) - len(values)
    if missing:
        raise SystemExit(f"{path}: {missing} pairs missing; the crossing figure needs an "
                         "exhaustive run")
    if any(v <= 0 for v in values.values()):
        raise SystemExit(f"{path}: `{column}` is not positive everywhere (a maximised "
                         "objective?): ratios to the best mean nothing")
    best_value: dict[str, float] = {}
    best: dict[str, str] = {}
    for network in networks:
        accelerator = min(accelerators, key=lambda a: values[network, a])
        if math.isfinite(values[network, accelerator]):
            best[network], best_value[network] = accelerator, values[network, accelerator]
    worst: dict[str, tuple[float, str]] = {}
    for accelerator in accelerators:
        worst[accelerator] = max((values[n, accelerator] / best_value[n], n) for n in best)
    chosen = min(accelerators, key=lambda a: worst[a][0])
    return Crossing(len(networks), len(accelerators), worst[chosen][0], chosen,
                    worst[chosen][1], best)


def print_crossing(found: Crossing, column: str, out: Output) -> None:
    verdict = "above" if found.figure > CROSSING_MARGIN else "NOT above"
    out(f"  crossing ({column}): the accelerator closest to best for every network, "
        f"{found.accelerator}, is {found.figure:.3f}x its best on {found.worst_network} "
        f"({verdict} {CROSSING_MARGIN}x; {found.networks} networks x "
        f"{found.accelerators} accelerators)")
    families: dict[str, Counter[str]] = {}
    for network, accelerator in found.best.items():
        families.setdefault(network.split("(")[0], Counter())[accelerator] += 1
    out(f"  best accelerators ({column}): {len(set(found.best.values()))} distinct over "
        f"{len(found.best)} networks")
    for family, counts in families.items():
        top = "; ".join(f"{a} x{c}" for a, c in counts.most_common(2))
        out(f"    {family} ({sum(counts.values())} networks, {len(counts)} distinct): {top}")


def run(program: Any, store: Path, strategy: str | None, jobs: int, out: Output
        ) -> tuple[dict[str, Any], float, Any]:
    """One search from the empty `store`; its JSON, wall time and outcome."""
    start = time.perf_counter()
    found = api.search(program, store=store, jobs=jobs, strategy=strategy)
    seconds = time.perf_counter() - start
    data = outcome_to_json(found.outcome)
    best = data["best"]
    removed = "" if data["bounds"] is None else ", removed " + ", ".join(
        f"{name} {count:,}" for name, count in data["bounds"]["removed"].items())
    out(f"  {data['strategy']}: {data['pairs_evaluated']:,} of {data['pairs_total']:,} "
        f"pairs, {seconds:.0f} s, optimality {data['optimality']}{removed}")
    tightness = (data["bounds"] or {}).get("tightness") or {}
    if "objective" in tightness:
        spread = tightness["objective"]
        out(f"    bounds: objective evaluated / bound least {spread['least']:.3f}, median "
            f"{spread['median']:.3f}, largest {spread['largest']:.3f} over the evaluated "
            "pairs")
    if data["rank_check"] is not None:
        check = data["rank_check"]
        out(f"    rank check: Spearman {check['spearman']:.3f}, Kendall "
            f"{check['kendall']:.3f} over {check['samples']} networks, keeps "
            f"{check['keep']}; kept {len(data['kept'])} networks")
    for line in data["log"]:
        out(f"    log: {line}")
    out(f"    best: {best['network']['label']} on {best['accelerator']['label']}: "
        f"objective {best['objective']:.6g}, energy {best['energy_pj']:.6g} pJ, latency "
        f"{best['latency_s'] * 1e3:.4f} ms, area {best['area_mm2']:.4g} mm2")
    return data, seconds, found.outcome


def bench(spec: str, jobs: int, out: Output, keep: Path | None) -> None:
    program = api.compile(ROOT / spec if not Path(spec).is_absolute() else spec)
    out(f"{spec}:")
    # Warm up (the compiled kernel's load, the first imports) outside the timed runs.
    api.search(program, store=":memory:", strategy="exhaustive", max_pairs=1)
    with tempfile.TemporaryDirectory() as scratch:
        certified, certified_s, _ = run(program, Path(scratch) / "certified.sqlite", None,
                                        jobs, out)
        exhaustive, exhaustive_s, outcome = run(program, Path(scratch) / "exhaustive.sqlite",
                                                "exhaustive", jobs, out)
        folder = Path(scratch) / "exhaustive" if keep is None else keep / Path(spec).stem
        write_codesign(folder, outcome)
        pairs_csv = folder / "pairs.csv"
        a, b = certified["best"]["objective"], exhaustive["best"]["objective"]
        same_pair = (certified["best"]["network"]["label"],
                     certified["best"]["accelerator"]["label"]) == (
            exhaustive["best"]["network"]["label"], exhaustive["best"]["accelerator"]["label"])
        out(f"  optimum equal: {math.isclose(a, b, rel_tol=1e-12)} (objective {a:.9g} vs "
            f"{b:.9g}; {'the same pair' if same_pair else 'another pair of equal value'})")
        pairs = exhaustive["pairs_evaluated"] / certified["pairs_evaluated"]
        out(f"  exhaustive / certified: pairs {pairs:.1f}x, wall time "
            f"{exhaustive_s / certified_s:.1f}x")
        print_crossing(crossing(pairs_csv), "objective", out)
        if outcome.plan.objective != "minimize edp":
            print_crossing(crossing(pairs_csv, "edp"), "edp", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", action="append",
                        help=f"a co-design spec (repeatable; default: {', '.join(SPECS)})")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--results", default=str(RESULTS),
                        help="file for the output (overwritten; `-` for none)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each exhaustive run's result.json and pairs.csv in "
                             "DIR/<spec name>/")
    parser.add_argument("--crossing", type=Path, metavar="PAIRS_CSV",
                        help="only the crossing figure of an exhaustive run's pairs.csv")
    parser.add_argument("--column", default="objective",
                        help="with --crossing: the pairs.csv column to compare (objective, "
                             "energy_pj, latency_s, edp)")
    args = parser.parse_args()
    out = Output()
    if args.crossing is not None:
        print_crossing(crossing(args.crossing, args.column), args.column, out)
        return
    revision = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip() or "unknown"
    out(f"bench_codesign: --jobs {args.jobs}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, dslc at {revision}, load average "
        f"{os.getloadavg()[0]:.2f} at the start")
    for spec in args.spec or SPECS:
        bench(spec, args.jobs, out, args.keep)
    out(f"load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at "
        "the end")
    if args.results != "-":
        Path(args.results).write_text("\n".join(out.lines) + "\n")
        print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
