"""Benchmark: dslc's access counts, cycles and energy against AccelForge's model, on the
files `dslc export --to accelforge` writes.

Run: `python benchmarks/bench_accelforge.py [--accelforge-python PATH] [--keep DIR]
[--results FILE] [--no-search]`. PATH is a Python (>= 3.12) with `accelforge==1.0.467`
installed (default: $DSLC_ACCELFORGE_PYTHON); without one it says so and exits 0. Cases:
every shipped `mapping` block (examples/*.cd and dslc/std) and, unless --no-search, the
best mappings the mapper finds (default search, EDP) for a sample of shipped layers on
shipped accelerators (SAMPLE). Each case is exported (AccelForge 1.0.467 YAML) into a
scratch directory; one subprocess runs benchmarks/accelforge_run.py with PATH on all of
them (AccelForge's `Spec.from_yaml(...).evaluate_mapping()`), and its counts are compared
with dslc's (the scalar cost model), per memory level and tensor:

- `reads`: dslc's reads (total over instances, words) against AccelForge's `read` actions
  x the level's block (a `read` moves one block of `width` bits);
- `writes`: dslc's fills + updates against AccelForge's `write` actions x block;
- per level `access pJ` (read and write energy) and `leak pJ`; `MACs`, the MACs' energy,
  `cycles` (AccelForge's latency x clock) and the total `energy` (pJ).

Output: one table row per compared figure (`=` when equal, else the ratio AccelForge /
dslc, and for a count the convention that explains it: `drain` or `window`, see
`_reason`, or `OTHER`), then per case and overall how many agree; also written to --results (default
benchmarks/results/accelforge.txt; `-` for none). Exit 0 (differences are findings,
explained in docs/interop.md, not failures); exit 1 when AccelForge refuses a case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslc import api
from dslc.arch import ArchModel
from dslc.cost.result import Cost
from dslc.interop.accelforge import ACCELFORGE_VERSION, export_study, tensor_name
from dslc.interop.timeloop import StudyLayer, file_stem
from dslc.lower.problem import Problem

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "benchmarks" / "accelforge_run.py"
MARKER = "=== accelforge_run results ==="

SAMPLE = (
    # (network, layer, accelerator): a spread of operators and dataflows
    ("resnet18", "conv1.conv", "eyeriss_like"),
    ("resnet18", "layer2.down_block.a", "simple_ws_16x16"),
    ("resnet18", "layer3.down_block.skip", "simple_os_16x16"),
    ("resnet18", "layer4.down_block.b", "nvdla_like"),
    ("mobilenet_v2", "b2.d", "shidiannao_like"),
    ("mobilenet_v2", "b3.p", "eyeriss_like"),
    ("transformer_encoder", "scores", "simple_ws_16x16"),
    ("resnet18", "fc", "tpu_like"),
)
SAMPLE_SPEC = "\n".join(f'import "std/{kind}/{name}.cd"' for kind, name in (
    ("networks", "resnet18"), ("networks", "mobilenet_v2"),
    ("networks", "transformer_encoder"), ("accelerators", "eyeriss_like"),
    ("accelerators", "simple_ws_16x16"), ("accelerators", "simple_os_16x16"),
    ("accelerators", "nvdla_like"), ("accelerators", "shidiannao_like"),
    ("accelerators", "tpu_like"))) + "\n"


@dataclass(frozen=True)
class Case:
    name: str
    arch: ArchModel
    layer: StudyLayer
    cost: Cost


def shipped_cases() -> list[Case]:
    """Every mapping block of the examples and the standard library."""
    from dslc.cost.model import evaluate

    cases = []
    paths = sorted((REPO / "examples").glob("*.cd")) + sorted(
        (REPO / "dslc" / "std").rglob("*.cd"))
    for path in paths:
        program = api.compile(path)
        if program.errors:
            continue
        for name in sorted(program.mappings):
            spec = program.mappings[name]
            network = program.networks[spec.network].instantiate(spec.network_point)
            arch = api.resolve_accelerator(
                program.accelerators[spec.accelerator].instantiate(spec.accelerator_point))
            problem = api.lower_network(network, batch=spec.batch).problem(spec.layer)
            assert problem is not None
            mapping = api.mapping_from_spec(spec, problem, arch)
            cases.append(Case(name, arch, StudyLayer(spec.layer, problem, mapping),
                              evaluate(problem, arch, mapping)))
    return cases


def sample_cases() -> list[Case]:
    """The mapper's best mappings of SAMPLE."""
    program = api.compile(REPO / "sample.cd", text=SAMPLE_SPEC)
    cases = []
    for network, layer, accelerator in SAMPLE:
        found = api.map_layer(program, network, layer, accelerator)
        cases.append(Case(f"{network}.{layer}@{accelerator}", found.arch,
                          StudyLayer(layer, found.problem, found.result.mapping),
                          found.result.cost))
    return cases


