"""Bounded front-end work (issue 17): the expanded size of a network is limited (E405, at the
statement that multiplies, with the count), identical diagnostics are shown once with their
count, a diagnostic on a very long line shows an excerpt, and an undefined name used on
every statement of a long line costs one did-you-mean scan, not one per use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dslc import api, cli
from dslc.diagnostics.diagnostic import error
from dslc.diagnostics.render import (
    MAX_OTHER_PLACES,
    MAX_SHOWN_LINE,
    group_identical,
    render_concise,
    render_full,
    render_json,
)
from dslc.diagnostics.span import SourceFile, Span
from dslc.sema import evaluate, network
from dslc.sema.network import MAX_LAYERS

NESTED = """
template t(x) {
    block inner = repeat 10000 from x { relu(prev) }
    return inner
}
network n {
    input x: [3, 8, 8]
    block outer = repeat 10000 from x { t(prev) }
}
"""


def test_nested_repeats_are_refused_at_the_outer_repeat_with_the_count() -> None:
    program = api.compile(text=NESTED)
    (diagnostic,) = program.diagnostics
    assert diagnostic.code == "E405"
    assert diagnostic.span is not None
    assert diagnostic.span.text.startswith("block outer = repeat 10000")
    # The inner repeat expands to 10,000 layers; the outer one multiplies them by 10,000.
    assert "100,000,000 layers" in diagnostic.message
    assert f"{MAX_LAYERS:,}" in diagnostic.message
    assert diagnostic.label == "10,000 repeats of 10,000 layers each"


def test_a_network_at_the_limit_elaborates_and_one_past_it_is_e405(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The rule at a limit of 1,000 layers (the real one, 100,000, takes seconds to build):
    # 10 repeats of a template of 100 layers are exactly the limit; one more layer is not.
    assert MAX_LAYERS == 100_000
    monkeypatch.setattr(network, "MAX_LAYERS", 1000)
    at_limit = """
