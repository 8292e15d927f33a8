"""Print the ZigZag-vs-dslc comparison from the JSON files the two run scripts wrote.

    python3 benchmarks/zigzag/compare.py DSLC.json ZIGZAG.json [ZIGZAG2.json ...]

Standard library only (any Python 3.11+). Ratios are ZigZag seconds / dslc seconds.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    dslc = _load(argv[0])
    print(f"dslc {dslc['dslc_version']} on {dslc['accelerator']} "
          f"({dslc['options']['search']} search, budget {dslc['options']['budget']}, "
          f"objective {dslc['options']['objective']})")
    print(f"  api.run total          {dslc['total_seconds']:8.2f} s "
          f"(search {dslc['search_seconds']:.2f} s, setup {dslc['setup_seconds']:.2f} s)")
    src = dslc.get("dslc_source", {})
    if "commit" in src:
        dirty = len(src.get("uncommitted_changes", []))
        print(f"  code                   commit {src['commit'][:10]}"
              + (f" + {dirty} uncommitted file(s)" if dirty else " (clean)"))
    if dslc.get("repeats", 1) > 1:
        runs = ", ".join(f"{t:.2f}" for t in dslc["all_runs_total_seconds"])
        print(f"  median of {dslc['repeats']} runs      (totals: {runs} s)")
    print(f"  per distinct layer     {dslc['mean_seconds_per_distinct_layer']:8.3f} s mean "
          f"({dslc['min_seconds_per_distinct_layer']:.3f}-"
          f"{dslc['max_seconds_per_distinct_layer']:.3f}), "
          f"{dslc['n_distinct_layers']} distinct of {dslc['n_layers']} layers")
    print(f"  if every layer searched{dslc['seconds_if_every_layer_searched']:8.2f} s")
    print(f"  candidates evaluated   {dslc['cost_model_evaluations']:8d}")
    print(f"  energy {dslc['energy_pj']:.4e} pJ, latency {dslc['latency_cycles']:,} cycles")
    for path in argv[1:]:
        zz = _load(path)
        print()
        print(f"ZigZag {zz['zigzag_version']} on {zz['accelerator']} [{zz['array']}] "
              f"(LOMA, lpf_limit {zz['options']['lpf_limit']}, opt {zz['options']['opt']})")
        print(f"  API call total         {zz['total_seconds']:8.2f} s "
              f"(layers {zz['layers_seconds']:.2f} s, "
              f"setup+saving {zz['setup_and_saving_seconds']:.2f} s)")
        print(f"  per layer              {zz['mean_seconds_per_layer']:8.3f} s mean "
              f"({zz['min_seconds_per_layer']:.3f}-{zz['max_seconds_per_layer']:.3f}), "
              f"{zz['n_layers']} layers, {zz['n_distinct_layers']} distinct")
        first = zz["seconds_first_occurrence_of_distinct_layers"]
        print(f"  first occurrence only  {first:8.2f} s")
        print(f"  cost-model evaluations {zz['cost_model_evaluations']:8d}")
        print(f"  energy {zz['energy_pj']:.4e} pJ, latency {zz['latency_cycles']:,.0f} cycles")
        if "subset" in zz:
            print(f"  SUBSET: {zz['subset']['measured_layers']} of "
                  f"{zz['subset']['workload_layers']} layers; extrapolated total "
                  f"{zz['subset']['extrapolated_total_seconds']:.1f} s")
        print("  ratios (ZigZag / dslc):")
        if "subset" in zz:
            est = zz["subset"]["extrapolated_total_seconds"]
            print(f"    whole run (ZigZag extrapolated) {est / dslc['total_seconds']:8.1f}x")
            continue
        print(f"    whole run            {zz['total_seconds'] / dslc['total_seconds']:8.1f}x")
        print(f"    distinct layers only {first / dslc['search_seconds']:8.1f}x"
              "  (ZigZag's first occurrences vs dslc's search)")
        print(f"    every layer searched "
              f"{zz['layers_seconds'] / dslc['seconds_if_every_layer_searched']:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