def find_python(given: str | None) -> str | None:
    path = given or os.environ.get("DSLC_ACCELFORGE_PYTHON")
    if not path:
        return None
    try:
        check = subprocess.run([path, "-c", "import accelforge"], capture_output=True,
                               check=False)
    except OSError:  # not an executable
        return None
    return path if check.returncode == 0 else None


def run_accelforge(python: str, directories: list[Path]) -> dict[str, dict[str, object]]:
    run = subprocess.run([python, str(RUNNER), *map(str, directories)], capture_output=True,
                         text=True, check=False)
    if run.returncode != 0 or MARKER not in run.stdout:
        raise SystemExit(f"accelforge_run failed (exit {run.returncode}):\n"
                         f"{(run.stderr or run.stdout)[-3000:]}")
    found: dict[str, dict[str, object]] = json.loads(run.stdout.split(MARKER, 1)[1])
    return found


def _action(actions: dict[str, float], component: str, tensor: str, action: str) -> float:
    for key in (f"{component}/{tensor}/{action}", f"{component}/None/{action}",
                f"{component}//{action}"):
        if key in actions:
            return actions[key]
    return 0.0


def _verdict(ours: float, theirs: float, exact: bool = True) -> str:
    if (round(theirs) == ours) if exact else abs(theirs - ours) <= 1e-6 * max(abs(ours), 1):
        return "="
    return f"x{theirs / ours:.4f}" if ours else "dslc 0"


