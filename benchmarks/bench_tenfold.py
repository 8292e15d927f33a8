"""Benchmark: does the default mapper search stop too early? Default budget against ten
times the budget, on every distinct layer of the shipped networks on every shipped
accelerator, and its time against another build's default search.

Run: `python benchmarks/bench_tenfold.py [--baseline DIR] [--accelerators A,B]
[--networks N,M] [--jobs 2] [--out FILE] [--rows FILE]` (slow: one to two hours on two
cores for the whole library; cases run layer by layer, every accelerator for each, and
`--rows` keeps each finished case, so `--summarize ROWS` reports a run stopped early).
For each distinct layer (deduplicated by problem key across the networks) and accelerator,
with the default objective (EDP) and seed:

- `default`: `MapperOptions()`, the best EDP found and the seconds it took;
- `tenfold`: the same options with ten times the budget (the same seed);
- `baseline` (with `--baseline DIR`, a checkout of another build, e.g. the commit before a
  change): that build's default search on the same layer, timed in its own worker process;
  the two builds' runs alternate case by case, so load on the machine falls on both alike.

Gap = default / tenfold - 1 (0: the default already found what ten times the budget finds;
negative when the longer run's path ended worse). With `--reference TABLE` (an earlier run's
`--out`, valid while the cost model is unchanged), the reference is the better of that
table's ten-fold EDP and this run's (a stricter reference), and `--no-tenfold` skips this
run's ten-fold searches (the reference's alone: fast, for iterating). Output: one line per
case, then per accelerator the cases within 1% of the ten-fold search, the worst and mean
gap, and the total time of each build's default search with their ratio. Figures go in
docs/performance.md ("Mapping quality").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETWORKS = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2",
            "transformer_encoder")
ACCELERATORS = ("eyeriss_like", "simple_ws_16x16", "simple_os_16x16", "tpu_like",
                "nvdla_like", "shidiannao_like")
ROOT = Path(__file__).resolve().parent.parent
SEED = 1
"""The searches' seed (`--seed`)."""

# A worker maps the cases it reads (JSON lines on stdin) with the build it runs in and
# answers one JSON line each. It uses only the API every build since 0.2 has, and the
# build's own shipped library: dslc/std/ (since issue 14) or specs/ (older builds).
WORKER = r"""
import json, os, sys, time
from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_problem

LIBRARY = "dslc/std" if os.path.isdir("dslc/std") else "specs"
problems, archs = {}, {}
for line in sys.stdin:
    case = json.loads(line)
    network, accelerator = case["network"], case["accelerator"]
    if network not in problems:
        lowered = lower_network(api.network(api.compile(
            f"{LIBRARY}/networks/{network}.cd"), network), 1)
        problems[network] = {layer.name: layer.problem for layer in lowered.layers
                             if layer.problem is not None}
    if accelerator not in archs:
        archs[accelerator] = resolve_accelerator(api.accelerator(api.compile(
            f"{LIBRARY}/accelerators/{accelerator}.cd"), accelerator))
    options = MapperOptions()
    if case["scale"] != 1 or case.get("seed", 1) != 1:
        options = MapperOptions(budget=options.budget * case["scale"],
                                seed=case.get("seed", 1))
    start = time.perf_counter()
    found = map_problem(problems[network][case["layer"]], archs[accelerator], options)
    seconds = time.perf_counter() - start
    print(json.dumps({"edp": found.cost.energy_pj * found.cost.cycles,
                      "seconds": seconds, "evaluated": found.evaluated,
                      "budget": options.budget}), flush=True)
"""


@dataclass
class Worker:
    """One process of one build, mapping cases one at a time."""

    process: subprocess.Popen[str]

    @staticmethod
    def start(build: Path) -> Worker:
        environment = {**os.environ, "PYTHONPATH": str(build)}
        process = subprocess.Popen([sys.executable, "-c", WORKER], cwd=build,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env=environment)
        return Worker(process)

    def map(self, network: str, layer: str, accelerator: str, scale: int) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"network": network, "layer": layer,
                                             "accelerator": accelerator, "scale": scale,
                                             "seed": SEED}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the worker in {self.process.args} ended")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def distinct_layers(networks: list[str]) -> list[tuple[str, str]]:
    """(network, layer) of the first layer of each distinct problem, in network order."""
    sys.path.insert(0, str(ROOT))
    from dslc import api
    from dslc.lower.lower import lower_network

    found: dict[str, tuple[str, str]] = {}
    for network in networks:
        lowered = lower_network(api.network(api.compile(
            ROOT / f"dslc/std/networks/{network}.cd"), network), 1)
        for layer in lowered.layers:
            if layer.problem is not None and layer.problem.key not in found:
                found[layer.problem.key] = (network, layer.name)
    return list(found.values())


def read_reference(path: Path) -> dict[tuple[str, str, str], float]:
    """The ten-fold EDP of each case of an earlier run's table (the `--out` file, e.g.
    benchmarks/results/tenfold.txt): (network, layer, accelerator) -> EDP. Valid while the
    cost model is unchanged: a mapping's EDP does not depend on the search that found it."""
    found = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0] in NETWORKS:
            found[fields[0], fields[1], fields[2]] = float(fields[4])
    return found


