"""Run AccelForge's model on studies `dslc export --to accelforge` wrote; print JSON.

Run with the Python that has AccelForge 1.0.467 installed (Python >= 3.12), not dslc's:
`PY312 benchmarks/accelforge_run.py DIR [DIR ...]`. In each DIR, for every
`workload/X.workload.yaml` with its `mapping/X.mapping.yaml` and the one `arch/*.arch.yaml`,
it loads the three files unchanged (`accelforge.Spec.from_yaml`), evaluates the fixed
mapping (`Spec.evaluate_mapping`, which runs `accelforge.model.evaluate_mapping`) and, after
a marker line, prints one JSON object: per DIR and layer stem, the action counts per
(component, tensor, action), the energy per (component, tensor, action) including leakage,
the latency per component, and the totals. It imports nothing from dslc (dslc's Python may
be 3.11); bench_accelforge.py and tests/interop run it in a subprocess and compare with
dslc. A layer AccelForge refuses is reported with its error.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

MARKER = "=== accelforge_run results ==="
"""Printed before the JSON (AccelForge may print warnings first)."""


def _key(parts: tuple[object, ...]) -> str:
    return "/".join("" if part is None else str(part) for part in parts)


def evaluate(arch: Path, workload: Path, mapping: Path) -> dict[str, object]:
    from accelforge import Spec

    result = Spec.from_yaml(str(arch), str(workload), str(mapping)).evaluate_mapping()
    actions = result.actions(per_component=True, per_tensor=True)
    energy = result.energy(per_component=True, per_tensor=True, per_action=True)
    latency = result.latency(per_component=True)
    return {
        "actions": {_key(k): float(v) for k, v in sorted(actions.items(), key=str)},
        "energy": {_key(k): float(v) for k, v in sorted(energy.items(), key=str)},
        "latency": {str(k): float(v) for k, v in sorted(latency.items())},
        "total_energy": float(result.energy()),
        "total_latency": float(result.latency()),
    }


def study(root: Path) -> dict[str, object]:
    (arch,) = sorted((root / "arch").glob("*.arch.yaml"))
    out: dict[str, object] = {}
    for workload in sorted((root / "workload").glob("*.workload.yaml")):
        stem = workload.name.removesuffix(".workload.yaml")
        mapping = root / "mapping" / f"{stem}.mapping.yaml"
        try:
            out[stem] = evaluate(arch, workload, mapping)
        except Exception as exc:  # reported, not raised: the caller compares the rest
            out[stem] = {"error": f"{type(exc).__name__}: {exc}"[:2000],
                         "traceback": traceback.format_exc()[-2000:]}
    return out


def main() -> None:
    from accelforge import set_n_parallel_jobs

    set_n_parallel_jobs(1, print_message=False)
    results = {root: study(Path(root)) for root in sys.argv[1:]}
    print(MARKER)
    print(json.dumps(results, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
