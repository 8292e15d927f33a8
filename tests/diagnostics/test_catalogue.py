"""The code catalogue, rendering helpers and did-you-mean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dslc
from dslc.diagnostics.codes import CODES, explain
from dslc.diagnostics.diagnostic import Label, did_you_mean, error, sorted_diagnostics, warning
from dslc.diagnostics.render import render_concise, render_full, render_json, summary_line
from dslc.diagnostics.span import SourceFile, Span

PACKAGE = Path(dslc.__file__).resolve().parent


def emitted_codes() -> dict[str, list[str]]:
    """Every diagnostic code literal in the package's source, with where it appears."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "codes.py":
            continue
        for code in re.findall(r"[\"']([EWN]\d{3})[\"']", path.read_text("utf-8")):
            found.setdefault(code, []).append(path.relative_to(PACKAGE).as_posix())
    return found


def test_every_emitted_code_is_in_the_catalogue() -> None:
    unknown = {code: where for code, where in emitted_codes().items() if code not in CODES}
    assert unknown == {}


def test_catalogue_entries_are_well_formed() -> None:
    for code, entry in CODES.items():
        assert re.fullmatch(r"[EWN]\d{3}", code)
        assert entry.code == code
        assert entry.title and entry.title == entry.title.strip()
        assert entry.explanation and entry.explanation == entry.explanation.strip()
        assert not entry.title.endswith(".")


def test_explain() -> None:
    text = explain("E201")
    assert text is not None
    assert text.startswith("E201: undefined name\n\n")
    assert explain("e201") == text
    assert explain("E999") is None
    assert explain("") is None


SOURCE = SourceFile.of("spec.cd", "network n {\n    layer a = conv(x)\n}\n")


def test_render_full_with_related_help_and_notes() -> None:
    diagnostic = error("E202", "`a` is defined twice", Span(SOURCE, 22, 23), label="here",
                       help="rename one", notes=["a note"],
                       related=[Label(Span(SOURCE, 8, 9), "first")])
    assert render_full(diagnostic) == "\n".join([
        "error[E202]: `a` is defined twice",
        " --> spec.cd:2:11",
        "  |",
        "2 |     layer a = conv(x)",
        "  |           ^ here",
        "  |",
        "1 | network n {",
        "  |         - first",
        "  |",
        "  = note: a note",
        "  = help: rename one",
    ])


def test_render_full_without_a_span() -> None:
    assert render_full(error("E107", "file too large", None)) == "error[E107]: file too large"


def test_render_concise_and_summary() -> None:
    diagnostic = warning("W201", "unused", Span(SOURCE, 16, 21), help="remove it")
    assert render_concise(diagnostic) == "spec.cd:2:5: warning[W201]: unused (help: remove it)"
    assert summary_line([diagnostic], 1) == "1 file checked: 1 warning"
    assert summary_line([], 2) == "2 files checked: no problems found"
    two = [error("E201", "x", None), error("E201", "y", None), diagnostic]
    assert summary_line(two, 3) == "3 files checked: 2 errors, 1 warning"


def test_render_json() -> None:
    diagnostic = error("E201", "undefined name `x`", Span(SOURCE, 31, 32), label="here",
                       help="did you mean `y`?")
    (obj,) = json.loads(render_json([diagnostic]))
    assert obj == {
        "code": "E201", "severity": "error", "message": "undefined name `x`",
        "file": "spec.cd",
        "start": {"line": 2, "column": 20, "offset": 31},
        "end": {"line": 2, "column": 21, "offset": 32},
        "label": "here", "help": "did you mean `y`?",
    }


def test_control_characters_are_not_printed_raw() -> None:
    source = SourceFile.of("s.cd", "a\x1b[31mb\tc\n")
    text = render_full(error("E101", "bad", Span(source, 1, 2)))
    assert "\x1b" not in text
    assert "\t" not in text


def test_sorted_diagnostics_orders_and_deduplicates() -> None:
    late = error("E201", "late", Span(SOURCE, 30, 31))
    early = error("E201", "early", Span(SOURCE, 2, 3))
    assert sorted_diagnostics([late, early, late]) == [early, late]


@pytest.mark.parametrize(("name", "candidates", "expected"), [
    ("sise", ["size", "width"], "size"),
    ("outputs", ["out", "groups", "kernel"], "out"),
    ("Conv", ["conv", "dense"], "conv"),
    ("row_stationery", ["row_stationary", "weight_stationary"], "row_stationary"),
    ("zzz", ["size", "width"], None),
])
def test_did_you_mean(name: str, candidates: list[str], expected: str | None) -> None:
    result = did_you_mean(name, candidates)
    assert result == (f"did you mean `{expected}`?" if expected else "")
