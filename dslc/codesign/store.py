"""The result store: finished (network, accelerator) pairs that outlive a run.

In: pair keys (dslc.codesign.evaluate: digests of both concrete specs, the batch, the
mapper options and the cost model's version) with their JSON records, and the key of the
request (`Request.key`) a run answers. Out: the records stored, and which pairs this run may
compute. It owns the SQLite file: its schema, which requests own a row, the leases that let
runs sharing a file split the work, and the notes about rows it will not trust. It evaluates
nothing (dslc.codesign.evaluate).

The rules, which docs/design/codesign.md repeats:

- **Rows are content-keyed and shared.** A pair's result depends only on its key, so any run
  reads back any row whose key it needs. A row belongs to every request that wrote it or read
  it back (`owners`).
- **`forget(request)` (`--fresh`)** drops that request's ownership and deletes the rows no
  other request owns; rows another request also owns stay, for it. From then on this store
  reads back only rows written after the `forget` (by this run or a concurrent one): a fresh
  run computes everything it needs, including what it shares with another request, and
  rewrites those rows (with the same figures, the key being the same).
- **Leases.** Right before computing pairs a run leases them (`claim`): a pair already
  stored is read back instead, and a pair leased by another live run is left to it and read
  back once stored. A run is live while its process exists (same host) and its heartbeat
  thread has written within `STALE_SECONDS`; a lease of a run that ended, was killed or is
  stopped is taken over. Closing the store releases the run's leases.
- **Nothing stale is trusted.** Rows carry the cost model's version (and it is in every
  pair's key; trained accuracies, `trained-` keys, do not depend on it and are read back
  whatever version wrote them); pair rows of another version, and the table of schema 1
  (dslc 0.1: `pairs(key, record)`, no version), are never read back, and `notes` says how
  many there are. They are kept, not deleted, so the dslc that wrote them can still use them.
- **Failures are errors, never bugs.** A damaged file, a schema this dslc does not know, a
  table without the columns it needs, a record that does not decode, or a full disk is a
  `StoreError` (a `CannotRunError`: exit 1) naming the file and the way out (`--fresh`,
  another `--cache`, free space). Each batch of finished pairs is one transaction, so a
  full disk stops the run with every earlier batch intact; a rerun reads them back.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dslc.cost import COST_MODEL_VERSION
from dslc.diagnostics.diagnostic import CannotRunError

SCHEMA = 2
"""The store's layout. Schema 1 (dslc 0.1) was the one table `pairs(key, record)`."""
HEARTBEAT_SECONDS = 2.0
"""How often a run holding leases says it is alive."""
STALE_SECONDS = 20.0
"""A run silent this long is gone (killed on another host, or stopped): its leases lapse."""
BUSY_SECONDS = 60.0
"""How long a statement waits for another process's write to the file to end."""
_BATCH = 500
"""Keys per statement (SQLite limits host parameters, to 999 in older builds)."""

Record = dict[str, Any]
"""A finished pair as JSON data (dslc.codesign.evaluate writes and reads it)."""

_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # seq orders writes: a fresh run reads back only rows written after it started.
    "CREATE TABLE IF NOT EXISTS results (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "key TEXT NOT NULL UNIQUE, model INTEGER NOT NULL, record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS results_model ON results (model)",
    "CREATE TABLE IF NOT EXISTS owners (key TEXT NOT NULL, request TEXT NOT NULL, "
    "PRIMARY KEY (key, request)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS owners_request ON owners (request)",
    "CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL) "
    "WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS holders (holder TEXT PRIMARY KEY, host TEXT NOT NULL, "
    "pid INTEGER NOT NULL, beat REAL NOT NULL)",
)


_COLUMNS = {"meta": {"name", "value"}, "results": {"seq", "key", "model", "record"},
            "owners": {"key", "request"}, "leases": {"key", "holder"},
            "holders": {"holder", "host", "pid", "beat"}}
