"""`map_network(jobs=N)`: the distinct layers searched in N worker processes give what one
process gives (every layer's mapping, cost and evaluated count; the cache's hits and misses;
a progress report per distinct layer); a layer that fits nowhere raises the error of the
first such layer in the network's order, reasons and all; `dslc run --jobs 2` of one design
prints the JSON of `--jobs 1`, and Ctrl-C stops it within seconds, workers included."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from dslc import api
from dslc.arch import resolve_accelerator
from dslc.lower.lower import lower_network
from dslc.lower.problem import Problem
from dslc.mapper import MapperOptions, NoValidMappingError, map_network
from dslc.mapper.network import MapCache
from tests.codesign.test_interrupt import _children, _ended, as_in_a_terminal

NETWORK = """
network chain {
    input x: [8, 16, 16]
    layer a = conv(x, out = 16, kernel = 3, pad = 1)
    layer b = conv(a, out = 24, kernel = 1)
    layer c = conv(b, out = 24, kernel = 3, pad = 1)
    layer d = conv(c, out = 24, kernel = 3, pad = 1)
    layer e = conv(d, out = 32, kernel = 3, stride = 2, pad = 1)
    layer f = dense(flatten(avgpool(e, global = true)), out = 10)
}
"""
ARRAY = """
accelerator array {
    word  = 16b
    clock = 200MHz
    memory DRAM { DRAM_SIZE width = 64b }
    memory GLB  { size = 16KiB, width = 64b }
    fanout PE   { mesh = 4 x 4 }
    memory RF   { size = 16 words }
    compute MAC { energy = 1pJ }
}
"""


def _mapped(dram: str, jobs: int, cache: MapCache | None = None,
            reports: list[tuple[int, int, str]] | None = None) -> list[tuple[object, ...]]:
    program = api.compile(text=NETWORK + ARRAY.replace("DRAM_SIZE", dram))
    lowered = lower_network(api.network(program, "chain"), 1)
    arch = resolve_accelerator(api.accelerator(program, "array"))
    result = map_network(lowered, arch, MapperOptions(budget=400), cache=cache, jobs=jobs,
                         progress=None if reports is None else
                         lambda done, total, name: reports.append((done, total, name)))
    return [(layer.name, layer.shared_with, layer.energy_pj, layer.cycles,
             layer.result.evaluated, layer.result.mapping) for layer in result.layers]


def test_jobs_give_what_one_process_gives() -> None:
    cache_alone = MapCache()
    one = _mapped("", 1, cache_alone)
    for jobs in (2, 3):
        cache = MapCache()
        reports: list[tuple[int, int, str]] = []
        assert _mapped("", jobs, cache, reports) == one
        assert (cache.hits, cache.misses) == (cache_alone.hits, cache_alone.misses) == (0, 5)
        # One report per distinct layer (d is c's twin), counting up to all five, in the
        # order they end.
        assert [(done, total) for done, total, _ in reports] == [(i, 5) for i in range(1, 6)]
        assert sorted(name for _, _, name in reports) == ["a", "b", "c", "e", "f"]
        # Searched again with the cache filled: nothing left for the workers.
        assert _mapped("", jobs, cache) == one
        assert (cache.hits, cache.misses) == (5, 5)
    assert [layer[:2] for layer in one] == [("a", "a"), ("b", "b"), ("c", "c"), ("d", "c"),
                                            ("e", "e"), ("f", "f")]


def test_the_first_layer_that_fits_nowhere_is_raised_whatever_the_jobs() -> None:
    # DRAM, the backing store, holds 12,000 words: a (7,840 words with its padded input),
    # b (10,624) and f fit, not c, d (17,376 and more) nor e: their searches fail, and the
    # error is c's, the first of them in the network's order, as in one process.
    with pytest.raises(NoValidMappingError) as alone:
        _mapped("size = 12000 words,", 1)
    assert str(alone.value).startswith("no valid mapping of `c")
    for jobs in (2, 4):
        with pytest.raises(NoValidMappingError) as parallel:
            _mapped("size = 12000 words,", jobs)
        assert str(parallel.value) == str(alone.value)
        assert parallel.value.reasons == alone.value.reasons != ()


def test_no_valid_mapping_error_survives_pickling() -> None:
    error = NoValidMappingError("net.conv", "array", ("GLB: 4096 words > 64", "RF: ..."))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is NoValidMappingError
    assert str(copy) == str(error) == "no valid mapping of `net.conv` on `array`"
    assert copy.reasons == error.reasons


RUN = NETWORK.replace("network chain", "network wide").replace(
    "layer f = dense", "layer g = conv(e, out = 48, kernel = 3, pad = 1)\n"
    "    layer h = conv(g, out = 56, kernel = 3, pad = 1)\n"
    "    layer f = dense").replace("avgpool(e,", "avgpool(h,") + \
    ARRAY.replace("DRAM_SIZE", "") + """
