"""docs/cli.md, "Co-design over spaces": "`--jobs N` evaluates pairs in N worker processes,
in chunks of at most 64 pairs of one accelerator, at most two chunks per worker in flight".
The worker processes are replaced by a pool that computes each chunk at once and records
what it was given and how many chunks were handed out and not yet collected."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from dslc.codesign import evaluate
from dslc.codesign.designs import Design, Designs
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.metrics import Metrics
from dslc.codesign.request import Request
from dslc.mapper import MapperOptions
from dslc.spec.codesign import CoDesignSpec


class KeyedEvaluator(PairEvaluator):
    """Pairs keyed by their indices (no specs to digest)."""

    def key(self, pair: Pair) -> str:
        return f"{pair[0].index}/{pair[1].index}"


class _Tracked(Future):  # type: ignore[type-arg]
    def __init__(self, pool: FakePool) -> None:
        super().__init__()
        self.pool = pool
        self.collected = False

    def result(self, timeout: float | None = None) -> Any:
        if not self.collected:
            self.collected = True
            self.pool.in_flight -= 1
        return super().result(timeout)


class FakePool:
    def __init__(self) -> None:
        self.chunks: list[list[Pair]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def submit(self, function: object, pairs: list[Pair]) -> Future:  # type: ignore[type-arg]
        self.chunks.append(list(pairs))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        future = _Tracked(self)
        future.set_result([PairResult(n, a, Metrics(1.0 + n.index, 1, 1e-9, 1.0, None))
                           for n, a in pairs])
        return future

    def shutdown(self) -> None:
        pass


@pytest.mark.parametrize(("networks", "accelerators", "jobs", "sizes"), [
    # 900 pairs over 2 workers: chunks of min(64, 900 / 8) = 64, per accelerator 300 pairs.
    (300, 3, 2, [64, 64, 64, 64, 44] * 3),
    # 70 pairs of one accelerator over 3 workers: ceil(70 / 12) = 6 a chunk.
    (70, 1, 3, [6] * 11 + [4]),
])
def test_chunks_of_at_most_64_pairs_of_one_accelerator_two_per_worker(
        monkeypatch: pytest.MonkeyPatch, networks: int, accelerators: int, jobs: int,
        sizes: list[int]) -> None:
    pools: list[FakePool] = []

    def fake_pool(count: int, initializer: object, arguments: object) -> FakePool:
        assert count == jobs
        pools.append(FakePool())
        return pools[-1]

    monkeypatch.setattr(evaluate, "process_pool", fake_pool)
    nets = Designs("network", tuple(Design("network", "net", i, (("i", i),))
                                    for i in range(networks)))
    accs = Designs("accelerator", tuple(Design("accelerator", "acc", j, (("j", j),))
                                        for j in range(accelerators)))
    spec = CoDesignSpec(name="t", networks=("net",), accelerators=("acc",))
    evaluator = KeyedEvaluator(Request(spec, {}, {}, nets, accs, MapperOptions(), {},
                                       "table"))
    pairs = [(n, a) for n in nets.designs for a in accs.designs]
    try:
        results = evaluator.evaluate_many(pairs, jobs=jobs)
    finally:
        evaluator.close()
    assert [(r.network, r.accelerator) for r in results] == pairs
    (pool,) = pools
    assert [len(chunk) for chunk in pool.chunks] == sizes
    assert all(len({a for _, a in chunk}) == 1 for chunk in pool.chunks)
    handed = [(n.index, a.index) for chunk in pool.chunks for n, a in chunk]
    assert sorted(handed) == sorted((n.index, a.index) for n, a in pairs)  # each pair once
    assert pool.most_in_flight == 2 * jobs  # two per worker, and no more
