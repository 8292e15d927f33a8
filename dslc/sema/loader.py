"""Loading a spec file and everything it imports.

`load(path)` reads and parses the root file, then follows `import` declarations depth
first: `std/...` resolves into the shipped library (dslc/std/, package data), any other
path relative to the importing file. Each file is parsed once; a missing file is E203 and a
cycle E204, both at the import that causes them. The result lists files in dependency
order (imports first).

What an import may read (E212, at the import): a regular file (not a FIFO, a device or a
directory) whose name ends in `.cd`, of at most MAX_SOURCE_BYTES bytes, inside the shipped
library for `std/...` and otherwise inside the root file's directory tree (symbolic links
resolved), unless the caller opts in with `allow_outside` (`--allow-import-outside`): a
spec received from someone else cannot read the recipient's other files, and a refused
file is never opened, so its content is never echoed. Chains of imports deeper than
MAX_IMPORT_DEPTH, and more than MAX_IMPORTS files, are E213. The root file is the user's
choice: it need not end in `.cd`, but it too must be a regular file within the size limit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from dslc.diagnostics.diagnostic import Diagnostic, error
from dslc.diagnostics.span import SourceFile
from dslc.syntax import ast
from dslc.syntax.parser import parse, read_source

MAX_IMPORTS = 500
"""Most files one spec may load (the root and everything it imports, transitively)."""
MAX_IMPORT_DEPTH = 64
"""Longest chain of imports (a file importing a file importing ...)."""
MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""Largest spec file read, in bytes (16 MiB; the parser then allows 4,000,000 characters)."""


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


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _refusal(spec: str, target: Path, tree: Path, allow_outside: bool) -> tuple[str, str]:
    """Why an import may not be read ('' when it may), and the help line."""
    if spec.startswith("std/"):
        if not _inside(target, std_root().resolve()):
            return ("it leaves the shipped library", "`std/...` names a file of dslc/std/")
    elif not allow_outside and (Path(spec).is_absolute() or not _inside(target, tree)):
        where = "an absolute path" if Path(spec).is_absolute() else \
            f"it leaves the root file's directory tree, `{_display(tree)}`"
        return (f"{where}", "imports stay inside the root file's directory unless you allow "
                "others with `--allow-import-outside` (api: allow_outside_imports=True)")
    if target.suffix != ".cd" or not spec.endswith(".cd"):
        return ("only `.cd` files can be imported", "import spec files, named `*.cd`")
    return ("", "")


def _read_bounded(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_SOURCE_BYTES; OSError or ValueError (with the
    reason) otherwise. A FIFO, a device or a directory is refused before it is opened."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > MAX_SOURCE_BYTES:
        raise ValueError(f"{info.st_size:,} bytes, more than the limit of "
                         f"{MAX_SOURCE_BYTES:,}")
    with path.open("rb") as stream:
        data = stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise ValueError(f"more than the limit of {MAX_SOURCE_BYTES:,} bytes")
    return data


def load(path: str | Path, text: bytes | None = None, *, allow_outside: bool = False
         ) -> Workspace:
    """Load a root file (or given bytes standing for it) and its imports; `allow_outside`
    lets imports leave the root file's directory tree (module docstring)."""
    root = Path(path).resolve()
    tree = root.parent
    files: dict[Path, LoadedFile] = {}
    order: list[LoadedFile] = []
    diagnostics: list[Diagnostic] = []
    in_progress: list[Path] = []

    def cannot_read(file_path: Path, reason: str, via: tuple[ast.ImportDecl, SourceFile] | None,
                    code: str = "E203", help: str = "") -> None:
        span = via[0].path.span if via else None
        diagnostics.append(error(
            code, f"cannot read `{_display(file_path)}`: {reason}", span,
            label="imported here" if via else "",
            help=help or ("`std/...` imports come from the shipped library; other paths are "
                          "relative to the importing file" if via else "")))

    def visit(file_path: Path, data: bytes | None, via: tuple[ast.ImportDecl, SourceFile] | None
              ) -> None:
        if file_path in files:
            return
        if data is None:
            try:
                data = _read_bounded(file_path)
            except ValueError as exc:
                cannot_read(file_path, str(exc), via, "E212",
                            "imports read regular `.cd` files of at most "
                            f"{MAX_SOURCE_BYTES:,} bytes")
                return
            except OSError as exc:
                reason = "no such file" if isinstance(exc, FileNotFoundError) else \
                    (exc.strerror or "cannot be read")
                cannot_read(file_path, reason, via)
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
            reason, help = _refusal(item.path.value, target, tree, allow_outside)
            if reason:
                diagnostics.append(error(
                    "E212", f"import of `{item.path.value}` refused: {reason}",
                    item.path.span, label="not read", help=help))
                continue
            if target in files:
                continue
            if len(in_progress) >= MAX_IMPORT_DEPTH:
                diagnostics.append(error(
                    "E213", f"import chain longer than the limit of {MAX_IMPORT_DEPTH} files",
                    item.path.span, label="not read",
                    help="flatten the imports: import shared files from the root"))
                continue
            if len(files) >= MAX_IMPORTS:
                diagnostics.append(error(
                    "E213", f"more than the limit of {MAX_IMPORTS} imported files",
                    item.path.span, label="not read",
                    help="a spec and its imports may load at most "
                         f"{MAX_IMPORTS} files"))
                continue
            visit(target, None, (item, source))
        in_progress.pop()
        order.append(loaded)

    visit(root, text, None)
    return Workspace(root, tuple(order), tuple(diagnostics))
