"""Loading a spec file and everything it imports.

`load(path)` reads and parses the root file, then follows `import` declarations depth
first: `std/...` resolves into the shipped library (dslc/std/, package data), any other
path relative to the importing file. Each file is parsed once; a missing file is E203 and a
cycle E204, both at the import that causes them. The result lists files in dependency
order (imports first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dslc.diagnostics.diagnostic import Diagnostic, error
from dslc.diagnostics.span import SourceFile
from dslc.syntax import ast
from dslc.syntax.parser import parse, read_source

MAX_IMPORTS = 500


def std_root() -> Path:
    """The shipped library: $DSLC_STD, else dslc/std/ (package data, in the wheel too)."""
    override = os.environ.get("DSLC_STD")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "std"


@dataclass(frozen=True, slots=True)
class LoadedFile:
    path: Path
    source: SourceFile
    module: ast.Module


@dataclass(frozen=True, slots=True)
class Workspace:
    """A root file and its imports, imports first."""

    root: Path
    files: tuple[LoadedFile, ...]
    diagnostics: tuple[Diagnostic, ...]


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resolve_import(spec: str, importer: Path) -> Path:
    if spec.startswith("std/"):
        return (std_root() / spec[4:]).resolve()
    return (importer.parent / spec).resolve()


def load(path: str | Path, text: bytes | None = None) -> Workspace:
    """Load a root file (or given bytes standing for it) and its imports."""
    root = Path(path).resolve()
    files: dict[Path, LoadedFile] = {}
    order: list[LoadedFile] = []
    diagnostics: list[Diagnostic] = []
    in_progress: list[Path] = []

    def visit(file_path: Path, data: bytes | None, via: tuple[ast.ImportDecl, SourceFile] | None
              ) -> None:
        if file_path in files or len(files) > MAX_IMPORTS:
            return
        if data is None:
            try:
                data = file_path.read_bytes()
            except OSError as exc:
                span = via[0].path.span if via else None
                reason = "no such file" if isinstance(exc, FileNotFoundError) else \
                    (exc.strerror or "cannot be read")
                diagnostics.append(error(
                    "E203", f"cannot read `{_display(file_path)}`: {reason}", span,
                    label="imported here" if via else "",
                    help="`std/...` imports come from the shipped library; other paths are "
                         "relative to the importing file" if via else ""))
                return
        source, problems = read_source(_display(file_path), data)
        diagnostics.extend(problems)
        if source is None:
            return
        module, problems = parse(source)
        diagnostics.extend(problems)
        if module is None:
            return
        loaded = LoadedFile(file_path, source, module)
        files[file_path] = loaded
        in_progress.append(file_path)
        for item in module.items:
            if not isinstance(item, ast.ImportDecl):
                continue
            target = resolve_import(item.path.value, file_path)
            if target in in_progress:
                cycle = [*in_progress[in_progress.index(target):], target]
                diagnostics.append(error(
                    "E204", "import cycle", item.path.span,
                    label="this import closes the cycle",
                    notes=[" -> ".join(_display(p) for p in cycle)],
                    help="move the shared definitions into a file both import"))
                continue
            visit(target, None, (item, source))
        in_progress.pop()
        order.append(loaded)

    visit(root, text, None)
    return Workspace(root, tuple(order), tuple(diagnostics))

