"""Benchmark: the first run of the quickstart on a fresh machine (cold) against a later one
(warm), and the fixed cost of a command that does no mapping (`dslc lint`).

Run: `python benchmarks/bench_coldstart.py [--repeat 3] [--cold 1]`. Each figure is the
wall time of a new process running `python -m dslc run examples/quickstart.cd --format
json` from a scratch directory. Warm: numba's cache directory (NUMBA_CACHE_DIR) holds the
kernel (`dslc compile-kernel` filled it first, timed too). Cold: a new empty cache
directory, as on a machine that never ran dslc; `dslc` then maps on the numpy path and
compiles the kernel in a background process (docs/performance.md, "Cold start"), and the
benchmark waits for that compile before going on. Prints the medians, the ratio cold/warm,
and the time of `dslc lint` and `dslc --version`. Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "examples" / "quickstart.cd"


def timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dslc", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"dslc {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return took, done.stdout, done.stderr


def wait_for_background_compile(cache: Path, timeout: float = 1800.0) -> float:
    """Seconds until the background compile's lock file is gone (0 when there is none)."""
    start = time.perf_counter()
    while any(cache.rglob("*.compiling")):
        if time.perf_counter() - start > timeout:
            raise SystemExit("the background compile did not finish")
        time.sleep(0.2)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs")
    parser.add_argument("--cold", type=int, default=1,
                        help="cold runs (each waits for its background compile after)")
    parser.add_argument("--warm-cache", type=Path, default=None,
                        help="a numba cache directory holding the kernel already (skips the "
                             "foreground compile)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dslc-coldstart-"))
    shutil.copy(QUICKSTART, scratch / "quickstart.cd")
    run = ["run", "quickstart.cd", "--format", "json"]
    base = {k: v for k, v in os.environ.items() if k != "DSLC_NO_JIT"}
    results: set[str] = set()

    def record(out: str) -> None:
        results.add(json.dumps({k: v for k, v in json.loads(out).items()
                                if k != "search_seconds"}, sort_keys=True))

    try:
        warm_cache = args.warm_cache or scratch / "numba-warm"
        warm_env = {**base, "NUMBA_CACHE_DIR": str(warm_cache)}
        compile_s = math.nan
        if args.warm_cache is None:
            compile_s = timed(["compile-kernel"], warm_env, scratch)[0]
            print(f"dslc compile-kernel (foreground)  {compile_s:6.1f} s", flush=True)
        warms = []
        for _ in range(args.repeat):
            took, out, _ = timed(run, warm_env, scratch)
            warms.append(took)
            record(out)
            print(f"warm run {took:6.2f} s", flush=True)
        colds, waits, notes = [], [], []
        for i in range(args.cold):
            cache = scratch / f"numba-cold-{i}"
            took, out, err = timed(run, {**base, "NUMBA_CACHE_DIR": str(cache)}, scratch)
            colds.append(took)
            notes.append(err.strip())
            record(out)
            print(f"cold run {took:6.2f} s", flush=True)
            waits.append(wait_for_background_compile(cache))
            print(f"background compile ended {waits[-1]:.1f} s later", flush=True)
        lint = statistics.median(timed(["lint", "quickstart.cd"], warm_env, scratch)[0]
                                 for _ in range(args.repeat))
        version = statistics.median(timed(["--version"], warm_env, scratch)[0]
                                    for _ in range(args.repeat))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    cold, warm = statistics.median(colds), statistics.median(warms)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load "
          f"{os.getloadavg()[0]:.2f}")
    print(f"warm run         median {warm:6.2f} s  ({', '.join(f'{t:.2f}' for t in warms)})")
    print(f"cold first run   median {cold:6.2f} s  ({', '.join(f'{t:.2f}' for t in colds)})")
    print(f"ratio cold/warm  {cold / warm:.2f}")
    print(f"background compile still ran {statistics.median(waits):.1f} s after the cold run "
          "ended (median)")
    print(f"dslc lint        median {lint:6.2f} s")
    print(f"dslc --version   median {version:6.2f} s")
    print(f"cold run's stderr: {notes[0] or '(nothing)'}")
    print(f"identical results, cold (numpy path) and warm (kernel): {len(results) == 1}")


if __name__ == "__main__":
    main()
