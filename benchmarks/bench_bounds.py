"""Benchmark: how tight the layer bounds are (dslc/cost/bounds.py).

Run: `python benchmarks/bench_bounds.py [--networks a,b] [--accelerators x,y]
[--budget N]` (slow: minutes on one core). For every distinct layer of the shipped networks
on the shipped accelerators it maps the layer with the default mapper (minimising energy,
then cycles, in two searches) and divides the best found by the bound: 1.00 means the bound
is met, 2.00 that the best mapping found costs twice the bound. A ratio below 1 would be a
bug (the property test in tests/cost/test_bounds.py guards it on small layers).

Output: one line per (network, accelerator) with the median and worst energy and cycle
ratios over its distinct layers, MAC-weighted, then the total over everything; with
`--layers`, one line per layer too. Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import time

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.cost.bounds import arch_table, layer_bounds
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_problem

NETWORKS = ("alexnet", "resnet18", "mobilenet_v2", "transformer_encoder", "vgg16",
            "resnet50")
ACCELERATORS = ("simple_ws_16x16", "simple_os_16x16", "eyeriss_like", "tpu_like",
                "nvdla_like", "shidiannao_like")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--accelerators", default=",".join(ACCELERATORS))
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--layers", action="store_true", help="one line per layer too")
    args = parser.parse_args()
    archs = {name: resolve_accelerator(api.accelerator(
        api.compile(f"dslc/std/accelerators/{name}.cd"), name))
        for name in args.accelerators.split(",")}
    table = arch_table(list(archs.values()))
    all_energy: list[tuple[float, int]] = []
    all_cycles: list[tuple[float, int]] = []
    for network in args.networks.split(","):
        lowered = lower_network(api.network(api.compile(f"dslc/std/networks/{network}.cd"),
                                            network), 1)
        distinct = lowered.distinct()
        for a, (accel, arch) in enumerate(archs.items()):
            start = time.perf_counter()
            energy_ratios: list[tuple[float, int]] = []
            cycle_ratios: list[tuple[float, int]] = []
            for shared in distinct.values():
                problem = shared.problem
                bounds = layer_bounds(problem, table)
                weight = problem.macs * len(shared.layers)
                by_energy = map_problem(problem, arch, MapperOptions(
                    objective="energy", budget=args.budget)).cost
                by_cycles = map_problem(problem, arch, MapperOptions(
                    objective="latency", budget=args.budget)).cost
                energy = by_energy.energy_pj / float(bounds.energy_pj[a])
                cycles = by_cycles.cycles / float(bounds.cycles[a])
                energy_ratios.append((energy, weight))
                cycle_ratios.append((cycles, weight))
                if args.layers:
                    print(f"  {network} {accel} {problem.name}: energy {energy:.2f} "
                          f"cycles {cycles:.2f}", flush=True)
            all_energy += energy_ratios
            all_cycles += cycle_ratios
            print(f"{network} on {accel}: {len(distinct)} layers, energy best/bound "
                  f"median {_quantile(energy_ratios, 0.5):.2f} worst "
                  f"{max(r for r, _ in energy_ratios):.2f}; cycles median "
                  f"{_quantile(cycle_ratios, 0.5):.2f} worst {max(r for r, _ in cycle_ratios):.2f}"
                  f" ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"all (MAC-weighted): energy median {_quantile(all_energy, 0.5):.2f} "
          f"p90 {_quantile(all_energy, 0.9):.2f} worst {max(r for r, _ in all_energy):.2f}; "
          f"cycles median {_quantile(all_cycles, 0.5):.2f} p90 {_quantile(all_cycles, 0.9):.2f}"
          f" worst {max(r for r, _ in all_cycles):.2f}")


def _quantile(ratios: list[tuple[float, int]], q: float) -> float:
    """The MAC-weighted q-quantile of the ratios."""
    ordered = sorted(ratios)
    total = sum(weight for _, weight in ordered)
    running = 0
    for ratio, weight in ordered:
        running += weight
        if running >= q * total:
            return ratio
    return ordered[-1][0]


if __name__ == "__main__":
    main()