template t(x) {
    block c = repeat 100 from x { relu(prev) }
    return c
}
network n {
    input x: [1]
    block b = repeat 10 from x { t(prev) }
}
"""
    program = api.compile(text=at_limit)
    assert program.diagnostics == ()
    assert len(program.networks["n"].instantiate(()).layers) == 1000
    past = at_limit.replace("t(prev) }\n}", "t(prev) }\n    layer extra = relu(b)\n}")
    (diagnostic,) = api.compile(text=past).diagnostics
    assert diagnostic.code == "E405"
    assert diagnostic.span is not None and diagnostic.span.text == "relu(b)"
    assert "1,000 layers" in diagnostic.message
    eleven = at_limit.replace("repeat 10 from", "repeat 11 from")
    (diagnostic,) = api.compile(text=eleven).diagnostics
    assert diagnostic.code == "E405"
    assert diagnostic.span is not None
    assert diagnostic.span.text.startswith("block b = repeat 11")
    assert "1,100 layers" in diagnostic.message


def _one_line(count: int, operand: str) -> str:
    body = " ".join(f"layer a{i} = relu({operand})" for i in range(count))
    return f"network n {{\n    input x: [3, 8, 8]\n    {body}\n}}\n"


def test_a_long_line_of_statements_past_the_limit_names_the_statement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The 150,000 statements on one line, scaled to a limit of 1,000: the statement
    # that makes layer 1,001 is named.
    monkeypatch.setattr(network, "MAX_LAYERS", 1000)
    text = _one_line(1500, "x")
    diagnostics = api.compile(text=text).diagnostics
    assert [d.code for d in diagnostics] == ["E405"]
    assert diagnostics[0].span is not None
    assert diagnostics[0].span.text == "relu(x)"
    assert diagnostics[0].span.file.line_col(diagnostics[0].span.start)[0] == 3
    assert text[:diagnostics[0].span.start].endswith("layer a1000 = ")


def test_one_undefined_name_on_every_statement_is_reported_once_with_its_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    count = 3000
    scans: list[str] = []
    original = evaluate.did_you_mean

    def counting(name: str, candidates: list[str]) -> str:
        scans.append(name)
        return original(name, candidates)

    monkeypatch.setattr(evaluate, "did_you_mean", counting)
    text = _one_line(count, "y")
    diagnostics = api.compile(text=text).diagnostics
    assert len(diagnostics) == count
    assert {d.code for d in diagnostics} == {"E201"}
    # One scan of the names in scope for `y`, however many times it is used.
    assert scans == ["y"]
    groups = group_identical(list(diagnostics))
    assert len(groups) == 1
    first, others = groups[0]
    assert len(others) == count - 1
    shown = render_full(first, others)
    assert f"reported {count:,} times" in shown
    assert f"and {count - 1 - MAX_OTHER_PLACES:,} more" in shown
    # The excerpt: no source line longer than the limit plus its context and ellipses.
    assert max(len(line) for line in shown.splitlines() if " | " in line) < 2 * MAX_SHOWN_LINE
    (obj,) = json.loads(render_json(list(diagnostics)))
    assert obj["count"] == count
    assert len(obj["also_at"]) == MAX_OTHER_PLACES
    line_text = text.splitlines()[2]
    second = line_text.index("relu(y)", line_text.index("relu(y)") + 1)
    assert obj["also_at"][0]["column"] == second + len("relu(") + 1


def test_suggestions_stop_after_their_budget() -> None:
    # Distinct undefined names: each costs a scan, up to MAX_SUGGESTIONS; later ones get none.
    names = [f"zz{i}" for i in range(evaluate.MAX_SUGGESTIONS + 5)]
    body = " ".join(f"layer a{i} = relu({name})" for i, name in enumerate(names))
    text = f"network n {{\n    input x: [3, 8, 8]\n    layer zz = relu(x)\n    {body}\n}}\n"
    diagnostics = [d for d in api.compile(text=text).diagnostics if d.code == "E201"]
    assert len(diagnostics) == len(names)
    helped = [d for d in diagnostics if d.help]
    assert len(helped) == evaluate.MAX_SUGGESTIONS


def test_the_excerpt_points_at_the_span() -> None:
    line = "x" * 1000 + "BAD" + "y" * 1000
    source = SourceFile.of("s.cd", line + "\n")
    shown = render_full(error("E101", "bad", Span(source, 1000, 1003), label="here"))
    text_line, caret_line = shown.splitlines()[3:5]
    assert text_line.startswith("1 | \N{HORIZONTAL ELLIPSIS}")
    assert text_line.endswith("\N{HORIZONTAL ELLIPSIS}")
    position = text_line.index("BAD")
    assert caret_line.index("^^^") == position
    assert caret_line.endswith("^^^ here")
    assert len(text_line) == len("1 | ") + 1 + 60 + 3 + 60 + 1


def test_distinct_diagnostics_are_not_grouped() -> None:
    source = SourceFile.of("s.cd", "abc\n")
    a = error("E201", "undefined name `a`", Span(source, 0, 1))
    b = error("E201", "undefined name `b`", Span(source, 1, 2))
    a2 = error("E201", "undefined name `a`", Span(source, 2, 3))
    assert group_identical([a, b, a2]) == [(a, (a2.span,)), (b, ())]
    assert render_concise(b) == "s.cd:1:2: error[E201]: undefined name `b`"
    assert render_concise(a, (a2.span,)).endswith("(reported 2 times; also at s.cd:1:3)")


def test_lint_prints_a_file_name_as_written(tmp_path: Path) -> None:
    # rich's emoji codes and markup never rewrite user text: `a:x:b.cd` stays as it is.
    spec = tmp_path / "a:x:b.cd"
    spec.write_text("network n { input x: [1] layer a = relu(y) }\n")
    runner = CliRunner()
    for fmt in ("full", "concise", "json"):
        result = runner.invoke(cli.app, ["lint", str(spec), "--format", fmt])
        assert result.exit_code == 1, result.output
        assert "a:x:b.cd" in result.stdout
        assert "\N{CROSS MARK}" not in result.stdout
    result = runner.invoke(cli.app, ["lint", str(spec), "--format", "json"])
    assert json.loads(result.stdout)[0]["file"].endswith("a:x:b.cd")


def test_the_excerpt_of_a_later_line_is_cut_from_that_line() -> None:
    # Line 1 long, line 2 long with the span in it, line 3 short: each excerpt is cut from
    # its own line (the excerpt is sliced from the file by the line's offsets).
    first = "a" * 500
    second = "x" * 1000 + "BAD" + "y" * 1000
    source = SourceFile.of("s.cd", f"{first}\n{second}\nshort line\n")
    start = len(first) + 1 + 1000
    shown = render_full(error("E101", "bad", Span(source, start, start + 3), label="here"))
    text_line, caret_line = shown.splitlines()[3:5]
    assert text_line == "2 | \N{HORIZONTAL ELLIPSIS}" + "x" * 60 + "BAD" + "y" * 60 \
        + "\N{HORIZONTAL ELLIPSIS}"
    assert caret_line == "  | " + " " * 61 + "^^^ here"
    short = len(first) + 1 + len(second) + 1 + len("short ")
    shown = render_full(error("E101", "bad", Span(source, short, short + 4), label="here"))
    assert shown.splitlines()[3:5] == ["3 | short line", "  |       ^^^^ here"]


def _distinct_errors(count: int) -> str:
    body = " ".join(f"layer a{i} = relu(b{i})" for i in range(count))
    return f"network n {{\n    input x: [3, 8, 8]\n    {body}\n}}\n"


def test_lint_prints_the_first_distinct_diagnostics_and_counts_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 150 distinct errors: the first 100 printed, one line for the other 50; the summary
    # counts all 150; JSON lists all 150; the option shows fewer, or all with 0.
    monkeypatch.chdir(tmp_path)
    Path("many.cd").write_text(_distinct_errors(150))
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["lint", "many.cd"])
    assert shown.exit_code == 1
    heads = [line for line in shown.stdout.splitlines() if line.startswith("error[E201]")]
    assert heads == [f"error[E201]: undefined name `b{i}`" for i in range(100)]
    lines = shown.stdout.rstrip("\n").splitlines()
    assert lines[-2:] == [
        "... and 50 more distinct diagnostics not shown (--max-diagnostics 0 shows them all)",
        "1 file checked: 150 errors"]
    three = runner.invoke(cli.app, ["lint", "--max-diagnostics", "3", "-f", "concise",
                                    "many.cd"])
    assert three.exit_code == 1
    assert three.stdout.splitlines() == [
        # Column: 4 spaces and `layer aI = relu(` (16 characters), then 20 per statement
        # (`layer aI = relu(bI) `).
        f"many.cd:3:{21 + 20 * i}: error[E201]: undefined name `b{i}`"
        for i in range(3)] + [
        "... and 147 more distinct diagnostics not shown (--max-diagnostics 0 shows them all)",
        "1 file checked: 150 errors"]
    every = runner.invoke(cli.app, ["lint", "--max-diagnostics", "0", "many.cd"])
    assert sum(line.startswith("error[E201]") for line in every.stdout.splitlines()) == 150
    assert "more distinct" not in every.stdout
    listed = runner.invoke(cli.app, ["lint", "-f", "json", "--max-diagnostics", "1",
                                     "many.cd"])
    assert [d["message"] for d in json.loads(listed.stdout)] == [
        f"undefined name `b{i}`" for i in range(150)]
    refused = runner.invoke(cli.app, ["lint", "--max-diagnostics", "-1", "many.cd"])
    assert refused.exit_code == 2


def test_identical_diagnostics_count_once_against_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 200 uses of one undefined name and 2 other names: three distinct diagnostics, so a
    # limit of 2 hides one, and the repeated one still says how often it was reported.
    monkeypatch.chdir(tmp_path)
    body = " ".join(f"layer a{i} = relu(y)" for i in range(200))
    Path("mixed.cd").write_text(
        f"network n {{\n    input x: [3, 8, 8]\n    {body}\n"
        "    layer p = relu(q)\n    layer r = relu(s)\n}\n")
    result = CliRunner().invoke(cli.app, ["lint", "--max-diagnostics", "2", "mixed.cd"])
    assert result.exit_code == 1
    heads = [line for line in result.stdout.splitlines() if line.startswith("error[")]
    assert heads == ["error[E201]: undefined name `y`", "error[E201]: undefined name `q`"]
    assert "reported 200 times" in result.stdout
    assert "... and 1 more distinct diagnostic not shown" in result.stdout
    assert result.stdout.rstrip("\n").endswith("1 file checked: 202 errors")


def test_other_commands_print_at_most_the_default_number(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `dslc map` of a spec with 120 distinct errors prints 100 of them on stderr and says
    # how to see the rest.
    monkeypatch.chdir(tmp_path)
    Path("many.cd").write_text(_distinct_errors(120))
    result = CliRunner().invoke(cli.app, ["map", "many.cd", "-n", "n", "-l", "a0", "-a", "x"])
    assert result.exit_code == 1
    assert sum(line.startswith("error[E201]") for line in result.stderr.splitlines()) == 100
    assert "... and 20 more distinct diagnostics not shown (dslc lint --max-diagnostics 0 " \
        "shows them all)" in result.stderr
    # Under --format json the document lists them all, as lint's JSON does.
    as_json = CliRunner().invoke(cli.app, ["map", "many.cd", "-n", "n", "-l", "a0", "-a",
                                           "x", "-f", "json"])
    assert as_json.exit_code == 1
    assert [d["message"] for d in json.loads(as_json.stdout)["diagnostics"]] == [
        f"undefined name `b{i}`" for i in range(120)]
