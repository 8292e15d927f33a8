"""Accuracy tables (issue 17): a short row, invalid UTF-8, `nan` or a value outside [0, 1]
(0-100%) is a diagnostic naming the file, the row and the column, in `dslc lint` (E706) and
in `dslc run` (exit 1); NaN never reaches the JSON."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.codesign.designs import Design
from dslc.codesign.metrics import AccuracyError, load_accuracies
from dslc.export import to_json

runner = CliRunner()
SPEC = """network n {
    param width in {8, 16}
    input x: [4, 6, 6]
    layer a = conv(x, out = width, kernel = 3)
}
accelerator acc {
    word = 16b clock = 1GHz
    memory DRAM { width = 64b }
    memory GLB { size = 64KiB, width = 64b }
    fanout PE { mesh = 2 x 2 }
    memory RF { size = 64 words }
    compute MAC { }
}
codesign one {
    networks = n accelerators = acc
    accuracy = table("acc.csv")
    objective = maximize accuracy / energy
    mapper { search = heuristic, budget = 50 }
}
"""
DESIGNS = [Design("network", "n", i, (("width", w),)) for i, w in enumerate((8, 16))]

BAD = [
    # (table bytes, row, column, what the message says there)
    (b"width,accuracy\n8,0.7\n16\n", 3, 2, "the row has 1 cells and the header 2 (column "
                                           "`accuracy` missing)"),
    (b"width,accuracy\n8,0.7,x\n", 2, 3, "the row has 3 cells and the header 2 (a cell past "
                                         "the last column)"),
    (b"width,accuracy\n8,0.7\n16,0.\xff9\n", 3, 2, "not valid UTF-8 (byte 0xff)"),
    (b"width,accuracy\n8,nan\n", 2, 2, "accuracy `nan` is not an accuracy"),
    (b"width,accuracy\n8,0.7\n16,-0.1\n", 3, 2, "accuracy `-0.1` is not an accuracy"),
    (b"width,accuracy\n8,101\n", 2, 2, "accuracy `101` is not an accuracy"),
    (b"width,accuracy\n8,100.5%\n", 2, 2, "accuracy `100.5%` is not an accuracy"),
    (b"accuracy,width\ninf,8\n", 2, 1, "accuracy `inf` is not an accuracy"),
]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.cd").write_text(SPEC)
    return tmp_path


@pytest.mark.parametrize(("table", "row", "column", "what"), BAD,
                         ids=["short row", "long row", "utf-8", "nan", "negative", "above 100",
                              "above 100%", "infinite"])
def test_a_bad_table_names_file_row_and_column(here: Path, table: bytes, row: int,
                                               column: int, what: str) -> None:
    (here / "acc.csv").write_bytes(table)
    (error,) = [d for d in api.lint(["t.cd"]).diagnostics if d.is_error]
    assert error.code == "E706"
    assert error.message.startswith(f"cannot read the accuracy table: acc.csv:{row}:{column}: "
                                    f"{what}")
    with pytest.raises(AccuracyError) as failure:
        load_accuracies(here / "acc.csv", DESIGNS)
    assert str(failure.value).startswith(f"cannot read the accuracy table "
                                         f"{here / 'acc.csv'}:{row}:{column}: {what}")


def test_a_table_that_changes_after_lint_fails_the_run_cleanly(here: Path) -> None:
    # A table read by the run, not only by lint: the same check, as exit 1 (not E900).
    (here / "acc.csv").write_text("width,accuracy\n8,0.7\n16,0.8\n")
    program = api.compile("t.cd")
    assert program.errors == ()
    (here / "acc.csv").write_bytes(b"width,accuracy\n8,nan\n")
    with pytest.raises(AccuracyError, match=r"acc.csv:2:2: accuracy `nan` is not an accuracy"):
        api.search(program, store=":memory:")


def test_a_fifo_table_is_refused_without_blocking(here: Path) -> None:
    os.mkfifo(here / "pipe.csv")
    with pytest.raises(AccuracyError, match=r"pipe\.csv: not a regular file"):
        load_accuracies(here / "pipe.csv", DESIGNS)


def test_valid_tables_load_and_the_json_has_no_nan(here: Path) -> None:
    (here / "acc.csv").write_text("width,accuracy\n8,90%\n")  # width 16: unknown accuracy
    found = load_accuracies(here / "acc.csv", DESIGNS)
    assert found == {DESIGNS[0]: pytest.approx(0.9)}
    result = runner.invoke(cli.app, ["run", "t.cd", "-f", "json", "--cache", ":memory:",
                                     "--strategy", "exhaustive"])
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    data = json.loads(result.stdout)
    accuracies = [pair.get("accuracy") for pair in data["pareto"]] + [
        data["best"]["accuracy"]]
    assert all(a is None or 0 <= a <= 1 for a in accuracies)
    assert data["best"]["accuracy"] == pytest.approx(0.9)


def test_to_json_never_writes_nan_or_infinity() -> None:
    text = to_json({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": (math.nan,)}})
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": {"d": [None]}}


@pytest.mark.parametrize(("table", "message"), [
    (b"width,accuracy\n8,0.5\n16,0.7\n8,0.6\n", "accuracy table `acc.csv`, lines 2 and 4 both "
     "give the accuracy of `width = 8`, differently (0.5 and 0.6)"),
    (b"width,accuracy\n8,0.5\n 8.0 ,70%\n", "accuracy table `acc.csv`, lines 2 and 3 both "
     "give the accuracy of `width = 8.0`, differently (0.5 and 70%)"),
])
def test_two_rows_for_one_network_with_different_accuracies(here: Path, table: bytes,
                                                          message: str) -> None:
    """Which of two conflicting rows counted was the row order's accident (the last one,
    silently)."""
    (here / "acc.csv").write_bytes(table)
    (error,) = [d for d in api.lint(["t.cd"]).diagnostics if d.is_error]
    assert (error.code, error.message, error.help) == ("E706", message,
                                                       "keep one row per network")


def test_a_repeated_row_with_the_same_accuracy_is_fine(here: Path) -> None:
    (here / "acc.csv").write_bytes(b"width,accuracy\n8,0.5\n16,0.7\n8.0,50%\n")
    assert [d for d in api.lint(["t.cd"]).diagnostics if d.is_error] == []
