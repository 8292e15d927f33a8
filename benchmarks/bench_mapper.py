"""Benchmark: batched cost-model throughput and whole-network mapping time.

Run: `python benchmarks/bench_mapper.py` (one core; prints a table). Figures go in
docs/performance.md. Throughput: random valid-or-not mappings of ResNet-18's layer1 3x3
conv on simple_ws_16x16 (DRAM > GLB > 16x16 PEs > RF), the batched model's two engines
(compiled kernel and numpy, alternating) and the scalar model, in one run.
Network time: ResNet-18 and MobileNetV2 on three shipped accelerators, default options.
Search rate (`--search`, with `--baseline DIR` a checkout of another build, `--budget N` the
search's budget, default 10,000): the heuristic's candidates evaluated (those that fit,
costed: `evaluated`, what the budget counts; the summary also gives the distinct ones
checked by `fits`, fitting or not) per second end to end
(the search alone, and `map_problem` with the map-space count and the final scalar
evaluation) on the layers of the throughput table, each build in its own worker process, the
two alternating case by case, medians of 3.
Kernel share (`--kernel-share`): per case, the search's rate against the compiled kernel's
alone (`fits` and `totals`, best of 3) on the very candidates the search evaluated, all in
one batch: how far the search is from its kernel, and the ceiling of any faster loop; and
against `search_batch` alone on the batches the search ran (keys, remembered table, pruning,
costing and scoring: the compiled work of every batch, best of 3).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.cost import kernel
from dslc.cost.batched import BatchEvaluator
from dslc.cost.model import evaluate
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_network
from dslc.mapper.space import MapSpace

SPECS = "dslc/std"
ROOT = Path(__file__).resolve().parent.parent
LAYERS = (("resnet18", "conv1.conv"), ("resnet18", "layer1.0.a"),
          ("resnet18", "layer2.down_block.a"), ("resnet18", "fc"), ("mobilenet_v2", "b2.d"))
ACCELERATORS = ("simple_ws_16x16", "eyeriss_like", "tpu_like")

# A worker runs the default heuristic search on the cases it reads (JSON lines) with the
# build it runs in: the search alone (`_Search` and its `heuristic`, as every build since
# the heuristic's rewrite has them) and `map_problem`; one JSON line each.
SEARCH_WORKER = r"""
import json, sys, time
from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.mapper import MapperOptions, map_problem
from dslc.mapper.search import _Search

problems, archs = {}, {}
for line in sys.stdin:
    network, layer, accelerator, budget = json.loads(line)
    if network not in problems:
        problems[network] = lower_network(api.network(api.compile(
            f"dslc/std/networks/{network}.cd"), network), 1)
    if accelerator not in archs:
        archs[accelerator] = resolve_accelerator(api.accelerator(api.compile(
            f"dslc/std/accelerators/{accelerator}.cd"), accelerator))
    problem, arch = problems[network].problem(layer), archs[accelerator]
    options = MapperOptions(search="heuristic", budget=budget)
    start = time.perf_counter()
    search = _Search(problem, arch, options)
    search.heuristic()
    searched = time.perf_counter() - start
    start = time.perf_counter()
    found = map_problem(problem, arch, options)
    whole = time.perf_counter() - start
    seen = getattr(search, "seen", None)
    print(json.dumps({"evaluated": search.evaluated, "search_s": searched,
                      "checked": getattr(seen, "count", 0),
                      "map_s": whole, "map_evaluated": found.evaluated,
                      "edp": found.cost.energy_pj * found.cost.cycles}), flush=True)
