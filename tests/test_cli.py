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
    data = json.loads(result.stdout)
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
    assert json.loads(result.stdout) == []


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
    data = json.loads(result.stdout)
    layer = data["networks"]["n"]["first_point"]["layers"][0]
    assert layer["name"] == "a"
    assert layer["out_channels"] == 4


def test_dump_graph_and_problems_are_json(files: Path) -> None:
    """docs/cli.md: `dslc dump --stage graph|problems` print JSON. CLEAN's one layer: a 3x3
    conv of 3 channels to 4, padded, on 8x8: output [4, 8, 8], 4*8*8 outputs x 3*3*3 = 6,912
    MACs."""
    graph = runner.invoke(cli.app, ["dump", "clean.cd", "--stage", "graph"])
    assert graph.exit_code == 0, graph.output
    network = json.loads(graph.stdout)["n"]
    assert (network["inputs"], network["macs"]) == ({"x": [3, 8, 8]}, 6912)
    (layer,) = network["layers"]
    assert (layer["name"], layer["op"], layer["inputs"], layer["shape"], layer["macs"]) == (
        "a", "conv", ["x"], [4, 8, 8], 6912)
    problems = runner.invoke(cli.app, ["dump", "clean.cd", "--stage", "problems"])
    assert problems.exit_code == 0, problems.output
    (problem,) = json.loads(problems.stdout)["n"]["problems"]
    assert problem["dims"] == {"N": 1, "K": 4, "C": 3, "P": 8, "Q": 8, "R": 3, "S": 3}
    assert (problem["key"], problem["layers"], problem["macs"]) == (layer["problem_key"],
                                                                     ["a"], 6912)


def test_dump_of_a_broken_file_exits_1(files: Path) -> None:
    for stage in ("ast", "spec"):
        text = "network n {" if stage == "ast" else BROKEN
        (files / "bad.cd").write_text(text)
        result = runner.invoke(cli.app, ["dump", "bad.cd", "--stage", stage])
        assert result.exit_code == 1, result.output
        assert "error[" in result.output


