"""Benchmark: how close the heuristic mapper gets to the best mapping of the same map space.

Run: `python benchmarks/bench_quality.py [--limit N] [--long X] [--exhaustive-only]`
(slow: tens of minutes on one core). For every distinct layer of ResNet-18 and MobileNetV2
on five shipped accelerators, and for the energy and EDP objectives, it runs the default
heuristic (`MapperOptions()`, budget 10,000) and compares it with a reference:

- `exhaustive`: the exhaustive optimum, where the map space (bypass choices included) has
  at most `--limit` candidates (default 3,000,000);
- `long`: elsewhere (exhaustive is out of reach: these spaces hold 1e7 to 1e16 candidates),
  the best of the heuristic run with `--long` times the budget (default 10) under two
  other seeds. This is not a proof of optimality, only a much longer search.

Gap = heuristic / reference - 1 (0 = as good; negative when the default run beat the long
one). Figures go in docs/performance.md. Output: one line per (network, accelerator,
layer, objective), then a summary per reference kind.
"""

from __future__ import annotations

import argparse
import time

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_problem
from dslc.mapper.space import MapSpace

NETWORKS = ("resnet18", "mobilenet_v2")
ACCELERATORS = ("simple_ws_16x16", "simple_os_16x16", "eyeriss_like", "tpu_like",
                "nvdla_like")
OBJECTIVES = ("energy", "edp")


def score(objective: str, energy_pj: float, cycles: int) -> float:
    return energy_pj if objective == "energy" else energy_pj * cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3_000_000)
    parser.add_argument("--long", type=int, default=10)
    parser.add_argument("--accelerators", default=",".join(ACCELERATORS))
    parser.add_argument("--exhaustive-only", action="store_true",
                        help="skip the layers whose space is above --limit")
    parser.add_argument("--no-bypass", action="store_true",
                        help="both searches keep what each memory holds (smaller spaces)")
    args = parser.parse_args()
    gaps: dict[str, list[float]] = {"exhaustive": [], "long": []}
    print(f"{'network':13s} {'accelerator':16s} {'layer':22s} {'objective':9s} "
          f"{'space':>9s} {'reference':10s} {'gap %':>8s} {'seconds':>8s}", flush=True)
    for network in NETWORKS:
        lowered = lower_network(
            api.network(api.compile(f"dslc/std/networks/{network}.cd"), network), 1)
        for accel in args.accelerators.split(","):
            arch = resolve_accelerator(api.accelerator(
                api.compile(f"dslc/std/accelerators/{accel}.cd"), accel))
            firsts = {}
            for layer in lowered.layers:
                if layer.problem is not None and layer.problem.key not in firsts:
                    firsts[layer.problem.key] = (layer.name, layer.problem)
            for name, problem in firsts.values():
                bypass = not args.no_bypass
                size = MapSpace(problem, arch, bypass=bypass).size()
                if args.exhaustive_only and size > args.limit:
                    continue
                for objective in OBJECTIVES:
                    start = time.perf_counter()
                    found = map_problem(problem, arch, MapperOptions(objective=objective,
                                                                     bypass=bypass))
                    mine = score(objective, found.cost.energy_pj, found.cost.cycles)
                    if size <= args.limit:
                        kind = "exhaustive"
                        best = map_problem(problem, arch, MapperOptions(
                            objective=objective, search="exhaustive", bypass=bypass))
                        reference = score(objective, best.cost.energy_pj, best.cost.cycles)
                    else:
                        kind = "long"
                        reference = mine
                        for seed in (2, 3):
                            long = map_problem(problem, arch, MapperOptions(
                                objective=objective, seed=seed, search="heuristic",
                                budget=MapperOptions().budget * args.long, bypass=bypass))
                            reference = min(reference, score(objective, long.cost.energy_pj,
                                                             long.cost.cycles))
                    gap = mine / reference - 1
                    gaps[kind].append(gap)
                    print(f"{network:13s} {accel:16s} {name:22s} {objective:9s} "
                          f"{size:9.1e} {kind:10s} {100 * gap:8.3f} "
                          f"{time.perf_counter() - start:8.1f}", flush=True)
    for kind, values in gaps.items():
        if values:
            within = sum(g <= 0.01 for g in values)
            mean = 100 * sum(values) / len(values)
            print(f"{kind}: {len(values)} comparisons, {within} within 1%, "
                  f"worst gap {100 * max(values):.3f}%, mean {mean:.3f}%")


if __name__ == "__main__":
    main()
