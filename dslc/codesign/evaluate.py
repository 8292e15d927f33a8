"""Evaluating (network, accelerator) pairs: map every layer, sum, remember.

In: a `Request` (dslc.codesign.request) and pairs of `Design`s. Out:
`PairResult`s (the pair's `Metrics` and per-layer figures, or why no mapping fits). Each
distinct layer is searched once per accelerator (`MapCache`, shared by every network), and
every finished pair is written at once to a `ResultStore` (SQLite), so an interrupted run
loses nothing it finished and a rerun resumes. `evaluate_many` spreads pairs over worker
processes (`jobs`) or a Dask cluster (`scheduler`); workers receive the `Request` itself
(pickled), never a file path, so a cluster need not share the client's file system. It does
not decide which pairs to evaluate (dslc.codesign.planner).
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslc.arch import ArchModel, resolve_accelerator
from dslc.codesign.designs import Design, Instances, spec_digest
from dslc.codesign.metrics import Metrics
from dslc.codesign.request import Request
from dslc.diagnostics.diagnostic import CannotRunError, UsageError
from dslc.lower.lower import LoweredNetwork, lower_network
from dslc.mapper import MapperOptions, NoValidMappingError, map_network
from dslc.mapper.network import MapCache

CHUNK_PAIRS = 64
"""Most pairs sent to a worker at once."""
Pair = tuple[Design, Design]
"""(network design, accelerator design)."""
PairProgress = Callable[[int, int], None]
"""Called as pairs finish: (done, total)."""


@dataclass(frozen=True, slots=True)
class LayerFigure:
    """One MAC layer of an evaluated pair."""

    name: str
    problem_key: str
    energy_pj: float
    cycles: int
    utilization: float


@dataclass(frozen=True, slots=True)
class PairResult:
    """A (network, accelerator) pair: its metrics, or why it cannot run."""

    network: Design
    accelerator: Design
    metrics: Metrics | None
    """None when some layer has no valid mapping (see `failure`)."""
    layers: tuple[LayerFigure, ...] = ()
    failure: str = ""


class StoreError(CannotRunError):
    """The result store cannot be opened or written."""


class ResultStore:
    """Finished pairs by key, in SQLite (written as each pair finishes) or in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.memory: dict[str, dict[str, Any]] = {}
        self.connection: sqlite3.Connection | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.connection = sqlite3.connect(path)
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute("CREATE TABLE IF NOT EXISTS pairs "
                                        "(key TEXT PRIMARY KEY, record TEXT NOT NULL)")
                self.connection.commit()
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot use the result store {path}: {exc}; choose another "
                                 "with --cache PATH, or --cache :memory: to keep nothing"
                                 ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        if key in self.memory:
            return self.memory[key]
        if self.connection is None:
            return None
        row = self.connection.execute("SELECT record FROM pairs WHERE key = ?",
                                      (key,)).fetchone()
        if row is None:
            return None
        record: dict[str, Any] = json.loads(row[0])
        self.memory[key] = record
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        self.memory[key] = record
        if self.connection is not None:
            self.connection.execute("INSERT OR REPLACE INTO pairs VALUES (?, ?)",
                                    (key, json.dumps(record, sort_keys=True)))
            self.connection.commit()

    def clear(self) -> None:
        self.memory.clear()
        if self.connection is not None:
            self.connection.execute("DELETE FROM pairs")
            self.connection.commit()

    def __len__(self) -> int:
        if self.connection is None:
            return len(self.memory)
        return int(self.connection.execute("SELECT COUNT(*) FROM pairs").fetchone()[0])

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _record(result: PairResult) -> dict[str, Any]:
    metrics = result.metrics
    return {
        "failure": result.failure,
        "metrics": None if metrics is None else {
            "energy_pj": metrics.energy_pj, "cycles": metrics.cycles,
            "latency_s": metrics.latency_s, "area_mm2": metrics.area_mm2},
        "layers": [[layer.name, layer.problem_key, layer.energy_pj, layer.cycles,
                    layer.utilization] for layer in result.layers],
    }


