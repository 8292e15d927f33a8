"""Time ZigZag (PyPI `zigzag-dse`) mapping ResNet-18 onto a weight-stationary array.

Run from the repository root with the separate ZigZag environment (see README.md):

    /tmp/zzvenv/bin/python benchmarks/zigzag/run_zigzag.py [--array-size 16] [--json-out F]

What runs: ZigZag's own API, `zigzag.api.get_hardware_performance_zigzag`, on the ResNet-18
ONNX file that ships with the package (`zigzag/inputs/workload/resnet18.onnx`, batch 1,
224x224: 20 convolutions and the fc layer, i.e. 21 MAC layers; ZigZag parses the Add/pool
nodes as dummy nodes and maps no cost for them), on the shipped `tpu_like` accelerator
(`inputs/hardware/tpu_like.yaml`: a 32x32 weight-stationary systolic array, K x C spatial
unrolling from `inputs/mapping/tpu_like.yaml`). With `--array-size N` the same accelerator
and mapping are rewritten with an N x N array (K:N x C:N) into a temporary folder, e.g.
`--array-size 16` to match dslc's `simple_ws_16x16` array shape; nothing else is changed.

Search settings are the API's defaults (LOMA temporal mapping search, `lpf_limit=6`, uneven
temporal mappings, the spatial mapping fixed by the mapping file), the reduction is
`--opt` (default EDP, as dslc's request). Timing is `time.perf_counter` around the whole API
call (workload/accelerator parsing, search, ZigZag's own result saving into a temporary dump
folder); per layer it is measured by a thin subclass of ZigZag's `WorkloadStage` (the stage
that runs each layer's search), and cost-model evaluations are counted by a thin subclass of
`CostModelStage` (one call = one `CostModelEvaluation` of one spatial x temporal mapping).
Neither subclass changes what ZigZag computes.

`--max-layers K` times only the first K layers (a documented subset, for a quick check) and
extrapolates the total explicitly as setup + mean(per-layer seconds) x number of layers.

Output: a JSON summary on stdout (and into `--json-out` if given).
"""

# ruff: noqa: E402  (imports follow the start-time stamp and logging set-up on purpose)
from __future__ import annotations

import time

_T0 = time.perf_counter()  # before the heavy imports: the script's own wall time includes them

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
from importlib import metadata
from typing import Any

# ZigZag's API calls logging.basicConfig(level=INFO); configuring the root logger first keeps
# its per-layer INFO lines off the terminal (basicConfig is then a no-op).
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

import yaml
import zigzag
from zigzag import api as zz_api
from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
from zigzag.stages.workload_iterator import WorkloadStage
from zigzag.workload.layer_node import LayerNode

INPUTS = os.path.join(os.path.dirname(zigzag.__file__), "inputs")
WORKLOAD = os.path.join(INPUTS, "workload", "resnet18.onnx")
HARDWARE = os.path.join(INPUTS, "hardware", "tpu_like.yaml")
MAPPING = os.path.join(INPUTS, "mapping", "tpu_like.yaml")

# --------------------------------------------------------------------------------------------
# Instrumentation (state filled by the two stage subclasses below)
# --------------------------------------------------------------------------------------------

_LAYERS: list[dict[str, Any]] = []
_CURRENT: dict[str, Any] | None = None
_MAX_LAYERS: int | None = None
_WORKLOAD_LAYERS: list[str] = []


class CountingCostModelStage(CostModelStage):
    """ZigZag's CostModelStage, counting the evaluations of the layer being searched."""

    def run(self):
        if _CURRENT is not None:
            _CURRENT["cost_model_evaluations"] += 1
        yield from super().run()


class TimedWorkloadStage(WorkloadStage):
    """ZigZag's WorkloadStage.run (3.9.1), timing each layer's sub-stage pipeline."""

    def run(self):
        global _CURRENT
        layers = [x for x in self.workload.topological_sort() if isinstance(x, LayerNode)]
        _WORKLOAD_LAYERS[:] = [x.name for x in layers]
        for layer in layers[:_MAX_LAYERS]:
            kwargs = self.kwargs.copy()
            kwargs["layer"] = layer
            kwargs["accelerator"] = self.accelerator
            record: dict[str, Any] = {
                "name": layer.name,
                "type": layer.type,
                "dims": {str(d): int(s) for d, s in layer.layer_dim_sizes.items()},
                "macs": int(layer.total_mac_count),
                "key": _layer_key(layer),
                "cost_model_evaluations": 0,
            }
            _CURRENT = record
            start = time.perf_counter()
            sub_stage = self.list_of_callables[0](self.list_of_callables[1:], **kwargs)
            results = list(sub_stage.run())
            record["seconds"] = time.perf_counter() - start
            _CURRENT = None
            if results:
                cme = results[0][0]
                record["energy_pj"] = float(cme.energy_total)
                record["latency_cycles"] = float(cme.latency_total2)
            _LAYERS.append(record)
            for cme, extra_info in results:
                yield cme, (layer, extra_info)


def _layer_key(layer: LayerNode) -> str:
    """What makes two layers the same search problem (dims, equation, strides, padding)."""
    dims = sorted((str(d), int(s)) for d, s in layer.layer_dim_sizes.items())
    return json.dumps([layer.type, str(layer.equation), dims,
                       sorted(str(r) for r in layer.dimension_relations),
                       str(layer.padding)])


# --------------------------------------------------------------------------------------------
# Accelerator / mapping variants
# --------------------------------------------------------------------------------------------