def run_share(cases: list[tuple[str, str, str]], baseline: Path | None,
              printed: list[str], rows_file: Path | None,
              reference: dict[tuple[str, str, str], float], tenfold: bool
              ) -> list[dict[str, Any]]:
    """Map `cases` with one worker per build (this one and the baseline); the ten-fold
    searches too unless not `tenfold` (then `reference` must hold every case)."""
    mine = Worker.start(ROOT)
    other = Worker.start(baseline) if baseline is not None else None
    rows = []
    try:
        for index, (network, layer, accelerator) in enumerate(cases):
            row: dict[str, Any] = {"network": network, "layer": layer,
                                   "accelerator": accelerator}
            # Alternate which build goes first.
            order = ["default", "baseline"] if index % 2 == 0 else ["baseline", "default"]
            for kind in order:
                if kind == "baseline" and other is None:
                    continue
                worker = mine if kind == "default" else other
                assert worker is not None
                row[kind] = worker.map(network, layer, accelerator, 1)
            known = [reference[network, layer, accelerator]] \
                if (network, layer, accelerator) in reference else []
            if tenfold:
                row["tenfold"] = mine.map(network, layer, accelerator, 10)
                known.append(row["tenfold"]["edp"])
            if known == []:
                raise SystemExit(f"no ten-fold result for {network} {layer} {accelerator}")
            # The stricter of this build's ten-fold search and the reference's.
            row["reference"] = min(known)
            row["gap"] = row["default"]["edp"] / row["reference"] - 1
            line = (f"{network:20s} {layer:24s} {accelerator:16s} "
                    f"{row['default']['edp']:11.4e} {row['reference']:11.4e} "
                    f"{100 * row['gap']:8.3f} {row['default']['seconds']:7.2f}")
            if "baseline" in row:
                line += (f" {row['baseline']['edp']:11.4e} "
                         f"{row['baseline']['seconds']:7.2f}")
            if reference and "tenfold" in row:  # this run's own ten-fold search
                line += f" {row['tenfold']['edp']:11.4e}"
            print(line, flush=True)
            printed.append(line)
            rows.append(row)
            if rows_file is not None:
                with rows_file.open("a") as out:
                    out.write(json.dumps(row, sort_keys=True) + "\n")
    finally:
        mine.close()
        if other is not None:
            other.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the build to time against")
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--accelerators", default=",".join(ACCELERATORS))
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker pairs in parallel (each pair alternates its builds)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    parser.add_argument("--rows", type=Path,
                        help="append each case as a JSON line here as it finishes")
    parser.add_argument("--reference", type=Path, metavar="TABLE",
                        help="an earlier run's table (--out): the gap is then to the better "
                             "of its ten-fold result and this run's")
    parser.add_argument("--no-tenfold", action="store_true",
                        help="run no ten-fold search: compare with --reference alone")
    parser.add_argument("--seed", type=int, default=1,
                        help="the searches' seed (default 1, MapperOptions' default)")
    parser.add_argument("--summarize", type=Path, metavar="ROWS",
                        help="only print the summary of the cases in a --rows file")
    args = parser.parse_args()
    global SEED
    SEED = args.seed
    if args.summarize is not None:
        rows = [json.loads(line) for line in args.summarize.read_text().splitlines()]
        print("\n".join(summarize(rows, sorted({r["accelerator"] for r in rows}),
                                   all("baseline" in r for r in rows))))
        return
    reference = read_reference(args.reference) if args.reference is not None else {}
    if args.no_tenfold and not reference:
        parser.error("--no-tenfold needs --reference")
    layers = distinct_layers(args.networks.split(","))
    # Layer-major, so that a run stopped early has covered every accelerator alike.
    cases = [(network, layer, accelerator) for network, layer in layers
             for accelerator in args.accelerators.split(",")]
    header = (f"{'network':20s} {'layer':24s} {'accelerator':16s} {'default':>11s} "
              f"{'reference' if reference else 'tenfold':>11s} {'gap %':>8s} {'seconds':>7s}"
              + (f" {'baseline':>11s} {'seconds':>7s}" if args.baseline else "")
              + (f" {'tenfold':>11s}" if reference and not args.no_tenfold else ""))
    print(header, flush=True)
    printed = [header]
    shares = [cases[i::args.jobs] for i in range(args.jobs)]
    with ThreadPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(lambda share: run_share(share, args.baseline, printed,
                                                        args.rows, reference,
                                                        not args.no_tenfold), shares))
    rows = [row for part in parts for row in part]
    summary = summarize(rows, args.accelerators.split(","), args.baseline is not None)
    print("\n".join(summary), flush=True)
    if args.out is not None:
        args.out.write_text("\n".join([*printed, *summary]) + "\n")


def summarize(rows: list[dict[str, Any]], accelerators: list[str], baseline: bool
              ) -> list[str]:
    """Per accelerator and overall: cases, within 1%, worst and mean gap, default seconds
    (and the baseline's, their ratio, and how often each build found the better mapping)."""
    summary = ["", f"{'accelerator':16s} {'cases':>5s} {'within 1%':>9s} {'worst %':>8s} "
               f"{'mean %':>7s} {'default s':>9s}"
               + (f" {'baseline s':>10s} {'ratio':>6s} {'better':>6s} {'worse':>6s}"
                  if baseline else "")]
    for accelerator in [*accelerators, "all"]:
        chosen = [r for r in rows if accelerator in ("all", r["accelerator"])]
        if not chosen:
            continue
        gaps = [r["gap"] for r in chosen]
        seconds = sum(r["default"]["seconds"] for r in chosen)
        line = (f"{accelerator:16s} {len(chosen):5d} {sum(g <= 0.01 for g in gaps):9d} "
                f"{100 * max(gaps):8.3f} {100 * sum(gaps) / len(gaps):7.3f} {seconds:9.1f}")
        if baseline:
            base = sum(r["baseline"]["seconds"] for r in chosen)
            better = sum(r["default"]["edp"] < 0.999 * r["baseline"]["edp"] for r in chosen)
            worse = sum(r["default"]["edp"] > 1.001 * r["baseline"]["edp"] for r in chosen)
            line += f" {base:10.1f} {seconds / base:6.2f} {better:6d} {worse:6d}"
        summary.append(line)
    return summary


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
