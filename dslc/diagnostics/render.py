"""Plain-text and JSON rendering of diagnostics.

Turns `Diagnostic`s into the three `--format`s of `dslc lint`: `full` (source line with
carets, help and notes, in the style of rustc), `concise` (one line each) and `json`
(a list of objects). Pure functions of the diagnostics; colour is the CLI's business.

Bounded output: identical diagnostics (same severity, code, message, label, help and
notes, at different places) are shown once with their count and the first few other
places (`group_identical`), and a source line longer than `MAX_SHOWN_LINE` characters is
shown as an excerpt around the span, so rendering costs what the excerpts cost, not the
lines' length (150,000 errors on one 3-MB line render in well under a second; 150,000
distinct ones in about 11 us each). How many distinct diagnostics a text format prints
(`MAX_SHOWN_DIAGNOSTICS`, `hidden_line`) is the CLI's choice.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

from dslc.diagnostics.diagnostic import (
    CannotRunError,
    Diagnostic,
    DiagnosticError,
    Label,
    Severity,
    UsageError,
    UserError,
)
from dslc.diagnostics.span import Span

_TAB = "    "
MAX_SHOWN_LINE = 160
"""Longest source line shown whole; a longer one is shown as an excerpt around the span."""
_CONTEXT = 60
"""Characters of context shown on each side of a span in an excerpt."""
MAX_OTHER_PLACES = 10
"""Other places of a repeated diagnostic listed in its note (and in JSON's `also_at`)."""
MAX_SHOWN_DIAGNOSTICS = 100
"""Distinct diagnostics the text formats print by default (`dslc lint --max-diagnostics`);
the rest are counted in one line (`hidden_line`), as clang's `-ferror-limit` does: nobody
reads 150,000 errors, and printing them takes a minute. JSON lists them all."""
_ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def printable(text: str) -> str:
    """`text` with its control characters (an escape sequence in a file name, say) shown as
    U+FFFD, so that nothing a user wrote drives the terminal; newlines and tabs stay."""
    if text.isprintable():
        return text
    return "".join("\N{REPLACEMENT CHARACTER}" if unicodedata.category(c) == "Cc"
                   and c not in "\n\t" else c for c in text)


def _clean(line: str) -> str:
    if line.isprintable():  # the usual case, without a Python step per character
        return line
    return "".join(c if c.isprintable() or c == "\t" else "\N{REPLACEMENT CHARACTER}"
                   for c in line).replace("\t", _TAB)


def _snippet(span: Span, label: str, gutter: int, marker: str) -> list[str]:
    file = span.file
    line, col = file.line_col(span.start)
    end_line, end_col = file.line_col(max(span.start, span.end - 1) if span.end > span.start
                                      else span.start)
    line_start, line_end = file.line_bounds(line)
    length = line_end - line_start
    if end_line == line:
        width = max(1, end_col - col + (1 if span.end > span.start else 0))
    else:
        width = max(1, length - col + 1)
    head, tail = "", ""
    if length > MAX_SHOWN_LINE:
        # An excerpt: some context before the span, the span (at most MAX_SHOWN_LINE
        # characters of it) and some context after, with ellipses where text is cut.
        # Only the excerpt is sliced from the file: a copy of the whole line for each of
        # 150,000 diagnostics on one 4-MB line would copy 600 GB.
        first = max(0, col - 1 - _CONTEXT)
        last = min(length, col - 1 + min(width, MAX_SHOWN_LINE) + _CONTEXT)
        head = _ELLIPSIS if first > 0 else ""
        tail = _ELLIPSIS if last < length else ""
        width = min(width, MAX_SHOWN_LINE)
        text, col = file.text[line_start + first:line_start + last], col - first
    else:
        text = file.text[line_start:line_end]
    prefix = head + _clean(text[: col - 1])
    width = min(width, max(1, len(_clean(text[col - 1 :]))))
    pad = " " * gutter
    lines = [f"{str(line).rjust(gutter)} | {head}{_clean(text)}{tail}".rstrip()]
    carets = " " * len(prefix) + marker * width
    lines.append(f"{pad} | {carets} {label}".rstrip())
    return lines


def _identity(diagnostic: Diagnostic) -> tuple[object, ...]:
    return (diagnostic.severity, diagnostic.code, diagnostic.message, diagnostic.label,
            diagnostic.help, diagnostic.notes)


def group_identical(diagnostics: Sequence[Diagnostic]
                    ) -> list[tuple[Diagnostic, tuple[Span | None, ...]]]:
    """Each distinct diagnostic once, in order of first appearance, with the spans of its
    repetitions (the same severity, code, message, label, help and notes elsewhere)."""
    groups: dict[tuple[object, ...], tuple[Diagnostic, list[Span | None]]] = {}
    for diagnostic in diagnostics:
        key = _identity(diagnostic)
        if key in groups:
            groups[key][1].append(diagnostic.span)
        else:
            groups[key] = (diagnostic, [])
    return [(first, tuple(others)) for first, others in groups.values()]


def _places(others: Sequence[Span | None]) -> str:
    shown = [span.location() if span is not None else "<input>"
             for span in others[:MAX_OTHER_PLACES]]
    more = len(others) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")


def repeated_note(others: Sequence[Span | None]) -> str:
    """The note of a diagnostic shown once for several places ('' for a single one)."""
    if not others:
        return ""
    count = len(others) + 1
    return f"reported {count:,} times; also at {_places(others)}"


def render_full(diagnostic: Diagnostic, others: Sequence[Span | None] = ()) -> str:
    """A multi-line rendering with the source line, carets, help and notes; `others` are
    the places where the same diagnostic repeats (`group_identical`)."""
    head = f"{diagnostic.severity.value}[{diagnostic.code}]: {printable(diagnostic.message)}"
    out = [head]
    spans: list[Span] = [diagnostic.span] if diagnostic.span else []
    spans += [r.span for r in diagnostic.related]
    gutter = max((len(str(s.file.line_col(s.start)[0])) for s in spans), default=1)
    pad = " " * gutter
    if diagnostic.span is not None:
        out.append(f"{pad}--> {printable(diagnostic.span.location())}")
        out.append(f"{pad} |")
        out += _snippet(diagnostic.span, printable(diagnostic.label), gutter, "^")
    for related in diagnostic.related:
        out += _related(related, gutter, diagnostic.span)
    notes = [*diagnostic.notes, *([repeated_note(others)] if others else [])]
    if diagnostic.help or notes:
        out.append(f"{pad} |")
    for note in notes:
        out.append(f"{pad} = note: {printable(note)}")
    if diagnostic.help:
        out.append(f"{pad} = help: {printable(diagnostic.help)}")
    return "\n".join(out)


def _related(related: Label, gutter: int, primary: Span | None) -> list[str]:
    pad = " " * gutter
    lines = []
    if primary is None or related.span.file.path != primary.file.path:
        lines.append(f"{pad}::: {printable(related.span.location())}")
    else:
        lines.append(f"{pad} |")
    lines += _snippet(related.span, printable(related.message), gutter, "-")
    return lines


def render_concise(diagnostic: Diagnostic, others: Sequence[Span | None] = ()) -> str:
    where = diagnostic.span.location() if diagnostic.span else "<input>"
    text = f"{where}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    if diagnostic.help:
        text += f" (help: {diagnostic.help})"
    if others:
        text += f" ({repeated_note(others)})"
    return printable(text)


def _place_json(span: Span) -> dict[str, Any]:
    line, col = span.file.line_col(span.start)
    return {"file": span.file.path, "line": line, "column": col, "offset": span.start}


def to_json_object(diagnostic: Diagnostic, others: Sequence[Span | None] = ()
                   ) -> dict[str, Any]:
    """One diagnostic as JSON; a repeated one (`others`) adds `count` (all its places) and
    `also_at` (the first MAX_OTHER_PLACES other places)."""
    obj: dict[str, Any] = {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
    }
    if diagnostic.span is not None:
        line, col = diagnostic.span.file.line_col(diagnostic.span.start)
        end_line, end_col = diagnostic.span.file.line_col(diagnostic.span.end)
        obj["file"] = diagnostic.span.file.path
        obj["start"] = {"line": line, "column": col, "offset": diagnostic.span.start}
        obj["end"] = {"line": end_line, "column": end_col, "offset": diagnostic.span.end}
    if diagnostic.label:
        obj["label"] = diagnostic.label
    if diagnostic.help:
        obj["help"] = diagnostic.help
    if diagnostic.notes:
        obj["notes"] = list(diagnostic.notes)
    if others:
        obj["count"] = len(others) + 1
        obj["also_at"] = [_place_json(span) for span in others[:MAX_OTHER_PLACES]
                          if span is not None]
    return obj


def error_to_json(exc: UserError) -> dict[str, Any]:
    """The one JSON document a `--format json` command prints for an error: spec errors as
    `{"diagnostics": [...]}`, every other kind as `{"error": {"kind", "message", "reasons",
    "exit_code"}}` (kind `usage` or `cannot_run`)."""
    if isinstance(exc, DiagnosticError):
        return {"diagnostics": [to_json_object(d, others)
                                for d, others in group_identical(exc.diagnostics)]}
    reasons = list(exc.reasons) if isinstance(exc, CannotRunError) else []
    kind = "usage" if isinstance(exc, UsageError) else "cannot_run"
    return {"error": {"kind": kind, "message": str(exc), "reasons": reasons,
                      "exit_code": exc.exit_code}}


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """A JSON list, one object per distinct diagnostic (`group_identical`)."""
    return json.dumps([to_json_object(d, others)
                       for d, others in group_identical(diagnostics)], indent=2)


def hidden_line(hidden: int, how: str) -> str:
    """The line standing for `hidden` distinct diagnostics not printed; `how` says how to
    see them."""
    noun = "diagnostic" if hidden == 1 else "diagnostics"
    return f"... and {hidden:,} more distinct {noun} not shown ({how})"


def summary_line(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    noun = "file" if files == 1 else "files"
    if not errors and not warnings:
        return f"{files} {noun} checked: no problems found"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"{files} {noun} checked: " + ", ".join(parts)
