"""Benchmark: `dslc lint` stays linear in the file on the issue-17 inputs.

Run: `python benchmarks/bench_lint.py [--sizes 5000,10000,20000] [--full]`. For each size
N it times, in one process and alternating, `api.lint` plus rendering (`--format full`, as
the CLI prints it) of two one-line files: N statements `layer aI = relu(x)` (valid), and N
statements `layer aI = relu(y)` (N identical E201 errors). Linear work means the time per
statement stays flat as N doubles: the output gives wall and CPU seconds and CPU
microseconds per statement for each, and the ratio of the largest size's per-statement
CPU time to the smallest's (about 1 when linear). `--full` adds the issue's
150,000 statements and its nested repeat (10,000 x 10,000, refused by E405 at the repeat).
Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
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
    body = " ".join(f"layer a{i} = relu({operand})" for i in range(count))
    return f"network n {{\n    input x: [3, 8, 8]\n    {body}\n}}\n"


def lint_seconds(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of linting and rendering `path`, and its diagnostic count (CPU
    time is what the load of a shared machine does not inflate)."""
    start, cpu = time.perf_counter(), time.process_time()
    found = api.lint([path])
    text = "\n".join(render_full(d, others)
                     for d, others in group_identical(list(found.diagnostics)))
    assert text is not None
    return (time.perf_counter() - start, time.process_time() - cpu,
            len(found.diagnostics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.full:
        sizes.append(150_000)
    with tempfile.TemporaryDirectory() as folder:
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