def test_internal_errors_exit_3(files: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    def boom(paths: object, **options: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "lint", boom)
    monkeypatch.setattr(sys, "argv", ["dslc", "lint", "clean.cd"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 3
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout carries results only
    assert "error[E900]: internal error: RuntimeError: boom" in captured.err
    assert "this is a bug in dslc" in captured.err


def test_the_installed_entry_point() -> None:
    # One real process: the console script, its exit code and its output.
    fixture = "tests/golden/E205_unknown_property.cd"
    done = subprocess.run([sys.executable, "-m", "dslc.cli", "lint", "-f", "concise", fixture],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert f"{fixture}:6:19: error[E205]: unknown property `sise`" in done.stdout


# ---- compile once, errors by kind -----------------------------------------------------------


SMALL_DESIGN = """
network n {
    input x: [4, 6, 6]
    layer a = conv(x, out = 4, kernel = 3)
    layer b = dense(flatten(a), out = 3)
}
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 4KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
codesign one { networks = n accelerators = acc mapper { search = heuristic, budget = 200 } }
"""
SMALL_SPACE = SMALL_DESIGN.replace("network n {", "network n {\n    param k in {1, 3}").replace(
    "kernel = 3)", "kernel = k)")


def _count_elaborations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every elaboration of a workspace, whoever asks for it."""
    import dslc.sema.program as program_module

    calls = [0]
    real = program_module.elaborate

    def counting(workspace: object) -> object:
        calls[0] += 1
        return real(workspace)  # type: ignore[arg-type]

    monkeypatch.setattr(program_module, "elaborate", counting)
    monkeypatch.setattr(api, "elaborate", counting)
    return calls


@pytest.mark.parametrize("text", [SMALL_DESIGN, SMALL_SPACE], ids=["one design", "spaces"])
def test_dslc_run_elaborates_its_file_once(files: Path, monkeypatch: pytest.MonkeyPatch,
                                           text: str) -> None:
    (files / "small.cd").write_text(text)
    calls = _count_elaborations(monkeypatch)
    result = runner.invoke(cli.app, ["run", "small.cd", "--format", "json", "--cache",
                                     ":memory:"])
    assert result.exit_code == 0, result.output
    assert calls[0] == 1


def test_dslc_run_with_jobs_elaborates_once_and_workers_get_no_path(
        files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (files / "small.cd").write_text(SMALL_SPACE)
    calls = _count_elaborations(monkeypatch)
    result = runner.invoke(cli.app, ["run", "small.cd", "--format", "json", "--cache",
                                     ":memory:", "--jobs", "2", "--strategy", "exhaustive"])
    assert result.exit_code == 0, result.output
    assert calls[0] == 1  # worker processes receive the request; they elaborate nothing
    assert json.loads(result.stdout)["pairs_evaluated"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["run", "small.cd", "-c", "nope"], "no co-design request `nope`"),
    (["run", "small.cd", "--strategy", "bogus"], "unknown strategy `bogus`"),
    (["run", "small.cd", "--jobs", "0"], "--jobs must be between 1 and 1,024, got 0"),
    (["map", "small.cd", "-n", "n", "-l", "a", "-a", "nope"], "no accelerator `nope`"),
    (["map", "small.cd", "-n", "m", "-l", "a", "-a", "acc"], "no network `m`"),
    (["map", "small.cd", "-n", "n", "-l", "a", "-a", "acc", "--search", "best"],
     "unknown search `best`"),
    (["map", "small.cd", "-n", "n", "-l", "a", "-a", "acc", "--objective", "area"],
     "unknown objective `area`"),
    (["eval", "small.cd", "-m", "nope"], "no mapping `nope`"),
])
def test_usage_errors_name_what_exists(files: Path, args: list[str], message: str) -> None:
    (files / "small.cd").write_text(SMALL_SPACE)
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.output
    assert "Traceback" not in result.output and "E900" not in result.output


def test_dslc_run_says_how_to_pick_a_request_or_what_to_run_instead(files: Path) -> None:
    (files / "none.cd").write_text(SMALL_SPACE.split("codesign")[0])
    (files / "two.cd").write_text(SMALL_SPACE + SMALL_SPACE[SMALL_SPACE.index("codesign"):]
                                  .replace("codesign ", "codesign other_", 1))
    for name, message in (
            ("none.cd", "error: none.cd has no co-design request: add a `codesign` block, or "
                        "map one layer with `dslc map` and cost a fixed mapping with `dslc "
                        "eval`"),
            ("two.cd", "error: two.cd has 2 co-design requests; name one with --codesign (")):
        result = runner.invoke(cli.app, ["run", name])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("error", [KeyError("k"), ValueError("v"), RuntimeError("r"),
                                   StopIteration(), ZeroDivisionError("z")],
                         ids=lambda e: type(e).__name__)
def test_any_other_exception_is_a_bug_with_exit_3(files: Path, monkeypatch: pytest.MonkeyPatch,
                                                  error: Exception) -> None:
    # The kinds the CLI once took for usage errors (KeyError, ValueError, RuntimeError) are
    # bugs when they escape the API: exit 3 with the bug message, never exit 2.
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    (files / "small.cd").write_text(SMALL_DESIGN)
    monkeypatch.setattr(api, "run", broken)
    result = runner.invoke(cli.app, ["run", "small.cd"])
    assert result.exit_code == 3, result.output
    assert f"error[E900]: internal error: {type(error).__name__}" in result.output
    assert "this is a bug in dslc" in result.output


def test_an_interrupt_exits_130(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    (files / "small.cd").write_text(SMALL_DESIGN)
    monkeypatch.setattr(api, "run", interrupted)
    result = runner.invoke(cli.app, ["run", "small.cd"])
    assert result.exit_code == 130
    assert "interrupted" in result.output


def test_a_spec_that_cannot_run_exits_1_with_its_reasons(files: Path) -> None:
    # One on-chip memory of 8 words must hold every tensor whole: nothing fits.
    (files / "small.cd").write_text(
        "network n { input x: [4, 6, 6] layer a = conv(x, out = 4, kernel = 3) }\n"
        "accelerator acc { word = 16b clock = 1GHz memory M { size = 8 words } "
        "compute MAC { } }\n")
    result = runner.invoke(cli.app, ["map", "small.cd", "-n", "n", "-l", "a", "-a", "acc"])
    assert result.exit_code == 1, result.output
    assert "error: no valid mapping of `a` on `acc`:" in result.output
    assert "\n  - " in result.output


@pytest.mark.parametrize(("args", "module", "extra"), [
    (["import", "model.onnx"], "onnx", "onnx"),
    (["import", "model.onnx", "-o", "net.cd"], "onnx", "onnx"),
    (["import", "--torch", "pkg.mod:build", "--input", "1,3,8,8"], "torch", "torch")])
def test_import_without_its_extra_exits_1_with_the_pip_line(
        files: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], module: str,
        extra: str) -> None:
    """docs/cli.md, `dslc import`: "without the extra, exit 1 with the `pip install` line"
    (whether or not the extra is installed here: the module is hidden)."""
    monkeypatch.setitem(sys.modules, module, None)
    (files / "model.onnx").write_bytes(b"not read")
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert f"error: this needs the `{module}` package: pip install 'dslc[{extra}]'" in \
        result.stderr
    assert not (files / "net.cd").exists()


def test_dslc_maps_defaults_are_the_documented_ones() -> None:
    """docs/cli.md, `dslc map`: `[--format table] [--search auto] [--budget 10000]
    [--seed 1] [--batch 1]`, no constraints, no padding."""
    import typer.main
    command = typer.main.get_command(cli.app)
    map_command = command.commands["map"]  # type: ignore[attr-defined]
    defaults = {param.name: param.default for param in map_command.params}
    assert defaults["format"] == "table"
    assert defaults["search"] == "auto"
    assert defaults["budget"] == 10000
    assert defaults["seed"] == 1
    assert defaults["batch"] == 1
    assert defaults["constraints"] is None
    assert defaults["imperfect"] is False
