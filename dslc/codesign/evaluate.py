"""Evaluating (network, accelerator) pairs: map every layer, sum, remember.

In: a `Request` (dslc.codesign.request) and pairs of `Design`s. Out: `PairResult`s (the
pair's `Metrics` and per-layer figures, or why no mapping fits). Each distinct layer is
searched once per accelerator (`MapCache`, shared by every network), and every finished pair
is written at once to a `ResultStore` (dslc.codesign.store), so an interrupted or killed run
loses nothing it finished, a rerun resumes, and runs sharing a store share their pairs.

`evaluate_many` computes pairs here, in worker processes (`jobs`) or on a Dask cluster
(`scheduler`), sending chunks lazily (a couple per worker in flight, each checked against
the store right before it is sent). Workers receive the `Request` itself (pickled), never a
file path, so a cluster need not share the client's file system. Process workers ignore
SIGINT and exit when their parent dies; on an interrupt the parent stops them and re-raises.
It does not decide which pairs to evaluate (dslc.codesign.planner).
"""

from __future__ import annotations

import hashlib
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dslc.arch import ArchModel, resolve_accelerator
from dslc.codesign.designs import Design, Instances, spec_digest
from dslc.codesign.metrics import Metrics
from dslc.codesign.request import Request
from dslc.codesign.store import STORE_WAY_OUT, Record, ResultStore, StoreError
from dslc.diagnostics.diagnostic import CannotRunError, UsageError, interrupted
from dslc.lower.lower import LoweredNetwork, lower_network
from dslc.mapper import MapperOptions, NoValidMappingError, SearchLimitError, map_network
from dslc.mapper.errors import DeadlinePassed
from dslc.mapper.network import MapCache
from dslc.mapper.processes import process_pool, sigint_blocked, stop_pool

__all__ = ["CHUNK_PAIRS", "LayerFigure", "Pair", "PairEvaluator", "PairProgress",
           "PairResult", "ResultStore", "StoreError", "WorkerLostError"]

CHUNK_PAIRS = 64
"""Most pairs sent to a worker at once."""
DEADLINE_CHUNK_PAIRS = 2
"""Most pairs sent to a worker process or Dask worker at once under a time limit."""
WAIT_SECONDS = 0.25
"""How often a run whose only pairs left are another run's looks for them in the store."""
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


def _record(result: PairResult) -> Record:
    metrics = result.metrics
    return {
        "failure": result.failure,
        "metrics": None if metrics is None else {
            "energy_pj": metrics.energy_pj, "cycles": metrics.cycles,
            "latency_s": metrics.latency_s, "area_mm2": metrics.area_mm2},
        "layers": [[layer.name, layer.problem_key, layer.energy_pj, layer.cycles,
                    layer.utilization] for layer in result.layers],
    }


def _plausible(result: PairResult) -> bool:
    """Whether figures read back can be figures of a pair: finite, non-negative energies
    and cycles, utilisations in [0, 1] (a record edited or damaged on disk is not)."""
    figures: list[float] = []
    if result.metrics is not None:
        m = result.metrics
        figures += [m.energy_pj, float(m.cycles), m.latency_s, m.area_mm2]
    for layer in result.layers:
        figures += [layer.energy_pj, float(layer.cycles)]
        if not 0 <= layer.utilization <= 1:
            return False
    return all(math.isfinite(f) and f >= 0 for f in figures) and \
        isinstance(result.failure, str)


