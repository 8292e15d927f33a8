"""The result store shared by runs and requests (dslc/codesign/store.py): `fresh` forgets
one request's pairs only and reads back nothing older; a run reads back what another run
stores while it goes, leaves to another live run what that run has leased, and takes over
the leases of a run that ended; rows of another cost model, or of an older dslc's store,
are reported and never read back."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dslc import api
from dslc.codesign.designs import spec_digest
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.request import Request
from dslc.codesign.store import STALE_SECONDS, ResultStore, StoreError
from dslc.cost import COST_MODEL_VERSION
from dslc.export import outcome_to_json

TINY = (Path(__file__).parent / "tiny.cd").read_text()
REQUESTS = TINY + """
# Another mapper seed: none of its pairs has a key of `small`'s.
codesign other {
    networks     = tiny_space
    accelerators = grid
    objective    = minimize edp
    strategy     = exhaustive
    mapper       { budget = 300, seed = 2 }
}

# `small`'s mapper: every pair `small` evaluates has the same key here.
codesign wide {
    networks     = tiny_space
    accelerators = grid
    objective    = minimize edp
    strategy     = exhaustive
    mapper       { budget = 300, seed = 1 }
}
"""
PROGRAM = api.compile(text=REQUESTS)
PAIRS = 12 * 8


@pytest.fixture(scope="module")
def wide() -> api.CoDesignRun:
    """`wide` evaluated in memory, alone: what every run sharing a store must agree with."""
    return api.search(PROGRAM, "wide", store=":memory:")


def _rows(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    finally:
        db.close()


def _pairs(request: Request) -> list[Pair]:
    return [(n, a) for n in request.network_designs.designs
            for a in request.accelerator_designs.designs]


def test_fresh_forgets_only_this_requests_pairs(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    small = api.search(PROGRAM, "small", store=store)
    evaluated = small.outcome.pairs_evaluated
    assert evaluated < PAIRS  # semi-decoupled: not every pair
    other = api.search(PROGRAM, "other", store=store)
    assert (other.reused, other.outcome.pairs_evaluated) == (0, PAIRS)
    assert _rows(store) == evaluated + PAIRS

    results = ResultStore(store)
    results.forget(api.request(PROGRAM, "small").key)
    results.close()
    assert _rows(store) == PAIRS  # `small`'s rows went; `other`'s stayed

    again = api.search(PROGRAM, "small", store=store, fresh=True)
    assert again.reused == 0
    assert outcome_to_json(again.outcome) == outcome_to_json(small.outcome)
    other_again = api.search(PROGRAM, "other", store=store)
    assert other_again.reused == PAIRS
    assert _rows(store) == evaluated + PAIRS


def test_a_fresh_run_reads_back_nothing_stored_before_it_even_rows_it_shares(
        tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    small = api.search(PROGRAM, "small", store=store)
    wide = api.search(PROGRAM, "wide", store=store)
    assert wide.reused == small.outcome.pairs_evaluated  # content-keyed rows are shared
    fresh = api.search(PROGRAM, "small", store=store, fresh=True)
    assert fresh.reused == 0  # computed again, although `wide` still owns those rows
    assert outcome_to_json(fresh.outcome) == outcome_to_json(small.outcome)
    assert _rows(store) == PAIRS
    assert api.search(PROGRAM, "wide", store=store).reused == PAIRS
    # A fresh run interrupted and run again (not fresh) reads back what it stored.
    assert api.search(PROGRAM, "small", store=store).reused == small.outcome.pairs_evaluated


def test_a_run_reads_back_pairs_another_run_stores_while_it_goes(
        tmp_path: Path, wide: api.CoDesignRun) -> None:
    path = tmp_path / "store.sqlite"
    request = api.request(PROGRAM, "wide")
    pairs = _pairs(request)
    later = [pair for pair in pairs if pair[1].index >= 6]  # the last two accelerators
    first = PairEvaluator(request, ResultStore(path))
    second = PairEvaluator(request, ResultStore(path))
    started: list[PairResult] = []

    def meanwhile(pair: Pair, result: PairResult) -> None:
        # Once the second run has begun, the first stores pairs the second reaches later.
        if not started:
            started.append(result)
            first.evaluate_many(later)

    try:
        found = second.evaluate_many(pairs, on_result=meanwhile)
    finally:
        first.store.close()
        second.store.close()
    assert (first.evaluated, first.reused) == (24, 0)
    assert (second.evaluated, second.reused) == (PAIRS - 24, 24)
    assert [r.metrics for r in found] == [wide.outcome.results[p].metrics for p in pairs]


def test_leases_are_left_to_a_live_run_and_taken_from_one_that_ended(
        tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    first, second = ResultStore(path), ResultStore(path)
    try:
        claim = first.claim(["a", "b", "c", "d"], "one")
        assert (dict(claim.stored), claim.mine, claim.theirs) == ({}, ("a", "b", "c", "d"), ())
        claim = second.claim(["a", "b", "c", "d", "e"], "two")
        assert (claim.mine, claim.theirs) == (("e",), ("a", "b", "c", "d"))
        first.put("a", {"figure": 1}, "one")
        claim = second.claim(["a", "b"], "two")
        assert (dict(claim.stored), claim.mine, claim.theirs) == ({"a": {"figure": 1}}, (),
                                                                  ("b",))
        # A run silent for STALE_SECONDS (stopped, or killed on another host) is gone.
        assert first.heartbeat is not None
        first.heartbeat.end()
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("UPDATE holders SET beat = beat - ?", (STALE_SECONDS + 1,))
        assert second.claim(["b"], "two").mine == ("b",)
        # A run whose process has ended is gone at once, whatever its last beat.
        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                               capture_output=True, text=True, check=True)
        db.execute("INSERT INTO holders VALUES ('killed', ?, ?, ?)",
                   (socket.gethostname(), int(ended.stdout), time.time()))
        db.execute("UPDATE leases SET holder = 'killed' WHERE key = 'c'")
        db.close()
        assert second.claim(["c"], "two").mine == ("c",)
        # A run that closes its store releases its leases.
        first.close()
        assert second.claim(["d"], "two").mine == ("d",)
    finally:
        first.close()
        second.close()


SHARER = """
import json, sys, time
from pathlib import Path
from dslc import api
from dslc.export import outcome_to_json
program = api.compile(sys.argv[1])
Path(sys.argv[3] + ".ready").touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.01)
found = api.search(program, "wide", store=sys.argv[2])
print(json.dumps({"reused": found.reused, "outcome": outcome_to_json(found.outcome)}))
"""


def test_two_runs_on_one_store_compute_each_pair_once(tmp_path: Path,
                                                     wide: api.CoDesignRun) -> None:
    spec = tmp_path / "requests.cd"
    spec.write_text(REQUESTS)
    store = tmp_path / "store.sqlite"
    go = [tmp_path / "go-1", tmp_path / "go-2"]
    runs = [subprocess.Popen([sys.executable, "-c", SHARER, str(spec), str(store), str(g)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for g in go]
    try:
        deadline = time.monotonic() + 60
        while not all(Path(f"{g}.ready").exists() for g in go):
            assert time.monotonic() < deadline and all(r.poll() is None for r in runs), \
                [r.communicate() for r in runs]
            time.sleep(0.01)
        for g in go:  # both start searching at once
            g.touch()
        outputs = [run.communicate(timeout=120) for run in runs]
    finally:
        for run in runs:
            run.kill()
            run.communicate()
    assert [run.returncode for run in runs] == [0, 0], outputs
    first, second = (json.loads(out) for out, _ in outputs)
    # Pairs computed: PAIRS - reused by each; together exactly PAIRS, and both worked.
    assert first["reused"] + second["reused"] == PAIRS
    assert 0 < first["reused"] < PAIRS
    assert first["outcome"] == second["outcome"] == json.loads(
        json.dumps(outcome_to_json(wide.outcome)))
    assert _rows(store) == PAIRS


def _old_key(request: Request, pair: Pair) -> str:
    """The key dslc 0.1 stored a pair under (no cost model version)."""
    built = request.instances()
    o = request.options
    options = (o.search, o.budget, o.seed, o.objective, o.bypass, o.imperfect,
               request.spec.batch)
    text = "|".join([spec_digest(built.network(pair[0])),
                     spec_digest(built.accelerator(pair[1])), repr(options)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


BOGUS = {"failure": "", "metrics": {"energy_pj": 1.0, "cycles": 1, "latency_s": 1e-9,
                                    "area_mm2": 1.0}, "layers": []}
"""A record no real pair has: read back, it would win."""


def test_a_store_of_an_older_dslc_is_reported_and_recomputed(
        tmp_path: Path, wide: api.CoDesignRun) -> None:
    path = tmp_path / "old.sqlite"
    request = api.request(PROGRAM, "wide")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE pairs (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
    db.executemany("INSERT INTO pairs VALUES (?, ?)",
                   [(_old_key(request, pair), json.dumps(BOGUS)) for pair in _pairs(request)])
    db.commit()
    db.close()
    found = api.search(PROGRAM, "wide", store=path)
    assert found.reused == 0
    assert outcome_to_json(found.outcome) == outcome_to_json(wide.outcome)
    assert found.notes == (
        f"{PAIRS} pairs in {path} were stored by an older dslc that did not record the cost "
        "model's version: they are not read back, and the pairs this run needs are computed "
        "again",)


def test_pairs_of_another_cost_model_are_reported_and_recomputed(
        tmp_path: Path, wide: api.CoDesignRun) -> None:
    path = tmp_path / "store.sqlite"
    request = api.request(PROGRAM, "wide")
    old = ResultStore(path, model=COST_MODEL_VERSION - 1)
    keyed = PairEvaluator(request, old)
    for pair in _pairs(request):
        old.put(keyed.key(pair), BOGUS, request.key)
    old.close()
    found = api.search(PROGRAM, "wide", store=path)
    assert found.reused == 0
    assert outcome_to_json(found.outcome) == outcome_to_json(wide.outcome)
    assert found.notes == (
        f"{PAIRS} pairs in {path} were computed with cost model version "
        f"{COST_MODEL_VERSION - 1} (this dslc's is {COST_MODEL_VERSION}): they are not read "
        "back, and the pairs this run needs are computed again",)
    assert _rows(path) == 2 * PAIRS  # kept for the dslc that wrote them
    assert api.search(PROGRAM, "wide", store=path).reused == PAIRS


def test_a_store_of_a_newer_dslc_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '3' WHERE name = 'schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="written by a newer dslc"):
        ResultStore(path)


def test_the_store_records_its_schema_and_cost_model(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    ResultStore(path).close()
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    db.close()
    assert meta == {"schema": "2", "cost_model": str(COST_MODEL_VERSION)}
    assert os.path.getsize(path) > 0


def _open_and_claim(path: str, start: float) -> str | None:
    while time.time() < start:  # every process opens the new file at the same moment
        pass
    try:
        store = ResultStore(Path(path))
        try:
            store.claim(["a", "b", "c"], "r")
        finally:
            store.close()
    except StoreError as exc:
        return str(exc)
    return None


def test_runs_opening_a_new_store_together_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL takes its exclusive lock and SQLite reports a concurrent
    opener's lock without waiting: before the retry about half of these rounds failed with
    'database is locked' (found by CI on the two-run test above)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        for round_ in range(12):
            path = str(tmp_path / f"store-{round_}.sqlite")
            errors = pool.starmap(_open_and_claim, [(path, time.time() + 0.2)] * 4)
            assert errors == [None] * 4, errors
