"""Time dslc mapping ResNet-18 onto `simple_ws_16x16` (the dslc side of the ZigZag comparison).

Run from the repository root with the project's environment (see README.md):

    .venv/bin/python benchmarks/zigzag/run_dslc.py [--spec FILE] [--json-out F]

What runs: `dslc.api.run` on `benchmarks/zigzag/resnet18_ws16.cd` (ResNet-18 x
simple_ws_16x16, EDP objective, auto search, 5,000 candidates per distinct layer, seed 1; the
same request as `examples/quickstart.cd`), i.e. what `dslc run FILE --format json` does
without the printing. `api.run` maps each distinct loop nest once (ResNet-18's 21 MAC layers
have 12) and shares the result among the layers with that nest.

Timing (`time.perf_counter`): `total_seconds` is the whole `api.run` call (spec loading and
elaboration, lowering, search); `search_seconds` is dslc's own figure for the mapping loop;
per distinct layer the time between two progress callbacks (one per distinct problem).
`evaluated` is the mapper's count of candidates evaluated by the cost model (after pruning).
Output: a JSON summary on stdout (and into `--json-out` if given).
"""

# ruff: noqa: E402  (imports follow the start-time stamp and logging set-up on purpose)
from __future__ import annotations

import time

_T0 = time.perf_counter()  # before the heavy imports: the script's own wall time includes them

import argparse
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import dslc
from dslc import api

SPEC = Path(__file__).with_name("resnet18_ws16.cd")


def _source() -> dict[str, Any]:
    """Which dslc code ran: the package folder, and its git commit (and uncommitted changes
    under dslc/, the library in dslc/std/ included) for a checkout, or the COMMIT file
    run_all.sh writes beside a `git archive` snapshot."""
    root = Path(dslc.__file__).resolve().parent.parent
    info: dict[str, Any] = {"package": str(Path(dslc.__file__).resolve().parent)}
    if (root / ".git").exists():
        def git(*cmd: str) -> str:
            return subprocess.run(["git", "-C", str(root), *cmd], capture_output=True,
                                  text=True, check=False).stdout.rstrip()
        info["commit"] = git("rev-parse", "HEAD").strip()
        info["uncommitted_changes"] = git("status", "--porcelain", "--",
                                          "dslc").splitlines()
    elif (root / "COMMIT").exists():
        info["commit"] = (root / "COMMIT").read_text().strip()
        info["uncommitted_changes"] = []
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default=str(SPEC), help="a .cd file with one codesign block")
    parser.add_argument("--codesign", default=None)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run N times (each from scratch, no shared cache); the figures "
                             "are the run with the median total time")
    parser.add_argument("--json-out", default=None, help="also write the summary here")
    args = parser.parse_args(argv)

    runs: list[tuple[float, float, api.DesignRun, list[tuple[float, str]]]] = []
    for _ in range(max(1, args.repeat)):
        marks: list[tuple[float, str]] = []

        def progress(done: int, total: int, layer: str,
                     marks: list[tuple[float, str]] = marks) -> None:
            marks.append((time.perf_counter(), layer))

        start = time.perf_counter()
        design = api.run(api.compile(args.spec), args.codesign, progress=progress)
        runs.append((time.perf_counter() - start, start, design, marks))
    all_totals = [r[0] for r in runs]
    total, start, design, marks = sorted(runs, key=lambda r: r[0])[(len(runs) - 1) // 2]
    result = design.result

    # Per distinct problem: the time since the previous progress call (the first one also
    # holds the accelerator's energy resolution, a few milliseconds, done before the loop).
    search_start = marks[-1][0] - result.search_seconds if marks else start
    seconds_of: dict[str, float] = {}
    previous = search_start
    for stamp, layer in marks:
        seconds_of[layer] = stamp - previous
        previous = stamp

    distinct: list[dict[str, Any]] = []
    for layer in result.layers:
        if layer.shared_with != layer.name:
            continue
        r = layer.result
        distinct.append({
            "name": layer.name,
            "problem_key": layer.problem_key,
            "dims": dict(zip(design.problems[layer.problem_key].dims,
                             design.problems[layer.problem_key].bounds, strict=True)),
            "shared_by": [x.name for x in result.layers if x.problem_key == layer.problem_key],
            "seconds": seconds_of.get(layer.name),
            "search": r.search,
            "mapspace_size": r.mapspace_size,
            "evaluated": r.evaluated,
            "energy_pj": r.cost.energy_pj,
            "cycles": r.cost.cycles,
            "utilization": r.cost.utilization,
        })
    per_layer_equivalent = sum(seconds_of.get(x.shared_with, 0.0) for x in result.layers)
    per_distinct = [d["seconds"] for d in distinct if d["seconds"] is not None]

    summary: dict[str, Any] = {
        "tool": "dslc",
        "dslc_version": metadata.version("dslc"),
        "dslc_source": _source(),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "spec": os.path.relpath(args.spec),
        "codesign": design.codesign,
        "network": result.network,
        "accelerator": result.accelerator,
        "options": {"search": design.options.search, "budget": design.options.budget,
                    "seed": design.options.seed, "objective": design.options.objective,
                    "bypass": design.options.bypass},
        "total_seconds": total,
        "repeats": len(runs),
        "all_runs_total_seconds": all_totals,
        "all_runs_search_seconds": [r[2].result.search_seconds for r in runs],
        "script_seconds_incl_imports": time.perf_counter() - _T0,
        "search_seconds": result.search_seconds,
        "setup_seconds": total - result.search_seconds,
        "n_layers": len(result.layers),
        "n_distinct_layers": result.distinct,
        "mean_seconds_per_distinct_layer": sum(per_distinct) / len(per_distinct),
        "min_seconds_per_distinct_layer": min(per_distinct),
        "max_seconds_per_distinct_layer": max(per_distinct),
        # What searching every MAC layer separately would take (each layer charged its
        # problem's search time): the like-for-like figure against a tool that does not
        # de-duplicate.
        "seconds_if_every_layer_searched": per_layer_equivalent,
        "cost_model_evaluations": sum(d["evaluated"] for d in distinct),
        "energy_pj": result.energy_pj,
        "latency_cycles": result.cycles,
        "latency_s": result.latency_s,
        "clock_hz": result.clock_hz,
        "area_mm2": result.area_mm2,
        "distinct_layers": distinct,
        "layers": [{"name": x.name, "problem_key": x.problem_key, "shared_with": x.shared_with,
                    "energy_pj": x.energy_pj, "cycles": x.cycles} for x in result.layers],
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(f"dslc {summary['dslc_version']}: {len(result.layers)} layers "
          f"({result.distinct} distinct) in {total:.2f} s "
          f"(search {result.search_seconds:.2f} s, "
          f"{summary['mean_seconds_per_distinct_layer']:.3f} s/distinct layer), "
          f"{summary['cost_model_evaluations']} candidates evaluated; "
          f"energy {result.energy_pj:.4e} pJ, latency {result.cycles} cycles", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