def whole_tile_counts(mapping_yaml: str, problem: Problem, arch: ArchModel, cost: Cost
                      ) -> dict[tuple[str, str], tuple[int, int]]:
    """(level, tensor) -> (reads, writes) of the read-only tensors as AccelForge's rule
    gives them on the exported LoopTree: each instance fetches a tile whole on every
    iteration of every temporal loop above its Storage node (writes = tile x those
    iterations x the instances, nothing at the outermost keeper); a keeper serves its next
    keeper's fills once per group of instances that the spatial loops between them that do
    not index the tensor tell apart (multicast), and the innermost keeper serves every MAC
    likewise. Tiles are dslc's (`tile_words`, the bounding box of the projections)."""
    import yaml

    loader: Any = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda load, tag, node: {
        "!": tag, **load.construct_mapping(node, deep=True)})
    nodes = yaml.load(mapping_yaml, Loader=loader)["mapping"]["nodes"]
    variables = [d.lower() for d in problem.dims]
    extent = dict(zip(variables, problem.bounds, strict=True))
    temporal, slots = 1, {}
    spatial: dict[str, list[tuple[str, int]]] = {}  # fanout -> (rank variable, count)
    for node in nodes:
        if node["!"] in ("Temporal", "Spatial"):
            count = extent[node["rank_variable"]] // node["tile_shape"]
            extent[node["rank_variable"]] = node["tile_shape"]
            if node["!"] == "Temporal":
                temporal *= count
            else:
                spatial.setdefault(node["component"], []).append(
                    (node["rank_variable"], count))
        elif node["!"] == "Storage":
            for tensor in node["tensors"]:
                slots[(node["component"], tensor)] = temporal
    tiles = {(level.name, tensor_name(problem.tensor(t.name))): t.tile_words
             for level in cost.levels for t in level.tensors}
    order = [level.name for level in arch.levels]

    def fanned(first: int, last: int, unless: set[str] | None = None) -> int:
        """Product of the spatial counts of the fanouts below levels first..last-1 (only
        those over rank variables not in `unless`, when given)."""
        return math.prod(count for level in arch.levels[first:last] for fanout in level.fanouts
                         for var, count in spatial.get(fanout.name, ())
                         if unless is None or var not in unless)

    counts = {}
    for tensor in problem.tensors:
        if tensor.role == "output":
            continue
        name = tensor_name(tensor)
        relevant = {variables[d] for d in tensor.dims()}
        keepers = [order.index(level) for level in order if (level, name) in slots]
        fills = {i: tiles[(order[i], name)] * slots[(order[i], name)] * fanned(0, i)
                 for i in keepers}
        for position, index in enumerate(keepers):
            writes = 0 if position == 0 else fills[index]
            below = keepers[position + 1] if position + 1 < len(keepers) else len(order)
            served = fills[below] if below < len(order) else cost.macs
            counts[(order[index], name)] = (served // fanned(index, below, relevant), writes)
    return counts


def _reason(problem: Problem, tensor: str, figure: str, theirs: float, writes: int,
            whole_tile: dict[tuple[str, str], tuple[int, int]], level: str) -> str:
    """Why a count differs, when it is one of the conventions docs/interop.md explains and
    the count is what that convention gives: `drain` (an output's reads: AccelForge reads
    every output word written at a level, to accumulate it or to drain it up, so its reads
    equal the writes; Timeloop's reads are the updates less the first touches), `window`
    (an input or weight: AccelForge fetches whole tiles on every iteration above them and
    multicasts only across spatial loops that do not index the tensor, `whole_tile_counts`;
    Timeloop keeps a sliding window's overlap and serves equal data to several instances
    once). Otherwise `OTHER`."""
    role = problem.tensor(tensor).role
    if role == "output":
        return "drain" if figure == "reads" and round(theirs) == writes else "OTHER"
    expected = whole_tile.get((level, tensor_name(problem.tensor(tensor))))
    if expected is not None and round(theirs) == expected[0 if figure == "reads" else 1]:
        return "window"
    return "OTHER"


def compare(case: Case, result: dict[str, object], mapping_yaml: str
            ) -> list[tuple[str, ...]]:
    """Table rows (case, level, tensor, figure, dslc, accelforge, verdict, reason)."""
    if "error" in result:
        return [(case.name, "-", "-", "error", "-", str(result["error"])[:200], "REFUSED",
                 "")]
    actions: dict[str, float] = result["actions"]  # type: ignore[assignment]
    energy: dict[str, float] = result["energy"]  # type: ignore[assignment]
    problem: Problem = case.layer.problem
    whole_tile = whole_tile_counts(mapping_yaml, problem, case.arch, case.cost)
    rows = []
    for level, model in zip(case.cost.levels, case.arch.levels, strict=True):
        for tensor in level.tensors:
            if not (tensor.reads or tensor.fills or tensor.updates):
                continue
            name = tensor_name(problem.tensor(tensor.name))
            block = model.block_words
            writes = tensor.fills + tensor.updates
            for figure, ours in (("reads", tensor.reads), ("writes", writes)):
                theirs = _action(actions, level.name, name, figure[:-1]) * block
                verdict = _verdict(ours, theirs)
                reason = "" if verdict == "=" else _reason(
                    problem, tensor.name, figure, theirs, writes, whole_tile, level.name)
                predicted = whole_tile.get((level.name, name))
                rule = "" if predicted is None else (
                    "rule ok" if predicted[figure == "writes"] == round(theirs) else "rule off")
                rows.append((case.name, level.name, name, figure, f"{ours:,}",
                             f"{theirs:,.0f}", verdict, reason, rule))
        dynamic = sum(v for k, v in energy.items()
                      if k.startswith(f"{level.name}/") and not k.endswith("/leak")) * 1e12
        leak = energy.get(f"{level.name}//leak", 0.0) * 1e12
        rows.append((case.name, level.name, "", "access pJ", f"{level.access_energy_pj:,.1f}",
                     f"{dynamic:,.1f}", _verdict(level.access_energy_pj, dynamic, False), ""))
        if level.leakage_energy_pj or leak:
            rows.append((case.name, level.name, "", "leak pJ",
                         f"{level.leakage_energy_pj:,.1f}", f"{leak:,.1f}",
                         _verdict(level.leakage_energy_pj, leak, False), ""))
    compute = case.arch.compute.name
    macs = _action(actions, compute, "", "compute")
    rows.append((case.name, compute, "", "MACs", f"{case.cost.macs:,}", f"{macs:,.0f}",
                 _verdict(case.cost.macs, macs), ""))
    mac_pj = sum(v for k, v in energy.items() if k.startswith(f"{compute}/")) * 1e12
    rows.append((case.name, compute, "", "energy pJ", f"{case.cost.compute.energy_pj:,.1f}",
                 f"{mac_pj:,.1f}", _verdict(case.cost.compute.energy_pj, mac_pj, False), ""))
    cycles = float(result["total_latency"]) * case.arch.clock_hz  # type: ignore[arg-type]
    rows.append((case.name, "", "", "cycles", f"{case.cost.cycles:,}", f"{cycles:,.1f}",
                 _verdict(case.cost.cycles, cycles), ""))
    total = float(result["total_energy"]) * 1e12  # type: ignore[arg-type]
    rows.append((case.name, "", "", "energy pJ", f"{case.cost.energy_pj:,.1f}",
                 f"{total:,.1f}", _verdict(case.cost.energy_pj, total, exact=False), ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelforge-python", help="a Python with accelforge installed "
                        "(default: $DSLC_ACCELFORGE_PYTHON)")
    parser.add_argument("--keep", type=Path, help="write the exported files here")
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results" /
                                                 "accelforge.txt"))
    parser.add_argument("--no-search", action="store_true", help="shipped mappings only")
    args = parser.parse_args()
    python = find_python(args.accelforge_python)
    if python is None:
        print(f"no Python with accelforge=={ACCELFORGE_VERSION} (give --accelforge-python "
              "PATH or set DSLC_ACCELFORGE_PYTHON; it needs Python >= 3.12): nothing to "
              "compare")
        return
    start = time.perf_counter()
    cases = shipped_cases() + ([] if args.no_search else sample_cases())
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        directories = []
        for index, case in enumerate(cases):
            directory = root / f"{index:02d}_{file_stem(case.name)}"
            for relative, text in export_study(case.arch, (case.layer,)).items():
                (directory / relative).parent.mkdir(parents=True, exist_ok=True)
                (directory / relative).write_text(text)
            directories.append(directory)
        results = run_accelforge(python, directories)
        rows: list[tuple[str, ...]] = []
        for case, directory in zip(cases, directories, strict=True):
            (result,) = results[str(directory)].values()
            mapping_yaml = next((directory / "mapping").glob("*.yaml")).read_text()
            rows += compare(case, result, mapping_yaml)  # type: ignore[arg-type]
    header = ("case", "level", "tensor", "figure", "dslc", f"accelforge {ACCELFORGE_VERSION}",
              "", "why")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    ruled = [r for r in rows if len(r) > 8 and r[8]]
    lines = ["  ".join(c.ljust(w) if i < 4 or i == 7 else c.rjust(w) for i, (c, w)
                       in enumerate(zip(row[:8], widths, strict=True))).rstrip()
             for row in [header, *rows]]
    counts = [r for r in rows if r[3] in ("reads", "writes", "MACs")]
    equal = sum(1 for r in counts if r[6] == "=")
    lines.append("")
    for case in cases:
        mine = [r for r in counts if r[0] == case.name]
        lines.append(f"{case.name}: {sum(1 for r in mine if r[6] == '=')} of {len(mine)} "
                     "counts equal")
    reasons = {why: sum(1 for r in counts if r[7] == why) for why in ("drain", "window",
                                                                       "OTHER")}
    lines.append(f"{equal} of {len(counts)} counts (reads, writes, MACs) equal; differing: "
                 f"{reasons['drain']} output reads (drain), {reasons['window']} sliding-window "
                 f"tensors (window), {reasons['OTHER']} other; AccelForge's whole-tile rule "
                 f"(whole_tile_counts) gives {sum(1 for r in ruled if r[8] == 'rule ok')} of "
                 f"{len(ruled)} of its input and weight counts; {len(cases)} cases; "
                 f"{time.perf_counter() - start:.0f} s")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.results != "-":
        Path(args.results).write_text(
            f"# python benchmarks/bench_accelforge.py (AccelForge {ACCELFORGE_VERSION})\n"
            + text.rsplit(";", 1)[0] + "\n")
    sys.exit(1 if any(r[6] == "REFUSED" for r in rows) else 0)


if __name__ == "__main__":
    main()