"""The columns each table must have (a file with same-named tables of another program or
version is refused, not misread)."""


class StoreError(CannotRunError):
    """The result store cannot be opened or written, or what it holds does not decode."""


STORE_WAY_OUT = ("run with --fresh to recompute this request's pairs, or use another store "
                 "with --cache PATH (--cache :memory: keeps nothing)")
"""What a user can do about a store whose content is unusable."""


def _store_error(path: Path | None, exc: BaseException) -> StoreError:
    """A StoreError naming the file, what went wrong and the way out, by kind of failure:
    a damaged file, a full disk, anything else SQLite reports."""
    text = str(exc)
    if "malformed" in text or "not a database" in text or "encrypted" in text:
        return StoreError(f"the result store {path} is damaged ({text}): delete it, or use "
                          "another with --cache PATH (--cache :memory: keeps nothing)")
    if "full" in text or getattr(exc, "errno", None) == 28:  # ENOSPC
        return StoreError(f"the result store {path} cannot grow ({text}): the run stopped; "
                          "the pairs stored before are intact, and a rerun reads them back. "
                          "Free some space, or use another store with --cache PATH")
    return StoreError(f"cannot use the result store {path}: {text}; choose another with "
                      "--cache PATH, or --cache :memory: to keep nothing")


@dataclass(frozen=True, slots=True)
class Claim:
    """What `claim` decided for each key asked about."""

    stored: Mapping[str, Record]
    """Keys already finished (by any run), with their records: read them back."""
    mine: tuple[str, ...]
    """Keys now leased to this run: compute them, then `put` them."""
    theirs: tuple[str, ...]
    """Keys another live run is computing: ask again later."""


@dataclass(slots=True)
class _Heartbeat:
    """A thread that keeps a run's holder row fresh, on its own connection."""

    path: Path
    holder: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._beat, name="dslc-store-heartbeat",
                                       daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            while not self.stop.wait(HEARTBEAT_SECONDS):
                # A busy file: the next beat tries again, well within STALE_SECONDS.
                with suppress(sqlite3.Error):
                    connection.execute("UPDATE holders SET beat = ? WHERE holder = ?",
                                       (time.time(), self.holder))
        finally:
            connection.close()

    def end(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=HEARTBEAT_SECONDS + 1)


