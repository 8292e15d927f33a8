"""Benchmark: batched cost-model throughput and whole-network mapping time.

Run: `python benchmarks/bench_mapper.py` (one core; prints a table). Figures go in
docs/performance.md. Throughput: random valid-or-not mappings of ResNet-18's layer1 3x3
conv on simple_ws_16x16 (DRAM > GLB > 16x16 PEs > RF), the batched model's two engines
(compiled kernel and numpy, alternating) and the scalar model, in one run.
Network time: ResNet-18 and MobileNetV2 on three shipped accelerators, default options.
"""

from __future__ import annotations

import os
import time

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


if __name__ == "__main__":
    throughput()
    if kernel.available():
        throughput_layers()
    networks()
