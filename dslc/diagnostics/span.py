"""Source files and spans.

Owns `SourceFile` (a file's path and text, with offset → line/column conversion) and `Span`
(a half-open byte range in one source file). Line and column are computed only when a
diagnostic is rendered; spans themselves are just offsets, cheap to create and compare.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A source text with its display path. `text` is the decoded file contents."""

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def of(path: str, text: str) -> SourceFile:
        starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                starts.append(index + 1)
        return SourceFile(path, text, tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset (clamped into the text)."""
        offset = max(0, min(offset, len(self.text)))
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1

    def line_bounds(self, line: int) -> tuple[int, int]:
        """The offsets [start, end) of a 1-based line's text, without its newline."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return start, end

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start, end = self.line_bounds(line)
        return self.text[start:end]

    @property
    def line_count(self) -> int:
        return len(self._line_starts)


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range [start, end) of character offsets in `file`."""

    file: SourceFile
    start: int
    end: int

    def __repr__(self) -> str:
        return f"Span({self.file.path}:{self.start}-{self.end})"

    def to(self, other: Span) -> Span:
        """The smallest span covering both (same file)."""
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))

    @property
    def text(self) -> str:
        return self.file.text[self.start : self.end]

    def location(self) -> str:
        line, col = self.file.line_col(self.start)
        return f"{self.file.path}:{line}:{col}"
