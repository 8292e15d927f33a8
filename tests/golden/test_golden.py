"""Golden tests: one failing fixture (at least) per diagnostic code.

Each `tests/golden/<CODE>_<name>.cd` is linted as `dslc lint --format full` would print it
(every diagnostic rendered in full, a blank line after each, then the summary line), with
paths relative to the repository root so that the output is stable, and compared with the
sibling `.txt`. Each fixture shows one mistake and must produce exactly one diagnostic, with
the code its name starts with (anything more would be a cascade). Regenerate the expected files with

    UPDATE_GOLDEN=1 python -m pytest tests/golden

and review every changed `.txt` by eye before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dslc.api import compile, lint
from dslc.diagnostics.codes import CODES
from dslc.diagnostics.diagnostic import Diagnostic, sorted_diagnostics
from dslc.diagnostics.render import render_full, summary_line
from dslc.syntax.parser import MAX_SOURCE_CHARS

GOLDEN = Path(__file__).resolve().parent
REPO = GOLDEN.parent.parent
FIXTURES = sorted(GOLDEN.glob("*.cd"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
NAME = re.compile(r"^(?P<code>[A-Z]\d{3})_[a-z0-9_]+\.cd$")

# Codes with no fixture, and why (see the report in docs/diagnostics/README.md).
UNTESTABLE: dict[str, str] = {
    "E900": "internal errors are bugs in dslc; no input is meant to trigger one",
    "E801": "about ONNX models, not .cd files: tests/interop/test_onnx_import.py",
    "E802": "about ONNX models, not .cd files: tests/interop/test_onnx_import.py",
    "E803": "about ONNX models, not .cd files: tests/interop/test_onnx_import.py",
    "E804": "about PyTorch modules, not .cd files: tests/interop/test_torch_import.py",
    "E805": "about Timeloop files, not .cd files: tests/interop/test_timeloop.py",
    "E806": "about Timeloop files, not .cd files: tests/interop/test_timeloop.py",
}


def padded(path: Path) -> bytes | None:
    """Fixtures too large to keep in the repository are generated from a small file."""
    if path.name.startswith("E107_"):
        return path.read_bytes() + b"#" * MAX_SOURCE_CHARS + b"\n"
    return None


def diagnostics_of(path: Path) -> list[Diagnostic]:
    relative = path.relative_to(REPO).as_posix()
    data = padded(path)
    if data is not None:
        return sorted_diagnostics(compile(relative, text=data).diagnostics)
    return list(lint([relative]).diagnostics)


def render(path: Path) -> str:
    """The `dslc lint --format full` output for one fixture."""
    diagnostics = diagnostics_of(path)
    parts = [render_full(d) + "\n" for d in diagnostics]
    parts.append(summary_line(diagnostics, 1))
    return "\n".join(parts) + "\n"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_golden(path: Path) -> None:
    match = NAME.match(path.name)
    assert match, f"fixture names are <CODE>_<short_name>.cd: {path.name}"
    code = match["code"]
    assert code in CODES, f"{path.name}: {code} is not in the catalogue"
    expected_file = path.with_suffix(".txt")
    actual = render(path)
    if UPDATE:
        expected_file.write_text(actual, encoding="utf-8")
    assert expected_file.exists(), f"run UPDATE_GOLDEN=1 to create {expected_file.name}"
    assert actual == expected_file.read_text(encoding="utf-8")
    # One mistake per fixture, reported once: a second diagnostic would be a cascade.
    assert [d.code for d in diagnostics_of(path)] == [code], f"{path.name} must give {code} only"


def test_every_code_has_a_fixture() -> None:
    covered = {NAME.match(p.name)["code"] for p in FIXTURES if NAME.match(p.name)}  # type: ignore[index]
    missing = set(CODES) - covered - set(UNTESTABLE)
    assert missing == set(), f"codes without a golden fixture: {sorted(missing)}"


def test_no_stale_expected_files() -> None:
    stale = [t.name for t in GOLDEN.glob("*.txt") if not t.with_suffix(".cd").exists()]
    assert stale == []


@pytest.mark.parametrize("path", [p for p in FIXTURES if not padded(p)],
                         ids=[p.stem for p in FIXTURES if not padded(p)])
def test_lint_exits_1_on_an_error_and_0_on_a_warning_or_a_note(path: Path) -> None:
    """README.md and docs/cli.md: `dslc lint` exits 0 clean, 1 when the input has errors;
    a warning (W) or a note (N) alone is exit 0. Each fixture has one diagnostic, whose
    severity its code's letter says; the JSON form lists it with that severity."""
    import json

    from typer.testing import CliRunner

    from dslc import cli

    relative = path.relative_to(REPO).as_posix()
    code = path.name[:4]
    result = CliRunner().invoke(cli.app, ["lint", "-f", "json", relative])
    assert result.exit_code == (1 if code.startswith("E") else 0), result.output
    (diagnostic,) = json.loads(result.stdout)
    assert diagnostic["code"] == code
    assert diagnostic["severity"] == {"E": "error", "W": "warning", "N": "note"}[code[0]]
