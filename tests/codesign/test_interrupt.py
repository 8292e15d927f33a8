"""A long `dslc run --jobs 2` in a real process: Ctrl-C stops it within seconds with exit
code 130, keeping every finished pair for the next run; a killed parent takes its workers
with it; a worker that dies stops the run with an error. In process: an evaluator's workers
serve one call after another, an interrupt ends them, and a chunk that reached the parent is
stored whole even when Ctrl-C comes meanwhile.

The spec has 1,152 pairs (about 12 s with two workers) sent in chunks of one accelerator's
12 networks, so the first pairs are stored early and most of the run is still ahead when
it is stopped: a stop that waited for queued chunks would take many seconds more.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from dslc import api
from dslc.codesign.evaluate import Pair, PairEvaluator, PairResult
from dslc.codesign.store import Record, ResultStore

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(),
                                reason="finds worker processes through /proc")

SPEC = """
network tiny_space {
    input x: [8, 16, 16]
    param width in {8, 16, 32}
    param kernel in {1, 3}
    param depth in 1..2
    layer a = conv(x, out = width, kernel = kernel, pad = same)
    block more = repeat depth - 1 from a { conv(prev, out = width, kernel = 3, pad = 1) }
    layer fc = dense(flatten(avgpool(more, global = true)), out = 10)
}

accelerator grid {
    param rows in {4, 8}
    param cols in {4, 8, 16}
    param glb in {4KiB, 16KiB}
    param flow in {weight_stationary, output_stationary}
    param rf in {16words, 32words}
    param dram in {100pJ, 200pJ}
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = dram, write = dram }
    memory GLB  { size = glb, width = 64b }
    fanout PE   { mesh = cols x rows, dataflow = flow }
    memory RF   { size = rf }
    compute MAC { energy = 1pJ }
}

codesign long {
    networks     = tiny_space
    accelerators = grid
    objective    = minimize edp
    strategy     = exhaustive
    mapper       { budget = 300, seed = 1 }
}
"""
PAIRS = 12 * 96
STOP_WITHIN = 3.0
"""Seconds from the signal to the end of the run (the rest of the run takes about 9)."""


def _poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _stored(store: Path) -> int:
    """Pairs in the store now (0 before the run has created it)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _ended(pid: int) -> bool:
    """The process is gone, or a zombie nobody has reaped yet (it has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def as_in_a_terminal() -> None:
    """A child's start (`preexec_fn`): SIGINT at its default, as a command typed in a
    terminal has it. A test run started in the background (`cmd &` in a script, as CI may
    start it) inherits SIGINT ignored, which its children inherit too: Ctrl-C could then not
    be simulated, and dslc rightly keeps a signal its parent shell chose to ignore."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler in this process for the test (see `as_in_a_terminal`)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _run(spec: Path, store: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`dslc run SPEC --jobs 2` in its own process group (as a shell runs a command, so that
    a signal to the group is what Ctrl-C sends); whatever is left of the group is killed
    at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dslc.cli", "run", str(spec), "--jobs", "2", "--cache",
         str(store), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=as_in_a_terminal)
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def test_ctrl_c_stops_a_parallel_run_within_seconds_and_keeps_what_finished(
        tmp_path: Path) -> None:
    spec = tmp_path / "long.cd"
    spec.write_text(SPEC)
    store = tmp_path / "store.sqlite"
    with _run(spec, store) as process:
        _poll(lambda: _stored(store) > 0 or process.poll() is not None, 60,
              "the first stored pairs")
        assert process.poll() is None, process.communicate()
        workers = _children(process.pid)
        assert len(workers) == 2
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        sent = time.monotonic()
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - sent
        assert process.returncode == 130, err.decode()
        assert took < STOP_WITHIN, f"stopped {took:.1f} s after Ctrl-C"
        assert json.loads(out)["error"]["kind"] == "interrupted"
        assert err.decode().splitlines()[-1] == "interrupted"
        assert b"Traceback" not in err  # the workers ignored SIGINT: the parent decided
        _poll(lambda: all(_ended(pid) for pid in workers), 5, "the workers to end")
    kept = _stored(store)
    # Whole chunks only (a chunk that reached the parent is stored in one transaction,
    # Ctrl-C or not), and far from everything.
    assert kept % 12 == 0 and 12 <= kept < PAIRS // 2

    # A rerun reads every stored pair back (it is stopped as soon as it says so).
    read_back: list[int] = []

    def stop_at_first_report(phase: str, done: int, total: int, best: float) -> None:
        read_back.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.search(api.compile(spec), store=store, progress=stop_at_first_report)
    assert read_back == [kept]


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    spec = tmp_path / "long.cd"
    spec.write_text(SPEC)
    with _run(spec, tmp_path / "store.sqlite") as process:
        _poll(lambda: len(_children(process.pid)) == 2 or process.poll() is not None, 60,
              "two worker processes")
        workers = _children(process.pid)
        assert len(workers) == 2, process.communicate()
        process.kill()
        process.wait()
        _poll(lambda: all(_ended(pid) for pid in workers), 5,
              "the workers of a killed parent to exit")