def _from_record(pair: Pair, record: Record, accuracy: float | None) -> PairResult:
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
    pool: _Workers | None = None
    """Worker processes or a Dask client, kept from one `evaluate_many` to the next (their
    layer caches stay warm) until `close`."""

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
        """The store key: digests of both concrete specs, the batch, the mapper options and
        the cost model's version (the store's), everything a pair's figures depend on."""
        network, accelerator = pair
        options: tuple[object, ...] = (
            self.options.search, self.options.budget, self.options.seed,
            self.options.objective, self.options.bypass, self.options.imperfect,
            self.request.spec.batch)
        if not self.options.constraints.empty:  # the accelerator's are in its digest
            options = (*options, self.options.constraints.model_dump_json())
        text = "|".join([self._digest(network), self._digest(accelerator), repr(options),
                         f"cost model {self.store.model}"])
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
        """The pair as stored, or None."""
        key = self.key(pair)
        record = self.store.stored([key], self.request.key).get(key)
        return None if record is None else self._read(pair, record)

    def _read(self, pair: Pair, record: Record) -> PairResult:
        try:
            result = _from_record(pair, record, self.request.accuracies.get(pair[0]))
            plausible = _plausible(result)  # a figure of the wrong type is a TypeError
        except (KeyError, IndexError, TypeError, ValueError):
            plausible = False
        if not plausible:
            raise StoreError(f"a stored record in the result store {self.store.path} does not "
                             f"decode (the pair {pair[0].label} x {pair[1].label}): "
                             f"{STORE_WAY_OUT}")
        return result

    def compute(self, pair: Pair, deadline: float | None = None) -> PairResult:
        """Map every layer of the pair (no store lookup); DeadlinePassed when `deadline`
        (a `time.monotonic()` value) passes first."""
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
            result = map_network(lowered, arch,
                                 self.request.options_for(self.built.accelerator(accelerator)),
                                 cache=self.map_cache, deadline=deadline)
        except NoValidMappingError as exc:
            return PairResult(network, accelerator, None, (), exc.one_line())
        except SearchLimitError as exc:
            # Not an infeasible pair (mappings may exist): counting it as one could make
            # another pair the answer, with a proof, so the run stops here instead.
            raise SearchLimitError(exc.problem, accelerator.label, exc.reasons,
                                   network.label) from None
        metrics = Metrics(result.energy_pj, result.cycles, result.latency_s, result.area_mm2,
                          self.request.accuracies.get(network))
        layers = tuple(LayerFigure(layer.name, layer.problem_key, layer.energy_pj,
                                   layer.cycles, layer.result.cost.utilization)
                       for layer in result.layers)
        return PairResult(network, accelerator, metrics, layers)

    def evaluate(self, pair: Pair) -> PairResult:
        """One pair: read back, or computed and stored."""
        return self.evaluate_many([pair])[0]

    def evaluate_many(self, pairs: Sequence[Pair], *, jobs: int = 1,
                      scheduler: str | None = None, progress: PairProgress | None = None,
                      on_result: Callable[[Pair, PairResult], None] | None = None,
                      deadline: float | None = None) -> list[PairResult]:
        """Every pair, in order; stored ones are read back, the rest computed (here, in
        `jobs` worker processes, or on the Dask cluster at `scheduler`) and stored as each
        finishes. The store is asked again right before each chunk is computed, so pairs
        another run finished meanwhile are read back and pairs it is computing are left to
        it. An interrupt (KeyboardInterrupt) stops the workers at once and propagates; what
        finished is stored. So does a `deadline` (a `time.monotonic()` value: a time limit)
        that passes, with DeadlinePassed: checked between pairs here and between a pair's
        layer searches, and the workers' chunks are waited for no longer than it."""
        results: dict[int, PairResult] = {}
        done = 0

        def finish(i: int, result: PairResult, *, computed: bool, report: bool = True
                   ) -> None:
            nonlocal done
            if computed:
                self.evaluated += 1  # stored by the caller
            else:
                self.reused += 1
            results[i] = result
            done += 1
            if on_result is not None:
                on_result(pairs[i], result)
            if report and progress is not None:
                progress(done, len(pairs))

        keys = [self.key(pair) for pair in pairs]
        stored = self.store.stored(keys, self.request.key)
        todo: list[int] = []
        for i, (pair, key) in enumerate(zip(pairs, keys, strict=True)):
            record = stored.get(key)
            if record is None:
                todo.append(i)
            else:
                finish(i, self._read(pair, record), computed=False, report=False)
        if progress is not None:
            progress(done, len(pairs))
        if todo:
            workers = self._workers(jobs, scheduler)
            try:
                self._schedule(pairs, keys, todo, workers, finish, deadline)
            except BaseException:
                # An interrupt or a failure: abandon the chunks in flight (what finished
                # is stored) and start afresh if asked again.
                workers.stop()
                if workers is self.pool:
                    self.pool = None
                raise
        return [results[i] for i in range(len(pairs))]

    def _workers(self, jobs: int, scheduler: str | None) -> _Workers:
        """Where this call's chunks run: here for one job, else the evaluator's pool (the
        one already started when it is the same kind)."""
        if scheduler is None and jobs <= 1:
            return _InlineWorker(self)
        kind = f"dask {scheduler}" if scheduler is not None else f"{jobs} processes"
        if self.pool is not None and self.pool.kind != kind:
            self.close()
        if self.pool is None:
            self.pool = _DaskWorkers(self.request, scheduler) if scheduler is not None \
                else _ProcessWorkers(self.request, jobs)
        return self.pool

    def close(self) -> None:
        """End the worker processes or the Dask client, if any (the store is the caller's)."""
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.close()

    def _schedule(self, pairs: Sequence[Pair], keys: Sequence[str], todo: list[int],
                  workers: _Workers, finish: _Finish, deadline: float | None) -> None:
        """Claim chunks lazily (at most `workers.slots` in flight): each is checked against
        the store and leased right before it is sent, so an interrupt has nothing queued to
        cancel and pairs another run stores meanwhile are read back."""
        # A chunk is also the unit of a lease: runs sharing a store then split the work by
        # accelerator, and each keeps its layer cache warm.
        size = max(1, min(CHUNK_PAIRS, math.ceil(len(todo) / (4 * workers.count))))
        if deadline is not None and not isinstance(workers, _InlineWorker):
            # At the deadline the chunks in flight are abandoned: small ones lose little.
            # (Here, a chunk is computed a pair at a time, and the deadline checked between.)
            size = min(size, DEADLINE_CHUNK_PAIRS)
        queue = deque(self._chunks(pairs, todo, size))
        running: dict[Hashable, list[int]] = {}
        waiting: list[int] = []
        while queue or running or waiting:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed  # the chunks in flight are abandoned, as on Ctrl-C
            while queue and len(running) < workers.slots:
                chunk = queue.popleft()
                claim = self.store.claim([keys[i] for i in chunk], self.request.key)
                theirs = set(claim.theirs)
                mine: list[int] = []
                for i in chunk:
                    record = claim.stored.get(keys[i])
                    if record is not None:
                        finish(i, self._read(pairs[i], record), computed=False)
                    elif keys[i] in theirs:
                        waiting.append(i)
                    else:
                        mine.append(i)
                if mine:
                    running[workers.submit([pairs[i] for i in mine])] = mine
            if running:
                for handle, results in workers.finished(list(running), deadline):
                    chunk = running[handle]
                    arrived = chunk[:len(results)]
                    # What arrived is stored whole, even when Ctrl-C comes meanwhile.
                    with _interrupts_held():
                        self.store.put_many([(keys[i], _record(result)) for i, result
                                             in zip(arrived, results, strict=True)],
                                            self.request.key)
                    del chunk[:len(results)]
                    if not chunk:
                        del running[handle]
                    for i, result in zip(arrived, results, strict=True):
                        finish(i, result, computed=True)
            elif waiting:
                # Only pairs another live run is computing are left: read them back when
                # it stores them, or take them over if it ends first.
                time.sleep(WAIT_SECONDS)
                queue.extend(self._chunks(pairs, waiting, size))
                waiting = []

    def _chunks(self, pairs: Sequence[Pair], todo: list[int], size: int) -> list[list[int]]:
        """Pairs grouped by accelerator (a worker's layer cache then serves many networks),
        in chunks of at most `size` (a finished chunk is stored at once, so an interrupt
        loses at most the chunks in flight)."""
        by_accelerator: dict[Design, list[int]] = {}
        for i in todo:
            by_accelerator.setdefault(pairs[i][1], []).append(i)
        groups = [group for _, group in sorted(by_accelerator.items(),
                                               key=lambda item: item[0].index)]
        return [group[start:start + size] for group in groups
                for start in range(0, len(group), size)]


