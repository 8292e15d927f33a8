"""Benchmark: `dslc lint` stays linear in the file on the issue-17 inputs.

Run: `python benchmarks/bench_lint.py [--sizes 5000,10000,20000] [--full]`. For each size
N it times, in one process and alternating, `api.lint` plus rendering (`--format full`, as
the CLI prints it) of two one-line files: N statements `layer aI = relu(x)` (valid), and N
statements `layer aI = relu(y)` (N identical E201 errors). Linear work means the time per
statement stays flat as N doubles: the output gives wall and CPU seconds and CPU
microseconds per statement for each, and the ratio of the largest size's per-statement
CPU time to the smallest's (about 1 when linear). `--full` adds the issue's
150,000 statements and its nested repeat (10,000 x 10,000, refused by E405 at the repeat),
and times the whole `dslc lint` command on 150,000 distinct errors on one line (printed to
a file: the default, `--max-diagnostics 0`, and with `--baseline` that build's command).

`--baseline DIR` compares this checkout with another one (a worktree of an older commit):
each input is linted in a fresh process of each build in turn, `--repeat` times,
alternating which goes first, so that the load of a shared machine falls on both alike;
it prints each run and the ratio of the median CPU times, and checks that both builds
report the same diagnostics. Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dslc import api
from dslc.diagnostics.render import group_identical, render_full

NESTED = """
template t(x) {
    block inner = repeat 10000 from x { relu(prev) }
    return inner
}
network n {
    input x: [3, 8, 8]
    block outer = repeat 10000 from x { t(prev) }
}
"""


def one_line(count: int, operand: str) -> str:
    """`count` statements on one line using `operand`; `operand` "" names a different
    undefined tensor in each (distinct errors)."""
    body = " ".join(f"layer a{i} = relu({operand or f'b{i}'})" for i in range(count))
    return f"network n {{\n    input x: [3, 8, 8]\n    {body}\n}}\n"


def lint_seconds(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of linting and rendering `path`, and its diagnostic count (CPU
    time is what the load of a shared machine does not inflate)."""
    seconds, cpu, found, _ = lint_timed(path)
    return seconds, cpu, found


def lint_timed(path: Path) -> tuple[float, float, int, str]:
    """`lint_seconds` and a digest of what lint found: the rendered text and every
    diagnostic's fields (code, spans, message, label, help, notes, related)."""
    start, cpu = time.perf_counter(), time.process_time()
    found = api.lint([path])
    text = "\n".join(render_full(d, others)
                     for d, others in group_identical(list(found.diagnostics)))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    digest = hashlib.sha256(text.encode())
    for diagnostic in found.diagnostics:
        digest.update(repr(diagnostic).encode())
    return seconds, cpu, len(found.diagnostics), digest.hexdigest()[:16]


def lint_once(path: Path) -> None:
    """The `--one` worker: lint `path` after a warm-up (the grammar's construction is not
    per statement) and print the figures and the diagnostics' digest as JSON."""
    warm = path.with_name(f"warm-up-{os.getpid()}.cd")
    warm.write_text(one_line(1, "x"))
    api.lint([warm])
    seconds, cpu, found, digest = lint_timed(path)
    print(json.dumps({"wall": seconds, "cpu": cpu, "found": found, "digest": digest,
                      "package": str(Path(api.__file__).parent)}))


def run_build(root: Path, path: Path) -> dict[str, object]:
    """Lint `path` in a fresh process importing dslc from the checkout `root`."""
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, __file__, "--one", str(path)], env=env,
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(str(result["package"])).is_relative_to(root), result["package"]
    return result


def compare(baseline: Path, inputs: list[tuple[str, Path, int]], repeat: int) -> None:
    """Each input in both builds, alternating; medians of CPU time and their ratio."""
    here = Path(__file__).resolve().parent.parent
    for label, path, size in inputs:
        cpus: dict[str, list[float]] = {"before": [], "after": []}
        found: dict[str, object] = {}
        for turn in range(repeat):
            order = (("before", baseline), ("after", here))
            for name, root in order if turn % 2 == 0 else order[::-1]:
                result = run_build(root, path)
                cpus[name].append(float(str(result["cpu"])))
                seen = (result["found"], result["digest"])
                assert found.setdefault(name, seen) == seen
                print(f"  {label} {name:6}: {float(str(result['wall'])):7.2f} s wall, "
                      f"{cpus[name][-1]:7.2f} s CPU, {result['found']} diagnostics",
                      flush=True)
        assert found["before"] == found["after"], found
        before, after = (statistics.median(cpus[k]) for k in ("before", "after"))
        per = (f", {before / size * 1e6:.1f} -> {after / size * 1e6:.1f} us CPU/statement"
               if size else "")
        print(f"{label}: median CPU {before:.2f} s -> {after:.2f} s{per}, "
              f"{before / after:.2f}x", flush=True)


