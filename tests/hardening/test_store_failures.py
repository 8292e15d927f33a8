"""The result store's failures are errors naming the file and the way out, never E900 and
never usage errors (issue 17): a damaged file, a schema from another version, tables of
another program, a record that does not decode, and a full disk, which stops the run with
the rows written so far intact (a rerun reads them back)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.codesign.store import ResultStore, StoreError

TINY = Path(__file__).resolve().parents[1] / "codesign" / "tiny.cd"
runner = CliRunner()
PAIRS = 96
FEW = 8
"""Pairs the CLI runs evaluate (`--max-pairs`), to keep the tests short."""


def _run(store: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(cli.app, ["run", str(TINY), "-f", "json", "--strategy",
                                     "exhaustive", "--max-pairs", str(FEW), "--cache",
                                     str(store), *extra])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding every pair of tiny.cd's request."""
    store = tmp_path_factory.mktemp("store") / "store.sqlite"
    code, data = _run(store)
    assert code == 0, data
    assert data["pairs_evaluated"] == FEW
    return store


def _copy(filled: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.sqlite"
    copy.write_bytes(filled.read_bytes())
    return copy


def _error(code: int, data: dict[str, object]) -> str:
    assert code == 1, data  # a CannotRunError: not E900 (3), not a usage error (2)
    error = data["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "cannot_run"
    return str(error["message"])


def test_a_damaged_file_names_the_file_and_the_way_out(filled: Path, tmp_path: Path) -> None:
    store = _copy(filled, tmp_path)
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) > 2 * page
    data[page:len(data)] = b"\xa5" * (len(data) - page)  # every page after the first
    store.write_bytes(bytes(data))
    message = _error(*_run(store))
    assert message.startswith(f"the result store {store} is damaged (")
    assert "--cache PATH" in message


def test_not_a_database_at_all(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    store.write_bytes(b"this is not a database" * 500)
    message = _error(*_run(store))
    assert f"the result store {store} is damaged" in message


def test_a_schema_from_another_version(filled: Path, tmp_path: Path) -> None:
    store = _copy(filled, tmp_path)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value = 'v7-beta' WHERE name = 'schema'")
    message = _error(*_run(store))
    assert message == (f"the result store {store} has a schema this dslc does not know "
                       "('v7-beta'): use another store with --cache PATH")
    with sqlite3.connect(store) as db:
        db.execute("UPDATE meta SET value = '3' WHERE name = 'schema'")
    message = _error(*_run(store))
    assert "written by a newer dslc (store schema 3; this one reads 2)" in message


def test_tables_of_another_program(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, payload BLOB)")
    message = _error(*_run(store))
    assert message.startswith(f"the result store {store} is not a store of this dslc (its "
                              "`results` table lacks key, model, record, seq)")


@pytest.mark.parametrize("record", ["not json {", "[1, 2]", json.dumps(
    {"failure": "", "metrics": {"energy_pj": -5.0, "cycles": 10, "latency_s": 1e-6,
                                "area_mm2": 1.0}, "layers": []}),
    json.dumps({"failure": "", "metrics": None, "layers": [["a", "k", 1.0, 10, 1.5]]}),
    json.dumps({"metrics": None}),
    json.dumps({"failure": "", "metrics": {"energy_pj": "abc", "cycles": 10,
                                           "latency_s": 1e-6, "area_mm2": 1.0}, "layers": []}),
    json.dumps({"failure": "", "metrics": None, "layers": [["a", "k", 1.0, 10, "x"]]}),
    "[" * 100_000 + "]" * 100_000],
    ids=["not json", "a list", "negative energy", "utilisation above 1", "missing keys",
         "an energy that is text", "a utilisation that is text", "nested past the stack"])
def test_a_record_that_does_not_decode(filled: Path, tmp_path: Path, record: str) -> None:
    store = _copy(filled, tmp_path)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE results SET record = ? WHERE seq = (SELECT MIN(seq) FROM results)",
                   (record,))
    message = _error(*_run(store))
    assert f"a stored record in the result store {store} does not decode" in message
    assert message.endswith("run with --fresh to recompute this request's pairs, or use "
                            "another store with --cache PATH (--cache :memory: keeps nothing)")
    # The way out works: --fresh forgets the request's rows, the bad one with them.
    code, data = _run(store, "--fresh")
    assert code == 0, data
    assert data["pairs_evaluated"] == FEW


def _rows(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def test_a_full_disk_stops_the_run_with_the_rows_written_so_far_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store.sqlite"
    real = ResultStore.put_many
    batches: list[int] = []

    def filling(self: ResultStore, finished: list[tuple[str, dict[str, object]]],
                request: str) -> None:
        if len(batches) < 3:
            batches.append(len(finished))
            real(self, finished, request)
            return
        # The fourth batch: SQLite fails mid-transaction, as a full disk makes it.
        with self._transaction() as db:
            db.execute("INSERT INTO results (key, model, record) VALUES ('partial', 0, '{}')")
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ResultStore, "put_many", filling)
    program = api.compile(TINY)
    with pytest.raises(StoreError) as failure:
        api.search(program, store=store, strategy="exhaustive")
    message = str(failure.value)
    assert message.startswith(f"the result store {store} cannot grow (database or disk is "
                              "full): the run stopped; the pairs stored before are intact")
    written = sum(batches)
    assert written > 0
    assert _rows(store) == written  # the failed batch rolled back, the earlier ones kept
    monkeypatch.setattr(ResultStore, "put_many", real)
    resumed = api.search(program, store=store, strategy="exhaustive")
    assert resumed.reused == written
    assert _rows(store) == PAIRS
    # The CLI reports the same failure as an error (exit 1), not a bug.
    monkeypatch.setattr(ResultStore, "put_many", filling)
    batches.clear()
    code, data = _run(tmp_path / "other.sqlite")
    assert "cannot grow (database or disk is full)" in _error(code, data)


@pytest.mark.parametrize(("pid", "beat"), [("not a pid", 1e18), (2**62, 1e18), (-1, 1e18),
                                           (1, "not a time")])
def test_a_lease_holder_that_does_not_decode_holds_nothing(
        filled: Path, tmp_path: Path, pid: object, beat: object) -> None:
    """A `holders` row whose pid or heartbeat is not a number (edited by hand, or by another
    program) leases nothing: the run computes the pairs (it gave E900 TypeError)."""
    import socket

    store = _copy(filled, tmp_path)
    with sqlite3.connect(store) as db:
        db.execute("INSERT INTO leases SELECT key, 'other' FROM results")
        db.execute("DELETE FROM results")
        db.execute("INSERT INTO holders VALUES ('other', ?, ?, ?)",
                   (socket.gethostname(), pid, beat))
    code, data = _run(store)
    assert code == 0, data
    assert data["pairs_evaluated"] == FEW


@pytest.mark.parametrize("record", [{}, {"accuracy": "0.9"}, {"accuracy": 1.5},
                                    {"accuracy": -0.1}, {"accuracy": True},
                                    {"accuracy": float("nan")}])
def test_a_trained_accuracy_that_does_not_decode(tmp_path: Path, record: dict[str, object]
                                                 ) -> None:
    """A stored training record without an accuracy in [0, 1] is a StoreError naming the
    file and --fresh (it was E900 KeyError or ValueError, or a NaN accuracy)."""
    from dslc.codesign.designs import Design
    from dslc.codesign.trained import stored_accuracy

    store = ResultStore(tmp_path / "store.sqlite")
    try:
        design = Design("network", "n", 0, (("w", 4),))
        with pytest.raises(StoreError) as caught:
            stored_accuracy(record, store, design)
    finally:
        store.close()
    assert str(caught.value) == (
        f"a stored record in the result store {tmp_path / 'store.sqlite'} does not decode "
        "(the trained accuracy of n(w=4)): run with --fresh to recompute this request's "
        "pairs, or use another store with --cache PATH (--cache :memory: keeps nothing)")
    assert stored_accuracy({"accuracy": 0.5}, store, design) == 0.5
