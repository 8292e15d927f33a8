"""Installing dslc: the wheel carries the shipped library, `std/...` imports resolve from the
installed package (not the checkout), and the command answers `--version`, `-h` and
`python -m dslc`. The full round trip (a clean venv, the quickstart from /tmp) is in .ci/run."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dslc
from dslc import api, cli
from dslc.sema.loader import std_root

REPO = Path(__file__).resolve().parent.parent
LIBRARY = sorted(p.relative_to(REPO / "dslc").as_posix()
                 for p in (REPO / "dslc" / "std").rglob("*.cd"))


def test_the_library_is_package_data() -> None:
    assert std_root() == Path(dslc.__file__).resolve().parent / "std"
    assert "std/networks/resnet18.cd" in LIBRARY
    assert "std/accelerators/eyeriss_like.cd" in LIBRARY
    assert len(LIBRARY) == 14


def test_std_imports_resolve_outside_the_checkout(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSLC_STD", raising=False)
    (tmp_path / "q.cd").write_text((REPO / "examples" / "quickstart.cd").read_text())
    result = api.lint([tmp_path / "q.cd"])
    assert result.errors == (), result.diagnostics


def test_the_wheel_holds_the_library_and_the_grammar(tmp_path: Path) -> None:
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("building offline needs setuptools>=77 (the dev extra has it)")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("dslc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"dslc/{name}" for name in LIBRARY} <= names
    assert {"dslc/syntax/grammar.lark", "dslc/py.typed", "dslc/__main__.py"} <= names


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = CliRunner().invoke(cli.app, [flag])
    assert result.exit_code == 0
    assert result.output == f"dslc {importlib.metadata.version('dslc')}\n"
    assert dslc.__version__ == importlib.metadata.version("dslc")


COMMANDS = ["lint", "explain", "dump", "eval", "map", "run", "plan", "learn",
            "learn evaluator", "import", "export", "import-timeloop", "compile-kernel"]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(flag: str) -> None:
    """docs/cli.md: "`-h` and `--help` work on every command" (each documented one; the
    list is checked against the app's commands)."""
    registered = {command.name or (command.callback.__name__ if command.callback else "")
                  for command in cli.app.registered_commands} | {
        group.name for group in cli.app.registered_groups}
    assert registered == {command.split()[0] for command in COMMANDS}
    for args in ([flag], *([*command.split(), flag] for command in COMMANDS)):
        result = CliRunner().invoke(cli.app, args, prog_name="dslc")
        assert result.exit_code == 0, (args, result.output)
        assert f"Usage: dslc {' '.join(args[:-1])}".rstrip() in result.output, args


def test_python_dash_m_dslc() -> None:
    done = subprocess.run([sys.executable, "-m", "dslc", "--version"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"dslc {dslc.__version__}\n"
    assert done.stderr == ""


def test_the_readme_sample_is_the_quickstart() -> None:
    readme = (REPO / "README.md").read_text()
    sample = readme.split("A small spec, `examples/quickstart.cd`", 1)[1]
    sample = sample.split("```\n", 2)[1]
    quickstart = (REPO / "examples" / "quickstart.cd").read_text()
    assert sample == quickstart[quickstart.index('import "std'):]


def test_dslc_std_points_the_library_elsewhere(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "set `DSLC_STD=/path/to/library` to point elsewhere": `std/...` imports
    then resolve under that directory, not the shipped one."""
    library = tmp_path / "lib"
    (library / "networks").mkdir(parents=True)
    (library / "networks" / "mine.cd").write_text(
        "network mine { input x: [3] layer a = relu(x) }\n")
    (tmp_path / "spec.cd").write_text('import "std/networks/mine.cd"\n')
    (tmp_path / "shipped.cd").write_text('import "std/networks/resnet18.cd"\n')
    monkeypatch.setenv("DSLC_STD", str(library))
    assert std_root() == library
    program = api.compile(tmp_path / "spec.cd")
    assert program.diagnostics == () and set(program.networks) == {"mine"}
    missing = api.compile(tmp_path / "shipped.cd")
    assert [d.code for d in missing.diagnostics] == ["E203"]