codesign one {
    networks     = wide
    accelerators = array
    objective    = minimize edp
    mapper       { budget = BUDGET, seed = 1 }
}
"""


def _run(spec: Path, jobs: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "dslc.cli", "run", str(spec), "--jobs",
                             str(jobs), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=as_in_a_terminal)


def test_dslc_run_of_one_design_with_jobs_prints_what_one_process_prints(
        tmp_path: Path) -> None:
    spec = tmp_path / "one.cd"
    spec.write_text(RUN.replace("BUDGET", "300"))
    printed = []
    for jobs in (1, 2):
        process = _run(spec, jobs)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
        document = json.loads(out)
        document.pop("search_seconds", None)
        printed.append(document)
    assert printed[0] == printed[1]
    assert len(printed[0]["layers"]) == 8


@pytest.mark.skipif(not Path("/proc/self/task").exists(),
                    reason="finds worker processes through /proc")
def test_ctrl_c_stops_dslc_run_with_jobs_within_seconds(tmp_path: Path) -> None:
    spec = tmp_path / "long.cd"
    spec.write_text(RUN.replace("BUDGET", "200000"))  # minutes of searching
    process = _run(spec, 2)
    try:
        deadline = time.monotonic() + 120
        while len(_children(process.pid)) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "no worker processes"
            time.sleep(0.05)
        workers = _children(process.pid)
        assert len(workers) == 2, process.communicate()
        time.sleep(0.5)  # the workers are searching
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        sent = time.monotonic()
        out, err = process.communicate(timeout=60)
        assert time.monotonic() - sent < 5.0
        assert process.returncode == 130, err.decode()
        assert json.loads(out)["error"]["kind"] == "interrupted"
        assert b"Traceback" not in err
        deadline = time.monotonic() + 5
        while not all(_ended(pid) for pid in workers):
            assert time.monotonic() < deadline, "the workers outlived the run"
            time.sleep(0.05)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def test_the_searches_start_with_the_most_macs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers take the searches in the order they are submitted: the longest (the most
    # MACs, as a rule) first, so that none starts when the others are ending.
    from concurrent.futures import Future

    import dslc.mapper.network as network_module

    submitted: list[str] = []

    class Recording:
        def submit(self, search: object, problem: Problem, *args: object) -> Future[str]:
            submitted.append(problem.name)
            future: Future[str] = Future()
            future.set_result(problem.name)
            return future

        def shutdown(self) -> None:
            pass

    monkeypatch.setattr(network_module, "process_pool", lambda jobs: Recording())
    program = api.compile(text=NETWORK + ARRAY.replace("DRAM_SIZE", ""))
    lowered = lower_network(api.network(program, "chain"), 1)
    arch = resolve_accelerator(api.accelerator(program, "array"))
    problems = [(key, shared.problem) for key, shared in lowered.distinct().items()]
    ended: list[str] = []
    network_module._map_in_processes(problems, arch, MapperOptions(), 2,
                                     lambda key, found: ended.append(str(found)))
    macs = {problem.name: problem.macs for _, problem in problems}
    assert submitted == sorted(macs, key=lambda name: -macs[name])
    assert macs[submitted[0]] == max(macs.values()) and submitted[-1] == "f"
    assert sorted(ended) == sorted(macs)