class _Finish(Protocol):
    def __call__(self, i: int, result: PairResult, *, computed: bool,
                 report: bool = True) -> None: ...


class _Workers(Protocol):
    """Where chunks of pairs are computed."""

    kind: str
    """What the workers are (an evaluator keeps its pool while the kind asked is the same)."""
    count: int
    """How many chunks run at once."""
    slots: int
    """How many chunks may be in flight (running or queued) at once."""

    def submit(self, pairs: list[Pair]) -> Hashable: ...

    def finished(self, handles: list[Hashable], deadline: float | None
                 ) -> list[tuple[Hashable, list[PairResult]]]:
        """Results of chunks of `handles` (of at least one), waiting for some if needed
        (until `deadline`, a `time.monotonic()` value: then none): a chunk's pairs in order,
        all of them or the next few (it then stays in flight). A pair computed here stops
        at `deadline`."""
        ...

    def stop(self) -> None:
        """Abandon every chunk in flight, at once (an interrupt)."""
        ...

    def close(self) -> None:
        """End the workers once nothing is in flight."""
        ...


def _seconds_left(deadline: float | None) -> float | None:
    """How long a wait for workers may last: until `deadline` (None: no limit)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


@dataclass(slots=True)
class _InlineWorker:
    """Computes chunks in this process, a pair at a time when results are asked for (so
    each pair is stored as it finishes)."""

    evaluator: PairEvaluator
    kind: str = "inline"
    count: int = 1
    slots: int = 1
    pending: dict[int, list[Pair]] = field(default_factory=dict)
    submitted: int = 0

    def submit(self, pairs: list[Pair]) -> Hashable:
        self.submitted += 1
        self.pending[self.submitted] = pairs
        return self.submitted

    def finished(self, handles: list[Hashable], deadline: float | None
                 ) -> list[tuple[Hashable, list[PairResult]]]:
        handle = min(self.pending)
        pairs = self.pending[handle]
        try:
            result = self.evaluator.compute(pairs.pop(0), deadline)
        except Exception as exc:
            if interrupted(exc):  # Ctrl-C inside the compiled kernel: an interrupt still
                raise KeyboardInterrupt from None
            raise
        if not pairs:
            del self.pending[handle]
        return [(handle, [result])]

    def stop(self) -> None:
        self.pending.clear()

    def close(self) -> None:
        self.pending.clear()


class WorkerLostError(CannotRunError):
    """A worker process ended without finishing its chunk (killed, or out of memory)."""


def _worker_lost() -> WorkerLostError:
    return WorkerLostError("a worker process ended without finishing its pairs (killed, or "
                           "out of memory?); the pairs finished are stored: run again to "
                           "resume")


class _ProcessWorkers:
    """`jobs` forked worker processes. Each receives the request once, when it starts,
    ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides) and exits
    when the parent is gone. On an interrupt the parent cancels what is queued and
    terminates the workers: a chunk in flight is abandoned."""

    def __init__(self, request: Request, jobs: int) -> None:
        self.kind = f"{jobs} processes"
        self.count = jobs
        self.slots = 2 * jobs
        self.pool = process_pool(jobs, _keep_request, (request,))

    def submit(self, pairs: list[Pair]) -> Hashable:
        # A worker lost since the last chunk ended breaks the pool before `finished` sees
        # it: the next chunk's submit raises it then.
        try:
            with sigint_blocked():
                return self.pool.submit(_evaluate_chunk, pairs)
        except BrokenProcessPool as exc:
            raise _worker_lost() from exc

    def finished(self, handles: list[Hashable], deadline: float | None
                 ) -> list[tuple[Hashable, list[PairResult]]]:
        futures = [handle for handle in handles if isinstance(handle, Future)]
        done, _ = wait(futures, timeout=_seconds_left(deadline), return_when=FIRST_COMPLETED)
        if not done:
            return []
        good = [f for f in done if not f.cancelled() and f.exception() is None]
        if good:  # stored first; a failed chunk stays done, and the next call raises it
            return [(future, future.result()) for future in good]
        try:
            return [(future, future.result()) for future in done]
        except BrokenProcessPool as exc:
            raise _worker_lost() from exc

    def close(self) -> None:
        self.pool.shutdown()

    def stop(self) -> None:
        stop_pool(self.pool)


class _DaskWorkers:
    """The workers of a Dask cluster: the request is scattered to each once per pool."""

    def __init__(self, request: Request, scheduler: str) -> None:
        try:
            from dask.distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs Dask: pip install 'dslc[dask]'") from None
        try:
            client: Any = Client(scheduler)  # type: ignore[no-untyped-call]
        except ValueError as exc:  # not an address: `missing port number`, a wrong scheme
            raise UsageError(f"--scheduler {scheduler} is not a Dask scheduler address: "
                             f"{exc}") from None
        except OSError as exc:  # nothing answers there (a timeout is an OSError too)
            raise CannotRunError(f"cannot reach the Dask scheduler at {scheduler}",
                                 (f"{exc}; is the scheduler running, and is the address "
                                  "right?",)) from None
        self.kind = f"dask {scheduler}"
        self.client = client
        self.request = client.scatter(request, broadcast=True)
        self.count: int = max(1, sum(client.nthreads().values()))
        self.slots = 2 * self.count
        self.futures: set[Any] = set()

    def submit(self, pairs: list[Pair]) -> Hashable:
        future: Hashable = self.client.submit(_evaluate_request_chunk, self.request, pairs,
                                              pure=False)
        self.futures.add(future)
        return future

    def finished(self, handles: list[Hashable], deadline: float | None
                 ) -> list[tuple[Hashable, list[PairResult]]]:
        from dask.distributed import wait as dask_wait

        try:
            done = dask_wait(handles, timeout=_seconds_left(deadline),  # type: ignore[no-untyped-call]
                             return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return []
        self.futures.difference_update(done)
        return [(future, future.result()) for future in done]

    def stop(self) -> None:
        try:
            if self.futures:
                self.client.cancel(list(self.futures))
        finally:
            self.close()

    def close(self) -> None:
        self.futures.clear()
        self.client.close()


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that comes during the block, and raise it after. Blocking the
    signal would not do: another thread of the process may take it. Only the main thread
    receives Python's signals, so elsewhere there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and callable(previous):
        previous(signal.SIGINT, None)
    elif held and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


_WORKER_EVALUATORS: dict[str, PairEvaluator] = {}
"""Per worker process: one evaluator per request (by `Request.key`), so that its layer
cache serves every chunk the worker runs (a worker process outlives its tasks)."""
_WORKER_REQUEST: list[Request] = []
"""The request a process-pool worker was started with."""


def _keep_request(request: Request) -> None:
    """A process-pool worker's start (after dslc.mapper.processes.start_worker): keep the
    request."""
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