class ResultStore:
    """Finished pairs by key: in a SQLite file shared by runs, or in memory (`path` None)."""

    def __init__(self, path: Path | None, *, model: int = COST_MODEL_VERSION) -> None:
        self.path = path
        self.model = model
        """The cost model's version: in every key, and on every row written."""
        self.memory: dict[str, Record] = {}
        """Records this run wrote or read back."""
        self.notes: tuple[str, ...] = ()
        """Rows found that are not trusted (another cost model, an older dslc's schema)."""
        self.connection: sqlite3.Connection | None = None
        self.since = 0
        """Only rows with a larger `seq` are read back (set by `forget`)."""
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.host = socket.gethostname()
        self.heartbeat: _Heartbeat | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.connection = sqlite3.connect(path, timeout=BUSY_SECONDS,
                                                  isolation_level=None)
                _set_wal(self.connection)
                # Durable when the process dies (what a run must survive); only a power
                # loss may take the last commits.
                self.connection.execute("PRAGMA synchronous=NORMAL")
                self.notes = self._prepare()
            except (OSError, sqlite3.Error) as exc:
                if self.connection is not None:
                    self.connection.close()
                    self.connection = None
                raise _store_error(path, exc) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so that reading and then
        leasing is atomic against other runs."""
        connection = self.connection
        assert connection is not None  # only file stores write
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None

    def _prepare(self) -> tuple[str, ...]:
        """Create or check the schema; say what will not be read back."""
        notes: list[str] = []
        with self._transaction() as db:
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" in tables:
                row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
                try:
                    schema = int(row[0]) if row is not None else SCHEMA
                except (TypeError, ValueError):
                    raise StoreError(f"the result store {self.path} has a schema this dslc "
                                     f"does not know ({row[0]!r}): use another store with "
                                     "--cache PATH") from None
                if schema > SCHEMA:
                    raise StoreError(f"the result store {self.path} was written by a newer "
                                     f"dslc (store schema {schema}; this one reads {SCHEMA}): "
                                     "choose another with --cache PATH")
            for table, needed in _COLUMNS.items():
                if table not in tables:
                    continue
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if not needed <= columns:
                    raise StoreError(
                        f"the result store {self.path} is not a store of this dslc (its "
                        f"`{table}` table lacks {', '.join(sorted(needed - columns))}): use "
                        "another store with --cache PATH")
            for statement in _TABLES:
                db.execute(statement)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                           [("schema", str(SCHEMA)), ("cost_model", str(self.model))])
            if "pairs" in tables:
                old = int(db.execute("SELECT COUNT(*) FROM pairs").fetchone()[0])
                if old:
                    notes.append(f"{old} pairs in {self.path} were stored by an older dslc "
                                 "that did not record the cost model's version: they are not "
                                 "read back, and the pairs this run needs are computed again")
            # Trained accuracies (dslc.codesign.trained) do not depend on the cost model.
            for model, count in db.execute("SELECT model, COUNT(*) FROM results WHERE "
                                           "model != ? AND key NOT LIKE 'trained-%' "
                                           "GROUP BY model ORDER BY model", (self.model,)):
                notes.append(f"{count} pairs in {self.path} were computed with cost model "
                             f"version {model} (this dslc's is {self.model}): they are not "
                             "read back, and the pairs this run needs are computed again")
        return tuple(notes)

    def _select(self, db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, Record]:
        found: dict[str, Record] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            marks = ",".join("?" * len(batch))
            for key, record in db.execute(
                    f"SELECT key, record FROM results WHERE seq > ? AND key IN ({marks})",
                    (self.since, *batch)):
                try:
                    data = json.loads(record)
                except (TypeError, ValueError, RecursionError):  # nested past the stack
                    data = None
                if not isinstance(data, dict):
                    raise StoreError(f"a stored record in the result store {self.path} does "
                                     f"not decode (key {str(key)[:16]}...): {STORE_WAY_OUT}")
                found[key] = data
        return found

    def _own(self, db: sqlite3.Connection, keys: Sequence[str], request: str) -> None:
        db.executemany("INSERT OR IGNORE INTO owners VALUES (?, ?)",
                       [(key, request) for key in keys])

    def stored(self, keys: Sequence[str], request: str) -> dict[str, Record]:
        """The records of `keys` that are stored; `request` now owns them too."""
        found = {key: self.memory[key] for key in keys if key in self.memory}
        rest = [key for key in keys if key not in found]
        if self.connection is None or not rest:
            return found
        with self._transaction() as db:
            read = self._select(db, rest)
            self._own(db, list(read), request)
        self.memory.update(read)
        return found | read

    def claim(self, keys: Sequence[str], request: str) -> Claim:
        """Read back what is stored and lease the rest to this run, except what another
        live run holds; see the module docstring."""
        found = {key: self.memory[key] for key in keys if key in self.memory}
        rest = [key for key in keys if key not in found]
        if self.connection is None or not rest:
            return Claim(found, tuple(rest), ())
        now = time.time()
        with self._transaction() as db:
            read = self._select(db, rest)
            self._own(db, list(read), request)
            left = [key for key in rest if key not in read]
            theirs = self._held(db, left, now)
            mine = [key for key in left if key not in theirs]
            if mine:
                db.execute("INSERT OR REPLACE INTO holders VALUES (?, ?, ?, ?)",
                           (self.holder, self.host, os.getpid(), now))
                db.executemany("INSERT OR REPLACE INTO leases VALUES (?, ?)",
                               [(key, self.holder) for key in mine])
        if mine and self.heartbeat is None and self.path is not None:
            self.heartbeat = _Heartbeat(self.path, self.holder)
            self.heartbeat.start()
        self.memory.update(read)
        return Claim(found | read, tuple(mine), tuple(k for k in left if k in theirs))

    def _held(self, db: sqlite3.Connection, keys: Sequence[str], now: float) -> set[str]:
        """The keys leased by another run that is still alive."""
        held: set[str] = set()
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            marks = ",".join("?" * len(batch))
            for key, holder, host, pid, beat in db.execute(
                    "SELECT l.key, l.holder, h.host, h.pid, h.beat FROM leases l LEFT JOIN "
                    f"holders h ON h.holder = l.holder WHERE l.key IN ({marks})", batch):
                if holder != self.holder and host is not None and _live(host, pid, beat,
                                                                        now, self.host):
                    held.add(key)
        return held

    def put(self, key: str, record: Record, request: str) -> None:
        """Store a finished pair for `request`, and release its lease."""
        self.put_many([(key, record)], request)

    def put_many(self, finished: Sequence[tuple[str, Record]], request: str) -> None:
        """Store finished pairs for `request` in one transaction (all or none), and release
        their leases."""
        self.memory.update(finished)
        if self.connection is None or not finished:
            return
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO results (key, model, record) "
                           "VALUES (?, ?, ?)",
                           [(key, self.model, json.dumps(record, sort_keys=True))
                            for key, record in finished])
            self._own(db, [key for key, _ in finished], request)
            db.executemany("DELETE FROM leases WHERE key = ? AND holder = ?",
                           [(key, self.holder) for key, _ in finished])

    def forget(self, request: str) -> None:
        """`--fresh`: drop `request`'s rows (those no other request owns) and read back
        nothing stored before now."""
        self.memory.clear()
        if self.connection is None:
            return
        with self._transaction() as db:
            db.execute("DELETE FROM owners WHERE request = ?", (request,))
            db.execute("DELETE FROM results WHERE NOT EXISTS "
                       "(SELECT 1 FROM owners o WHERE o.key = results.key)")
            # Written rows take a seq above every seq ever used (AUTOINCREMENT).
            self.since = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM results")
                             .fetchone()[0])

    def __len__(self) -> int:
        """Rows this store would read back (of this cost model, written since `forget`)."""
        if self.connection is None:
            return len(self.memory)
        try:
            return int(self.connection.execute(
                "SELECT COUNT(*) FROM results WHERE model = ? AND seq > ?",
                (self.model, self.since)).fetchone()[0])
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None

    def close(self) -> None:
        """Release this run's leases and close the file (a lease is left, to lapse, only
        when the process dies)."""
        if self.heartbeat is not None:
            self.heartbeat.end()
            self.heartbeat = None
        if self.connection is None:
            return
        try:
            with self._transaction() as db:
                db.execute("DELETE FROM leases WHERE holder = ?", (self.holder,))
                db.execute("DELETE FROM holders WHERE holder = ?", (self.holder,))
        except StoreError:
            pass  # unreleased leases lapse with the heartbeat; closing must not fail a run
        finally:
            self.connection.close()
            self.connection = None


def _set_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging. Changing the journal mode takes the file's
    exclusive lock, and SQLite reports a concurrent opener's lock at once instead of calling
    the busy handler, so two runs opening a new store together would fail without the retry."""
    deadline = time.monotonic() + BUSY_SECONDS
    delay = 0.005
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _live(host: object, pid: object, beat: object, now: float, here: str) -> bool:
    """Whether a lease holder (its row of `holders`) is a live run: it beat within
    STALE_SECONDS, and its process exists when it is on this host. A row whose pid is not
    a process id or whose beat is not a number (a file edited by hand or by another
    program) holds nothing."""
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31 or \
            isinstance(beat, bool) or not isinstance(beat, int | float):
        return False
    return now - beat < STALE_SECONDS and (host != here or _running(pid))


def _running(pid: int) -> bool:
    """Whether process `pid` on this host exists and has not ended (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
