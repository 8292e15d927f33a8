"""Plain-text and JSON rendering of diagnostics.

Turns `Diagnostic`s into the three `--format`s of `dslc lint`: `full` (source line with
carets, help and notes, in the style of rustc), `concise` (one line each) and `json`
(a list of objects). Pure functions of the diagnostics; colour is the CLI's business.
"""

from __future__ import annotations

import json
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


def _clean(line: str) -> str:
    return "".join(c if c.isprintable() or c == "\t" else "\N{REPLACEMENT CHARACTER}"
                   for c in line).replace("\t", _TAB)


def _snippet(span: Span, label: str, gutter: int, marker: str) -> list[str]:
    file = span.file
    line, col = file.line_col(span.start)
    end_line, end_col = file.line_col(max(span.start, span.end - 1) if span.end > span.start
                                      else span.start)
    text = file.line_text(line)
    prefix = _clean(text[: col - 1])
    if end_line == line:
        width = max(1, end_col - col + (1 if span.end > span.start else 0))
    else:
        width = max(1, len(text) - col + 1)
    width = min(width, max(1, len(_clean(text[col - 1 :]))))
    pad = " " * gutter
    lines = [f"{str(line).rjust(gutter)} | {_clean(text)}".rstrip()]
    carets = " " * len(prefix) + marker * width
    lines.append(f"{pad} | {carets} {label}".rstrip())
    return lines


def render_full(diagnostic: Diagnostic) -> str:
    """A multi-line rendering with the source line, carets, help and notes."""
    head = f"{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    out = [head]
    spans: list[Span] = [diagnostic.span] if diagnostic.span else []
    spans += [r.span for r in diagnostic.related]
    gutter = max((len(str(s.file.line_col(s.start)[0])) for s in spans), default=1)
    pad = " " * gutter
    if diagnostic.span is not None:
        out.append(f"{pad}--> {diagnostic.span.location()}")
        out.append(f"{pad} |")
        out += _snippet(diagnostic.span, diagnostic.label, gutter, "^")
    for related in diagnostic.related:
        out += _related(related, gutter, diagnostic.span)
    if diagnostic.help or diagnostic.notes:
        out.append(f"{pad} |")
    for note in diagnostic.notes:
        out.append(f"{pad} = note: {note}")
    if diagnostic.help:
        out.append(f"{pad} = help: {diagnostic.help}")
    return "\n".join(out)


def _related(related: Label, gutter: int, primary: Span | None) -> list[str]:
    pad = " " * gutter
    lines = []
    if primary is None or related.span.file.path != primary.file.path:
        lines.append(f"{pad}::: {related.span.location()}")
    else:
        lines.append(f"{pad} |")
    lines += _snippet(related.span, related.message, gutter, "-")
    return lines


def render_concise(diagnostic: Diagnostic) -> str:
    where = diagnostic.span.location() if diagnostic.span else "<input>"
    text = f"{where}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    if diagnostic.help:
        text += f" (help: {diagnostic.help})"
    return text


def to_json_object(diagnostic: Diagnostic) -> dict[str, Any]:
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
    return obj


def error_to_json(exc: UserError) -> dict[str, Any]:
    """The one JSON document a `--format json` command prints for an error: spec errors as
    `{"diagnostics": [...]}`, every other kind as `{"error": {"kind", "message", "reasons",
    "exit_code"}}` (kind `usage` or `cannot_run`)."""
    if isinstance(exc, DiagnosticError):
        return {"diagnostics": [to_json_object(d) for d in exc.diagnostics]}
    reasons = list(exc.reasons) if isinstance(exc, CannotRunError) else []
    kind = "usage" if isinstance(exc, UsageError) else "cannot_run"
    return {"error": {"kind": kind, "message": str(exc), "reasons": reasons,
                      "exit_code": exc.exit_code}}


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([to_json_object(d) for d in diagnostics], indent=2)


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
