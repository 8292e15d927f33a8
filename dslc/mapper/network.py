"""Mapping every layer of a network onto one accelerator: `map_network -> NetworkMapResult`.

In: a `LoweredNetwork`, the resolved accelerator (`ArchModel`, dslc.arch) and
`MapperOptions`; optionally a `MapCache` shared across calls and a progress callback. Out:
per MAC layer (network order) the best mapping and cost and the layer's lower bounds, and
the network totals. Each distinct problem (same canonical key) is searched once per
accelerator (`ArchModel.key`) and options; the cache keeps results across networks (a
co-design maps many networks that share layers). With `jobs` > 1 the distinct problems not
in the cache are searched in that many worker processes (dslc.mapper.processes), the
largest first; each search is seeded alone, so the results are those of one process. Layers
without MACs (pooling, elementwise) are not mapped: their data movement is reported by the
lowering.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from dslc.arch import ArchModel
from dslc.cost.bounds import arch_table, layer_bounds
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.lower.lower import LoweredNetwork
from dslc.lower.problem import Problem
from dslc.mapper.processes import process_pool, sigint_blocked, stop_pool
from dslc.mapper.search import MapperOptions, MapResult, map_problem

Progress = Callable[[int, int, str], None]
"""Called after each distinct problem: (done, total, layer name)."""


@dataclass(slots=True)
class MapCache:
    """Search results by (problem key, `ArchModel.key`, options)."""

    results: dict[tuple[str, str, MapperOptions], MapResult] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0


@dataclass(frozen=True, slots=True)
class LayerMapResult:
    """One MAC layer: its search result (shared by identical layers) and its lower bounds."""

    name: str
    problem_key: str
    result: MapResult
    bound_cycles: int
    """No valid mapping of the layer takes fewer cycles (dslc.cost.bounds)."""
    bound_energy_pj: float
    """No valid mapping of the layer spends less energy (dslc.cost.bounds)."""
    shared_with: str
    """The layer whose search this result came from (itself when it came first)."""

    @property
    def energy_pj(self) -> float:
        return self.result.cost.energy_pj

    @property
    def cycles(self) -> int:
        return self.result.cost.cycles


@dataclass(frozen=True, slots=True)
class NetworkMapResult:
    """A network mapped on one accelerator."""

    network: str
    accelerator: str
    clock_hz: float
    area_mm2: float
    layers: tuple[LayerMapResult, ...]
    distinct: int
    """Distinct problems searched (or found in the cache)."""
    search_seconds: float

    @property
    def energy_pj(self) -> float:
        return math.fsum(layer.energy_pj for layer in self.layers)

    @property
    def cycles(self) -> int:
        return sum(layer.cycles for layer in self.layers)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def edp(self) -> float:
        """Energy-delay product in pJ*s."""
        return self.energy_pj * self.latency_s


def map_network(lowered: LoweredNetwork, arch: ArchModel,
                options: MapperOptions | None = None, *, cache: MapCache | None = None,
                progress: Progress | None = None, jobs: int = 1,
                deadline: float | None = None) -> NetworkMapResult:
    """Map every MAC layer of `lowered` (each distinct problem once, in `jobs` processes;
    see module doc). A layer that fits nowhere raises NoValidMappingError, the first such
    layer in the network's order whatever `jobs`. With a `deadline` (a `time.monotonic()`
    value; one process only), DeadlinePassed when it passes before the last search ends."""
    options = options or MapperOptions()
    cache = cache if cache is not None else MapCache()
    start = time.perf_counter()
    distinct = lowered.distinct()
    todo = {key for key in distinct if (key, arch.key, options) not in cache.results}
    done = 0

    def finished(key: str, found: MapResult | None = None) -> None:
        """A distinct problem's result is in the cache: `found` now, or held before."""
        nonlocal done
        if found is None:
            cache.hits += 1
        else:
            cache.misses += 1
            cache.results[(key, arch.key, options)] = found
        done += 1
        if progress is not None:
            progress(done, len(distinct), distinct[key].layers[0])

    if jobs > 1 and len(todo) > 1:
        for key in distinct:  # what the cache holds first, then the searches as they end
            if key not in todo:
                finished(key)
        _map_in_processes([(key, distinct[key].problem) for key in distinct if key in todo],
                          arch, options, jobs, finished)
    else:
        for key, shared in distinct.items():
            finished(key, map_problem(shared.problem, arch, options, deadline=deadline)
                     if key in todo else None)
    results = {key: (cache.results[(key, arch.key, options)], shared.layers[0])
               for key, shared in distinct.items()}
    layers = []
    table = arch_table([arch])
    bounds: dict[str, tuple[int, float]] = {}
    for layer in lowered.layers:
        if layer.problem is None:
            continue
        result, first = results[layer.problem.key]
        bound = bounds.get(layer.problem.key)
        if bound is None:
            found_bounds = layer_bounds(layer.problem, table, imperfect=options.imperfect)
            bound = bounds[layer.problem.key] = (int(found_bounds.cycles[0]),
                                                 float(found_bounds.energy_pj[0]))
        layers.append(LayerMapResult(layer.name, layer.problem.key, result, bound[0],
                                     bound[1], first))
    area = layers[0].result.cost.area_mm2 if layers else 0.0
    return NetworkMapResult(lowered.network, arch.name, arch.clock_hz, area, tuple(layers),
                            len(distinct), time.perf_counter() - start)


def _map_in_processes(problems: Sequence[tuple[str, Problem]], arch: ArchModel,
                      options: MapperOptions, jobs: int,
                      finished: Callable[[str, MapResult], None]) -> None:
    """`map_problem` of each (key, problem) in at most `jobs` worker processes, the most
    MACs first (the longest searches, as a rule, so that none starts last); `finished` as
    each ends. Errors wait until every search has ended, then the first problem's (in the
    order given) is raised; an interrupt stops the workers at once and propagates."""
    ordered = sorted(range(len(problems)), key=lambda i: (-problems[i][1].macs, i))
    pool = process_pool(min(jobs, len(problems)))
    failed: dict[int, BaseException] = {}
    try:
        with sigint_blocked():
            pending: dict[Future[MapResult], int] = {
                pool.submit(map_problem, problems[i][1], arch, options): i for i in ordered}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: pending[f]):
                i = pending.pop(future)
                error = future.exception()
                if error is None:
                    finished(problems[i][0], future.result())
                else:
                    failed[i] = error
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()
    if failed:
        error = failed[min(failed)]
        if isinstance(error, BrokenProcessPool):
            raise CannotRunError("a worker process ended without finishing its layer "
                                 "(killed, or out of memory?)",
                                 ("run again, or with fewer --jobs",)) from error
        raise error
