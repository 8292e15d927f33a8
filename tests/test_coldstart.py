"""Cold start: `dslc lint` loads no numpy, numba, networkx or torch (nor dslc.learn); on a
machine whose numba cache lacks the kernel, `dslc map` and `dslc run` start compiling it in
a background process, say so on stderr and run on the numpy path meanwhile (the same
numbers).
benchmarks/bench_coldstart.py measures the cold/warm ratio (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dslc import cli
from dslc.cost import kernel
from tests.report.test_reports import QUICKSTART_LIKE as SMALL

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

HEAVY = ("numpy", "numba", "networkx", "torch", "sklearn", "mnist1d", "dslc.learn")
"""Modules lint must not load: the cost model's and the learning extra's (the shipped
digits/mnist1d spaces and examples/trained.cd are linted too)."""


def test_lint_imports_no_numpy_numba_or_networkx() -> None:
    # examples/mapping.cd has mapping blocks: lint lowers layers and checks mappings too.
    paths = [REPO / "examples", REPO / "dslc" / "std", REPO / "tests" / "golden"]
    code = (
        "import sys\n"
        "from dslc.cli import main\n"
        f"sys.argv = ['dslc', 'lint', '-f', 'concise', *{[str(p) for p in paths]!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"print('LOADED', code, [m for m in {HEAVY!r} if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    last = done.stdout.strip().splitlines()[-1]
    assert last == "LOADED 1 []", done.stderr  # the golden files have errors: exit 1
    assert "examples/mapping.cd" not in done.stdout  # it was linted, and it is clean


def test_claiming_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "cache" / "kernel_numba.kernel-1.py311.nbi"
    monkeypatch.setattr(kernel, "available", lambda: True)
    monkeypatch.setattr(kernel, "_index_path", lambda: str(index))
    monkeypatch.setattr(kernel, "cached_on_disk", lambda: index.exists())
    lock = tmp_path / "cache" / kernel.COMPILE_LOCK
    assert kernel.claim_compile() == str(lock)
    assert lock.exists()
    assert kernel.claim_compile() == ""  # another process holds it: do not compile twice
    old = time.time() - kernel.STALE_LOCK_S - 1
    os.utime(lock, (old, old))
    assert kernel.claim_compile() == str(lock)  # a compile that died: taken over
    lock.unlink()
    index.write_text("")
    assert kernel.claim_compile() is None  # in the cache already


def test_deferred_runs_the_numpy_path_and_children_inherit_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kernel.DISABLE_ENV, raising=False)
    before = kernel.available()
    with kernel.deferred():
        assert kernel.available() is False
        assert os.environ[kernel.DISABLE_ENV] == "1"
    assert kernel.DISABLE_ENV not in os.environ
    assert kernel.available() == before


def _json_run(args: list[str]) -> tuple[dict[str, Any], str]:
    result = runner.invoke(cli.app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    data.pop("search_seconds", None)
    return data, result.stderr


def test_a_cold_cache_compiles_in_the_background(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.cd").write_text(SMALL)
    reference, quiet = _json_run(["run", "small.cd"])
    assert quiet == ""
    started: list[list[str]] = []
    seen_during: list[bool] = []

    class Popen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            started.append(args)
            assert kernel.DISABLE_ENV not in kwargs["env"]  # the compile itself uses numba
            assert kwargs["start_new_session"] is True

    real_run = cli.api.run

    def spying_run(*args: Any, **kwargs: Any) -> Any:
        seen_during.append(kernel.available())
        return real_run(*args, **kwargs)

    lock = tmp_path / kernel.COMPILE_LOCK
    monkeypatch.setattr(kernel, "claim_compile", lambda: str(lock))
    monkeypatch.setattr(cli.subprocess, "Popen", Popen)
    monkeypatch.setattr(cli.api, "run", spying_run)
    data, note = _json_run(["run", "small.cd"])
    assert started == [[sys.executable, "-m", "dslc", "compile-kernel", "--lock", str(lock)]]
    assert seen_during == [False]
    assert note.startswith("note: the cost model's kernel is compiling in the background")
    assert data == reference  # the numpy path gives the same numbers
    # Another process compiling already: no second compile, the same note.
    monkeypatch.setattr(kernel, "claim_compile", lambda: "")
    _, note = _json_run(["map", "small.cd", "-n", "n", "-l", "a", "-a", "acc"])
    assert len(started) == 1
    assert "compiling in the background" in note


def test_compile_kernel_without_numba_or_disabled_removes_its_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kernel.DISABLE_ENV, "1")
    lock = tmp_path / "lock"
    lock.write_text("")
    result = runner.invoke(cli.app, ["compile-kernel", "--lock", str(lock)])
    assert result.exit_code == 0
    assert result.stderr.startswith("nothing to compile")
    assert not lock.exists()
