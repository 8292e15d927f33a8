"""The generated docs are up to date, and the guide's examples lint clean."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dslc.api import compile
from dslc.diagnostics.codes import CODES, explain

REPO = Path(__file__).resolve().parent.parent.parent
DOCS = REPO / "docs"
GUIDE = DOCS / "language" / "guide.md"


def gen_docs() -> ModuleType:
    path = REPO / "scripts" / "gen_docs.py"
    spec = importlib.util.spec_from_file_location("gen_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_docs", module)
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_up_to_date(tmp_path: Path) -> None:
    assert gen_docs().main(["--out", str(tmp_path)]) == 0
    generated = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md"))
    assert generated, "the generator wrote nothing"
    for name in generated:
        committed = DOCS / name
        assert committed.is_file(), f"{name} is not committed: run python scripts/gen_docs.py"
        assert committed.read_text("utf-8") == (tmp_path / name).read_text("utf-8"), (
            f"docs/{name} is out of date: run python scripts/gen_docs.py")
    on_disk = sorted(p.relative_to(DOCS).as_posix() for p in (DOCS / "diagnostics").glob("*"))
    assert on_disk == [n for n in generated if n.startswith("diagnostics/")], (
        "docs/diagnostics/ has files the generator does not write")


def test_every_code_has_a_page_with_its_explanation() -> None:
    for code in CODES:
        page = DOCS / "diagnostics" / f"{code}.md"
        assert page.is_file(), code
        text = explain(code)
        assert text is not None
        assert text.rstrip("\n") in page.read_text("utf-8"), code
    index = (DOCS / "diagnostics" / "README.md").read_text("utf-8")
    for code in CODES:
        assert f"[{code}]({code}.md)" in index


def guide_examples() -> list[tuple[int, str]]:
    text = GUIDE.read_text("utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(r"^```cd\n(.*?)^```$", text, flags=re.S | re.M)]


def test_the_guide_has_examples() -> None:
    assert len(guide_examples()) >= 10


@pytest.mark.parametrize(("line", "source"), guide_examples(),
                         ids=[f"line{line}" for line, _ in guide_examples()])
def test_guide_examples_lint_clean(line: int, source: str) -> None:
    # Linted as if the example were a file beside the guide (relative imports resolve there).
    program = compile(GUIDE.with_name(f"guide_line{line}.cd"), text=source.encode())
    problems = [(d.code, d.message) for d in program.diagnostics if d.code[0] != "N"]
    assert problems == []