def cli_seconds(root: Path, path: Path, *options: str) -> tuple[float, int]:
    """Wall seconds of `dslc lint` (the whole command: parse, elaborate, render and print
    to a file) in a fresh process of the checkout `root`, and the lines it printed."""
    env = dict(os.environ, PYTHONPATH=str(root))
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        # Run from the file's folder: `-m` puts the working directory first on the path.
        done = subprocess.run([sys.executable, "-m", "dslc", "lint", *options, str(path)],
                              env=env, cwd=path.parent, stdout=out,
                              stderr=subprocess.DEVNULL, check=False)
        seconds = time.perf_counter() - start
        assert done.returncode == 1, done.returncode
        out.seek(0)
        return seconds, sum(1 for _ in out)


def distinct_cli(folder: Path, baseline: Path | None) -> None:
    """150,000 distinct errors on one line through the CLI: the default (the first
    `MAX_SHOWN_DIAGNOSTICS` printed), all of them (`--max-diagnostics 0`), and with
    `--baseline` that build's command (which printed all)."""
    path = folder / "distinct150000.cd"
    # Without the spaces around `=` (with them the file passes the 4-MB limit, E107).
    path.write_text(one_line(150_000, "").replace(" = ", "="))
    here = Path(__file__).resolve().parent.parent
    runs: list[tuple[str, Path, tuple[str, ...]]] = [
        ("default", here, ()), ("all", here, ("--max-diagnostics", "0"))]
    if baseline is not None:
        runs.append(("baseline", baseline.resolve(), ()))
    for label, root, options in runs:
        seconds, lines = cli_seconds(root, path, *options)
        print(f"dslc lint, 150,000 distinct errors, {label:8}: {seconds:6.2f} s wall, "
              f"{lines:,} lines printed", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout to compare with, alternating")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        lint_once(args.one)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.full:
        sizes.append(150_000)
    with tempfile.TemporaryDirectory() as folder:
        if args.full:
            distinct_cli(Path(folder), args.baseline)
        if args.baseline is not None:
            inputs: list[tuple[str, Path, int]] = []
            for size in sizes:
                for kind, operand in (("valid", "x"), ("errors", "y")):
                    path = Path(folder) / f"{kind}{size}.cd"
                    path.write_text(one_line(size, operand))
                    inputs.append((f"{kind} {size:,}", path, size))
            if args.full:
                path = Path(folder) / "nested.cd"
                path.write_text(NESTED)
                inputs.append(("nested repeat", path, 0))
            compare(args.baseline.resolve(), inputs, args.repeat)
            return
        per: dict[str, list[float]] = {"valid": [], "errors": []}
        for size in sizes:
            for kind, operand in (("valid", "x"), ("errors", "y")):
                path = Path(folder) / f"{kind}{size}.cd"
                path.write_text(one_line(size, operand))
                seconds, cpu, found = lint_seconds(path)
                per[kind].append(cpu / size)
                print(f"{kind:6} {size:7,} statements: {seconds:7.2f} s wall, {cpu:7.2f} s "
                      f"CPU, {cpu / size * 1e6:6.1f} us CPU/statement, {found:,} diagnostics")
        for kind, values in per.items():
            print(f"{kind}: per-statement CPU time at {sizes[-1]:,} / at {sizes[0]:,} = "
                  f"{values[-1] / values[0]:.2f}")
        if args.full:
            path = Path(folder) / "nested.cd"
            path.write_text(NESTED)
            seconds, cpu, found = lint_seconds(path)
            print(f"nested repeat 10,000 x 10,000: {seconds:.2f} s wall, {cpu:.2f} s CPU, "
                  f"{found} diagnostic")


if __name__ == "__main__":
    main()
