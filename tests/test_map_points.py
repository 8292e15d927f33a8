"""`dslc map -n NAME(param = value, ...) -a NAME(...)` picks design points of spaces, says
which point it used when none is given, and prints a mapping block that lints clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli

TINY = Path(__file__).resolve().parent / "codesign" / "tiny.cd"
runner = CliRunner()
OPTIONS = ["-l", "a", "--search", "heuristic", "--budget", "100"]


def _block(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("mapping "))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    return "\n".join(lines[start:end + 1]) + "\n"


def test_a_point_of_each_space(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, [
        "map", str(TINY), "-n", "tiny_space(width = 16, kernel = 3, depth = 2)",
        "-a", "grid(rows = 8, glb = 16 KiB, flow = output_stationary)", *OPTIONS])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    block = _block(result.stdout)
    assert block.startswith("mapping best_a for tiny_space(depth = 2, kernel = 3, width = 16).a "
                            "on grid(flow = output_stationary, glb = 16KiB, rows = 8) {")
    spec = tmp_path / "with_block.cd"
    spec.write_text(TINY.read_text() + "\n" + block)
    linted = api.lint([spec])
    assert linted.diagnostics == ()


def test_no_point_given_uses_the_first_and_says_so(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["map", str(TINY), "-n", "tiny_space", "-a", "grid",
                                     *OPTIONS])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: the network is a space; mapped on its first point, tiny_space(depth = 1, "
        "kernel = 1, width = 8) (pick one with NAME(param = value, ...))",
        "note: the accelerator is a space; mapped on its first point, grid(flow = "
        "weight_stationary, glb = 4KiB, rows = 4) (pick one with NAME(param = value, ...))"]
    spec = tmp_path / "with_block.cd"
    spec.write_text(TINY.read_text() + "\n" + _block(result.stdout))
    assert api.lint([spec]).diagnostics == ()


@pytest.mark.parametrize(("accelerator", "message"), [
    ("grid(rows = 5)", "`5` is not a value of `rows` in `grid` (its values: 4, 8)"),
    ("grid(cols = 5)", "`cols = 5` is not `param = value` for a parameter of `grid` "
                       "(its parameters: rows, glb, flow)"),
    ("grid(rows = 8)", "parameter"),  # glb and flow have several values: all are needed
    ("grid(", "`grid(` is not an accelerator name or `NAME(param = value, ...)`"),
    # A parameter given twice was taken at its last value, silently (a spec says E210).
    ("grid(rows = 4, glb = 4KiB, flow = weight_stationary, rows = 8)",
     "`rows` is given twice in `grid(rows = 4, glb = 4KiB, flow = weight_stationary, "
     "rows = 8)`"),
    ("nope(rows = 8)", "no accelerator `nope`"),
])
def test_bad_points_are_usage_errors(accelerator: str, message: str) -> None:
    result = runner.invoke(cli.app, ["map", str(TINY), "-n", "tiny_space", "-a", accelerator,
                                     *OPTIONS])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


def test_the_json_names_the_points_used() -> None:
    result = runner.invoke(cli.app, ["map", str(TINY), "-n", "tiny_space", "-a",
                                     "grid(rows = 8, glb = 16KiB, flow = output_stationary)",
                                     *OPTIONS, "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["design"] == {
        "network": "tiny_space(depth = 1, kernel = 1, width = 8)",
        "accelerator": "grid(flow = output_stationary, glb = 16KiB, rows = 8)"}