def test_a_worker_that_dies_stops_the_run_with_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "long.cd"
    spec.write_text(SPEC)
    store = tmp_path / "store.sqlite"
    with _run(spec, store) as process:
        _poll(lambda: len(_children(process.pid)) == 2 or process.poll() is not None, 60,
              "two worker processes")
        workers = _children(process.pid)
        assert len(workers) == 2, process.communicate()
        os.kill(min(workers), signal.SIGKILL)  # as the out-of-memory killer would
        out, err = process.communicate(timeout=30)
        assert process.returncode == 1, (out.decode(), err.decode())
        assert b"error: a worker process ended without finishing its pairs" in err
        error = json.loads(out)["error"]  # --format json: the document on stdout
        assert error["kind"] == "cannot_run" and error["exit_code"] == 1
        assert error["message"].startswith("a worker process ended without finishing")
        assert b"Traceback" not in err
    db = sqlite3.connect(store)
    try:
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0  # released
    finally:
        db.close()


def test_a_worker_lost_before_the_next_chunk_is_submitted_is_the_same_error() -> None:
    # The race the test above can meet: the killed worker breaks the pool, and the next
    # chunk's submit raises BrokenProcessPool before any result says so (it was E900).
    from concurrent.futures.process import BrokenProcessPool

    from dslc.codesign.evaluate import WorkerLostError, _ProcessWorkers

    class BrokenPool:
        def submit(self, *args: object) -> None:
            raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    workers = _ProcessWorkers.__new__(_ProcessWorkers)
    workers.pool = BrokenPool()  # type: ignore[assignment]
    with pytest.raises(WorkerLostError, match="a worker process ended without finishing"):
        workers.submit([])


TINY_REQUEST = api.request(api.compile(text=(Path(__file__).parent / "tiny.cd").read_text()))
TINY_PAIRS = [(n, a) for n in TINY_REQUEST.network_designs.designs
              for a in TINY_REQUEST.accelerator_designs.designs]


def test_workers_serve_call_after_call_and_an_interrupt_ends_them() -> None:
    request, pairs = TINY_REQUEST, TINY_PAIRS
    evaluator = PairEvaluator(request)
    before = _children(os.getpid())
    try:
        evaluator.evaluate_many(pairs[:24], jobs=2)
        workers = _children(os.getpid()) - before
        assert len(workers) == 2
        evaluator.evaluate_many(pairs[24:48], jobs=2)
        assert _children(os.getpid()) - before == workers  # the same two, caches warm

        def interrupt(pair: Pair, result: PairResult) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            evaluator.evaluate_many(pairs[48:], jobs=2, on_result=interrupt)
        assert evaluator.pool is None
        assert evaluator.evaluated == 49  # the interrupt came with the first result
        _poll(lambda: all(_ended(pid) for pid in workers), 5, "the workers to end")
    finally:
        evaluator.close()


@pytest.mark.usefixtures("default_sigint")
def test_a_chunk_that_arrived_is_stored_whole_when_ctrl_c_comes_meanwhile(
        tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite")
    write = store.put_many

    def interrupted_write(finished: list[tuple[str, Record]], request: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the first chunk is being written
        write(finished, request)

    store.put_many = interrupted_write  # type: ignore[method-assign]
    evaluator = PairEvaluator(TINY_REQUEST, store)
    try:
        # 24 pairs for two workers: chunks of 3 (a quarter of a worker's share).
        with pytest.raises(KeyboardInterrupt):
            evaluator.evaluate_many(TINY_PAIRS[:24], jobs=2)
        assert len(store) == 3
    finally:
        evaluator.close()
        store.close()


def _kernel_interrupted() -> SystemError:
    """What a Ctrl-C inside the mapper's compiled kernel raises: numba's dispatcher returns
    with the KeyboardInterrupt set, which Python reports as a SystemError caused by it
    (through one SystemError per frame)."""
    try:
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise SystemError("<function _numba_unpickle> returned a result with an "
                                  "exception set") from exc
        except SystemError as exc:
            raise SystemError("CPUDispatcher(<function descend>) returned a result with an "
                              "exception set") from exc
    except SystemError as exc:
        return exc


def test_ctrl_c_inside_the_compiled_kernel_is_an_interrupt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In one process the pairs are mapped here, and a Ctrl-C that lands in the kernel came
    # out as a SystemError: `dslc run` said E900, an internal error (exit 3), not 130.
    compute = PairEvaluator.compute
    computed: list[Pair] = []

    def compute_then_interrupt(self: PairEvaluator, pair: Pair,
                               deadline: float | None = None) -> PairResult:
        if len(computed) == 2:
            raise _kernel_interrupted()
        computed.append(pair)
        return compute(self, pair, deadline)

    monkeypatch.setattr(PairEvaluator, "compute", compute_then_interrupt)
    store = ResultStore(tmp_path / "store.sqlite")
    evaluator = PairEvaluator(TINY_REQUEST, store)
    try:
        with pytest.raises(KeyboardInterrupt):
            evaluator.evaluate_many(TINY_PAIRS[:6])
        assert len(store) == 2  # the pairs that finished are stored
    finally:
        evaluator.close()
        store.close()
    spec = tmp_path / "tiny.cd"
    spec.write_text(SPEC)
    from typer.testing import CliRunner

    from dslc import cli

    for args in (["run", str(spec), "--cache", str(tmp_path / "cli.sqlite")],
                 ["run", str(spec), "--cache", ":memory:", "-f", "json"]):
        computed.clear()
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 130, result.output
        assert "E900" not in result.output and "interrupted" in result.output