def _scaled_inputs(size: int, folder: str) -> tuple[str, str]:
    """tpu_like.yaml and its mapping with the operational array set to size x size."""
    with open(HARDWARE, encoding="utf-8") as f:
        hw = yaml.safe_load(f)
    hw["operational_array"]["sizes"] = [size, size]
    hw["name"] = f"tpu_like_{size}x{size}"
    with open(MAPPING, encoding="utf-8") as f:
        mapping = yaml.safe_load(f)
    for entry in mapping:
        for dim, unrolls in entry.get("spatial_mapping", {}).items():
            entry["spatial_mapping"][dim] = [
                f"{u.split(',')[0].strip()}, {size}"
                if isinstance(u, str) and u.split(",")[1].strip() == "32" else u
                for u in unrolls
            ]
    hw_path = os.path.join(folder, f"tpu_like_{size}x{size}.yaml")
    map_path = os.path.join(folder, f"tpu_like_{size}x{size}_mapping.yaml")
    with open(hw_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(hw, f, sort_keys=False)
    with open(map_path, "w", encoding="utf-8") as f:
        yaml.safe_dump(mapping, f, sort_keys=False)
    return hw_path, map_path


# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    global _MAX_LAYERS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--array-size", type=int, default=None,
                        help="rewrite tpu_like's 32x32 array as N x N (default: shipped 32x32)")
    parser.add_argument("--opt", default="EDP", choices=["energy", "latency", "EDP"])
    parser.add_argument("--lpf-limit", type=int, default=6, help="ZigZag API default: 6")
    parser.add_argument("--max-layers", type=int, default=None,
                        help="time only the first K MAC layers and extrapolate")
    parser.add_argument("--json-out", default=None, help="also write the summary here")
    parser.add_argument("--dump-folder", default=None,
                        help="ZigZag's output folder (default: a temporary folder)")
    args = parser.parse_args(argv)
    _MAX_LAYERS = args.max_layers

    # ZigZag writes its result files (json, pickle, loop orderings, a png) to dump_folder;
    # keep them out of the repository.
    tmp = tempfile.mkdtemp(prefix="zigzag_bench_")
    dump_folder = args.dump_folder or os.path.join(tmp, "outputs")
    if args.array_size is None:
        hardware, mapping = HARDWARE, MAPPING
        array = "32x32 (shipped tpu_like)"
    else:
        hardware, mapping = _scaled_inputs(args.array_size, tmp)
        array = f"{args.array_size}x{args.array_size} (tpu_like, array resized)"

    # The API looks these names up in its module at call time.
    zz_api.WorkloadStage = TimedWorkloadStage
    zz_api.CostModelStage = CountingCostModelStage

    start = time.perf_counter()
    energy, latency, _cmes = zz_api.get_hardware_performance_zigzag(
        WORKLOAD, hardware, mapping,
        opt=args.opt,
        lpf_limit=args.lpf_limit,
        dump_folder=dump_folder,
        loma_show_progress_bar=False,
    )
    total = time.perf_counter() - start

    layer_seconds = [r["seconds"] for r in _LAYERS]
    searched = sum(layer_seconds)
    first_of_key: dict[str, dict[str, Any]] = {}
    for r in _LAYERS:
        first_of_key.setdefault(r["key"], r)
    summary: dict[str, Any] = {
        "tool": "zigzag",
        "zigzag_version": metadata.version("zigzag-dse"),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "workload": os.path.relpath(WORKLOAD, os.path.dirname(zigzag.__file__)),
        "accelerator": os.path.basename(hardware),
        "array": array,
        "options": {"opt": args.opt, "temporal_mapping_search_engine": "loma",
                    "lpf_limit": args.lpf_limit, "temporal_mapping_type": "uneven",
                    "spatial_mapping": "fixed by the mapping file"},
        "total_seconds": total,
        "script_seconds_incl_imports": time.perf_counter() - _T0,
        "setup_and_saving_seconds": total - searched,
        "layers_seconds": searched,
        "n_layers": len(_LAYERS),
        "n_distinct_layers": len(first_of_key),
        "mean_seconds_per_layer": searched / len(_LAYERS) if _LAYERS else None,
        "min_seconds_per_layer": min(layer_seconds) if _LAYERS else None,
        "max_seconds_per_layer": max(layer_seconds) if _LAYERS else None,
        # ZigZag searches every layer, including repeats of the same shape; this is what the
        # first occurrence of each distinct layer cost (what a de-duplicating run would take).
        "seconds_first_occurrence_of_distinct_layers":
            sum(r["seconds"] for r in first_of_key.values()),
        "cost_model_evaluations": sum(r["cost_model_evaluations"] for r in _LAYERS),
        "energy_pj": float(energy),
        "latency_cycles": float(latency),
        "layers": [{k: v for k, v in r.items() if k != "key"} for r in _LAYERS],
        "dump_folder": dump_folder,
    }
    if args.max_layers is not None:
        summary["subset"] = {
            "measured_layers": len(_LAYERS),
            "note": "only the first K MAC layers were searched; energy/latency cover them only",
            "workload_layers": len(_WORKLOAD_LAYERS),
            "extrapolated_total_seconds":
                (total - searched) + summary["mean_seconds_per_layer"] * len(_WORKLOAD_LAYERS),
        }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(f"ZigZag {summary['zigzag_version']}: {len(_LAYERS)} layers in {total:.1f} s "
          f"({summary['mean_seconds_per_layer']:.2f} s/layer), "
          f"{summary['cost_model_evaluations']} cost-model evaluations; "
          f"energy {energy:.4e} pJ, latency {latency:.4e} cycles", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
