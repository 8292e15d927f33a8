"""Profile: where the mapper's search spends its time, compiled functions included.

numba's compiled functions carry no symbols a sampling profiler can see. This script loads
the compiled kernel, writes a perf map (`/tmp/perf-PID.map`: each function of the object code
in numba's cache for `dslc.cost.kernel_numba`, at the address numba's execution engine gives
it, with its size from `nm -S`), then runs the 15 searches of `bench_mapper.py --search` (or,
with `--network NET --accelerator ACC`, `map_network` of a shipped network, where Python's
share is larger) over and over while `perf record` samples this process, and prints
`perf report`'s top symbols and the shares of the libraries (`[JIT]`: compiled code).
Two entries without a name recur: numba's reference counts (`lock incq`/`lock decq`
helpers) and the like; `--keep` keeps the perf data to disassemble them.

Needs Linux `perf` and binutils' `nm`; run after `dslc compile-kernel`. Figures:
docs/performance.md, "Mapper throughput" (fifth step).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_mapper import ACCELERATORS, LAYERS, SPECS

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.cost import kernel
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_network
from dslc.mapper.search import _Search


def _objects(cache_file: bytes) -> list[bytes]:
    """The ELF objects inside one of numba's cache files."""
    found = []
    at = 0
    while (start := cache_file.find(b"\x7fELF", at)) >= 0:
        section_offset = struct.unpack_from("<Q", cache_file, start + 0x28)[0]
        entry_size, entries = struct.unpack_from("<HH", cache_file, start + 0x3A)
        end = start + section_offset + entry_size * entries
        found.append(cache_file[start:end])
        at = end
    return found


def _short(mangled: str) -> str:
    """`kernel_numba.counts` from numba's mangled `..._3dslc4cost12kernel_numba6countsB3v...`."""
    match = re.search(r"kernel_numba(\d+)([A-Za-z_]\w*)", mangled)
    return match.group(2)[:int(match.group(1))] if match else mangled[:60]


def write_perf_map() -> int:
    """/tmp/perf-PID.map for the compiled functions loaded now; returns how many."""
    from numba.core.registry import cpu_target
    engine = cpu_target.target_context.codegen()._engine
    cache = Path(kernel.__file__).parent / "__pycache__"
    lines = set()
    with tempfile.TemporaryDirectory() as scratch:
        for index, path in enumerate(sorted(glob.glob(str(cache / "kernel_numba.*.nbc")))):
            for number, obj in enumerate(_objects(Path(path).read_bytes())):
                obj_path = Path(scratch) / f"{index}-{number}.o"
                obj_path.write_bytes(obj)
                listing = subprocess.run(["nm", "-S", "--defined-only", str(obj_path)],
                                         capture_output=True, text=True, check=True).stdout
                for line in listing.splitlines():
                    parts = line.split()
                    if len(parts) != 4 or parts[2] not in ("t", "T"):
                        continue
                    address = engine.get_function_address(parts[3])
                    if address:
                        lines.add(f"{address:x} {int(parts[1], 16):x} {_short(parts[3])}")
    Path(f"/tmp/perf-{os.getpid()}.map").write_text("".join(f"{x}\n" for x in sorted(lines)))
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long perf samples")
    parser.add_argument("--top", type=int, default=30, help="symbols to print")
    parser.add_argument("--keep", type=Path, help="keep perf's data in this file")
    parser.add_argument("--network", help="profile map_network of this shipped network")
    parser.add_argument("--accelerator", default="tpu_like", help="... on this accelerator")
    args = parser.parse_args()
    if not kernel.available():
        sys.exit("the compiled kernel is not available (pip install -e '.[fast]')")
    options = MapperOptions(search="heuristic")
    if args.network is not None:
        lowered = lower_network(api.network(api.compile(
            f"{SPECS}/networks/{args.network}.cd"), args.network), 1)
        arch = resolve_accelerator(api.accelerator(api.compile(
            f"{SPECS}/accelerators/{args.accelerator}.cd"), args.accelerator))

        def work() -> None:
            map_network(lowered, arch, MapperOptions())
    else:
        cases = []
        for network, layer in LAYERS:
            problem = lower_network(api.network(api.compile(
                f"{SPECS}/networks/{network}.cd"), network), 1).problem(layer)
            assert problem is not None
            for accel in ACCELERATORS:
                cases.append((problem, resolve_accelerator(api.accelerator(
                    api.compile(f"{SPECS}/accelerators/{accel}.cd"), accel))))

        def work() -> None:
            for problem, arch in cases:
                _Search(problem, arch, options).heuristic()
    work()  # loads (or compiles) every compiled function used
    print(f"perf map: {write_perf_map()} compiled functions", flush=True)
    data = args.keep or Path(tempfile.mkdtemp()) / "perf.data"
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-p", str(os.getpid()),
                             "-o", str(data), "--", "sleep", str(args.seconds)])
    while perf.poll() is None:
        work()
    for sort, top in (("symbol", args.top), ("dso", 8)):
        report = subprocess.run(["perf", "report", "-i", str(data), "--sort", sort, "--stdio"],
                                capture_output=True, text=True).stdout
        print("\n".join([line for line in report.splitlines()
                         if line.strip() and not line.startswith("#")][:top]))
    Path(f"/tmp/perf-{os.getpid()}.map").unlink()


if __name__ == "__main__":
    main()
