"""The `dslc` command line: exit codes, output formats, explain, dump."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.diagnostics.codes import CODES, explain

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

CLEAN = """network n {
    input x: [3, 8, 8]
    layer a = conv(x, out = 4, kernel = 3, pad = 1)
}
"""
BROKEN = """network n {
    input x: [3, 8, 8]
    layer a = conv(x, out = 4, kernel = 3, pad = 1)
    layer b = relu(y)
}
accelerator a { word = 16b clock = 1GHz memory D { read = 1KiB } compute M { } }
"""
WARNING = "network n { param p in {1, 2} input x: [3] layer a = relu(x) }\n"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.cd").write_text(CLEAN)
    (tmp_path / "broken.cd").write_text(BROKEN)
    (tmp_path / "warning.cd").write_text(WARNING)
    return tmp_path


def test_lint_clean_exits_0(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "clean.cd"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 file checked: no problems found"


def test_lint_warnings_only_exit_0(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "warning.cd"])
    assert result.exit_code == 0
    assert "warning[W201]" in result.output
    assert result.output.strip().endswith("1 file checked: 1 warning")


def test_lint_errors_exit_1(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "broken.cd", "clean.cd"])
    assert result.exit_code == 1
    assert "error[E201]: undefined name `y`" in result.output
    assert " --> broken.cd:4:20" in result.output
    assert "error[E301]" in result.output
    assert result.output.strip().endswith("2 files checked: 2 errors")


def test_lint_concise(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "--format", "concise", "broken.cd"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("broken.cd:4:20: error[E201]: undefined name `y`")
    assert lines[1].startswith("broken.cd:6:")
    assert lines[-1] == "1 file checked: 2 errors"


def test_lint_json(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "-f", "json", "broken.cd", "clean.cd"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [d["code"] for d in data] == ["E201", "E301"]
    for item in data:
        assert {"code", "severity", "message", "file", "start", "end"} <= set(item)
        assert item["severity"] == "error"
        assert item["file"] == "broken.cd"
        assert set(item["start"]) == {"line", "column", "offset"}
    offset = BROKEN.index("relu(y)") + len("relu(")
    assert data[0]["start"] == {"line": 4, "column": 20, "offset": offset}
    assert data[0]["end"] == {"line": 4, "column": 21, "offset": offset + 1}


def test_lint_json_clean_is_an_empty_list(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "--format", "json", "clean.cd"])
    assert result.exit_code == 0
    assert json.loads(result.output) == []


def test_lint_missing_file_is_a_diagnostic(files: Path) -> None:
    result = runner.invoke(cli.app, ["lint", "missing.cd"])
    assert result.exit_code == 1
    assert "error[E203]: cannot read `missing.cd`: no such file" in result.output


@pytest.mark.parametrize("args", [
    ["lint", "--bogus", "clean.cd"],
    ["lint"],
    ["lint", "--format", "xml", "clean.cd"],
    ["explain"],
    ["dump", "clean.cd", "--stage", "bytes"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(files: Path, args: list[str]) -> None:
    assert runner.invoke(cli.app, args).exit_code == 2


def test_explain_every_code() -> None:
    for code in CODES:
        result = runner.invoke(cli.app, ["explain", code])
        assert result.exit_code == 0
        assert result.output.strip() == (explain(code) or "").strip()
    lower = runner.invoke(cli.app, ["explain", "e201"])
    assert lower.exit_code == 0 and lower.output.startswith("E201: undefined name")


def test_explain_unknown_code_exits_2() -> None:
    result = runner.invoke(cli.app, ["explain", "E999"])
    assert result.exit_code == 2
    assert "unknown code `E999`" in result.output


def test_dump_ast_and_spec(files: Path) -> None:
    result = runner.invoke(cli.app, ["dump", "clean.cd", "--stage", "ast"])
    assert result.exit_code == 0
    assert result.output.startswith("Module @1:1")
    assert "NetworkDecl @1:1" in result.output
    result = runner.invoke(cli.app, ["dump", "clean.cd", "--stage", "spec"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    layer = data["networks"]["n"]["first_point"]["layers"][0]
    assert layer["name"] == "a"
    assert layer["out_channels"] == 4


def test_dump_of_a_broken_file_exits_1(files: Path) -> None:
    for stage in ("ast", "spec"):
        text = "network n {" if stage == "ast" else BROKEN
        (files / "bad.cd").write_text(text)
        result = runner.invoke(cli.app, ["dump", "bad.cd", "--stage", stage])
        assert result.exit_code == 1, result.output
        assert "error[" in result.output


def test_internal_errors_exit_3(files: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    def boom(paths: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "lint", boom)
    monkeypatch.setattr(sys, "argv", ["dslc", "lint", "clean.cd"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 3
    out = capsys.readouterr().out
    assert "error[E900]: internal error: RuntimeError: boom" in out
    assert "this is a bug in dslc" in out


def test_the_installed_entry_point() -> None:
    # One real process: the console script, its exit code and its output.
    fixture = "tests/golden/E205_unknown_property.cd"
    done = subprocess.run([sys.executable, "-m", "dslc.cli", "lint", "-f", "concise", fixture],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert f"{fixture}:6:19: error[E205]: unknown property `sise`" in done.stdout
