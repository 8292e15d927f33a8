"""Diagnostics: what every stage reports about a user's input.

Owns `Diagnostic` (code, severity, message, primary span, secondary labels, help, notes) and
the exceptions by kind: `UserError` and its kinds `UsageError` (a bad name or option),
`DiagnosticError` (raised to abort a stage with diagnostics already collected) and
`CannotRunError` (a valid spec that cannot run as asked), and `InternalError` (a bug in
dslc, never a user mistake). Rendering lives in `render.py`; the
catalogue of codes in `codes.py`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dslc.diagnostics.span import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Label:
    """A secondary span with a short message, shown under the primary one."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the input. `span` is None only for file-level problems."""

    code: str
    severity: Severity
    message: str
    span: Span | None
    label: str = ""
    help: str = ""
    notes: tuple[str, ...] = ()
    related: tuple[Label, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, str]:
        if self.span is None:
            return ("", -1, self.code)
        return (self.span.file.path, self.span.start, self.code)


def error(code: str, message: str, span: Span | None, *, label: str = "", help: str = "",
          notes: Iterable[str] = (), related: Iterable[Label] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, label, help, tuple(notes),
                      tuple(related))


def warning(code: str, message: str, span: Span | None, *, label: str = "", help: str = "",
            notes: Iterable[str] = (), related: Iterable[Label] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, label, help, tuple(notes),
                      tuple(related))


class UserError(Exception):
    """Base of every error the user can fix. The CLI reports these (and only these) without
    a traceback; any other exception escaping a command is a bug in dslc (exit 3)."""

    exit_code = 1
    """The CLI's exit code for this kind: 1 the input has errors, 2 a usage error."""


class UsageError(UserError):
    """A call that names something that does not exist or passes a bad option: an unknown
    network, layer, accelerator, mapping or co-design request, an unknown strategy, a
    negative job count. The message says what exists instead."""

    exit_code = 2


class DiagnosticError(UserError):
    """Aborts a stage; carries the diagnostics that explain why (spec errors, with spans)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = tuple(diagnostics)


class CannotRunError(UserError):
    """A spec that is valid but cannot run as asked: no mapping of a layer fits, a fixed
    mapping is invalid, an accuracy table or a result store cannot be read. `reasons`
    gives the details, one line each."""

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons = tuple(reasons)

    def one_line(self) -> str:
        """The message and its reasons on one line (`message: reason; reason`)."""
        if not self.reasons:
            return str(self)
        return f"{self}: {'; '.join(self.reasons)}"


class InternalError(Exception):
    """A bug in dslc. User mistakes are Diagnostics, never this."""

    def __init__(self, message: str) -> None:
        super().__init__(f"internal error (this is a bug in dslc, please report it): {message}")


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is a Ctrl-C: a KeyboardInterrupt, or an error it caused. The mapper's
    compiled kernel (numba) calls back into Python (to draw from a random generator, to
    raise), where a pending SIGINT raises; the kernel then returns with that exception set
    and Python reports a SystemError caused by it (through one SystemError per frame)."""
    seen: set[int] = set()
    found: BaseException | None = exc
    while found is not None and id(found) not in seen:
        if isinstance(found, KeyboardInterrupt):
            return True
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return False


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A help line suggesting the closest candidate, or '' when nothing is close."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=3, cutoff=0.6)
    # Among close matches, prefer the one sharing the longest prefix (`outputs` -> `out`,
    # not `groups`); `sorted` is stable, so ties keep difflib's order.
    close = sorted(close, key=lambda c: -next(
        (i for i, (a, b) in enumerate(zip(c, name, strict=False)) if a != b),
        min(len(c), len(name))))[:1]
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"did you mean `{close[0]}`?" if close else ""


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Deterministic order: by file, position, code; duplicates removed."""
    unique: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        key = (d.code, d.message, d.sort_key())
        unique.setdefault(key, d)
    return sorted(unique.values(), key=lambda d: (d.sort_key(), d.message))
