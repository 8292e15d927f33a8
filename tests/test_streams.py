"""Streams and exit codes: stdout carries the result only, errors and notes go to stderr,
`--format json` prints exactly one JSON document on stdout whatever happens, exit codes
0/1/2/3/130 everywhere, `dslc lint DIR`, and the lint checks of accuracy tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.codesign.designs import Design
from dslc.codesign.metrics import load_accuracies
from dslc.spec.codesign import parse_accuracy

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

ACCELERATOR = """
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 64KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
"""
# 1,600 points; lint checks a sample of 64 that misses the one point that does not build
# (p = 40, q = 1: a 40-wide kernel over a 39-wide input).
LATE_FAILURE = """network n {
    param p in 1..40
    param q in 1..40
    input x: [3, q + 38, q + 38]
    layer a = conv(x, out = 4, kernel = p)
}
""" + ACCELERATOR + """
codesign one { networks = n accelerators = acc mapper { search = heuristic, budget = 50 } }
"""
SMALL = """network n {
    input x: [4, 6, 6]
    layer a = conv(x, out = 4, kernel = 3)
}
""" + ACCELERATOR + """
codesign one { networks = n accelerators = acc mapper { search = heuristic, budget = 50 } }
"""
TABLE_SPEC = """network n {
    param width in {8, 16}
    input x: [4, 6, 6]
    layer a = conv(x, out = width, kernel = 3)
}
""" + ACCELERATOR + """
codesign one {
    networks = n accelerators = acc
    accuracy = table("acc.csv")
    constraint accuracy >= 50%
    mapper { search = heuristic, budget = 50 }
}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_point_failing_at_run_time_is_exit_1_with_its_values(here: Path) -> None:
    (here / "late.cd").write_text(LATE_FAILURE)
    assert api.lint(["late.cd"]).errors == ()
    result = runner.invoke(cli.app, ["run", "late.cd", "--cache", ":memory:"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error[E401]: shape mismatch in `a`" in result.stderr
    assert "= note: at the point p = 40, q = 1" in result.stderr
    assert "checked" not in result.stderr  # lint's summary line is lint's
    as_json = runner.invoke(cli.app, ["run", "late.cd", "--cache", ":memory:", "-f", "json"])
    assert as_json.exit_code == 1
    (diagnostic,) = json.loads(as_json.stdout)["diagnostics"]
    assert diagnostic["code"] == "E401"
    assert diagnostic["notes"] == ["at the point p = 40, q = 1"]


@pytest.mark.parametrize(("args", "code", "document"), [
    (["run", "missing.cd"], 1, {"diagnostics"}),
    (["run", "small.cd", "-c", "nope"], 2, {"error"}),
    (["map", "small.cd", "-n", "n", "-l", "a", "-a", "nope"], 2, {"error"}),
    (["eval", "small.cd", "-m", "nope"], 2, {"error"}),
    (["plan", "small.cd", "-c", "nope"], 2, {"error"}),
])
def test_json_errors_are_one_document_on_stdout(here: Path, args: list[str], code: int,
                                                document: set[str]) -> None:
    (here / "small.cd").write_text(SMALL)
    result = runner.invoke(cli.app, [*args, "--format", "json"])
    assert result.exit_code == code
    data = json.loads(result.stdout)
    assert set(data) == document
    if "error" in data:
        assert data["error"]["kind"] == "usage"
        assert data["error"]["exit_code"] == 2
        assert data["error"]["message"] in result.stderr
    plain = runner.invoke(cli.app, args)
    assert plain.exit_code == code
    assert plain.stdout == ""
    assert plain.stderr.startswith("error")


def test_a_valid_spec_that_cannot_run_in_json(here: Path) -> None:
    (here / "small.cd").write_text(
        "network n { input x: [4, 6, 6] layer a = conv(x, out = 4, kernel = 3) }\n"
        "accelerator acc { word = 16b clock = 1GHz memory M { size = 8 words } "
        "compute MAC { } }\n")
    result = runner.invoke(cli.app, ["map", "small.cd", "-n", "n", "-l", "a", "-a", "acc",
                                     "-f", "json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "cannot_run"
    assert error["message"] == "no valid mapping of `a` on `acc`"
    assert error["reasons"] and error["exit_code"] == 1


def test_success_writes_the_result_to_stdout_and_notes_to_stderr(here: Path) -> None:
    (here / "small.cd").write_text(SMALL)
    result = runner.invoke(cli.app, ["run", "small.cd", "--out", "out", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["network"] == "n"
    table = runner.invoke(cli.app, ["run", "small.cd", "--out", "out", "--force"])
    assert table.exit_code == 0
    assert "wrote result.json, layers.csv and breakdown.png to out" in table.stderr
    assert "wrote" not in table.stdout


@pytest.mark.parametrize("spec", ["design", "space"])
def test_the_note_of_files_written_is_on_stderr_under_json_too(here: Path, spec: str) -> None:
    """docs/cli.md, "Streams": notes (`wrote ... to DIR`) go to stderr; with `--format json`
    stdout is the one document, and the note still says where the files went (under JSON it
    was dropped: `--out` wrote its files silently)."""
    from tests.test_cli import SMALL_DESIGN, SMALL_SPACE

    (here / "s.cd").write_text(SMALL_DESIGN if spec == "design" else SMALL_SPACE)
    result = runner.invoke(cli.app, ["run", "s.cd", "--out", "out", "-f", "json", "--cache",
                                     ":memory:"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout: the document alone
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("wrote ")]
    files = "layers.csv and breakdown.png" if spec == "design" else "pairs.csv and pareto.png"
    assert line == f"wrote result.json, {files} to out"


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["dslc", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


@pytest.mark.parametrize("argv", [["run", "-f", "json"], ["run", "--format=json"],
                                  ["bogus", "--format", "json"],
                                  ["lint", "--format", "json", "--bogus", "x.cd"]])
def test_usage_errors_under_json_are_a_json_document(
        argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(argv, monkeypatch, capsys)
    assert code == 2
    error = json.loads(out)["error"]
    assert error["kind"] == "usage" and error["exit_code"] == 2
    assert "Usage: dslc" in err


def test_exit_codes_through_main(here: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    (here / "small.cd").write_text(SMALL)
    (here / "bad.cd").write_text("network n {")
    assert _main(["lint", "small.cd"], monkeypatch, capsys)[0] == 0
    assert _main(["lint", "bad.cd"], monkeypatch, capsys)[0] == 1
    assert _main(["lint"], monkeypatch, capsys)[0] == 2
    assert _main(["explain", "E999"], monkeypatch, capsys)[:2] == (2, "")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "run", interrupted)
    code, out, err = _main(["run", "small.cd", "-f", "json"], monkeypatch, capsys)
    assert code == 130
    assert json.loads(out) == {"error": {"kind": "interrupted", "message": "interrupted",
                                         "reasons": [], "exit_code": 130}}
    assert err == "interrupted\n"

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(api, "run", broken)
    code, out, err = _main(["run", "small.cd", "-f", "json"], monkeypatch, capsys)
    assert code == 3
    assert json.loads(out)["error"] == {"kind": "internal", "code": "E900",
                                        "message": "internal error: ValueError: boom",
                                        "reasons": [], "exit_code": 3}
    for stream in (out, err):
        assert "error: 1" not in stream and "error: 2" not in stream


def test_no_stray_error_lines_in_a_real_process(here: Path) -> None:
    (here / "small.cd").write_text(SMALL)
    for args, code in ((["run", "small.cd", "-c", "nope"], 2), (["run", "no.cd"], 1),
                       (["lint", "--bogus"], 2)):
        done = subprocess.run([sys.executable, "-m", "dslc", *args], capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == code, done.stderr
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert not any(line.strip() in ("error: 1", "error: 2") for line in lines)


def test_lint_a_directory(here: Path) -> None:
    (here / "specs" / "more").mkdir(parents=True)
    (here / "specs" / ".hidden").mkdir()
    (here / "specs" / "a.cd").write_text(SMALL)
    (here / "specs" / "more" / "b.cd").write_text("network n {")
    (here / "specs" / ".hidden" / "c.cd").write_text("network n {")
    (here / "specs" / ".#a.cd").write_text("network n {")  # an editor's lock file: hidden
    (here / "specs" / "notes.txt").write_text("not a spec")
    result = runner.invoke(cli.app, ["lint", "specs", "-f", "concise"])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("specs/more/b.cd:1:11: error[E103]")
    assert lines[-1] == "2 files checked: 1 error"
    assert api.lint(["specs"]).files == ("specs/a.cd", "specs/more/b.cd")


def test_the_shipped_library_and_examples_lint_clean_as_directories() -> None:
    result = runner.invoke(cli.app, ["lint", str(REPO / "examples"),
                                     str(REPO / "dslc" / "std"), "-f", "concise"])
    assert result.exit_code == 0, result.output
    # every .cd file under both directories, counted here by a glob of its own
    count = sum(len(list(root.rglob("*.cd"))) for root in (REPO / "examples",
                                                           REPO / "dslc" / "std"))
    assert count >= 22  # 14 in the library, 8 examples when this was written
    assert result.stdout.strip().splitlines()[-1] == \
        f"{count} files checked: no problems found"


@pytest.mark.parametrize(("text", "value"), [
    ("0.901", 0.901), ("90.1", 0.901), ("90.1%", 0.901), (" 70 % ", 0.70), ("1", 1.0),
    ("0", 0.0), ("abc", None), ("", None), ("101", None), ("-0.5", None), ("nan", None),
    ("9e1", 0.9), (".5", 0.5), ("1_0", None), ("0_5%", None), ("infinity", None),
    ("\uff19\uff10", None), ("0x1", None), ("1e400", None),
])
def test_accuracy_values(text: str, value: float | None) -> None:
    parsed = parse_accuracy(text)
    assert parsed == pytest.approx(value) if value is not None else parsed is None


@pytest.mark.parametrize(("table", "message"), [
    ("width,accuracy\n8,90.1%\n16,0.75\n", None),
    ("network,accuracy\nn(width=8),71%\nn,0.7\n", None),
    ("width,top1\n8,0.7\n", "the accuracy table `acc.csv` has no `accuracy` column"),
    ("width,depth,accuracy\n8,1,0.7\n", "the accuracy table `acc.csv` has a column `depth` "
                                        "that is not a parameter of the searched networks"),
    ("width,accuracy\n8,0.7\n16,high\n",
     "cannot read the accuracy table: acc.csv:3:2: accuracy `high` is not an accuracy"),
    ("width,accuracy\n12,0.7\n",
     "accuracy table `acc.csv`, line 2: `width = 12` is not a value of the parameter"),
    ("width,accuracy\n8.0,0.7\n1_6,0.75\n",  # `1_6` is not 16 (Python's float says it is)
     "accuracy table `acc.csv`, line 3: `width = 1_6` is not a value of the parameter"),
    ("width,accuracy\n8,0.7\n16,7_5\n",
     "cannot read the accuracy table: acc.csv:3:2: accuracy `7_5` is not an accuracy"),
    ("network,accuracy\nresnet,0.7\n",
     "accuracy table `acc.csv`, line 2: `resnet` is not one of the searched networks (n)"),
    ("accuracy\n0.7\n", "the accuracy table `acc.csv` does not say which network a row is"),
])
def test_lint_checks_accuracy_tables(here: Path, table: str, message: str | None) -> None:
    (here / "t.cd").write_text(TABLE_SPEC)
    (here / "acc.csv").write_text(table)
    found = api.lint(["t.cd"])
    errors = [d for d in found.diagnostics if d.is_error]
    if message is None:
        assert errors == []
        return
    (error,) = errors
    assert error.code == "E706"
    assert error.message.startswith(message)
    assert error.span is not None and error.span.file.text[
        error.span.start:error.span.end] == 'table("acc.csv")'
    if "column `depth`" in message:
        assert error.help == "valid columns: network, accuracy, width"


def test_a_percent_sign_loads_as_a_fraction(here: Path) -> None:
    (here / "acc.csv").write_text("width,accuracy\n8,90.1%\n16,75\n")
    designs = [Design("network", "n", i, (("width", w),)) for i, w in enumerate((8, 16))]
    found = load_accuracies(here / "acc.csv", designs)
    assert found == {designs[0]: pytest.approx(0.901), designs[1]: pytest.approx(0.75)}


def test_progress_shows_when_stderr_is_a_terminal_whatever_stdout_is(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    (here / "small.cd").write_text(SMALL)
    for terminal in (True, False):
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(cli, "console", Console(file=out, force_terminal=False))
        monkeypatch.setattr(cli, "err_console", Console(file=err, force_terminal=terminal))
        result = runner.invoke(cli.app, ["run", "small.cd", "-f", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(out.getvalue())["network"] == "n"  # stdout: the JSON alone
        assert ("mapping" in err.getvalue()) is terminal  # the layer bar, on stderr only


@pytest.mark.parametrize("command", [["run"], ["plan"], ["eval", "-m", "m"],
                                     ["map", "-n", "n", "-l", "a", "-a", "a"]],
                         ids=lambda command: command[0])
def test_spec_errors_under_json_are_lints_diagnostics(here: Path, command: list[str]) -> None:
    """docs/cli.md, "Streams": spec errors (exit 1) are `{"diagnostics": [...]}`, "each as
    in `dslc lint --format json`"; the text form is on stderr as well."""
    from tests.test_cli import BROKEN

    (here / "broken.cd").write_text(BROKEN)
    lint = runner.invoke(cli.app, ["lint", "broken.cd", "-f", "json"])
    assert lint.exit_code == 1
    name, *options = command
    result = runner.invoke(cli.app, [name, "broken.cd", *options, "-f", "json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == {"diagnostics": json.loads(lint.stdout)}
    assert "error[E201]: undefined name `y`" in result.stderr


def test_the_error_documents_have_exactly_the_documented_shape(
        here: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """docs/cli.md, "Streams": the usage document is `{"error": {"kind": "usage",
    "message", "reasons": [], "exit_code": 2}}` and the cannot-run one `{"error": {"kind":
    "cannot_run", "message", "reasons": [...], "exit_code": 1}}`: these keys, no others."""
    (here / "small.cd").write_text(SMALL)
    usage = runner.invoke(cli.app, ["run", "small.cd", "-c", "nope", "-f", "json"])
    assert usage.exit_code == 2
    assert json.loads(usage.stdout) == {"error": {
        "kind": "usage", "message": json.loads(usage.stdout)["error"]["message"],
        "reasons": [], "exit_code": 2}}
    # From option parsing (typer), the same shape.
    code, out, _ = _main(["lint", "--format", "json", "--bogus", "x.cd"], monkeypatch, capsys)
    assert code == 2
    document = json.loads(out)
    assert list(document) == ["error"]
    assert (set(document["error"]), document["error"]["kind"], document["error"]["reasons"],
            document["error"]["exit_code"]) == ({"kind", "message", "reasons", "exit_code"},
                                                "usage", [], 2)
    (here / "tight.cd").write_text(
        "network n { input x: [4, 6, 6] layer a = conv(x, out = 4, kernel = 3) }\n"
        "accelerator acc { word = 16b clock = 1GHz memory M { size = 8 words } "
        "compute MAC { } }\n")
    cannot = runner.invoke(cli.app, ["map", "tight.cd", "-n", "n", "-l", "a", "-a", "acc",
                                     "-f", "json"])
    assert cannot.exit_code == 1
    error = json.loads(cannot.stdout)["error"]
    assert list(json.loads(cannot.stdout)) == ["error"]
    assert set(error) == {"kind", "message", "reasons", "exit_code"}
    assert (error["kind"], error["exit_code"]) == ("cannot_run", 1)
    assert error["reasons"] and all(isinstance(reason, str) for reason in error["reasons"])


def test_json_output_never_holds_nan_or_infinity() -> None:
    """docs/language/guide.md, "Limits": "JSON output never holds NaN or infinity (`null`
    instead)": every result document goes through `export.to_json`."""
    import math

    from dslc import export

    text = export.to_json({"a": math.nan, "b": [math.inf, 1.5, (-math.inf, 2)],
                           "c": {"d": float("nan"), "e": "nan"}, "f": 0.0})

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    assert json.loads(text, parse_constant=refuse) == {
        "a": None, "b": [None, 1.5, [None, 2]], "c": {"d": None, "e": "nan"}, "f": 0.0}