def _from_record(pair: Pair, record: dict[str, Any], accuracy: float | None) -> PairResult:
    data = record["metrics"]
    metrics = None if data is None else Metrics(
        data["energy_pj"], int(data["cycles"]), data["latency_s"], data["area_mm2"], accuracy)
    layers = tuple(LayerFigure(name, key, energy, int(cycles), utilization)
                   for name, key, energy, cycles, utilization in record["layers"])
    return PairResult(pair[0], pair[1], metrics, layers, record["failure"])


@dataclass(slots=True)
class PairEvaluator:
    """Evaluates pairs of one co-design request, with its caches and store."""

    request: Request
    store: ResultStore = field(default_factory=lambda: ResultStore(None))
    instances: Instances | None = None
    """Concrete designs already built for this request (None: build afresh)."""
    lowered: dict[Design, LoweredNetwork] = field(default_factory=dict)
    map_cache: MapCache = field(default_factory=MapCache)
    digests: dict[Design, str] = field(default_factory=dict)
    archs: dict[Design, ArchModel] = field(default_factory=dict)
    """Accelerator designs resolved so far (each once: `compute` maps many networks on one)."""
    evaluated: int = 0
    """Pairs computed by this evaluator (not read from the store)."""
    reused: int = 0
    """Pairs read from the store."""

    def __post_init__(self) -> None:
        if self.instances is None:
            self.instances = self.request.instances()

    @property
    def built(self) -> Instances:
        assert self.instances is not None  # set in __post_init__
        return self.instances

    @property
    def options(self) -> MapperOptions:
        return self.request.options

    def key(self, pair: Pair) -> str:
        """The store key: digests of both concrete specs, the batch and the mapper options."""
        network, accelerator = pair
        options = (self.options.search, self.options.budget, self.options.seed,
                   self.options.objective, self.options.bypass, self.options.imperfect,
                   self.request.spec.batch)
        text = "|".join([self._digest(network), self._digest(accelerator), repr(options)])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _digest(self, design: Design) -> str:
        """A design's spec digest, computed once (a spec's JSON is large)."""
        found = self.digests.get(design)
        if found is None:
            spec = self.built.network(design) if design.kind == "network" \
                else self.built.accelerator(design)
            found = self.digests[design] = spec_digest(spec)
        return found

    def cached(self, pair: Pair) -> PairResult | None:
        record = self.store.get(self.key(pair))
        if record is None:
            return None
        return _from_record(pair, record, self.request.accuracies.get(pair[0]))

    def compute(self, pair: Pair) -> PairResult:
        """Map every layer of the pair (no store lookup)."""
        network, accelerator = pair
        lowered = self.lowered.get(network)
        if lowered is None:
            lowered = self.lowered[network] = lower_network(self.built.network(network),
                                                            batch=self.request.spec.batch)
        arch = self.archs.get(accelerator)
        if arch is None:
            arch = self.archs[accelerator] = resolve_accelerator(
                self.built.accelerator(accelerator))
        try:
            result = map_network(lowered, arch, self.options, cache=self.map_cache)
        except NoValidMappingError as exc:
            return PairResult(network, accelerator, None, (), exc.one_line())
        metrics = Metrics(result.energy_pj, result.cycles, result.latency_s, result.area_mm2,
                          self.request.accuracies.get(network))
        layers = tuple(LayerFigure(layer.name, layer.problem_key, layer.energy_pj,
                                   layer.cycles, layer.result.cost.utilization)
                       for layer in result.layers)
        return PairResult(network, accelerator, metrics, layers)

    def evaluate(self, pair: Pair) -> PairResult:
        found = self.cached(pair)
        if found is not None:
            self.reused += 1
            return found
        result = self.compute(pair)
        self.store.put(self.key(pair), _record(result))
        self.evaluated += 1
        return result

    def evaluate_many(self, pairs: Sequence[Pair], *, jobs: int = 1,
                      scheduler: str | None = None, progress: PairProgress | None = None,
                      on_result: Callable[[Pair, PairResult], None] | None = None
                      ) -> list[PairResult]:
        """Every pair, in order; stored ones are read back, the rest computed (in `jobs`
        worker processes, or on the Dask cluster at `scheduler`) and stored as each
        finishes."""
        results: dict[int, PairResult] = {}
        todo: list[int] = []
        for i, pair in enumerate(pairs):
            found = self.cached(pair)
            if found is None:
                todo.append(i)
            else:
                results[i] = found
                self.reused += 1
                if on_result is not None:
                    on_result(pair, found)
        done = len(results)
        if progress is not None:
            progress(done, len(pairs))

        def finish(i: int, result: PairResult) -> None:
            nonlocal done
            self.store.put(self.key(pairs[i]), _record(result))
            results[i] = result
            self.evaluated += 1
            done += 1
            if on_result is not None:
                on_result(pairs[i], result)
            if progress is not None:
                progress(done, len(pairs))

        if scheduler is not None and todo:
            self._on_dask(pairs, todo, scheduler, finish)
        elif jobs > 1 and len(todo) > 1:
            self._in_processes(pairs, todo, jobs, finish)
        else:
            for i in todo:
                finish(i, self.compute(pairs[i]))
        return [results[i] for i in range(len(pairs))]

    def _chunks(self, pairs: Sequence[Pair], todo: list[int], count: int) -> list[list[int]]:
        """Pairs grouped by accelerator (a worker's layer cache then serves many networks),
        in about `count` chunks of at most CHUNK_PAIRS (a finished chunk is stored at once,
        so an interrupt loses at most the chunks in flight)."""
        by_accelerator: dict[Design, list[int]] = {}
        for i in todo:
            by_accelerator.setdefault(pairs[i][1], []).append(i)
        groups = [group for _, group in sorted(by_accelerator.items(),
                                               key=lambda item: item[0].index)]
        size = max(1, min(CHUNK_PAIRS, math.ceil(len(todo) / count)))
        return [group[start:start + size] for group in groups
                for start in range(0, len(group), size)]

    def _in_processes(self, pairs: Sequence[Pair], todo: list[int], jobs: int,
                      finish: Callable[[int, PairResult], None]) -> None:
        chunks = self._chunks(pairs, todo, jobs * 4)
        # Each worker receives the request once, when it starts, not with every chunk.
        with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                                 initargs=(self.request,)) as pool:
            futures = {pool.submit(_evaluate_chunk, [pairs[i] for i in chunk]): chunk
                       for chunk in chunks}
            for future in as_completed(futures):
                for i, result in zip(futures[future], future.result(), strict=True):
                    finish(i, result)

    def _on_dask(self, pairs: Sequence[Pair], todo: list[int], scheduler: str,
                 finish: Callable[[int, PairResult], None]) -> None:
        try:
            from dask.distributed import Client
            from dask.distributed import as_completed as dask_completed
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'dslc[dask]'") from None
        chunks = self._chunks(pairs, todo, 16)
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            request = client.scatter(self.request, broadcast=True)
            futures = {client.submit(_evaluate_request_chunk, request,
                                     [pairs[i] for i in chunk], pure=False): chunk
                       for chunk in chunks}
            for future in dask_completed(list(futures)):  # type: ignore[no-untyped-call]
                for i, result in zip(futures[future], future.result(), strict=True):
                    finish(i, result)


_WORKER_EVALUATORS: dict[str, PairEvaluator] = {}
"""Per worker process: one evaluator per request (by `Request.key`), so that its layer
cache serves every chunk the worker runs (a worker process outlives its tasks)."""
_WORKER_REQUEST: list[Request] = []
"""The request a process-pool worker was started with."""


def _start_worker(request: Request) -> None:
    _WORKER_REQUEST[:] = [request]


def _evaluate_chunk(pairs: list[Pair]) -> list[PairResult]:
    """Process-pool worker side: evaluate pairs of the request the worker started with."""
    return _evaluate_request_chunk(_WORKER_REQUEST[0], pairs)


def _evaluate_request_chunk(request: Request, pairs: list[Pair]) -> list[PairResult]:
    """Worker side: evaluate the pairs (no store: the parent writes it)."""
    evaluator = _WORKER_EVALUATORS.get(request.key)
    if evaluator is None:
        evaluator = _WORKER_EVALUATORS[request.key] = PairEvaluator(request)
    return [evaluator.compute(pair) for pair in pairs]
