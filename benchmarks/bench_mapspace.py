"""Benchmark: map-space construction and counting against the whole mapping time.

Run: `python benchmarks/bench_mapspace.py [networks|deep|huge|compare|jobs]` (all but
`jobs` by default; prints tables). Figures go in docs/performance.md ("Map-space
construction and counting").

- networks: every shipped network (dslc/std/networks) on every shipped accelerator
  (dslc/std/accelerators), default mapper options, one process. Per pair: distinct layers,
  the seconds spent building map spaces (`MapSpace.__init__`: split tables, prime tables,
  keep sets) and counting them (`MapSpace.count`), the whole `map_network` time, and that
  time over ResNet-18's on the same accelerator (per distinct layer too: networks differ
  in how many layers they search).
- deep: `dslc map` of a 3x3 conv on generated hierarchies of 4 to 16 memory levels (a 4 x 4
  fanout half-way), each in a fresh process: wall seconds (process start and the compiled
  kernel's load included), peak resident memory, the count and how long it took.
- compare: the count before this design (the map space of commit b5a1840, read with `git
  show`) and now, alternating per network in one process (two rounds, caches cleared before
  each network), on the distinct layers of three networks on two accelerators; the sizes
  must agree wherever the new count is exact.
- jobs: every shipped network on every shipped accelerator mapped in one process and with
  `jobs=2` (the distinct layers in two worker processes), alternating per pair after a
  warm-up: both times, their ratio, and whether every layer's result is the same.
- huge: `dslc map`'s work for one layer with a dim of 2^24, 2^29 * 3 and 2^31 - 1 on
  eyeriss_like: construction, count and search seconds in one process.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_network, map_problem
from dslc.mapper import space as space_module
from dslc.mapper.space import MapSpace, SpaceSize

STD = Path(__file__).resolve().parent.parent / "dslc" / "std"
BEFORE = "b5a1840"
"""The commit whose map-space count `compare` measures against."""
NETWORKS = ("resnet18", "alexnet", "mobilenet_v2", "resnet50", "transformer_encoder", "vgg16")
ACCELERATORS = ("eyeriss_like", "nvdla_like", "shidiannao_like", "simple_os_16x16",
                "simple_ws_16x16", "tpu_like")

_spent = {"build": 0.0, "count": 0.0}
_init = MapSpace.__init__
_count = MapSpace.count


def _timed_init(self: MapSpace, *args: object, **kwargs: object) -> None:
    start = time.perf_counter()
    _init(self, *args, **kwargs)  # type: ignore[arg-type]
    _spent["build"] += time.perf_counter() - start


def _timed_count(self: MapSpace) -> SpaceSize:
    start = time.perf_counter()
    try:
        return _count(self)
    finally:
        _spent["count"] += time.perf_counter() - start


def networks() -> None:
    MapSpace.__init__ = _timed_init  # type: ignore[method-assign]
    MapSpace.count = _timed_count  # type: ignore[method-assign]
    lowered = {name: lower_network(api.network(
        api.compile(STD / "networks" / f"{name}.cd"), name), 1) for name in NETWORKS}
    print(f"{'accelerator':16s} {'network':20s} {'distinct':>8s} {'build s':>8s} "
          f"{'count s':>8s} {'total s':>8s} {'vs r18':>7s} {'per layer':>9s} "
          f"{'vs r18':>7s}", flush=True)
    for accel in ACCELERATORS:
        arch = resolve_accelerator(api.accelerator(
            api.compile(STD / "accelerators" / f"{accel}.cd"), accel))
        reference: tuple[float, float] | None = None
        for name in NETWORKS:
            _spent.update(build=0.0, count=0.0)
            result = map_network(lowered[name], arch, MapperOptions())
            total = result.search_seconds
            per_layer = total / result.distinct
            if reference is None:
                reference = (total, per_layer)
            print(f"{accel:16s} {name:20s} {result.distinct:8d} {_spent['build']:8.2f} "
                  f"{_spent['count']:8.2f} {total:8.2f} {total / reference[0]:7.2f} "
                  f"{per_layer:9.3f} {per_layer / reference[1]:7.2f}", flush=True)
    MapSpace.__init__ = _init  # type: ignore[method-assign]
    MapSpace.count = _count  # type: ignore[method-assign]


def jobs() -> None:
    lowered = {name: lower_network(api.network(
        api.compile(STD / "networks" / f"{name}.cd"), name), 1) for name in NETWORKS}
    archs = {accel: resolve_accelerator(api.accelerator(
        api.compile(STD / "accelerators" / f"{accel}.cd"), accel)) for accel in ACCELERATORS}
    map_network(lowered["resnet18"], archs["tpu_like"], MapperOptions())  # warm-up
    print(f"{'accelerator':16s} {'network':20s} {'distinct':>8s} {'1 job s':>8s} "
          f"{'2 jobs s':>8s} {'ratio':>6s} same", flush=True)
    sums = [0.0, 0.0]
    for accel, arch in archs.items():
        for name in NETWORKS:
            seconds, layers = [], []
            for count in (1, 2):
                start = time.perf_counter()
                result = map_network(lowered[name], arch, MapperOptions(), jobs=count)
                seconds.append(time.perf_counter() - start)
                layers.append([(layer.name, layer.energy_pj, layer.cycles,
                                layer.result.evaluated) for layer in result.layers])
            sums[0] += seconds[0]
            sums[1] += seconds[1]
            print(f"{accel:16s} {name:20s} {result.distinct:8d} {seconds[0]:8.2f} "
                  f"{seconds[1]:8.2f} {seconds[1] / seconds[0]:6.2f} "
                  f"{'yes' if layers[0] == layers[1] else 'NO'}", flush=True)
    print(f"all: {sums[0]:.1f} s in one process, {sums[1]:.1f} s with 2 jobs, ratio "
          f"{sums[1] / sums[0]:.2f}")


def deep_spec(levels: int) -> str:
    """A 3x3 conv and an accelerator of `levels` memories (halving sizes) with a 4 x 4
    fanout half-way: the hierarchy the tests generate (tests/mapper/test_mapspace_count)."""
    lines = ["network n {", "    input x: [16, 14, 14]",
             "    layer a = conv(x, out = 32, kernel = 3, pad = same)", "}",
             "accelerator deep {", "    word = 16b clock = 1GHz",
             "    memory DRAM { width = 64b }"]
    for i in range(1, levels):
        lines.append(f"    memory L{i} {{ size = {max(64, 2 ** (20 - i))} words, width = 64b }}")
        if i == levels // 2:
            lines.append("    fanout PE { mesh = 4 x 4 }")
    lines += ["    compute MAC { }", "}"]
    return "\n".join(lines) + "\n"


_CHILD = """
import resource, sys, time
from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_problem
from dslc.mapper.space import MapSpace
program = api.compile(sys.argv[1])
problem = lower_network(api.network(program, "n"), 1).problem("a")
arch = resolve_accelerator(api.accelerator(program, "deep"))
start = time.perf_counter()
size = MapSpace(problem, arch).count()
counted = time.perf_counter() - start
start = time.perf_counter()
map_problem(problem, arch, MapperOptions())
mapped = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{size}|{counted:.3f}|{mapped:.2f}|{peak:.0f}")
"""


def deep() -> None:
    print(f"{'levels':>6s} {'dslc map s':>10s} {'peak MB':>8s} {'count s':>8s} "
          f"{'map s':>6s}  size")
    with tempfile.TemporaryDirectory() as folder:
        for levels in (4, 6, 8, 11, 13, 16):
            spec = Path(folder) / f"deep{levels}.cd"
            spec.write_text(deep_spec(levels))
            start = time.perf_counter()
            done = subprocess.run(["dslc", "map", str(spec), "-n", "n", "-l", "a", "-a",
                                   "deep"], capture_output=True, text=True, check=True)
            wall = time.perf_counter() - start
            assert "searched" in done.stdout
            child = subprocess.run([sys.executable, "-c", _CHILD, str(spec)],
                                   capture_output=True, text=True, check=True)
            size, counted, mapped, peak = child.stdout.strip().split("|")
            print(f"{levels:6d} {wall:10.2f} {float(peak):8.0f} {float(counted):8.3f} "
                  f"{float(mapped):6.2f}  {size}", flush=True)


def huge() -> None:
    arch = resolve_accelerator(api.accelerator(
        api.compile(STD / "accelerators" / "eyeriss_like.cd"), "eyeriss_like"))
    print(f"{'K':>12s} {'build s':>8s} {'count s':>8s} {'map s':>7s}  size")
    for bound in (2 ** 24, 2 ** 29 * 3, 2 ** 31 - 1):
        text = (f"network n {{ input x: [4, 8, 8] layer a = conv(x, out = {bound}, "
                "kernel = 1) }\n")
        problem = lower_network(api.network(api.compile(text=text), "n"), 1).problem("a")
        assert problem is not None
        start = time.perf_counter()
        space = MapSpace(problem, arch)
        built = time.perf_counter() - start
        start = time.perf_counter()
        size = space.count()
        counted = time.perf_counter() - start
        start = time.perf_counter()
        map_problem(problem, arch, MapperOptions())
        mapped = time.perf_counter() - start
        print(f"{bound:12d} {built:8.3f} {counted:8.3f} {mapped:7.2f}  {size}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


def _old_space() -> ModuleType:
    """dslc/mapper/space.py as of commit b5a1840 (before bounded counting), as a module."""
    text = subprocess.run(["git", "show", f"{BEFORE}:dslc/mapper/space.py"], check=True,
                          capture_output=True, text=True, cwd=STD.parent.parent).stdout
    module = ModuleType("old_space")
    sys.modules["old_space"] = module  # dataclasses look their module up
    exec(compile(text, "old_space.py", "exec"), module.__dict__)
    return module


def _clear(module: ModuleType) -> None:
    for value in list(module.__dict__.values()):
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def compare() -> None:
    old = _old_space()
    print(f"{'accelerator':16s} {'network':20s} {'distinct':>8s} {'before s':>9s} "
          f"{'now s':>7s} {'ratio':>7s}  sizes")
    for accel in ("eyeriss_like", "simple_ws_16x16"):
        arch = resolve_accelerator(api.accelerator(
            api.compile(STD / "accelerators" / f"{accel}.cd"), accel))
        for name in ("transformer_encoder", "resnet18", "mobilenet_v2"):
            problems = [shared.problem for shared in lower_network(api.network(
                api.compile(STD / "networks" / f"{name}.cd"), name), 1).distinct().values()]
            times: dict[str, list[float]] = {"before": [], "now": []}
            agree = True
            for _ in range(2):
                for variant in ("before", "now"):
                    _clear(old)
                    _clear(space_module)
                    start = time.perf_counter()
                    sizes = [old.MapSpace(problem, arch).size() if variant == "before"
                             else MapSpace(problem, arch).count() for problem in problems]
                    times[variant].append(time.perf_counter() - start)
                    if variant == "before":
                        expected = sizes
                    else:
                        agree &= all(not size.exact or size.lower == value
                                     for size, value in zip(sizes, expected, strict=True))
            before, now = min(times["before"]), min(times["now"])
            print(f"{accel:16s} {name:20s} {len(problems):8d} {before:9.2f} {now:7.2f} "
                  f"{before / now:7.1f}  {'equal' if agree else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    stages = sys.argv[1:] or ["huge", "deep", "compare", "networks"]
    for stage in stages:
        {"networks": networks, "deep": deep, "huge": huge, "compare": compare,
         "jobs": jobs}[stage]()