"""


def throughput() -> None:
    net = api.network(api.compile(f"{SPECS}/networks/resnet18.cd"), "resnet18")
    arch = resolve_accelerator(api.accelerator(
        api.compile(f"{SPECS}/accelerators/simple_ws_16x16.cd"), "simple_ws_16x16"))
    problem = lower_network(net, batch=1).problem("layer1.0.a")
    assert problem is not None
    space = MapSpace(problem, arch, bypass=False)
    rng = np.random.default_rng(1)
    factors, orders = space.sample(rng, 1 << 16)
    batch = space.batch(factors, orders)
    evaluator = BatchEvaluator(problem, arch, space.keep_choices[0])
    # (engine, call): the full breakdown (`evaluate`) and the totals the mapper asks for.
    variants = [("numba", "evaluate"), ("numba", "totals"), ("numpy", "evaluate")] \
        if kernel.available() else [("numpy", "evaluate")]
    runs: dict[tuple[str, str], list[float]] = {variant: [] for variant in variants}
    for engine, call in variants * 2:  # warm up (and compile, once per machine)
        os.environ[kernel.DISABLE_ENV] = "1" if engine == "numpy" else ""
        getattr(evaluator, call)(batch)
    # The variants alternate so all see the same machine (its speed drifts by tens of
    # percent between runs).
    for _ in range(7):
        for engine, call in variants:
            os.environ[kernel.DISABLE_ENV] = "1" if engine == "numpy" else ""
            assert evaluator.engine == engine
            start = time.perf_counter()
            getattr(evaluator, call)(batch)
            runs[engine, call].append(time.perf_counter() - start)
    os.environ[kernel.DISABLE_ENV] = ""
    rates = {variant: batch.size / float(np.median(times)) for variant, times in runs.items()}
    mappings = [space.to_mapping(factors[:, :, b], orders[:, :, b], space.keep_choices[0])
                for b in range(200)]
    start = time.perf_counter()
    for mapping in mappings:
        evaluate(problem, arch, mapping, check=False)
    scalar = len(mappings) / (time.perf_counter() - start)
    print(f"cost model, {problem.name} on {arch.name}, {batch.size:,} random mappings, "
          "median of 7:")
    for (engine, call), rate in rates.items():
        print(f"  {engine:5s} {call:8s} {rate:12,.0f} mappings/s  {rate / scalar:6,.0f}x scalar")
    print(f"  scalar         {scalar:12,.0f} mappings/s")


def throughput_layers() -> None:
    """Both engines on more layer shapes and accelerators (16,384 random mappings each,
    bypass choices mixed in, medians of 5 alternating runs)."""
    print(f"{'layer':22s} {'accelerator':16s} {'levels':>6s} {'numba/s':>11s} "
          f"{'numpy/s':>11s} {'ratio':>6s}")
    for network, layer in (("resnet18", "conv1.conv"), ("resnet18", "layer1.0.a"),
                           ("resnet18", "layer2.down_block.a"), ("resnet18", "fc"),
                           ("mobilenet_v2", "b2.d")):
        problem = lower_network(api.network(api.compile(f"{SPECS}/networks/{network}.cd"), network),
                                batch=1).problem(layer)
        assert problem is not None
        for accel in ("simple_ws_16x16", "eyeriss_like", "tpu_like"):
            arch = resolve_accelerator(api.accelerator(
                api.compile(f"{SPECS}/accelerators/{accel}.cd"), accel))
            space = MapSpace(problem, arch, bypass=True)
            rng = np.random.default_rng(2)
            factors, orders = space.sample(rng, 1 << 14)
            keeps = rng.integers(0, len(space.keep_choices), factors.shape[-1])
            batch = space.batch(factors, orders, keeps)
            evaluator = BatchEvaluator(problem, arch, space.keep_choices[0],
                                       more_keeps=space.keep_choices[1:])
            times: dict[str, list[float]] = {"numba": [], "numpy": []}
            for repeat in range(6):
                for engine in times:
                    os.environ[kernel.DISABLE_ENV] = "1" if engine == "numpy" else ""
                    start = time.perf_counter()
                    evaluator.evaluate(batch)
                    if repeat:  # the first round warms up
                        times[engine].append(time.perf_counter() - start)
            os.environ[kernel.DISABLE_ENV] = ""
            rate = {engine: batch.size / float(np.median(t)) for engine, t in times.items()}
            print(f"{network + ':' + layer:22s} {accel:16s} {len(arch.levels):6d} "
                  f"{rate['numba']:11,.0f} {rate['numpy']:11,.0f} "
                  f"{rate['numba'] / rate['numpy']:6.2f}", flush=True)


def networks() -> None:
    print(f"{'network':14s} {'accelerator':18s} {'layers':>6s} {'distinct':>8s} "
          f"{'seconds':>8s} {'s/distinct':>10s} {'energy mJ':>10s} {'cycles':>12s}")
    for network in ("resnet18", "mobilenet_v2"):
        lowered = lower_network(
            api.network(api.compile(f"{SPECS}/networks/{network}.cd"), network), 1)
        for accel in ("simple_ws_16x16", "eyeriss_like", "tpu_like"):
            arch = resolve_accelerator(
                api.accelerator(api.compile(f"{SPECS}/accelerators/{accel}.cd"), accel))
            result = map_network(lowered, arch, MapperOptions())
            print(f"{network:14s} {accel:18s} {len(result.layers):6d} {result.distinct:8d} "
                  f"{result.search_seconds:8.2f} {result.search_seconds / result.distinct:10.3f} "
                  f"{result.energy_pj / 1e9:10.3f} {result.cycles:12,d}", flush=True)


def _worker(build: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SEARCH_WORKER], cwd=build,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(build)})


def _ask(worker: subprocess.Popen[str], case: tuple[str, str, str],
         budget: int) -> dict[str, float]:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(json.dumps([*case, budget]) + "\n")
    worker.stdin.flush()
    answer: dict[str, float] = json.loads(worker.stdout.readline())
    return answer


def search_rate(baseline: Path | None, repeats: int = 3, budget: int = 10_000) -> None:
    """Candidates per second of the default heuristic (at `budget`) on the throughput
    layers, this build against `baseline` (alternating, medians of `repeats`)."""
    builds = {"this": ROOT} if baseline is None else {"this": ROOT, "baseline": baseline}
    workers = {name: _worker(path) for name, path in builds.items()}
    cases = [(network, layer, accel) for network, layer in LAYERS for accel in ACCELERATORS]
    for worker in workers.values():  # warm up: imports, the kernel's load or compile
        _ask(worker, cases[0], budget)
    header = f"{'layer':28s} {'accelerator':16s}"
    for name in builds:
        header += f" {name + ' search/s':>16s} {name + ' map/s':>14s}"
    if baseline is not None:
        header += f" {'search ratio':>12s} {'map ratio':>9s} {'same':>4s}"
    print(header, flush=True)
    totals = {name: [0.0, 0.0, 0, 0] for name in builds}
    for index, case in enumerate(cases):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
        for repeat in range(repeats):
            names = list(builds) if (index + repeat) % 2 == 0 else list(builds)[::-1]
            for name in names:
                runs[name].append(_ask(workers[name], case, budget))
        line = f"{case[1]:28s} {case[2]:16s}"
        rates = {}
        for name, answers in runs.items():
            search_s = float(np.median([a["search_s"] for a in answers]))
            map_s = float(np.median([a["map_s"] for a in answers]))
            evaluated = answers[0]["evaluated"]
            rates[name] = (evaluated / search_s, answers[0]["map_evaluated"] / map_s)
            totals[name][0] += search_s
            totals[name][1] += map_s
            totals[name][2] += int(evaluated)
            totals[name][3] += int(answers[0].get("checked", 0))
            line += f" {rates[name][0]:16,.0f} {rates[name][1]:14,.0f}"
        if baseline is not None:
            same = runs["this"][0]["edp"] == runs["baseline"][0]["edp"] and \
                runs["this"][0]["evaluated"] == runs["baseline"][0]["evaluated"]
            line += (f" {rates['this'][0] / rates['baseline'][0]:12.2f}"
                     f" {rates['this'][1] / rates['baseline'][1]:9.2f}"
                     f" {'yes' if same else 'no':>4s}")
        print(line, flush=True)
    for name, (search_s, map_s, evaluated, checked) in totals.items():
        print(f"{name}: {evaluated:,} candidates, search {search_s:.2f} s "
              f"({evaluated / search_s:,.0f}/s), map_problem {map_s:.2f} s; "
              f"{checked:,} distinct candidates checked by the cost model's `fits` "
              f"({checked / search_s:,.0f}/s of search)")
    if baseline is not None:
        print(f"search time ratio (this / baseline): "
              f"{totals['this'][0] / totals['baseline'][0]:.3f}")
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()


def kernel_share() -> None:
    """Per case of the search rate: the default heuristic's candidates per second (best of
    3) against the compiled work on the same candidates: `search_batch` alone on the very
    batches the search ran (recorded from `kernel.run_search_batch`, replayed in order on a
    fresh search: keys, remembered table, pruning, costing, scoring), and the kernel alone
    (`fits` and `totals`) on the candidates each batch evaluated, all in one batch; best of
    3 each."""
    if not kernel.available():
        print("the compiled kernel is not available")
        return
    from dslc.mapper.search import _Search
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    recorded: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    run_search_batch = kernel.run_search_batch

    def recording(tables: kernel.KernelTables, factors: np.ndarray, orders: np.ndarray,
                  keeps: np.ndarray, *rest: object) -> tuple[np.ndarray, np.ndarray, int, int]:
        found = run_search_batch(tables, factors, orders, keeps, *rest)  # type: ignore[arg-type]
        fresh = found[1]
        batches.append((factors.copy(), orders.copy(), keeps.copy()))
        recorded.append((factors[:, :, fresh], orders[:, :, fresh], keeps[fresh]))
        return found

    print(f"{'layer':22s} {'accelerator':16s} {'evaluated':>9s} {'search/s':>10s} "
          f"{'batches/s':>10s} {'kernel/s':>11s} {'batch share':>11s} {'kernel share':>12s}")
    totals = [0.0, 0.0, 0.0, 0]
    for network, layer in LAYERS:
        problem = lower_network(api.network(api.compile(f"{SPECS}/networks/{network}.cd"),
                                            network), 1).problem(layer)
        assert problem is not None
        for accel in ACCELERATORS:
            arch = resolve_accelerator(api.accelerator(
                api.compile(f"{SPECS}/accelerators/{accel}.cd"), accel))
            options = MapperOptions(search="heuristic")
            batches.clear()
            recorded.clear()
            kernel.run_search_batch = recording  # type: ignore[assignment]
            # The descents and rounds in their Python loops, which hand each batch to
            # run_search_batch (the compiled ones run the same batches within one call).
            compiled_descend = _Search._compiled_descend
            compiled_rounds = _Search._compiled_rounds
            _Search._compiled_descend = lambda self, starts, limit: False  # type: ignore
            _Search._compiled_rounds = lambda self, *args: None  # type: ignore
            try:
                _Search(problem, arch, options).heuristic()
            finally:
                kernel.run_search_batch = run_search_batch  # type: ignore[assignment]
                _Search._compiled_descend = compiled_descend  # type: ignore[method-assign]
                _Search._compiled_rounds = compiled_rounds  # type: ignore[method-assign]
            search_s = batch_s = kernel_s = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                search = _Search(problem, arch, options)
                search.heuristic()
                search_s = min(search_s, time.perf_counter() - start)
                fresh = _Search(problem, arch, options)
                start = time.perf_counter()
                for batch in batches:
                    fresh._compiled_batch(*batch)
                batch_s = min(batch_s, time.perf_counter() - start)
            assert fresh.evaluated == search.evaluated
            evaluator, space = search.evaluator, search.space
            factors, orders, keeps = (np.concatenate([r[i] for r in recorded], axis=-1)
                                      for i in range(3))
            # The cost model's batches are built before the clock starts: building them
            # (numpy, `MapSpace.batch`) is not the kernel's work, and it took twice the
            # kernel's time (a first version of this column timed it too).
            every = space.batch(factors, orders, keeps)
            fit = evaluator.fits(every)
            fitting = space.batch(factors[:, :, fit], orders[:, :, fit], keeps[fit])
            assert int(fit.sum()) == search.evaluated
            for _ in range(3):
                start = time.perf_counter()
                evaluator.fits(every)
                evaluator.totals(fitting)
                kernel_s = min(kernel_s, time.perf_counter() - start)
            totals[0] += search_s
            totals[1] += batch_s
            totals[2] += kernel_s
            totals[3] += search.evaluated
            print(f"{layer:22s} {accel:16s} {search.evaluated:9,d} "
                  f"{search.evaluated / search_s:10,.0f} {search.evaluated / batch_s:10,.0f} "
                  f"{search.evaluated / kernel_s:11,.0f} {batch_s / search_s:11.0%} "
                  f"{kernel_s / search_s:12.0%}", flush=True)
    count = totals[3]
    print(f"all: {count:,} candidates, search {count / totals[0]:,.0f}/s, its batches alone "
          f"{count / totals[1]:,.0f}/s (share {totals[1] / totals[0]:.0%}), kernel alone "
          f"{count / totals[2]:,.0f}/s (share {totals[2] / totals[0]:.0%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search", action="store_true",
                        help="only the search rate (against --baseline when given)")
    parser.add_argument("--baseline", type=Path, help="a checkout of the build to time against")
    parser.add_argument("--budget", type=int, default=10_000,
                        help="the search rate's budget (default: the mapper's, 10,000)")
    parser.add_argument("--kernel-share", action="store_true",
                        help="only the search's rate against its kernel's on its candidates")
    args = parser.parse_args()
    if args.kernel_share:
        kernel_share()
    elif args.search:
        search_rate(args.baseline, budget=args.budget)
    else:
        throughput()
        if kernel.available():
            throughput_layers()
        networks()
