"""docs/cli.md, "Many diagnostics", and docs/language/guide.md, "Imports", state numbers that
the other tests take from the code's constants: the first ten other places, 160-character
lines, 64 did-you-mean scans per file, 500 imported files. Here each number is the doc's,
written out, and checked on the behaviour at the boundary."""

from __future__ import annotations

import json
from pathlib import Path

from dslc import api
from dslc.diagnostics.diagnostic import error
from dslc.diagnostics.render import render_concise, render_full, render_json
from dslc.diagnostics.span import SourceFile, Span
from dslc.sema import loader


def _identical(count: int) -> tuple[SourceFile, list]:  # type: ignore[type-arg]
    source = SourceFile.of("s.cd", "x" * count + "\n")
    return source, [error("E201", "undefined name `x`", Span(source, i, i + 1))
                    for i in range(count)]


def test_a_repeated_diagnostic_lists_its_first_ten_other_places() -> None:
    """"print once with their count and the first ten other places"; "in JSON one object
    with `count` and `also_at`"."""
    _, diagnostics = _identical(13)  # one shown, 12 other places: 10 listed, 2 counted
    (obj,) = json.loads(render_json(diagnostics))
    assert obj["count"] == 13
    assert [place["column"] for place in obj["also_at"]] == list(range(2, 12))
    concise = render_concise(diagnostics[0], tuple(d.span for d in diagnostics[1:]))
    assert concise.endswith("(reported 13 times; also at " + ", ".join(
        f"s.cd:1:{column}" for column in range(2, 12)) + " and 2 more)")
    _, eleven = _identical(11)  # ten other places: all listed, none counted
    (obj,) = json.loads(render_json(eleven))
    assert len(obj["also_at"]) == 10
    assert "more)" not in render_concise(eleven[0], tuple(d.span for d in eleven[1:]))


def _shown_line(line_length: int) -> str:
    line = "a" * (line_length - 3) + "BAD"
    source = SourceFile.of("s.cd", line + "\n")
    shown = render_full(error("E101", "bad", Span(source, line_length - 3, line_length)))
    (text_line,) = [row for row in shown.splitlines() if row.startswith("1 | ")]
    return text_line[len("1 | "):]


def test_a_line_of_160_characters_is_shown_whole_and_161_as_an_excerpt() -> None:
    """"a source line longer than 160 characters is shown as an excerpt around the span"."""
    assert _shown_line(160) == "a" * 157 + "BAD"
    excerpt = _shown_line(161)
    assert excerpt != "a" * 158 + "BAD"
    assert excerpt.startswith("\N{HORIZONTAL ELLIPSIS}") and excerpt.endswith("BAD")
    assert len(excerpt) < 161


def test_did_you_mean_is_computed_at_most_64_times_per_file() -> None:
    """"a did-you-mean is computed once per undefined name, and at most 64 times per file"."""
    names = [f"lay{i}" for i in range(70)]  # each one edit away from `layN`, defined below
    defined = " ".join(f"layer lax{i} = relu(x)" for i in range(70))
    body = " ".join(f"layer a{i} = relu({name})" for i, name in enumerate(names))
    text = f"network n {{\n    input x: [3, 8, 8]\n    {defined}\n    {body}\n}}\n"
    undefined = [d for d in api.compile(text=text).diagnostics if d.code == "E201"]
    assert len(undefined) == 70
    assert sum(1 for d in undefined if d.help) == 64
    assert all(d.help for d in undefined[:64])


def test_at_most_500_imported_files(tmp_path: Path) -> None:
    """docs/language/guide.md, "Imports": "more than 500 files in all, is E213" (the root
    counts: the root and 499 imports load; a 500th import is refused)."""
    assert loader.MAX_IMPORTS == 500
    for i in range(500):
        (tmp_path / f"f{i}.cd").write_text(f"# file {i}\n")
    at_limit = tmp_path / "at.cd"
    at_limit.write_text("".join(f'import "f{i}.cd"\n' for i in range(499)))
    assert api.compile(at_limit).diagnostics == ()
    past = tmp_path / "past.cd"
    past.write_text("".join(f'import "f{i}.cd"\n' for i in range(500)))
    assert [(d.code, d.message) for d in api.compile(past).diagnostics] == [
        ("E213", "more than the limit of 500 imported files")]
