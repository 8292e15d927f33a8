"""Benchmark: dslc's access counts against Timeloop's own, on the exported files.

Run: `python benchmarks/bench_timeloop.py [--keep DIR]`. For every shipped `mapping` block
(examples/*.cd) it writes the Timeloop v3 files (`dslc export --to timeloop --mapping`), runs
`timeloop-model` on them in a scratch directory, reads `timeloop-model.stats.txt` and
compares, per memory level and data space, the per-instance scalar reads, fills and updates
with dslc's (`dslc eval`). Without a `timeloop-model` binary on PATH it says so and exits 0
(nothing to compare). Exit 1 when a count differs.

Output: one line per (mapping, level, tensor, action) with dslc's and Timeloop's counts and
`ok` or `DIFFERS`, then a summary line. Figures go in docs/interop.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dslc import api

REPO = Path(__file__).resolve().parent.parent
ACTIONS = {"reads": "Scalar reads (per-instance)", "fills": "Scalar fills (per-instance)",
           "updates": "Scalar updates (per-instance)"}
TIMELOOP_NAMES = {"weight": "Weights", "input": "Inputs", "output": "Outputs"}


def shipped_mappings() -> list[tuple[Path, str]]:
    """(spec file, mapping name) for every mapping block of the examples."""
    found = []
    for path in sorted((REPO / "examples").glob("*.cd")):
        program = api.compile(path)
        if program.errors:
            continue
        found += [(path, name) for name in sorted(program.mappings)]
    return found


def parse_stats(text: str) -> dict[tuple[str, str, str], int]:
    """(level, data space, action) -> per-instance count, from timeloop-model.stats.txt:
    `=== LEVEL ===` headers, data-space names ending in `:` and `Scalar ... : N` lines."""
    counts: dict[tuple[str, str, str], int] = {}
    level = space = ""
    for line in text.splitlines():
        header = re.match(r"\s*=== (.+) ===\s*$", line)
        if header:
            level, space = header[1].strip(), ""
            continue
        named = re.match(r"\s{2,}(\w+):\s*$", line)
        if named and level:
            space = named[1]
            continue
        for action, label in ACTIONS.items():
            if level and space and line.strip().startswith(label):
                counts[(level, space, action)] = int(float(line.split(":")[-1].split()[0]))
    return counts


def compare(spec: Path, mapping: str, scratch: Path, binary: str) -> tuple[int, int]:
    program = api.compile(spec)
    files = api.export_timeloop(program, mapping=mapping)
    for relative, text in files.items():
        (scratch / relative).parent.mkdir(parents=True, exist_ok=True)
        (scratch / relative).write_text(text)
    command = next(line for line in files["README.txt"].splitlines()
                   if line.startswith("timeloop-model"))
    args = [binary, *command.split()[1:]]
    run = subprocess.run(args, cwd=scratch, capture_output=True, text=True, check=False)
    stats = scratch / "timeloop-model.stats.txt"
    if run.returncode != 0 or not stats.exists():
        print(f"{mapping}: timeloop-model failed (exit {run.returncode}): "
              f"{(run.stderr or run.stdout).strip()[-400:]}")
        return 0, 1
    theirs = parse_stats(stats.read_text())
    cost = api.evaluate(program, mapping)
    same = differ = 0
    for level in cost.levels:
        for tensor in level.tensors:
            space = TIMELOOP_NAMES.get(tensor.name, tensor.name)
            for action in ACTIONS:
                ours = getattr(tensor, f"{action}_per_instance")
                other = theirs.get((level.name, space, action))
                verdict = "ok" if other == ours else "DIFFERS"
                same, differ = (same + 1, differ) if other == ours else (same, differ + 1)
                print(f"{mapping:16} {level.name:14} {space:8} {action:8} "
                      f"dslc {ours:>14,}  timeloop {other if other is not None else '-':>14}"
                      f"  {verdict}")
    return same, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the files and stats here")
    args = parser.parse_args()
    binary = shutil.which("timeloop-model")
    if binary is None:
        print("timeloop-model is not on PATH: nothing to compare (install Timeloop v3, e.g. "
              "the timeloop-accelergy-exercises container, and run again)")
        return
    same = differ = 0
    for spec, mapping in shipped_mappings():
        if args.keep is not None:
            scratch = args.keep / mapping
            scratch.mkdir(parents=True, exist_ok=True)
            counts = compare(spec, mapping, scratch, binary)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                counts = compare(spec, mapping, Path(tmp), binary)
        same, differ = same + counts[0], differ + counts[1]
    print(f"{same} counts equal, {differ} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
